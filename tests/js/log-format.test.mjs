// The store's log as a format: a header (magic and version) at byte 0 of the
// log and of every snapshot; logs written before the header (version 0) are
// read and rewritten in the current format; a newer version is refused and
// left untouched; damage is reported with its offset.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, MemoryStore } from '../../js/entry-node.js';

const MAGIC = [0x89, 0x57, 0x52, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a];
const HEADER = 12;

const header = (bytes) => [...bytes.subarray(0, HEADER)];
const version = (bytes) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(8);

/** A broker on `store` with one durable queue holding the persistent `bodies`. */
async function filled(store, bodies, options = {}) {
  const broker = await Broker.create({ store, events: false, ...options });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  for (const b of bodies) await ch.basicPublish('', 'dq', b, { deliveryMode: 2 });
  return broker;
}

async function drain(broker) {
  const ch = await (await broker.connect()).channel();
  const got = [];
  for (let m; (m = await ch.basicGet('dq', { noAck: true }));) got.push(m.bodyString());
  return got;
}

test('a new log starts with the magic and version 3', async () => {
  const store = new MemoryStore();
  assert.equal(await store.load(), null);
  await (await filled(store, ['a'])).close();
  const log = await store.load();
  assert.deepEqual(header(log).slice(0, 8), MAGIC);
  assert.equal(version(log), 3);

  const again = await Broker.create({ store, events: false });
  assert.deepEqual(again.recovery, { version: 3, validLength: log.length, damage: null, upgraded: false });
  assert.deepEqual(await drain(again), ['a']);
  await again.close();
});

test('a snapshot (compaction) starts with the header too', async () => {
  const store = new MemoryStore();
  const broker = await filled(store, [], { compactAfterBytes: 1500 });
  const ch = await (await broker.connect()).channel();
  await ch.confirmSelect();
  for (let i = 0; i < 40; i++) {
    await ch.basicPublish('', 'dq', `m${i}`, { deliveryMode: 2 });
    if (i < 39) await ch.basicGet('dq', { noAck: true });
  }
  await broker.close();
  const log = await store.load();
  assert.ok(log.length < 1500, `compacted to ${log.length}`);
  assert.deepEqual(header(log).slice(0, 8), MAGIC);
  const again = await Broker.create({ store, events: false });
  assert.equal(again.recovery.version, 3);
  assert.deepEqual(await drain(again), ['m39']);
  await again.close();
});

test('a log without a header is read as version 0 and rewritten in the current format', async () => {
  const store = new MemoryStore();
  await (await filled(store, ['old-1', 'old-2'])).close();
  // The same records as a broker before the header wrote them: frames from byte 0.
  const frames = (await store.load()).slice(HEADER);
  const legacy = new MemoryStore();
  await legacy.append(frames);

  const again = await Broker.create({ store: legacy, events: false });
  assert.equal(again.recovery.version, 0);
  assert.equal(again.recovery.upgraded, true);
  assert.equal(again.recovery.damage, null);
  const rewritten = await legacy.load();
  assert.deepEqual(header(rewritten).slice(0, 8), MAGIC);
  assert.equal(version(rewritten), 3);
  const ch = await (await again.connect()).channel();
  await ch.confirmSelect();
  await ch.basicPublish('', 'dq', 'new', { deliveryMode: 2 });
  await again.close();

  const third = await Broker.create({ store: legacy, events: false });
  assert.equal(third.recovery.version, 3);
  assert.deepEqual(await drain(third), ['old-1', 'old-2', 'new']);
  await third.close();
});

test('a version 1 log is read and rewritten as version 3 before anything is appended', async () => {
  const store = new MemoryStore();
  await (await filled(store, ['v1-a', 'v1-b'])).close();
  const old = (await store.load()).slice();
  old[11] = 1; // its records are all of kinds version 1 knows
  const v1 = new MemoryStore();
  await v1.append(old);

  const again = await Broker.create({ store: v1, events: false });
  assert.deepEqual([again.recovery.version, again.recovery.upgraded], [1, true]);
  assert.equal(version(await v1.load()), 3);
  await again.close();
  const third = await Broker.create({ store: v1, events: false });
  assert.equal(third.recovery.version, 3);
  assert.deepEqual(await drain(third), ['v1-a', 'v1-b']);
  await third.close();
});

test('a log of a newer version is refused and left as it was', async () => {
  const store = new MemoryStore();
  await (await filled(store, ['kept'])).close();
  const log = await store.load();
  const newer = log.slice();
  newer[11] = 4;
  const future = new MemoryStore();
  await future.append(newer);
  await assert.rejects(Broker.create({ store: future, events: false }), (e) => {
    assert.equal(e.name, 'StoreLogError');
    assert.match(e.message, /version 4 is not one this build reads \(0 to 3\); it was not changed/);
    return true;
  });
  assert.deepEqual(await future.load(), newer);

  const foreign = new MemoryStore();
  await foreign.append(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  await assert.rejects(Broker.create({ store: foreign, events: false }), { name: 'StoreLogError' });
});

test('damage is reported with its offset and kind, and cut there', async () => {
  const store = new MemoryStore();
  await (await filled(store, ['one', 'two'])).close();
  const log = await store.load();
  const flipped = log.slice();
  flipped[flipped.length - 1] ^= 0xff; // inside the last record: its checksum fails
  const damaged = new MemoryStore();
  await damaged.append(flipped);
  const again = await Broker.create({ store: damaged, events: false });
  const { damage, validLength } = again.recovery;
  assert.equal(damage.kind, 'checksum-mismatch');
  assert.equal(damage.offset, validLength);
  assert.ok(validLength > HEADER && validLength < log.length);
  assert.match(damage.message, new RegExp(`^checksum mismatch at byte ${validLength} `));
  assert.equal(again.recoveryDamage, damage.message);
  // Cut there; what follows is the recovery's own record (the flag it put on 'one').
  await again.close();
  const kept = await damaged.load();
  assert.deepEqual(kept.subarray(0, validLength), flipped.subarray(0, validLength));
  assert.ok(kept.length > validLength);
  const third = await Broker.create({ store: damaged, events: false });
  assert.equal(third.recovery.damage, null);
  assert.deepEqual(await drain(third), ['one']);
  await third.close();
});

test('a log torn inside its header is cut to nothing and starts afresh', async () => {
  const store = new MemoryStore();
  await store.append(new Uint8Array(MAGIC.slice(0, 5)));
  const broker = await filled(store, ['fresh']);
  assert.deepEqual(broker.recovery.damage, {
    kind: 'truncated-header',
    offset: 0,
    message: 'log header truncated to 5 of 12 bytes',
  });
  await broker.close();
  const log = await store.load();
  assert.deepEqual(header(log).slice(0, 8), MAGIC);
  const again = await Broker.create({ store, events: false });
  assert.deepEqual(await drain(again), ['fresh']);
  await again.close();
});
