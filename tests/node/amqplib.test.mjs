// amqplib, unmodified, against `warren-mq serve`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqp from 'amqplib';
import defs from 'amqplib/lib/defs.js';
import { startServer } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

test('work queue: prefetch, manual acks, nack with requeue', async () => {
  const conn = await amqp.connect(server.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('lib.work', { durable: true });
  for (let i = 0; i < 10; i++) ch.sendToQueue('lib.work', Buffer.from(`job ${i}`), { persistent: true });
  await ch.prefetch(3);
  const done = [];
  let nacked = false;
  await new Promise((resolve) => {
    ch.consume('lib.work', (msg) => {
      if (!nacked) {
        nacked = true;
        ch.nack(msg, false, true);
        return;
      }
      done.push(msg.content.toString());
      ch.ack(msg);
      if (done.length === 10) resolve();
    });
  });
  assert.deepEqual([...done].sort(), Array.from({ length: 10 }, (_, i) => `job ${i}`).sort());
  assert.equal((await ch.checkQueue('lib.work')).messageCount, 0);
  await conn.close();
});

test('confirm channel: publishes are confirmed; mandatory returns arrive', async () => {
  const conn = await amqp.connect(server.url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('lib.confirm', { durable: true });
  for (let i = 0; i < 50; i++) ch.sendToQueue('lib.confirm', Buffer.from(`m${i}`), { persistent: true });
  await ch.waitForConfirms();
  assert.equal((await ch.checkQueue('lib.confirm')).messageCount, 50);
  const returned = new Promise((resolve) => ch.once('return', resolve));
  ch.publish('amq.topic', 'no.route', Buffer.from('back'), { mandatory: true });
  const msg = await returned;
  assert.equal(msg.fields.replyCode, 312);
  assert.equal(msg.content.toString(), 'back');
  await conn.close();
});

test('basic.get, dead-lettering with x-death, purge', async () => {
  const conn = await amqp.connect(server.url);
  const ch = await conn.createChannel();
  await ch.assertExchange('lib.dlx', 'direct');
  await ch.assertQueue('lib.dead');
  await ch.bindQueue('lib.dead', 'lib.dlx', 'lib.src');
  await ch.assertQueue('lib.src', { deadLetterExchange: 'lib.dlx' });
  ch.sendToQueue('lib.src', Buffer.from('reject me'));
  const m = await ch.get('lib.src');
  ch.reject(m, false);
  let dead = false;
  for (let i = 0; i < 50 && !dead; i++) {
    dead = await ch.get('lib.dead', { noAck: true });
    if (!dead) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(dead.content.toString(), 'reject me');
  assert.equal(dead.properties.headers['x-death'][0].reason, 'rejected');
  ch.sendToQueue('lib.src', Buffer.from('x'));
  assert.equal((await ch.purgeQueue('lib.src')).messageCount, 1);
  await conn.close();
});

test('a channel error rejects with the reply code and closes only that channel', async () => {
  const conn = await amqp.connect(server.url);
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  await assert.rejects(ch.checkQueue('lib.missing'), (e) => e.code === 404);
  const ch2 = await conn.createChannel();
  ch2.on('error', () => {});
  await ch2.assertQueue('lib.shape', { durable: false });
  await assert.rejects(ch2.assertQueue('lib.shape', { durable: true }), (e) => e.code === 406);
  const ch3 = await conn.createChannel();
  await ch3.assertQueue('lib.fine');
  await conn.close();
});

test("transactions through amqplib's channel API", async () => {
  const conn = await amqp.connect(server.url);
  const ch = await conn.createChannel();
  await ch.assertQueue('lib.tx');
  // amqplib has no tx methods of its own; its low-level rpc sends them as-is.
  await ch.rpc(defs.TxSelect, {}, defs.TxSelectOk);
  ch.sendToQueue('lib.tx', Buffer.from('rolled back'));
  await ch.rpc(defs.TxRollback, {}, defs.TxRollbackOk);
  ch.sendToQueue('lib.tx', Buffer.from('committed'));
  await ch.rpc(defs.TxCommit, {}, defs.TxCommitOk);
  const m = await ch.get('lib.tx', { noAck: true });
  assert.equal(m.content.toString(), 'committed');
  assert.equal(await ch.get('lib.tx'), false);
  await conn.close();
});

test('a publisher spreading a burst over more queues than routes kept: each gets its own, in order', async () => {
  const conn = await amqp.connect(server.url);
  const ch = await conn.createConfirmChannel();
  // Ten bound keys and an eleventh bound nowhere; more than the eight routes
  // the broker keeps, so they also replace one another mid-burst.
  const queues = Array.from({ length: 10 }, (_, j) => `lib.spread.${j}`);
  for (const [j, q] of queues.entries()) {
    await ch.assertQueue(q, { durable: false });
    await ch.bindQueue(q, 'amq.direct', `k${j}`);
  }
  const returned = [];
  ch.on('return', (m) => returned.push(Number(m.content.toString())));
  const n = 3300;
  // amqplib gathers what one turn publishes, so the broker reads long runs
  // of publishes whose routing keys change from each to the next.
  for (let i = 0; i < n; i++) ch.publish('amq.direct', `k${i % 11}`, Buffer.from(String(i)), { mandatory: true });
  // The same on the default exchange, two keys in turn.
  for (let i = 0; i < 200; i++) ch.sendToQueue(queues[i % 2], Buffer.from(String(n + i)));
  await ch.waitForConfirms();
  assert.deepEqual(
    returned,
    Array.from({ length: n / 11 }, (_, i) => i * 11 + 10),
  );
  for (const [j, q] of queues.entries()) {
    const want = Array.from({ length: n / 11 }, (_, i) => i * 11 + j);
    if (j < 2) want.push(...Array.from({ length: 100 }, (_, i) => n + 2 * i + j));
    const got = [];
    for (let m; (m = await ch.get(q, { noAck: true }));) got.push(Number(m.content.toString()));
    assert.deepEqual(got, want, q);
  }
  await conn.close();
});
