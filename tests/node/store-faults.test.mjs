// The store failing under the broker, on real files (tests/node/faulty-files.mjs):
// a failed fsync or write never yields a confirm, the publisher's connection
// closes naming the failure, and what was confirmed before is there after a
// restart; a full disk blocks publishers and holds confirms back until space
// frees, with the write torn at every byte offset undone; a crash in the
// middle of a write, at every byte, loses nothing confirmed; a slow disk only
// delays confirms. amqp-client.js over TCP for the publisher-facing cases.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { Broker } from '../../js/entry-node.js';
import { FileStore } from '../../js/node/file-store.js';
import { amqpTcpServer } from '../../js/node/tcp.js';
import { Faults } from './faulty-files.mjs';
import { tmpDir } from './server.mjs';

const settle = () => new Promise((r) => setImmediate(r));
const quiet = () => {};

/** A broker on a file store in `dir` whose files fail as `faults` says. */
async function open(dir, faults = new Faults()) {
  const store = await FileStore.open(dir, { openFile: faults.openFile });
  const broker = await Broker.create({ store, events: false });
  const errors = [];
  broker.onerror = (e) => errors.push(e);
  return { broker, store, faults, errors };
}

/** The bodies in queue `q` after a restart on a healthy disk, and how recovery went. */
async function afterRestart(dir, q = 'dq') {
  const { broker } = await open(dir);
  const ch = await (await broker.connect()).channel();
  const bodies = [];
  for (let m; (m = await ch.basicGet(q, { noAck: true }));) bodies.push(m.bodyString());
  const recovery = broker.recovery;
  await broker.close();
  return { bodies, recovery };
}

async function publisher(broker) {
  const conn = await broker.connect();
  const ch = await conn.channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  return { conn, ch };
}

/** Resolves once `cond()` holds, letting I/O run; fails after `ms`. */
async function until(cond, what, ms = 5000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('a failed fsync: no confirm, the publisher (amqp-client.js over TCP) is closed with 320 naming it, the confirmed messages survive', async () => {
  const dir = tmpDir();
  const { broker, faults, errors } = await open(dir);
  const sockets = new Set();
  const server = amqpTcpServer(broker, {
    maxQueuedBytes: 4 * 1024 * 1024,
    log: quiet,
    sockets,
    peers: new Set(),
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new AMQPClient(`amqp://127.0.0.1:${server.address().port}`);
  client.onerror = quiet;
  const conn = await client.connect();
  const ch = await conn.channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  for (let i = 0; i < 5; i++) await ch.basicPublish('', 'dq', `confirmed-${i}`, { deliveryMode: 2 });

  faults.sync = 'EIO';
  const outcome = await ch.basicPublish('', 'dq', 'unconfirmed', { deliveryMode: 2 }).then(
    () => 'confirmed',
    (e) => e,
  );
  assert.notEqual(outcome, 'confirmed', 'a publish whose fsync failed must not be confirmed');
  assert.match(String(outcome.message), /CONNECTION_FORCED.*store failed: EIO/);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'EIO');
  assert.deepEqual(faults.raised, ['write (O_DSYNC) EIO']);
  // The broker stopped; new connections are refused rather than promised confirms.
  await assert.rejects(broker.connect(), /closed/);
  server.close();
  for (const s of sockets) s.destroy();
  await broker.close(); // already closed: resolves

  const { bodies } = await afterRestart(dir);
  // What was confirmed is all there; the unconfirmed one may be too (its
  // bytes were written, only the fsync failed): at least once, never lost.
  assert.deepEqual(bodies.slice(0, 5), ['confirmed-0', 'confirmed-1', 'confirmed-2', 'confirmed-3', 'confirmed-4']);
  assert.ok(bodies.length <= 6, `${bodies.length} messages`);
});

test('a crash in the middle of a write, torn at every byte offset, loses nothing confirmed', async () => {
  // The length of the write that carries the second publish, measured once.
  let length = 0;
  for (let tearAt = 0; length === 0 || tearAt < length; tearAt++) {
    const dir = tmpDir('warren-tear-');
    const { broker, faults, errors } = await open(dir);
    const { ch } = await publisher(broker);
    await ch.basicPublish('', 'dq', 'confirmed', { deliveryMode: 2 });
    const before = faults.writes.length;
    faults.write = { code: 'EIO', tearAt };
    const outcome = await ch.basicPublish('', 'dq', 'torn', { deliveryMode: 2 }).then(
      () => 'confirmed',
      (e) => e,
    );
    length ||= faults.writes[before];
    assert.notEqual(outcome, 'confirmed', `tear at ${tearAt}`);
    assert.match(outcome.message, /store failed: EIO/);
    assert.equal(errors.length, 1);
    await broker.close();

    const { bodies, recovery } = await afterRestart(dir);
    assert.deepEqual(bodies, ['confirmed'], `tear at ${tearAt} of ${length}`);
    // Torn bytes that are all zeros (none, or the top of a frame's length)
    // read as the zeros the store wrote ahead: the log ends there, undamaged.
    if (faults.torn.every((b) => b === 0)) assert.equal(recovery.damage, null, `tear at ${tearAt}`);
    else assert.equal(recovery.damage.offset, recovery.validLength, `tear at ${tearAt}`);
  }
  assert.ok(length > 20, `the torn write was ${length} bytes`);
});

test('a full disk blocks publishers and holds confirms until space frees; a write torn at every byte offset is undone', async () => {
  let length = 0;
  for (let tearAt = 0; length === 0 || tearAt <= length; tearAt++) {
    const dir = tmpDir('warren-full-');
    const { broker, faults, errors } = await open(dir);
    const { conn, ch } = await publisher(broker);
    const blocked = [];
    conn.onblocked = (reason) => blocked.push(reason);
    conn.onunblocked = () => blocked.push(null);
    const full = [];
    broker.onstorefull = (e) => full.push(e?.code ?? null);
    await ch.basicPublish('', 'dq', 'before', { deliveryMode: 2 });

    const before = faults.writes.length;
    faults.write = { code: 'ENOSPC', tearAt };
    let confirmed = false;
    const pending = ch.basicPublish('', 'dq', 'while full', { deliveryMode: 2 }).then(() => (confirmed = true));
    await until(() => faults.raised.length >= 2, 'a retry');
    length ||= faults.writes[before];
    assert.equal(confirmed, false, `no confirm while the disk is full (tear at ${tearAt})`);
    assert.deepEqual(blocked, ['store full: ENOSPC']);
    assert.deepEqual(full, ['ENOSPC']);

    faults.write = null; // space frees
    await pending;
    assert.equal(confirmed, true);
    assert.deepEqual(blocked, ['store full: ENOSPC', null]);
    assert.deepEqual(full, ['ENOSPC', null]);
    await ch.basicPublish('', 'dq', 'after', { deliveryMode: 2 });
    assert.deepEqual(errors, []);
    await broker.close();

    const { bodies, recovery } = await afterRestart(dir);
    assert.deepEqual(bodies, ['before', 'while full', 'after'], `tear at ${tearAt}`);
    assert.equal(recovery.damage, null, `tear at ${tearAt}: the torn bytes were undone`);
  }
  assert.ok(length > 20, `the torn write was ${length} bytes`);
});

test('a broker on a full disk starts, serves consumers and blocks publishers: no crash loop', async () => {
  const dir = tmpDir();
  let { broker } = await open(dir);
  let { ch } = await publisher(broker);
  for (let i = 0; i < 3; i++) await ch.basicPublish('', 'dq', `m${i}`, { deliveryMode: 2 });
  await broker.close();

  const faults = new Faults();
  faults.write = { code: 'ENOSPC', tearAt: 3 };
  let errors;
  ({ broker, errors } = await open(dir, faults));
  const conn = await broker.connect();
  ch = await conn.channel();
  // Reading needs no write: a consumer gets its messages; its acks wait for space.
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await ch.basicGet('dq')).bodyString());
  assert.deepEqual(got, ['m0', 'm1', 'm2']);
  const pub = await (await broker.connect()).channel();
  await pub.confirmSelect();
  let confirmed = false;
  const pending = pub.basicPublish('', 'dq', 'm3', { deliveryMode: 2 }).then(() => (confirmed = true));
  await until(() => faults.raised.length >= 3, 'retries');
  assert.equal(confirmed, false);
  assert.equal(pub.connection.blocked, 'store full: ENOSPC');
  assert.deepEqual(errors, []);
  faults.write = null;
  await pending;
  assert.equal(pub.connection.blocked, undefined);
  await broker.close();
  const { bodies } = await afterRestart(dir);
  assert.deepEqual(bodies, ['m3'], 'the gets settled m0..m2 (noAck) once the disk had room; m3 is kept');
});

test('a slow disk delays confirms and never releases one before its fsync', async () => {
  const dir = tmpDir();
  const faults = new Faults();
  const { broker } = await open(dir, faults);
  const { ch } = await publisher(broker);
  faults.delayMs = 30;
  const syncsAtConfirm = [];
  const publishes = [];
  for (let i = 0; i < 20; i++)
    publishes.push(
      ch.basicPublish('', 'dq', `m${i}`, { deliveryMode: 2 }).then(() => syncsAtConfirm.push(faults.syncs)),
    );
  const syncsBefore = faults.syncs;
  await Promise.all(publishes);
  // Each confirm came after a sync that began after its publish.
  for (const n of syncsAtConfirm) assert.ok(n > syncsBefore);
  await broker.close();
  assert.equal((await afterRestart(dir)).bodies.length, 20);
});

test("a transaction's commit-ok waits for the fsync of what it published: in-process and over TCP (amqp-client.js)", async () => {
  const dir = tmpDir();
  const faults = new Faults();
  const { broker } = await open(dir, faults);
  const sockets = new Set();
  const server = amqpTcpServer(broker, { maxQueuedBytes: 1 << 20, log: quiet, sockets, peers: new Set() });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new AMQPClient(`amqp://127.0.0.1:${server.address().port}`);
  const tcp = await (await client.connect()).channel();
  const local = await (await broker.connect()).channel();
  await local.queueDeclare('dq', { durable: true });
  faults.delayMs = 30;
  for (const [name, ch] of [
    ['in-process', local],
    ['amqp-client.js', tcp],
  ]) {
    await ch.txSelect();
    for (let i = 0; i < 3; i++) await ch.basicPublish('', 'dq', `${name}-${i}`, { deliveryMode: 2 });
    const syncsBefore = faults.syncs;
    await ch.txCommit();
    assert.ok(faults.syncs > syncsBefore, `${name}: commit-ok before the fsync of its messages`);
    // A commit that stores nothing is answered at once.
    await ch.basicPublish('', 'dq', 'transient');
    const syncs = faults.syncs;
    await ch.txCommit();
    assert.equal(faults.syncs, syncs, `${name}: a transient commit waited for the disk`);
  }
  await client.close();
  server.close();
  for (const s of sockets) s.destroy();
  await broker.close();
  const { bodies } = await afterRestart(dir);
  assert.deepEqual(bodies, [
    'in-process-0',
    'in-process-1',
    'in-process-2',
    'amqp-client.js-0',
    'amqp-client.js-1',
    'amqp-client.js-2',
  ]);
});

test("a failed fsync: a transaction's commit is never answered, and the in-process txCommit rejects naming the failure", async () => {
  const dir = tmpDir();
  const faults = new Faults();
  const { broker, errors } = await open(dir, faults);
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.txSelect();
  await ch.basicPublish('', 'dq', 'committed', { deliveryMode: 2 });
  await ch.txCommit();
  await ch.basicPublish('', 'dq', 'lost-commit', { deliveryMode: 2 });
  faults.sync = 'EIO';
  await assert.rejects(ch.txCommit(), /CONNECTION_FORCED.*store failed: EIO/);
  assert.equal(errors.length, 1);
  await broker.close();
  const { bodies } = await afterRestart(dir);
  // At least once, never lost: the second one's bytes may be there.
  assert.equal(bodies[0], 'committed');
  assert.ok(bodies.length <= 2, `${bodies.length} messages`);
});

test('closing a broker while its disk is full gives up the write: nothing unconfirmed is promised', async () => {
  const dir = tmpDir();
  const faults = new Faults();
  const { broker, errors } = await open(dir, faults);
  const { ch } = await publisher(broker);
  await ch.basicPublish('', 'dq', 'kept', { deliveryMode: 2 });
  faults.write = { code: 'ENOSPC', tearAt: 0 };
  const pending = ch.basicPublish('', 'dq', 'lost', { deliveryMode: 2 }).then(
    () => 'confirmed',
    (e) => e.message,
  );
  await until(() => faults.raised.length >= 1, 'the failed write');
  await broker.close();
  assert.match(await pending, /CONNECTION_FORCED/);
  assert.equal(errors.length, 1);
  await settle();
  assert.deepEqual((await afterRestart(dir)).bodies, ['kept']);
});
