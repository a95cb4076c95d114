// Differential check against a real RabbitMQ (not part of `npm test`, which
// needs nothing beside the repository). Runs the same scenarios on RabbitMQ
// and on `warren-mq serve` and fails on any difference:
//   - direct reply-to: RabbitMQ's errors and texts, the passive declare;
//   - the empty queue name and its 404;
//   - policies: combination with queue arguments, priority, re-application on
//     add and remove, a bad value refused with 400;
//   - the management API: queues' and exchanges' arguments and flags, and the
//     bindings of a queue, of an exchange and between two;
//   - definitions: RabbitMQ -> Warren -> RabbitMQ with the same topology (a
//     quorum queue among it), and each one's user password hashes accepted
//     by the other.
//
// usage: node tests/rabbitmq/differential.mjs AMQP_PORT HTTP_PORT
//   (a RabbitMQ 3.10+ with the management plugin, guest/guest allowed from
//   loopback; the scenarios declare and delete queues and exchanges named d.*,
//   rt.* and policies dp, dp2, rt on its vhost /)
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { startServer } from '../node/server.mjs';

const [amqpPort, httpPort] = process.argv.slice(2).map(Number);
if (!amqpPort || !httpPort) {
  console.error('usage: node tests/rabbitmq/differential.mjs AMQP_PORT HTTP_PORT');
  process.exit(2);
}
const rabbit = { url: `amqp://guest:guest@127.0.0.1:${amqpPort}`, http: `http://127.0.0.1:${httpPort}` };
const auth = {
  authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`,
  'content-type': 'application/json',
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function errorOf(url, f) {
  const c = await amqplib.connect(url);
  c.on('error', () => {});
  const ch = await c.createChannel();
  ch.on('error', () => {});
  try {
    return JSON.stringify(await f(ch));
  } catch (e) {
    return e.message.replace(/^Operation failed: \w+; /, '');
  } finally {
    await c.close().catch(() => {});
  }
}

async function replyTo({ url }) {
  const out = {};
  out.ack = await errorOf(url, (ch) => ch.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false }));
  out.twice = await errorOf(url, async (ch) => {
    await ch.consume('amq.rabbitmq.reply-to', () => {}, { noAck: true });
    return ch.consume('amq.rabbitmq.reply-to', () => {}, { noAck: true });
  });
  out.declare = await errorOf(url, (ch) => ch.checkQueue('amq.rabbitmq.reply-to'));
  out.unknown = await errorOf(url, (ch) => ch.checkQueue('amq.rabbitmq.reply-to.nonsense'));
  out.noPrevious = await errorOf(url, (ch) => ch.purgeQueue(''));
  return out;
}

async function policies({ url, http }) {
  const out = {};
  const put = (name, body) =>
    fetch(`${http}/api/policies/%2F/${name}`, { method: 'PUT', headers: auth, body: JSON.stringify(body) }).then(
      (r) => r.status,
    );
  const del = (name) =>
    fetch(`${http}/api/policies/%2F/${name}`, { method: 'DELETE', headers: auth }).then((r) => r.status);
  const c = await amqplib.connect(url);
  const ch = await c.createConfirmChannel();
  for (const q of ['d.a', 'd.b', 'd.c', 'd.dead1', 'd.dead2']) await ch.deleteQueue(q);
  await ch.assertQueue('d.dead1', { durable: false });
  await ch.assertQueue('d.dead2', { durable: false });
  await ch.assertQueue('d.a', {
    durable: false,
    arguments: { 'x-max-length': 5, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'd.dead1' },
  });
  await ch.assertQueue('d.b', { durable: false, arguments: { 'x-max-length': 1 } });
  await ch.assertQueue('d.c', { durable: false });
  for (const q of ['d.a', 'd.b', 'd.c']) for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(`${q}${i}`));
  await ch.waitForConfirms();
  out.put = await put('dp', {
    pattern: '^d\\.[abc]$',
    definition: { 'max-length': 2, 'dead-letter-exchange': '', 'dead-letter-routing-key': 'd.dead2' },
    'apply-to': 'queues',
    priority: 1,
  });
  await sleep(300);
  for (const q of ['d.a', 'd.b', 'd.c', 'd.dead1', 'd.dead2']) out[q] = (await ch.checkQueue(q)).messageCount;
  out.putHigher = await put('dp2', { pattern: '^d\\.c$', definition: { 'max-length': 1 }, priority: 5 });
  await sleep(300);
  out.higher = (await ch.checkQueue('d.c')).messageCount;
  out.bad = await fetch(`${http}/api/policies/%2F/bad`, {
    method: 'PUT',
    headers: auth,
    body: JSON.stringify({ pattern: '.*', definition: { 'max-length': 'x' } }),
  }).then((r) => r.status);
  out.del = [await del('dp'), await del('dp2'), await del('dp2')];
  for (let i = 0; i < 3; i++) ch.sendToQueue('d.c', Buffer.from('more'));
  await ch.waitForConfirms();
  out.afterDelete = (await ch.checkQueue('d.c')).messageCount;
  for (const q of ['d.a', 'd.b', 'd.c', 'd.dead1', 'd.dead2']) await ch.deleteQueue(q);
  await c.close();
  return out;
}

/** Queues, exchanges and bindings as the management API shows them (bindings sorted: orders differ). */
async function managementViews({ url, http }) {
  const c = await amqplib.connect(url);
  const ch = await c.createChannel();
  await ch.deleteQueue('d.m.q');
  await ch.assertQueue('d.m.q', { durable: false, arguments: { 'x-max-length': 10 } });
  const { queue: exclusive } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-message-ttl': 5000 } });
  await ch.assertExchange('d.m.x', 'topic', {
    durable: false,
    autoDelete: true,
    arguments: { 'alternate-exchange': 'amq.fanout' },
  });
  await ch.assertExchange('d.m.y', 'fanout', { durable: false, internal: true });
  await ch.bindQueue('d.m.q', 'd.m.x', 'a.#', { z: 1 });
  await ch.bindQueue('d.m.q', 'd.m.x', '');
  await ch.bindQueue(exclusive, 'd.m.x', 'e');
  await ch.bindExchange('d.m.y', 'd.m.x', 'k');
  const get = async (path) => {
    const r = await fetch(`${http}/api/${path}`, { headers: auth });
    return r.status === 200 ? r.json() : r.status;
  };
  const bindings = async (path) =>
    (await get(path))
      .map(({ properties_key: _key, destination, ...b }) => ({
        ...b,
        destination: destination === exclusive ? '(exclusive)' : destination,
      }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const flags = ({ type, durable, auto_delete, exclusive, internal, arguments: args }) => ({
    type,
    durable,
    auto_delete,
    exclusive,
    internal,
    arguments: args,
  });
  const out = {
    queue: flags(await get('queues/%2F/d.m.q')),
    exclusive: flags(await get(`queues/%2F/${exclusive}`)),
    exchange: flags(await get('exchanges/%2F/d.m.x')),
    internal: flags(await get('exchanges/%2F/d.m.y')),
    standard: flags(await get('exchanges/%2F/amq.topic')),
    queueBindings: await bindings('queues/%2F/d.m.q/bindings'),
    source: await bindings('exchanges/%2F/d.m.x/bindings/source'),
    destination: await bindings('exchanges/%2F/d.m.y/bindings/destination'),
    between: await bindings('bindings/%2F/e/d.m.x/q/d.m.q'),
  };
  await ch.deleteQueue('d.m.q');
  await ch.deleteExchange('d.m.x');
  await ch.deleteExchange('d.m.y');
  await c.close();
  return out;
}

const pick = (d) => ({
  queues: d.queues.filter((q) => q.name.startsWith('rt.')).sort((a, b) => a.name.localeCompare(b.name)),
  exchanges: d.exchanges.filter((x) => x.name.startsWith('rt.')).sort((a, b) => a.name.localeCompare(b.name)),
  bindings: d.bindings
    .filter((b) => b.source.startsWith('rt.'))
    .sort((a, b) => a.destination.localeCompare(b.destination)),
  policies: d.policies.filter((p) => p.name === 'rt'),
});

const warren = await startServer();
try {
  const w = { url: warren.url, http: warren.http };
  assert.deepEqual(await replyTo(w), await replyTo(rabbit), 'direct reply-to and the empty queue name');
  assert.deepEqual(await policies(w), await policies(rabbit), 'policies');
  assert.deepEqual(await managementViews(w), await managementViews(rabbit), 'the management API');

  const c = await amqplib.connect(rabbit.url);
  const ch = await c.createChannel();
  await ch.assertExchange('rt.x', 'topic', { durable: true, arguments: { 'alternate-exchange': 'amq.fanout' } });
  await ch.assertQueue('rt.q', { durable: true, arguments: { 'x-message-ttl': 60000, 'x-max-priority': 5 } });
  await ch.assertQueue('rt.qq', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 3 } });
  await ch.bindQueue('rt.q', 'rt.x', 'a.*', { k: 'v' });
  await ch.assertExchange('rt.y', 'fanout', { durable: true });
  await ch.bindExchange('rt.y', 'rt.x', '#');
  await fetch(`${rabbit.http}/api/policies/%2F/rt`, {
    method: 'PUT',
    headers: auth,
    body: JSON.stringify({ pattern: '^rt\\.', definition: { expires: 3600000 }, 'apply-to': 'queues', priority: 3 }),
  });
  const fromRabbit = await (await fetch(`${rabbit.http}/api/definitions`, { headers: auth })).json();
  const toWarren = await fetch(`${warren.http}/api/definitions`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify(fromRabbit),
  });
  assert.equal(toWarren.status, 204, await toWarren.text());
  // RabbitMQ's hash of guest's password now guards guest on Warren.
  assert.ok(fromRabbit.users.some((u) => u.name === 'guest' && u.password_hash));
  await (await amqplib.connect(warren.url)).close();
  await assert.rejects(amqplib.connect(warren.url.replace('guest:guest', 'guest:wrong')));
  const fromWarren = await (await fetch(`${warren.http}/api/definitions`, { headers: auth })).json();
  assert.deepEqual(pick(fromWarren), pick(fromRabbit), 'RabbitMQ -> Warren');
  await ch.deleteQueue('rt.q');
  await ch.deleteQueue('rt.qq');
  await ch.deleteExchange('rt.x');
  await ch.deleteExchange('rt.y');
  await c.close();
  await fetch(`${rabbit.http}/api/policies/%2F/rt`, { method: 'DELETE', headers: auth });
  const toRabbit = await fetch(`${rabbit.http}/api/definitions`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify(fromWarren),
  });
  assert.equal(toRabbit.status, 204, await toRabbit.text());
  const back = await (await fetch(`${rabbit.http}/api/definitions`, { headers: auth })).json();
  assert.deepEqual(pick(back), pick(fromRabbit), 'Warren -> RabbitMQ');
  // Warren's exported hash of guest's password is one RabbitMQ accepts.
  await (await amqplib.connect(rabbit.url)).close();
  console.log('differential: RabbitMQ and Warren agree');
} finally {
  await warren.stop();
}
