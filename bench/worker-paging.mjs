// One Durable Object holding a backlog far larger than its memory: N
// persistent 1 KiB messages published with confirms to one durable queue with
// no consumer, paged to the object's storage (js/worker/storage-store.js);
// then workerd is restarted (SIGKILL once the object has written its image,
// so the new object resumes from it) and the queue is drained.
//
//   node bench/worker-paging.mjs [--count 200000] [--size 1024] [--crash] [--profile FILE]
//
// --crash: SIGKILL right after the last confirm (no image): the new object
// recovers from the durable log, whose compactions name the paged runs.
// --profile: CPU profiles of the isolate while publishing and while draining,
// written to FILE-publish.cpuprofile and FILE-drain.cpuprofile (DevTools
// opens them), their largest self times printed.
//
// Memory is reported as the platform's limit counts it: the object's isolate
// (V8's JS heap, read through workerd's inspector, bench/isolate-inspector.mjs)
// plus its wasm memory (the engine), at each phase after a garbage collection
// and at its peak (sampled every 250 ms); and beside it the RSS of the
// workerd process, an upper bound for the object (it also holds the runtime,
// SQLite's cache and Miniflare's loopback services), whose baseline is taken
// after the first request, before any message. Page reads are counted by the
// object's store. Needs `npm run build`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { start, tmpDir, until } from '../tests/worker/runtime.mjs';
import { freePort, inspect, selfTimes } from './isolate-inspector.mjs';
import { PREFETCH, WINDOW } from './workload.mjs';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200000' },
    size: { type: 'string', default: '1024' },
    crash: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const COUNT = Number(values.count);
const SIZE = Number(values.size);
const VHOST = 'paging';
const QUEUE = 'backlog';
const MiB = 2 ** 20;

if (!fs.existsSync(new URL('../pkg/warren_bg.wasm', import.meta.url))) {
  console.error('bench/worker-paging: pkg/ is missing: run `npm run build` first');
  process.exit(1);
}

const rss = (pids) =>
  pids.reduce((sum, pid) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      return sum + (m ? Number(m[1]) * 1024 : 0);
    } catch {
      return sum;
    }
  }, 0);

/**
 * Samples the RSS of `pids` and the isolate's JS heap every 250 ms; stop()
 * resolves with the peaks ({ rss, heapUsed, heapTotal }).
 */
function sampler(pids, isolate) {
  const peak = { rss: rss(pids), heapUsed: 0, heapTotal: 0 };
  let busy = false;
  const sample = async () => {
    peak.rss = Math.max(peak.rss, rss(pids));
    if (busy) return;
    busy = true;
    const h = await isolate.heap().catch(() => null);
    busy = false;
    if (!h) return;
    peak.heapUsed = Math.max(peak.heapUsed, h.usedSize);
    peak.heapTotal = Math.max(peak.heapTotal, h.totalSize);
  };
  const timer = setInterval(sample, 250);
  return { stop: async () => (clearInterval(timer), await sample(), peak) };
}

/** The isolate's memory after a garbage collection, with the object's wasm memory from `stats`. */
async function isolateMemory(isolate, stats) {
  const h = await isolate.heap({ gc: true });
  return {
    heapUsed: h.usedSize,
    heapTotal: h.totalSize,
    external: h.embedderHeapUsedSize + h.backingStorageSize,
    wasm: stats.memoryBytes,
  };
}

/** Starts a runtime with its inspector open; resolves with [rt, isolate]. */
async function startInspected(opts) {
  const inspectorPort = await freePort();
  const rt = await start({ ...opts, inspectorPort });
  return [rt, await inspect(inspectorPort, { poke: () => rt.debug(VHOST) })];
}

async function startProfile(isolate) {
  if (values.profile) await isolate.startProfile();
}

async function stopProfile(isolate, phase) {
  if (!values.profile) return;
  const profile = await isolate.stopProfile();
  fs.writeFileSync(`${values.profile}-${phase}.cpuprofile`, JSON.stringify(profile));
  const { ms, functions, scripts } = selfTimes(profile);
  const row = (r) => `    ${r.ms.toFixed(0).padStart(7)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`;
  console.log(`  ${phase}: ${ms.toFixed(0)} ms profiled (${values.profile}-${phase}.cpuprofile); self time by script:`);
  for (const r of scripts.slice(0, 8)) console.log(row(r));
  console.log('  by function:');
  for (const r of functions.slice(0, 25)) console.log(row(r));
}

async function connect(rt) {
  const c = new AMQPWebSocketClient({ url: rt.directWs(VHOST), vhost: VHOST, username: 'guest', password: 'guest' });
  await c.connect();
  return c;
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const mib = (n) => `${(n / MiB).toFixed(1)} MiB`;
const persistDir = tmpDir('warren-bench-paging-');
const vars = { WARREN_LOOPBACK_USERS: 'none' };

// 1. Fill.
let [rt, isolate] = await startInspected({ persistDir, assets: false, vars });
let filled;
let empty;
try {
  await rt.debug(VHOST);
  const baseline = rss(rt.pids);
  const s = sampler(rt.pids, isolate);
  const c = await connect(rt);
  const ch = await c.channel();
  await ch.queueDeclare(QUEUE, { durable: true });
  empty = await isolateMemory(isolate, await rt.debug(VHOST));
  await ch.confirmSelect();
  const body = new Uint8Array(SIZE).fill(120);
  const inflight = new Set();
  let blocked = 0;
  await startProfile(isolate);
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const view = new DataView(body.buffer);
    view.setUint32(0, i);
    const p = ch.basicPublish('', QUEUE, body, { deliveryMode: 2 });
    inflight.add(p);
    p.finally(() => inflight.delete(p));
    if (inflight.size >= WINDOW) await Promise.race(inflight);
    if (c.blocked) blocked++;
    if (i % 100000 === 0 && i > 0) console.log(`  ${fmt(i)} published, workerd RSS ${mib(rss(rt.pids))}`);
  }
  await Promise.all(inflight);
  const secs = (performance.now() - t0) / 1000;
  await stopProfile(isolate, 'publish');
  await c.close();
  const stats = await rt.debug(VHOST);
  filled = { baseline, peak: await s.stop(), secs, blocked, stats, isolate: await isolateMemory(isolate, stats) };
  if (!values.crash)
    await until(async () => (await rt.debug(VHOST)).imagesWritten > 0, { ms: 60000, what: 'the image', every: 500 });
} finally {
  isolate.close();
  await rt.kill();
}
const disk = Number(execFileSync('du', ['-sb', persistDir], { encoding: 'utf8' }).split('\t')[0]);

// 2. Cold start and drain.
[rt, isolate] = await startInspected({ persistDir, assets: false, vars });
let woken;
let drained;
try {
  const t = performance.now();
  woken = await rt.debug(VHOST);
  woken.requestMs = performance.now() - t;
  woken.isolate = await isolateMemory(isolate, woken);
  const baseline = rss(rt.pids);
  const s = sampler(rt.pids, isolate);
  const c = await connect(rt);
  const ch = await c.channel();
  await ch.prefetch(PREFETCH);
  let received = 0;
  let inOrder = true;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  await startProfile(isolate);
  const t0 = performance.now();
  await ch.basicConsume(QUEUE, { noAck: false }, (m) => {
    if (new DataView(m.body.buffer, m.body.byteOffset).getUint32(0) !== received) inOrder = false;
    m.ack();
    if (++received === COUNT) done();
  });
  await all;
  const secs = (performance.now() - t0) / 1000;
  await stopProfile(isolate, 'drain');
  await c.close();
  const stats = await rt.debug(VHOST);
  drained = { baseline, peak: await s.stop(), secs, inOrder, stats, isolate: await isolateMemory(isolate, stats) };
} finally {
  isolate.close();
  await rt.stop();
  fs.rmSync(persistDir, { recursive: true, force: true });
}

const workerd = JSON.parse(fs.readFileSync(new URL('../node_modules/workerd/package.json', import.meta.url))).version;
const f = filled.stats;
console.log(
  `\nWarren on workerd ${workerd} (Miniflare, SQLite-backed storage on local disk), ${os.cpus().length} CPUs` +
    ` (${os.cpus()[0].model.trim()}), node ${process.version}`,
);
console.log(
  `${fmt(COUNT)} persistent ${SIZE}-byte messages, one durable queue, no consumer; page budget ${mib(4 * MiB)} (default);` +
    ` ${values.crash ? 'SIGKILL with no image (recovery from the log)' : 'SIGKILL after the image (resume)'}\n`,
);
console.log('| | value |');
console.log('|---|--:|');
console.log(
  `| publish (confirms, ${WINDOW} in flight) | ${fmt(COUNT / filled.secs)} msg/s, ${filled.secs.toFixed(0)} s |`,
);
console.log(`| publishes seen while blocked | ${filled.blocked} |`);
console.log(`| paged / ready after publishing | ${fmt(counts(f).paged)} / ${fmt(counts(f).ready)} |`);
console.log(`| pages in storage | ${fmt(f.pages.held)} |`);
console.log(`| engine's estimate of messages in memory | ${mib(f.queuedBytes)} |`);
console.log(`| storage on disk | ${mib(disk)} (${(disk / COUNT).toFixed(0)} bytes/message) |`);
console.log(
  `| cold start: ${values.crash ? 'restarts' : 'resumes'} / broker ready / first request | ${values.crash ? woken.restarts : woken.resumes} / ${woken.coldStartMs.toFixed(0)} ms / ${woken.requestMs.toFixed(0)} ms |`,
);
console.log(`| log bytes read at the cold start | ${mib(woken.recoveredBytes)} |`);
console.log(`| pages read at the cold start | ${woken.pages.reads} of ${fmt(woken.pages.held)} |`);
console.log(
  `| drain (acks, prefetch ${PREFETCH}) | ${fmt(COUNT / drained.secs)} msg/s, ${drained.secs.toFixed(0)} s, in order: ${drained.inOrder} |`,
);
console.log(`| pages read in the drain | ${fmt(drained.stats.pages.reads)} |`);

// The isolate, as the platform's memory limit counts it, after a GC at each phase.
console.log(
  "\n| the object's isolate (after a GC) | JS heap used / total | external | wasm memory | sum (used + external + wasm) |",
);
console.log('|---|--:|--:|--:|--:|');
const phase = (name, m) =>
  console.log(
    `| ${name} | ${mib(m.heapUsed)} / ${mib(m.heapTotal)} | ${mib(m.external)} | ${mib(m.wasm)} | ${mib(m.heapUsed + m.external + m.wasm)} |`,
  );
phase('empty (queue declared)', empty);
phase(`${fmt(COUNT)} queued`, filled.isolate);
phase('woken from storage', woken.isolate);
phase('drained', drained.isolate);
console.log(
  `| JS heap peak used / total: publishing, draining | ${mib(filled.peak.heapUsed)} / ${mib(filled.peak.heapTotal)}, ${mib(drained.peak.heapUsed)} / ${mib(drained.peak.heapTotal)} | | | |`,
);
console.log(
  `\nworkerd RSS (upper bound): baseline / peak publishing ${mib(filled.baseline)} / ${mib(filled.peak.rss)}` +
    ` (${((filled.peak.rss - filled.baseline) / COUNT).toFixed(1)} bytes/message above baseline);` +
    ` baseline / peak draining ${mib(drained.baseline)} / ${mib(drained.peak.rss)}`,
);

function counts(stats) {
  return stats.snapshot.queues.find((q) => q.name === QUEUE).counts;
}
