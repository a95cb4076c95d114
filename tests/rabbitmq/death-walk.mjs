// Seeded random walks of dead-lettering across queues, the same on a real
// RabbitMQ and on `warren-mq serve` (not part of `npm test`: it needs
// RabbitMQ). Each walk declares four queues, each dead-lettering onwards to
// a later one or to itself, by the message's key or a random override, or
// nowhere, some with a length limit; then it publishes (some messages
// expiring at once into an empty queue), gets and rejects without requeue,
// and at the end drains every queue and compares each message's body,
// headers of death (`x-death` as queue, reason, count and routing keys, and
// `x-first-death-*`) and routing key. The first walk where the brokers part
// is printed with its seed.
//
// usage: node tests/rabbitmq/death-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]
//   (defaults: 100 walks from seed 1, 30 steps each; queues dl.* on vhost /)
import amqplib from 'amqplib';
import { random, runWalks, sleep } from './walks.mjs';

const [amqpPort, walks = '100', firstSeed = '1', steps = '30'] = process.argv.slice(2);
if (!Number(amqpPort)) {
  console.error('usage: node tests/rabbitmq/death-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]');
  process.exit(2);
}

const QUEUES = 4;
const name = (i) => `dl.q${i}`;

/** The queues' arguments and the steps of one walk. */
function plan(seed, count) {
  const r = random(seed);
  const queues = Array.from({ length: QUEUES }, (_, i) => {
    const args = {};
    if (r.chance(0.8)) {
      // Through the default exchange: by its key, or by the message's own.
      // Onwards only, or back to itself: in a cycle of full queues
      // RabbitMQ's queues pass dead letters back and forth concurrently,
      // in no order a walk could replay.
      args['x-dead-letter-exchange'] = '';
      if (r.chance(0.7)) args['x-dead-letter-routing-key'] = name(i + r.int(QUEUES - i));
    }
    if (r.chance(0.4)) {
      args['x-max-length'] = 1 + r.int(3);
      args['x-overflow'] = 'drop-head';
    }
    return args;
  });
  const ops = Array.from({ length: count }, () => {
    const op = r.pick(['publish', 'publish', 'expiring', 'reject', 'reject']);
    return { op, q: r.int(QUEUES) };
  });
  return { queues, ops };
}

/** What a client sees of a dead message. */
function seen(m) {
  const h = m.properties.headers ?? {};
  const deaths = (h['x-death'] ?? []).map((d) => `${d.queue}:${d.reason}:${d.count}:${d['routing-keys']}`);
  // The latest first, the rest in any order: RabbitMQ 3.10 reverses the
  // older entries at each death (README).
  deaths.splice(1, Infinity, ...deaths.slice(1).sort());
  return [
    m.content.toString(),
    m.fields.routingKey,
    deaths,
    h['x-first-death-queue'] ?? null,
    h['x-first-death-reason'] ?? null,
  ];
}

/** One walk on the broker at `url`: what each queue holds at the end. */
async function walk(url, seed, count) {
  const { queues, ops } = plan(seed, count);
  const c = await amqplib.connect(url);
  c.on('error', () => {});
  const ch = await c.createConfirmChannel();
  let closed = null;
  ch.on('error', (e) => (closed = e.message));
  try {
    for (let i = 0; i < QUEUES; i++) await ch.deleteQueue(name(i));
    for (let i = 0; i < QUEUES; i++) await ch.assertQueue(name(i), { durable: false, arguments: queues[i] });
    let published = 0;
    for (const { op, q } of ops) {
      if (op === 'publish' || op === 'expiring') {
        // A TTL of 0 only into an empty queue: behind other messages RabbitMQ
        // keeps it until it reaches the head, Warren does not (README).
        const empty = op === 'expiring' && (await ch.checkQueue(name(q))).messageCount === 0;
        const options = empty ? { expiration: '0' } : {};
        ch.publish('', name(q), Buffer.from(`m${published++}`), options);
        await ch.waitForConfirms();
      } else {
        const m = await ch.get(name(q));
        if (m) ch.reject(m, false);
        // Let the dead letter land before the next step.
        await ch.checkQueue(name(q));
        await sleep(20);
      }
    }
    const out = [];
    for (let i = 0; i < QUEUES; i++) {
      const held = [];
      for (let m; (m = await ch.get(name(i), { noAck: true }));) held.push(seen(m));
      out.push(held);
    }
    for (let i = 0; i < QUEUES; i++) await ch.deleteQueue(name(i));
    await c.close();
    return out;
  } catch (e) {
    await c.close().catch(() => {});
    return [`failed: ${closed ?? e.message}`];
  }
}

/** The queues, and each queue where the brokers part. */
function show(fromRabbit, fromWarren, seed) {
  console.log(`  queues ${JSON.stringify(plan(seed, 0).queues)}`);
  fromRabbit.forEach((held, q) => {
    if (JSON.stringify(held) === JSON.stringify(fromWarren[q])) return;
    console.log(`  ${name(q)}: RabbitMQ ${JSON.stringify(held)}\n         Warren   ${JSON.stringify(fromWarren[q])}`);
  });
}

const died = (held) => held.flat().filter((m) => Array.isArray(m) && m[2].length).length;
died.what = 'messages that died';
await runWalks({
  label: 'death walks',
  amqpPort,
  walks,
  firstSeed,
  walk: (url, seed) => walk(url, seed, Number(steps)),
  show,
  tally: died,
});
