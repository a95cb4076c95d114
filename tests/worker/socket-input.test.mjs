// How the object takes its sockets' input: the WebSocket messages of one turn
// reach the broker together, in order, with frames split anywhere, and what a
// socket sent before it closed is taken before its connection ends.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { frames, rawWebSocket } from '../node/raw-amqp.mjs';
import { counts, sleep, start, take, tmpDir, until } from './runtime.mjs';

let rt;
before(async () => {
  // Straight to the Worker (directWs), as in production: no proxy re-sends the messages.
  rt = await start({ persistDir: tmpDir(), assets: false, vars: { WARREN_LOOPBACK_USERS: 'none' } });
});

async function connect(vhost) {
  const c = new AMQPWebSocketClient({ url: rt.directWs(vhost), vhost, username: 'guest', password: 'guest' });
  await c.connect();
  return c;
}
after(() => rt?.stop());

/** Makes `client` send each of its writes as WebSocket messages of at most `size` bytes. */
function splitWrites(client, size) {
  const socket = client.socket;
  const send = socket.send.bind(socket);
  socket.send = (bytes) => {
    for (let at = 0; at < bytes.length; at += size) send(bytes.subarray(at, at + size));
  };
}

test("a turn's WebSocket messages are fed to the broker at once, frames split across them", async () => {
  const vhost = 'split';
  const c = await connect(vhost);
  const ch = await c.channel();
  await ch.queueDeclare('pieces', { durable: true });
  await ch.confirmSelect();
  const before = await rt.debug(vhost);
  // 7-byte messages: every frame header and most frames span several of them.
  splitWrites(c, 7);
  const bodies = Array.from({ length: 200 }, (_, i) => `message ${i} `.repeat(1 + (i % 5)));
  await Promise.all(bodies.map((b) => ch.basicPublish('', 'pieces', b, { deliveryMode: 2 })));
  const got = await take(ch, 'pieces', bodies.length);
  assert.deepEqual(
    got.map((m) => m.bodyToString()),
    bodies,
  );
  const stats = await rt.debug(vhost);
  const messages = stats.socketMessages - before.socketMessages;
  const feeds = stats.socketFeeds - before.socketFeeds;
  assert.ok(messages > 200 * 10, `WebSocket messages received: ${messages}`);
  // The publishes were written in one go: their thousands of messages came in a few turns.
  assert.ok(feeds * 20 < messages, `${messages} WebSocket messages fed to the broker in ${feeds} calls`);
  await c.close();
});

test('what a socket sent right before it closed reaches the broker before its connection ends', async () => {
  const vhost = 'last-words';
  const c = await connect(vhost);
  const ch = await c.channel();
  await ch.queueDeclare('last', { durable: true });
  await ch.confirmSelect();
  // Written, then the transport goes at once: the close comes in the same turn as the publishes.
  for (let i = 0; i < 20; i++) ch.basicPublish('', 'last', `last ${i}`, { deliveryMode: 2 }).catch(() => {});
  c.socket.close();
  const q = await until(
    async () => {
      const s = await rt.debug(vhost);
      return s.sockets === 0 && counts(s, 'last');
    },
    { what: 'the socket to close' },
  );
  assert.equal(q.ready, 20);
});

// The recipient of close-ok closes the socket (AMQP 0-9-1), as over TCP
// (tests/node/close-handshake.test.mjs).
test("after the client's connection.close, the object sends close-ok and leaves the WebSocket for the client to close", async () => {
  const vhost = 'client-closes';
  const c = await rawWebSocket(rt.directWs(vhost));
  await c.handshake(vhost);
  const closedByServer = c.closed().then(() => true);
  c.send(frames.close());
  await c.next(c.isMethod(10, 51));
  const first = await Promise.race([closedByServer, sleep(300).then(() => false)]);
  assert.equal(first, false, 'the object closed the WebSocket before the client did');
  c.ws.close(1000);
  await c.closed();
});

test("after the object's connection.close and the client's close-ok, the object closes the WebSocket", async () => {
  const vhost = 'server-closes';
  const c = await rawWebSocket(rt.directWs(vhost));
  await c.handshake(vhost);
  c.send(frames.queueDeclare(3, 'q'));
  assert.equal((await c.closeReason(10, 50)).code, 504);
  c.send(frames.closeOk());
  const closed = await Promise.race([c.closed().then(() => true), sleep(2000).then(() => false)]);
  assert.equal(closed, true, 'the object did not close the WebSocket after close-ok');
});
