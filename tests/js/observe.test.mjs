// Observability: engine events through subscribe(), and snapshot().
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, ManualClock } from '../../js/entry-node.js';

test('subscribe sees one message published, delivered and acked, in a batch per burst', async () => {
  const broker = new Broker({ clock: new ManualClock(5000) });
  const batches = [];
  const unsubscribe = broker.subscribe((events) => batches.push(events));
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('q');
  await ch.basicConsume('q', { noAck: false, tag: 'c1' }, (msg) => msg.ack());
  await ch.basicPublish('', 'q', 'hello');
  await Promise.resolve(); // events go out in a microtask

  const events = batches.flat();
  const life = events.filter((e) => e.msg !== undefined).map((e) => e.type);
  assert.deepEqual(
    life.filter((t) => ['published', 'delivered', 'acked'].includes(t)),
    ['published', 'delivered', 'acked'],
  );
  const delivered = events.find((e) => e.type === 'delivered');
  assert.equal(delivered.queue, 'q');
  assert.equal(delivered.consumerTag, 'c1');
  assert.equal(delivered.at, 5000);
  assert.ok(batches.length < events.length, 'events come in batches');

  unsubscribe();
  const before = batches.length;
  await ch.basicPublish('', 'q', 'unseen');
  await Promise.resolve();
  assert.equal(batches.length, before);
  await broker.close();
});

test('a listener sees what happens from its subscribe on; with nobody listening nothing is kept for later', async () => {
  const broker = new Broker();
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('q');
  await ch.basicPublish('', 'q', 'before anyone listens');
  const seen = [];
  const unsubscribe = broker.subscribe((events) => seen.push(...events.filter((e) => e.type === 'published')));
  await ch.basicPublish('', 'q', 'first seen');
  await Promise.resolve();
  assert.equal(seen.length, 1, 'only the publish made while subscribed');
  unsubscribe();
  await ch.basicPublish('', 'q', 'while nobody listens');
  const again = [];
  broker.subscribe((events) => again.push(...events.filter((e) => e.type === 'published')));
  await ch.basicPublish('', 'q', 'seen again');
  await Promise.resolve();
  assert.equal(again.length, 1, 'a new listener gets no events kept from before it');
  assert.deepEqual(
    (await ch.basicGet('q', { noAck: true })).bodyString(),
    'before anyone listens',
    'recording or not, the messages are the same',
  );
  await broker.close();
});

test('snapshot shows ready and unacked counts and each channel’s unacked tags', async () => {
  const broker = new Broker({ events: false, clock: new ManualClock(42) });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('q');
  await ch.prefetch(2);
  await ch.basicConsume('q', { noAck: false, tag: 'worker' }, () => {});
  for (const body of ['a', 'b', 'c']) await ch.basicPublish('', 'q', body);

  const snap = broker.snapshot();
  assert.equal(snap.nowMs, 42);
  const q = snap.queues.find((x) => x.name === 'q');
  assert.deepEqual([q.counts.ready, q.counts.unacked, q.counts.consumers], [1, 2, 1]);
  assert.equal(q.ready.length, 1);
  const [channel] = snap.channels;
  assert.deepEqual(channel.channel, { conn: ch.connection.id, channel: ch.id });
  assert.deepEqual(
    channel.unacked.map(([tag, , queue]) => [tag, queue]),
    [
      [1, 'q'],
      [2, 'q'],
    ],
  );
  assert.deepEqual(
    snap.consumers.map((c) => [c.queue, c.tag, c.unacked, c.prefetch]),
    [['q', 'worker', 2, 2]],
  );
  assert.ok(snap.exchanges.some((x) => x.name === 'amq.topic' && x.kind === 'topic'));
  await broker.close();
});

test('with events off, subscribe says so', () => {
  const broker = new Broker({ events: false });
  assert.throws(() => broker.subscribe(() => {}), /events: false/);
});

test('snapshot({ messages: false }) leaves out the ready messages, keeps the counts and totals', async () => {
  const broker = new Broker({ events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('deep');
  await ch.basicPublishBatch('', 'deep', ['a', 'b', 'c']);
  const [full] = broker.snapshot().queues;
  const [light] = broker.snapshot({ messages: false }).queues;
  assert.equal(full.ready.length, 3);
  assert.deepEqual(light.ready, []);
  assert.deepEqual(light.counts, full.counts);
  assert.equal(light.stats.published, 3);
  await broker.close();
});
