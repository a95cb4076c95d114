// Seeded random channel states, the same on a real RabbitMQ and on
// `warren-mq serve` (not part of `npm test`: it needs RabbitMQ). One channel
// takes random steps on a queue: publishes, gets, acks, nacks and rejects of
// tags it holds, has settled already or never had (single and multiple, tag
// 0 among them), consumers with tags that may clash and their cancels, qos
// (per consumer and channel-wide), recovers, tx.select, commits and
// rollbacks, confirm.select, and reopening the channel. Each step's reply or
// error (code and text) is compared, and what the consumers got after it.
// After an error the walk opens a new channel (and connection) and goes on.
// The first step where the brokers part is printed with the walk's seed,
// which replays it.
//
// usage: node tests/rabbitmq/channel-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]
//   (defaults: 100 walks from seed 1, 40 steps each; queue cw.q on vhost /)
import { createRequire } from 'node:module';
import amqplib from 'amqplib';
import { random, runWalks, sleep } from './walks.mjs';

const [amqpPort, walks = '100', firstSeed = '1', steps = '40'] = process.argv.slice(2);
if (!Number(amqpPort)) {
  console.error('usage: node tests/rabbitmq/channel-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]');
  process.exit(2);
}

// amqplib's method definitions: its channel API has no tx or confirm.select methods.
const defs = createRequire(import.meta.url)('amqplib/lib/defs');
const rpc = (ch, method, fields = {}) =>
  new Promise((resolve, reject) =>
    ch._rpc(defs[method], fields, defs[`${method}Ok`], (e) => (e ? reject(e) : resolve('ok'))),
  );

/** One walk on the broker at `url`: the list of what each step showed. */
async function walk(url, seed, count) {
  const r = random(seed);
  const trace = [];
  let conn = null;
  let ch = null;
  // Deliveries to consumers since the last step, and every tag handed out on this channel.
  let delivered = [];
  let tags = [];
  let settled = [];
  let lastError = null;
  const open = async () => {
    if (!conn) {
      conn = await amqplib.connect(url);
      conn.on('error', (e) => (lastError = e.message));
      conn.on('close', () => (conn = ch = null));
    }
    ch = await conn.createChannel();
    ch.on('error', (e) => (lastError = e.message));
    ch.on('close', () => (ch = null));
    tags = [];
    settled = [];
  };
  const step = async (what, call) => {
    try {
      if (!ch) await open();
      const reply = (await call(ch)) ?? 'ok';
      // A settle has no reply: a round trip after it shows whether it closed the channel.
      await sleep(25);
      if (!ch) throw new Error('closed');
      trace.push([...what, reply, delivered]);
    } catch {
      await sleep(25);
      trace.push([...what, lastError ?? 'closed', delivered]);
      lastError = null;
      conn?.close().catch(() => {});
      conn = ch = null;
      await sleep(10);
    }
    delivered = [];
  };
  try {
    await open();
    await ch.deleteQueue('cw.q');
    await ch.assertQueue('cw.q', { durable: false });
    for (let i = 0; i < 5; i++) ch.sendToQueue('cw.q', Buffer.from(`p${i}`));
    let published = 0;
    for (let i = 0; i < count; i++) {
      const op = r.pick([
        ...['publish', 'publish', 'get', 'get', 'ack', 'ack', 'nack', 'reject', 'consume', 'cancel'],
        ...['qos', 'recover', 'txSelect', 'txCommit', 'txRollback', 'confirmSelect', 'reopen'],
      ]);
      if (op === 'publish') {
        const body = `m${published++}`;
        await step([op, body], (c) => void c.sendToQueue('cw.q', Buffer.from(body)));
      } else if (op === 'get') {
        await step([op], async (c) => {
          const m = await c.get('cw.q', { noAck: false });
          if (!m) return 'empty';
          tags.push(m.fields.deliveryTag);
          return [m.content.toString(), m.fields.deliveryTag, m.fields.redelivered];
        });
      } else if (op === 'ack' || op === 'nack' || op === 'reject') {
        // A tag held, one settled already, one never given, or 0.
        const pick = r.int(10);
        const tag =
          pick < 6 && tags.length
            ? r.pick(tags)
            : pick < 8 && settled.length
              ? r.pick(settled)
              : pick < 9
                ? 0
                : Math.max(0, ...tags, ...settled) + 1 + r.int(3);
        const multiple = r.chance(0.3);
        const requeue = r.chance(0.5);
        const m = { fields: { deliveryTag: tag } };
        await step([op, tag, multiple, requeue], (c) => {
          if (op === 'ack') c.ack(m, multiple);
          else if (op === 'nack') c.nack(m, multiple, requeue);
          else c.reject(m, requeue);
          const gone = multiple || tag === 0 ? tags.filter((t) => tag === 0 || t <= tag) : [tag];
          settled.push(...gone);
          tags = tags.filter((t) => !gone.includes(t));
        });
      } else if (op === 'consume') {
        const consumerTag = r.pick(['t1', 't2', 't3']);
        const noAck = r.chance(0.3);
        await step([op, consumerTag, noAck], async (c) => {
          await c.consume(
            'cw.q',
            (m) => {
              if (!m) return delivered.push([consumerTag, 'cancelled']);
              if (!noAck) tags.push(m.fields.deliveryTag);
              delivered.push([consumerTag, m.content.toString(), m.fields.deliveryTag, m.fields.redelivered]);
            },
            { consumerTag, noAck },
          );
        });
      } else if (op === 'cancel') {
        const consumerTag = r.pick(['t1', 't2', 't3']);
        await step([op, consumerTag], (c) => c.cancel(consumerTag).then(() => 'ok'));
      } else if (op === 'qos') {
        const prefetch = r.int(4);
        const global = r.chance(0.3);
        await step([op, prefetch, global], (c) => c.prefetch(prefetch, global).then(() => 'ok'));
      } else if (op === 'recover') {
        await step([op], (c) => c.recover().then(() => 'ok'));
      } else if (op === 'txSelect' || op === 'txCommit' || op === 'txRollback' || op === 'confirmSelect') {
        const method = op[0].toUpperCase() + op.slice(1);
        await step([op], (c) => rpc(c, method, method === 'ConfirmSelect' ? { nowait: false } : {}));
      } else if (op === 'reopen') {
        await step([op], async (c) => {
          await c.close();
          await sleep(20);
          await open();
        });
      }
    }
    await conn?.close();
    await sleep(30);
    const end = await amqplib.connect(url);
    end.on('error', () => {});
    const last = await end.createChannel();
    last.on('error', () => {});
    const left = [];
    for (let m; (m = await last.get('cw.q', { noAck: true }));) left.push([m.content.toString(), m.fields.redelivered]);
    await last.deleteQueue('cw.q');
    await end.close();
    trace.push(['left', left]);
  } catch (e) {
    trace.push(['failed', String(e.message)]);
  }
  await conn?.close().catch(() => {});
  return trace;
}

await runWalks({
  label: 'channel walks',
  amqpPort,
  walks,
  firstSeed,
  walk: (url, seed) => walk(url, seed, Number(steps)),
});
