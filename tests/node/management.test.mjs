// The HTTP side: the management API (shaped like RabbitMQ's), the event stream
// (server-sent events), and static files.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { frames, rawConnection } from './raw-amqp.mjs';
import { startServer } from './server.mjs';

let server;
let client;
let ch;

before(async () => {
  server = await startServer();
  client = new AMQPClient(server.url);
  await client.connect();
  ch = await client.channel();
  await ch.queueDeclare('api.q', { durable: true });
  await ch.exchangeDeclare('api.x', 'topic');
  await ch.queueBind('api.q', 'api.x', 'a.#');
  for (let i = 0; i < 3; i++) await ch.basicPublish('api.x', 'a.b', `m${i}`);
  await ch.queueDeclare('api.q', { passive: true }); // a round trip: the publishes are in
});
after(async () => {
  await client.close();
  assert.equal(await server.stop(), 0);
});

const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
const get = async (path, headers = auth) => {
  const res = await fetch(server.http + path, { headers });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text(),
  };
};

test('/api/overview: product, listeners and totals', async () => {
  const { status, body } = await get('/api/overview');
  assert.equal(status, 200);
  assert.equal(body.product_name, 'Warren');
  // Both loopbacks by default, as RabbitMQ.
  assert.deepEqual(
    body.listeners.map((l) => [l.protocol, l.ip_address, l.port]),
    [
      ['amqp', '127.0.0.1', server.amqpPort],
      ['amqp', '::1', server.amqpPort],
      ['http', '127.0.0.1', server.httpPort],
      ['http', '::1', server.httpPort],
    ],
  );
  assert.equal(body.object_totals.connections, 1);
  assert.ok(body.object_totals.queues >= 1);
  assert.equal(body.queue_totals.messages_ready, 3);
});

test('/api/queues and /api/queues/{vhost}/{name}', async () => {
  const all = await get('/api/queues');
  const q = all.body.find((x) => x.name === 'api.q');
  assert.equal(q.vhost, '/');
  assert.equal(q.durable, true);
  assert.equal(q.messages, 3);
  assert.equal(q.messages_ready, 3);
  assert.equal(q.messages_unacknowledged, 0);
  assert.deepEqual((await get('/api/queues/%2F/api.q')).body, q);
  assert.deepEqual(
    (await get('/api/queues/%2F')).body.map((x) => x.name),
    all.body.map((x) => x.name),
  );
  const missing = await get('/api/queues/%2F/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error, 'Object Not Found');
});

test('/api/exchanges and /api/bindings', async () => {
  const xs = (await get('/api/exchanges')).body;
  assert.deepEqual(
    xs.find((x) => x.name === 'amq.direct'),
    {
      name: 'amq.direct',
      vhost: '/',
      type: 'direct',
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: {},
    },
  );
  assert.equal((await get('/api/exchanges/%2F/api.x')).body.type, 'topic');
  const bindings = (await get('/api/bindings')).body;
  assert.ok(bindings.some((b) => b.source === 'api.x' && b.destination === 'api.q' && b.routing_key === 'a.#'));
});

test('arguments, flags, consumers and bindings as RabbitMQ shows them, with the bindings of one queue or exchange', async () => {
  const c = await client.channel();
  const { name: exclusive } = await c.queueDeclare('', { exclusive: true }, { 'x-message-ttl': 5000 });
  await c.queueDeclare('api.args', { durable: false }, { 'x-max-length': 10 });
  await c.exchangeDeclare('api.ae', 'topic', { autoDelete: true }, { 'alternate-exchange': 'amq.fanout' });
  await c.exchangeDeclare('api.in', 'fanout', { internal: true });
  await c.queueBind('api.args', 'api.ae', 'a.#', { z: 1 });
  await c.queueBind(exclusive, 'api.ae', '');
  await c.exchangeBind('api.in', 'api.ae', 'k');
  await c.basicConsume('api.args', { tag: 'api-ct', noAck: false }, () => {});

  const q = (await get('/api/queues/%2F/api.args')).body;
  assert.equal(q.type, 'classic');
  await c.queueDeclare('api.quorum', { durable: true }, { 'x-queue-type': 'quorum' });
  assert.equal((await get('/api/queues/%2F/api.quorum')).body.type, 'quorum');
  await c.queueDelete('api.quorum');
  assert.deepEqual(q.arguments, { 'x-max-length': 10 });
  assert.deepEqual(
    q.consumer_details.map((d) => [d.consumer_tag, d.ack_required, d.queue.name]),
    [['api-ct', true, 'api.args']],
  );
  // An exclusive queue's arguments too, which definitions leave out.
  assert.deepEqual((await get(`/api/queues/%2F/${exclusive}`)).body.arguments, { 'x-message-ttl': 5000 });
  const x = (await get('/api/exchanges/%2F/api.ae')).body;
  assert.deepEqual([x.auto_delete, x.internal, x.arguments], [true, false, { 'alternate-exchange': 'amq.fanout' }]);
  assert.equal((await get('/api/exchanges/%2F/api.in')).body.internal, true);

  const binding = (source, destination, type, key, args = {}) => ({
    source,
    vhost: '/',
    destination,
    destination_type: type,
    routing_key: key,
    arguments: args,
    properties_key: key === '' ? '~' : key.replace('#', '%23'),
  });
  // With arguments, "~" and a hash of them follows the key.
  const withArgs = (await get('/api/queues/%2F/api.args/bindings')).body[1].properties_key;
  assert.match(withArgs, /^a\.%23~[\w-]{6}$/);
  const toArgs = { ...binding('api.ae', 'api.args', 'queue', 'a.#', { z: 1 }), properties_key: withArgs };
  const toExclusive = binding('api.ae', exclusive, 'queue', '');
  const toExchange = binding('api.ae', 'api.in', 'exchange', 'k');
  // The default exchange's implicit binding first, as RabbitMQ lists it.
  assert.deepEqual((await get('/api/queues/%2F/api.args/bindings')).body, [
    binding('', 'api.args', 'queue', 'api.args'),
    toArgs,
  ]);
  assert.deepEqual((await get('/api/exchanges/%2F/api.ae/bindings/source')).body, [toArgs, toExclusive, toExchange]);
  assert.deepEqual((await get('/api/exchanges/%2F/api.in/bindings/destination')).body, [toExchange]);
  assert.deepEqual((await get('/api/bindings/%2F/e/api.ae/q/api.args')).body, [toArgs]);
  assert.deepEqual((await get('/api/bindings/%2F/e/api.ae/e/api.in/k')).body, toExchange);
  assert.ok((await get('/api/bindings/%2F')).body.some((b) => b.destination === exclusive && b.source === 'api.ae'));
  for (const path of [
    '/api/queues/%2F/nope/bindings',
    '/api/exchanges/%2F/nope/bindings/source',
    '/api/exchanges/%2F/api.ae/bindings/sideways',
    '/api/bindings/%2F/e/api.ae/e/api.in/nope',
    '/api/bindings/%2F/x/api.ae/q/api.args',
  ]) {
    assert.equal((await get(path)).status, 404, path);
  }
  await c.close();
});

test('/api/connections, /api/channels and /api/consumers', async () => {
  const consumerCh = await client.channel();
  await consumerCh.prefetch(10);
  await consumerCh.basicConsume('api.q', { noAck: false, tag: 'api-consumer' }, () => {});
  await new Promise((r) => setTimeout(r, 100));
  const conns = (await get('/api/connections')).body;
  assert.equal(conns.length, 1);
  assert.equal(conns[0].protocol, 'amqp');
  assert.equal(conns[0].peer_host, '127.0.0.1');
  assert.equal(conns[0].user, 'guest');
  assert.equal(conns[0].vhost, '/');
  assert.equal(conns[0].channels, 2);
  assert.ok(conns[0].recv_oct > 0 && conns[0].send_oct > 0);
  const consumers = (await get('/api/consumers')).body;
  const c = consumers.find((x) => x.consumer_tag === 'api-consumer');
  assert.deepEqual(c.queue, { name: 'api.q', vhost: '/' });
  assert.equal(c.ack_required, true);
  assert.equal(c.prefetch_count, 10);
  const channels = (await get('/api/channels')).body;
  assert.ok(channels.some((x) => x.prefetch_count === 10 && x.messages_unacknowledged === 3));
  assert.equal((await get('/api/queues/%2F/api.q')).body.messages_unacknowledged, 3);
  await consumerCh.close();
});

test('/api/connections/{name} and /api/channels/{name}: one object, named as RabbitMQ names them, or 404', async () => {
  const [conn] = (await get('/api/connections')).body;
  const one = await get(`/api/connections/${encodeURIComponent(conn.name)}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.name, conn.name);
  assert.equal((await get('/api/connections/nope')).status, 404);
  const channels = (await get('/api/channels')).body;
  const mine = channels.find((c) => c.name === `${conn.name} (1)`);
  assert.ok(mine, JSON.stringify(channels));
  assert.deepEqual([mine.user, mine.vhost, mine.number], ['guest', '/', 1]);
  const ch1 = await get(`/api/channels/${encodeURIComponent(mine.name)}`);
  assert.equal(ch1.status, 200);
  assert.equal(ch1.body.connection_details.name, conn.name);
  assert.equal((await get(`/api/channels/${encodeURIComponent(`${conn.name} (99)`)}`)).status, 404);
  // A connection's channels, and a vhost's connections and channels.
  const names = (list) => list.map((x) => x.name).sort();
  const ofConn = await get(`/api/connections/${encodeURIComponent(conn.name)}/channels`);
  assert.deepEqual(names(ofConn.body), names(channels.filter((c) => c.connection_details.name === conn.name)));
  assert.equal((await get('/api/connections/nope/channels')).status, 404);
  assert.deepEqual(names((await get('/api/vhosts/%2F/connections')).body), [conn.name]);
  assert.deepEqual(names((await get('/api/vhosts/%2F/channels')).body), names(channels));
  assert.equal((await get('/api/vhosts/nope/channels')).status, 404);
  // A user's and a vhost's permissions; topic permissions, which Warren has none of.
  const guest = { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' };
  assert.deepEqual((await get('/api/users/guest/permissions')).body, [guest]);
  assert.deepEqual((await get('/api/vhosts/%2F/permissions')).body, [guest]);
  assert.deepEqual((await get('/api/users/guest/topic-permissions')).body, []);
  assert.equal((await get('/api/users/guest/nonsense')).status, 404);
  assert.equal((await get('/api/vhosts/nope/permissions')).status, 404);
});

test('/api/nodes: the one node, its memory against the high watermark, its sockets; /api/nodes/{name}', async () => {
  const { status, body } = await get('/api/nodes');
  assert.equal(status, 200);
  assert.equal(body.length, 1);
  const [node] = body;
  assert.equal(node.name, (await get('/api/overview')).body.node);
  assert.deepEqual([node.running, node.type, node.mem_alarm, node.disk_free_alarm], [true, 'ram', false, false]);
  // Three queued messages of two bytes, and what the engine counts beside each.
  assert.ok(node.mem_used >= 6 && node.mem_used < node.mem_limit, JSON.stringify(node));
  assert.equal(node.sockets_used, 1);
  assert.ok(node.uptime > 0 && node.uptime < 600e3);
  assert.deepEqual(
    node.exchange_types.map((x) => x.name),
    ['direct', 'fanout', 'headers', 'topic'],
  );
  assert.deepEqual((await get(`/api/nodes/${encodeURIComponent(node.name)}`)).body.name, node.name);
  assert.equal((await get('/api/nodes/rabbit@elsewhere')).status, 404);
});

test('what Warren has none of lists empty, as RabbitMQ lists them without any; /api/cluster-name is the node', async () => {
  for (const path of [
    '/api/parameters',
    '/api/parameters/shovel',
    '/api/parameters/federation-upstream/%2F',
    '/api/global-parameters',
    '/api/operator-policies',
    '/api/operator-policies/%2F',
    '/api/topic-permissions',
    '/api/user-limits/guest',
    '/api/extensions',
  ]) {
    assert.deepEqual(await get(path), { status: 200, type: 'application/json', body: [] }, path);
  }
  assert.equal((await get('/api/parameters/shovel/%2F/one')).status, 404);
  const node = (await get('/api/overview')).body.node;
  assert.deepEqual((await get('/api/cluster-name')).body, { name: node });
  assert.equal((await get('/api/overview')).body.cluster_name, node);
});

test('health checks as RabbitMQ answers them: 200 and status ok, 503 with what is missing, 400 for bad input', async () => {
  for (const path of [
    '/api/health/checks/alarms',
    '/api/health/checks/local-alarms',
    '/api/health/checks/virtual-hosts',
    '/api/health/checks/node-is-quorum-critical',
    '/api/health/checks/certificate-expiration/1/years',
    '/api/aliveness-test/%2F',
    '/api/healthchecks/node',
  ]) {
    const { status, body } = await get(path);
    assert.deepEqual([status, body], [200, { status: 'ok' }], path);
  }
  assert.deepEqual((await get(`/api/health/checks/port-listener/${server.amqpPort}`)).body, {
    status: 'ok',
    port: server.amqpPort,
  });
  // Any port the broker does not listen on: the HTTP port plus one is not an AMQP or HTTP listener here.
  const missing = await get(`/api/health/checks/port-listener/${server.httpPort + 1}`);
  assert.equal(missing.status, 503);
  assert.deepEqual(missing.body, {
    status: 'failed',
    reason: 'No active listener',
    missing: server.httpPort + 1,
    ports: [server.amqpPort, server.httpPort],
  });
  assert.deepEqual((await get('/api/health/checks/protocol-listener/AMQP091')).body, {
    status: 'ok',
    protocol: 'amqp',
  });
  const amqps = await get('/api/health/checks/protocol-listener/amqps');
  assert.equal(amqps.status, 503);
  assert.deepEqual(amqps.body.missing, 'amqp/ssl');
  assert.deepEqual(amqps.body.protocols, ['amqp', 'http']);
  assert.deepEqual(await get('/api/health/checks/port-listener/x'), {
    status: 400,
    type: 'application/json',
    body: { error: 'bad_request', reason: 'Invalid port' },
  });
  assert.equal((await get('/api/health/checks/certificate-expiration/1/fortnights')).status, 400);
  assert.equal((await get('/api/aliveness-test/nope')).status, 404);
  assert.equal((await get('/api/health/checks/nope')).status, 404);
  assert.equal((await get('/api/health/checks/alarms', {})).status, 401);
});

test('the API wants a login; unknown paths are 404', async () => {
  const anonymous = await get('/api/overview', {});
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.error, 'not_authorised');
  const res = await fetch(`${server.http}/api/queues`, { method: 'POST', headers: auth });
  assert.equal(res.status, 405);
  assert.equal((await get('/api/nothing')).status, 404);
});

test("/api/events streams a snapshot, then the engine's events as they happen", async () => {
  const controller = new AbortController();
  const res = await fetch(`${server.http}/api/events`, { signal: controller.signal, headers: auth });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const until = async (re) => {
    while (!re.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended; got:\n${text}`);
      text += value;
    }
  };
  await until(/event: snapshot\ndata: .*\n\n/);
  const snapshot = JSON.parse(text.match(/event: snapshot\ndata: (.*)\n\n/)[1]);
  assert.ok(snapshot.queues.some((q) => q.name === 'api.q'));
  await ch.basicPublish('api.x', 'a.c', 'watched');
  await until(/"type":"enqueued"/);
  const events = text
    .split('\n\n')
    .filter((m) => m.startsWith('data: '))
    .flatMap((m) => JSON.parse(m.slice(6)));
  const published = events.find((e) => e.type === 'published');
  assert.equal(published.exchange, 'api.x');
  assert.equal(published.routingKey, 'a.c');
  assert.ok(events.some((e) => e.type === 'enqueued' && e.queue === 'api.q'));
  controller.abort();
});

test('static files: the engine build with its MIME type; no escape from the served folders', async () => {
  const wasm = await fetch(`${server.http}/pkg/warren_bg.wasm`);
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  await wasm.arrayBuffer();
  assert.equal((await get('/pkg/../package.json')).status, 404);
  assert.equal((await get('/%2e%2e/package.json')).status, 404);
  assert.equal((await get('/no-such-file.html')).status, 404);
});

test("/api/connections: a connection past close-ok, its socket not yet closed by the client, is 'closed'", async () => {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  const mine = async () => (await get('/api/connections')).body.find((x) => x.peer_port === c.socket.localPort);
  assert.equal((await mine()).state, 'running');
  c.send(frames.close());
  await c.next(c.isMethod(10, 51));
  assert.equal((await mine()).state, 'closed');
  c.socket.end();
  await c.closed();
});
