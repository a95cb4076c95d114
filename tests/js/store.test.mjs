// Durability: group commit to a Store, confirms after the append, recovery,
// torn tails and compaction.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, MemoryStore } from '../../js/entry-node.js';

/** A Store in memory that records every call; appends wait for `release()` when held. */
class RecordingStore {
  chunks = [];
  calls = [];
  held = [];
  hold = false;

  async load() {
    this.calls.push('load');
    return this.chunks.length ? concat(this.chunks) : null;
  }

  append(bytes) {
    this.calls.push(`append ${bytes.length}`);
    const write = () => this.chunks.push(bytes.slice());
    if (!this.hold) {
      write();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.held.push(() => (write(), resolve())));
  }

  async compact(bytes) {
    this.calls.push(`compact ${bytes.length}`);
    this.chunks = [bytes.slice()];
  }

  async truncate(length) {
    this.calls.push(`truncate ${length}`);
    this.chunks = [concat(this.chunks).slice(0, length)];
  }

  /** Lets the oldest held append complete. */
  release() {
    this.held.shift()();
  }
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Lets queued promise callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

function tracked(promise) {
  const t = { done: false, value: undefined };
  promise.then((v) => Object.assign(t, { done: true, value: v }));
  return t;
}

test('a persistent message in a durable queue is confirmed only once its append completes', async () => {
  const store = new RecordingStore();
  const broker = await Broker.create({ store, events: false });
  const ch = await (await broker.connect()).channel();
  store.hold = true;
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  assert.equal(store.held.length, 1, 'the queue record is being appended');

  const transient = tracked(ch.basicPublish('', 'dq', 'fleeting'));
  const persistent = tracked(ch.basicPublish('', 'dq', 'keep me', { deliveryMode: 2 }));
  await settle();
  assert.equal(transient.done, true, 'a transient message needs no append');
  assert.equal(persistent.done, false);
  assert.equal(store.held.length, 1, 'one append in flight; the message record waits for the next');

  store.release(); // the queue record is durable; the message record goes next
  await settle();
  assert.equal(persistent.done, false);
  assert.equal(store.held.length, 1);

  store.release();
  await settle();
  assert.deepEqual(persistent, { done: true, value: 2 });
  store.hold = false;
  await broker.close();

  // A new broker from the same store has the durable queue and the persistent message only.
  const again = await Broker.create({ store, events: false });
  const ch2 = await (await again.connect()).channel();
  const { messageCount } = await ch2.queueDeclare('dq', { passive: true });
  assert.equal(messageCount, 1);
  assert.equal((await ch2.basicGet('dq')).bodyString(), 'keep me');
  await again.close();
});

test('records emitted while an append is in flight go out together in the next one', async () => {
  const store = new RecordingStore();
  const broker = await Broker.create({ store, events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await settle();
  store.hold = true;
  await ch.confirmSelect();
  const first = ch.basicPublish('', 'dq', '1', { deliveryMode: 2 });
  const rest = [2, 3, 4, 5].map((n) => ch.basicPublish('', 'dq', String(n), { deliveryMode: 2 }));
  await settle();
  assert.equal(store.held.length, 1);
  store.release();
  await first;
  await settle();
  assert.equal(store.held.length, 1, 'the four later records share one append');
  store.release();
  assert.deepEqual(await Promise.all(rest), [2, 3, 4, 5]);
  const appends = store.calls.filter((c) => c.startsWith('append'));
  assert.equal(appends.length, 3);
  store.hold = false;
  await broker.close();
});

test('a torn tail is cut from the store and the whole records before it recover', async () => {
  const store = new RecordingStore();
  const broker = await Broker.create({ store, events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  await ch.basicPublish('', 'dq', 'whole', { deliveryMode: 2 });
  await broker.close();

  const valid = concat(store.chunks).length;
  store.chunks.push(new Uint8Array([0, 0, 0, 90, 1, 2, 3, 4, 5])); // a frame cut short by a crash
  const again = await Broker.create({ store, events: false });
  assert.match(again.recoveryDamage, /truncated/);
  // Cut, then (a crash: every recovered message is flagged redelivered) the flags appended.
  const cut = store.calls.lastIndexOf(`truncate ${valid}`);
  assert.ok(cut >= 0, store.calls.join(', '));
  assert.deepEqual(
    store.calls.slice(cut + 1).map((c) => c.split(' ')[0]),
    ['append'],
  );
  assert.ok(concat(store.chunks).length > valid);
  const ch2 = await (await again.connect()).channel();
  assert.equal((await ch2.basicGet('dq')).bodyString(), 'whole');
  await again.close();
});

test('a grown log is compacted to the live state', async () => {
  const store = new MemoryStore();
  const broker = await Broker.create({ store, events: false, compactAfterBytes: 2000 });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  for (let i = 0; i < 50; i++) {
    await ch.basicPublish('', 'dq', `m${i}`, { deliveryMode: 2 });
    if (i < 49) await ch.basicGet('dq', { noAck: true });
  }
  await broker.close();
  assert.ok(store.size < 2000, `compacted to ${store.size} bytes`);

  const again = await Broker.create({ store, events: false });
  const ch2 = await (await again.connect()).channel();
  const msg = await ch2.basicGet('dq');
  assert.equal(msg.bodyString(), 'm49');
  assert.equal(await ch2.basicGet('dq'), null);
  await again.close();
});

test('a durable store needs Broker.create', () => {
  assert.throws(() => new Broker({ store: new MemoryStore() }), /Broker\.create/);
  assert.throws(() => new Broker({ store: {} }), /load\(\) and append\(bytes\)/);
});

test('a store whose write fails (an IndexedDB QuotaExceededError): no confirm, the publisher is closed with 320 naming it', async () => {
  class QuotaStore extends MemoryStore {
    full = false;
    async append(bytes) {
      if (this.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return super.append(bytes);
    }
  }
  const store = new QuotaStore();
  const broker = await Broker.create({ store, events: false });
  const errors = [];
  broker.onerror = (e) => errors.push(e);
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  await ch.basicPublish('', 'dq', 'kept', { deliveryMode: 2 });
  store.full = true;
  await assert.rejects(ch.basicPublish('', 'dq', 'refused', { deliveryMode: 2 }), (e) => {
    assert.equal(e.code, 320);
    assert.match(e.message, /store failed: QuotaExceededError: The quota has been exceeded/);
    return true;
  });
  assert.equal(errors.length, 1);
  assert.equal(errors[0].name, 'QuotaExceededError');
  await broker.close();

  store.full = false;
  const again = await Broker.create({ store, events: false });
  const ch2 = await (await again.connect()).channel();
  assert.equal((await ch2.basicGet('dq', { noAck: true })).bodyString(), 'kept');
  assert.equal(await ch2.basicGet('dq'), null);
  await again.close();
});

test('a restart measures the compaction threshold against the live state, so a log does not grow over restarts', async () => {
  const store = new MemoryStore();
  const body = new Uint8Array(4096);
  // Five runs, each writing 3 MiB of messages that are consumed again: the
  // live state stays one small queue. Measured against the log at each start,
  // the threshold would rise run by run (8, 8, 12, 18, 24 MiB) and the log
  // reach 15 MiB; against the live state it stays at 8 MiB.
  let most = 0;
  for (let run = 0; run < 5; run++) {
    const broker = await Broker.create({ store, events: false });
    const ch = await (await broker.connect()).channel();
    await ch.queueDeclare('dq', { durable: true });
    await ch.queueDeclare('marks', { durable: true });
    await ch.confirmSelect();
    for (let i = 0; i < 768; i++) {
      await ch.basicPublish('', 'dq', body, { deliveryMode: 2 });
      await ch.basicGet('dq', { noAck: true });
      most = Math.max(most, store.size);
    }
    await ch.basicPublish('', 'marks', `run ${run}`, { deliveryMode: 2 });
    await broker.close();
  }
  assert.ok(most < 9 * 1024 * 1024, `the log reached ${most} bytes`);
  const broker = await Broker.create({ store, events: false });
  const ch = await (await broker.connect()).channel();
  const left = [];
  for (let m; (m = await ch.basicGet('marks', { noAck: true }));) left.push(m.bodyString());
  assert.deepEqual(left, ['run 0', 'run 1', 'run 2', 'run 3', 'run 4']);
  assert.equal(await ch.basicGet('dq'), null);
  await broker.close();
});

test("a store's batchSpacingMs holds a batch back while records queued behind the last append, never a lone publisher's", async () => {
  const store = new RecordingStore();
  store.batchSpacingMs = 200;
  const starts = [];
  const append = store.append.bind(store);
  store.append = (bytes) => (starts.push(performance.now()), append(bytes));
  const broker = await Broker.create({ store, events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();

  // The queue's record was still being appended when this first publish came.
  await ch.basicPublish('', 'dq', 'behind the queue', { deliveryMode: 2 });
  // One at a time, each confirm awaited: no append is in flight when the next
  // publish comes, so none waits for the spacing.
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) await ch.basicPublish('', 'dq', `alone ${i}`, { deliveryMode: 2 });
  assert.ok(performance.now() - t0 < 150, `five awaited confirms took ${performance.now() - t0} ms`);

  // Continuous load: records queue behind an append in flight, so the next
  // batch starts a spacing after the one before it, and takes all of them.
  store.hold = true;
  const first = ch.basicPublish('', 'dq', 'first', { deliveryMode: 2 });
  await settle();
  const rest = [];
  for (let i = 0; i < 20; i++) rest.push(ch.basicPublish('', 'dq', `queued ${i}`, { deliveryMode: 2 }));
  await settle();
  const before = starts.length;
  store.hold = false;
  store.release();
  await first;
  await settle();
  assert.equal(starts.length, before, 'the queued records wait for the spacing');
  await Promise.all(rest);
  assert.equal(starts.length, before + 1, 'and go out in one append');
  assert.ok(starts.at(-1) - starts.at(-2) >= 195, `appends ${starts.at(-1) - starts.at(-2)} ms apart`);

  // A close does not wait for the spacing, and loses nothing.
  store.hold = true;
  const held = ch.basicPublish('', 'dq', 'held', { deliveryMode: 2 });
  await settle();
  ch.basicPublish('', 'dq', 'last', { deliveryMode: 2 }).catch(() => {});
  await settle();
  store.hold = false;
  store.release();
  await held;
  const closing = performance.now();
  await broker.close();
  assert.ok(performance.now() - closing < 150, `close took ${performance.now() - closing} ms`);
  const again = await Broker.create({ store, events: false });
  const ch2 = await (await again.connect()).channel();
  assert.equal((await ch2.queueDeclare('dq', { passive: true })).messageCount, 29);
  await again.close();
});
