// Hibernation that no client notices: the object writes an image of its
// broker once idle, the runtime evicts it, and the object built on the next
// event resumes from the image with every socket re-attached. Real workerd
// (Miniflare); each eviction takes the runtime's own 10 s.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counts, sleep, start, takeBodies, tmpDir, until } from './runtime.mjs';

/** Waits, without touching the object, until the runtime has evicted it and a look builds a new one. */
async function evicted(rt, vhost, before) {
  // workerd evicts an object 10 s after its last event; the image is written
  // 2 s after the last change (an alarm: an event too). Each look is an event.
  return until(
    async () => {
      await sleep(14000);
      const s = await rt.debug(vhost);
      return s.startedAt !== before.startedAt && s;
    },
    { ms: 90000, every: 0, what: 'the object to be evicted' },
  );
}

test('clients with heartbeat 0 sleep through an eviction: consumers, unacked deliveries, confirms and transient messages all carry on', async () => {
  const rt = await start({ persistDir: tmpDir(), vars: { WARREN_HEARTBEAT: '4' } });
  try {
    const consumer = await rt.client('sleepy', { heartbeat: 0 });
    let closedCode = null;
    consumer.socket.addEventListener('close', (ev) => (closedCode = ev.code));
    const cch = await consumer.channel();
    await cch.queueDeclare('live', { durable: false });
    await cch.queueDeclare('scratch', { durable: false, exclusive: false });
    const got = [];
    await cch.basicConsume('live', { noAck: false }, (m) => got.push(m));

    const publisher = await rt.client('sleepy', { heartbeat: 0 });
    const pch = await publisher.channel();
    await pch.confirmSelect();
    assert.equal(await pch.basicPublish('', 'live', 'before the sleep'), 1);
    assert.equal(await pch.basicPublish('', 'scratch', 'transient, kept'), 2);
    await until(() => got.length === 1, { what: 'the first delivery' });
    assert.equal(got[0].deliveryTag, 1);

    // Heartbeats keep this one's object in memory: it must not be affected either way.
    const beating = await rt.client('awake', { heartbeat: 4 });
    const bch = await beating.channel();
    await bch.queueDeclare('warm', { durable: false });
    await bch.basicPublish('', 'warm', 'in memory only');
    const awakeBefore = await rt.debug('awake');

    const before = await rt.debug('sleepy');
    const after = await evicted(rt, 'sleepy', before);
    assert.equal(after.resumes, 1, 'the new object resumed from the image');
    assert.equal(after.restarts, 0);
    assert.equal(after.reattachedSockets, 2);
    assert.equal(after.restartedSockets, 0);
    assert.ok(after.imageBytes > 0);
    assert.deepEqual(counts(after, 'live'), {
      ready: 0,
      readyBytes: 0,
      paged: 0,
      memory: 0,
      pages: 0,
      unacked: 1,
      delayed: 0,
      consumers: 1,
    });
    assert.equal(counts(after, 'scratch').ready, 1);

    // A message published after the wake reaches the consumer that connected before the sleep.
    const late = await rt.client('sleepy');
    const lch = await late.channel();
    await lch.basicPublish('', 'live', 'after the sleep');
    await until(() => got.length === 2, { what: 'the delivery after the wake' });
    assert.equal(got[1].bodyToString(), 'after the sleep');
    assert.equal(got[1].deliveryTag, 2, 'delivery tags carry on');
    // The delivery made before the sleep is acked after it.
    await got[0].ack();
    await got[1].ack();
    // Confirm sequence numbers carry on too.
    assert.equal(await pch.basicPublish('', 'live', 'confirmed after the sleep'), 3);
    await until(() => got.length === 3, { what: 'the third delivery' });
    await got[2].ack();
    const m = await lch.basicGet('scratch', { noAck: true });
    assert.equal(m.bodyToString(), 'transient, kept');
    const s = await until(
      async () => {
        const s = await rt.debug('sleepy');
        return counts(s, 'live')?.unacked === 0 && s;
      },
      { what: 'the acks to land' },
    );
    assert.equal(counts(s, 'live').ready, 0);
    assert.equal(closedCode, null, 'the sleeping consumer was never disconnected');
    await Promise.all([consumer.close(), publisher.close(), late.close()]);

    const awake = await rt.debug('awake');
    assert.equal(awake.startedAt, awakeBefore.startedAt, 'heartbeats kept the other object in memory');
    assert.equal((await bch.basicGet('warm', { noAck: true })).bodyToString(), 'in memory only');
    await beating.close();
  } finally {
    await rt.stop();
  }
});

test('killed before an image was written: durable state only, the restart counted, no confirmed message lost', async () => {
  const dir = tmpDir();
  const rt = await start({ persistDir: dir });
  const bodies = Array.from({ length: 200 }, (_, i) => `persistent ${i}`);
  try {
    const c = await rt.client();
    const ch = await c.channel();
    await ch.queueDeclare('orders', { durable: true });
    await ch.queueDeclare('scratch', { durable: false });
    await ch.confirmSelect();
    await ch.basicPublish('', 'scratch', 'transient');
    await Promise.all(bodies.map((b) => ch.basicPublish('', 'orders', b, { deliveryMode: 2 })));
  } finally {
    await rt.kill(); // within the idle time: no image yet
  }
  const rt2 = await start({ persistDir: dir });
  try {
    const stats = await rt2.debug();
    assert.equal(stats.resumes, 0);
    assert.equal(stats.restarts, 1);
    assert.equal(counts(stats, 'orders').ready, bodies.length);
    assert.equal(counts(stats, 'scratch'), null, 'a non-durable queue does not outlive a crash');
    const c = await rt2.client();
    assert.deepEqual(await takeBodies(await c.channel(), 'orders', bodies.length, { noAck: true }), bodies);
    await c.close();
  } finally {
    await rt2.stop();
  }
});

test('killed after the image was written: the image is the state at the kill, transient messages included', async () => {
  const dir = tmpDir();
  const rt = await start({ persistDir: dir, vars: { WARREN_IMAGE_AFTER_MS: '300' } });
  try {
    const c = await rt.client();
    const ch = await c.channel();
    await ch.queueDeclare('scratch', { durable: false });
    await ch.basicPublish('', 'scratch', 'transient');
    await until(async () => (await rt.debug()).imagesWritten > 0, { what: 'the image', ms: 15000, every: 200 });
  } finally {
    await rt.kill();
  }
  const rt2 = await start({ persistDir: dir });
  try {
    const stats = await rt2.debug();
    assert.equal(stats.resumes, 1);
    // The client's socket died with workerd: its connection is closed on resume.
    assert.equal(stats.snapshot.connections.length, 0);
    assert.equal(counts(stats, 'scratch').ready, 1);
  } finally {
    await rt2.stop();
  }
});
