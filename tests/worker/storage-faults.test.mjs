// The Durable Object host in real workerd when its storage fails a write
// (js/worker/faulty-storage.js, switched on by WARREN_TEST_FAULTS and a
// test-only route): out of space, publishers are blocked and confirms held
// until a write succeeds again; any other failure closes the connections with
// 320 naming it and the object starts again from what was stored, without a
// failure loop. Nothing confirmed is lost, across a kill of workerd too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counts, sleep, start, tmpDir, until } from './runtime.mjs';

const vars = { WARREN_TEST_FAULTS: '1' };

async function setFaults(rt, faults) {
  const res = await fetch(`http://${rt.url.host}/test-faults/%2F`, { method: 'POST', body: JSON.stringify(faults) });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

async function publisher(rt) {
  const c = await rt.client();
  c.onerror = () => {};
  const ch = await c.channel();
  await ch.queueDeclare('kept', { durable: true });
  await ch.confirmSelect();
  return { c, ch };
}

test('storage full: no confirm, publishers blocked until a write succeeds, everything confirmed survives a kill', async () => {
  const dir = tmpDir();
  const rt = await start({ persistDir: dir, vars });
  try {
    const { c, ch } = await publisher(rt);
    for (let i = 0; i < 10; i++) await ch.basicPublish('', 'kept', `before ${i}`, { deliveryMode: 2 });
    assert.deepEqual(await setFaults(rt, { put: 'quota' }), { put: 'quota', sync: null });
    let confirmed = false;
    const pending = ch.basicPublish('', 'kept', 'while full', { deliveryMode: 2 }).then(() => (confirmed = true));
    await until(() => c.blocked, { what: 'connection.blocked' });
    assert.match(c.blocked, /store full/);
    await sleep(1000); // written again and again meanwhile
    assert.equal(confirmed, false, 'a confirm for a message storage refused');

    await setFaults(rt, { put: null });
    await pending;
    await until(() => c.blocked === undefined, { what: 'connection.unblocked' });
    await ch.basicPublish('', 'kept', 'after', { deliveryMode: 2 });
  } finally {
    await rt.kill();
  }
  const rt2 = await start({ persistDir: dir });
  try {
    assert.equal(counts(await rt2.debug(), 'kept').ready, 12);
  } finally {
    await rt2.stop();
  }
});

test('a storage write that fails otherwise: no confirm, the publisher is closed with 320 naming it, the object starts again with everything confirmed', async () => {
  const rt = await start({ persistDir: tmpDir(), vars });
  try {
    const { ch } = await publisher(rt);
    for (let i = 0; i < 10; i++) await ch.basicPublish('', 'kept', `before ${i}`, { deliveryMode: 2 });
    await setFaults(rt, { sync: 'error' });
    await assert.rejects(ch.basicPublish('', 'kept', 'lost with its sync', { deliveryMode: 2 }), (e) => {
      assert.match(e.message, /store failed: .*internal error in Durable Object storage/);
      return true;
    });
    // A new object, its faults gone: it serves again, with every confirmed message (and, at
    // least once, maybe the unconfirmed one whose put was stored before its sync failed).
    const again = await until(() => publisher(rt).catch(() => null), { what: 'the object to serve again' });
    await again.ch.basicPublish('', 'kept', 'after', { deliveryMode: 2 });
    const stats = await rt.debug();
    assert.equal(stats.restarts, 1, 'one restart, no loop');
    const ready = counts(stats, 'kept').ready;
    assert.ok(ready === 11 || ready === 12, `${ready} messages`);
    await again.c.close();
  } finally {
    await rt.stop();
  }
});
