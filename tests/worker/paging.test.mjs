// Paged queues on the Durable Object host in real workerd: a backlog past a
// small page budget goes to pages in the object's storage, so the memory
// guard (set here far below the backlog) never blocks its publisher; a
// SIGKILL of workerd, with no image, recovers from the compacted log, which
// names the pages without reading them; an object evicted and woken resumes
// from its image reading no page until a consumer drains the queue; a
// queue that grows behind a consumer at its prefetch limit pages each
// message once. Page reads are counted by the object's store (the debug
// view's `pages`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counts, sleep, start, tmpDir, until } from './runtime.mjs';

const PAGE_BUDGET = 64 * 1024;
const vars = {
  WARREN_PAGE_BUDGET: String(PAGE_BUDGET),
  // Far below the backlog: without paging, publishers would be blocked.
  WARREN_MAX_QUEUED_BYTES: String(1024 * 1024),
  WARREN_COMPACT_AFTER_BYTES: String(256 * 1024),
};
const body = (i) => `${String(i).padStart(6, '0')} ${'x'.repeat(1017)}`;
const index = (m) => Number(m.bodyToString().slice(0, 6));

/** Publishes bodies `from` .. `to`-1 with confirms, 200 at a time; fails if the connection was ever blocked. */
async function publish(c, ch, queue, from, to, props = () => ({ deliveryMode: 2 })) {
  for (let i = from; i < to; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(to, i + 200); j++) batch.push(ch.basicPublish('', queue, body(j), props(j)));
    await Promise.all(batch);
    assert.equal(c.blocked, undefined, `publisher blocked after ${i} messages`);
  }
}

/** Consumes (acking) until `n` messages came, or nothing more came for 3 s. */
async function drain(ch, queue, n) {
  const got = [];
  await ch.prefetch(500);
  await ch.basicConsume(queue, { noAck: false }, (m) => {
    got.push(m);
    m.ack();
  });
  let seen = -1;
  await until(
    async () => {
      if (got.length >= n) return true;
      if (got.length === seen) return false;
      seen = got.length;
      return false;
    },
    { ms: 60000, every: 3000, what: `${n} messages from ${queue}` },
  );
  return got;
}

test('a backlog past the page budget keeps its publisher unblocked; after a SIGKILL the compacted log names the pages without reading them, and a drain gets every confirmed message once, in order', async () => {
  const dir = tmpDir();
  const N = 3000;
  const confirmed = [];
  const rt = await start({ persistDir: dir, vars: { ...vars, WARREN_IMAGE_AFTER_MS: '8000' } });
  try {
    const c = await rt.client();
    c.onerror = () => {};
    const ch = await c.channel();
    await ch.queueDeclare('backlog', { durable: true });
    await ch.confirmSelect();
    await publish(c, ch, 'backlog', 0, N);
    for (let i = 0; i < N; i++) confirmed.push(i);
    const stats = await rt.debug();
    const q = counts(stats, 'backlog');
    assert.equal(q.ready, N);
    assert.ok(q.paged > N / 2, `paged ${q.paged} of ${N}`);
    assert.ok(q.memory <= PAGE_BUDGET, `memory ${q.memory}`);
    assert.ok(stats.pages.held > 10, `pages ${stats.pages.held}`);
    assert.ok(stats.queuedBytes < 1024 * 1024, `queued in memory ${stats.queuedBytes}`);
    // More while workerd is killed: at least once, never out of order.
    for (let j = N; j < N + 300; j++)
      ch.basicPublish('', 'backlog', body(j), { deliveryMode: 2 }).then(
        () => confirmed.push(j),
        () => {},
      );
    await sleep(150);
  } finally {
    await rt.kill(); // within the idle time: no image
  }
  const rt2 = await start({ persistDir: dir, vars });
  try {
    const stats = await rt2.debug();
    assert.equal(stats.resumes, 0);
    assert.equal(stats.restarts, 1);
    const q = counts(stats, 'backlog');
    assert.ok(q.ready >= confirmed.length, `${q.ready} ready, ${confirmed.length} confirmed`);
    assert.ok(q.paged > N / 2, `recovered as pages: ${q.paged}`);
    // Read ahead of the consumers at most: the first runs of the queue.
    assert.ok(stats.pages.reads <= 4, `${stats.pages.reads} pages read at recovery of ${stats.pages.held}`);
    assert.ok(stats.pages.held > 10);

    const c = await rt2.client();
    const got = (await drain(await c.channel(), 'backlog', q.ready)).map(index);
    assert.equal(got.length, q.ready);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], `${got[i]} after ${got[i - 1]}`);
    const have = new Set(got);
    assert.deepEqual(
      confirmed.filter((i) => !have.has(i)),
      [],
      'confirmed messages lost',
    );
    const after = await until(
      async () => {
        const s = await rt2.debug();
        return s.pages.held === 0 && s;
      },
      { what: 'pages read back to be deleted' },
    );
    assert.ok(after.pages.reads >= 10, `${after.pages.reads} pages read in the drain`);
    await c.close();
  } finally {
    await rt2.stop();
  }
});

test('a consumer at its prefetch limit while its publisher fills the queue past the page budget: the object pages the newest messages once and stays up, and every message comes through in order once acked', async () => {
  const N = 600;
  const rt = await start({ persistDir: tmpDir(), vars });
  try {
    const c = await rt.client();
    const ch = await c.channel();
    await ch.queueDeclare('held', { durable: true });
    // Two deliveries, never acked while the publisher runs: the queue grows behind them.
    const consumer = await c.channel();
    await consumer.prefetch(2);
    const got = [];
    await consumer.basicConsume('held', { noAck: false }, (m) => got.push(m));
    await ch.confirmSelect();
    await publish(c, ch, 'held', 0, N);
    const stats = await rt.debug();
    const q = counts(stats, 'held');
    assert.equal(q.ready + q.unacked, N);
    assert.ok(q.memory <= PAGE_BUDGET, `memory ${q.memory}`);
    // A page holds a quarter of the budget, 15 of these messages: each written
    // once. A page read back only to be written out again counted one a turn.
    assert.ok(stats.pages.writes <= Math.ceil(N / 14), `${stats.pages.writes} pages written for ${N} messages`);
    assert.equal(got.length, 2);

    await consumer.basicCancel(got[0].consumerTag);
    for (const m of got) m.ack();
    const rest = await drain(consumer, 'held', N - 2);
    assert.deepEqual(
      [...got.slice(0, 2), ...rest].map(index),
      Array.from({ length: N }, (_, i) => i),
    );
    await c.close();
  } finally {
    await rt.stop();
  }
});

/** Waits, without touching the object, until the runtime has evicted it and a look builds a new one. */
async function evicted(rt, before) {
  // workerd evicts an object 10 s after its last event; the image is written
  // 2 s after the last change. Each look is an event.
  return until(
    async () => {
      await sleep(14000);
      const s = await rt.debug();
      return s.startedAt !== before.startedAt && s;
    },
    { ms: 90000, every: 0, what: 'the object to be evicted' },
  );
}

test('an object evicted with a paged queue resumes from its image reading no page until a consumer drains it, transient messages included', async () => {
  const N = 2000;
  const rt = await start({ persistDir: tmpDir(), vars });
  try {
    const c = await rt.client();
    const ch = await c.channel();
    await ch.queueDeclare('sleepy', { durable: true });
    await ch.confirmSelect();
    // Every third message transient: pages hold them too, and the image keeps them.
    await publish(c, ch, 'sleepy', 0, N, (i) => ({ deliveryMode: i % 3 === 0 ? 1 : 2 }));
    await c.close();
    const before = await rt.debug();
    assert.ok(counts(before, 'sleepy').paged > N / 2);

    const after = await evicted(rt, before);
    assert.equal(after.resumes, 1, 'the new object resumed from the image');
    assert.equal(after.restarts, 0);
    assert.equal(counts(after, 'sleepy').ready, N);
    assert.ok(after.pages.held > 10, `${after.pages.held} pages`);
    assert.ok(after.pages.reads <= 4, `${after.pages.reads} pages read on waking`);

    const c2 = await rt.client();
    const got = (await drain(await c2.channel(), 'sleepy', N)).map(index);
    assert.deepEqual(
      got,
      Array.from({ length: N }, (_, i) => i),
    );
    const drained = await rt.debug();
    assert.ok(drained.pages.reads >= 10, `${drained.pages.reads} pages read in the drain`);
    await c2.close();
  } finally {
    await rt.stop();
  }
});

test('an object resumed from its image reads none of the log, and the log it goes on appending to recovers whole after a SIGKILL', async () => {
  const dir = tmpDir();
  const N = 1500;
  const M = 500;
  // No small compaction threshold here: appends after the wake must land past the log's end.
  const { WARREN_COMPACT_AFTER_BYTES, ...noCompaction } = vars;
  assert.ok(WARREN_COMPACT_AFTER_BYTES);
  let rt = await start({ persistDir: dir, vars: noCompaction });
  try {
    const c = await rt.client();
    const ch = await c.channel();
    await ch.queueDeclare('continued', { durable: true });
    await ch.confirmSelect();
    await publish(c, ch, 'continued', 0, N);
    await until(async () => (await rt.debug()).imagesWritten > 0, { ms: 30000, what: 'the image' });
  } finally {
    await rt.kill();
  }
  rt = await start({ persistDir: dir, vars: noCompaction });
  try {
    const woken = await rt.debug();
    assert.equal(woken.resumes, 1, 'resumed from the image');
    assert.equal(woken.recoveredBytes, 0, 'no log byte read on waking');
    assert.equal(counts(woken, 'continued').ready, N);
    const c = await rt.client();
    const ch = await c.channel();
    await ch.confirmSelect();
    await publish(c, ch, 'continued', N, N + M);
  } finally {
    // Right after the confirms: no image, so the next start replays the log.
    await rt.kill();
  }
  rt = await start({ persistDir: dir, vars: noCompaction });
  try {
    const restarted = await rt.debug();
    assert.equal(restarted.restarts, 1, 'recovered from the log');
    assert.ok(restarted.recoveredBytes > N * 1024, `${restarted.recoveredBytes} log bytes`);
    const c = await rt.client();
    const got = (await drain(await c.channel(), 'continued', N + M)).map(index);
    assert.deepEqual(
      got,
      Array.from({ length: N + M }, (_, i) => i),
    );
    await c.close();
  } finally {
    await rt.stop();
  }
});

test('a paged backlog blocks its publisher only when storage is full, reported as such, and page writes go on once there is room', async () => {
  const rt = await start({ persistDir: tmpDir(), vars: { ...vars, WARREN_TEST_FAULTS: '1' } });
  const setFaults = (faults) =>
    fetch(`http://${rt.url.host}/test-faults/%2F`, { method: 'POST', body: JSON.stringify(faults) });
  try {
    const c = await rt.client();
    c.onerror = () => {};
    const ch = await c.channel();
    await ch.queueDeclare('full', { durable: true });
    await ch.confirmSelect();
    await publish(c, ch, 'full', 0, 1000);
    const pagesBefore = (await rt.debug()).pages.writes;
    assert.equal((await setFaults({ put: 'quota' })).status, 200);
    let confirmed = 0;
    const pending = [];
    for (let i = 1000; i < 1200; i++)
      pending.push(ch.basicPublish('', 'full', body(i), { deliveryMode: 2 }).then(() => confirmed++));
    await until(() => c.blocked, { what: 'connection.blocked' });
    assert.match(c.blocked, /store full/);
    await sleep(500);
    assert.equal(confirmed, 0, 'a confirm for a message storage refused');

    assert.equal((await setFaults({ put: null })).status, 200);
    await Promise.all(pending);
    await until(() => c.blocked === undefined, { what: 'connection.unblocked' });
    const stats = await rt.debug();
    assert.ok(stats.pages.writes > pagesBefore, 'pages written once there was room');
    assert.equal(counts(stats, 'full').ready, 1200);
    await c.close();
  } finally {
    await rt.stop();
  }
});
