// Lesson 8: a consumer that holds a delivery longer than x-consumer-timeout
// loses it; extending the lease while working keeps it.

import { escape } from '../dom.js';
import { JS_HEAD, PY_HEAD, counter, mark, sinceMark, workQueue } from './common.js';

// extendLease is Warren's own and has no AMQP method: it needs warren-mq's
// in-process client (amqp-client.js's names, plus extendLease).
// The live program's own consumer timeout: longer than its slowJob (8 s) and any job set here.
const LIVE_TIMEOUT_MS = 30000;

const LEASE_HEAD = `// extendLease is Warren's own: there is no AMQP method for it, so this
// uses warren-mq's in-process client (amqp-client.js's names, plus extendLease)
import { Broker } from 'warren-mq'

const broker = await Broker.create()
const conn = await broker.connect()
const ch = await conn.channel()
`;

/** The lease's program as an AMQP client writes it: the deadline asked for when subscribing. */
const amqpLease = (
  timeoutS,
) => `${JS_HEAD}await ch.queueDeclare('jobs', { durable: true }, { 'x-consumer-timeout': ${timeoutS * 1000} })
await ch.prefetch(1)

// extendLease is warren-mq's own (its in-process client): over AMQP, as on RabbitMQ, a
// delivery's deadline cannot be moved once it is given. A consumer with slow jobs asks
// for a longer one when it subscribes: x-consumer-timeout as a consumer argument wins
// over the queue's ${timeoutS} s.
await ch.basicConsume('jobs', { noAck: false, args: { 'x-consumer-timeout': ${LIVE_TIMEOUT_MS} } }, async (msg) => {
  await slowJob(msg.bodyString())  // 8 s here: longer than the queue's timeout, within this consumer's
  await msg.ack()
})`;

export default {
  number: 8,
  slug: 'timeout',
  short: 'Slow consumers',
  title: 'Slow consumers: consumer timeout and leases',
  defaults: { jobS: 8, timeoutS: 5, lease: false },
  counters: ['requeued'],
  text: `
    <p>A consumer that never acks holds its messages forever: a stuck process keeps work from everyone.
    So brokers put a deadline on each delivery: <code>x-consumer-timeout</code> (ms) on the queue or the
    consumer, or the broker-wide default. When a delivery outlives it, the broker takes it back: the
    consumer is cancelled (or, for clients that cannot take a cancel, its channel is closed with
    406) and the message is requeued for someone else.</p>
    <p>A job that is simply <em>slow</em> then runs again and again, and its late ack fails because the
    broker no longer knows that delivery tag. Warren lets a consumer that is still working say so:
    <code>extendLease(tag, ms)</code> pushes that delivery's deadline to now + ms. It is warren-mq's own:
    AMQP has no method for it, and RabbitMQ no equivalent. There, once given, a delivery's deadline stays;
    a consumer with slow jobs asks for a longer one when it subscribes (<code>x-consumer-timeout</code> as a
    consumer argument wins over the queue's), as the program under <em>Edit and run</em> does.</p>
    <p><strong>Try it:</strong> publish a job that takes longer than the timeout and watch it come back.
    Then tick the lease and publish again.</p>`,
  controls: [
    { number: 'Job takes', id: 'jobS', min: 1, max: 20, unit: 's' },
    { number: '<code>x-consumer-timeout</code>', id: 'timeoutS', min: 1, max: 20, unit: 's' },
    { toggle: 'worker calls <code>extendLease</code> every 2 s (by the timeout)', id: 'lease' },
    {
      group: [
        {
          button: 'Publish a job',
          id: 'publish',
          run: (ctx) => {
            mark(ctx);
            return ctx.producer.publish(`job ${++ctx.state.n}`);
          },
          predict: {
            question:
              'worker takes the job, which runs as long as set above, against the timeout above (and the lease, if ticked). What happens?',
            options: [
              ['acked', 'It is finished and acked, once'],
              ['back', 'The broker takes it back and delivers it again'],
            ],
            outcome: (ctx) => (sinceMark(ctx, 'requeued') > 0 ? 'back' : sinceMark(ctx, 'acked') > 0 ? 'acked' : null),
            why: (ctx, outcome) => {
              const { jobS, timeoutS, lease } = ctx.settings;
              if (outcome === 'back')
                return `The job takes ${jobS} s; after ${timeoutS} s with no ack the broker cancelled worker and requeued it${lease ? ' (the lease was not extended in time)' : ''}.`;
              return lease
                ? `worker extended its lease every 2 s, each time pushing the broker's deadline to ${timeoutS} s ahead, so a ${jobS} s job outlived the ${timeoutS} s timeout and was acked.`
                : `The job took ${jobS} s, within the ${timeoutS} s timeout: acked before the deadline.`;
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
        const c = ctx.consumer;
        const d = c.holding()[0];
        const now = ctx.world.now();
        // The deadline as the broker set it: delivery + x-consumer-timeout, or the last extendLease + its ms.
        const left = d ? Math.max(0, d.deadline - now) : 0;
        const limit = ctx.settings.timeoutS * 1000;
        const job = d
          ? `<p>Working on ${escape(d.m.bodyString())} (tag ${d.tag}): ${((now - d.started) / 1000).toFixed(1)} s of ${ctx.settings.jobS} s; leases extended: ${d.leases ?? 0}.</p>` +
            `<p><label for="deadline-left">The broker takes it back in</label> <meter id="deadline-left" min="0" max="${limit}" low="${limit / 4}" optimum="${limit}" value="${left}"></meter> <strong data-deadline="${Math.round(left)}">${(left / 1000).toFixed(1)} s</strong></p>`
          : '<p>Idle.</p>';
        const err = ctx.state.errors.length
          ? `<ul class="errors">${ctx.state.errors
              .slice(-3)
              .map((e) => `<li>${escape(e)}</li>`)
              .join('')}</ul>`
          : '';
        return job + err;
      },
    },
  ],
  async setup(ctx) {
    const { settings } = ctx;
    ctx.state.n = 0;
    ctx.state.errors = [];
    const leaseMs = settings.timeoutS * 1000;
    await workQueue(ctx, {
      queue: 'jobs',
      args: { 'x-consumer-timeout': settings.timeoutS * 1000 },
      consumer: {
        prefetch: 1,
        processMs: settings.jobS * 1000,
        restartMs: 500,
        onError: (text) => ctx.state.errors.push(text),
        onReceive: (d, c) => {
          d.started = ctx.world.now();
          d.deadline = d.started + settings.timeoutS * 1000;
          d.leases = 0;
          if (!settings.lease) return;
          const extend = () => {
            if (d.processed || d.stale || d.ch.closed) return;
            const at = ctx.world.now();
            d.m.extendLease(leaseMs).then(
              () => (d.deadline = at + leaseMs),
              (e) => ctx.state.errors.push(e.message),
            );
            d.leases++;
            c.after(2000, extend);
          };
          c.after(2000, extend);
        },
      },
    });
  },
  checks(ctx) {
    if (ctx.settings.lease) {
      return [
        {
          text: 'The lease keeps the delivery alive past the timeout: the job is acked once, <strong>redelivered = 0</strong>.',
          ok: () => counter(ctx, 'acked') >= 1 && counter(ctx, 'redelivered') === 0,
        },
      ];
    }
    const slow = ctx.settings.jobS > ctx.settings.timeoutS;
    return [
      slow
        ? {
            text: 'At the timeout the broker cancels worker and requeues the job: it comes back <strong>R</strong>, <strong>redelivered ≥ 1</strong>.',
            ok: () => counter(ctx, 'redelivered') >= 1,
          }
        : { text: 'The job finishes within the timeout and is acked.', ok: () => counter(ctx, 'acked') >= 1 },
      ...(slow
        ? [
            {
              text: "worker's late ack fails: the broker no longer knows that delivery tag (406).",
              ok: () => ctx.state.errors.some((e) => /unknown delivery tag|PRECONDITION/i.test(e)),
            },
          ]
        : []),
    ];
  },
  code(ctx) {
    const { timeoutS, lease } = ctx.settings;
    return {
      // Edit and run speaks AMQP (amqp-client.js): no extendLease there, so the program run is RabbitMQ's way.
      ...(lease ? { live: amqpLease(timeoutS) } : {}),
      js: `${lease ? LEASE_HEAD : JS_HEAD}await ch.queueDeclare('jobs', { durable: true }, { 'x-consumer-timeout': ${timeoutS * 1000} })
await ch.prefetch(1)

await ch.basicConsume('jobs', { noAck: false }, async (msg) => {
${
  lease
    ? `  // still working: push this delivery's deadline to now + ${timeoutS} s, every 2 s
  const timer = setInterval(() => ch.extendLease(msg.deliveryTag, ${timeoutS * 1000}), 2000)
  try {
    await slowJob(msg.bodyString())
  } finally {
    clearInterval(timer)
  }
`
    : `  await slowJob(msg.bodyString())  // longer than ${timeoutS} s: the broker takes it back
`
}  await msg.ack()
})`,
      py: `${PY_HEAD}ch.queue_declare('jobs', durable=True,
                 arguments={'x-consumer-timeout': ${timeoutS * 1000}})
ch.basic_qos(prefetch_count=1)

def on_message(ch, method, props, body):
    slow_job(body)   # longer than ${timeoutS} s: the broker takes it back
    ch.basic_ack(method.delivery_tag)
${lease ? '\n# extendLease is a Warren extension; pika has no method for it.\n' : ''}
ch.basic_consume('jobs', on_message)
ch.start_consuming()`,
    };
  },
};
