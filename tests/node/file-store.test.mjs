// The file store on its own: segments, group commit, compaction, truncation,
// the directory lock, and what a compaction interrupted at any step leaves.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { Broker } from '../../js/entry-node.js';
import { FileStore } from '../../js/node/file-store.js';
import { tmpDir } from '../tmp-dirs.mjs';

const tmp = () => tmpDir('warren-store-');
const bytes = (text) => new TextEncoder().encode(text);
const text = (b) => (b ? new TextDecoder().decode(b) : null);

test('appends load back in order, across segment files', async () => {
  const dir = tmp();
  const store = await FileStore.open(dir, { segmentSize: 10 });
  assert.equal(await store.load(), null);
  for (const part of ['alpha-', 'beta-', 'gamma-', 'delta']) await store.append(bytes(part));
  assert.ok(store.files.length >= 2, `rotated: ${store.files}`);
  assert.equal(text(await store.load()), 'alpha-beta-gamma-delta');
  await store.close();
  const again = await FileStore.open(dir, { segmentSize: 10 });
  assert.equal(text(await again.load()), 'alpha-beta-gamma-delta');
  await again.append(bytes('!'));
  assert.equal(text(await again.load()), 'alpha-beta-gamma-delta!');
  await again.close();
});

test('appends made while a sync runs share the next one and keep their order', async () => {
  const store = await FileStore.open(tmp());
  const parts = Array.from({ length: 200 }, (_, i) => `${i},`);
  await Promise.all(parts.map((p) => store.append(bytes(p))));
  assert.equal(text(await store.load()), parts.join(''));
  await store.close();
});

test('compaction replaces the log; later appends follow the snapshot', async () => {
  const dir = tmp();
  const store = await FileStore.open(dir, { segmentSize: 8 });
  for (const part of ['one;', 'two;', 'three;', 'four;']) await store.append(bytes(part));
  await store.compact(bytes('SNAP;'));
  await store.append(bytes('five;'));
  const [snap, log] = store.files;
  assert.match(snap, /\.snap$/);
  assert.match(log, /\.log$/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['LOCK', snap, log]);
  await store.close();
  const again = await FileStore.open(dir);
  assert.equal(text(await again.load()), 'SNAP;five;');
  await again.close();
});

test('a compaction cut short at any step leaves the old log or the new one, never both', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'seg-00000001.log'), 'old-1;');
  fs.writeFileSync(path.join(dir, 'seg-00000002.log'), 'old-2;');
  // Before the rename: only a .tmp exists, and it is ignored.
  fs.writeFileSync(path.join(dir, 'seg-00000003.snap.tmp'), 'half');
  let store = await FileStore.open(dir);
  assert.equal(text(await store.load()), 'old-1;old-2;');
  assert.ok(!fs.existsSync(path.join(dir, 'seg-00000003.snap.tmp')));
  await store.close();
  // After the rename, before the old files were deleted: the snapshot wins.
  fs.writeFileSync(path.join(dir, 'seg-00000003.snap'), 'NEW;');
  store = await FileStore.open(dir);
  assert.equal(text(await store.load()), 'NEW;');
  assert.deepEqual(store.files, ['seg-00000003.snap']);
  await store.close();
});

test('truncate cuts a damaged tail, including later segments, and appends continue after it', async () => {
  const dir = tmp();
  const logged = [];
  const store = await FileStore.open(dir, { segmentSize: 6, log: (lvl, msg) => logged.push([lvl, msg]) });
  for (const part of ['abcdef', 'ghijkl', 'mnopqr']) await store.append(bytes(part));
  await store.truncate(9);
  assert.equal(text(await store.load()), 'abcdefghi');
  assert.deepEqual(store.files, ['seg-00000001.log', 'seg-00000002.log']);
  assert.match(logged.at(-1)[1], /cut 9 damaged bytes/);
  await store.append(bytes('XY'));
  assert.equal(text(await store.load()), 'abcdefghiXY');
  await store.close();
  const again = await FileStore.open(dir);
  assert.equal(text(await again.load()), 'abcdefghiXY');
  await again.truncate(100); // nothing to cut
  assert.equal(text(await again.load()), 'abcdefghiXY');
  await again.close();
});

test("a directory in use by a live process is refused; a dead one's lock is taken over", async () => {
  const dir = tmp();
  const store = await FileStore.open(dir);
  fs.writeFileSync(path.join(dir, 'LOCK'), `${process.ppid}\n`);
  await assert.rejects(FileStore.open(dir), /in use by process/);
  fs.writeFileSync(path.join(dir, 'LOCK'), '2147483646\n'); // no such process
  const other = await FileStore.open(dir);
  await other.close();
  await store.close();
});

test("a broker's log on disk opens with the format header; a log from before it is rewritten as a snapshot", async () => {
  const MAGIC = Buffer.from([0x89, 0x57, 0x52, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 3]);
  const dir = tmp();
  let store = await FileStore.open(dir);
  let broker = await Broker.create({ store, events: false });
  let ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  await ch.basicPublish('', 'dq', 'kept', { deliveryMode: 2 });
  await broker.close();
  assert.deepEqual(store.files, ['seg-00000001.log']);
  const log = fs.readFileSync(path.join(dir, 'seg-00000001.log'));
  assert.deepEqual(log.subarray(0, 12), MAGIC);

  // The directory as a broker before the header left it: the frames alone.
  const legacy = tmp();
  fs.writeFileSync(path.join(legacy, 'seg-00000001.log'), log.subarray(12));
  store = await FileStore.open(legacy);
  broker = await Broker.create({ store, events: false });
  assert.equal(broker.recovery.version, 0);
  assert.equal(broker.recovery.upgraded, true);
  assert.deepEqual(store.files, ['seg-00000002.snap']);
  assert.deepEqual(fs.readFileSync(path.join(legacy, 'seg-00000002.snap')).subarray(0, 12), MAGIC);
  ch = await (await broker.connect()).channel();
  assert.equal((await ch.basicGet('dq', { noAck: true })).bodyString(), 'kept');
  await broker.close();
});

test("a segment's file is written ahead in zeros, cut back to its records on close and when the next segment starts", async () => {
  const dir = tmp();
  const file = (n) => path.join(dir, `seg-0000000${n}.log`);
  let store = await FileStore.open(dir, { segmentSize: 4096 });
  await store.append(bytes('abc'));
  // The append left the file's size past its records: the next ones write inside it.
  assert.equal(fs.statSync(file(1)).size, 4096);
  assert.equal(store.size, 3);
  assert.equal(text(await store.load()), 'abc');
  await store.append(bytes('x'.repeat(5000)));
  await store.append(bytes('def'));
  assert.deepEqual(store.files, ['seg-00000001.log', 'seg-00000002.log']);
  assert.equal(fs.statSync(file(1)).size, 5003);
  assert.equal(fs.statSync(file(2)).size, 4096);
  await store.close();
  assert.equal(fs.statSync(file(2)).size, 3);
  store = await FileStore.open(dir);
  assert.equal(text(await store.load()), `abc${'x'.repeat(5000)}def`);
  await store.close();
});

test('after a crash the zeros written ahead are cut at recovery as the end of the log, not as damage', async () => {
  const dir = tmp();
  const logged = [];
  const log = (level, message) => logged.push([level, message]);
  const store = await FileStore.open(dir, { log });
  const broker = await Broker.create({ store, events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('dq', { durable: true });
  await ch.confirmSelect();
  for (let i = 0; i < 3; i++) await ch.basicPublish('', 'dq', `m${i}`, { deliveryMode: 2 });
  // No close: the process is gone as if killed, its file still holding the zeros.
  const records = store.size;
  assert.ok(fs.statSync(path.join(dir, 'seg-00000001.log')).size > records);
  fs.writeFileSync(path.join(dir, 'LOCK'), '2147483646\n'); // no such process

  const again = await FileStore.open(dir, { log });
  const recovered = await Broker.create({ store: again, events: false });
  assert.equal(recovered.recovery.damage, null);
  assert.equal(recovered.recovery.validLength, records);
  assert.equal(fs.statSync(path.join(dir, 'seg-00000001.log')).size, records);
  assert.deepEqual(
    logged.filter(([level]) => level !== 'debug'),
    [],
  );
  const ch2 = await (await recovered.connect()).channel();
  const bodies = [];
  for (let m; (m = await ch2.basicGet('dq', { noAck: true }));) bodies.push(m.bodyString());
  assert.deepEqual(bodies, ['m0', 'm1', 'm2']);
  await recovered.close();
});
