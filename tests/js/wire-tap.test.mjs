// broker.tapWire: the AMQP frames of in-process connections, encoded by the
// engine's codec, decoded by the page's spec-driven decoder (www/wire/decode.js).
// The same scenario over a real AMQP connection (broker.accept) must carry the
// same methods with the same fields: the tap shows what a wire would carry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import test from 'node:test';
import { Broker, ManualClock } from '../../js/entry-node.js';
import { decodeFrames, decodeMethod, peekMethod } from '../../www/wire/decode.js';

/** Lets the broker's queued work and callbacks run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

function tapped(broker) {
  const seen = [];
  const stop = broker.tapWire((conn, channel, toClient, frames) => {
    seen.push({ conn, channel, dir: toClient ? 'out' : 'in', bytes: frames, ...decodeMethod(frames) });
  });
  return { seen, stop };
}

test('the tap shows a confirm publish, deliveries, a nack with requeue, the redelivery, a 406 and a 312', async () => {
  const broker = await Broker.create({ clock: new ManualClock(0) });
  const { seen } = tapped(broker);
  const conn = await broker.connect({ name: 'app' });
  const ch = await conn.channel();
  await ch.queueDeclare('q', { durable: false });
  await ch.confirmSelect();
  await ch.basicPublish('', 'q', 'hello', { messageId: 'm-1', deliveryMode: 2 });
  const got = [];
  await ch.basicConsume('q', { noAck: false, tag: 'c1' }, (m) => got.push(m));
  await settle();
  ch.basicNack(got[0].deliveryTag, true);
  await settle();
  assert.equal(got.length, 2);
  await ch.basicPublish('', 'nowhere', 'lost', {}, true);
  // An ack of a tag never delivered: 406 and the channel is closed.
  await assert.rejects(ch.basicAck(99), /PRECONDITION_FAILED/);
  await settle();
  const names = seen.map((f) => `${f.dir} ${f.name}`);
  const from = (name, dir) => seen.filter((f) => f.name === name && f.dir === dir);

  const publish = from('basic.publish', 'in')[0];
  assert.equal(publish.args.routingKey, 'q');
  assert.equal(publish.body, 'hello');
  assert.deepEqual(publish.properties, { messageId: 'm-1', deliveryMode: 2 });
  const [confirm] = from('basic.ack', 'out');
  assert.deepEqual(confirm.args, { deliveryTag: 1, multiple: false });
  const delivers = from('basic.deliver', 'out');
  assert.deepEqual(
    delivers.map((d) => [d.args.deliveryTag, d.args.redelivered, d.args.consumerTag, d.body]),
    [
      [1, false, 'c1', 'hello'],
      [2, true, 'c1', 'hello'],
    ],
  );
  assert.deepEqual(from('basic.nack', 'in')[0].args, { deliveryTag: 1, multiple: false, requeue: true });
  // Order as on a wire: the nack, then the redelivery it caused.
  assert.ok(names.indexOf('in basic.nack') < names.lastIndexOf('out basic.deliver'));
  const ret = from('basic.return', 'out')[0];
  assert.equal(ret.args.replyCode, 312);
  assert.equal(ret.args.replyText, 'NO_ROUTE');
  assert.equal(ret.body, 'lost');
  assert.deepEqual(from('basic.ack', 'in')[0].args, { deliveryTag: 99, multiple: false });
  assert.equal(from('channel.close', 'out').length, 1);
  const close = from('channel.close', 'out')[0];
  assert.equal(close.args.replyCode, 406);
  assert.match(close.args.replyText, /unknown delivery tag 99/);
  assert.deepEqual([close.args.classId, close.args.methodId], [60, 80]);
  assert.ok(names.indexOf('in basic.ack') < names.indexOf('out channel.close'));
  assert.ok(names.includes('in basic.consume') && names.includes('out basic.consume-ok'));
  assert.ok(names.includes('in confirm.select') && names.includes('out confirm.select-ok'));
  // One frame per record for the page's connection and channel, as each command names it.
  assert.ok(seen.every((f) => f.conn === conn.id));
  // The recorder's quick look (method and tag only) reads what the full decode reads.
  for (const f of seen) {
    const peek = peekMethod(f.bytes);
    assert.equal(peek.name, f.name);
    if (/^basic\.(ack|nack|reject|deliver|get-ok)$/.test(f.name)) assert.equal(peek.tag, f.args.deliveryTag, f.name);
  }
  await broker.close();
});

test('a batch publishes one basic.publish per message, ahead of the deliveries it causes', async () => {
  const broker = await Broker.create({ clock: new ManualClock(0) });
  const { seen, stop } = tapped(broker);
  const conn = await broker.connect();
  const ch = await conn.channel();
  await ch.queueDeclare('q', { durable: false });
  await ch.basicConsume('q', { noAck: true }, () => {});
  await ch.basicPublishBatch('', 'q', ['a', 'b', 'c']);
  await settle();
  const wire = seen.filter((f) => f.name === 'basic.publish' || f.name === 'basic.deliver');
  assert.deepEqual(
    wire.map((f) => `${f.name} ${f.body}`),
    ['basic.publish a', 'basic.publish b', 'basic.publish c', 'basic.deliver a', 'basic.deliver b', 'basic.deliver c'],
  );
  stop();
  await ch.basicPublish('', 'q', 'untapped');
  await settle();
  assert.equal(seen.filter((f) => f.body === 'untapped').length, 0, 'no frames once the tap is stopped');
  await broker.close();
});

test('every method is tapped both ways, as a wire connection carries it: opens, declares, qos, consume-ok, closes', async () => {
  const broker = await Broker.create({ clock: new ManualClock(0) });
  const { seen } = tapped(broker);
  const conn = await broker.connect();
  const ch = await conn.channel();
  await ch.exchangeDeclare('x', 'direct', { durable: false });
  await ch.queueDeclare('q', { durable: false });
  await ch.queueBind('q', 'x', 'k');
  await ch.basicQos(5);
  await ch.basicConsume('q', { noAck: true, tag: 'c' }, () => {});
  await ch.basicCancel('c');
  await ch.queuePurge('q');
  await ch.txSelect();
  await ch.close();
  const ch2 = await conn.channel();
  // A passive declare of a missing queue: the 404 closes the channel, on the tap too.
  await assert.rejects(ch2.queueDeclare('missing', { passive: true }), /NOT_FOUND/);
  await conn.close();
  await settle();
  assert.deepEqual(
    seen.map((f) => `${f.channel} ${f.dir} ${f.name}`),
    [
      '0 in connection.open',
      '0 out connection.open-ok',
      '1 in channel.open',
      '1 out channel.open-ok',
      '1 in exchange.declare',
      '1 out exchange.declare-ok',
      '1 in queue.declare',
      '1 out queue.declare-ok',
      '1 in queue.bind',
      '1 out queue.bind-ok',
      '1 in basic.qos',
      '1 out basic.qos-ok',
      '1 in basic.consume',
      '1 out basic.consume-ok',
      '1 in basic.cancel',
      '1 out basic.cancel-ok',
      '1 in queue.purge',
      '1 out queue.purge-ok',
      '1 in tx.select',
      '1 out tx.select-ok',
      '1 in channel.close',
      '1 out channel.close-ok',
      '1 in channel.open',
      '1 out channel.open-ok',
      '1 in queue.declare',
      '1 out channel.close',
      '0 in connection.close',
      '0 out connection.close-ok',
    ],
  );
  const declared = seen.find((f) => f.name === 'queue.declare-ok');
  assert.deepEqual(declared.args, { queue: 'q', messageCount: 0, consumerCount: 0 });
  assert.equal(seen.find((f) => f.name === 'connection.open').args.virtualHost, '/');
  const close = seen.find((f) => f.name === 'channel.close' && f.dir === 'out');
  assert.deepEqual([close.args.replyCode, close.args.classId, close.args.methodId], [404, 50, 10]);
  await broker.close();
});

test("the decoder reads a deliver from the tap and the server's own frames from an AMQP connection", async () => {
  const broker = await Broker.create({ clock: new ManualClock(0) });
  const { seen } = tapped(broker);
  // A raw AMQP client over broker.accept: its deliver frame is the reference.
  const received = [];
  const transport = { send: (b) => received.push(b.slice()), close() {} };
  const amqp = broker.accept(transport, { name: 'raw', loopback: true });
  const setup = await broker.connect();
  const ch = await setup.channel();
  await ch.queueDeclare('q', { durable: false });
  await ch.basicConsume('q', { noAck: true, tag: 'c' }, () => {});
  await ch.basicPublish('', 'q', 'same', { messageId: 'x' });
  await settle();
  const deliver = seen.find((f) => f.name === 'basic.deliver');
  assert.equal(deliver.body, 'same');
  assert.deepEqual(deliver.properties, { messageId: 'x' });
  // The raw connection gets connection.start first: the decoder reads the server's real frames too.
  amqp.receive(new Uint8Array([65, 77, 81, 80, 0, 0, 9, 1]));
  await settle();
  const start = decodeFrames(received.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array(0)))[0];
  assert.equal(start.name, 'connection.start');
  assert.equal(start.args.serverProperties.product, 'Warren');
  await broker.close();
});

test('www/wire/methods.js is what scripts/wire-methods.mjs makes from the spec', () => {
  execFileSync(process.execPath, ['scripts/wire-methods.mjs', '--check'], { stdio: 'pipe' });
});

test('tapWire wants a function; malformed frames are a RangeError saying where', async () => {
  const broker = await Broker.create({ clock: new ManualClock(0) });
  assert.throws(() => broker.tapWire(null), /tapWire: listener must be a function/);
  assert.throws(() => decodeFrames(new Uint8Array([1, 0, 0, 0, 0, 0, 9, 0])), /AMQP frame: 9 bytes wanted/);
  assert.throws(() => decodeFrames(new Uint8Array([1, 0, 0, 0, 0, 0, 4, 0, 99, 0, 1, 0xce])), /unknown method 99\.1/);
  await broker.close();
});
