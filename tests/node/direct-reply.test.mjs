// Direct reply-to (amq.rabbitmq.reply-to) against `warren-mq serve`, with
// unmodified clients: amqp-client.js's RPC helpers end to end over TCP and
// WebSocket, and amqplib for RabbitMQ's errors, the passive declare of a
// reply name and a mandatory reply to a requester that is gone. The texts are
// RabbitMQ 3.10's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMQPSession } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { sleep, serveWithWebSocket } from './server.mjs';

const served = serveWithWebSocket();

async function rpcRoundTrips(url, queue) {
  const responder = await AMQPSession.connect(url);
  const requester = await AMQPSession.connect(url);
  try {
    const rpcServer = await responder.rpcServer(queue, (msg) => `echo ${msg.bodyString()}`);
    const rpc = await requester.rpcClient();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => rpc.call(queue, `n${i}`, { timeout: 5000 })),
    );
    assert.deepEqual(
      replies.map((m) => m.bodyString()),
      Array.from({ length: 20 }, (_, i) => `echo n${i}`),
    );
    // rpcCall: a reply consumer of its own, for one call, then gone.
    const one = await requester.rpcCall(queue, 'once', { timeout: 5000 });
    assert.equal(one.bodyString(), 'echo once');
    await rpc.close();
    await rpcServer.close();
  } finally {
    await requester.stop();
    await responder.stop();
  }
  // No queue was made for the replies.
  const res = await fetch(`${served.server.http}/api/queues`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  const names = (await res.json()).map((q) => q.name);
  assert.ok(!names.some((n) => n.startsWith('amq.')), names.join());
}

test('amqp-client.js rpcServer, rpcClient and rpcCall over TCP', async () => {
  await rpcRoundTrips(served.server.url, 'rpc-tcp');
});

test('amqp-client.js rpcServer, rpcClient and rpcCall over WebSocket', async () => {
  const ws = served.server.ws.replace('ws://', 'ws://guest:guest@');
  await rpcRoundTrips(ws, 'rpc-ws');
});

/** An amqplib connection whose channels report their close instead of throwing. */
async function connect() {
  const c = await amqplib.connect(served.server.url);
  c.on('error', () => {});
  return c;
}
async function channel(c) {
  const ch = await c.createChannel();
  ch.on('error', () => {});
  return ch;
}

test('amqplib: the reply consumer must be no-ack and one per channel; a request needs one', async () => {
  const c = await connect();
  await assert.rejects(
    (await channel(c)).consume('amq.rabbitmq.reply-to', () => {}, { noAck: false }),
    /406 \(PRECONDITION-FAILED\) with message "PRECONDITION_FAILED - reply consumer cannot acknowledge"/,
  );
  const twice = await channel(c);
  await twice.consume('amq.rabbitmq.reply-to', () => {}, { noAck: true });
  await assert.rejects(
    twice.consume('amq.rabbitmq.reply-to', () => {}, { noAck: true }),
    /PRECONDITION_FAILED - reply consumer already set/,
  );
  const none = await channel(c);
  await none.assertQueue('rpc-refused');
  const closed = new Promise((resolve) => none.once('close', resolve));
  const errors = [];
  none.on('error', (e) => errors.push(e.message));
  none.sendToQueue('rpc-refused', Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' });
  await closed;
  assert.match(
    errors.join(),
    /406 \(PRECONDITION-FAILED\) with message "PRECONDITION_FAILED - fast reply consumer does not exist"/,
  );
  const check = await channel(c);
  assert.equal((await check.checkQueue('rpc-refused')).messageCount, 0);
  await c.close();
});

test('amqplib: the rewritten reply_to, its passive declare, and a mandatory reply once the requester is gone', async () => {
  const requester = await connect();
  const responder = await connect();
  const req = await channel(requester);
  const res = await channel(responder);
  await res.assertQueue('rpc-amqplib');
  const replies = [];
  await req.consume('amq.rabbitmq.reply-to', (m) => replies.push(m), { noAck: true });
  req.sendToQueue('rpc-amqplib', Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c1' });
  let request;
  while (!(request = await res.get('rpc-amqplib', { noAck: true }))) await sleep(10);
  const replyTo = request.properties.replyTo;
  assert.match(replyTo, /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(await res.checkQueue(replyTo), { queue: replyTo, messageCount: 0, consumerCount: 1 });
  assert.deepEqual(await res.checkQueue('amq.rabbitmq.reply-to'), {
    queue: 'amq.rabbitmq.reply-to',
    messageCount: 0,
    consumerCount: 1,
  });

  const returned = [];
  res.on('return', (m) => returned.push([m.fields.replyCode, m.fields.replyText, m.content.toString()]));
  res.publish('', replyTo, Buffer.from('pong'), { mandatory: true, correlationId: 'c1' });
  while (replies.length === 0) await sleep(10);
  assert.equal(replies[0].content.toString(), 'pong');
  assert.equal(replies[0].properties.correlationId, 'c1');
  assert.equal(replies[0].fields.routingKey, replyTo);

  await requester.close();
  res.publish('', replyTo, Buffer.from('too late'), { mandatory: true });
  while (returned.length === 0) await sleep(10);
  assert.deepEqual(returned, [[312, 'NO_ROUTE', 'too late']]);
  await assert.rejects((await channel(responder)).checkQueue(replyTo), /404 \(NOT-FOUND\)/);
  await responder.close();
});

test('amqplib: an empty queue name is the channel last declared queue', async () => {
  const c = await connect();
  const ch = await channel(c);
  await assert.rejects(
    (await channel(c)).consume('', () => {}),
    /404 \(NOT-FOUND\) with message "NOT_FOUND - no previously declared queue"/,
  );
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue('', 'amq.direct', '');
  ch.publish('amq.direct', queue, Buffer.from('by name'));
  let got;
  while (!(got = await ch.get('', { noAck: true }))) await sleep(10);
  assert.equal(got.content.toString(), 'by name');
  ch.publish('amq.direct', queue, Buffer.from('purged'));
  await sleep(50);
  assert.deepEqual(await ch.purgeQueue(''), { messageCount: 1 });
  await ch.unbindQueue('', 'amq.direct', '');
  const seen = [];
  await ch.consume('', (m) => seen.push(m.content.toString()), { noAck: true });
  ch.sendToQueue(queue, Buffer.from('consumed'));
  while (seen.length === 0) await sleep(10);
  assert.deepEqual(seen, ['consumed']);
  const del = await channel(c);
  await del.assertQueue('shortcut-delete');
  assert.deepEqual(await del.deleteQueue(''), { messageCount: 0 });
  await assert.rejects(del.checkQueue('shortcut-delete'), /404/);
  await c.close();
});
