// Seeded random topology, the same on a real RabbitMQ and on `warren-mq serve`
// (not part of `npm test`: it needs RabbitMQ). Two connections take random
// steps over four queues and three exchanges: declares (durable, exclusive,
// auto-delete, passive, with arguments), deletes (if-unused, if-empty),
// queue and exchange bindings and their removal, mandatory publishes with
// confirms, gets, consumers (exclusive or not) and their cancels, purges, and the
// close of a connection. Each step's reply is compared: its counts, or the
// code and text of the error it raised. After an error the walk opens a new
// channel (or connection) and goes on. At the end what each consumer got,
// what was returned, and which queues and exchanges are left are compared.
// The first step where the brokers part is printed with the walk's seed,
// which replays it.
//
// usage: node tests/rabbitmq/topology-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]
//   (defaults: 100 walks from seed 1, 40 steps each; queues and exchanges tw.* on vhost /)
import amqplib from 'amqplib';
import { random, runWalks, sleep } from './walks.mjs';

const [amqpPort, walks = '100', firstSeed = '1', steps = '40'] = process.argv.slice(2);
if (!Number(amqpPort)) {
  console.error('usage: node tests/rabbitmq/topology-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]');
  process.exit(2);
}

const QUEUES = ['tw.q0', 'tw.q1', 'tw.q2', 'tw.q3'];
const EXCHANGES = ['tw.e0', 'tw.e1', 'tw.e2'];
const KEYS = ['a', 'b', 'tw.q0', 'tw.q1'];

/** A queue declare's options: flags and a few arguments. */
function queueOptions(r) {
  const args = {};
  if (r.chance(0.2)) args['x-max-length'] = 1 + r.int(3);
  if (r.chance(0.2)) args['x-dead-letter-exchange'] = r.pick(EXCHANGES);
  if (r.chance(0.1)) args['x-queue-type'] = r.pick(['classic', 'quorum']);
  return {
    durable: r.chance(0.3),
    exclusive: r.chance(0.3),
    autoDelete: r.chance(0.3),
    arguments: args,
  };
}

/** An exchange declare's type and options. */
function exchangeOptions(r) {
  const args = {};
  if (r.chance(0.2)) args['alternate-exchange'] = r.pick(EXCHANGES);
  return {
    type: r.pick(['direct', 'fanout', 'topic', 'headers']),
    options: { durable: r.chance(0.3), autoDelete: r.chance(0.3), internal: r.chance(0.1), arguments: args },
  };
}

/** One walk on the broker at `url`: the list of what each step showed. */
async function walk(url, seed, count) {
  const r = random(seed);
  const trace = [];
  const got = {};
  const returned = [];
  // Each side: its connection, its channel, and its consumers' tags.
  const sides = [{}, {}];
  const open = async (side) => {
    if (!side.conn) {
      side.conn = await amqplib.connect(url);
      side.conn.on('error', () => {});
      side.conn.on('close', () => (side.conn = side.ch = null));
      side.tags = [];
    }
    side.ch = await side.conn.createConfirmChannel();
    side.ch.on('error', () => {});
    side.ch.on('close', () => {
      side.ch = null;
      side.tags = [];
    });
    side.ch.on('return', (m) => returned.push([m.fields.exchange, m.fields.routingKey, m.content.toString()]));
  };
  /** Runs a step's call; an error is its reply, and the side gets a new channel. */
  const step = async (side, what, call) => {
    try {
      trace.push([...what, (await call(side.ch)) ?? 'ok']);
    } catch (e) {
      trace.push([...what, String(e.message)]);
      // RabbitMQ ends a queue's consumers and exclusive queues as processes do: give it a moment.
      await sleep(20);
      await open(side);
    }
  };
  try {
    for (const s of sides) await open(s);
    for (const q of QUEUES) await sides[0].ch.deleteQueue(q);
    for (const e of EXCHANGES) await sides[0].ch.deleteExchange(e);
    let published = 0;
    for (let i = 0; i < count; i++) {
      const s = r.int(2);
      const side = sides[s];
      const q = r.pick(QUEUES);
      const e = r.pick(EXCHANGES);
      const op = r.pick([
        ...['declareQueue', 'declareQueue', 'checkQueue', 'deleteQueue', 'purge'],
        ...['declareExchange', 'declareExchange', 'checkExchange', 'deleteExchange'],
        ...['bindQueue', 'bindQueue', 'unbindQueue', 'bindExchange', 'unbindExchange'],
        ...['publish', 'publish', 'publish', 'get', 'consume', 'consume', 'cancel', 'reconnect'],
      ]);
      if (op === 'declareQueue') {
        const o = queueOptions(r);
        const passive = r.chance(0.15);
        await step(side, [s, op, q, o, passive], async (ch) => {
          const ok = passive ? await ch.checkQueue(q) : await ch.assertQueue(q, o);
          return [ok.messageCount, ok.consumerCount];
        });
      } else if (op === 'checkQueue') {
        await step(side, [s, op, q], async (ch) => {
          const ok = await ch.checkQueue(q);
          return [ok.messageCount, ok.consumerCount];
        });
      } else if (op === 'deleteQueue') {
        const o = { ifUnused: r.chance(0.4), ifEmpty: r.chance(0.4) };
        await step(side, [s, op, q, o], async (ch) => (await ch.deleteQueue(q, o)).messageCount);
        await sleep(20);
      } else if (op === 'purge') {
        await step(side, [s, op, q], async (ch) => (await ch.purgeQueue(q)).messageCount);
      } else if (op === 'declareExchange') {
        const { type, options } = exchangeOptions(r);
        const passive = r.chance(0.15);
        await step(side, [s, op, e, type, options, passive], async (ch) => {
          if (passive) await ch.checkExchange(e);
          else await ch.assertExchange(e, type, options);
        });
      } else if (op === 'checkExchange') {
        await step(side, [s, op, e], (ch) => ch.checkExchange(e).then(() => 'ok'));
      } else if (op === 'deleteExchange') {
        const o = { ifUnused: r.chance(0.5) };
        await step(side, [s, op, e, o], (ch) => ch.deleteExchange(e, o).then(() => 'ok'));
      } else if (op === 'bindQueue' || op === 'unbindQueue') {
        const key = r.pick(KEYS);
        const how = op === 'bindQueue' ? 'bindQueue' : 'unbindQueue';
        await step(side, [s, op, q, e, key], (ch) => ch[how](q, e, key).then(() => 'ok'));
        await sleep(10);
      } else if (op === 'bindExchange' || op === 'unbindExchange') {
        const src = r.pick(EXCHANGES);
        const key = r.pick(KEYS);
        const how = op === 'bindExchange' ? 'bindExchange' : 'unbindExchange';
        await step(side, [s, op, e, src, key], (ch) => ch[how](e, src, key).then(() => 'ok'));
        await sleep(10);
      } else if (op === 'publish') {
        const to = r.chance(0.3) ? '' : e;
        const key = r.pick(KEYS);
        const body = `m${published++}`;
        await step(side, [s, op, to, key, body], (ch) => {
          ch.publish(to, key, Buffer.from(body), { mandatory: true });
          return ch.waitForConfirms().then(() => 'confirmed');
        });
      } else if (op === 'get') {
        await step(side, [s, op, q], async (ch) => {
          const m = await ch.get(q, { noAck: true });
          return m ? [m.content.toString(), m.fields.exchange, m.fields.routingKey, m.fields.messageCount] : 'empty';
        });
      } else if (op === 'consume') {
        const o = { exclusive: r.chance(0.3), noAck: true };
        const tag = `c${i}`;
        await step(side, [s, op, q, o], async (ch) => {
          got[tag] = [];
          await ch.consume(q, (m) => m && got[tag].push(m.content.toString()), { ...o, consumerTag: tag });
          side.tags.push(tag);
        });
        await sleep(20);
      } else if (op === 'cancel') {
        if (!side.tags.length) continue;
        const tag = r.pick(side.tags);
        side.tags = side.tags.filter((t) => t !== tag);
        await step(side, [s, op, tag], (ch) => ch.cancel(tag).then(() => 'ok'));
        await sleep(20);
      } else if (op === 'reconnect') {
        // A connection's close ends its consumers and its exclusive queues.
        await side.conn.close();
        await sleep(30);
        await open(side);
        trace.push([s, op]);
      }
    }
    for (const s of sides) await s.conn?.close();
    await sleep(30);
    await open(sides[0]);
    const left = [];
    for (const q of QUEUES) {
      await step(sides[0], ['left', q], async (ch) => {
        const ok = await ch.checkQueue(q);
        return [ok.messageCount, ok.consumerCount];
      });
    }
    for (const e of EXCHANGES) await step(sides[0], ['left', e], (ch) => ch.checkExchange(e).then(() => 'ok'));
    for (const q of QUEUES) await sides[0].ch.deleteQueue(q);
    for (const e of EXCHANGES) await sides[0].ch.deleteExchange(e);
    trace.push(['got', got], ['returned', returned], ...left);
  } catch (e) {
    trace.push(['failed', String(e.message)]);
  }
  for (const s of sides) await s.conn?.close().catch(() => {});
  return trace;
}

await runWalks({
  label: 'topology walks',
  amqpPort,
  walks,
  firstSeed,
  walk: (url, seed) => walk(url, seed, Number(steps)),
});
