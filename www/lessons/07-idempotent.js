// Lesson 7: at-least-once delivery means duplicates; an idempotent consumer
// (and broker-side deduplication of publisher retries) makes them harmless.

import { escape } from '../dom.js';
import { JS_HEAD, PY_HEAD, counter, workQueue } from './common.js';

const DEDUP_HEADER = 'x-deduplication-header';

function pay(ctx, id = `pay-${++ctx.state.n}`) {
  ctx.state.lastId = id;
  // The queue's deduplication reads the header named by x-deduplication-header
  // (by default that header itself); the message id is sent in both.
  return ctx.producer.publish(`charge €10 (${id})`, { messageId: id, headers: { [DEDUP_HEADER]: id } });
}

export default {
  number: 7,
  slug: 'idempotent',
  short: 'Idempotent consumers',
  title: 'Idempotent consumers',
  defaults: { remember: false, dedup: false },
  counters: ['dropped'],
  text: `
    <p>Acking after the work (lesson 2) means a crash <em>between</em> the work and the ack redoes the
    work: the message is redelivered. AMQP delivers <em>at least once</em>. If the work has a side
    effect, charging a card, sending an e-mail, it happens twice.</p>
    <p>The cure is on the consumer: make the work idempotent. Give each message an id
    (<code>message-id</code>), remember the ids you have applied (in the same transaction as the side
    effect, in real life), and on a redelivery only ack.</p>
    <p>Duplicates also come from publishers: one that lost its connection before a confirm publishes
    again. A queue declared with <code>x-message-deduplication: true</code> drops a message whose
    deduplication header it has seen recently (the header named by <code>x-deduplication-header</code>;
    this page puts the message id there), so the retry never reaches a consumer.</p>
    <p><strong>Try it:</strong> press <em>Crash after applying, before ack</em>, then pay: the account is
    charged twice. Tick the consumer's memory and repeat. Then send a payment, retry it from the publisher
    with and without the queue's deduplication.</p>`,
  controls: [
    { toggle: 'billing remembers the message ids it applied', id: 'remember' },
    { toggle: 'queue payments has <code>x-message-deduplication: true</code>', id: 'dedup' },
    {
      group: [
        { button: 'Pay €10', id: 'pay', run: (ctx) => pay(ctx) },
        {
          button: 'Crash after applying, before ack',
          id: 'arm-crash',
          kind: 'danger',
          run: (ctx) => {
            ctx.state.crashNext = true;
            ctx.state.crashedId = null;
          },
          enabled: (ctx) => !ctx.state.crashNext,
          predict: {
            question:
              'billing will crash after charging the next payment, before its ack. How often is that payment charged in the end?',
            options: [
              ['twice', 'Twice: the redelivered message is charged again'],
              ['once', 'Once'],
            ],
            outcome: (ctx) => {
              const s = ctx.state;
              const id = s.crashedId;
              if (!id) return null;
              if ((s.applied.get(id) ?? 0) > 1) return 'twice';
              return s.skippedIds.has(id) ? 'once' : null;
            },
            why: (ctx, outcome) =>
              outcome === 'twice'
                ? `The ack never came, so the broker redelivered ${ctx.state.crashedId} and billing, remembering nothing, charged it again (redelivered = ${counter(ctx, 'redelivered')}).`
                : `The broker redelivered ${ctx.state.crashedId} (the ack never came), but billing remembered its id and only acked it.`,
          },
        },
        {
          button: 'Publisher retries the last payment',
          id: 'retry',
          kind: 'warn',
          run: (ctx) => pay(ctx, ctx.state.lastId),
          enabled: (ctx) => Boolean(ctx.state.lastId),
        },
      ],
    },
    {
      panel: 'Account',
      id: 'account',
      live: true,
      render: (ctx) => {
        const s = ctx.state;
        const lines = [...s.applied]
          .map(([id, n]) => `<li>${escape(id)}: applied ${n}×${n > 1 ? ' <strong>(double charge)</strong>' : ''}</li>`)
          .join('');
        return (
          `<p>Charged: <strong data-balance="${s.balance}">€${s.balance}</strong> for ${s.applied.size} payment(s).${s.crashNext ? ' billing will crash after the next charge.' : ''}</p>` +
          `<ul>${lines}</ul><p>Redeliveries recognised and only acked: ${s.skipped}. Duplicates dropped by the queue: ${counter(ctx, 'dropped')}.</p>`
        );
      },
    },
  ],
  async setup(ctx) {
    Object.assign(ctx.state, {
      n: 0,
      balance: 0,
      applied: new Map(),
      skipped: 0,
      skippedIds: new Set(),
      crashNext: false,
      crashedId: null,
      lastId: null,
    });
    const seen = new Set();
    const args = ctx.settings.dedup ? { 'x-message-deduplication': true } : {};
    await workQueue(ctx, {
      queue: 'payments',
      args,
      producer: { label: 'shop' },
      consumer: {
        label: 'billing',
        prefetch: 1,
        processMs: 1500,
        onProcessed: (d, c) => {
          const s = ctx.state;
          const id = d.m.properties.messageId;
          if (ctx.settings.remember && seen.has(id)) {
            s.skipped++;
            s.skippedIds.add(id);
            c.note(d, `billing: ${id} was already applied; only acking it`);
            return c.settle(d, 'ack');
          }
          s.balance += 10;
          s.applied.set(id, (s.applied.get(id) ?? 0) + 1);
          seen.add(id);
          c.note(d, `billing charged €10 for ${id} (${s.applied.get(id)}× now)`);
          if (s.crashNext) {
            s.crashNext = false;
            s.crashedId = id;
            return c.crash();
          }
          c.settle(d, 'ack');
        },
      },
    });
  },
  checks(ctx) {
    const s = ctx.state;
    const doubled = () => [...s.applied.values()].some((n) => n > 1);
    const list = [];
    if (!ctx.settings.remember) {
      list.push({
        text: 'A crash between the charge and the ack: the payment is redelivered and <strong>charged twice</strong>.',
        ok: () => doubled() && counter(ctx, 'redelivered') >= 1,
      });
    } else {
      list.push({
        text: 'The same crash: the redelivered payment is recognised by its id and only acked: <strong>charged once</strong>.',
        ok: () => s.skipped >= 1 && !doubled(),
      });
    }
    if (ctx.settings.dedup) {
      list.push({
        text: "The publisher's retry carries the same id: the queue <strong>drops</strong> it, billing never sees it.",
        ok: () => counter(ctx, 'dropped') >= 1,
      });
    } else {
      list.push({
        text: "Without deduplication the publisher's retry is a second message, delivered like any other.",
        ok: () => counter(ctx, 'published') > s.n && counter(ctx, 'delivered') > s.n,
      });
    }
    return list;
  },
  code(ctx) {
    const { remember, dedup } = ctx.settings;
    return {
      js: `${JS_HEAD}await ch.queueDeclare('payments', { durable: true }${dedup ? ", { 'x-message-deduplication': true, 'x-deduplication-header': 'x-deduplication-header' }" : ''})
${remember ? 'const applied = new Set()   // in real life: a table, updated with the charge\n' : ''}
await ch.basicConsume('payments', { noAck: false }, async (msg) => {
  const id = msg.properties.messageId
${remember ? '  if (applied.has(id)) return msg.ack()   // a redelivery: already done\n' : ''}  await chargeCard(msg.bodyString())      // the side effect
${remember ? '  applied.add(id)\n' : ''}  // a crash here: redelivered${remember ? ', recognised by its id' : ', charged again'}
  await msg.ack()
})

await ch.basicPublish('', 'payments', 'charge €10', { messageId: 'pay-1', headers: { 'x-deduplication-header': 'pay-1' } })`,
      py: `${PY_HEAD}ch.queue_declare('payments', durable=True${dedup ? ", arguments={'x-message-deduplication': True}" : ''})
${remember ? 'applied = set()  # in real life: a table, updated with the charge\n' : ''}
def on_message(ch, method, props, body):
${remember ? '    if props.message_id in applied:   # a redelivery: already done\n        return ch.basic_ack(method.delivery_tag)\n' : ''}    charge_card(body)                  # the side effect
${remember ? '    applied.add(props.message_id)\n' : ''}    ch.basic_ack(method.delivery_tag)  # a crash before this: redelivered

ch.basic_consume('payments', on_message)
ch.basic_publish('', 'payments', b'charge 10', pika.BasicProperties(
    message_id='pay-1', headers={'x-deduplication-header': 'pay-1'}))`,
    };
  },
};
