// How the object takes its sockets' input: the WebSocket messages of one turn
// reach the broker together, in order, with frames split anywhere, and what a
// socket sent before it closed is taken before its connection ends.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { counts, start, take, tmpDir, until } from './runtime.mjs';

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
