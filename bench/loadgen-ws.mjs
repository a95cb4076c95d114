// bench/loadgen (Rust, lapin) against a WebSocket endpoint, through its
// in-process TCP-to-WebSocket relay (--ws-url), with the workload of
// bench/workload.mjs: WINDOW publishes in flight, prefetch PREFETCH, confirms
// and manual acks; one publishing and one consuming connection; at most
// BACKLOG messages published and not yet consumed.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './proc-cpu.mjs';
import { PREFETCH, WINDOW } from './workload.mjs';

// At most this many published and not yet consumed, as bench/native-load.mjs
// runs it: without a limit the publisher outruns the consumer, and a run
// measures a queue that grows past its page budget, not the host's steady
// state.
export const BACKLOG = 2000;

const loadgenDir = fileURLToPath(new URL('./loadgen/', import.meta.url));
const loadgenBin = path.join(loadgenDir, 'target', 'release', 'warren-loadgen');

/**
 * One run of bench/loadgen over WebSocket against `url`: resolves with
 * { rate, cpu, clientCpu, p50, p99 } (cpu: µs of the host's processes `pids`
 * per message; clientCpu: the load generator's own, its relay included;
 * latency: publish to delivery, ms; wsPerMsg: WebSocket messages it sent per
 * message, each an event in a Durable Object). The host's CPU window spans the whole
 * process, its queue setup and four connection opens included. `backlog`: at
 * most this many published and not yet consumed (0: no limit).
 */
export async function runLoadgen(url, vhost, persistent, count, pids = [], size = 16, backlog = BACKLOG) {
  const args = [
    ...['--url', `amqp://guest:guest@127.0.0.1/${encodeURIComponent(vhost)}`, '--ws-url', url],
    ...['--mode', persistent ? 'persistent-confirms-acks' : 'confirms-acks', '--size', String(size)],
    ...['--count', String(count), '--publishers', '1', '--consumers', '1', '--queues', '1'],
    ...['--window', String(WINDOW), '--prefetch', String(PREFETCH), '--backlog', String(backlog)],
    // One runtime thread: its two connections and their relays then wake
    // each other without a hop between threads. On this 2-core machine, in
    // 8 alternating pairs of runs (bench/worker.mjs --client loadgen --mode
    // persistent), two threads took 20.5-24 µs of client CPU per message
    // against 17.3-23.3, and the object reached 36-46 k msg/s against
    // 38-52 k, one thread ahead in 7 pairs.
    ...['--threads', '1', '--timeout', '300', '--json'],
  ];
  const cpu0 = cpuSeconds(pids);
  const child = spawn(loadgenBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  const cpu = ((cpuSeconds(pids) - cpu0) * 1e6) / count;
  const line = out.trim().split('\n').pop();
  if (code !== 0 || !line?.startsWith('{')) {
    throw new Error(`warren-loadgen ${args.join(' ')} failed (exit ${code}):\n${err}${out}`);
  }
  const r = JSON.parse(line);
  return {
    rate: r.consumed_per_sec,
    cpu,
    clientCpu: (r.loadgen_cpu_secs * 1e6) / count,
    p50: r.latency_us.p50 / 1000,
    p99: r.latency_us.p99 / 1000,
    wsPerMsg: r.ws_messages_out / count,
  };
}

/** Builds the load generator (release); exits naming `who` if that fails. */
export function buildLoadgen(who) {
  console.log('building the load generator (cargo build --release in bench/loadgen) ...');
  const build = spawnSync('cargo', ['build', '--release', '--quiet'], { cwd: loadgenDir, stdio: 'inherit' });
  if (build.status !== 0) {
    console.error(`${who}: building bench/loadgen failed (is cargo installed?)`);
    process.exit(1);
  }
}
