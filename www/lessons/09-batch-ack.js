// Lesson 9: acking in batches with `multiple`, and what a crash redelivers then.

import { JS_HEAD, PY_HEAD, counter, mark, sinceMark, workQueue } from './common.js';

const COUNT = 12;

export default {
  number: 9,
  slug: 'batch',
  short: 'Batch acknowledgment',
  title: 'Batch acknowledgment',
  defaults: { every: 5 },
  counters: ['processed'],
  text: `
    <p>One ack per message is one frame per message. A consumer can instead ack every <em>N</em> messages
    with <code>multiple=true</code>: one <code>basic.ack</code> for the last tag of the batch settles the
    whole batch.</p>
    <p>The price: messages processed since the last batch ack are still unacked. If the consumer crashes
    then, the broker redelivers them and they are processed a <em>second</em> time (lesson 7 tells how to
    make that harmless). Real consumers also ack a partial batch after a short idle time, so the tail
    of a burst is not held forever.</p>
    <p><strong>Try it:</strong> publish ${COUNT} messages, wait until all are processed, look at what is still
    unacked, then crash the worker.</p>`,
  controls: [
    { number: 'Ack every', id: 'every', min: 1, max: 10, unit: 'messages' },
    {
      group: [
        {
          button: `Publish ${COUNT} messages`,
          id: 'publish',
          run: (ctx) => {
            for (let i = 0; i < COUNT; i++) ctx.producer.publish();
          },
        },
        {
          button: 'Crash now',
          id: 'crash',
          kind: 'danger',
          run: crash,
          enabled: (ctx) => ctx.consumer.status === 'running',
          predict: {
            question: 'worker crashes now. Which of its messages does the broker deliver again?',
            options: [
              ['unacked', 'Every one not yet acked, processed or not'],
              ['unprocessed', 'Only those it has not processed yet'],
              ['none', 'None'],
            ],
            outcome: (ctx) => {
              if (ctx.state.held === undefined) return null;
              const back = sinceMark(ctx, 'requeued');
              if (back < ctx.state.held) return null;
              return back === 0 ? 'none' : 'unacked';
            },
            why: (ctx, outcome) => {
              const back = sinceMark(ctx, 'requeued');
              if (outcome === 'none') return 'worker held nothing unacknowledged: every batch had been acked.';
              const twice = ctx.state.crashed;
              return `The broker put back ${back}: all it had delivered to worker without an ack, processed or not. ${twice} of them were already processed and will be processed again.`;
            },
          },
        },
      ],
    },
    {
      panel: 'worker',
      id: 'worker',
      live: true,
      render: (ctx) => {
        const held = ctx.consumer.holding();
        const done = held.filter((d) => d.processed).map((d) => d.tag);
        const acks = ctx.state.acks.map((t) => `basic.ack ${t}, multiple`).join('; ') || 'none yet';
        const crash =
          ctx.state.crashed === undefined
            ? ''
            : `<p>The crash left <strong data-crashed>${ctx.state.crashed}</strong> processed messages unacked: they come back.</p>`;
        return `<p>Acks sent: ${acks}.</p><p>Processed but not acked: <strong data-waiting="${done.length}">${done.length ? `tags ${done.join(', ')}` : 'none'}</strong>.</p>${crash}`;
      },
    },
  ],
  async setup(ctx) {
    ctx.state.acks = [];
    ctx.state.since = 0;
    await workQueue(ctx, {
      consumer: {
        prefetch: 20,
        // One at a time, as a single-threaded worker: the batches fill and are acked one after another.
        processMs: 600,
        serial: true,
        onProcessed: (d, c) => {
          if (++ctx.state.since < ctx.settings.every) return;
          ctx.state.since = 0;
          ctx.state.acks.push(d.tag);
          c.settle(d, 'ack', { multiple: true });
        },
      },
    });
    // A restarted worker starts a new batch.
    const attach = ctx.consumer.attach.bind(ctx.consumer);
    ctx.consumer.attach = () => {
      ctx.state.since = 0;
      return attach();
    };
  },
  checks(ctx) {
    const n = ctx.settings.every;
    const acked = Math.floor(COUNT / n) * n;
    return [
      {
        text: `Acks go out every ${n} messages, each with <code>multiple</code> covering the batch.`,
        ok: () => ctx.state.acks.length >= 1 && counter(ctx, 'acked') >= n,
      },
      {
        text: `After ${COUNT} messages: <strong>${acked} acked</strong>, ${COUNT - acked} processed but still unacknowledged.`,
        ok: () =>
          counter(ctx, 'processed') >= COUNT && counter(ctx, 'acked') === acked && ctx.state.crashed === undefined,
      },
      {
        text: 'Crash now: those processed-but-unacked messages are <strong>redelivered</strong> and processed again.',
        ok: () => ctx.state.crashed > 0 && counter(ctx, 'redelivered') >= ctx.state.crashed,
      },
    ];
  },
  code(ctx) {
    const n = ctx.settings.every;
    return {
      js: `${JS_HEAD}await ch.prefetch(20)                 // must exceed the batch size
await ch.queueDeclare('work', { durable: true })
let since = 0
await ch.basicConsume('work', { noAck: false }, async (msg) => {
  await process(msg.bodyString())
  if (++since === ${n}) {
    since = 0
    await msg.ack(true)                 // multiple: this tag and all before it
  }
  // a crash here redelivers everything processed since the last ack
})`,
      py: `${PY_HEAD}ch.basic_qos(prefetch_count=20)
since = 0

def on_message(ch, method, props, body):
    global since
    process(body)
    since += 1
    if since == ${n}:
        since = 0
        ch.basic_ack(method.delivery_tag, multiple=True)

ch.basic_consume('work', on_message)
ch.start_consuming()`,
    };
  },
};

function crash(ctx) {
  mark(ctx);
  const held = ctx.consumer.holding();
  ctx.state.held = held.length;
  ctx.state.crashed = held.filter((d) => d.processed).length;
  ctx.consumer.crash();
}
