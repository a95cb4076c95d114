// Vhost deletion and limits through the JS API: in-process clients meet the
// same engine rules as wire clients (320 on deletion, 406 and 530 on limits).
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker } from '../../js/entry-node.js';

test('deleteVhost closes its in-process connections and empties it; the name can be used again', async () => {
  const broker = new Broker({ vhosts: ['/', 'tmp'], events: false });
  const all = { configure: '.*', write: '.*', read: '.*' };
  broker.setPermissions('guest', 'tmp', all);
  const conn = await broker.connect({ vhost: 'tmp' });
  const closed = new Promise((resolve) => (conn.onerror = resolve));
  const ch = await conn.channel();
  await ch.queueDeclare('q');
  await ch.basicPublish('', 'q', 'x');
  const stay = await broker.connect();
  broker.setVhostLimit('tmp', 'max-queues', 3);

  assert.equal(broker.deleteVhost('tmp'), true);
  const err = await closed;
  assert.equal(err.code, 320);
  assert.equal(err.message, "CONNECTION_FORCED - vhost 'tmp' is deleted");
  assert.equal(conn.closed, true);
  assert.equal(stay.closed, false);
  assert.deepEqual(broker.vhosts(), ['/']);
  assert.deepEqual(broker.vhostLimits(), []);
  assert.equal(broker.deleteVhost('tmp'), false);
  await assert.rejects(broker.connect({ vhost: 'tmp' }), /vhost tmp not found/);
  assert.throws(() => broker.deleteVhost(7), TypeError);

  // Permissions went with it, as in RabbitMQ.
  assert.deepEqual(
    broker.users().flatMap((u) => u.permissions.map((p) => p.vhost)),
    ['/'],
  );
  broker.addVhost('tmp');
  broker.setPermissions('guest', 'tmp', all);
  const again = await (await broker.connect({ vhost: 'tmp' })).channel();
  await assert.rejects(again.queueDeclare('q', { passive: true }), /NOT_FOUND - no queue 'q' in vhost 'tmp'/);
  await broker.close();
});

test('setVhostLimit: RabbitMQ names and errors; bad input is a TypeError saying why', async () => {
  const broker = new Broker({ events: false });
  broker.setVhostLimit('/', 'max-queues', 1);
  broker.setVhostLimit('/', 'max-connections', 2);
  assert.deepEqual(broker.vhostLimits(), [{ vhost: '/', value: { 'max-connections': 2, 'max-queues': 1 } }]);
  const a = await broker.connect();
  await broker.connect();
  await assert.rejects(
    broker.connect(),
    (e) =>
      e.code === 530 &&
      e.message === "NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (2) is reached",
  );
  const ch = await a.channel();
  await ch.queueDeclare('one');
  await assert.rejects(
    ch.queueDeclare('two'),
    (e) =>
      e.code === 406 &&
      e.message === "PRECONDITION_FAILED - cannot declare queue 'two': queue limit in vhost '/' (1) is reached",
  );
  broker.setVhostLimit('/', 'max-queues', null);
  await (await a.channel()).queueDeclare('two');
  assert.throws(() => broker.setVhostLimit('/', 'max-channels', 1), /unknown vhost limit 'max-channels'/);
  assert.throws(() => broker.setVhostLimit('/', 'max-queues', 1.5), /value must be an integer or null/);
  assert.throws(() => broker.setVhostLimit('nope', 'max-queues', 1), /no vhost 'nope'/);
  await broker.close();
});
