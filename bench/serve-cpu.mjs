// Broker CPU per message of `warren-mq serve` under the native load generator,
// without RabbitMQ: several checkouts side by side (to compare a change with
// its baseline on a shared machine), interleaved, and the median per mode.
//
//   node bench/serve-cpu.mjs [--count 300000] [--repeat 3] [--size 16]
//     [--modes auto-ack,persistent-confirms-acks] [--warmup 0] [--own-session] [ROOT ...]
//
// Each ROOT is a checkout with bin/, js/ and a built pkg/ (default: this one).
// A fresh server's first load also pays V8's tier-up (the engine's hot wasm
// and the host's JS compiled again by the optimizing compilers, on other
// threads): `--warmup N` runs N messages through each server first, unmeasured,
// so the figure is the steady state; the default (0) counts it in. The warm-up
// is two loads of N/2, each its own connections: the first time connections
// close, code they never ran before (a socket's end, a close record) throws
// hot functions (the host's #dispatch, Node's onStreamRead and Readable.read)
// out of optimized code, and they ran in the baseline tier for the first 0.7 s
// of the next load (node --trace-opt --trace-deopt; perf). After a second
// close they stay optimized, as on a server whose clients come and go.
//
// The figure depends on how often the server wakes. By default it runs in
// this script's session, as the load generator does, and Linux's autogroup
// scheduling shares the cores among their threads, so it reads many messages
// at a time. `--own-session` starts it in a session of its own (as a service
// runs, and as bench/native-load.mjs runs both brokers): its group then gets
// a core whenever it is ready, and it wakes for smaller reads and writes.
// Under the load generator's client (lapin, which writes what a connection
// has queued at once) that costs some 5-7% more CPU per message; under one
// that wrote each frame alone (amqprs, before) it was some 30%.
//
// `--instructions`: instead of CPU time, the server's instructions per
// message (every thread; the kernel's work not included) counted by
// valgrind's callgrind: a fresh server under valgrind (node
// --single-threaded, so V8 compiles on the main thread, and --no-liftoff, so
// the wasm is compiled by TurboFan once at the start rather than function by
// function as each gets hot, which can fall in the counted load: a change
// that moved which functions tier up when showed 1,600 more instructions
// per message that were compile work) takes --warmup
// messages (default count/2) in two loads, its counters are zeroed, then a load
// of --count, and the count between is divided by it. Under valgrind the
// server is some 50 times slower, so the load generator hands it more
// messages per read than at full speed: compare checkouts with it rather
// than read it as the full-speed count. With --count 40000 a run takes about
// a minute, and the same code gives counts 3% apart under persistent +
// confirms + acks (15100-15900) and 8% under auto-ack (9500-10300), and
// one tree gave 9001 and 10096 under confirms + acks: how many messages
// each read brings still varies, so this settles differences of a few
// hundred instructions per message no better than time does. For those,
// bench/wire-instructions.mjs feeds the same bytes without sockets.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: 'string', default: '300000' },
    repeat: { type: 'string', default: '3' },
    size: { type: 'string', default: '16' },
    modes: { type: 'string', default: 'auto-ack,persistent-confirms-acks' },
    warmup: { type: 'string', default: '0' },
    instructions: { type: 'boolean', default: false },
    'own-session': { type: 'boolean', default: false },
  },
});
const roots = positionals.length > 0 ? positionals.map((p) => path.resolve(p)) : [here];
const loadgen = path.join(here, 'bench/loadgen/target/release/warren-loadgen');
if (!fs.existsSync(loadgen)) {
  console.error(`serve-cpu: build the load generator first (cargo build --release in bench/loadgen)`);
  process.exit(1);
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Fields 14 and 15 of a /proc stat file: [user, system] CPU seconds. */
function statSeconds(file) {
  const stat = fs.readFileSync(file, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(f[11]) / 100, Number(f[12]) / 100];
}

/**
 * [user, system, main thread] CPU seconds of one process. The other threads
 * are V8's (optimizing compilers, GC) and libuv's pool (the file store's
 * synced writes); exited threads count in the process's total only.
 */
function cpuSeconds(pid) {
  const [user, system] = statSeconds(`/proc/${pid}/stat`);
  const [mainUser, mainSystem] = statSeconds(`/proc/${pid}/task/${pid}/stat`);
  return [user, system, mainUser + mainSystem];
}

/**
 * Instructions of a fresh server from `root` under callgrind through one
 * load of `count`, after a load of `warm` it does not count.
 */
async function instructions(root, mode, warm, count) {
  const [port, httpPort] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-cpu-'));
  const store = mode.startsWith('persistent') ? ['--data-dir', dir] : ['--memory'];
  const args = ['serve', '--port', String(port), '--http-port', String(httpPort), ...store, '--log-level', 'warn'];
  const out = path.join(dir, 'callgrind.out');
  const grind = ['--tool=callgrind', `--callgrind-out-file=${out}`];
  const node = [process.execPath, '--single-threaded', '--no-liftoff', path.join(root, 'bin/warren-mq.js')];
  const server = spawn('valgrind', [...grind, ...node, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((r) => server.once('exit', r));
  const control = (flag) => {
    const r = spawnSync('callgrind_control', [flag, String(server.pid)], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`serve-cpu: callgrind_control ${flag} failed: ${r.stderr}`);
  };
  try {
    await started(server);
    load(port, mode, Math.ceil(warm / 2)); // two loads, as in `run`
    load(port, mode, Math.ceil(warm / 2));
    control('--zero');
    load(port, mode, count);
    control('--dump');
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
  try {
    // The first dump holds what ran between the zero and the dump.
    const dump = fs.readFileSync(`${out}.1`, 'utf8');
    const total = /^(?:summary|totals): (\d+)/m.exec(dump);
    if (!total) throw new Error(`serve-cpu: no total in the callgrind dump: ${stderr.slice(-2000)}`);
    return Number(total[1]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Resolves once the server prints its banner (it listens by then). */
function started(server) {
  return new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      if (out.includes('warren-mq is running')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`serve-cpu: the server exited (${code})`)));
  });
}

/** One load of `count` messages; throws unless every message made it. */
function load(port, mode, count) {
  const out = spawnSync(
    loadgen,
    [
      ...['--url', `amqp://guest:guest@127.0.0.1:${port}/%2f`, '--mode', mode, '--size', values.size],
      ...['--count', String(count), '--publishers', '2', '--consumers', '2', '--threads', '2'],
      ...['--backlog', '2000', '--timeout', '300', '--json'],
    ],
    { encoding: 'utf8' },
  );
  if (out.status !== 0) throw new Error(`serve-cpu: load generator failed: ${out.stderr}`);
}

/** One run: a fresh server from `root`, one load, its [user, system, main thread] CPU µs per message. */
async function run(root, mode) {
  const [port, httpPort] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-cpu-'));
  const store = mode.startsWith('persistent') ? ['--data-dir', dir] : ['--memory'];
  const args = ['serve', '--port', String(port), '--http-port', String(httpPort), ...store, '--log-level', 'warn'];
  const server = spawn(process.execPath, [path.join(root, 'bin/warren-mq.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: values['own-session'], // setsid: a scheduling group of its own
  });
  try {
    await started(server);
    const warm = Number(values.warmup);
    if (warm > 0) {
      load(port, mode, Math.ceil(warm / 2));
      load(port, mode, Math.ceil(warm / 2));
    }
    const before = cpuSeconds(server.pid);
    load(port, mode, Number(values.count));
    const after = cpuSeconds(server.pid);
    return after.map((t, i) => ((t - before[i]) * 1e6) / Number(values.count));
  } finally {
    server.kill();
    await new Promise((r) => server.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (values.instructions) {
  const n = Number(values.count);
  const warm = Number(values.warmup) || Math.round(n / 2);
  for (const mode of values.modes.split(',')) {
    for (const root of roots) {
      const count = await instructions(root, mode, warm, n);
      console.log(`${mode.padEnd(26)} ${(count / n).toFixed(0).padStart(6)} instructions/msg  ${root}`);
    }
  }
  process.exit(0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const mode of values.modes.split(',')) {
  const runs = roots.map(() => []);
  for (let i = 0; i < Number(values.repeat); i++) {
    for (const [j, root] of roots.entries()) runs[j].push(await run(root, mode));
  }
  for (const [j, root] of roots.entries()) {
    const total = runs[j].map(([user, sys]) => user + sys);
    const all = total.map((x) => x.toFixed(2)).join(' ');
    const part = (i) => median(runs[j].map((r) => r[i])).toFixed(2);
    const split = `user ${part(0)}, system ${part(1)}; main thread ${part(2)}`;
    console.log(`${mode.padEnd(26)} ${median(total).toFixed(2)} µs/msg (${split}; runs: ${all})  ${root}`);
  }
}
