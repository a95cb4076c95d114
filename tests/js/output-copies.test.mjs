// Copies the host makes of the engine's output (js/output.js): they stay as
// they were for as long as they are kept, while later output goes on.
// broker.accept hands a transport with nothing unsent views of a pool that
// small sends are copied into; one that is behind gets bytes with memory of
// their own, since what it keeps would otherwise keep a whole pool alive.
// Drains of a few KiB, copied whole for the JS API's deliveries, come from
// the pool too.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker } from '../../js/entry-node.js';
import { frames } from '../node/raw-amqp.mjs';

/** A transport that keeps every chunk it is sent, reporting `backlog` unsent bytes. */
function keeper(backlog) {
  return {
    chunks: [],
    bufferedAmount: backlog,
    send(b) {
      this.chunks.push(b);
    },
    close() {},
  };
}

/** The payloads of the body frames in `bytes`, as text. */
function bodies(bytes) {
  const out = [];
  for (let at = 0; at < bytes.length;) {
    const size = bytes.readUInt32BE(at + 3);
    if (bytes[at] === 3) out.push(bytes.toString('utf8', at + 7, at + 7 + size));
    at += 8 + size;
  }
  return out;
}

const open = () => [
  Buffer.from('AMQP\x00\x00\x09\x01'),
  frames.startOk(),
  frames.tuneOk(),
  frames.open(),
  frames.channelOpen(1),
];

/**
 * Publishes `n` messages to a queue, one read each, consumed with automatic
 * acks over a transport reporting `backlog` unsent bytes; resolves with what
 * that transport was sent, and the bodies published.
 */
async function deliver(n, backlog) {
  const broker = new Broker({ events: false });
  const publisher = keeper(0);
  const consumer = keeper(backlog);
  const p = broker.accept(publisher, { name: 'publisher', loopback: true });
  const c = broker.accept(consumer, { name: 'consumer', loopback: true });
  p.receive(Buffer.concat([...open(), frames.queueDeclare(1, 'q')]));
  c.receive(Buffer.concat([...open(), frames.consume(1, 'q', true)]));
  const sent = [];
  for (let i = 0; i < n; i++) {
    const body = Buffer.from(`message ${i} `.padEnd(100, String(i % 10)));
    sent.push(body.toString());
    p.receive(Buffer.concat([frames.publish(1, 'q'), frames.header(1, body.length), frames.body(1, body)]));
  }
  await broker.close();
  return { chunks: consumer.chunks, sent };
}

test('an idle transport keeps what it was sent intact while later sends go on: 60 KiB in reads of one', async () => {
  const { chunks, sent } = await deliver(400, 0);
  // Every delivery came in a send of its own, several sharing a pool.
  assert.ok(chunks.length > 400);
  assert.ok(new Set(chunks.map((b) => b.buffer)).size < chunks.length / 4, 'small sends share memory');
  const stream = Buffer.concat(chunks.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  assert.deepEqual(bodies(stream).slice(-sent.length), sent);
});

test('a transport that is behind gets sends with memory of their own', async () => {
  const { chunks, sent } = await deliver(50, 1);
  assert.ok(chunks.length > 50);
  for (const b of chunks) assert.equal(b.buffer.byteLength, b.byteLength);
  const stream = Buffer.concat(chunks);
  assert.deepEqual(bodies(stream).slice(-sent.length), sent);
});

test('bodies delivered in-process stay intact while later deliveries reuse the pool', async () => {
  const broker = await Broker.create();
  const conn = await broker.connect({ name: 'app' });
  const ch = await conn.channel();
  await ch.queueDeclare('q', { durable: false });
  const got = [];
  await ch.basicConsume('q', { noAck: true }, (m) => got.push(m));
  const sent = [];
  // Drains of four 1,000-byte deliveries: copied out whole, from the pool.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 4; i++) {
      const body = `round ${round} message ${i} `.padEnd(1000, String(i));
      sent.push(body);
      ch.basicPublish('', 'q', body);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal(got.length, sent.length);
  assert.ok(new Set(got.map((m) => m.body.buffer)).size < 50, 'drains share memory');
  assert.deepEqual(
    got.map((m) => new TextDecoder().decode(m.body)),
    sent,
  );
  await broker.close();
});
