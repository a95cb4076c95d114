// What outlives the object's memory: a killed runtime, and hibernation (the
// runtime evicts an idle object; its constructor rebuilds the broker from storage).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counts, sleep, start, take, tmpDir, until } from './runtime.mjs';

test('every confirmed persistent message is there after workerd is killed and started again', async () => {
  const dir = tmpDir();
  const rt = await start({ persistDir: dir });
  const bodies = Array.from({ length: 500 }, (_, i) => `persistent ${i}`);
  try {
    const c = await rt.client();
    const ch = await c.channel();
    await ch.queueDeclare('orders', { durable: true });
    await ch.confirmSelect();
    // Confirms come back only once the batch holding the message is on disk.
    await Promise.all(bodies.map((b) => ch.basicPublish('', 'orders', b, { deliveryMode: 2 })));
  } finally {
    // No close, no flush: the process dies right after the last confirm.
    await rt.kill();
  }

  const rt2 = await start({ persistDir: dir });
  try {
    const stats = await rt2.debug();
    assert.ok(stats.recoveredBytes > 0);
    assert.equal(counts(stats, 'orders').ready, bodies.length);
    const c = await rt2.client();
    const ch = await c.channel();
    const got = await take(ch, 'orders', bodies.length, { noAck: true });
    assert.deepEqual(
      got.map((m) => m.bodyToString()),
      bodies,
    );
    await c.close();
  } finally {
    await rt2.stop();
  }
});

test('an idle object hibernates and wakes rebuilt from storage, closing old sockets with 1012; heartbeats keep one awake', async () => {
  // The host offers a heartbeat; a client that answers 0 turns it off (the default on this host is 0).
  const rt = await start({ persistDir: tmpDir(), vars: { WARREN_HEARTBEAT: '4' } });
  try {
    const idle = await rt.client('sleepy', { heartbeat: 0 });
    const closed = new Promise((resolve) => idle.socket.addEventListener('close', (ev) => resolve(ev.code)));
    const ch = await idle.channel();
    await ch.queueDeclare('kept', { durable: true });
    await ch.queueDeclare('lost', { durable: false });
    await ch.confirmSelect();
    await ch.basicPublish('', 'kept', 'persistent', { deliveryMode: 2 });
    await ch.basicPublish('', 'lost', 'transient');
    const before = await rt.debug('sleepy');

    const beating = await rt.client('awake', { heartbeat: 4 });
    const bch = await beating.channel();
    await bch.queueDeclare('warm', { durable: false });
    await bch.basicPublish('', 'warm', 'in memory only');
    const awakeBefore = await rt.debug('awake');

    // workerd evicts an object 10 s after its last event (the handshake
    // timeout's alarm is one, and so is each look here): look less often
    // than that, and the look after the eviction builds a new object.
    const after = await until(
      async () => {
        await sleep(12000);
        const s = await rt.debug('sleepy');
        return s.startedAt !== before.startedAt && s;
      },
      { ms: 60000, every: 0, what: 'the object to be evicted' },
    );
    assert.equal(await closed, 1012);
    assert.equal(after.restartedSockets, 1);
    assert.ok(after.recoveredBytes > 0);
    assert.equal(counts(after, 'kept').ready, 1);
    // A non-durable queue does not outlive a restart, as in RabbitMQ.
    assert.equal(counts(after, 'lost'), null);

    const c = await rt.client('sleepy');
    const ch2 = await c.channel();
    const m = await ch2.basicGet('kept', { noAck: true });
    assert.equal(m.bodyToString(), 'persistent');
    await c.close();

    // Heartbeats (the alarm sends them, the client answers) kept the other
    // object in memory all along, transient state and connection included.
    const awake = await rt.debug('awake');
    assert.equal(awake.startedAt, awakeBefore.startedAt);
    assert.ok(awake.alarms >= 2, `alarms: ${awake.alarms}`);
    const got = await bch.basicGet('warm', { noAck: true });
    assert.equal(got.bodyToString(), 'in memory only');
    await beating.close();
  } finally {
    await rt.stop();
  }
});
