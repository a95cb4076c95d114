// Lesson 2: an ack sent on receipt promises nothing about the work.

import { JS_HEAD, PY_HEAD, counter, crashControl, workQueue } from './common.js';

export default {
  number: 2,
  slug: 'early-ack',
  short: 'The ack that lies',
  title: 'The ack that lies',
  defaults: { ack: 'early' },
  text: `
    <p>Manual acknowledgment only protects you if the ack comes <em>after</em> the work. A consumer that
    acks as soon as a message arrives (to "free the broker", or because a framework does it for you)
    has told the broker "done" when nothing is done yet.</p>
    <p>The broker believes the ack: <strong>acked</strong> goes up and the message is gone from the
    queue for good. If the consumer then crashes, the work never happens and nobody can tell.</p>
    <p><strong>Try it:</strong> publish a message and press <em>Crash now</em> while it is processing
    (the token shows ⚙✓: processing, ack already sent). Then choose <em>ack after processing</em> and
    repeat: the same crash now costs nothing but a redelivery.</p>`,
  controls: [
    {
      choice: 'When worker acks',
      id: 'ack',
      options: [
        ['early', 'On receipt, before processing'],
        ['manual', 'After processing'],
      ],
    },
    {
      group: [{ button: 'Publish a message', id: 'publish', run: (ctx) => ctx.producer.publish() }, crashControl()],
    },
  ],
  async setup(ctx) {
    await workQueue(ctx, { consumer: { ack: ctx.settings.ack, prefetch: 1, processMs: 4000, restartMs: 1500 } });
  },
  checks(ctx) {
    if (ctx.settings.ack === 'early') {
      return [
        {
          text: 'The ack goes out on receipt: <strong>acked = 1</strong> while the message is still processing (⚙✓).',
          ok: () => counter(ctx, 'acked') >= 1,
        },
        {
          text: 'After <em>Crash now</em>: <strong>lost = 1</strong>, redelivered = 0. The broker kept its promise; the consumer broke its own.',
          ok: () => counter(ctx, 'lost') >= 1 && counter(ctx, 'redelivered') === 0,
        },
      ];
    }
    return [
      {
        text: 'After <em>Crash now</em> the unacked message comes back: <strong>redelivered = 1</strong>.',
        ok: () => counter(ctx, 'redelivered') >= 1,
      },
      {
        text: 'It is processed, then acked once: <strong>acked = 1, lost = 0</strong>.',
        ok: () => counter(ctx, 'redelivered') >= 1 && counter(ctx, 'acked') >= 1 && counter(ctx, 'lost') === 0,
      },
    ];
  },
  code(ctx) {
    const early = ctx.settings.ack === 'early';
    return {
      js: `${JS_HEAD}await ch.queueDeclare('work', { durable: true })
await ch.prefetch(1)

await ch.basicConsume('work', { noAck: false }, async (msg) => {
${early ? '  await msg.ack()                  // "done!" (it is not)\n  await process(msg.bodyString())  // a crash here loses the message\n' : '  await process(msg.bodyString())  // a crash here: redelivered\n  await msg.ack()                  // done, truly\n'}})`,
      py: `${PY_HEAD}ch.basic_qos(prefetch_count=1)

def on_message(ch, method, properties, body):
${early ? '    ch.basic_ack(method.delivery_tag)  # "done!" (it is not)\n    process(body)                      # a crash here loses the message\n' : '    process(body)                      # a crash here: redelivered\n    ch.basic_ack(method.delivery_tag)  # done, truly\n'}
ch.basic_consume('work', on_message, auto_ack=False)
ch.start_consuming()`,
    };
  },
};
