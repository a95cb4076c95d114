// The management API with users: HTTP basic auth and tags, RabbitMQ-shaped
// writes (queues, exchanges, bindings, publish, get, purge, connections,
// users, permissions, vhosts), permissions enforced by the engine, cross-
// origin writes refused, and /metrics.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { startServer, tmpDir } from './server.mjs';

let server;
let args;
const dataDir = tmpDir();

before(async () => {
  const users = path.join(tmpDir(), 'definitions.json');
  // RabbitMQ's definitions format, as `rabbitmqctl export_definitions` writes it.
  fs.writeFileSync(
    users,
    JSON.stringify({
      users: [
        {
          name: 'admin',
          // `rabbitmqctl`/the management API of RabbitMQ 3.10 made this hash of "test12".
          password_hash: 'Bp8VHvBuPXwlDwm0yBRwns+izIHd+eGXBS5uJcpO5zLHx7Lo',
          hashing_algorithm: 'rabbit_password_hashing_sha256',
          tags: 'administrator',
        },
        { name: 'dev', password: 'dev', tags: ['management'] },
        { name: 'app', password: 'app', tags: [] },
        { name: 'mon', password: 'mon', tags: ['monitoring'] },
      ],
      permissions: [
        { user: 'admin', vhost: '/', configure: '.*', write: '.*', read: '.*' },
        { user: 'dev', vhost: '/', configure: '^dev\\.', write: '^dev\\.', read: '^dev\\.' },
        { user: 'app', vhost: '/', configure: '.*', write: '.*', read: '.*' },
        { user: 'mon', vhost: '/', configure: '', write: '', read: '' },
      ],
    }),
  );
  args = ['--users', users];
  server = await startServer({ args, dataDir });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const admin = 'admin:test12';
const call = async (apiPath, opts = {}) => {
  const res = await server.api(apiPath, { user: admin, ...opts });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
};

test('basic auth: wrong password, no management tag and no credentials are 401', async () => {
  assert.equal((await call('/api/overview', { user: 'admin:wrong' })).status, 401);
  const app = await call('/api/overview', { user: 'app:app' });
  assert.equal(app.status, 401);
  assert.equal(app.body.reason, 'Not management user');
  const none = await call('/api/overview', { user: null });
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Basic realm="RabbitMQ Management"');
  assert.deepEqual((await call('/api/whoami')).body, { name: 'admin', tags: ['administrator'] });
  // guest is not in the definitions: gone.
  assert.equal((await call('/api/overview', { user: 'guest:guest' })).status, 401);
});

test('queues: declare, publish, get, purge, delete as RabbitMQ answers them', async () => {
  assert.equal((await call('/api/queues/%2F/orders', { method: 'PUT', body: { durable: true } })).status, 201);
  assert.equal((await call('/api/queues/%2F/orders', { method: 'PUT', body: { durable: true } })).status, 204);
  const clash = await call('/api/queues/%2F/orders', { method: 'PUT', body: { durable: false } });
  assert.equal(clash.status, 400);
  assert.match(clash.body.reason, /^inequivalent arg 'durable' for queue 'orders' in vhost '\/'/);
  for (const payload of ['one', 'two']) {
    const pub = await call('/api/exchanges/%2F/amq.default/publish', {
      method: 'POST',
      body: { routing_key: 'orders', payload, payload_encoding: 'string', properties: { message_id: payload } },
    });
    assert.deepEqual(pub.body, { routed: true });
  }
  const lost = await call('/api/exchanges/%2F/amq.default/publish', {
    method: 'POST',
    body: { routing_key: 'nowhere', payload: 'x', properties: {} },
  });
  assert.deepEqual(lost.body, { routed: false });
  const got = await call('/api/queues/%2F/orders/get', {
    method: 'POST',
    body: { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 50000 },
  });
  assert.equal(got.status, 200);
  assert.deepEqual(
    got.body.map((m) => [m.payload, m.payload_encoding, m.routing_key, m.properties.message_id]),
    [
      ['one', 'string', 'orders', 'one'],
      ['two', 'string', 'orders', 'two'],
    ],
  );
  assert.equal((await call('/api/queues/%2F/orders')).body.messages, 2, 'requeued');
  const taken = await call('/api/queues/%2F/orders/get', {
    method: 'POST',
    body: { count: 1, ackmode: 'ack_requeue_false', encoding: 'base64' },
  });
  assert.equal(Buffer.from(taken.body[0].payload, 'base64').toString(), 'one');
  assert.equal(taken.body[0].redelivered, true);
  assert.equal((await call('/api/queues/%2F/orders/contents', { method: 'DELETE' })).status, 204);
  assert.equal((await call('/api/queues/%2F/orders')).body.messages, 0);
  assert.equal((await call('/api/queues/%2F/orders', { method: 'DELETE' })).status, 204);
  assert.equal((await call('/api/queues/%2F/orders')).status, 404);
  assert.equal((await call('/api/queues/%2F/orders', { method: 'DELETE' })).status, 404);
  assert.equal((await call('/api/queues/%2F/nope/contents', { method: 'DELETE' })).status, 404);
});

test("bindings' properties keys as RabbitMQ writes them: the key quoted, a hash of the arguments after ~; DELETE by it", async () => {
  await call('/api/exchanges/%2F/pk.x', { method: 'PUT', body: { type: 'headers' } });
  await call('/api/queues/%2F/pk.q', { method: 'PUT', body: {} });
  const bind = (key, args) =>
    call('/api/bindings/%2F/e/pk.x/q/pk.q', { method: 'POST', body: { routing_key: key, arguments: args } });
  assert.equal((await bind('a.# b~c', {})).headers.get('location'), 'pk.q/a.%23+b%7Ec');
  await bind('k', { 'x-match': 'any', format: 'pdf' });
  await bind('k', { 'x-match': 'any', format: 'png' });
  const keys = async () =>
    (await call('/api/bindings/%2F/e/pk.x/q/pk.q')).body.map((b) => [b.properties_key, b.arguments.format]);
  const [plain, pdf, png] = await keys();
  assert.deepEqual(plain, ['a.%23+b%7Ec', undefined]);
  assert.match(pdf[0], /^k~[\w-]{6}$/);
  assert.notEqual(pdf[0], png[0]);
  // As rabbitmqadmin sends a key it read from the list: quoted once more for the path.
  const remove = (props) => call(`/api/bindings/%2F/e/pk.x/q/pk.q/${encodeURIComponent(props)}`, { method: 'DELETE' });
  assert.equal((await remove(pdf[0])).status, 204);
  assert.deepEqual(await keys(), [plain, png]);
  assert.equal((await remove(pdf[0])).status, 404);
  assert.equal((await remove(plain[0])).status, 204);
  assert.equal((await remove('k')).status, 404, 'k has no binding without arguments');
  assert.deepEqual(await keys(), [png]);
  // A byte-typed argument (amqplib's for a small integer) is not JSON's int: a clear 400, the binding kept.
  const c = await amqplib.connect(`amqp://admin:test12@127.0.0.1:${server.amqpPort}`);
  const ch = await c.createChannel();
  await ch.bindQueue('pk.q', 'pk.x', 'n', { n: 1 });
  const typed = (await keys()).find(([k]) => k.startsWith('n~'));
  const refused = await remove(typed[0]);
  assert.equal(refused.status, 400);
  assert.match(refused.body.reason, /unbind it over AMQP/);
  await ch.unbindQueue('pk.q', 'pk.x', 'n', { n: 1 });
  await c.close();
  assert.deepEqual(await keys(), [png]);
  await call('/api/exchanges/%2F/pk.x', { method: 'DELETE' });
  await call('/api/queues/%2F/pk.q', { method: 'DELETE' });
});

test('exchanges and bindings', async () => {
  assert.equal((await call('/api/exchanges/%2F/events', { method: 'PUT', body: { type: 'topic' } })).status, 201);
  await call('/api/queues/%2F/audit', { method: 'PUT', body: {} });
  const bound = await call('/api/bindings/%2F/e/events/q/audit', { method: 'POST', body: { routing_key: 'user.*' } });
  assert.equal(bound.status, 201);
  assert.equal(bound.headers.get('location'), 'audit/user.%2A');
  const list = (await call('/api/bindings/%2F')).body;
  assert.ok(list.some((b) => b.source === 'events' && b.destination === 'audit' && b.routing_key === 'user.*'));
  const pub = await call('/api/exchanges/%2F/events/publish', {
    method: 'POST',
    body: { routing_key: 'user.created', payload: 'hi', properties: {} },
  });
  assert.deepEqual(pub.body, { routed: true });
  assert.equal((await call('/api/bindings/%2F/e/events/q/audit/user.*', { method: 'DELETE' })).status, 204);
  const again = await call('/api/exchanges/%2F/events/publish', {
    method: 'POST',
    body: { routing_key: 'user.created', payload: 'hi', properties: {} },
  });
  assert.deepEqual(again.body, { routed: false });
  assert.equal((await call('/api/exchanges/%2F/events', { method: 'DELETE' })).status, 204);
  assert.equal((await call('/api/exchanges/%2F/events')).status, 404);
  const bad = await call('/api/exchanges/%2F/x', { method: 'PUT', body: { type: 'nonsense' } });
  assert.equal(bad.status, 400);
});

test("a management user's writes are held to its permissions, by the engine", async () => {
  const dev = (p, o) => call(p, { user: 'dev:dev', ...o });
  assert.equal((await dev('/api/queues/%2F/dev.q', { method: 'PUT', body: {} })).status, 201);
  const refused = await dev('/api/queues/%2F/prod.q', { method: 'PUT', body: {} });
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error, 'not_authorised');
  assert.equal((await dev('/api/queues/%2F/audit/contents', { method: 'DELETE' })).status, 401);
  // ... and it may not manage users.
  assert.equal((await dev('/api/users')).status, 401);
  assert.equal((await dev('/api/users/x', { method: 'PUT', body: { password: 'x', tags: '' } })).status, 401);
});

test('cross-origin writes are refused; same-origin ones pass', async () => {
  const foreign = await call('/api/queues/%2F/csrf', {
    method: 'PUT',
    body: {},
    headers: { origin: 'http://evil.example' },
  });
  assert.equal(foreign.status, 403);
  assert.equal((await call('/api/queues/%2F/csrf')).status, 404);
  const own = await call('/api/queues/%2F/csrf', {
    method: 'PUT',
    body: {},
    headers: { origin: `http://127.0.0.1:${server.httpPort}` },
  });
  assert.equal(own.status, 201);
});

test('users, permissions and vhosts; a new user logs in over AMQP with its permissions', async () => {
  const put = await call('/api/users/carol', { method: 'PUT', body: { password: 's3cret', tags: 'management' } });
  assert.equal(put.status, 201);
  const carol = (await call('/api/users/carol')).body;
  assert.deepEqual(carol.tags, ['management']);
  assert.equal(carol.hashing_algorithm, 'rabbit_password_hashing_sha256');
  assert.equal((await call('/api/vhosts/staging', { method: 'PUT' })).status, 201);
  assert.ok((await call('/api/vhosts')).body.some((v) => v.name === 'staging'));
  const perm = await call('/api/permissions/staging/carol', {
    method: 'PUT',
    body: { configure: '^carol\\.', write: '.*', read: '.*' },
  });
  assert.equal(perm.status, 201);
  assert.deepEqual((await call('/api/permissions/staging/carol')).body, {
    user: 'carol',
    vhost: 'staging',
    configure: '^carol\\.',
    write: '.*',
    read: '.*',
  });
  const badRegex = await call('/api/permissions/staging/carol', {
    method: 'PUT',
    body: { configure: '(', write: '', read: '' },
  });
  assert.equal(badRegex.status, 400);

  const client = new AMQPClient(`amqp://carol:s3cret@127.0.0.1:${server.amqpPort}/staging`);
  await client.connect();
  const ch = await client.channel();
  await ch.queueDeclare('carol.q');
  await assert.rejects(
    ch.queueDeclare('other'),
    /ACCESS_REFUSED - access to queue 'other' in vhost 'staging' refused for user 'carol'/,
  );
  // Its connection shows under its name, and an administrator may close it.
  const conns = (await call('/api/connections')).body;
  const mine = conns.find((c) => c.user === 'carol');
  assert.ok(mine);
  const closed = new Promise((resolve) => (client.onerror = resolve));
  assert.equal((await call(`/api/connections/${encodeURIComponent(mine.name)}`, { method: 'DELETE' })).status, 204);
  assert.match(String((await closed).message), /CONNECTION_FORCED/);
  await server.waitFor(/connection closed: 320/);

  assert.equal((await call('/api/permissions/staging/carol', { method: 'DELETE' })).status, 204);
  const denied = new AMQPClient(`amqp://carol:s3cret@127.0.0.1:${server.amqpPort}/staging`);
  await assert.rejects(denied.connect(), /access to vhost 'staging' refused for user 'carol'/);
  assert.equal((await call('/api/users/carol', { method: 'DELETE' })).status, 204);
  assert.equal((await call('/api/users/carol')).status, 404);
});

test('/metrics: Prometheus text behind the same login', async () => {
  assert.equal((await server.api('/metrics', { user: null })).status, 401);
  await call('/api/queues/%2F/metered', { method: 'PUT', body: {} });
  await call('/api/exchanges/%2F/amq.default/publish', {
    method: 'POST',
    body: { routing_key: 'metered', payload: 'x', properties: {} },
  });
  const res = await server.api('/metrics', { user: 'mon:mon' });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /# TYPE warren_queue_messages_ready gauge/);
  assert.match(text, /warren_queue_messages_ready\{vhost="\/",queue="metered"\} 1\n/);
  assert.match(text, /warren_queue_messages_published_total\{vhost="\/",queue="metered"\} 1\n/);
  assert.match(text, /warren_connections 0\n/);
  assert.match(text, /warren_closes_total\{scope="connection",code="320"\} 1\n/);
  assert.match(text, /warren_memory_blocked 0\n/);
  assert.match(text, /# TYPE warren_store_fsync_seconds histogram/);
  assert.match(text, /warren_store_fsync_seconds_count \d+\n/);
});

test('redrive: dead letters go back to the queue they died in, at the chosen rate', async () => {
  await call('/api/queues/%2F/work.dlq', { method: 'PUT', body: {} });
  await call('/api/queues/%2F/work', {
    method: 'PUT',
    body: { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'work.dlq' } },
  });
  for (let i = 0; i < 6; i++) {
    await call('/api/exchanges/%2F/amq.default/publish', {
      method: 'POST',
      body: { routing_key: 'work', payload: `job ${i}`, properties: {} },
    });
  }
  // A consumer that fails every job: they end up in work.dlq.
  await call('/api/queues/%2F/work/get', { method: 'POST', body: { count: 6, ackmode: 'reject_requeue_false' } });
  assert.equal((await call('/api/queues/%2F/work.dlq')).body.messages, 6);

  const started = Date.now();
  const job = await call('/api/queues/%2F/work.dlq/redrive', { method: 'POST', body: { rate: 20 } });
  assert.equal(job.status, 202);
  assert.deepEqual(job.body.destination, { original: true });
  let view;
  while ((view = (await call('/api/redrives')).body.find((j) => j.id === job.body.id)).state === 'running') {
    await new Promise((r) => setTimeout(r, 50));
  }
  const took = Date.now() - started;
  assert.equal(view.state, 'done');
  assert.equal(view.moved, 6);
  // Six messages at 20 a second: the first at once, the last about 250 ms later.
  assert.ok(took >= 200, `took ${took} ms`);
  assert.equal((await call('/api/queues/%2F/work.dlq')).body.messages, 0);
  const back = await call('/api/queues/%2F/work/get', { method: 'POST', body: { count: 10 } });
  assert.deepEqual(
    back.body.map((m) => m.payload),
    ['job 0', 'job 1', 'job 2', 'job 3', 'job 4', 'job 5'],
  );
  assert.equal(back.body[0].properties.headers['x-death'][0].queue, 'work');

  // To an exchange of one's choosing, a given number; an unroutable target stops it, losing nothing.
  await call('/api/queues/%2F/work/get', { method: 'POST', body: { count: 2, ackmode: 'reject_requeue_false' } });
  const stuck = await call('/api/queues/%2F/work.dlq/redrive', {
    method: 'POST',
    body: { rate: 100, exchange: 'amq.direct', routing_key: 'nowhere' },
  });
  while ((view = (await call('/api/redrives')).body.find((j) => j.id === stuck.body.id)).state === 'running') {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(view.state, 'failed');
  assert.match(view.error, /no queue for the message at exchange 'amq.direct'/);
  assert.equal((await call('/api/queues/%2F/work.dlq')).body.messages, 2);
  const one = await call('/api/queues/%2F/work.dlq/redrive', {
    method: 'POST',
    body: { rate: 100, count: 1, exchange: '', routing_key: 'work' },
  });
  while ((view = (await call('/api/redrives')).body.find((j) => j.id === one.body.id)).state === 'running') {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(view.moved, 1);
  assert.equal((await call('/api/queues/%2F/work.dlq')).body.messages, 1);
  // The engine checks the caller's permissions: dev may not read work.dlq.
  const refused = await call('/api/queues/%2F/work.dlq/redrive', { method: 'POST', body: {}, user: 'dev:dev' });
  assert.equal(refused.status, 401);
  assert.equal((await call('/api/queues/%2F/work.dlq/redrive', { method: 'POST', body: { rate: -1 } })).status, 400);
});

test('a management user sees only its vhosts and its own connections; monitoring sees all', async () => {
  await call('/api/vhosts/private', { method: 'PUT' });
  await call('/api/queues/private/secret', { method: 'PUT', body: {} });
  const dev = async (p) => (await call(p, { user: 'dev:dev' })).body;
  assert.ok(!(await dev('/api/queues')).some((q) => q.vhost === 'private'));
  assert.ok((await dev('/api/queues')).some((q) => q.vhost === '/'));
  assert.equal((await call('/api/queues/private/secret', { user: 'dev:dev' })).status, 404);
  assert.deepEqual(
    (await dev('/api/vhosts')).map((v) => v.name),
    ['/'],
  );
  const client = new AMQPClient(`amqp://admin:test12@127.0.0.1:${server.amqpPort}/`);
  await client.connect();
  assert.equal((await dev('/api/connections')).length, 0);
  assert.equal((await dev('/api/channels')).length, 0);
  const mon = (await call('/api/connections', { user: 'mon:mon' })).body;
  assert.ok(mon.some((c) => c.user === 'admin'));
  await client.channel();
  assert.ok((await call('/api/channels', { user: 'mon:mon' })).body.some((c) => c.user === 'admin'));
  assert.equal((await dev('/api/channels')).length, 0);
  // The node's memory and sockets: monitoring users only, as in RabbitMQ.
  assert.equal((await call('/api/nodes', { user: 'dev:dev' })).status, 401);
  assert.equal((await call('/api/nodes', { user: 'mon:mon' })).status, 200);
  assert.ok((await call('/api/queues', { user: 'mon:mon' })).body.some((q) => q.vhost === 'private'));
  await client.close();
});

test('users, permissions and vhosts made through the API outlive a restart, hashed', async () => {
  await call('/api/users/dave', { method: 'PUT', body: { password: 'd4ve', tags: 'management' } });
  await call('/api/vhosts/kept', { method: 'PUT' });
  await call('/api/permissions/kept/dave', { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } });
  const saved = fs.readFileSync(path.join(dataDir, 'definitions.json'), 'utf8');
  assert.doesNotMatch(saved, /d4ve/);
  assert.equal(await server.stop(), 0);
  server = await startServer({ args, dataDir });
  assert.match(server.log(), /definitions\.json \(kept from earlier runs/);
  const dave = new AMQPClient(`amqp://dave:d4ve@127.0.0.1:${server.amqpPort}/kept`);
  await dave.connect();
  await dave.close();
  // Users from --users were hashed before they were saved, and still log in.
  assert.equal((await call('/api/whoami')).status, 200);
  assert.equal((await call('/api/overview', { user: 'dev:dev' })).status, 200);
});
