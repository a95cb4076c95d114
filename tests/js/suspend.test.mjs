// Suspend and resume through the JS API: an image of the broker, and a
// broker resumed from it with nothing lost.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, ManualClock, MemoryStore } from '../../js/entry-node.js';

async function consumeAll(ch, queue, n) {
  const got = [];
  await new Promise((resolve) => {
    ch.basicConsume(queue, { noAck: true }, (m) => {
      got.push({ body: m.bodyString(), redelivered: m.redelivered });
      if (got.length === n) resolve();
    });
  });
  return got;
}

test('transient messages in a non-durable queue survive suspend and resume', async () => {
  const broker = await Broker.create();
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('scratch', { durable: false }, { 'x-max-priority': 3 });
  for (const [i, priority] of [0, 2, 1].entries()) await ch.basicPublish('', 'scratch', `m${i}`, { priority });
  const image = await broker.suspend();
  assert.ok(image instanceof Uint8Array && image.length > 0);
  await broker.close();

  const resumed = await Broker.resume(image);
  const q = resumed.snapshot().queues.find((q) => q.name === 'scratch');
  assert.equal(q.counts.ready, 3);
  const ch2 = await (await resumed.connect()).channel();
  const got = await consumeAll(ch2, 'scratch', 3);
  assert.deepEqual(
    got.map((m) => m.body),
    ['m1', 'm2', 'm0'],
    'priority order is kept',
  );
  await resumed.close();
});

test("an in-process consumer's unacked deliveries come back redelivered after a resume", async () => {
  const clock = new ManualClock(1_000);
  const broker = await Broker.create({ clock });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('jobs');
  let held = 0;
  await ch.basicConsume('jobs', { noAck: false }, () => held++);
  await ch.basicPublish('', 'jobs', 'a');
  await ch.basicPublish('', 'jobs', 'b');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(held, 2);
  const image = await broker.suspend();
  // The page goes away without closing anything.

  const resumed = await Broker.resume(image, { clock });
  const snap = resumed.snapshot();
  assert.equal(snap.connections.length, 0, 'in-process connections die with their page');
  const q = snap.queues.find((q) => q.name === 'jobs');
  assert.deepEqual([q.counts.ready, q.counts.unacked], [2, 0]);
  const ch2 = await (await resumed.connect()).channel();
  const got = await consumeAll(ch2, 'jobs', 2);
  assert.deepEqual(got, [
    { body: 'a', redelivered: true },
    { body: 'b', redelivered: true },
  ]);
});

test('a resumed broker continues the store log: confirms still wait for it, recovery still works', async () => {
  const store = new MemoryStore();
  const broker = await Broker.create({ store });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('orders', { durable: true });
  await ch.confirmSelect();
  await ch.basicPublish('', 'orders', 'before', { deliveryMode: 2 });
  const image = await broker.suspend();

  const resumed = await Broker.resume(image, { store });
  const ch2 = await (await resumed.connect()).channel();
  await ch2.confirmSelect();
  await ch2.basicPublish('', 'orders', 'after', { deliveryMode: 2 });
  await resumed.close();

  // A crash after the resume: the log alone holds both.
  const recovered = await Broker.create({ store });
  const q = recovered.snapshot().queues.find((q) => q.name === 'orders');
  assert.equal(q.counts.ready, 2);
  await recovered.close();
});

test("a store that knows its log's size (logSize) is not read on resume; the log it continues recovers whole", async () => {
  const memory = new MemoryStore();
  let loads = 0;
  const store = {
    load: () => (loads++, memory.load()),
    append: (bytes) => memory.append(bytes),
    logSize: async () => (await memory.load())?.length ?? 0,
  };
  const broker = await Broker.create({ store });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('orders', { durable: true });
  await ch.confirmSelect();
  await ch.basicPublish('', 'orders', 'before', { deliveryMode: 2 });
  const image = await broker.suspend();

  loads = 0;
  const resumed = await Broker.resume(image, { store });
  assert.equal(loads, 0, 'the log was not read');
  const ch2 = await (await resumed.connect()).channel();
  await ch2.confirmSelect();
  await ch2.basicPublish('', 'orders', 'after', { deliveryMode: 2 });
  await resumed.close();

  const recovered = await Broker.create({ store });
  const got = await consumeAll(await (await recovered.connect()).channel(), 'orders', 2);
  assert.deepEqual(
    got.map((m) => m.body),
    ['before', 'after'],
  );
  await recovered.close();
});

test('a damaged or foreign image is refused with a reason', async () => {
  const broker = await Broker.create();
  const image = await broker.suspend();
  await broker.close();
  const damaged = image.slice();
  damaged[damaged.length - 10] ^= 0xff;
  await assert.rejects(Broker.resume(damaged), /Broker.resume: broker image is damaged: checksum mismatch/);
  await assert.rejects(Broker.resume(image.slice(0, 20)), /truncated/);
  await assert.rejects(Broker.resume(new TextEncoder().encode('{"queues": []}')), /not a Warren broker image/);
  await assert.rejects(Broker.resume('image'), TypeError);
});
