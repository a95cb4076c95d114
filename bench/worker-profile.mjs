// Where the Durable Object host's CPU per message goes, under the workload of
// bench/worker.mjs (amqp-client.js as it ships, one connection, persistent +
// confirms + acks, 16-byte bodies; --client loadgen: bench/loadgen over its
// WebSocket relay, whose TCP reads gather frames as a TCP client's): workerd sampled by `perf record -g` (its
// binary keeps its symbols) during one run, each sample put in the first
// part below whose frame its stack holds, scaled by the run's CPU time per
// message read from /proc. JIT code (our JS, the engine's wasm) has no
// symbols: it is counted under what called it.
//
// Parts: a client message's event (the runtime reading it, starting and
// finishing the event, and awaiting what the handler returned; the handler
// itself is "our handler"), the turns the object schedules (setTimeout: the
// broker fed, its output sent, the store's batch put), storage (put() and the
// SQLite commit that ends a batch's turn), garbage collection, the kernel.
//
//   node bench/worker-profile.mjs [--count 20000] [--hibernation on|off|both] [--freq 2000]
//                                 [--client per-frame|loadgen]
//
// Needs `npm run build` and perf (Linux; run as a user allowed to profile its own processes).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { start, tmpDir } from '../tests/worker/runtime.mjs';
import { buildLoadgen, runLoadgen } from './loadgen-ws.mjs';
import { cpuSeconds } from './proc-cpu.mjs';
import { PREFETCH, WINDOW } from './workload.mjs';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    hibernation: { type: 'string', default: 'both' },
    freq: { type: 'string', default: '2000' },
    client: { type: 'string', default: 'per-frame' },
  },
});
const COUNT = Number(values.count);
const MODES = { both: ['on', 'off'], on: ['on'], off: ['off'] }[values.hibernation];
const LOADGEN = values.client === 'loadgen';
if (!MODES || !(COUNT > 0) || !['per-frame', 'loadgen'].includes(values.client)) {
  console.error(
    'bench/worker-profile: --hibernation is both, on or off; --count a positive number; --client per-frame or loadgen',
  );
  process.exit(2);
}
if (spawnSync('perf', ['--version']).status !== 0) {
  console.error('bench/worker-profile: needs perf (linux-perf)');
  process.exit(1);
}

// First match wins: a storage write under a turn is storage, a turn under an event is the turn.
const PARTS = [
  ['storage: put()', /DurableObjectStorageOperations::put/],
  ['storage: SQLite commit', /sqlite3|ActorSqlite::/],
  ['our turns (setTimeout: engine, output, batch)', /TimeoutManagerImpl::setTimeoutImpl/],
  [
    'event: our handler (JS)',
    /Builtins_JSEntry/,
    /HibernatableWebSocketEvent|sendHibernatableWebSocketMessage|WebSocket::readLoop/,
  ],
  [
    'event: runtime (read, dispatch, await)',
    /Hibernat|WebSocket::readLoop|IoContext::awaitJs|IncomingRequest|startRequest/,
  ],
  ['garbage collection', /Heap::|Scavenge|cppgc|GarbageCollect/],
  ['kernel (sockets, disk)', /\[kernel|entry_SYSCALL/],
];

/** Stacks of `perf script` output, one string per sample. */
function stacks(file) {
  const out = spawnSync('perf', ['script', '-i', file], { maxBuffer: 1 << 30, encoding: 'utf8' }).stdout;
  return out.split('\n\n').filter((s) => s.trim());
}

function split(samples) {
  const counts = new Map([...PARTS.map(([name]) => [name, 0]), ['other (event loop, promises, allocation)', 0]]);
  for (const s of samples) {
    const part = PARTS.find(([, re, also]) => re.test(s) && (!also || also.test(s)));
    const name = part ? part[0] : 'other (event loop, promises, allocation)';
    counts.set(name, counts.get(name) + 1);
  }
  return counts;
}

async function run(url, vhost, count) {
  if (LOADGEN) return (await runLoadgen(url, vhost, true, count)).rate;
  const client = new AMQPWebSocketClient({ url, vhost, username: 'guest', password: 'guest' });
  await client.connect();
  try {
    const pub = await client.channel();
    const sub = await client.channel();
    await pub.queueDeclare('profile', { durable: true, autoDelete: false });
    await pub.queuePurge('profile');
    await pub.confirmSelect();
    await sub.prefetch(PREFETCH);
    let received = 0;
    let allIn;
    const consumed = new Promise((resolve) => (allIn = resolve));
    await sub.basicConsume('profile', { noAck: false }, (msg) => {
      msg.ack();
      if (++received === count) allIn();
    });
    const body = new Uint8Array(16).fill(120);
    const inflight = new Set();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const p = pub.basicPublish('', 'profile', body, { deliveryMode: 2 });
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      if (inflight.size >= WINDOW) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await consumed;
    return count / ((performance.now() - t0) / 1000);
  } finally {
    await client.close().catch(() => {});
  }
}

if (LOADGEN) buildLoadgen('bench/worker-profile');

for (const hibernation of MODES) {
  const dir = tmpDir('warren-bench-profile-');
  const data = path.join(dir, 'perf.data');
  const rt = await start({
    persistDir: path.join(dir, 'storage'),
    assets: false,
    vars: { WARREN_LOOPBACK_USERS: 'none', WARREN_HIBERNATION: hibernation },
  });
  let counts;
  let cpu;
  let rate;
  try {
    const url = rt.directWs('bench');
    await run(url, 'bench', Math.min(2000, COUNT)); // warm-up
    const perf = spawn('perf', ['record', '-F', values.freq, '-g', '-o', data, '-p', rt.pids.join(',')], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 500)); // perf attached
    const cpu0 = cpuSeconds(rt.pids);
    rate = await run(url, 'bench', COUNT);
    cpu = ((cpuSeconds(rt.pids) - cpu0) * 1e6) / COUNT;
    perf.kill('SIGINT');
    await new Promise((r) => perf.on('exit', r));
  } finally {
    await rt.stop();
  }
  counts = split(stacks(data));
  fs.rmSync(dir, { recursive: true, force: true });
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(
    `\nhibernation ${hibernation}, ${values.client} client: ${Math.round(rate)} msg/s under perf, ${cpu.toFixed(1)} µs of workerd CPU per message, ${total} samples`,
  );
  console.log('| part | share | µs/msg |\n|---|--:|--:|');
  for (const [name, n] of counts)
    console.log(`| ${name} | ${((100 * n) / total).toFixed(1)}% | ${((cpu * n) / total).toFixed(1)} |`);
}
