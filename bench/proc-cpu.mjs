// CPU time of processes, read from /proc (Linux), for benchmarks that report
// a broker's own CPU per message.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/**
 * Prints, for each ROOT (default: this checkout), the CPU µs per message of
 * `count(root, m)` run at N/6 and at N messages (`n`, rounded to `batch`),
 * as cachegrind.mjs's perMessage does with instructions: the roots take
 * turns, `repeat` times, and each prints the median and the runs.
 */
export function perMessageCpu(roots, n, batch, repeat, count) {
  const small = Math.round(n / 6 / batch) * batch;
  const all = (roots.length > 0 ? roots : [fileURLToPath(new URL('..', import.meta.url))]).map((r) => path.resolve(r));
  const runs = new Map(all.map((r) => [r, []]));
  for (let i = 0; i < repeat; i++) {
    for (const root of all) {
      const [a, b] = [small, n].map((m) => count(root, m));
      runs.get(root).push((b - a) / (n - small));
    }
  }
  for (const root of all) {
    const r = runs.get(root);
    const median = [...r].sort((x, y) => x - y)[r.length >> 1];
    console.log(`  ${median.toFixed(3).padStart(7)}  ${root}  (runs: ${r.map((x) => x.toFixed(3)).join(' ')})`);
  }
}
