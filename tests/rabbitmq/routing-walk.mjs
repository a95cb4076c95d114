// Seeded random routing, the same on a real RabbitMQ and on `warren-mq serve`
// (not part of `npm test`: it needs RabbitMQ). Each walk binds six queues to
// a topic exchange with random patterns (`*`, `#`, empty words, repeats) and
// to a headers exchange with random `x-match` arguments, unbinds some, then
// publishes messages with random routing keys and headers and compares which
// queues got which messages, in order. The first walk where the brokers part
// is printed with its seed, which replays it.
//
// usage: node tests/rabbitmq/routing-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED]
//   (defaults: 100 walks from seed 1; exchanges and queues rt.* on vhost /)
import amqplib from 'amqplib';
import { random, runWalks } from './walks.mjs';

const [amqpPort, walks = '100', firstSeed = '1'] = process.argv.slice(2);
if (!Number(amqpPort)) {
  console.error('usage: node tests/rabbitmq/routing-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED]');
  process.exit(2);
}

const QUEUES = 6;
const MESSAGES = 30;

/** 0 to 5 words from `words`, joined by dots: '' and 'a..b' among them. */
const dotted = (r, words) => Array.from({ length: r.int(6) }, () => r.pick(words)).join('.');

/** A headers table of 0 to 3 keys; values of the kinds both brokers compare alike. */
function headers(r) {
  const out = {};
  const values = [1, 2, 'v', 'w', true, null, [1, 'v'], { a: 1 }];
  for (let n = r.int(4); n > 0; n--) out[r.pick(['k1', 'k2', 'k3', 'x-k'])] = r.pick(values);
  return out;
}

/** The bindings, unbinds and messages of one walk. */
function plan(seed) {
  const r = random(seed);
  const bindings = [];
  for (let q = 0; q < QUEUES; q++) {
    for (let n = 1 + r.int(2); n > 0; n--) bindings.push({ q, topic: dotted(r, ['a', 'b', '*', '#', '', 'a*', '#b']) });
    for (let n = r.int(2); n > 0; n--) {
      const args = headers(r);
      if (r.chance(0.8)) args['x-match'] = r.pick(['all', 'any', 'all-with-x', 'any-with-x']);
      bindings.push({ q, headers: args });
    }
  }
  // Some bindings go again; a third of them are removed.
  const again = bindings.filter(() => r.chance(0.1));
  const unbinds = bindings.filter(() => r.chance(0.3));
  const messages = Array.from({ length: MESSAGES }, (_, i) => ({
    body: `m${i}`,
    key: dotted(r, ['a', 'b', 'c', '', 'a*', '#b']),
    headers: headers(r),
  }));
  return { bindings: [...bindings, ...again], unbinds, messages };
}

/** One walk on the broker at `url`: each queue's messages, in order. */
async function walk(url, seed) {
  const { bindings, unbinds, messages } = plan(seed);
  const c = await amqplib.connect(url);
  c.on('error', () => {});
  const ch = await c.createConfirmChannel();
  let closed = null;
  ch.on('error', (e) => (closed = e.message));
  const queue = (q) => `rt.q${q}`;
  const bind = (b, how) =>
    b.topic !== undefined ? how(queue(b.q), 'rt.t', b.topic) : how(queue(b.q), 'rt.h', '', b.headers);
  try {
    await ch.assertExchange('rt.t', 'topic', { durable: false });
    await ch.assertExchange('rt.h', 'headers', { durable: false });
    for (let q = 0; q < QUEUES; q++) {
      await ch.deleteQueue(queue(q));
      await ch.assertQueue(queue(q), { durable: false });
    }
    for (const b of bindings) await bind(b, (...a) => ch.bindQueue(...a));
    for (const b of unbinds) await bind(b, (...a) => ch.unbindQueue(...a));
    for (const m of messages) {
      ch.publish('rt.t', m.key, Buffer.from(`${m.body}t`), { headers: m.headers });
      ch.publish('rt.h', m.key, Buffer.from(`${m.body}h`), { headers: m.headers });
    }
    await ch.waitForConfirms();
    const got = [];
    for (let q = 0; q < QUEUES; q++) {
      const bodies = [];
      for (let m; (m = await ch.get(queue(q), { noAck: true }));) bodies.push(m.content.toString());
      got.push(bodies);
      await ch.deleteQueue(queue(q));
    }
    await ch.deleteExchange('rt.t');
    await ch.deleteExchange('rt.h');
    await c.close();
    return got;
  } catch (e) {
    await c.close().catch(() => {});
    return [`failed: ${closed ?? e.message}`];
  }
}

/** Each queue where the brokers part: what each got, and what only one did. */
function show(fromRabbit, fromWarren, seed) {
  const { bindings, unbinds, messages } = plan(seed);
  console.log(`  bindings ${JSON.stringify(bindings)}\n  unbinds  ${JSON.stringify(unbinds)}`);
  fromRabbit.forEach((bodies, q) => {
    if (JSON.stringify(bodies) === JSON.stringify(fromWarren[q])) return;
    const only = (a, b) => a.filter((x) => !b.includes(x)).map((x) => JSON.stringify(messages[parseInt(x.slice(1))]));
    console.log(
      `  queue ${q}: RabbitMQ ${JSON.stringify(bodies)}\n           Warren   ${JSON.stringify(fromWarren[q])}`,
    );
    console.log(`    only RabbitMQ: ${only(bodies, fromWarren[q] ?? []).join(' ')}`);
    console.log(`    only Warren:   ${only(fromWarren[q] ?? [], bodies).join(' ')}`);
  });
}

const deliveries = (got) => got.flat().length;
deliveries.what = 'deliveries';
await runWalks({ label: 'routing walks', amqpPort, walks, firstSeed, walk, show, tally: deliveries });
