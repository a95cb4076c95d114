// Seeded random walks of a queue's consumers, the same on a real RabbitMQ and
// on `warren-mq serve` (not part of `npm test`: it needs RabbitMQ): which
// consumer each message goes to. Three channels consume one queue with random
// prefetches and priorities; the walk publishes, acks (single and multiple),
// nacks with requeue, cancels and consumes again, sets a channel-wide
// prefetch (`global`), and closes channels (which requeues what they held), waiting after each step until both brokers are
// quiet. After each step it compares which consumer got which message, with
// its redelivered flag; the first step where the brokers part is printed with
// the walk's seed, which replays it.
//
// usage: node tests/rabbitmq/dispatch-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]
//   (defaults: 100 walks from seed 1, 40 steps each; queue dw.q on vhost /)
import amqplib from 'amqplib';
import { random, runWalks, sleep } from './walks.mjs';

const [amqpPort, walks = '100', firstSeed = '1', steps = '40'] = process.argv.slice(2);
if (!Number(amqpPort)) {
  console.error('usage: node tests/rabbitmq/dispatch-walk.mjs AMQP_PORT [WALKS] [FIRST_SEED] [STEPS]');
  process.exit(2);
}

const CHANNELS = 3;

/** One walk on the broker at `url`: what each step showed. */
async function walk(url, seed, count) {
  const r = random(seed);
  const c = await amqplib.connect(url);
  c.on('error', () => {});
  const publisher = await c.createConfirmChannel();
  await publisher.deleteQueue('dw.q');
  await publisher.assertQueue('dw.q', { durable: false });
  // Per channel: the channel, its consumer's tag (or null), its unacked messages.
  const slots = [];
  // What consumers got since the last step: [channel, body, redelivered].
  let got = [];
  const consume = async (i) => {
    const s = slots[i];
    const prefetch = r.int(4); // 0: no limit
    const priority = r.chance(0.3) ? r.int(3) : undefined;
    await s.ch.prefetch(prefetch);
    const { consumerTag } = await s.ch.consume(
      'dw.q',
      (m) => {
        if (!m) return;
        s.unacked.push(m);
        got.push([i, m.content.toString(), m.fields.redelivered]);
      },
      { arguments: priority === undefined ? {} : { 'x-priority': priority } },
    );
    s.tag = consumerTag;
    return [prefetch, priority ?? null];
  };
  const open = async (i) => {
    const ch = await c.createChannel();
    ch.on('error', () => {});
    slots[i] = { ch, tag: null, unacked: [] };
    return consume(i);
  };
  const trace = [];
  let published = 0;
  try {
    for (let i = 0; i < CHANNELS; i++) trace.push(['open', i, await open(i)]);
    for (let step = 0; step < count; step++) {
      const i = r.int(CHANNELS);
      const s = slots[i];
      const op = r.pick([
        ...['publish', 'publish', 'publish', 'ack', 'ack', 'nack'],
        ...['cancel', 'consume', 'reopen', 'global'],
      ]);
      let what;
      if (op === 'publish') {
        const n = 1 + r.int(3);
        for (let k = 0; k < n; k++) publisher.sendToQueue('dw.q', Buffer.from(`m${published++}`));
        await publisher.waitForConfirms();
        what = [op, n];
      } else if ((op === 'ack' || op === 'nack') && s.unacked.length) {
        // By tag, not by when the callback ran.
        const held = [...s.unacked].sort((a, b) => a.fields.deliveryTag - b.fields.deliveryTag);
        const m = held[r.int(held.length)];
        const multiple = r.chance(0.3);
        if (op === 'ack') s.ch.ack(m, multiple);
        else s.ch.nack(m, multiple, true);
        const tag = m.fields.deliveryTag;
        s.unacked = s.unacked.filter((u) => (multiple ? u.fields.deliveryTag > tag : u !== m));
        what = [op, i, m.content.toString(), multiple];
      } else if (op === 'cancel' && s.tag) {
        // What it holds stays unacked on the channel.
        await s.ch.cancel(s.tag);
        s.tag = null;
        what = [op, i];
      } else if (op === 'consume' && !s.tag) {
        what = [op, i, await consume(i)];
      } else if (op === 'global') {
        const n = r.int(4); // 0: no limit
        await s.ch.prefetch(n, true);
        what = [op, i, n];
      } else if (op === 'reopen') {
        await s.ch.close();
        what = [op, i, await open(i)];
      } else {
        continue;
      }
      // Quiet: no delivery for a while.
      for (let seen = -1; seen !== got.length;) {
        seen = got.length;
        await sleep(40);
      }
      // By message: channels' deliveries interleave in any order on the wire.
      got.sort(([, a], [, b]) => Number(a.slice(1)) - Number(b.slice(1)));
      trace.push([...what, got]);
      got = [];
    }
    for (const s of slots) await s.ch.close();
    await publisher.deleteQueue('dw.q');
  } catch (e) {
    trace.push(['failed', String(e.message)]);
  }
  await c.close().catch(() => {});
  return trace;
}

await runWalks({
  label: 'dispatch walks',
  amqpPort,
  walks,
  firstSeed,
  walk: (url, seed) => walk(url, seed, Number(steps)),
});
