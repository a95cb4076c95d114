// Deleting a vhost and vhost limits through the management API of a real
// `warren-mq serve` with a data directory, with real clients on the vhost:
// RabbitMQ's 320 on deletion, its 406 and 530 on limits, both kept across
// a restart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { startServer, tmpDir } from './server.mjs';

let server;
const dataDir = tmpDir();

before(async () => {
  server = await startServer({ dataDir });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const call = async (apiPath, opts = {}) => {
  const res = await server.api(apiPath, opts);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const restart = async () => {
  assert.equal(await server.stop(), 0);
  server = await startServer({ dataDir });
};
const client = (vhost) =>
  new AMQPClient(`amqp://guest:guest@127.0.0.1:${server.amqpPort}/${encodeURIComponent(vhost)}`);

test('DELETE /api/vhosts/{name} closes its connections with 320 and removes everything in it, durably', async () => {
  assert.equal((await call('/api/vhosts/doomed', { method: 'PUT' })).status, 201);
  assert.equal((await call('/api/vhosts/other', { method: 'PUT' })).status, 201);
  const conn = await client('doomed').connect();
  const closed = new Promise((resolve) => (conn.onerror = resolve));
  const ch = await conn.channel();
  await ch.queueDeclare('jobs', { durable: true });
  await ch.exchangeDeclare('work', 'fanout', { durable: true });
  await ch.queueBind('jobs', 'work', '');
  await ch.basicPublish('work', '', 'kept?', { deliveryMode: 2 });
  await ch.basicPublish('work', '', 'kept??', { deliveryMode: 2 });
  const got = await ch.basicGet('jobs', { noAck: false }); // one unacked when it goes
  assert.equal(got.bodyToString(), 'kept?');
  await call('/api/policies/doomed/cap', { method: 'PUT', body: { pattern: '.*', definition: { 'max-length': 5 } } });
  const bystander = await client('other').connect();

  assert.equal((await call('/api/vhosts/doomed', { method: 'DELETE' })).status, 204);
  const err = await closed;
  assert.match(err.message, /connection closed: CONNECTION_FORCED - vhost 'doomed' is deleted \(320\)$/);
  assert.equal(conn.closed, true);
  assert.equal(bystander.closed, false);
  await bystander.close();

  assert.equal((await call('/api/vhosts/doomed', { method: 'DELETE' })).status, 404);
  assert.ok(!(await call('/api/vhosts')).body.some((v) => v.name === 'doomed'));
  assert.ok(!(await call('/api/queues')).body.some((q) => q.vhost === 'doomed'));
  assert.ok(!(await call('/api/exchanges')).body.some((x) => x.vhost === 'doomed'));
  assert.ok(!(await call('/api/policies')).body.some((p) => p.vhost === 'doomed'));
  assert.ok(!(await call('/api/permissions')).body.some((p) => p.vhost === 'doomed'));
  await assert.rejects(client('doomed').connect(), /NOT_ALLOWED - vhost doomed not found/);

  // Deleted across a restart: the store replays the deletion.
  await restart();
  assert.ok(!(await call('/api/vhosts')).body.some((v) => v.name === 'doomed'));
  assert.ok(!(await call('/api/queues')).body.some((q) => q.vhost === 'doomed'));

  // The same name again is empty, and what it gets now is what a restart keeps.
  assert.equal((await call('/api/vhosts/doomed', { method: 'PUT' })).status, 201);
  const again = await client('doomed').connect();
  const ch2 = await again.channel();
  await assert.rejects(ch2.queueDeclare('jobs', { passive: true }), /NOT_FOUND/);
  const ch3 = await again.channel();
  await ch3.queueDeclare('fresh', { durable: true });
  await ch3.basicPublish('', 'fresh', 'new', { deliveryMode: 2 });
  await ch3.confirmSelect();
  await ch3.basicPublish('', 'fresh', 'newer', { deliveryMode: 2 });
  await again.close();
  await restart();
  const queues = (await call('/api/queues')).body.filter((q) => q.vhost === 'doomed');
  assert.deepEqual(
    queues.map((q) => [q.name, q.messages]),
    [['fresh', 2]],
  );
});

test('vhost limits: max-queues gives 406 and max-connections 530 with RabbitMQ texts; kept across a restart', async () => {
  assert.equal((await call('/api/vhosts/small', { method: 'PUT' })).status, 201);
  const put = (name, value) => call(`/api/vhost-limits/small/${name}`, { method: 'PUT', body: { value } });
  assert.equal((await put('max-queues', 1)).status, 204);
  assert.equal((await put('max-connections', 1)).status, 204);
  assert.equal((await put('max-channels', 1)).status, 400);
  assert.equal((await put('max-queues', 'x')).status, 400);
  const limits = { vhost: 'small', value: { 'max-connections': 1, 'max-queues': 1 } };
  assert.deepEqual((await call('/api/vhost-limits')).body, [limits]);
  assert.deepEqual((await call('/api/vhost-limits/small')).body, [limits]);
  assert.equal((await call('/api/vhost-limits/nope')).status, 404);
  const defs = (await call('/api/definitions')).body;
  assert.deepEqual(
    defs.parameters.filter((p) => p.component === 'vhost-limits'),
    [{ vhost: 'small', component: 'vhost-limits', name: 'limits', value: limits.value }],
  );

  await restart();
  assert.deepEqual((await call('/api/vhost-limits')).body, [limits]);
  const url = `amqp://guest:guest@127.0.0.1:${server.amqpPort}/small`;
  const conn = await amqplib.connect(url);
  const ch = await conn.createChannel();
  await ch.assertQueue('one');
  const channelError = new Promise((resolve) => ch.on('error', resolve));
  await assert.rejects(ch.assertQueue('two'), /406/);
  assert.match(
    (await channelError).message,
    /PRECONDITION_FAILED - cannot declare queue 'two': queue limit in vhost 'small' \(1\) is reached/,
  );
  await assert.rejects(
    new AMQPClient(url).connect(),
    /NOT_ALLOWED - access to vhost 'small' refused for user 'guest': connection limit \(1\) is reached/,
  );
  await conn.close();

  assert.equal((await call('/api/vhost-limits/small/max-connections', { method: 'DELETE' })).status, 204);
  assert.equal((await call('/api/vhost-limits/small/max-connections', { method: 'DELETE' })).status, 404);
  assert.deepEqual((await call('/api/vhost-limits')).body, [{ vhost: 'small', value: { 'max-queues': 1 } }]);
  const a = await amqplib.connect(url);
  const b = await amqplib.connect(url); // no connection limit now
  await Promise.all([a.close(), b.close()]);

  // Definitions carry them back in, as RabbitMQ's import of parameters does.
  assert.equal((await call('/api/vhosts/small', { method: 'DELETE' })).status, 204);
  assert.deepEqual((await call('/api/vhost-limits')).body, []);
  const imported = await call('/api/definitions', {
    method: 'POST',
    body: {
      vhosts: [{ name: 'small' }],
      permissions: [{ user: 'guest', vhost: 'small', configure: '.*', write: '.*', read: '.*' }],
      parameters: [{ vhost: 'small', component: 'vhost-limits', name: 'limits', value: { 'max-queues': 0 } }],
    },
  });
  assert.equal(imported.status, 204);
  assert.deepEqual((await call('/api/vhost-limits')).body, [{ vhost: 'small', value: { 'max-queues': 0 } }]);
  const refused = await call('/api/queues/small/q', { method: 'PUT', body: {} });
  assert.equal(refused.status, 400);
  assert.match(refused.body.reason, /queue limit in vhost 'small' \(0\) is reached/);
});

test('/api/vhosts/{name}, and consumers and channels in their own vhost where two vhosts have a queue of one name', async () => {
  assert.equal((await call('/api/vhosts/twin', { method: 'PUT' })).status, 201);
  const conns = [];
  for (const [vhost, tag] of [
    ['/', 'in-default'],
    ['twin', 'in-twin'],
  ]) {
    const c = await client(vhost).connect();
    conns.push(c);
    const ch = await c.channel();
    await ch.queueDeclare('same-name');
    await ch.basicPublish('', 'same-name', 'x');
    await ch.basicConsume('same-name', { tag, noAck: false }, () => {});
  }
  const twin = await call('/api/vhosts/twin');
  assert.equal(twin.status, 200);
  assert.equal(twin.body.name, 'twin');
  for (let i = 0; i < 50 && (await call('/api/vhosts/twin')).body.messages_unacknowledged !== 1; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal((await call('/api/vhosts/twin')).body.messages_unacknowledged, 1);
  assert.equal((await call('/api/vhosts/nope')).status, 404);
  assert.equal((await call('/api/vhosts/twin/extra')).status, 404);
  const consumers = (await call('/api/consumers')).body;
  const vhostOf = (tag) => consumers.find((c) => c.consumer_tag === tag)?.queue.vhost;
  assert.equal(vhostOf('in-default'), '/');
  assert.equal(vhostOf('in-twin'), 'twin');
  const channels = (await call('/api/channels')).body;
  assert.deepEqual(channels.map((c) => c.vhost).sort(), ['/', 'twin']);
  // With a data directory the node is a disc node, with the free space of its file system.
  const [node] = (await call('/api/nodes')).body;
  assert.deepEqual([node.type, node.db_dir], ['disc', dataDir]);
  assert.ok(node.disk_free > 0);
  for (const c of conns) await c.close();
  assert.equal((await call('/api/vhosts/twin', { method: 'DELETE' })).status, 204);
});
