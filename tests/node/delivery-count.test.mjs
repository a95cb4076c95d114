// Delivery counting as in RabbitMQ 4.3, seen by amqplib: x-acquired-count
// counts every earlier delivery, x-delivery-count the failed ones (reject,
// a connection closed with the message unacked), and x-delivery-limit is
// checked against the failures, so nacks never reach it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startServer } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

/** A queue with a delivery limit dead-lettering into `${name}.dead`; one message in it. */
async function poisoned(ch, name, limit) {
  await ch.assertQueue(`${name}.dead`, { durable: false });
  await ch.assertQueue(name, {
    durable: false,
    arguments: {
      'x-delivery-limit': limit,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': `${name}.dead`,
    },
  });
  ch.sendToQueue(name, Buffer.from('poison'));
  await ch.waitForConfirms();
}

async function next(ch, queue) {
  for (let i = 0; i < 200; i++) {
    const m = await ch.get(queue, { noAck: false });
    if (m) return m;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`nothing in ${queue}`);
}

const counts = (m) => [m.properties.headers['x-acquired-count'], m.properties.headers['x-delivery-count']];

test('nack hands a message back without a failure: the limit never stops it', async () => {
  const c = await amqplib.connect(server.url);
  const ch = await c.createConfirmChannel();
  await poisoned(ch, 'dc.nack', 1);
  const seen = [];
  for (let i = 0; i < 5; i++) {
    const m = await next(ch, 'dc.nack');
    seen.push(counts(m));
    ch.nack(m, false, true);
  }
  assert.deepEqual(seen, [
    [undefined, undefined],
    [1, undefined],
    [2, undefined],
    [3, undefined],
    [4, undefined],
  ]);
  assert.equal((await ch.checkQueue('dc.nack.dead')).messageCount, 0);
  await c.close();
});

test('reject and a lost connection are failures: limit 2 allows three, then dead-letters', async () => {
  const c = await amqplib.connect(server.url);
  const ch = await c.createConfirmChannel();
  await poisoned(ch, 'dc.reject', 2);
  const first = await next(ch, 'dc.reject');
  assert.deepEqual(counts(first), [undefined, undefined]);
  ch.reject(first, true);

  // A second client takes it and goes away without settling it.
  const lost = await amqplib.connect(server.url);
  const lch = await lost.createChannel();
  const second = await next(lch, 'dc.reject');
  assert.deepEqual(counts(second), [1, 1]);
  await lost.close();

  const third = await next(ch, 'dc.reject');
  assert.deepEqual(counts(third), [2, 2]);
  ch.reject(third, true);
  const dead = await next(ch, 'dc.reject.dead');
  assert.equal(dead.properties.headers['x-first-death-reason'], 'delivery_limit');
  await c.close();
});
