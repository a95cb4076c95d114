// Lesson 3: requeue, nack and reject; a poison message that loops until a
// delivery limit stops it (counted as in RabbitMQ 4.3: reject is a failed
// delivery, nack is not); dead-lettering and its x-death history.

import { escape } from '../dom.js';
import { JS_HEAD, PY_HEAD, counter, formatTable, mark, sinceMark, workQueue } from './common.js';

const LIMIT = 3;

const FAILS = {
  'reject-requeue': { words: 'basic.reject, requeue', how: 'reject', requeue: true },
  'nack-requeue': { words: 'basic.nack, requeue', how: 'nack', requeue: true },
  reject: { words: 'basic.reject, no requeue', how: 'reject', requeue: false },
};

export default {
  number: 3,
  slug: 'requeue',
  short: 'Requeue, nack, reject, dead letters',
  title: 'Requeue, nack, reject and dead letters',
  defaults: { fail: 'reject-requeue', limit: false, dlx: true },
  counters: ['nacked', 'rejected', 'requeued'],
  text: `
    <p>A consumer that cannot process a message can hand it back: <code>basic.reject</code> (one message)
    or <code>basic.nack</code> (one, or many with <code>multiple</code>). With <code>requeue=true</code> the
    message goes back to the head of its queue and is delivered again, marked <em>redelivered</em>.</p>
    <p>A <em>poison message</em>, one that fails every time, then loops forever: delivered, rejected,
    requeued, delivered… Each redelivery carries two counts, as in RabbitMQ 4.3:
    <code>x-acquired-count</code>, how often it was handed out, and <code>x-delivery-count</code>, how
    often that <em>failed</em>. A reject, or a consumer that crashes or closes its channel with the
    message unacked, is a failure; a <code>basic.nack</code> only hands the message back, and so does a
    consumer timeout.</p>
    <p>Two things stop the loop. A <strong>delivery limit</strong> (<code>x-delivery-limit</code>) drops
    or dead-letters a message that failed more often than the limit: it counts
    <code>x-delivery-count</code>, so a consumer that nacks is never stopped by it. A <strong>dead-letter exchange</strong>
    (<code>x-dead-letter-exchange</code>) receives what a queue gives up on (rejected without requeue,
    expired, over the limit), with an <code>x-death</code> header telling where it died and why.</p>
    <p><strong>Try it:</strong> publish a poison message and watch it loop. Then tick the delivery limit
    (the lesson restarts), publish it again and read the dead-letter queue.</p>`,
  controls: [
    {
      choice: 'When processing fails, worker sends',
      id: 'fail',
      options: Object.entries(FAILS).map(([k, v]) => [k, v.words]),
    },
    { toggle: `<code>x-delivery-limit = ${LIMIT}</code> on queue work`, id: 'limit' },
    { toggle: '<code>x-dead-letter-exchange = dlx</code> on queue work (dlx → queue dead)', id: 'dlx' },
    {
      group: [
        {
          button: 'Publish a good message',
          id: 'publish-good',
          run: (ctx) => ctx.producer.publish(`order-${++ctx.state.n}`),
        },
        {
          button: 'Publish a poison message',
          id: 'publish-poison',
          kind: 'warn',
          run: (ctx) => {
            mark(ctx);
            return ctx.producer.publish('poison', { messageId: 'poison' });
          },
          predict: {
            question: 'worker fails on every poison message, as set above. What becomes of it?',
            options: [
              ['loops', 'It is delivered again and again, with no end'],
              ['dead', 'It ends up in the dead-letter queue'],
              ['dropped', 'It is dropped'],
            ],
            outcome: poisonFate,
            why: poisonWhy,
          },
        },
        { button: 'Read the dead-letter queue', id: 'read-dead', run: readDead, enabled: (ctx) => ctx.settings.dlx },
      ],
    },
    {
      panel: 'Last delivery to worker',
      id: 'last',
      render: (ctx) => {
        const d = ctx.state.last;
        if (!d) return '<p class="hint">Nothing delivered yet.</p>';
        return `<p>${escape(d.body)}, delivery tag ${d.tag}${d.redelivered ? ', <strong>redelivered</strong>' : ''}</p><pre>${escape(d.headers ? formatTable(d.headers) : 'no headers')}</pre>`;
      },
    },
    {
      panel: 'Read from the dead-letter queue',
      id: 'dead',
      live: true,
      render: (ctx) => {
        const d = ctx.state.dead;
        if (d === undefined) return '<p class="hint">Not read yet.</p>';
        if (d === null) return '<p>The queue <em>dead</em> is empty.</p>';
        return `<p>${escape(d.body)}</p><pre class="x-death">${escape(formatTable(d.headers))}</pre>`;
      },
    },
  ],
  async setup(ctx) {
    const { world, settings } = ctx;
    ctx.state.n = 0;
    const args = {};
    if (settings.limit) args['x-delivery-limit'] = LIMIT;
    if (settings.dlx) {
      args['x-dead-letter-exchange'] = 'dlx';
      await world.declareExchange('dlx', 'fanout');
      await world.declareQueue('dead');
      await world.bind('dead', 'dlx');
    }
    const fail = FAILS[settings.fail];
    await workQueue(ctx, {
      args,
      consumer: {
        prefetch: 1,
        processMs: 800,
        onReceive: (d) => {
          ctx.state.last = {
            body: d.m.bodyString(),
            tag: d.tag,
            redelivered: d.m.redelivered,
            headers: d.m.properties.headers,
          };
        },
        onProcessed: (d, c) => {
          if (d.m.bodyString() === 'poison') c.settle(d, fail.how, { requeue: fail.requeue });
          else c.settle(d, 'ack');
        },
      },
    });
  },
  checks(ctx) {
    const { settings } = ctx;
    const requeue = FAILS[settings.fail].requeue;
    const died = (reason) =>
      [...ctx.world.model.messages.values()].some((m) => m.deaths.some((d) => d.reason === reason));
    const list = [];
    const nack = FAILS[settings.fail].how === 'nack';
    if (requeue) {
      list.push({
        text: nack
          ? 'The poison message is requeued and delivered again and again: <code>x-acquired-count</code> grows, but a nack is no failure, so there is no <code>x-delivery-count</code>.'
          : 'The poison message is requeued and delivered again and again (watch <code>x-delivery-count</code> and <code>x-acquired-count</code> grow).',
        ok: () => counter(ctx, 'redelivered') >= 2,
      });
    } else {
      list.push({
        text:
          'Rejected without requeue, the poison message leaves the queue at once' +
          (settings.dlx ? ': dead-lettered with reason <code>rejected</code>.' : ' and is dropped.'),
        ok: () => (settings.dlx ? died('rejected') : counter(ctx, 'dropped') >= 1),
      });
    }
    if (requeue && settings.limit && nack) {
      list.push({
        text: `With <code>x-delivery-limit = ${LIMIT}</code> and nacks, it still loops: the limit counts failed deliveries only. Choose <em>basic.reject</em> to end it.`,
        ok: () => counter(ctx, 'redelivered') >= LIMIT + 2 && !died('delivery_limit'),
      });
    } else if (requeue && settings.limit) {
      list.push({
        text: `With <code>x-delivery-limit = ${LIMIT}</code> it is delivered ${LIMIT + 1} times, then ${settings.dlx ? 'dead-lettered (reason <code>delivery_limit</code>)' : 'dropped'}.`,
        ok: () => (settings.dlx ? died('delivery_limit') : counter(ctx, 'dropped') >= 1),
      });
    }
    if (requeue && !settings.limit)
      list.push({
        text: nack
          ? 'Nothing stops it, and a delivery limit would not either: nacks are no failures. Choose <em>basic.reject</em> and tick the limit.'
          : 'Nothing stops it. Tick the delivery limit to end the loop.',
        ok: () => counter(ctx, 'redelivered') >= 4,
      });
    if (settings.dlx && (settings.limit || !requeue)) {
      list.push({
        text: '<em>Read the dead-letter queue</em>: <code>x-death</code> names the queue, the reason, a count and the time.',
        ok: () => Boolean(ctx.state.dead?.headers?.['x-death']),
      });
    }
    return list;
  },
  code(ctx) {
    const { settings } = ctx;
    const fail = FAILS[settings.fail];
    const args = [];
    if (settings.limit) args.push(`'x-delivery-limit': ${LIMIT}`);
    if (settings.dlx) args.push("'x-dead-letter-exchange': 'dlx'");
    const jsFail = fail.how === 'nack' ? `msg.nack(${fail.requeue})` : `msg.reject(${fail.requeue})`;
    const pyFail =
      fail.how === 'nack'
        ? `ch.basic_nack(method.delivery_tag, requeue=${fail.requeue ? 'True' : 'False'})`
        : `ch.basic_reject(method.delivery_tag, requeue=${fail.requeue ? 'True' : 'False'})`;
    return {
      js: `${JS_HEAD}${settings.dlx ? "await ch.exchangeDeclare('dlx', 'fanout', { durable: true })\nawait ch.queueDeclare('dead', { durable: true })\nawait ch.queueBind('dead', 'dlx', '')\n" : ''}await ch.queueDeclare('work', { durable: true }, { ${args.join(', ')} })

await ch.basicConsume('work', { noAck: false }, async (msg) => {
  // on a redelivery: msg.properties.headers['x-acquired-count'], and
  // ['x-delivery-count'] once a delivery failed (a reject, a crash)
  try {
    await process(msg.bodyString())
    await msg.ack()
  } catch (err) {
    await ${jsFail}
  }
})${settings.dlx ? "\n\n// x-death: where, why, how often\nconst m = await ch.basicGet('dead', { noAck: true })\nconsole.log(m?.properties.headers['x-death'])" : ''}`,
      py: `${PY_HEAD}${settings.dlx ? "ch.exchange_declare('dlx', 'fanout', durable=True)\nch.queue_declare('dead', durable=True)\nch.queue_bind('dead', 'dlx')\n" : ''}ch.queue_declare('work', durable=True, arguments={${args.join(', ')}})

def on_message(ch, method, properties, body):
    try:
        process(body)
        ch.basic_ack(method.delivery_tag)
    except Exception:
        ${pyFail}

ch.basic_consume('work', on_message)
${settings.dlx ? "\nmethod, props, body = ch.basic_get('dead', auto_ack=True)\nprint(props.headers['x-death'])\n" : ''}`,
    };
  },
};

async function readDead(ctx) {
  const ch = await ctx.world.admin();
  const m = await ch.basicGet('dead', { noAck: true });
  ctx.state.dead = m ? { body: m.bodyString(), headers: m.properties.headers ?? {} } : null;
}

/** What the engine did with the poison message since it was published: null until it is clear. */
function poisonFate(ctx) {
  if (sinceMark(ctx, 'deadLettered') > 0) return 'dead';
  if (sinceMark(ctx, 'dropped') > 0) return 'dropped';
  // Past the point where the delivery limit would have stopped it: it loops.
  return sinceMark(ctx, 'redelivered') >= LIMIT + 2 ? 'loops' : null;
}

function poisonWhy(ctx, fate) {
  const fail = FAILS[ctx.settings.fail];
  const deliveries = sinceMark(ctx, 'delivered');
  if (fate === 'loops') {
    return fail.how === 'nack' && ctx.settings.limit
      ? `A nack hands the message back without counting a failure, so x-delivery-limit never stops it: delivered ${deliveries} times so far.`
      : `Requeued after every failure with no delivery limit: delivered ${deliveries} times so far, and nothing ends it.`;
  }
  const deaths = [...ctx.world.model.messages.values()].flatMap((m) => m.deaths);
  const reason = deaths.at(-1)?.reason ?? (fail.requeue ? 'delivery_limit' : 'rejected');
  const how =
    reason === 'delivery_limit'
      ? `it failed more often than x-delivery-limit = ${LIMIT} allows (delivered ${deliveries} times)`
      : 'it was rejected without requeue';
  return fate === 'dead'
    ? `The broker dead-lettered it to dlx, reason ${reason}: ${how}.`
    : `The broker dropped it: ${how}, and queue work has no dead-letter exchange.`;
}
