// The Durable Object host under real workerd (Miniflare, loopback) against the
// Node host (`warren-mq serve`, file store), with the same client and workload:
// amqp-client.js's AMQPWebSocketClient, one connection (a publishing and a
// consuming channel), 16-byte bodies, publisher confirms and manual acks,
// WINDOW publishes in flight, prefetch PREFETCH. Reports messages/s, the
// host's CPU time per message (all its processes' user + system time: steadier
// than messages/s on a shared machine), the client's (this process: whether
// it, not the host, set the pace) and the publish-to-confirm latency,
// then the object's cold start measured inside it.
//
// Two clients: amqp-client.js as it ships, which sends every publish and
// every ack as a WebSocket message of its own, and the same client with the
// writes of one event-loop turn gathered into one WebSocket message, as a
// TCP client's writes share segments (--client picks one). The runtime
// makes each WebSocket message an event, which costs the object several
// microseconds before any AMQP work: the first client pays two per message.
// Both spend more CPU per message than the object, so they set the pace.
// A third, --client loadgen, is bench/loadgen (Rust, lapin) through its
// in-process TCP-to-WebSocket relay (each TCP read one WebSocket message):
// the same workload on two connections, one publishing and one consuming
// (the object holds both), its latency publish to delivery, not to confirm.
// --client both is the first two, all is the three (loadgen needs cargo).
//
//   node bench/worker.mjs [--count 20000] [--repeat 3] [--cold 5] [--client both|all|per-frame|gathered|loadgen]
//                         [--host both|workerd|node] [--mode both|transient|persistent] [--hibernation both|on|off]
//                         [--backlog 2000]
//
// --backlog: the load generator's limit on messages published and not yet
// consumed (0: none, and the queue grows past its page budget).
// --hibernation: the object's WebSockets through the Hibernation API (on, the
// default) or accepted in memory (WARREN_HIBERNATION=off), each run in an
// object of its own.
//
// Needs `npm run build`.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { startServer } from '../tests/node/server.mjs';
import { start, tmpDir } from '../tests/worker/runtime.mjs';
import { BACKLOG, buildLoadgen, runLoadgen } from './loadgen-ws.mjs';
import { cpuSeconds } from './proc-cpu.mjs';
import { PREFETCH, WINDOW } from './workload.mjs';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    repeat: { type: 'string', default: '3' },
    cold: { type: 'string', default: '5' },
    client: { type: 'string', default: 'both' },
    host: { type: 'string', default: 'both' },
    mode: { type: 'string', default: 'both' },
    hibernation: { type: 'string', default: 'both' },
    backlog: { type: 'string', default: String(BACKLOG) },
  },
});
const HIBERNATION = { both: ['on', 'off'], on: ['on'], off: ['off'] }[values.hibernation];
const HOSTS = { both: ['workerd', 'node'], workerd: ['workerd'], node: ['node'] }[values.host];
const MODES = { both: [false, true], transient: [false], persistent: [true] }[values.mode];
if (!HOSTS || !MODES || !HIBERNATION) {
  console.error(
    'bench/worker: --host is both, workerd or node; --mode is both, transient or persistent; --hibernation is both, on or off',
  );
  process.exit(2);
}
const CLIENTS = {
  both: ['per-frame', 'gathered'],
  all: ['per-frame', 'gathered', 'loadgen'],
  'per-frame': ['per-frame'],
  gathered: ['gathered'],
  loadgen: ['loadgen'],
}[values.client];
if (!CLIENTS) {
  console.error(
    `bench/worker: --client is both, all, per-frame, gathered or loadgen, not ${JSON.stringify(values.client)}`,
  );
  process.exit(2);
}
const COUNT = Number(values.count);
const REPEAT = Number(values.repeat);
const COLD = Number(values.cold);
const SIZE = 16;
const LOADGEN_BACKLOG = Number(values.backlog);
if (!Number.isInteger(LOADGEN_BACKLOG) || LOADGEN_BACKLOG < 0) {
  console.error(`bench/worker: --backlog is a whole number of messages (0: no limit), not ${values.backlog}`);
  process.exit(2);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

/**
 * Makes `client` send the writes of one event-loop turn as one WebSocket
 * message. Each write is copied at once: amqp-client.js reuses its buffers.
 */
function gatherWrites(client) {
  const ws = client.socket;
  const send = ws.send.bind(ws);
  let parts = [];
  let size = 0;
  const flush = () => {
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    parts = [];
    size = 0;
    if (ws.readyState === ws.OPEN) send(out);
  };
  ws.send = (bytes) => {
    if (parts.length === 0) setImmediate(flush);
    parts.push(bytes.slice());
    size += bytes.length;
  };
}

/**
 * One run: resolves with { rate, cpu, p50, p99 } (cpu: µs of the host's
 * processes `pids` per message; latency: publish to confirm, ms).
 */
async function run(url, vhost, persistent, count, pids = [], gathered = false) {
  const client = new AMQPWebSocketClient({ url, vhost, username: 'guest', password: 'guest' });
  await client.connect();
  if (gathered) gatherWrites(client);
  try {
    const pub = await client.channel();
    const sub = await client.channel();
    const queue = `bench-${persistent ? 'persistent' : 'transient'}`;
    await pub.queueDeclare(queue, { durable: persistent, autoDelete: false });
    await pub.queuePurge(queue);
    await pub.confirmSelect();
    await sub.prefetch(PREFETCH);
    let received = 0;
    let allIn;
    const consumed = new Promise((resolve) => (allIn = resolve));
    await sub.basicConsume(queue, { noAck: false }, (msg) => {
      msg.ack();
      if (++received === count) allIn();
    });
    const body = new Uint8Array(SIZE).fill(120);
    const props = persistent ? { deliveryMode: 2 } : {};
    const latencies = new Float64Array(count);
    const inflight = new Set();
    const cpu0 = cpuSeconds(pids);
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const sent = performance.now();
      const p = pub.basicPublish('', queue, body, props).then(() => (latencies[i] = performance.now() - sent));
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      if (inflight.size >= WINDOW) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await consumed;
    const secs = (performance.now() - t0) / 1000;
    const cpu = ((cpuSeconds(pids) - cpu0) * 1e6) / count;
    const own = process.cpuUsage(own0);
    const clientCpu = (own.user + own.system) / count;
    await pub.queueDelete(queue);
    return { rate: count / secs, cpu, clientCpu, p50: median(latencies), p99: pct(latencies, 0.99) };
  } finally {
    await client.close().catch(() => {});
  }
}

/** Publish-to-confirm latency with one message at a time (no load), ms. */
async function unloadedLatency(url, vhost, n = 200) {
  const client = new AMQPWebSocketClient({ url, vhost, username: 'guest', password: 'guest' });
  await client.connect();
  try {
    const ch = await client.channel();
    await ch.queueDeclare('bench-latency', { durable: true, autoDelete: false });
    await ch.confirmSelect();
    const xs = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await ch.basicPublish('', 'bench-latency', 'x'.repeat(SIZE), { deliveryMode: 2 });
      xs.push(performance.now() - t);
    }
    await ch.queueDelete('bench-latency');
    return median(xs);
  } finally {
    await client.close().catch(() => {});
  }
}

async function measure(name, url, vhost, pids) {
  const rows = [];
  for (const client of CLIENTS) {
    for (const persistent of MODES) {
      const gathered = client === 'gathered';
      const once =
        client === 'loadgen'
          ? (count, p) => runLoadgen(url, vhost, persistent, count, p, SIZE, LOADGEN_BACKLOG)
          : (count, p) => run(url, vhost, persistent, count, p, gathered);
      await once(Math.min(2000, COUNT), []); // warm-up
      const runs = [];
      for (let i = 0; i < REPEAT; i++) runs.push(await once(COUNT, pids));
      const best = runs.sort((a, b) => a.rate - b.rate)[Math.floor(runs.length / 2)];
      const cpu = median(runs.map((r) => r.cpu));
      const clientCpu = median(runs.map((r) => r.clientCpu));
      const mode = persistent ? 'persistent + confirms + acks' : 'confirms + acks';
      rows.push({ host: name, client, mode, ...best, cpu, clientCpu });
      console.log(
        `  ${name}, ${client} client, ${mode}: ${Math.round(best.rate)} msg/s, ${cpu.toFixed(1)} µs CPU/msg` +
          ` (client ${clientCpu.toFixed(1)}),` +
          ` ${client === 'loadgen' ? 'delivery' : 'confirm'} p50 ${best.p50.toFixed(1)} ms` +
          (best.wsPerMsg === undefined ? '' : `, ${best.wsPerMsg.toFixed(2)} WebSocket messages sent per message`),
      );
    }
  }
  return { rows, unloaded: await unloadedLatency(url, vhost) };
}

if (!fs.existsSync(new URL('../pkg/warren_bg.wasm', import.meta.url))) {
  console.error('bench/worker: pkg/ is missing: run `npm run build` first');
  process.exit(1);
}

if (CLIENTS.includes('loadgen')) buildLoadgen('bench/worker');

const results = [];
const unloaded = {};
const storeStats = {};
console.log('throughput ...');
// The benchmark's client reaches the object directly, not as a loopback peer.
const vars = { WARREN_LOOPBACK_USERS: 'none' };
for (const hibernation of HOSTS.includes('workerd') ? HIBERNATION : []) {
  // Storage of its own: no object of the other run wakes (an alarm) in this one.
  const persistDir = tmpDir('warren-bench-worker-');
  const rt = await start({ persistDir, assets: false, vars: { ...vars, WARREN_HIBERNATION: hibernation } });
  const vhost = `bench-hibernation-${hibernation}`;
  const name = `workerd (Durable Object, hibernation ${hibernation})`;
  try {
    const r = await measure(name, rt.directWs(vhost), vhost, rt.pids);
    results.push(...r.rows);
    unloaded[name] = r.unloaded;
    storeStats[name] = await rt.debug(vhost);
  } finally {
    await rt.stop();
    fs.rmSync(persistDir, { recursive: true, force: true });
  }
}
if (HOSTS.includes('node')) {
  const nodeDir = tmpDir('warren-bench-node-');
  const node = await startServer({ dataDir: nodeDir, args: ['--log-level', 'warn'] });
  try {
    const r = await measure('node (warren-mq serve)', node.ws, '/', [node.child.pid]);
    results.push(...r.rows);
    unloaded.node = r.unloaded;
  } finally {
    await node.stop();
    fs.rmSync(nodeDir, { recursive: true, force: true });
  }
}

// Cold start, as the object measures it (constructor start to broker ready):
// a new object in a warm isolate, and an empty object woken in a fresh
// runtime (the wasm instantiated, then the broker recovered from storage).
console.log('cold start ...');
const coldDir = tmpDir('warren-bench-cold-');
const fresh = [];
const woken = [];
let rt2 = await start({ persistDir: coldDir, vars });
try {
  await rt2.debug('/'); // the isolate is warm from here on
  for (let i = 0; i < COLD; i++) {
    const vhost = `cold-${i}`;
    const c = new AMQPWebSocketClient({ url: rt2.ws(vhost), vhost, username: 'guest', password: 'guest' });
    await c.connect();
    await c.close();
    fresh.push(await rt2.debug(vhost));
  }
  for (let i = 0; i < COLD; i++) {
    await rt2.stop();
    rt2 = await start({ persistDir: coldDir, vars });
    const t = performance.now();
    const s = await rt2.debug(`cold-${i}`);
    woken.push({ ...s, requestMs: performance.now() - t });
  }
} finally {
  await rt2.stop();
  fs.rmSync(coldDir, { recursive: true, force: true });
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(
  `\nWarren on workerd ${JSON.parse(fs.readFileSync(new URL('../node_modules/workerd/package.json', import.meta.url))).version}` +
    ` (Miniflare, SQLite-backed storage on local disk) vs the Node host, on ${os.cpus().length} CPUs` +
    ` (${os.cpus()[0].model.trim()}), node ${process.version}`,
);
console.log(
  `client: AMQPWebSocketClient (per-frame: a WebSocket message per publish and per ack, as it ships;` +
    ` gathered: a turn's writes in one WebSocket message), one connection; loadgen: bench/loadgen (Rust, lapin)` +
    ` over its TCP-to-WebSocket relay, a publishing and a consuming connection (latency publish to delivery),` +
    ` ${LOADGEN_BACKLOG ? `at most ${fmt(LOADGEN_BACKLOG)}` : 'no limit on messages'} published and not yet consumed;` +
    ` ${SIZE}-byte bodies, ${WINDOW} publishes in flight,` +
    ` prefetch ${PREFETCH}, ${fmt(COUNT)} messages, median of ${REPEAT} runs` +
    ` (CPU: median of the runs' own); load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}\n`,
);
console.log('| host | client | mode | msg/s | host CPU µs/msg | client CPU µs/msg | latency p50 ms | latency p99 ms |');
console.log('|---|---|---|--:|--:|--:|--:|--:|');
for (const r of results)
  console.log(
    `| ${r.host} | ${r.client} | ${r.mode} | ${fmt(r.rate)} | ${r.cpu.toFixed(1)} | ${r.clientCpu.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`,
  );
const latency = Object.entries(unloaded).map(([host, ms]) => `${host} ${ms.toFixed(2)} ms`);
console.log(`\nunloaded publish-to-confirm latency (persistent, one at a time, median): ${latency.join(', ')}`);
const persistentMessages = CLIENTS.length * (MODES.includes(true) ? Math.min(2000, COUNT) + REPEAT * COUNT : 0) + 200;
for (const [name, s] of Object.entries(storeStats))
  console.log(
    `${name} storage: ${fmt(s.storeBatches)} committed batches (put + sync) for ${fmt(persistentMessages)}` +
      ` persistent messages, each with a publish and an ack record (${fmt(s.storeBytes / 1024)} KiB)`,
  );
const ms = (xs, k) => median(xs.map((x) => x[k])).toFixed(1);
if (COLD > 0) {
  console.log(`\ncold start, median of ${COLD} (ms, measured inside the object; workerd's clock has 1 ms steps):`);
  console.log(`  new object, warm isolate:   broker ready ${ms(fresh, 'coldStartMs')} (wasm already instantiated)`);
  console.log(
    `  empty object, fresh runtime: instantiate wasm ${ms(woken, 'instantiateMs')}, broker ready ${ms(woken, 'coldStartMs')}` +
      ` (instantiate + recover); first request from outside ${ms(woken, 'requestMs')}`,
  );
}
console.log(
  '\nreference: Cloudflare reported ~400 msg/s at ~200 ms median latency for its first Queues design (one Durable Object per queue).',
);
