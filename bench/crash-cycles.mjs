// Kills `warren-mq serve` (SIGKILL) at random moments under confirmed
// publishing, many times over one data directory, and checks after every
// restart that each confirmed persistent message is still there or was
// delivered and acked.
//
//   node bench/crash-cycles.mjs [cycles=50] [--keep]
import fs from 'node:fs';
import { check, load } from '../tests/node/crash-check.mjs';
import { sleep, startServer, tmpDir } from '../tests/node/server.mjs';

const cycles = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 50);
const keep = process.argv.includes('--keep');
const dataDir = tmpDir('warren-crash-');
const state = { next: 1, confirmed: new Set(), acked: new Set() };
let confirmedTotal = 0;
let lostTotal = 0;
let torn = 0;
const t0 = performance.now();

console.log(`crash-cycles: ${cycles} cycles in ${dataDir}`);
for (let cycle = 1; cycle <= cycles + 1; cycle++) {
  const server = await startServer({ dataDir });
  if (/damaged bytes/.test(server.log())) torn++;
  if (cycle > 1) {
    const confirmed = state.confirmed.size;
    const acked = state.acked.size;
    const { present, redelivered, lost, ackedAndBack } = await check(server.url, state);
    confirmedTotal += confirmed;
    lostTotal += lost.length;
    const status = lost.length ? `LOST ${lost.length}: ${lost.slice(0, 10).join(',')}` : 'ok';
    const pad = (n) => String(n).padStart(6);
    console.log(
      `cycle ${String(cycle - 1).padStart(3)}: ${pad(confirmed)} confirmed, ${pad(acked)} acked, ${pad(present)} in the queue after restart (${redelivered} redelivered, ${ackedAndBack} acked just before the kill)  ${status}`,
    );
  }
  if (cycle > cycles) {
    await server.stop();
    break;
  }
  const loading = load(server.url, state, { maxMessages: 100000 });
  await sleep(100 + Math.random() * 1400);
  server.child.kill('SIGKILL');
  await server.exited;
  await loading;
}
const secs = ((performance.now() - t0) / 1000).toFixed(0);
console.log(
  `\n${cycles} kills in ${secs}s: ${confirmedTotal} confirmed messages checked, ${lostTotal} lost; a torn tail was cut on ${torn} restarts`,
);
if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(lostTotal ? 1 : 0);
