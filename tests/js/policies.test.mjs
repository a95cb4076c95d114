// Policies and definitions through the JS API: setPolicy applies at once to
// existing queues, errors are TypeErrors saying why; definitions round-trip in
// RabbitMQ's format and a bad entry is named by its path.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker, DefinitionsError, parseDefinitions } from '../../js/entry-node.js';
import { passwordHash } from '../../js/definitions.js';

test('setPolicy limits an existing queue at once; deletePolicy lifts it', async () => {
  const broker = new Broker({ events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('logs.app', { durable: false });
  for (const b of ['1', '2', '3']) await ch.basicPublish('', 'logs.app', b);
  broker.setPolicy('cap', { pattern: '^logs\\.', definition: { 'max-length': 1 }, applyTo: 'queues', priority: 2 });
  const [q] = broker.snapshot().queues;
  assert.equal(q.policy, 'cap');
  assert.equal(q.counts.ready, 1);
  assert.equal((await ch.basicGet('logs.app')).bodyString(), '3');
  assert.deepEqual(broker.policies(), [
    { vhost: '/', name: 'cap', pattern: '^logs\\.', applyTo: 'queues', priority: 2, definition: { 'max-length': 1 } },
  ]);
  assert.equal(broker.deletePolicy('cap'), true);
  assert.equal(broker.deletePolicy('cap'), false);
  for (const b of ['4', '5']) await ch.basicPublish('', 'logs.app', b);
  assert.equal(broker.snapshot().queues[0].counts.ready, 2);
  assert.equal(broker.snapshot().queues[0].policy, undefined);
  await broker.close();
});

test('a bad policy is a TypeError that says what is wrong', async () => {
  const broker = new Broker({ events: false });
  assert.throws(
    () => broker.setPolicy('p', { pattern: '[', definition: { 'max-length': 1 } }),
    (e) => e instanceof TypeError && /pattern '\[' is not a valid regular expression/.test(e.message),
  );
  assert.throws(
    () => broker.setPolicy('p', { pattern: '.*', definition: { 'queue-mode': 'lazy' } }),
    /'queue-mode' is not a recognised policy setting/,
  );
  assert.throws(
    () => broker.setPolicy('p', { pattern: '.*', definition: { 'message-ttl': 'soon' } }),
    /'message-ttl'.*must be an integer/,
  );
  assert.throws(
    () => broker.setPolicy('p', { pattern: '.*', definition: { expires: 1 }, applyTo: 'topics' }),
    /apply-to/,
  );
  assert.throws(
    () => broker.setPolicy('p', { pattern: '.*', definition: { expires: 1 }, vhost: 'nope' }),
    /no vhost 'nope'/,
  );
  assert.throws(() => broker.setPolicy('p', { definition: {} }), /pattern must be a string/);
  assert.deepEqual(broker.policies(), []);
  await broker.close();
});

test('definitions: export, then import into a fresh broker, then export again: the same', async () => {
  // guest on every vhost (by default, as in RabbitMQ, only on '/').
  const a = new Broker({ events: false, vhosts: ['/', 'shop'], users: { guest: { password: 'guest' } } });
  const ch = await (await a.connect({ vhost: 'shop' })).channel();
  await ch.exchangeDeclare('orders', 'topic', { durable: true });
  await ch.exchangeDeclare('audit', 'fanout', { durable: false, internal: true });
  await ch.queueDeclare('orders.eu', { durable: true }, { 'x-max-length': 100, 'x-dead-letter-exchange': 'audit' });
  await ch.queueBind('orders.eu', 'orders', 'eu.#', { note: 'x' });
  await ch.exchangeBind('audit', 'orders', '#');
  await ch.queueDeclare('', { exclusive: true }); // not exported, as in RabbitMQ
  a.setPolicy('ttl', { vhost: 'shop', pattern: '^orders\\.', definition: { 'message-ttl': 60000 }, priority: 1 });
  // Below the queues there: the import sets limits last, so it still goes through.
  a.setVhostLimit('shop', 'max-queues', 0);
  const defs = await a.exportDefinitions({ version: 'test' });
  assert.equal(defs.product_name, 'Warren');
  assert.deepEqual(
    defs.vhosts.map((v) => v.name),
    ['/', 'shop'],
  );
  assert.equal(defs.users[0].name, 'guest');
  assert.equal(defs.users[0].hashing_algorithm, 'rabbit_password_hashing_sha256');
  assert.equal(Buffer.from(defs.users[0].password_hash, 'base64').length, 36);
  assert.deepEqual(defs.queues, [
    {
      name: 'orders.eu',
      vhost: 'shop',
      durable: true,
      auto_delete: false,
      arguments: { 'x-max-length': 100, 'x-dead-letter-exchange': 'audit' },
    },
  ]);
  assert.deepEqual(
    defs.bindings.map((b) => [b.source, b.destination, b.destination_type, b.routing_key]),
    [
      ['orders', 'orders.eu', 'queue', 'eu.#'],
      ['orders', 'audit', 'exchange', '#'],
    ],
  );
  await a.close();

  const b = new Broker({ events: false });
  const r = await b.importDefinitions(JSON.parse(JSON.stringify(defs)));
  assert.deepEqual(r, { users: 1, vhosts: 2, limits: 1, policies: 1, exchanges: 2, queues: 1, bindings: 2 });
  // The exported hash logs in with the password it was made from, and is exported as it came.
  assert.equal(b.authenticate('guest', 'guest', { loopback: true }) !== null, true);
  assert.equal(b.authenticate('guest', 'Guest', { loopback: true }) !== null, false);
  const again = await b.exportDefinitions({ version: 'test' });
  for (const key of ['users', 'vhosts', 'permissions', 'parameters', 'policies', 'exchanges', 'queues', 'bindings'])
    assert.deepEqual(again[key], defs[key], key);
  assert.equal(b.snapshot().queues.find((q) => q.name === 'orders.eu').policy, 'ttl');
  // Importing the same again is a no-op; an inequivalent queue is refused with its entry named.
  await b.importDefinitions(defs);
  defs.queues[0].arguments['x-max-length'] = 5;
  await assert.rejects(
    b.importDefinitions(defs),
    (e) =>
      e instanceof DefinitionsError &&
      e.path === 'queues[0]' &&
      /queue 'orders.eu' in vhost 'shop': PRECONDITION_FAILED - inequivalent arg 'x-max-length'/.test(e.message),
  );
  await b.close();
});

test('malformed definitions are refused with where and what', async () => {
  const broker = new Broker({ events: false });
  assert.throws(
    () => parseDefinitions('{\n  "queues": [\n    {"name": "a",}\n  ]\n}'),
    (e) =>
      e instanceof DefinitionsError &&
      /^line 3, column 18 \(offset 33\): Expected double-quoted property name/.test(e.message),
  );
  await assert.rejects(broker.importDefinitions([]), /definitions must be a JSON object/);
  await assert.rejects(
    broker.importDefinitions({ queues: {} }),
    /^DefinitionsError: queues: must be an array|queues: must be an array/,
  );
  await assert.rejects(
    broker.importDefinitions({
      queues: [
        { name: 'a', vhost: '/' },
        { name: 'b', vhost: '/', durable: 'yes' },
      ],
    }),
    (e) => e.path === 'queues[1].durable' && /must be a boolean/.test(e.message),
  );
  await assert.rejects(
    broker.importDefinitions({ bindings: [{ source: 'x', vhost: '/', destination: 'q', destination_type: 'topic' }] }),
    /bindings\[0\]\.destination_type: must be "queue" or "exchange"/,
  );
  await assert.rejects(
    broker.importDefinitions({
      policies: [{ vhost: '/', name: 'p', pattern: '.*', definition: { 'ha-mode': 'all' } }],
    }),
    (e) => e.path === 'policies[0]' && /'ha-mode' is not a recognised policy setting/.test(e.message),
  );
  await broker.close();
});

test("definitions: a queue's type as later RabbitMQ versions write it; a stream is refused, saying so", async () => {
  const broker = new Broker({ events: false });
  const queue = (name, type) => ({ name, vhost: '/', durable: true, auto_delete: false, arguments: {}, type });
  await broker.importDefinitions({ queues: [queue('qq', 'quorum'), queue('cq', 'classic')] });
  assert.deepEqual(
    broker
      ._topology({})
      .queues.map((q) => [q.name, q.arguments])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
    [
      ['cq', {}],
      ['qq', { 'x-queue-type': 'quorum' }],
    ],
  );
  await assert.rejects(
    broker.importDefinitions({ queues: [queue('st', 'stream')] }),
    (e) => e.path === 'queues[0]' && /unsupported queue type 'stream'.*Warren has no streams/.test(e.message),
  );
  await broker.close();
});

test('users from definitions: a RabbitMQ password hash logs in; permissions are the vhosts it may open', async () => {
  const broker = new Broker({ events: false });
  const hash = await passwordHash('s3cret', new Uint8Array([0x90, 0x8d, 0xc6, 0x0a]));
  await broker.importDefinitions({
    users: [{ name: 'app', password_hash: hash, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [] }],
    vhosts: [{ name: 'apps' }],
    permissions: [{ user: 'app', vhost: 'apps', configure: '.*', write: '.*', read: '.*' }],
  });
  assert.equal(broker.authenticate('app', 's3cret', { loopback: true }) !== null, true);
  assert.equal(broker.authenticate('app', 'secret', { loopback: true }) !== null, false);
  await assert.rejects(
    broker.importDefinitions({
      users: [{ name: 'old', password_hash: hash, hashing_algorithm: 'rabbit_password_hashing_md5' }],
    }),
    (e) => e.path === 'users[0]' && /hashing_algorithm 'rabbit_password_hashing_md5' is not supported/.test(e.message),
  );
  await assert.rejects(
    broker.importDefinitions({ users: [{ name: 'bad', password_hash: 'not base64!' }] }),
    /users\[0\]: password_hash is not valid base64/,
  );
  await broker.close();
});
