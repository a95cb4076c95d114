// basic.consume-ok reaches the client in a write (a WebSocket message) of its
// own, ahead of the first deliveries: amqp-client.js settles consume-ok as a
// promise, and the common pattern below needs `c` assigned before the last
// delivery's callback runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMQPClient, AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import WebSocket from 'ws';
import { sleep, serveWithWebSocket } from './server.mjs';

const TOTAL = 100_000;
const served = serveWithWebSocket();

/** Fills `queue` with `n` small messages over TCP, in bounded batches with confirms. */
async function fill(queue, n) {
  const client = new AMQPClient(served.server.url);
  await client.connect();
  const ch = await client.channel();
  await ch.queueDeclare(queue);
  await ch.confirmSelect();
  for (let sent = 0; sent < n;) {
    const batch = [];
    for (let i = 0; i < 5000 && sent < n; i++, sent++) batch.push(ch.basicPublish('', queue, `m${sent}`));
    await Promise.all(batch);
  }
  const { messageCount } = await ch.queueDeclare(queue, { passive: true });
  await client.close();
  return messageCount;
}

/** The pattern from the issue, literally, against a full queue. */
async function drainWithThePattern(client, queue, total) {
  await client.connect();
  const ch = await client.channel();
  let n = 0;
  let finish;
  const done = new Promise((resolve, reject) => {
    finish = resolve;
    client.onerror = reject;
    setTimeout(() => reject(new Error(`got ${n} of ${total}`)), 60_000).unref();
  });
  const c = await ch.basicConsume(queue, { noAck: true }, () => {
    if (++n === total) c.cancel().then(finish);
  });
  await done;
  await client.close();
  return n;
}

test(`over WebSocket: const c = await ch.basicConsume(...) with c.cancel() at the last of ${TOTAL} messages`, async () => {
  assert.equal(await fill('consume-ok-ws', TOTAL), TOTAL);
  const client = new AMQPWebSocketClient({ url: served.server.ws, vhost: '/', username: 'guest', password: 'guest' });
  assert.equal(await drainWithThePattern(client, 'consume-ok-ws', TOTAL), TOTAL);
});

/** Waits for `ready()` to hold, for at most `ms`. */
async function until(ready, what, ms = 5000) {
  for (const end = Date.now() + ms; !ready(); await sleep(5)) {
    if (Date.now() > end) throw new Error(`no ${what} in ${ms} ms`);
  }
}

test('over WebSocket: consume-ok is a message of its own, the deliveries follow', async () => {
  await fill('consume-ok-frames', 10);
  const ws = new WebSocket(served.server.ws);
  const messages = [];
  ws.on('message', (data) => messages.push(Buffer.from(data)));
  await new Promise((r) => ws.once('open', r));
  // The handshake by hand: header, start-ok, tune-ok, open, channel.open, consume.
  const { frames } = await import('./raw-amqp.mjs');
  ws.send(Buffer.from('AMQP\x00\x00\x09\x01'));
  await until(() => messages.length >= 1, 'connection.start');
  ws.send(frames.startOk());
  await until(() => messages.length >= 2, 'connection.tune');
  ws.send(Buffer.concat([frames.tuneOk(), frames.open('/'), frames.channelOpen(1)]));
  // connection.open-ok and channel.open-ok, in one message or two.
  await until(() => Buffer.concat(messages.slice(2)).length > 2 * 12, 'the open-oks');
  messages.length = 0;
  ws.send(frames.consume(1, 'consume-ok-frames', true));
  await until(() => messages.length >= 2, 'consume-ok and the deliveries');
  const method = (buf) => [buf[0], buf.readUInt16BE(7), buf.readUInt16BE(9)];
  assert.deepEqual(method(messages[0]), [1, 60, 21]);
  assert.equal(messages[0].length, 7 + messages[0].readUInt32BE(3) + 1, 'consume-ok alone');
  assert.deepEqual(method(messages[1]), [1, 60, 60]);
  ws.close();
});
