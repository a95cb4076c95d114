// CPU time of processes, read from /proc (Linux), for benchmarks that report
// a broker's own CPU per message.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** Clock ticks (user + system) in a /proc/PID/stat line. */
function statTicks(stat) {
  // The fields after the command name, which may hold spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** CPU seconds (user + system) used so far by the processes `pids`. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) ticks += statTicks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return ticks / TICKS;
}

/** CPU seconds (user + system) used so far by every process in process group `pgid`. */
export function groupCpuSeconds(pgid) {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid) ticks += statTicks(stat);
  }
  return ticks / TICKS;
}

/**
 * CPU µs (user + system, every thread) of `node ...nodeArgs`, a script that
 * prints `{"cpuMicros": N}` as its last line when it is done.
 */
export function nodeCpuMicros(nodeArgs, what) {
  const r = spawnSync(process.execPath, nodeArgs, { encoding: 'utf8' });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    throw new Error(`${what} failed (exit ${r.status}): ${r.error?.message ?? r.stderr}`);
  }
  return JSON.parse(line).cpuMicros;
}
