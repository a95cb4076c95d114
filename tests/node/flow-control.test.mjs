// Flow control: a consumer that stops reading does not make the server buffer
// without bound, and the memory high-watermark blocks publishers.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { memoryAlarm } from '../../js/node/memory-alarm.js';
import { sleep, startServer } from './server.mjs';

const MiB = 1024 * 1024;

test('a consumer that stops reading: deliveries pause and messages wait in the queue', async () => {
  const server = await startServer({ args: ['--max-queued-bytes', '256KiB'] });
  try {
    const consumer = new AMQPClient(server.url);
    await consumer.connect();
    const cch = await consumer.channel();
    await cch.queueDeclare('slow');
    let received = 0;
    await cch.basicConsume('slow', { noAck: true }, () => received++);
    consumer.socket.pause(); // stops reading: the server's writes back up

    const publisher = new AMQPClient(server.url);
    await publisher.connect();
    const pch = await publisher.channel();
    const body = new Uint8Array(1024);
    const total = 40000; // 40 MiB of bodies, more than every buffer on the way
    for (let i = 0; i < total; i++) {
      await pch.basicPublish('', 'slow', body);
      if (i % 1000 === 0) await pch.queueDeclare('slow', { passive: true }); // keep pace with the server
    }
    await pch.queueDeclare('slow', { passive: true });
    await sleep(300);
    const conns = await (await server.api('/api/connections')).json();
    const sent = Math.max(...conns.map((c) => c.send_oct));
    const q = await (await server.api('/api/queues/%2F/slow')).json();
    assert.ok(sent < 24 * MiB, `sent ${(sent / MiB).toFixed(1)} MiB to a peer that reads nothing`);
    assert.ok(q.messages_ready > 10000, `${q.messages_ready} messages wait in the queue`);

    consumer.socket.resume();
    for (let i = 0; i < 300 && received < total; i++) await sleep(50);
    assert.equal(received, total, 'everything arrives once the consumer reads again');
    await publisher.close();
    await consumer.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('publishers are blocked while queued messages pass the high-watermark, and unblocked once drained', async () => {
  const server = await startServer({ args: ['--memory-high-watermark', '64KiB'] });
  try {
    const c = new AMQPClient(server.url);
    let blockedWith = null;
    const blocked = new Promise((resolve) => (c.onblocked = (reason) => resolve((blockedWith = reason))));
    const unblocked = new Promise((resolve) => (c.onunblocked = resolve));
    await c.connect();
    const ch = await c.channel();
    await ch.queueDeclare('fill');
    const body = new Uint8Array(1024);
    for (let i = 0; i < 100; i++) await ch.basicPublish('', 'fill', body);
    assert.equal(await blocked, 'low on memory');
    await server.waitFor(/above the high watermark of 64 KiB: publishers blocked/);
    // RabbitMQ's health check fails while the alarm is on.
    const alarms = async () => {
      const res = await server.api('/api/health/checks/alarms');
      return [res.status, await res.json()];
    };
    assert.deepEqual(await alarms(), [
      503,
      {
        status: 'failed',
        reason: 'There are alarms in effect in the cluster',
        alarms: [{ node: (await (await server.api('/api/overview')).json()).node, resource: 'memory' }],
      },
    ]);
    await ch.queuePurge('fill');
    await unblocked;
    await server.waitFor(/below the high watermark of 64 KiB: publishers unblocked/);
    assert.deepEqual(await alarms(), [200, { status: 'ok' }]);
    assert.equal(blockedWith, 'low on memory');
    await c.close();
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('the alarm blocks above the watermark and unblocks below it, logging each change once', async () => {
  const calls = [];
  const logged = [];
  let held = 10 * MiB;
  const broker = { setBlocked: (reason) => calls.push(reason) };
  const realSetInterval = globalThis.setInterval;
  let tick;
  globalThis.setInterval = (fn) => {
    tick = fn;
    return { unref() {} };
  };
  try {
    const stop = memoryAlarm(
      broker,
      { bytes: 64 * MiB },
      (lvl, msg) => logged.push(msg),
      () => held,
    );
    tick();
    held = 100 * MiB;
    tick();
    tick();
    held = 20 * MiB;
    tick();
    stop();
  } finally {
    globalThis.setInterval = realSetInterval;
  }
  assert.deepEqual(calls, ['low on memory', null]);
  assert.equal(logged.length, 2);
  assert.match(logged[0], /above .* blocked/);
  assert.match(logged[1], /below .* unblocked/);
});
