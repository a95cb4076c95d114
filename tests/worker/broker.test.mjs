// The Durable Object host under real workerd: amqp-client.js's
// AMQPWebSocketClient, unmodified, against /ws/amqp.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { counts, sleep, start, take, tmpDir, until } from './runtime.mjs';

let rt;
before(async () => {
  rt = await start({ persistDir: tmpDir() });
});
after(() => rt?.stop());

test('declare, publish with confirms, consume with manual acks', async () => {
  const c = await rt.client();
  const ch = await c.channel();
  await ch.confirmSelect();
  await ch.queueDeclare('tasks', { durable: true });
  const bodies = Array.from({ length: 50 }, (_, i) => `task ${i}`);
  await Promise.all(bodies.map((b) => ch.basicPublish('', 'tasks', b, { deliveryMode: 2 })));

  await ch.prefetch(10);
  const got = [];
  await new Promise((resolve, reject) => {
    ch.basicConsume('tasks', { noAck: false }, async (m) => {
      got.push(m.bodyToString());
      await m.ack();
      if (got.length === bodies.length) resolve();
    }).catch(reject);
    setTimeout(() => reject(new Error(`got ${got.length} of ${bodies.length}`)), 10000);
  });
  assert.deepEqual(got, bodies);
  await c.close();
  const q = await until(
    async () => {
      const q = counts(await rt.debug(), 'tasks');
      return q.ready === 0 && q.unacked === 0 && q;
    },
    { what: 'the acks to settle' },
  );
  assert.equal(q.consumers, 0);
});

test('a socket closed before the ack: the message goes to a second client, redelivered', async () => {
  const a = await rt.client();
  const cha = await a.channel();
  await cha.queueDeclare('handoff', { durable: true });
  await cha.confirmSelect();
  await cha.basicPublish('', 'handoff', 'only once acked', { deliveryMode: 2 });
  const [first] = await take(cha, 'handoff', 1);
  assert.equal(first.redelivered, false);
  // No ack, no AMQP close: the transport just goes away.
  a.socket.close();

  const b = await rt.client();
  const chb = await b.channel();
  const [again] = await take(chb, 'handoff', 1);
  assert.equal(again.bodyToString(), 'only once acked');
  assert.equal(again.redelivered, true);
  await again.ack();
  await b.close();
});

test('a TTL message is dead-lettered by the alarm while no client is connected', async () => {
  const vhost = 'ttl';
  const c = await rt.client(vhost);
  const ch = await c.channel();
  await ch.exchangeDeclare('dlx', 'fanout', { durable: true });
  await ch.queueDeclare('dead', { durable: true });
  await ch.queueBind('dead', 'dlx', '');
  await ch.queueDeclare('short', { durable: true }, { 'x-message-ttl': 1500, 'x-dead-letter-exchange': 'dlx' });
  await ch.confirmSelect();
  await ch.basicPublish('', 'short', 'expires', { deliveryMode: 2 });
  await c.close();

  // Nothing touches the object until well past the TTL: only its alarm can act.
  await sleep(3000);
  const stats = await rt.debug(vhost);
  assert.equal(stats.sockets, 0);
  assert.ok(stats.alarms >= 1, `alarms run: ${stats.alarms}`);
  assert.equal(counts(stats, 'short').ready, 0);
  assert.equal(counts(stats, 'dead').ready, 1);

  const c2 = await rt.client(vhost);
  const ch2 = await c2.channel();
  const m = await ch2.basicGet('dead', { noAck: true });
  assert.equal(m.bodyToString(), 'expires');
  assert.equal(m.properties.headers['x-death'][0].reason, 'expired');
  await c2.close();
});

test('each vhost is its own object; a connection may open only the vhost of its path', async () => {
  const c = await rt.client('tenant-a');
  const ch = await c.channel();
  await ch.queueDeclare('mine', { durable: false });
  await c.close();
  assert.ok(counts(await rt.debug('tenant-a'), 'mine'));
  assert.equal(counts(await rt.debug('/'), 'mine'), null);

  const wrong = new (await import('@cloudamqp/amqp-client')).AMQPWebSocketClient({
    url: rt.ws('tenant-a'),
    vhost: '/',
    username: 'guest',
    password: 'guest',
  });
  await assert.rejects(wrong.connect(), /access|not allowed|vhost|530/i);
});

test('a body over the size limit is refused with 406 before it is buffered', async () => {
  const c = await rt.client();
  const ch = await c.channel();
  await ch.queueDeclare('big', { durable: false });
  await ch.confirmSelect();
  await assert.rejects(ch.basicPublish('', 'big', new Uint8Array(1024 * 1024 + 1)), /406|PRECONDITION|size/i);
  // The connection lives on.
  const ch2 = await c.channel();
  await ch2.basicPublish('', 'big', new Uint8Array(1024 * 1024));
  await until(async () => counts(await rt.debug(), 'big').ready === 1, { what: 'the 1 MiB message' });
  await c.close();
});

test('the tutorial page is served from static assets; plain HTTP on /ws/amqp is told to upgrade', async () => {
  const page = await fetch(rt.url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  // What the page loads: the browser build and the engine, beside it.
  assert.equal((await fetch(new URL('/js/entry-browser.js', rt.url))).status, 200);
  const wasm = await fetch(new URL('/pkg/warren_bg.wasm', rt.url));
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  await wasm.arrayBuffer();
  assert.equal((await fetch(new URL('/js/worker/index.js', rt.url))).status, 404);
  assert.equal((await fetch(new URL('/ws/amqp', rt.url))).status, 426);
});

test("browsers from other origins are refused; the Worker's own page is allowed", async () => {
  const open = (origin) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(rt.ws(), [], { origin });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  await assert.rejects(open('http://evil.example'), /403/);
  (await open(rt.url.origin)).close();
});

test('a subprotocol amqp* is echoed only when the client offers it', async () => {
  const open = (protocols) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(rt.ws(), protocols);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  const plain = await open([]);
  assert.equal(plain.protocol, '');
  plain.close();
  const offered = await open(['mqtt', 'amqp']);
  assert.equal(offered.protocol, 'amqp');
  offered.close();
});

test('direct reply-to on the edge: RPC without a reply queue, and a mandatory reply to a requester gone', async () => {
  const responder = await rt.client();
  const rch = await responder.channel();
  await rch.queueDeclare('edge-rpc');
  const returned = [];
  rch.onReturn = (m) => returned.push([m.replyCode, m.bodyToString()]);
  let replyTo;
  await rch.basicConsume('edge-rpc', { noAck: true }, async (req) => {
    replyTo = req.properties.replyTo;
    await rch.basicPublish('', replyTo, `echo ${req.bodyToString()}`, { correlationId: req.properties.correlationId });
  });
  const requester = await rt.client();
  const qch = await requester.channel();
  const replies = [];
  await qch.basicConsume('amq.rabbitmq.reply-to', { noAck: true }, (m) =>
    replies.push([m.bodyToString(), m.properties.correlationId]),
  );
  await qch.basicPublish('', 'edge-rpc', 'ping', { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'e1' });
  await until(() => replies.length === 1, { what: 'the reply' });
  assert.deepEqual(replies, [['echo ping', 'e1']]);
  assert.match(replyTo, /^amq\.rabbitmq\.reply-to\./);
  await requester.close();
  await rch.basicPublish('', replyTo, 'too late', {}, true);
  await until(() => returned.length === 1, { what: 'the return' });
  assert.deepEqual(returned, [[312, 'too late']]);
  assert.deepEqual(
    (await rt.debug()).snapshot.queues.map((q) => q.name).filter((n) => n.startsWith('amq.')),
    [],
  );
  await responder.close();
});

test('consume-ok reaches the client before the first delivery: the await-then-cancel pattern', async () => {
  const total = 20_000;
  const filler = await rt.client();
  const fch = await filler.channel();
  await fch.queueDeclare('edge-backlog');
  await fch.confirmSelect();
  for (let sent = 0; sent < total;) {
    const batch = [];
    for (let i = 0; i < 2000 && sent < total; i++, sent++) batch.push(fch.basicPublish('', 'edge-backlog', `m${sent}`));
    await Promise.all(batch);
  }
  await filler.close();
  const c = await rt.client();
  const ch = await c.channel();
  let n = 0;
  let finish;
  const done = new Promise((resolve, reject) => {
    finish = resolve;
    setTimeout(() => reject(new Error(`got ${n} of ${total}`)), 30_000).unref();
  });
  const consumer = await ch.basicConsume('edge-backlog', { noAck: true }, () => {
    if (++n === total) consumer.cancel().then(finish);
  });
  await done;
  assert.equal(n, total);
  await c.close();
});
