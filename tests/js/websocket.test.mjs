// AMQP over a byte transport: broker.accept directly, and amqp-client.js's
// AMQPWebSocketClient through the WebSocket stand-in.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { Broker, webSocketFor } from '../../js/entry-node.js';
import { frames } from '../node/raw-amqp.mjs';

/** Polls `cond` every few ms; fails after `ms`. */
async function waitFor(cond, ms = 5000) {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${cond}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('accept: the protocol header gets connection.start back; closing the transport ends the connection', async () => {
  const broker = new Broker({ events: false });
  const sent = [];
  let closed = false;
  const conn = broker.accept({ send: (b) => sent.push(b.slice()), close: () => (closed = true) }, { name: 'test' });
  assert.equal(conn.wantsRead, true);
  conn.receive(new TextEncoder().encode('AMQP\x00\x00\x09\x01'));
  assert.equal(sent.length, 1);
  const frame = new DataView(sent[0].buffer);
  // method frame on channel 0: connection.start (10, 10)
  assert.deepEqual([frame.getUint8(0), frame.getUint16(1), frame.getUint16(7), frame.getUint16(9)], [1, 0, 10, 10]);
  assert.equal(sent[0].at(-1), 0xce, 'a whole frame');

  conn.closed();
  assert.equal(conn.wantsRead, false);
  conn.receive(new Uint8Array([1, 2, 3])); // ignored once closed
  assert.equal(sent.length, 1);
  assert.equal(closed, false, 'the host closed it; the broker does not close it again');

  // A bad protocol header: the broker answers with its own and closes.
  const bad = [];
  let badClosed = false;
  const other = broker.accept({ send: (b) => bad.push(b.slice()), close: () => (badClosed = true) });
  other.receive(new TextEncoder().encode('HTTP/1.1'));
  assert.equal(new TextDecoder().decode(bad[0]), 'AMQP\x00\x00\x09\x01');
  assert.equal(badClosed, true);
  await broker.close();
});

test("an accepted connection's engineId is the conn its events and snapshot carry, once open", async () => {
  const broker = new Broker({ loopbackUsers: [] });
  await broker.connect(); // an in-process connection first, so the two counts differ
  const conn = broker.accept({ send() {}, close() {} }, { name: 'raw' });
  conn.receive(new TextEncoder().encode('AMQP\x00\x00\x09\x01'));
  conn.receive(Buffer.concat([frames.startOk(), frames.tuneOk()]));
  assert.equal(conn.engineId, null, 'not open yet');
  conn.receive(frames.open());
  const [entry] = broker.snapshot().connections.filter((c) => c.name === 'raw');
  assert.equal(conn.engineId, entry.id);
  assert.notEqual(conn.engineId, conn.id);
  conn.closed();
  assert.equal(conn.engineId, null);
  await broker.close();
});

test('AMQPWebSocketClient talks to the broker through webSocketFor', async (t) => {
  const broker = new Broker({ events: false });
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = webSocketFor(broker);
  t.after(() => {
    globalThis.WebSocket = saved;
  });

  const client = new AMQPWebSocketClient('ws://in-page/amqp', '/', 'guest', 'guest');
  const conn = await client.connect();
  const ch = await conn.channel();
  await ch.queueDeclare('ws-jobs', { durable: true });
  await ch.confirmSelect();
  const seqs = [];
  for (let i = 0; i < 5; i++) seqs.push(await ch.basicPublish('', 'ws-jobs', `job ${i}`, { deliveryMode: 2 }));
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.equal(broker.snapshot().queues.find((x) => x.name === 'ws-jobs').counts.ready, 5);

  const got = [];
  await ch.prefetch(2);
  const done = new Promise((resolve) => {
    ch.basicConsume('ws-jobs', { noAck: false }, async (msg) => {
      got.push(msg.bodyToString());
      await msg.ack();
      if (got.length === 5) resolve();
    });
  });
  await waitFor(() => got.length === 5);
  await done;
  assert.deepEqual(got, ['job 0', 'job 1', 'job 2', 'job 3', 'job 4']);

  // The in-process client sees the same broker.
  const local = await (await broker.connect()).channel();
  await local.basicPublish('', 'ws-jobs', 'from inside');
  await waitFor(() => got.length === 6);
  assert.equal(got[5], 'from inside');
  const snap = broker.snapshot().queues.find((x) => x.name === 'ws-jobs');
  assert.deepEqual([snap.counts.ready, snap.counts.unacked], [0, 0]);

  await client.close();
  await broker.close();
});

test('a client that disappears without closing has its deliveries requeued', async (t) => {
  const broker = new Broker({ events: false });
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = webSocketFor(broker);
  t.after(() => {
    globalThis.WebSocket = saved;
  });
  const local = await (await broker.connect()).channel();
  await local.queueDeclare('q');
  await local.basicPublish('', 'q', 'in flight');

  const client = new AMQPWebSocketClient({ url: 'ws://in-page/amqp' });
  client.onerror = () => {};
  const conn = await client.connect();
  const ch = await conn.channel();
  const delivered = new Promise((resolve) => ch.basicConsume('q', { noAck: false }, resolve));
  await delivered;
  assert.equal(broker.snapshot().queues[0].counts.unacked, 1);

  client.socket.close(); // the transport drops: no connection.close
  await waitFor(() => broker.snapshot().queues[0].counts.ready === 1);
  const again = await local.basicGet('q');
  assert.equal(again.bodyString(), 'in flight');
  assert.equal(again.redelivered, true);
  await broker.close();
});
