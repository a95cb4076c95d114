// Paged queues on the Node host: N messages with 16-byte bodies published
// through the JS API into a queue nobody consumes, on a FileStore (the store
// `warren-mq serve` uses); the process's resident set once they are queued;
// then how fast a consumer drains them. Once with paging (page budget of
// 4 MiB, pages in the data directory), once with paging off (every message
// in memory). Each mode runs in a child process of its own, so each
// resident set is its own. The drain is reported in msg/s of wall time and
// of CPU time (steadier on a shared machine), with the share of it the event
// loop sat idle (a consumer waiting on page reads) and the run's peak RSS.
//
// The engine alone, without the host: `cargo bench --bench paging`.
//
//   npm run build && node bench/paging.mjs [--messages N] [--modes paged,memory] [--dir DIR]
//
// The data directory (under the system's temp dir unless --dir) is deleted afterwards.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    modes: { type: 'string', default: 'paged,memory' },
    dir: { type: 'string', default: os.tmpdir() },
    child: { type: 'string' },
  },
});
const N = Number(opts.messages);
const mib = (b) => (b / 2 ** 20).toFixed(1);

if (opts.child) {
  await child(opts.child, opts.dir);
} else {
  console.log(
    `${N} messages of 16 bytes; ${os.cpus().length} cores; load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const mode of opts.modes.split(',')) {
    const dir = fs.mkdtempSync(path.join(opts.dir, 'warren-paging-'));
    try {
      const r = spawnSync(
        process.execPath,
        ['--expose-gc', fileURLToPath(import.meta.url), '--child', mode, '--messages', String(N), '--dir', dir],
        { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`${mode}: exit ${r.status}`);
      process.stdout.write(r.stdout);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(execFileSync('uptime', { encoding: 'utf8' }).trim());
}

async function child(mode, dir) {
  const { Broker } = await import('../js/entry-node.js');
  const { FileStore } = await import('../js/node/file-store.js');
  const store = await FileStore.open(dir);
  const pageBudget = mode === 'paged' ? 4 * 2 ** 20 : Number.MAX_SAFE_INTEGER;
  const broker = await Broker.create({ store, events: false, pageBudget });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('bench', { durable: false });
  const body = new TextEncoder().encode('0123456789abcdef');
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  for (let i = 0; i < N; i++) {
    ch.basicPublish('', 'bench', body);
    // Let the store write the pages as they come.
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  const { messageCount } = await ch.queueDeclare('bench', { passive: true });
  if (messageCount !== N) throw new Error(`queued ${messageCount} of ${N}`);
  const publishSeconds = (performance.now() - started) / 1000;
  // Until the last pages are written.
  for (let last = -1; store.pages.count !== last;) {
    last = store.pages.count;
    await new Promise((r) => setTimeout(r, 200));
  }
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc?.();
  }
  const rss = process.memoryUsage().rss;
  const { engineMemory } = await import('../js/engine.js');
  const wasmMemory = engineMemory().buffer.byteLength;
  const pages = store.pages;
  const pageBytes = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('page-'))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);

  // Acknowledged in batches under a prefetch: an unbounded auto-ack consumer
  // would take all N at once, in memory, whatever the queue.
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  let got = 0;
  await ch.prefetch(4000);
  await new Promise((resolve) => {
    ch.basicConsume('bench', { noAck: false }, (m) => {
      if (++got % 1000 === 0 || got === N) m.ack(true);
      if (got === N) resolve();
    });
  });
  const drainSeconds = (performance.now() - t0) / 1000;
  // CPU time as well: on a shared machine it moves less than the wall clock.
  const cpu = process.cpuUsage(cpu0);
  const drainCpu = (cpu.user + cpu.system) / 1e6;
  // Time the event loop sat waiting: a consumer starved by page reads shows here.
  const idle = 1 - performance.eventLoopUtilization(elu0).utilization;
  await broker.close();
  // The highest resident set of the whole run, draining included (kB).
  const peakRss = process.resourceUsage().maxRSS * 1024;
  console.log(
    `${mode.padEnd(6)} publish ${(N / publishSeconds / 1e3).toFixed(0)}k msg/s; queued: RSS ${mib(rss)} MiB ` +
      `(${mib(rss - rssBefore)} MiB over the empty broker; wasm memory ${mib(wasmMemory)} MiB), ${pages.count} pages in ${pages.files.length} files ` +
      `(${mib(pageBytes)} MiB); drain ${(N / drainSeconds / 1e3).toFixed(0)}k msg/s (${drainSeconds.toFixed(1)} s, ` +
      `${drainCpu.toFixed(1)} s CPU: ${(N / drainCpu / 1e3).toFixed(0)}k msg per CPU second; ` +
      `event loop idle ${(idle * 100).toFixed(1)}%); peak RSS ${mib(peakRss)} MiB`,
  );
}
