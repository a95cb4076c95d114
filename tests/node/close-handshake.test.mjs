// Who closes the socket after connection.close, over a raw TCP socket and a
// raw WebSocket: the recipient of close-ok (AMQP 0-9-1), as RabbitMQ does. A
// server that ends the stream right behind its close-ok makes some clients
// (lapin) report a failed close when they read both in one go.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { frames, rawConnection, rawWebSocket } from './raw-amqp.mjs';
import { serverOrReference, startServer } from './server.mjs';

let server;
before(async () => {
  server = await serverOrReference();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

/** Resolves true once the server ends its side of the stream. */
const serverEnded = (c) => new Promise((resolve) => c.socket.once('end', () => resolve(true)));

test("after the client's connection.close and the server's close-ok, the client closes the socket", async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  const ended = serverEnded(c);
  c.send(frames.close());
  await c.next(c.isMethod(10, 51));
  const first = await Promise.race([ended, sleep(300).then(() => false)]);
  assert.equal(first, false, 'the server ended the stream before the client closed it');
  c.socket.end();
  await c.closed();
});

test('after the server’s connection.close and the client’s close-ok, the server closes the socket', async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.queueDeclare(3, 'q')); // channel 3 was never opened: 504
  const { code } = await c.closeReason(10, 50);
  assert.equal(code, 504);
  c.send(frames.closeOk());
  // Ended or reset (RabbitMQ resets), well before the 5 s a client gets to close.
  const closed = await Promise.race([c.closed().then(() => true), sleep(2000).then(() => false)]);
  assert.equal(closed, true, 'the server did not close the socket after close-ok');
});

test('a client that never closes its end after close-ok is dropped in the end', { timeout: 20000 }, async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.close());
  await c.next(c.isMethod(10, 51));
  await c.closed();
});

test("over WebSocket too, the client closes the socket after the server's close-ok", async (t) => {
  if (!server.ws) return t.skip('WARREN_TEST_AMQP_URL: RabbitMQ 3.10 has no AMQP over WebSocket');
  const c = await rawWebSocket(server.ws);
  await c.handshake();
  const closedByServer = c.closed().then(() => true);
  c.send(frames.close());
  await c.next(c.isMethod(10, 51));
  const first = await Promise.race([closedByServer, sleep(300).then(() => false)]);
  assert.equal(first, false, 'the server closed the WebSocket before the client did');
  c.ws.close(1000);
  await c.closed();
});

test('over WebSocket, after the server’s connection.close and the client’s close-ok, the server closes', async (t) => {
  if (!server.ws) return t.skip('WARREN_TEST_AMQP_URL: RabbitMQ 3.10 has no AMQP over WebSocket');
  const c = await rawWebSocket(server.ws);
  await c.handshake();
  c.send(frames.queueDeclare(3, 'q'));
  assert.equal((await c.closeReason(10, 50)).code, 504);
  c.send(frames.closeOk());
  const closed = await Promise.race([c.closed().then(() => true), sleep(2000).then(() => false)]);
  assert.equal(closed, true, 'the server did not close the WebSocket after close-ok');
});

test('a shutdown ends the sockets left to clients after close-ok, without waiting out its grace', async () => {
  const own = await startServer();
  const clients = [await rawConnection(own.amqpPort), await rawWebSocket(own.ws)];
  for (const c of clients) {
    await c.handshake();
    c.send(frames.close());
    await c.next(c.isMethod(10, 51));
  }
  const started = Date.now();
  assert.equal(await own.stop('SIGTERM'), 0);
  await Promise.all(clients.map((c) => c.closed()));
  // Open connections get 3 s to answer a shutdown's close; these have none.
  const ms = Date.now() - started;
  assert.ok(ms < 2000, `the shutdown took ${ms} ms: it waited for clients whose connections were closed`);
});
