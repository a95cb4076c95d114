// The in-process client and the pseudo-queue amq.rabbitmq.reply-to: an RPC
// round trip without a reply queue, RabbitMQ's errors as AMQPErrors, and the
// channel's last declared queue behind an empty queue name.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPError, Broker } from '../../js/entry-node.js';

test('RPC with direct reply-to: the reply goes to the requesting channel, no queue is made', async () => {
  const broker = new Broker({ events: false });
  const server = await (await broker.connect()).channel();
  await server.queueDeclare('rpc');
  await server.basicConsume('rpc', { noAck: false }, async (req) => {
    const { replyTo, correlationId } = req.properties;
    await server.basicPublish('', replyTo, `echo ${req.bodyString()}`, { correlationId });
    await req.ack();
  });
  const client = await (await broker.connect()).channel();
  const replies = [];
  await client.basicConsume('amq.rabbitmq.reply-to', { noAck: true }, (m) =>
    replies.push([m.bodyString(), m.properties.correlationId, m.routingKey]),
  );
  await client.basicPublish('', 'rpc', 'a', { replyTo: 'amq.rabbitmq.reply-to', correlationId: '1' });
  await client.basicPublish('', 'rpc', 'b', { replyTo: 'amq.rabbitmq.reply-to', correlationId: '2' });
  while (replies.length < 2) await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(
    replies.map(([body, id]) => [body, id]),
    [
      ['echo a', '1'],
      ['echo b', '2'],
    ],
  );
  assert.match(replies[0][2], /^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(
    broker.snapshot().queues.map((q) => q.name),
    ['rpc'],
  );
  await broker.close();
});

test('direct reply-to errors are AMQPErrors with RabbitMQ texts', async () => {
  const broker = new Broker({ events: false });
  const conn = await broker.connect();
  let ch = await conn.channel();
  await assert.rejects(
    ch.basicConsume('amq.rabbitmq.reply-to', { noAck: false }, () => {}),
    (e) => e instanceof AMQPError && e.code === 406 && /reply consumer cannot acknowledge/.test(e.message),
  );
  ch = await conn.channel();
  await ch.queueDeclare('rpc');
  await assert.rejects(
    ch.basicPublish('', 'rpc', 'x', { replyTo: 'amq.rabbitmq.reply-to' }),
    (e) => e instanceof AMQPError && e.code === 406 && /fast reply consumer does not exist/.test(e.message),
  );
  await broker.close();
});

test('an empty queue name is the last queue declared on the channel', async () => {
  const broker = new Broker({ events: false });
  const ch = await (await broker.connect()).channel();
  await assert.rejects(
    ch.basicGet(''),
    (e) => e instanceof AMQPError && e.code === 404 && /no previously declared queue/.test(e.message),
  );
  const ch2 = await (await broker.connect()).channel();
  const { name } = await ch2.queueDeclare('');
  await ch2.basicPublish('', name, 'one');
  assert.equal((await ch2.basicGet('')).bodyString(), 'one');
  assert.deepEqual(await ch2.queueDelete(''), { messageCount: 0 });
  assert.deepEqual(broker.snapshot().queues, []);
  await broker.close();
});
