// Paged queues through the JS API on a MemoryStore: a backlog past the page
// budget leaves memory for pages in the store, comes back in order to a
// consumer, and survives a restart (compacted log naming pages) with its
// transient messages dropped as before.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, MemoryStore } from '../../js/entry-node.js';

const N = 3000;
const body = (i) => `msg-${String(i).padStart(5, '0')}`;

async function consumeAll(broker, queue, n) {
  const ch = await (await broker.connect()).channel();
  const got = [];
  await new Promise((resolve) => {
    ch.basicConsume(queue, { noAck: true }, (m) => {
      got.push(m.bodyString());
      if (got.length === n) resolve();
    });
  });
  return got;
}

test('a backlog over the page budget is paged to the store and delivered in order', async () => {
  const store = new MemoryStore();
  const broker = await Broker.create({ store, events: false, pageBudget: 20_000 });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('backlog');
  for (let i = 0; i < N; i++) await ch.basicPublish('', 'backlog', body(i));
  const q = broker.snapshot().queues.find((x) => x.name === 'backlog');
  assert.equal(q.counts.ready, N);
  assert.ok(q.counts.paged > N * 0.8, `paged ${q.counts.paged}`);
  assert.ok(q.counts.memory <= 20_000, `memory ${q.counts.memory}`);
  assert.ok(store.pageCount > 10, `pages ${store.pageCount}`);
  assert.ok(broker.heldBytes() < 40_000, `held ${broker.heldBytes()}`);

  const got = await consumeAll(broker, 'backlog', N);
  assert.deepEqual(
    got,
    Array.from({ length: N }, (_, i) => body(i)),
  );
  await broker.close();
  assert.equal(store.pageCount, 0, 'pages read back are deleted');
});

test('without a store that keeps pages nothing is paged', async () => {
  const broker = await Broker.create({ events: false, pageBudget: 1000 });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('q');
  for (let i = 0; i < 200; i++) await ch.basicPublish('', 'q', body(i));
  assert.equal(broker.snapshot().queues.find((x) => x.name === 'q').counts.paged, 0);
  await broker.close();
});

test('a bad pageBudget is refused with a message naming it', async () => {
  await assert.rejects(Broker.create({ store: new MemoryStore(), pageBudget: -1 }), /pageBudget must be a number/);
});

test('persistent paged messages survive a restart after compaction; transient ones do not', async () => {
  const store = new MemoryStore();
  const broker = await Broker.create({ store, events: false, pageBudget: 20_000, compactAfterBytes: 50_000 });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  const kept = [];
  for (let i = 0; i < N; i++) {
    const persistent = i % 4 !== 0;
    if (persistent) kept.push(body(i));
    await ch.basicPublish('', 'dq', body(i), { deliveryMode: persistent ? 2 : 1 });
  }
  await broker.close();
  assert.ok(store.pageCount > 0);

  const again = await Broker.create({ store, events: false, pageBudget: 20_000 });
  const q = again.snapshot().queues.find((x) => x.name === 'dq');
  assert.equal(q.counts.ready, kept.length);
  assert.ok(q.counts.paged > 0, 'recovered as pages, not read');
  assert.deepEqual(await consumeAll(again, 'dq', kept.length), kept);
  await again.close();
});
