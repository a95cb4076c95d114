// amqp-client.js (AMQPClient, over TCP), unmodified, against `warren-mq serve`:
// the AMQP features a client sees, each in its own test, on one server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { startServer } from './server.mjs';

let server;
const clients = [];

before(async () => {
  // WARREN_TEST_AMQP_URL runs these tests against another broker (RabbitMQ) to
  // check that Warren's answers match it; not used in CI.
  const other = process.env.WARREN_TEST_AMQP_URL;
  server = other
    ? {
        url: other,
        amqpPort: new URL(other).port,
        stop: async () => 0,
        waitFor: async () => ['connection closed: 530'],
      }
    : await startServer();
});
after(async () => {
  for (const c of clients) if (!c.closed) await c.close().catch(() => {});
  assert.equal(await server.stop(), 0);
});

async function connect(url = server.url) {
  const c = new AMQPClient(url);
  c.onerror = () => {}; // errors are asserted where they happen
  await c.connect();
  clients.push(c);
  return c;
}

/** Resolves with the next `n` messages a consumer on `queue` gets. */
function collect(ch, queue, n, params = { noAck: true }) {
  const got = [];
  return new Promise((resolve, reject) => {
    ch.basicConsume(queue, params, (msg) => {
      got.push(msg);
      if (got.length === n) resolve(got);
    }).catch(reject);
  });
}

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms).unref())]);

test('publish and consume with manual acks; properties arrive intact', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.queueDeclare('basic');
  const props = {
    contentType: 'application/json',
    deliveryMode: 2,
    headers: { 'x-tenant': 'acme', n: 7, nested: { ok: true } },
    messageId: 'm-1',
    correlationId: 'c-1',
    appId: 'tests',
    priority: 3,
  };
  await ch.basicPublish('', 'basic', '{"hello":1}', props);
  const [msg] = await collect(ch, 'basic', 1, { noAck: false });
  assert.equal(msg.bodyToString(), '{"hello":1}');
  assert.equal(msg.redelivered, false);
  assert.equal(msg.properties.contentType, 'application/json');
  assert.equal(msg.properties.deliveryMode, 2);
  assert.equal(msg.properties.messageId, 'm-1');
  assert.equal(msg.properties.headers['x-tenant'], 'acme');
  assert.equal(Number(msg.properties.headers.n), 7);
  assert.deepEqual(msg.properties.headers.nested, { ok: true });
  await msg.ack();
  const ok = await ch.queueDeclare('basic', { passive: true });
  assert.equal(ok.messageCount, 0);
  await c.close();
});

test('exchanges route: direct, fanout, topic, headers', async () => {
  const c = await connect();
  const ch = await c.channel();
  for (const [x, type] of [
    ['r.direct', 'direct'],
    ['r.fanout', 'fanout'],
    ['r.topic', 'topic'],
    ['r.headers', 'headers'],
  ]) {
    await ch.exchangeDeclare(x, type);
  }
  await ch.queueDeclare('r.q');
  await ch.queueBind('r.q', 'r.direct', 'key');
  await ch.queueBind('r.q', 'r.fanout', '');
  await ch.queueBind('r.q', 'r.topic', 'a.*.c');
  await ch.queueBind('r.q', 'r.headers', '', { 'x-match': 'all', kind: 'x' });
  await ch.basicPublish('r.direct', 'key', 'direct');
  await ch.basicPublish('r.direct', 'other', 'lost');
  await ch.basicPublish('r.fanout', 'anything', 'fanout');
  await ch.basicPublish('r.topic', 'a.b.c', 'topic');
  await ch.basicPublish('r.topic', 'a.b.d', 'lost');
  await ch.basicPublish('r.headers', '', 'headers', { headers: { kind: 'x' } });
  await ch.basicPublish('r.headers', '', 'lost', { headers: { kind: 'y' } });
  const got = await collect(ch, 'r.q', 4);
  assert.deepEqual(
    got.map((m) => m.bodyToString()),
    ['direct', 'fanout', 'topic', 'headers'],
  );
  assert.equal(got[2].routingKey, 'a.b.c');
  assert.equal(got[2].exchange, 'r.topic');
  await c.close();
});

test('basic.get, purge and delete report message counts', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.queueDeclare('counts');
  for (const body of ['a', 'b', 'c']) await ch.basicPublish('', 'counts', body);
  const first = await ch.basicGet('counts');
  assert.equal(first.bodyToString(), 'a');
  assert.equal(first.messageCount, 2);
  assert.equal((await ch.queuePurge('counts')).messageCount, 2);
  assert.equal(await ch.basicGet('counts'), null);
  await ch.basicPublish('', 'counts', 'd');
  assert.equal((await ch.queueDelete('counts')).messageCount, 1);
  await c.close();
});

test('nack and reject with requeue bring the message back redelivered; without, it is gone', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.queueDeclare('requeue');
  await ch.basicPublish('', 'requeue', 'again');
  const m1 = await ch.basicGet('requeue', { noAck: false });
  assert.equal(m1.redelivered, false);
  await m1.nack(true);
  const m2 = await ch.basicGet('requeue', { noAck: false });
  assert.equal(m2.bodyToString(), 'again');
  assert.equal(m2.redelivered, true);
  await m2.reject(true);
  const m3 = await ch.basicGet('requeue', { noAck: false });
  assert.equal(m3.redelivered, true);
  await m3.reject(false);
  assert.equal(await ch.basicGet('requeue'), null);
  await c.close();
});

test('unacked messages return when their channel closes; prefetch limits what is in flight', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.queueDeclare('prefetch');
  for (let i = 0; i < 5; i++) await ch.basicPublish('', 'prefetch', `m${i}`);
  const consumer = await c.channel();
  await consumer.prefetch(2);
  const seen = [];
  await consumer.basicConsume('prefetch', { noAck: false }, (m) => seen.push(m));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(seen.length, 2, 'prefetch 2 holds back the rest');
  await consumer.close();
  const ok = await ch.queueDeclare('prefetch', { passive: true });
  assert.equal(ok.messageCount, 5);
  const back = await ch.basicGet('prefetch');
  assert.equal(back.redelivered, true);
  await c.close();
});

test('dead-lettering adds x-death: rejected and expired messages reach the DLX', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.exchangeDeclare('dlx', 'fanout');
  await ch.queueDeclare('dead');
  await ch.queueBind('dead', 'dlx', '');
  await ch.queueDeclare('work', {}, { 'x-dead-letter-exchange': 'dlx' });
  await ch.basicPublish('', 'work', 'bad');
  const m = await ch.basicGet('work', { noAck: false });
  await m.reject(false);
  await ch.queueDeclare('short', {}, { 'x-dead-letter-exchange': 'dlx', 'x-message-ttl': 50 });
  await ch.basicPublish('', 'short', 'late');
  const got = await withTimeout(collect(ch, 'dead', 2), 5000, 'dead letters');
  const [rejected, expired] = got;
  assert.equal(rejected.bodyToString(), 'bad');
  const death = rejected.properties.headers['x-death'][0];
  assert.equal(death.reason, 'rejected');
  assert.equal(death.queue, 'work');
  assert.equal(Number(death.count), 1);
  assert.deepEqual(death['routing-keys'], ['work']);
  assert.equal(rejected.properties.headers['x-first-death-reason'], 'rejected');
  assert.equal(rejected.properties.headers['x-first-death-queue'], 'work');
  assert.equal(expired.bodyToString(), 'late');
  assert.equal(expired.properties.headers['x-death'][0].reason, 'expired');
  await c.close();
});

test('per-message TTL (expiration) drops the message unread', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.queueDeclare('ttl');
  await ch.basicPublish('', 'ttl', 'brief', { expiration: '30' });
  await ch.basicPublish('', 'ttl', 'lasting');
  await new Promise((r) => setTimeout(r, 100));
  const m = await ch.basicGet('ttl');
  assert.equal(m.bodyToString(), 'lasting');
  assert.equal(await ch.basicGet('ttl'), null);
  await c.close();
});

test('length limits: drop-head keeps the newest; reject-publish nacks the confirm', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.confirmSelect();
  await ch.queueDeclare('capped', {}, { 'x-max-length': 2 });
  for (const body of ['1', '2', '3']) await ch.basicPublish('', 'capped', body);
  assert.equal((await ch.basicGet('capped')).bodyToString(), '2');
  await ch.queueDeclare('full', {}, { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
  await ch.basicPublish('', 'full', 'fits');
  await assert.rejects(ch.basicPublish('', 'full', 'refused'), /rejected/i);
  assert.equal((await ch.queueDeclare('full', { passive: true })).messageCount, 1);
  await c.close();
});

test('publisher confirms: each publish is acked with its sequence number', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.confirmSelect();
  await ch.queueDeclare('confirmed', { durable: true });
  const tags = await Promise.all(
    Array.from({ length: 100 }, (_, i) => ch.basicPublish('', 'confirmed', `m${i}`, { deliveryMode: 2 })),
  );
  assert.deepEqual(
    tags,
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  assert.equal((await ch.queueDeclare('confirmed', { durable: true, passive: true })).messageCount, 100);
  await ch.queueDelete('confirmed');
  await c.close();
});

test('mandatory publishes that reach no queue come back with 312 NO_ROUTE', async () => {
  const c = await connect();
  const ch = await c.channel();
  const returned = new Promise((resolve) => {
    ch.onReturn = resolve;
  });
  await ch.basicPublish('amq.direct', 'nobody', 'ping', { messageId: 'r1' }, true);
  const msg = await withTimeout(returned, 5000, 'basic.return');
  assert.equal(msg.replyCode, 312);
  assert.equal(msg.replyText, 'NO_ROUTE');
  assert.equal(msg.bodyToString(), 'ping');
  assert.equal(msg.properties.messageId, 'r1');
  await c.close();
});

test('transactions: rollback discards publishes and acks, commit applies them', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.queueDeclare('tx');
  await ch.basicPublish('', 'tx', 'kept');
  await ch.txSelect();
  await ch.basicPublish('', 'tx', 'rolled back');
  const m = await ch.basicGet('tx', { noAck: false });
  await m.ack();
  await ch.txRollback();
  // The ack was rolled back too: the message is still unacked on this channel.
  assert.equal(await ch.basicGet('tx'), null);
  await ch.basicPublish('', 'tx', 'committed');
  await m.ack();
  await ch.txCommit();
  const next = await ch.basicGet('tx');
  assert.equal(next.bodyToString(), 'committed');
  await c.close();
});

test('a consumer is cancelled by the server when its queue is deleted', async () => {
  const c = await connect();
  const ch = await c.channel();
  await ch.queueDeclare('doomed');
  const consumer = await ch.basicConsume('doomed', { noAck: true }, () => {});
  const other = await c.channel();
  await other.queueDelete('doomed');
  await assert.rejects(withTimeout(consumer.wait(), 5000, 'basic.cancel'), /cancelled by the server/);
  assert.equal(ch.closed, false, 'the channel stays open');
  await c.close();
});

test('channel errors close the channel with the right reply code', async (t) => {
  const c = await connect();
  const cases = [
    [404, (ch) => ch.queueDeclare('no-such-queue', { passive: true })],
    [404, (ch) => ch.basicPublish('no-such-exchange', 'k', 'x').then(() => ch.queueDeclare('q404'))],
    [
      406,
      async (ch) => {
        await ch.queueDeclare('shape', { durable: false });
        await ch.queueDeclare('shape', { durable: true });
      },
    ],
    [406, (ch) => ch.basicAck(999).then(() => ch.queueDeclare('q406'))],
    [403, (ch) => ch.exchangeDeclare('amq.mine', 'direct')],
    [
      405,
      async (ch) => {
        const owner = await connect();
        await (await owner.channel()).queueDeclare('mine', { exclusive: true });
        await ch.queueDeclare('mine', { passive: true });
      },
    ],
  ];
  for (const [code, run] of cases) {
    await t.test(`${code}`, async () => {
      const ch = await c.channel();
      await assert.rejects(run(ch), (e) => {
        assert.match(e.message, new RegExp(`\\(${code}\\)`));
        return true;
      });
      assert.equal(ch.closed, true);
    });
  }
  // The connection survives channel errors.
  const ch = await c.channel();
  await ch.queueDeclare('still-open');
  await c.close();
});

test('connection errors: a vhost the user may not open is 530; bad credentials are 403', async () => {
  const noVhost = new AMQPClient(`${server.url}/nowhere`);
  await assert.rejects(noVhost.connect(), /530|NOT_ALLOWED/);
  const badLogin = new AMQPClient(`amqp://guest:wrong@127.0.0.1:${server.amqpPort}`);
  await assert.rejects(badLogin.connect(), /403|ACCESS_REFUSED/);
  assert.match(await server.waitFor(/connection closed: 530[^\n]*/).then((m) => m[0]), /530/);
});
