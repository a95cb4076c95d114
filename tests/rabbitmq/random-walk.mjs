// Random walks of queue operations, the same on a real RabbitMQ and on
// `warren-mq serve` (not part of `npm test`: it needs RabbitMQ). Each walk
// declares a queue with random limits, overflow, priorities and
// dead-lettering, then runs random publishes (with confirms, some with a TTL
// of 0), gets (acked or not), acks, nacks and rejects (single and multiple,
// requeued or not), consumers that take up to their prefetch and cancel,
// recovers, channel closes that requeue, purges and counts, and drains both
// queues at the end. One walk in four runs in a transaction (tx.select
// instead of confirms): its publishes, acks, nacks and rejects wait for a
// random commit or rollback, and the channel's close drops what is
// uncommitted. What a client
// sees at every step is compared; the first step where the brokers part is
// printed with the walk's seed, which replays it.
//
// usage: node tests/rabbitmq/random-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]
//   (defaults: 100 walks from seed 1, 40 steps each; queues rw.* on vhost /)
import { createRequire } from 'node:module';
import amqplib from 'amqplib';
import { random, runWalks, sleep } from './walks.mjs';

const [amqpPort, walks = '100', firstSeed = '1', steps = '40'] = process.argv.slice(2);
if (!Number(amqpPort)) {
  console.error('usage: node tests/rabbitmq/random-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]');
  process.exit(2);
}

// amqplib's method definitions: its channel API has no tx methods.
const defs = createRequire(import.meta.url)('amqplib/lib/defs');
const txRpc = (ch, method) =>
  new Promise((resolve, reject) => ch._rpc(defs[method], {}, defs[`${method}Ok`], (e) => (e ? reject(e) : resolve())));

/** The queue's arguments for a walk. */
function queueArgs(r) {
  const args = {};
  if (r.chance(0.6)) {
    args['x-max-length'] = 1 + r.int(5);
    args['x-overflow'] = r.pick(['drop-head', 'reject-publish', 'reject-publish-dlx']);
  }
  if (r.chance(0.3)) args['x-max-length-bytes'] = 4 + r.int(9);
  if (r.chance(0.4)) args['x-max-priority'] = 3;
  if (r.chance(0.6)) {
    args['x-dead-letter-exchange'] = '';
    args['x-dead-letter-routing-key'] = 'rw.dlq';
  }
  return args;
}

/** What a client sees of a message: its body, flags, count, priority and deaths (without their time). */
function seen(m) {
  if (!m) return null;
  const deaths = m.properties.headers?.['x-death']?.map((d) => `${d.queue}:${d.reason}:${d.count}`);
  return [m.content.toString(), m.fields.redelivered, m.fields.messageCount, m.properties.priority, deaths];
}

/** One walk on the broker at `url`: the list of what each step showed. */
async function walk(url, seed, count) {
  const r = random(seed);
  // From a generator of its own, so that walks without one replay as before.
  const tx = random(seed ^ 0x5bd1e995).chance(0.25);
  const c = await amqplib.connect(url);
  c.on('error', () => {});
  let closed = null;
  const open = async () => {
    const channel = tx ? await c.createChannel() : await c.createConfirmChannel();
    channel.on('error', (e) => (closed = e.message));
    if (tx) await txRpc(channel, 'TxSelect');
    return channel;
  };
  let ch = await open();
  const trace = tx ? [['tx.select']] : [];
  // What this walk's transaction has settled but not committed: a rollback gives it back.
  let uncommitted = [];
  /** A publish's outcome: its confirm, or 'tx' when a commit is to decide. */
  const send = (body, options) =>
    tx
      ? (ch.sendToQueue('rw.q', Buffer.from(body), options), 'tx')
      : new Promise((resolve) =>
          ch.sendToQueue('rw.q', Buffer.from(body), options, (e) => resolve(e ? 'nack' : 'ack')),
        );
  try {
    for (const q of ['rw.q', 'rw.dlq']) await ch.deleteQueue(q);
    const args = queueArgs(r);
    trace.push(['declare', args]);
    await ch.assertQueue('rw.dlq', { durable: false });
    await ch.assertQueue('rw.q', { durable: false, arguments: args });
    let unacked = [];
    let published = 0;
    const settle = (m, multiple) =>
      (unacked = unacked.filter((u) => (multiple ? u.fields.deliveryTag > m.fields.deliveryTag : u !== m)));
    for (let i = 0; i < count && !closed; i++) {
      const op = r.pick([
        ...['publish', 'publish', 'publish', 'expiring', 'get', 'get', 'getNoAck'],
        ...['ack', 'nack', 'reject', 'recover', 'reopen', 'count', 'purge', 'consume'],
        ...(tx ? ['commit', 'commit', 'rollback'] : []),
      ]);
      if (op === 'publish') {
        const body = `m${published++}`;
        const priority = r.chance(0.5) ? r.int(5) : undefined;
        trace.push([op, body, priority, await send(body, { priority })]);
      } else if (op === 'expiring') {
        // A TTL of 0 into an empty queue with no consumer: it expires at once,
        // dead-lettered where the queue says. (Behind other messages RabbitMQ
        // keeps it until it reaches the head; Warren does not: README.) In a
        // transaction, commits around it keep what is pending out of its way.
        const commit = async () => {
          await txRpc(ch, 'TxCommit');
          uncommitted = [];
          await sleep(30);
        };
        if (tx) await commit();
        const purged = (await ch.purgeQueue('rw.q')).messageCount;
        const body = `m${published++}`;
        trace.push([op, purged, body, await send(body, { expiration: '0' })]);
        if (tx) await commit();
      } else if (op === 'get' || op === 'getNoAck') {
        const m = await ch.get('rw.q', { noAck: op === 'getNoAck' });
        if (m && op === 'get') unacked.push(m);
        trace.push([op, seen(m)]);
      } else if (op === 'consume') {
        // A consumer with a prefetch of 1 to 3 takes what it may, then cancels;
        // what it took stays unacked on the channel.
        const prefetch = 1 + r.int(3);
        const got = [];
        await ch.prefetch(prefetch);
        const { consumerTag } = await ch.consume('rw.q', (m) => m && got.push(m));
        await sleep(50);
        await ch.cancel(consumerTag);
        unacked.push(...got);
        trace.push([op, prefetch, got.map(seen)]);
      } else if (op === 'reopen') {
        // A channel's close requeues what it had unacked, in its original place.
        await ch.close();
        ch = await open();
        unacked = [];
        uncommitted = [];
        trace.push([op]);
        await sleep(30);
      } else if (op === 'recover') {
        await ch.recover();
        unacked = [];
        await sleep(30);
        trace.push([op]);
      } else if (op === 'count') {
        const q = await ch.checkQueue('rw.q');
        trace.push([op, q.messageCount]);
      } else if (op === 'commit' || op === 'rollback') {
        await txRpc(ch, op === 'commit' ? 'TxCommit' : 'TxRollback');
        // A rollback leaves what the transaction settled unacked again.
        if (op === 'rollback') unacked = [...unacked, ...uncommitted];
        uncommitted = [];
        await sleep(30);
        trace.push([op]);
      } else if (op === 'purge') {
        trace.push([op, (await ch.purgeQueue('rw.q')).messageCount]);
      } else if (unacked.length) {
        const m = r.pick(unacked);
        const multiple = r.chance(0.3);
        const requeue = r.chance(0.5);
        if (op === 'ack') ch.ack(m, multiple);
        else if (op === 'nack') ch.nack(m, multiple, requeue);
        else ch.reject(m, requeue);
        const before = unacked;
        settle(m, op !== 'reject' && multiple);
        if (tx) uncommitted.push(...before.filter((u) => !unacked.includes(u)));
        trace.push([op, m.content.toString(), multiple, op === 'ack' ? undefined : requeue]);
        // RabbitMQ settles asynchronously: a count or get sent at once can miss a requeue.
        await sleep(30);
      }
    }
    // Whatever is still unacked goes back with the channel's close.
    if (!closed) {
      await ch.close();
      const end = await c.createChannel();
      const drain = async (q) => {
        const out = [];
        for (let m; (m = await end.get(q, { noAck: true }));) out.push(seen(m));
        return out;
      };
      trace.push(['left', await drain('rw.q')], ['dead', await drain('rw.dlq')]);
      for (const q of ['rw.q', 'rw.dlq']) await end.deleteQueue(q);
    }
  } catch (e) {
    trace.push(['failed', String(e.message)]);
  }
  if (closed) trace.push(['channel closed', closed]);
  await c.close().catch(() => {});
  return trace;
}

await runWalks({
  label: 'random walks',
  amqpPort,
  walks,
  firstSeed,
  walk: (url, seed) => walk(url, seed, Number(steps)),
});
