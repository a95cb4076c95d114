// Users and permissions for in-process clients and accepted transports: the
// same engine checks as for AMQP over the wire.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPError, Broker } from '../../js/entry-node.js';

const users = {
  admin: { password: 'root', tags: ['administrator'] },
  app: {
    passwordHash: Broker.hashPassword('s3cret'),
    tags: [],
    permissions: { '/': { configure: '^app\\.', write: '.*', read: '^app\\.' } },
  },
};

test('in-process clients log in and are held to their permissions', async () => {
  const broker = new Broker({ users, events: false });
  await assert.rejects(broker.connect(), (e) => e instanceof AMQPError && e.code === 403);
  await assert.rejects(broker.connect({ username: 'app', password: 'wrong' }), /Login was refused/);
  const conn = await broker.connect({ username: 'app', password: 's3cret' });
  const ch = await conn.channel();
  await ch.queueDeclare('app.jobs');
  await assert.rejects(
    ch.queueDeclare('billing'),
    (e) =>
      e.code === 403 && e.message === "ACCESS_REFUSED - access to queue 'billing' in vhost '/' refused for user 'app'",
  );
  const ch2 = await conn.channel();
  await ch2.basicPublish('', 'app.jobs', 'x');
  const admin = await (await broker.connect({ username: 'admin', password: 'root' })).channel();
  await admin.queueDeclare('billing');
  await assert.rejects(ch2.basicGet('billing'), /access to queue 'billing'/);
  // Permissions changed while connected apply at once.
  broker.setPermissions('app', '/', { configure: '.*', write: '.*', read: '.*' });
  const ch3 = await conn.channel();
  assert.equal(await ch3.basicGet('billing'), null);
  await broker.close();
});

test('users and permissions can be listed and changed; bad expressions are refused', async () => {
  const broker = new Broker({ users, events: false });
  assert.deepEqual(
    broker.users().map((u) => [u.name, u.tags, u.hashingAlgorithm]),
    [
      ['admin', ['administrator'], 'rabbit_password_hashing_sha256'],
      ['app', [], 'rabbit_password_hashing_sha256'],
    ],
  );
  assert.equal(broker.users()[1].passwordHash.length, 48);
  assert.deepEqual(broker.authenticate('admin', 'root'), ['administrator']);
  assert.equal(broker.authenticate('admin', 'nope'), null);
  broker.putUser('ops', { password: 'pw', tags: ['monitoring'] });
  await assert.rejects(
    broker.connect({ username: 'ops', password: 'pw' }),
    /access to vhost '\/' refused for user 'ops'/,
  );
  assert.throws(
    () => broker.setPermissions('ops', '/', { configure: '(', write: '', read: '' }),
    /bad regular expression/,
  );
  assert.throws(
    () => new Broker({ users: { x: { password: 'p', permissions: { '/': { configure: '[' } } } } }),
    TypeError,
  );
  broker.addVhost('staging');
  assert.deepEqual(broker.vhosts(), ['/', 'staging']);
  assert.equal(broker.deleteUser('ops'), true);
  assert.equal(broker.deleteUser('ops'), false);
  await broker.close();
});

test('guest only from loopback; accepted transports report every close the server makes', async () => {
  const broker = new Broker({ events: false });
  const reports = [];
  const sent = [];
  const accept = (name, loopback) =>
    broker.accept({ send: (b) => sent.push(b), close() {} }, { name, loopback, onClose: (r) => reports.push(r) });
  const header = new Uint8Array([65, 77, 81, 80, 0, 0, 9, 1]);
  // start-ok PLAIN guest/guest without capabilities: refused from afar, the transport closed.
  const response = new TextEncoder().encode('\0guest\0guest');
  const args = [
    0,
    0,
    0,
    0,
    5,
    ...new TextEncoder().encode('PLAIN'),
    0,
    0,
    0,
    response.length,
    ...response,
    5,
    ...new TextEncoder().encode('en_US'),
  ];
  const payload = [0, 10, 0, 11, ...args];
  const size = payload.length;
  const startOk = new Uint8Array([
    1,
    0,
    0,
    size >>> 24,
    (size >>> 16) & 255,
    (size >>> 8) & 255,
    size & 255,
    ...payload,
    0xce,
  ]);
  const remote = accept('203.0.113.7:40000', undefined);
  remote.receive(header);
  remote.receive(startOk);
  assert.deepEqual(reports.pop(), {
    scope: 'connection',
    channel: 0,
    code: 403,
    text: "ACCESS_REFUSED - PLAIN login refused: user 'guest' can only connect via localhost",
    classId: 10,
    methodId: 11,
  });
  const local = accept('somewhere', true);
  local.receive(header);
  local.receive(startOk);
  assert.equal(reports.length, 0, 'a loopback guest gets in');
  local.receive(new TextEncoder().encode('garbage!'));
  assert.equal(reports.pop().code, 501);
  await broker.close();
});
