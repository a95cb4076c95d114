// The in-process client: publish/consume/ack, requeue on a lost connection,
// confirms, dead-lettering, AMQP errors and bad arguments.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPError, Broker } from '../../js/entry-node.js';

async function open(options = { events: false }) {
  const broker = new Broker(options);
  const conn = await broker.connect();
  const ch = await conn.channel();
  return { broker, conn, ch };
}

test('publish, consume and ack', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('work');
  const got = [];
  await ch.basicConsume('work', { noAck: false }, (msg) => {
    got.push([msg.bodyString(), msg.routingKey, msg.deliveryTag, msg.redelivered, msg.properties.contentType]);
    msg.ack();
  });
  await ch.basicPublish('', 'work', 'one', { contentType: 'text/plain' });
  await ch.basicPublish('', 'work', new TextEncoder().encode('two'));
  assert.deepEqual(got, [
    ['one', 'work', 1, false, 'text/plain'],
    ['two', 'work', 2, false, undefined],
  ]);
  const [q] = broker.snapshot().queues;
  assert.deepEqual([q.counts.ready, q.counts.unacked], [0, 0]);
  await broker.close();
});

test('a connection lost before its ack requeues the message as redelivered', async () => {
  const { broker, conn, ch } = await open();
  await ch.queueDeclare('jobs');
  let first = null;
  await ch.basicConsume('jobs', { noAck: false }, (msg) => {
    first = msg;
  });
  await ch.basicPublish('', 'jobs', 'job');
  assert.equal(first?.bodyString(), 'job');
  assert.equal(broker.snapshot().queues[0].counts.unacked, 1);

  await conn.close(); // crash: no ack
  assert.equal(ch.closed, true);
  const other = await (await broker.connect()).channel();
  const again = await other.basicGet('jobs', { noAck: false });
  assert.equal(again.bodyString(), 'job');
  assert.equal(again.redelivered, true);
  await again.ack();
  assert.equal(broker.snapshot().queues[0].counts.unacked, 0);
  await broker.close();
});

test('confirms: publishes resolve with their sequence number', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('c');
  await ch.confirmSelect();
  assert.deepEqual(await Promise.all([ch.basicPublish('', 'c', 'a'), ch.basicPublish('', 'c', 'b')]), [1, 2]);
  assert.equal(await ch.basicPublishBatch('', 'c', ['x', 'y', 'z']), 5);
  assert.equal(broker.snapshot().queues[0].counts.ready, 5);
  await broker.close();
});

test('confirms: a reject-publish queue that is full nacks, and the promise rejects', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('small', {}, { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
  await ch.confirmSelect();
  assert.equal(await ch.basicPublish('', 'small', 'fits'), 1);
  await assert.rejects(
    ch.basicPublish('', 'small', 'overflows'),
    (e) => e instanceof AMQPError && /nack/.test(e.message),
  );
  assert.equal(ch.closed, false);
  assert.equal(broker.snapshot().queues[0].counts.ready, 1);
  await broker.close();
});

test('nack without requeue dead-letters, with x-death in the properties', async () => {
  const { broker, ch } = await open();
  await ch.exchangeDeclare('dlx', 'fanout');
  await ch.queueDeclare('dead');
  await ch.queueBind('dead', 'dlx');
  await ch.queueDeclare('work', {}, { 'x-dead-letter-exchange': 'dlx' });
  await ch.basicConsume('work', { noAck: false }, (msg) => msg.nack(false));
  await ch.basicPublish('', 'work', 'bad', { headers: { attempt: 1 } });

  const dead = await ch.basicGet('dead');
  assert.equal(dead.bodyString(), 'bad');
  const { headers } = dead.properties;
  assert.equal(headers.attempt, 1);
  const [death] = headers['x-death'];
  assert.equal(death.queue, 'work');
  assert.equal(death.reason, 'rejected');
  assert.equal(death.count, 1);
  assert.equal(headers['x-first-death-reason'], 'rejected');
  await broker.close();
});

test('errors carry the AMQP reply; the channel closes, the connection stays usable', async () => {
  const { broker, conn, ch } = await open();
  let notified = null;
  ch.onerror = (e) => {
    notified = e;
  };
  const err = await ch.queueDeclare('missing', { passive: true }).catch((e) => e);
  assert.ok(err instanceof AMQPError);
  assert.equal(err.code, 404);
  assert.match(err.replyText, /^NOT_FOUND - no queue 'missing'/);
  assert.deepEqual([err.classId, err.methodId], [50, 10]);
  assert.equal(ch.closed, true);
  assert.equal(conn.closed, false);
  assert.equal(notified, null, 'onerror is for closes the caller did not see');
  // Later calls on the closed channel reject with the error that closed it.
  await assert.rejects(ch.basicPublish('', 'q', 'x'), (e) => e === err);

  const ch2 = await conn.channel();
  await ch2.queueDeclare('here');
  await ch2.basicPublish('', 'here', 'still works');
  assert.equal((await ch2.basicGet('here')).bodyString(), 'still works');

  // A broker-side close (a consumer acking an unknown tag) reaches onerror.
  ch2.onerror = (e) => {
    notified = e;
  };
  await assert.rejects(ch2.basicAck(99), (e) => e.code === 406);
  assert.equal(ch2.closed, true);

  const refused = await broker.connect({ vhost: 'nope' }).catch((e) => e);
  assert.equal(refused.code, 530);
  await broker.close();
});

test('every property given as a JS object arrives in its own field; the first bad one is named', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('props');
  const sent = {
    contentType: 'text/plain',
    contentEncoding: 'gzip',
    headers: { h: 'v' },
    deliveryMode: 2,
    priority: 7,
    correlationId: 'corr',
    replyTo: 'back',
    expiration: '60000',
    messageId: 'm-1',
    timestamp: new Date(1_700_000_000_000),
    type: 'kind',
    appId: 'app',
    clusterId: 'cluster',
  };
  await ch.basicPublish('', 'props', 'x', sent);
  const got = (await ch.basicGet('props', { noAck: true })).properties;
  for (const [key, value] of Object.entries(sent)) assert.deepEqual(got[key], value, key);
  await assert.rejects(
    ch.basicPublish('', 'props', 'x', { contentEncoding: 1, replyTo: 2, clusterId: 3 }),
    /property contentEncoding must be a string/,
  );
  await assert.rejects(
    ch.basicPublish('', 'props', 'x', { priority: 300, messageId: 4 }),
    /property priority must be an integer from 0 to 255/,
  );
  await assert.rejects(
    ch.basicPublish('', 'props', 'x', { messageId: 'ok', appId: 'a'.repeat(256) }),
    /appId is longer than 255 bytes/,
  );
  await broker.close();
});

test('bad arguments from JS throw a TypeError saying what is wrong, and change nothing', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('q');
  const cases = [
    [() => ch.basicPublish(42, 'q', 'x'), /basicPublish: exchange must be a string \(got number\)/],
    [() => ch.basicPublish('', 'q', { not: 'bytes' }), /body must be a string, Uint8Array, ArrayBuffer or null/],
    [() => ch.basicPublish('', 'q', 'x', { priority: 'high' }), /priority must be an integer from 0 to 255/],
    [() => ch.basicPublish('', 'q', 'x', { headers: { f: () => 1 } }), /unsupported header value type/],
    [() => ch.basicPublish('', 'q'.repeat(300), 'x'), /routing key is longer than 255 bytes/],
    [() => ch.queueDeclare('q', 'durable'), /queueDeclare: options must be an object \(got string\)/],
    [() => ch.basicQos(-1), /basicQos: prefetchCount must be an integer from 0 to 65535 \(got -1\)/],
    [() => ch.basicConsume('q', {}, 'not a function'), /basicConsume: onMessage must be a function/],
    [() => ch.basicAck(1.5), /delivery tag is a non-negative integer/],
    [() => ch.basicGet(null), /basicGet: queue must be a string \(got null\)/],
    // amqplib's habits: dropped, `persistent` would leave the message transient
    [
      () => ch.basicPublish('', 'q', 'x', { persistent: true }),
      /basicPublish: unknown property 'persistent' \(properties: contentType, .*\); a persistent message has deliveryMode: 2/,
    ],
    [
      () => ch.basicPublish('', 'q', 'x', { mandatory: true }),
      /basicPublish: unknown property 'mandatory' .*; mandatory is the publish's next argument/,
    ],
    [() => ch.basicPublish('', 'q', 'x', {}, 'yes'), /basicPublish: mandatory must be a boolean \(got string\)/],
    [() => ch.basicPublishBatch('', 'q', ['x'], { durable: true }), /basicPublishBatch: unknown property 'durable'/],
    [() => ch.basicPublishBatch('', 'q', ['x'], {}, 1), /basicPublishBatch: mandatory must be a boolean/],
  ];
  for (const [call, message] of cases)
    await assert.rejects(call(), (e) => e instanceof TypeError && message.test(e.message));
  assert.throws(() => new Broker({ limts: {} }), /unknown option 'limts'/);
  assert.throws(() => new Broker({ limits: { channelMax: 'many' } }), TypeError);
  assert.throws(() => broker.accept({}), /transport must have send\(bytes\) and close\(\)/);

  assert.equal(ch.closed, false);
  await ch.basicPublish('', 'q', 'fine');
  assert.equal((await ch.basicGet('q')).bodyString(), 'fine');
  assert.equal(broker.snapshot().queues[0].counts.ready, 0);
  await broker.close();
});

test('mandatory messages that reach no queue come back through onReturn', async () => {
  const { broker, ch } = await open();
  const returned = [];
  ch.onReturn = (msg) => returned.push([msg.replyCode, msg.replyText, msg.routingKey, msg.bodyString()]);
  await ch.basicPublish('', 'nowhere', 'lost', {}, true);
  assert.deepEqual(returned, [[312, 'NO_ROUTE', 'nowhere', 'lost']]);
  await broker.close();
});

test('a consumer acking from its callback gets every message once, in order', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('order');
  await ch.prefetch(3);
  const seen = [];
  await ch.basicConsume('order', { noAck: false }, (msg) => {
    seen.push(Number(msg.bodyString()));
    msg.ack();
  });
  await ch.basicPublishBatch(
    '',
    'order',
    Array.from({ length: 100 }, (_, i) => String(i)),
  );
  assert.deepEqual(
    seen,
    Array.from({ length: 100 }, (_, i) => i),
  );
  await broker.close();
});

test('Broker.create loads the engine and closing rejects what is pending', async () => {
  const broker = await Broker.create({ events: false });
  const conn = await broker.connect({ name: 'app' });
  const ch = await conn.channel();
  await ch.queueDeclare('q');
  const consumer = await ch.basicConsume('q', {}, () => {});
  const waiting = consumer.wait();
  await broker.close();
  await assert.rejects(waiting, (e) => e.code === 320);
  assert.equal(conn.closed, true);
  await assert.rejects(broker.connect(), /closed/);
});

test('channel numbers above limits.channelMax are refused as on the wire: 530 and the connection closes', async () => {
  const { broker, conn } = await open({ events: false, limits: { channelMax: 2 } });
  await conn.channel();
  const err = await conn.channel().catch((e) => e);
  assert.equal(err.code, 530);
  assert.equal(err.replyText, 'NOT_ALLOWED - channel number 3 is higher than the negotiated channel_max (2)');
  assert.deepEqual([err.classId, err.methodId], [20, 10]);
  assert.equal(conn.closed, true);
  await broker.close();
});

test('batched publishes and acks: one promise per channel and batch, rejected when the batch closed the channel', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('q');
  const got = [];
  await ch.basicConsume('q', { noAck: false }, (m) => got.push(m));
  const first = ch.basicPublish('', 'q', 'a');
  assert.equal(ch.basicPublish('', 'q', 'b'), first, 'the same batch, the same promise');
  assert.equal(got.length, 0, 'queued until the batch runs');
  await first;
  assert.deepEqual(
    got.map((m) => m.bodyString()),
    ['a', 'b'],
  );
  const acked = got[0].ack();
  const bad = ch.basicAck(99);
  assert.equal(acked, bad);
  const err = await bad.catch((e) => e);
  assert.equal(err.replyText, 'PRECONDITION_FAILED - unknown delivery tag 99');
  assert.deepEqual([err.classId, err.methodId], [60, 80]);
  assert.equal(ch.closed, true);
  // The ack ahead of the bad one ran; the closed channel returned 'b' to the queue.
  assert.equal(broker.snapshot().queues[0].counts.ready, 1);
  await broker.close();
});

test('in-process publishes obey limits.maxMessageSize like AMQP connections', async () => {
  const { broker, conn, ch } = await open({ events: false, limits: { maxMessageSize: 8 } });
  await ch.queueDeclare('small');
  await ch.basicPublish('', 'small', '12345678');
  const err = await ch.basicPublish('', 'small', '123456789').catch((e) => e);
  assert.equal(err.code, 406);
  assert.match(err.replyText, /message size 9 is larger than configured max size 8/);
  assert.equal(ch.closed, true);
  const ch2 = await conn.channel();
  assert.equal((await ch2.basicGet('small')).bodyString(), '12345678');
  assert.equal(await ch2.basicGet('small'), null);
  await broker.close();
});
