// A million queues declared on one connection of `warren-mq serve`, pipelined
// as fast as the client writes, while another client's round trips (connect,
// declare, publish, get, close) are timed. Reports the time, the queues
// declared, how the connection ended if it did, the server's memory per queue
// (resident set) and the round trips.
//
//   node bench/many-queues.mjs [count=1000000] [--minutes N]
import { declareMany, rssMiB } from '../tests/node/many-queues.mjs';
import { startServer } from '../tests/node/server.mjs';

const count = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 1000000);
const minutesArg = process.argv.indexOf('--minutes');
const maxMs = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) * 60000 : 20 * 60000;

const server = await startServer({ timeoutMs: 60000 });
try {
  const rss0 = rssMiB(server.child.pid);
  const r = await declareMany(server, count, { maxMs });
  const rss1 = rssMiB(server.child.pid);
  const overview = await (await server.api('/api/overview')).json();
  const sorted = [...r.rtts].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]?.toFixed(0);
  console.log(
    `${r.declared} of ${count} queues declared in ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.declared / (r.ms / 1000))}/s); ` +
      `the server reports ${overview.object_totals.queues} queues; ` +
      `${r.closed ? `connection closed: ${r.closed.code} ${r.closed.text}` : 'no limit reached'}`,
  );
  console.log(
    `server RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MiB: ${(((rss1 - rss0) * 1024 * 1024) / Math.max(1, r.declared)).toFixed(0)} bytes per queue`,
  );
  console.log(
    `another client's round trips meanwhile: ${r.rtts.length}, median ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${sorted.at(-1)?.toFixed(0)} ms` +
      (r.rttError ? `; then one failed: ${r.rttError}` : ''),
  );
  if (r.rttError || server.child.exitCode !== null)
    console.log(`the server's last lines:\n${server.log().split('\n').slice(-15).join('\n')}`);
} catch (e) {
  console.log(`failed: ${e.message}; the server's last lines:\n${server.log().split('\n').slice(-15).join('\n')}`);
  process.exitCode = 1;
} finally {
  await server.stop('SIGKILL'); // a million queues need no orderly goodbye
}
