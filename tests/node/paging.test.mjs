// Paged queues under a real server: a persistent backlog far past the page
// budget and past the memory high-watermark, published with confirms into a
// queue nobody consumes, goes to page files; the publisher is never
// blocked and the server's resident set stays small. A SIGKILL while it
// pages loses no confirmed message: after a restart each comes back once,
// in order.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { startServer, tmpDir } from './server.mjs';

const N = 120_000;
const BATCH = 2000;
const FILLER = 'x'.repeat(80);
const body = (i) => `${String(i).padStart(7, '0')}:${FILLER}`;

function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

test('a paged backlog keeps its publisher unblocked, and a SIGKILL while paging loses no confirmed message', async () => {
  const dataDir = tmpDir();
  const args = ['--page-budget', '256KiB', '--memory-high-watermark', '8MiB'];
  let server = await startServer({ dataDir, args });
  const c = new AMQPClient(server.url);
  c.onerror = () => {};
  let blocked = null;
  c.onblocked = (reason) => (blocked = reason);
  await c.connect();
  const ch = await c.channel();
  await ch.confirmSelect();
  await ch.queueDeclare('backlog', { durable: true });

  const confirmed = [];
  let maxRss = 0;
  // The bodies alone (10 MB) pass the watermark: without paging, publishers would be blocked.
  const killAt = Math.floor((N * 0.8) / BATCH) * BATCH;
  let next = 0;
  for (; next < killAt; next += BATCH) {
    const batch = [];
    for (let i = next; i < next + BATCH; i++)
      batch.push(ch.basicPublish('', 'backlog', body(i), { deliveryMode: 2 }).then(() => confirmed.push(i)));
    await Promise.all(batch);
    maxRss = Math.max(maxRss, rssBytes(server.child.pid));
  }
  assert.equal(blocked, null, 'the publisher was never blocked');
  const pageFiles = fs.readdirSync(dataDir).filter((f) => f.startsWith('page-'));
  assert.ok(pageFiles.length > 0, `page files: ${fs.readdirSync(dataDir)}`);
  const res = await server.api('/api/queues/%2F/backlog');
  assert.equal((await res.json()).messages, killAt);
  assert.ok(maxRss < 150 * 1024 * 1024, `server RSS reached ${(maxRss / 2 ** 20).toFixed(1)} MiB`);

  // One more batch in flight, and the server is killed while it pages it.
  for (let i = next; i < next + BATCH; i++)
    ch.basicPublish('', 'backlog', body(i), { deliveryMode: 2 }).then(
      () => confirmed.push(i),
      () => {},
    );
  await new Promise((r) => setTimeout(r, 15));
  assert.equal(await server.stop('SIGKILL'), 'SIGKILL');
  c.closed = true;

  server = await startServer({ dataDir, args });
  const c2 = new AMQPClient(server.url);
  c2.onerror = () => {};
  await c2.connect();
  const ch2 = await c2.channel();
  await ch2.prefetch(1000);
  const got = [];
  const total = (await ch2.queueDeclare('backlog', { durable: true })).messageCount;
  assert.ok(total >= confirmed.length, `${total} recovered, ${confirmed.length} confirmed`);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${total} consumed`)), 60_000);
    ch2.basicConsume('backlog', { noAck: true }, (m) => {
      got.push(Number(m.bodyToString().slice(0, 7)));
      if (got.length === total) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // In order, each once, and every confirmed one among them.
  for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `order at ${i}: ${got[i - 1]} then ${got[i]}`);
  const seen = new Set(got);
  const lost = confirmed.filter((i) => !seen.has(i));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} confirmed messages lost`);
  await c2.close();
  assert.equal(await server.stop(), 0);
  fs.rmSync(dataDir, { recursive: true, force: true });
});
