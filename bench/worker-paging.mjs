// One Durable Object holding a backlog far larger than its memory: N
// persistent 1 KiB messages published with confirms to one durable queue with
// no consumer, paged to the object's storage (js/worker/storage-store.js);
// then workerd is restarted (SIGKILL once the object has written its image,
// so the new object resumes from it) and the queue is drained.
//
//   node bench/worker-paging.mjs [--count 200000] [--size 1024] [--crash]
//
// --crash: SIGKILL right after the last confirm (no image): the new object
// recovers from the durable log, whose compactions name the paged runs.
//
// Memory is reported two ways: the object's wasm memory (its engine; the
// isolate's JS heap comes on top) and the RSS of the workerd process, an
// honest upper bound for the object (it also holds the runtime, SQLite's
// cache and Miniflare's loopback services), sampled every 250 ms; its
// baseline is taken after the first request, before any message. Page reads
// are counted by the object's store. Needs `npm run build`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { start, tmpDir, until } from '../tests/worker/runtime.mjs';
import { PREFETCH, WINDOW } from './workload.mjs';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200000' },
    size: { type: 'string', default: '1024' },
    crash: { type: 'boolean', default: false },
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

/** Samples the RSS of `pids` every 250 ms; stop() resolves with the peak. */
function sampler(pids) {
  let peak = rss(pids);
  const timer = setInterval(() => (peak = Math.max(peak, rss(pids))), 250);
  return { stop: () => (clearInterval(timer), Math.max(peak, rss(pids))) };
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
let rt = await start({ persistDir, assets: false, vars });
let filled;
try {
  await rt.debug(VHOST);
  const baseline = rss(rt.pids);
  const s = sampler(rt.pids);
  const c = await connect(rt);
  const ch = await c.channel();
  await ch.queueDeclare(QUEUE, { durable: true });
  await ch.confirmSelect();
  const body = new Uint8Array(SIZE).fill(120);
  const inflight = new Set();
  let blocked = 0;
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
  await c.close();
  const stats = await rt.debug(VHOST);
  filled = { baseline, peak: s.stop(), secs, blocked, stats };
  if (!values.crash)
    await until(async () => (await rt.debug(VHOST)).imagesWritten > 0, { ms: 60000, what: 'the image', every: 500 });
} finally {
  await rt.kill();
}
const disk = Number(execFileSync('du', ['-sb', persistDir], { encoding: 'utf8' }).split('\t')[0]);

// 2. Cold start and drain.
rt = await start({ persistDir, assets: false, vars });
let woken;
let drained;
try {
  const t = performance.now();
  woken = await rt.debug(VHOST);
  woken.requestMs = performance.now() - t;
  const baseline = rss(rt.pids);
  const s = sampler(rt.pids);
  const c = await connect(rt);
  const ch = await c.channel();
  await ch.prefetch(PREFETCH);
  let received = 0;
  let inOrder = true;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const t0 = performance.now();
  await ch.basicConsume(QUEUE, { noAck: false }, (m) => {
    if (new DataView(m.body.buffer, m.body.byteOffset).getUint32(0) !== received) inOrder = false;
    m.ack();
    if (++received === COUNT) done();
  });
  await all;
  const secs = (performance.now() - t0) / 1000;
  await c.close();
  drained = { baseline, peak: s.stop(), secs, inOrder, stats: await rt.debug(VHOST) };
} finally {
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
console.log(`| object's wasm memory after publishing | ${mib(f.memoryBytes)} |`);
console.log(`| workerd RSS: baseline / peak while publishing | ${mib(filled.baseline)} / ${mib(filled.peak)} |`);
console.log(
  `| workerd RSS above baseline per queued message | ${((filled.peak - filled.baseline) / COUNT).toFixed(1)} bytes |`,
);
console.log(`| storage on disk | ${mib(disk)} (${(disk / COUNT).toFixed(0)} bytes/message) |`);
console.log(
  `| cold start: ${values.crash ? 'restarts' : 'resumes'} / broker ready / first request | ${values.crash ? woken.restarts : woken.resumes} / ${woken.coldStartMs.toFixed(0)} ms / ${woken.requestMs.toFixed(0)} ms |`,
);
console.log(`| log bytes read at the cold start | ${mib(woken.recoveredBytes)} |`);
console.log(`| pages read at the cold start | ${woken.pages.reads} of ${fmt(woken.pages.held)} |`);
console.log(`| object's wasm memory after the cold start | ${mib(woken.memoryBytes)} |`);
console.log(
  `| drain (acks, prefetch ${PREFETCH}) | ${fmt(COUNT / drained.secs)} msg/s, ${drained.secs.toFixed(0)} s, in order: ${drained.inOrder} |`,
);
console.log(`| pages read in the drain | ${fmt(drained.stats.pages.reads)} |`);
console.log(`| workerd RSS: baseline / peak while draining | ${mib(drained.baseline)} / ${mib(drained.peak)} |`);
console.log(`| object's wasm memory after the drain | ${mib(drained.stats.memoryBytes)} |`);

function counts(stats) {
  return stats.snapshot.queues.find((q) => q.name === QUEUE).counts;
}
