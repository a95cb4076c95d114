// Policies and definitions on `warren-mq serve`: the management API
// (PUT/GET/DELETE /api/policies/{vhost}/{name}, GET/POST /api/definitions) with
// RabbitMQ's shapes and status codes, their effect seen by amqplib and pika,
// and --definitions FILE at start (a malformed file stops it with the path,
// the position and what is wrong).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { passwordHash } from '../../js/definitions.js';
import { bin, root, sleep, startServer, tmpDir } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

async function api(method, pathname, body, headers = auth) {
  const res = await fetch(`${server.http}${pathname}`, {
    method,
    headers: { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function readyCount(queue) {
  return (await api('GET', `/api/queues/%2F/${queue}`)).body.messages_ready;
}

test('PUT a policy: it applies to a queue amqplib fills, shows in the API, and goes with DELETE', async () => {
  const c = await amqplib.connect(server.url);
  const ch = await c.createConfirmChannel();
  await ch.assertQueue('capped.jobs', { durable: false });
  for (const n of [1, 2, 3, 4]) ch.sendToQueue('capped.jobs', Buffer.from(`job ${n}`));
  await ch.waitForConfirms();
  assert.equal(await readyCount('capped.jobs'), 4);

  const policy = { pattern: '^capped\\.', definition: { 'max-length': 2 }, 'apply-to': 'queues', priority: 7 };
  assert.equal((await api('PUT', '/api/policies/%2F/cap', policy)).status, 201);
  assert.equal((await api('PUT', '/api/policies/%2F/cap', policy)).status, 204);
  assert.equal(await readyCount('capped.jobs'), 2, 'applied to the existing queue');
  const capped = (await api('GET', '/api/queues/%2F/capped.jobs')).body;
  assert.equal(capped.policy, 'cap');
  assert.deepEqual(capped.effective_policy_definition, { 'max-length': 2 });
  assert.equal(capped.node, (await api('GET', '/api/overview')).body.node);
  assert.deepEqual((await api('GET', '/api/policies/%2F/cap')).body, { vhost: '/', name: 'cap', ...policy });
  assert.equal((await api('GET', '/api/policies')).body.length, 1);
  const first = await ch.get('capped.jobs', { noAck: true });
  assert.equal(first.content.toString(), 'job 3', 'drop-head kept the newest');

  assert.equal((await api('DELETE', '/api/policies/%2F/cap')).status, 204);
  assert.equal((await api('DELETE', '/api/policies/%2F/cap')).status, 404);
  for (const n of [5, 6, 7]) ch.sendToQueue('capped.jobs', Buffer.from(`job ${n}`));
  await ch.waitForConfirms();
  assert.equal(await readyCount('capped.jobs'), 4);
  await c.close();
});

test('policy writes need a user; a bad policy is 400 with the reason', async () => {
  const policy = { pattern: '.*', definition: { 'max-length': 1 } };
  assert.equal((await api('PUT', '/api/policies/%2F/p', policy, {})).status, 401);
  const wrong = { authorization: `Basic ${Buffer.from('guest:nope').toString('base64')}` };
  assert.equal((await api('PUT', '/api/policies/%2F/p', policy, wrong)).status, 401);
  const bad = await api('PUT', '/api/policies/%2F/p', { pattern: '.*', definition: { 'ha-mode': 'all' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.reason, /'ha-mode' is not a recognised policy setting/);
  const syntax = await api('PUT', '/api/policies/%2F/p', '{"pattern": ".*",');
  assert.equal(syntax.status, 400);
  assert.match(syntax.body.reason, /line 1, column 18/);
  assert.equal((await api('DELETE', '/api/queues/%2F/x')).status, 404);
  assert.deepEqual((await api('GET', '/api/policies')).body, []);
});

test('GET /api/definitions, then POST it to a second server: the same topology', async () => {
  const c = await amqplib.connect(server.url);
  const ch = await c.createChannel();
  await ch.assertExchange('defs.x', 'direct', { durable: true });
  await ch.assertQueue('defs.q', { durable: true, arguments: { 'x-message-ttl': 5000 } });
  await ch.bindQueue('defs.q', 'defs.x', 'k');
  await c.close();
  await api('PUT', '/api/policies/%2F/defs', { pattern: '^defs\\.', definition: { 'max-length-bytes': 1000 } });
  const exported = await api('GET', '/api/definitions');
  assert.equal(exported.status, 200);
  const defs = exported.body;
  assert.ok(defs.queues.some((q) => q.name === 'defs.q' && q.arguments['x-message-ttl'] === 5000));
  assert.ok(defs.bindings.some((b) => b.source === 'defs.x' && b.destination === 'defs.q' && b.routing_key === 'k'));
  assert.deepEqual(
    defs.policies.map((p) => p.name),
    ['defs'],
  );

  const other = await startServer();
  try {
    const post = await fetch(`${other.http}/api/definitions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify(defs),
    });
    assert.equal(post.status, 204);
    assert.equal((await fetch(`${other.http}/api/definitions`)).status, 401, 'password hashes need a login');
    const again = await (await fetch(`${other.http}/api/definitions`, { headers: auth })).json();
    for (const key of ['policies', 'queues', 'exchanges', 'bindings']) assert.deepEqual(again[key], defs[key], key);
    const q = await (await fetch(`${other.http}/api/queues/%2F/defs.q`, { headers: auth })).json();
    assert.equal(q.policy, 'defs');
    const bad = await fetch(`${other.http}/api/definitions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ exchanges: [{ name: 'e', vhost: '/', type: 'nonsense' }] }),
    });
    assert.equal(bad.status, 400);
    assert.match(
      (await bad.json()).reason,
      /exchanges\[0\]: exchange 'e' in vhost '\/': .*unknown exchange type 'nonsense'/,
    );
  } finally {
    assert.equal(await other.stop(), 0);
  }
  await api('DELETE', '/api/policies/%2F/defs');
});

test('--definitions FILE at start: policies and topology are there before the first client', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'definitions.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      users: [
        {
          name: 'shopper',
          password_hash: await passwordHash('pw'),
          hashing_algorithm: 'rabbit_password_hashing_sha256',
        },
      ],
      permissions: [{ user: 'shopper', vhost: 'shop', configure: '.*', write: '.*', read: '.*' }],
      vhosts: [{ name: 'shop' }],
      policies: [
        { vhost: 'shop', name: 'one', pattern: '^orders$', 'apply-to': 'queues', definition: { 'max-length': 1 } },
      ],
      exchanges: [{ name: 'in', vhost: 'shop', type: 'fanout', durable: true, auto_delete: false, internal: false }],
      queues: [{ name: 'orders', vhost: 'shop', durable: true, auto_delete: false, arguments: {} }],
      bindings: [{ source: 'in', vhost: 'shop', destination: 'orders', destination_type: 'queue', routing_key: '' }],
    }),
  );
  const s = await startServer({ args: ['--definitions', file, '--users', 'guest:guest'] });
  try {
    assert.match(
      s.log(),
      /definitions .*definitions\.json: 1 users, 1 vhosts, 1 policies, 1 exchanges, 1 queues, 1 bindings/,
    );
    // The user from the definitions logs in with its password, on its vhost only.
    await assert.rejects(amqplib.connect(`amqp://shopper:pw@127.0.0.1:${s.amqpPort}/`), /./);
    const c = await amqplib.connect(`amqp://shopper:pw@127.0.0.1:${s.amqpPort}/shop`);
    const ch = await c.createConfirmChannel();
    ch.publish('in', '', Buffer.from('a'));
    ch.publish('in', '', Buffer.from('b'));
    await ch.waitForConfirms();
    await sleep(20);
    const q = await ch.checkQueue('orders');
    assert.equal(q.messageCount, 1);
    await c.close();
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a malformed --definitions file stops the start with its path, the position and what is wrong', () => {
  const dir = tmpDir();
  const run = (text) => {
    const file = path.join(dir, `d${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, text);
    const r = spawnSync(
      process.execPath,
      [bin, 'serve', '--memory', '--port', '0', '--http-port', '0', '--definitions', file],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 20000,
      },
    );
    return { file, r };
  };
  let { file, r } = run('{\n  "queues": [\n    {"name": "q", "vhost": "/"}\n  ],\n}\n');
  assert.equal(r.status, 2);
  assert.ok(
    r.stderr.includes(`--definitions: ${file}: line 5, column 1 (offset 53): Expected double-quoted property name`),
    r.stderr,
  );
  ({ file, r } = run('{"queues": [{"name": "q", "vhost": "/", "durable": "yes"}]}'));
  assert.equal(r.status, 1);
  assert.ok(r.stdout.includes(`--definitions ${file}: queues[0].durable: must be a boolean`), r.stdout);
  ({ file, r } = run('{"queues": [{"name": "q", "vhost": "nowhere"}]}'));
  assert.equal(r.status, 1);
  assert.match(r.stdout, /queues\[0\]: queue 'q' in vhost 'nowhere': .*vhost nowhere not found/);
});
