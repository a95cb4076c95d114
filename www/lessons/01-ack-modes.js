// Lesson 1: manual vs automatic acknowledgment, and what a crash does to each.

import { JS_HEAD, PY_HEAD, counter, crashControl, workQueue } from './common.js';

export default {
  number: 1,
  slug: 'ack-modes',
  short: 'Manual vs automatic ack',
  title: 'Manual vs automatic ack',
  defaults: { ack: 'manual' },
  text: `
    <p>A consumer tells the broker it is done with a message by <em>acknowledging</em> it
    (<code>basic.ack</code>). Until then the broker keeps the message, marked <em>unacked</em>,
    and gives it to someone else if the consumer goes away.</p>
    <p>With <strong>automatic ack</strong> (<code>noAck: true</code>, pika's <code>auto_ack=True</code>)
    the broker considers a message acked the moment it sends it. It forgets the message at once.</p>
    <p><strong>Try it:</strong> publish a message; while <em>worker</em> is processing it (⚙, about 4 s),
    press <em>Crash now</em>. The worker's connection closes, as when a process is killed, and a
    supervisor restarts it 1.5 s later. Then switch to automatic ack and do the same.</p>
    <p><strong>Lost</strong> counts messages the broker had already let go of (automatic ack, or an ack
    sent before the work was done) whose consumer crashed before finishing. The broker cannot see this:
    only the consumer knows its work was not done. This page knows because it runs the consumers.</p>`,
  controls: [
    {
      choice: 'Acknowledgment mode',
      id: 'ack',
      options: [
        ['manual', 'Manual: ack after processing'],
        ['auto', 'Automatic (noAck)'],
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
    if (ctx.settings.ack === 'manual') {
      return [
        {
          text: 'The message goes to <em>worker</em>: a square token with its delivery tag, processing ⚙.',
          ok: () => counter(ctx, 'delivered') >= 1,
        },
        {
          text: 'After <em>Crash now</em> it is back in the queue, marked <strong>R</strong> (redelivered), and <strong>redelivered = 1</strong>.',
          ok: () => counter(ctx, 'redelivered') >= 1,
        },
        {
          text: 'The restarted worker processes and acks it: <strong>lost = 0</strong>.',
          ok: () => counter(ctx, 'redelivered') >= 1 && counter(ctx, 'acked') >= 1 && counter(ctx, 'lost') === 0,
        },
      ];
    }
    return [
      {
        text: 'The message goes to <em>worker</em> with automatic ack: the broker has already forgotten it.',
        ok: () => counter(ctx, 'delivered') >= 1,
      },
      {
        text: 'After <em>Crash now</em> nothing comes back: <strong>lost = 1</strong>, redelivered = 0.',
        ok: () => counter(ctx, 'lost') >= 1 && counter(ctx, 'redelivered') === 0,
      },
    ];
  },
  code(ctx) {
    const manual = ctx.settings.ack === 'manual';
    return {
      js: `${JS_HEAD}await ch.queueDeclare('work', { durable: true })
await ch.prefetch(1)

await ch.basicConsume('work', { noAck: ${!manual} }, async (msg) => {
  await process(msg.bodyString())  // takes a while; a crash here...
${manual ? '  await msg.ack()                  // ...means no ack: the broker redelivers it\n' : '  // ...loses the message: the broker forgot it when it sent it\n'}})

await ch.basicPublish('', 'work', 'm1')`,
      py: `${PY_HEAD}ch.queue_declare('work', durable=True)
ch.basic_qos(prefetch_count=1)

def on_message(ch, method, properties, body):
    process(body)  # takes a while; a crash here...
${manual ? '    ch.basic_ack(method.delivery_tag)  # ...means no ack: redelivered\n' : '    # ...loses the message: the broker forgot it when it sent it\n'}
ch.basic_consume('work', on_message, auto_ack=${manual ? 'False' : 'True'})
ch.basic_publish('', 'work', b'm1')
ch.start_consuming()`,
    };
  },
};
