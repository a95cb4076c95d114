// Errors only hand-made frames can cause, over a raw TCP socket: the reply
// codes the broker closes with (matching RabbitMQ's), and a wrong protocol header.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { frames, method, rawConnection } from './raw-amqp.mjs';
import { startServer } from './server.mjs';

let server;
before(async () => {
  const other = process.env.WARREN_TEST_AMQP_URL; // RabbitMQ, to compare by hand
  server = other ? { amqpPort: Number(new URL(other).port), stop: async () => 0 } : await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

test('a wrong protocol header is answered with the supported one, then the socket closes', async () => {
  const c = await rawConnection(server.amqpPort);
  c.send(Buffer.from('AMQP\x01\x01\x00\x0a'));
  const reply = await c.next((f) => f.header);
  assert.deepEqual([...reply.header], [...Buffer.from('AMQP\x00\x00\x09\x01')]);
  await c.closed();
});

test('504 CHANNEL_ERROR: a method on a channel that was never opened', async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.queueDeclare(3, 'q'));
  const { code, text } = await c.closeReason(10, 50);
  assert.equal(code, 504, text);
  assert.match(text, /^CHANNEL_ERROR/);
});

test('504 CHANNEL_ERROR: opening a channel that is already open', async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.channelOpen(1));
  await c.next(c.isMethod(20, 11));
  c.send(frames.channelOpen(1));
  const { code } = await c.closeReason(10, 50);
  assert.equal(code, 504);
});

test('505 UNEXPECTED_FRAME: a content header with no publish before it', async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.channelOpen(1));
  await c.next(c.isMethod(20, 11));
  c.send(frames.header(1, 5));
  const { code, text } = await c.closeReason(10, 50);
  assert.equal(code, 505, text);
  assert.match(text, /^UNEXPECTED_FRAME/);
});

test('505 UNEXPECTED_FRAME: a method where the body of a publish was due', async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.channelOpen(1));
  await c.next(c.isMethod(20, 11));
  c.send(frames.publish(1, 'q'), frames.header(1, 10), frames.queueDeclare(1, 'q'));
  const { code } = await c.closeReason(10, 50);
  assert.equal(code, 505);
});

test('501 FRAME_ERROR: a frame that does not end in 0xCE', async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  const bad = frames.channelOpen(1);
  bad[bad.length - 1] = 0x00;
  c.send(bad);
  const { code, text } = await c.closeReason(10, 50);
  assert.equal(code, 501, text);
});

test('530 NOT_ALLOWED: opening a vhost that does not exist', async () => {
  const c = await rawConnection(server.amqpPort);
  c.send(Buffer.from('AMQP\x00\x00\x09\x01'));
  await c.next(c.isMethod(10, 10));
  c.send(frames.startOk());
  await c.next(c.isMethod(10, 30));
  c.send(frames.tuneOk(), frames.open('/nowhere'));
  const { code } = await c.closeReason(10, 50);
  assert.equal(code, 530);
});

test('an unknown method ends the connection', async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.channelOpen(1));
  await c.next(c.isMethod(20, 11));
  c.send(method(1, 60, 99));
  // RabbitMQ drops the socket at once; Warren says why first (503 or 540).
  const reason = await c.closeReason(10, 50).catch(() => null);
  if (reason) assert.ok([503, 540].includes(reason.code), `code ${reason.code}`);
  await c.closed();
});
