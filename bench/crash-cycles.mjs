// Kills `warren-mq serve` (SIGKILL) at random moments under a mixed load
// (tests/node/mixed-load.mjs: confirmed publishers, acking consumers, a
// consumer whose connection is cut mid-delivery, rejects and TTLs that
// dead-letter), many times over one data directory, and checks after every
// restart that no confirmed persistent message is lost and nothing comes back
// that was never published; what at-least-once allows (acked messages back
// because the ack was not yet durable, dead-lettered copies still in their
// source) is counted.
//
//   node bench/crash-cycles.mjs [cycles=50] [--minutes N] [--keep]
import fs from 'node:fs';
import { checkMixed, mixedLoad, newState } from '../tests/node/mixed-load.mjs';
import { sleep, startServer, tmpDir } from '../tests/node/server.mjs';

const cycles = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 50);
const minutesArg = process.argv.indexOf('--minutes');
const deadline = minutesArg > 0 ? Date.now() + Number(process.argv[minutesArg + 1]) * 60000 : Infinity;
const keep = process.argv.includes('--keep');
const dataDir = tmpDir('warren-crash-');
const state = newState();
const totals = { confirmed: 0, acked: 0, lost: 0, phantom: 0, ackedAndBack: 0, ackedBackFlagged: 0, duplicates: 0 };
totals.redelivered = 0;
let torn = 0;
let done = 0;
const t0 = performance.now();

console.log(`crash-cycles: up to ${cycles} cycles in ${dataDir}`);
for (let cycle = 1; ; cycle++) {
  const server = await startServer({ dataDir });
  if (/damaged/.test(server.log())) torn++;
  if (cycle > 1) {
    const r = await checkMixed(server.url, state);
    done++;
    for (const k of ['confirmed', 'acked', 'ackedAndBack', 'ackedBackFlagged', 'duplicates', 'redelivered'])
      totals[k] += r[k];
    totals.lost += r.lost.length;
    totals.phantom += r.phantom.length;
    const bad = [
      r.lost.length ? `LOST ${r.lost.length}: ${r.lost.slice(0, 10).join(',')}` : '',
      r.phantom.length ? `PHANTOM ${r.phantom.length}: ${r.phantom.slice(0, 10).join(',')}` : '',
    ].filter(Boolean);
    const pad = (n, w = 6) => String(n).padStart(w);
    const q = r.perQueue;
    console.log(
      `cycle ${pad(cycle - 1, 4)}: ${pad(r.confirmed)} confirmed, ${pad(r.acked)} acked; back: work ${pad(q['mix.work'], 5)} ttl ${pad(q['mix.ttl'], 5)} reject ${pad(q['mix.reject'], 4)} dead ${pad(q['mix.dead'], 5)}; ${pad(r.redelivered, 5)} redelivered, ${pad(r.ackedAndBack, 3)} acked and back (${r.ackedBackFlagged} flagged), ${r.duplicates} dup  ${bad.join(' ') || 'ok'}`,
    );
  }
  if (cycle > cycles || Date.now() > deadline) {
    await server.stop();
    break;
  }
  const loading = mixedLoad(server.url, state, { maxMessages: 100000 });
  await sleep(200 + Math.random() * 1300);
  server.child.kill('SIGKILL');
  await server.exited;
  await loading;
}
const secs = ((performance.now() - t0) / 1000).toFixed(0);
console.log(
  `\n${done} kills in ${secs}s: ${state.published} published, ${totals.confirmed} confirmed and checked, ${totals.lost} lost, ${totals.phantom} phantom; ` +
    `${totals.redelivered} redelivered; ${totals.ackedAndBack} acked and back (${totals.ackedBackFlagged} of them flagged redelivered), ` +
    `${totals.duplicates} dead-lettered also in their source; ${state.cuts} consumer connections cut; a torn tail was cut on ${torn} restarts`,
);
if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(totals.lost || totals.phantom ? 1 : 0);
