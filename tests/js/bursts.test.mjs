// Bursts through the in-process client: runs of publishes and acks share
// records in the command buffer, a run of deliveries to one consumer comes
// out as bodies alone (src/wasm/batch.rs, src/wasm/output.rs), and the
// dispatch reuses the last channel and consumer it found while they stay open.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker } from '../../js/entry-node.js';
import { engineMemory } from '../../js/engine.js';

async function open() {
  const broker = new Broker({ events: false });
  const conn = await broker.connect();
  const ch = await conn.channel();
  return { broker, conn, ch };
}

const counts = (broker, name) => broker.snapshot().queues.find((q) => q.name === name).counts;
const range = (n) => Array.from({ length: n }, (_, i) => String(i));

test('a consumer that cancels itself mid-burst gets nothing more of it', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('q');
  const seen = [];
  const consumer = await ch.basicConsume('q', { noAck: false, tag: 'c' }, (m) => {
    seen.push(m.bodyString());
    m.ack();
    if (seen.length === 3) consumer.cancel();
  });
  await ch.basicPublishBatch('', 'q', range(10));
  assert.deepEqual(seen, ['0', '1', '2']);
  // A new consumer with the same tag gets what the queue still holds, not the old burst.
  const again = [];
  await ch.basicConsume('q', { noAck: true, tag: 'c' }, (m) => again.push(m.bodyString()));
  await ch.basicRecover(true);
  assert.deepEqual(again.toSorted(), range(10).slice(3).toSorted());
  await broker.close();
});

test('deliveries to consumers that take turns, on one channel and on two, each reach their own', async () => {
  const { broker, conn, ch } = await open();
  const ch2 = await conn.channel();
  await ch.queueDeclare('shared');
  await ch.queueDeclare('other');
  const got = { a: [], b: [], c: [] };
  const record = (m) => got[m.consumerTag].push([m.bodyString(), m.deliveryTag, m.channel.id, m.routingKey]);
  await ch.basicConsume('shared', { tag: 'a' }, record);
  await ch.basicConsume('shared', { tag: 'b' }, record);
  await ch2.basicConsume('other', { tag: 'c' }, record);
  for (let i = 0; i < 4; i++) {
    ch.basicPublish('', 'shared', `s${i}`);
    ch.basicPublish('', 'other', `o${i}`);
  }
  await ch.basicPublish('', 'other', 'o4');
  assert.deepEqual(got.a, [
    ['s0', 1, 1, 'shared'],
    ['s2', 3, 1, 'shared'],
  ]);
  assert.deepEqual(got.b, [
    ['s1', 2, 1, 'shared'],
    ['s3', 4, 1, 'shared'],
  ]);
  assert.deepEqual(
    got.c,
    range(5).map((i) => [`o${i}`, Number(i) + 1, 2, 'other']),
  );
  await broker.close();
});

test('a burst keeps each delivery its own properties, routing key, redelivered flag and body', async () => {
  const { broker, ch } = await open();
  await ch.exchangeDeclare('x', 'topic', { durable: false });
  await ch.queueDeclare('q');
  await ch.queueBind('q', 'x', '#');
  ch.basicPublish('x', 'k1', 'a');
  ch.basicPublish('x', 'k1', 'b', { contentType: 'text/plain', headers: { n: 1 } });
  ch.basicPublish('x', 'k1', 'c');
  ch.basicPublish('x', 'k2', 'd');
  await ch.basicPublish('x', 'k2', '');
  const first = [];
  const consumer = await ch.basicConsume('q', { noAck: false }, (m) => first.push(m));
  assert.equal(first.length, 5);
  await consumer.cancel();
  // Requeued: the same messages again, redelivered, in order.
  const again = [];
  await ch.basicConsume('q', { noAck: true }, (m) => again.push(m));
  await ch.basicRecover(true);
  for (const [list, redelivered] of [
    [first, false],
    [again, true],
  ]) {
    assert.deepEqual(
      list.map((m) => [m.bodyString(), m.exchange, m.routingKey, m.redelivered, m.properties.contentType ?? null]),
      [
        ['a', 'x', 'k1', redelivered, null],
        ['b', 'x', 'k1', redelivered, 'text/plain'],
        ['c', 'x', 'k1', redelivered, null],
        ['d', 'x', 'k2', redelivered, null],
        ['', 'x', 'k2', redelivered, null],
      ],
    );
    assert.equal(list[1].properties.headers.n, 1);
    assert.equal(list[4].body.length, 0);
  }
  assert.deepEqual(first[0].properties, {});
  assert.deepEqual(
    first.map((m) => m.deliveryTag),
    [1, 2, 3, 4, 5],
  );
  await broker.close();
});

test('bodies kept from a burst stay whole after later bursts, read early or late', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('q');
  const kept = [];
  await ch.basicConsume('q', {}, (m) => kept.push(m));
  const body = (i) => `message ${i} `.repeat(1 + (i % 7));
  // Small drains are read in place, big ones copied: both, several times.
  for (const n of [1, 3, 400, 2, 900]) {
    await ch.basicPublishBatch(
      '',
      'q',
      Array.from({ length: n }, (_, i) => body(kept.length + i)),
    );
    if (n === 3) assert.equal(kept.at(-1).bodyString(), body(kept.length - 1), 'read before the next drain');
  }
  assert.equal(kept.length, 1306);
  kept.forEach((m, i) => assert.equal(m.bodyString(), body(i)));
  await broker.close();
});

test('commands queued before and after wasm memory grows all run, whole and in order', async () => {
  // Commands are written into the engine's buffer in wasm memory; growth
  // (here another broker's 24 MiB publish) detaches the view JS writes through.
  const { broker, ch } = await open();
  const other = await open();
  await ch.queueDeclare('q');
  await other.ch.queueDeclare('big');
  const seen = [];
  await ch.basicConsume('q', { noAck: false }, (m) => seen.push(m));
  await ch.basicPublishBatch('', 'q', ['a', 'b']);
  const grow = async () => {
    const before = engineMemory().buffer.byteLength;
    const big = other.ch.basicPublish('', 'big', new Uint8Array(24 << 20).fill(7));
    assert.ok(engineMemory().buffer.byteLength > before, 'wasm memory grew');
    return big;
  };
  // A publish, then a run of them and an ack run, each side of a growth.
  ch.basicPublish('', 'q', 'c');
  let big = grow();
  ch.basicPublishBatch('', 'q', ['d', 'e']);
  seen[0].ack();
  big = Promise.all([big, grow()]);
  seen[1].ack();
  ch.basicPublish('', 'q', 'f');
  await Promise.all([big, ch.basicPublish('', 'q', 'g')]);
  assert.deepEqual(
    seen.map((m) => m.bodyString()),
    ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
  );
  assert.deepEqual([counts(broker, 'q').unacked, counts(broker, 'q').ready], [5, 0]);
  // The big publishes' buffer is not kept, and the next batch runs as usual.
  for (let i = 0; i < 2; i++) {
    const { body } = await other.ch.basicGet('big');
    assert.ok(body.length === 24 << 20 && body.every((b) => b === 7), 'a big body whole');
  }
  await other.ch.basicPublishBatch('', 'big', ['h']);
  assert.equal((await other.ch.basicGet('big')).bodyString(), 'h');
  await other.broker.close();
  await broker.close();
});

test('acks in any order settle each tag once; a repeated tag closes the channel after the ones before it', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('q');
  const got = [];
  await ch.basicConsume('q', { noAck: false }, (m) => got.push(m));
  await ch.basicPublishBatch('', 'q', range(8));
  for (const i of [1, 0, 2, 3, 5, 4]) got[i].ack();
  await got[6].ack();
  assert.deepEqual([counts(broker, 'q').unacked, counts(broker, 'q').ready], [1, 0]);
  // Tags 8 and 9 in a run, then 8 again: 406, the first two acked.
  await ch.basicPublishBatch('', 'q', ['8', '9', '10']);
  got[8].ack();
  got[9].ack();
  const err = await got[8].ack().catch((e) => e);
  assert.equal(err.code, 406);
  assert.equal(err.replyText, 'PRECONDITION_FAILED - unknown delivery tag 9');
  assert.equal(ch.closed, true);
  // Tags 8 and 9 were acked; 7 and 11 went back to the queue with the channel.
  assert.deepEqual([counts(broker, 'q').unacked, counts(broker, 'q').ready], [0, 2]);
  await broker.close();
});

test('publishes that alternate channels, names and mandatory keep their order and routing', async () => {
  const { broker, conn, ch } = await open();
  const ch2 = await conn.channel();
  await ch.queueDeclare('q1');
  await ch.queueDeclare('q2');
  const returned = [];
  ch.onReturn = (m) => returned.push([m.routingKey, m.bodyString(), m.replyCode]);
  const order = [];
  for (const [c, key, body, mandatory] of [
    [ch, 'q1', 'a', false],
    [ch, 'q1', 'b', false],
    [ch2, 'q1', 'c', false],
    [ch, 'q1', 'd', false],
    [ch, 'nowhere', 'e', true],
    [ch, 'nowhere', 'f', false],
    [ch, 'q2', 'g', true],
    [ch, 'q2', 'h', true],
    [ch, 'q1', 'i', false],
  ]) {
    order.push(c.basicPublish('', key, body, undefined, mandatory));
  }
  await Promise.all(order);
  const drain = async (q) => {
    const out = [];
    for (let m; (m = await ch2.basicGet(q));) out.push(m.bodyString());
    return out;
  };
  assert.deepEqual(await drain('q1'), ['a', 'b', 'c', 'd', 'i']);
  assert.deepEqual(await drain('q2'), ['g', 'h']);
  assert.deepEqual(returned, [['nowhere', 'e', 312]]);
  await broker.close();
});

test('a backlog reaches an automatic-acknowledgment consumer in rounds, the event loop running between them', async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('backlog');
  // More than one drain's worth of dispatch rounds (256 of 1024), so the
  // delivery crosses at least one turn of the event loop.
  const n = 300_000;
  await ch.basicPublishBatch('', 'backlog', range(n));
  let next = 0;
  let atTimer = -1;
  const all = new Promise((resolve) => {
    ch.basicConsume('backlog', { noAck: true }, (m) => {
      assert.equal(m.bodyString(), String(next));
      if (next === 0) setTimeout(() => (atTimer = next), 0);
      if (++next === n) resolve();
    });
  });
  await all;
  assert.ok(atTimer > 0 && atTimer < n, `a timer ran after ${atTimer} of ${n} deliveries`);
  assert.equal(counts(broker, 'backlog').ready, 0);
  await broker.close();
});

test("a big burst's bodies are plain Uint8Arrays that keep their bytes through later bursts", async () => {
  const { broker, ch } = await open();
  await ch.queueDeclare('big');
  const bodies = [];
  await ch.basicConsume('big', { noAck: true }, (m) => bodies.push(m.body));
  // 200 deliveries of 64 bytes: a drain far above the size read in place.
  const burst = (c) => Array.from({ length: 200 }, (_, i) => `${c}${String(i).padStart(3, '0')}`.repeat(16));
  await ch.basicPublishBatch('', 'big', burst('a'));
  const first = bodies.slice();
  await ch.basicPublishBatch('', 'big', burst('b'));
  assert.equal(bodies.length, 400);
  const text = new TextDecoder();
  assert.deepEqual(
    first.map((b) => text.decode(b)),
    burst('a'),
  );
  assert.deepEqual(
    bodies.slice(200).map((b) => text.decode(b)),
    burst('b'),
  );
  // Not Node's Buffer (whose toString and slice differ), under Node too.
  for (const b of bodies) assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype);
  await broker.close();
});
