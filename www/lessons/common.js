// Pieces most lessons share: one queue fed by one producer through the
// default exchange, read by one simulated consumer.

import { SimConsumer } from '../sim/consumer.js';
import { SimProducer } from '../sim/producer.js';
import { settle } from '../sim/world.js';

export { settle };

/** Declares `queue` and adds a producer and a consumer for it; returns both. */
export async function workQueue(ctx, { queue = 'work', args = {}, durable = true, producer = {}, consumer = {} } = {}) {
  const { world } = ctx;
  await world.declareQueue(queue, { durable, args });
  ctx.producer = world.add(
    new SimProducer(world, { id: 'producer', label: 'producer', exchange: '', routingKey: queue, ...producer }),
  );
  ctx.consumer =
    consumer === null ? null : world.add(new SimConsumer(world, { id: 'worker', label: 'worker', queue, ...consumer }));
  return ctx;
}

export const counter = (ctx, key) => ctx.world.model.counters[key];

/** Notes the engine's counters before a key moment, for a prediction judged by what changed after it. */
export function mark(ctx) {
  ctx.state.mark = { ...ctx.world.model.counters, at: ctx.world.now() };
}

/** How much counter `key` grew since mark(ctx) (0 if never marked). */
export const sinceMark = (ctx, key) => (ctx.state.mark ? counter(ctx, key) - ctx.state.mark[key] : 0);

/** The broker's unacknowledged delivery tags on a consumer's channel (from its snapshot). */
export function unackedTags(ctx, actor = ctx.consumer) {
  const conn = actor.connection?.id;
  const ch = actor.channel?.id;
  if (conn === undefined || ch === undefined) return [];
  const c = ctx.world.snapshot().channels.find((x) => x.conn === conn && x.channel === ch);
  return c ? c.unacked.map((u) => u.tag).sort((a, b) => a - b) : [];
}

/** A field table (headers) as readable lines. */
export function formatTable(t, indent = '') {
  if (!t || typeof t !== 'object') return String(t);
  const lines = [];
  for (const [k, v] of Object.entries(t)) {
    if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) {
      lines.push(`${indent}${k}: [${v.map((x) => (typeof x === 'string' ? `"${x}"` : String(x))).join(', ')}]`);
    } else if (Array.isArray(v)) {
      lines.push(`${indent}${k}: [`);
      for (const item of v) lines.push(`${indent}  {`, formatTable(item, `${indent}    `), `${indent}  }`);
      lines.push(`${indent}]`);
    } else if (v instanceof Date) lines.push(`${indent}${k}: ${v.toISOString()}`);
    else if (v && typeof v === 'object' && !(v instanceof Uint8Array))
      lines.push(`${indent}${k}:`, formatTable(v, `${indent}  `));
    else lines.push(`${indent}${k}: ${typeof v === 'string' ? `"${v}"` : String(v)}`);
  }
  return lines.join('\n');
}

/** The standard amqp-client.js preamble of the code panel. */
export const JS_HEAD = `import { AMQPClient } from '@cloudamqp/amqp-client'

const client = new AMQPClient('amqp://guest:guest@localhost')
const conn = await client.connect()
const ch = await conn.channel()
`;

export const PY_HEAD = `import pika

conn = pika.BlockingConnection(pika.ConnectionParameters('localhost'))
ch = conn.channel()
`;

/** The worker's crash, with a prediction asked first (lessons 1 and 2). */
export const crashControl = () => ({
  button: 'Crash now',
  id: 'crash',
  kind: 'danger',
  run: (ctx) => ctx.consumer.crash(),
  predict: {
    question: 'worker is about to crash while it holds the message. What happens to the message?',
    options: [
      ['back', 'It goes back to the queue and is delivered again'],
      ['lost', 'It is lost'],
    ],
    outcome: (ctx) => (counter(ctx, 'redelivered') >= 1 ? 'back' : counter(ctx, 'lost') >= 1 ? 'lost' : null),
    why: {
      back: 'The broker still held it unacknowledged; a closed connection puts its unacked deliveries back (redelivered = 1).',
      lost: 'The broker had already let it go (an ack was sent, or automatic ack): only the crashed worker had it.',
    },
  },
  enabled: (ctx) => ctx.consumer.status === 'running',
});
