// Snapshots and events cross from the engine as one byte buffer each
// (src/wasm/data.rs) read by js/data.js: the objects keep their shapes
// (absent fields present as undefined, or left out where the snapshot
// leaves them out), strings in any script survive, and a buffer from a
// mismatched build is an error rather than a hang.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker } from '../../js/entry-node.js';
import { readData } from '../../js/data.js';

test('events and snapshots keep their shapes and their strings', async () => {
  const b = await Broker.create({});
  const events = [];
  b.subscribe((e) => events.push(...e));
  const c = await b.connect();
  const ch = await c.channel();
  const short = 'é-q';
  const long = `очередь-${'ß'.repeat(40)}`;
  await ch.queueDeclare(short);
  await ch.queueDeclare(long);
  b.setPolicy('cap', { pattern: '^оч', definition: { 'max-length': 5 } });
  await ch.basicPublish('', long, 'x');
  await new Promise((r) => setTimeout(r, 10));

  const published = events.find((e) => e.type === 'published');
  assert.deepEqual(Object.keys(published), [
    'at',
    'type',
    'msg',
    'channel',
    'exchange',
    'routingKey',
    'size',
    'persistent',
    'confirmSeq',
  ]);
  assert.equal(published.confirmSeq, undefined, 'not a confirm channel');
  assert.deepEqual(Object.keys(published.channel), ['conn', 'channel']);
  assert.equal(published.channel.channel, ch.id);
  assert.equal(published.routingKey, long);
  assert.deepEqual(events.find((e) => e.type === 'routed').queues, [long]);

  const { queues } = b.snapshot();
  const byName = Object.fromEntries(queues.map((q) => [q.name, q]));
  assert.deepEqual(Object.keys(byName), [short, long].sort());
  assert.equal(byName[long].policy, 'cap');
  assert.equal('policy' in byName[short], false, 'no policy: no key');
  assert.deepEqual(byName[long].ready, [[published.msg, 0]]);
  assert.deepEqual(b.policies(), [
    { name: 'cap', pattern: '^оч', applyTo: 'all', priority: 0, definition: { 'max-length': 5 }, vhost: '/' },
  ]);
  await b.close();
});

test('binding arguments of every kind come back from exportDefinitions as they went in', async () => {
  const b = await Broker.create({});
  const c = await b.connect();
  const ch = await c.channel();
  await ch.exchangeDeclare('hx', 'headers');
  await ch.queueDeclare('q');
  const args = {
    'x-match': 'any',
    small: 1,
    wide: 2 ** 40,
    frac: 1.5,
    yes: true,
    none: null,
    huge: 2n ** 60n,
    when: new Date(1_700_000_000_000),
    raw: new Uint8Array([1, 2, 255]),
    list: [1, 'two', [3]],
    nested: { a: { b: 'c' } },
  };
  await ch.queueBind('q', 'hx', '', args);
  const { bindings } = await b.exportDefinitions();
  assert.deepEqual(bindings.find((x) => x.source === 'hx').arguments, args);
  await b.close();
});

test('a buffer cut short or from another build is a TypeError', () => {
  // ARRAY, NUMBER 1.5, then the array's end missing.
  const cut = new Uint8Array([5, 3, ...new Uint8Array(new Float64Array([1.5]).buffer)]);
  assert.throws(() => readData(cut), TypeError);
  assert.throws(() => readData(new Uint8Array([42])), /unknown tag 42 at 0/);
  assert.deepEqual(readData(new Uint8Array([...cut, 7])), [1.5]);
});
