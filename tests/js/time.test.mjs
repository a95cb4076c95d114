// Time comes from the broker's clock: with a ManualClock nothing expires or
// times out until the test moves it.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, ManualClock } from '../../js/entry-node.js';

async function open(options) {
  const clock = new ManualClock(1_000_000);
  const broker = new Broker({ clock, events: false, ...options });
  const ch = await (await broker.connect()).channel();
  const ready = (name) => broker.snapshot().queues.find((q) => q.name === name).counts;
  return { clock, broker, ch, ready };
}

test('message TTL expires only when the clock reaches it', async () => {
  const { clock, broker, ch, ready } = await open();
  await ch.queueDeclare('ttl', {}, { 'x-message-ttl': 1000 });
  await ch.basicPublish('', 'ttl', 'short-lived');
  await ch.basicPublish('', 'ttl', 'shorter', { expiration: '10' });
  assert.equal(ready('ttl').ready, 2);

  clock.advance(10);
  assert.equal(ready('ttl').ready, 1);
  clock.advance(989);
  assert.equal(ready('ttl').ready, 1);
  clock.advance(1);
  assert.equal(ready('ttl').ready, 0);
  await broker.close();
});

test('a consumer that does not ack within the timeout loses the delivery at that moment', async () => {
  const { clock, broker, ch, ready } = await open({ consumerTimeout: 5000 });
  await ch.queueDeclare('slow');
  const got = [];
  const consumer = await ch.basicConsume('slow', { noAck: false }, (msg) => got.push(msg));
  const cancelled = consumer.wait();
  await ch.basicPublish('', 'slow', 'job');
  assert.equal(got.length, 1);

  clock.advance(4999);
  assert.deepEqual([ready('slow').unacked, ready('slow').consumers], [1, 1]);
  clock.advance(1);
  await assert.rejects(cancelled, /cancelled by the broker/);
  assert.deepEqual([ready('slow').ready, ready('slow').unacked, ready('slow').consumers], [1, 0, 0]);
  await broker.close();
});

test('extendLease pushes the consumer timeout back', async () => {
  const { clock, broker, ch, ready } = await open({ consumerTimeout: 1000 });
  await ch.queueDeclare('lease');
  let msg = null;
  await ch.basicConsume('lease', { noAck: false }, (m) => {
    msg = m;
  });
  await ch.basicPublish('', 'lease', 'job');
  clock.advance(900);
  await msg.extendLease(1000);
  clock.advance(999);
  assert.equal(ready('lease').unacked, 1);
  await msg.ack();
  clock.advance(10_000);
  assert.deepEqual([ready('lease').ready, ready('lease').unacked], [0, 0]);
  await broker.close();
});

test('the real clock wakes the engine by itself', async () => {
  const broker = new Broker({ events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('ttl', {}, { 'x-message-ttl': 20 });
  await ch.basicPublish('', 'ttl', 'x');
  const count = () => broker.snapshot().queues[0].counts.ready;
  assert.equal(count(), 1);
  for (let i = 0; i < 100 && count() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(count(), 0);
  await broker.close();
});
