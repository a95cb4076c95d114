// Lesson 4: delivery tags number a channel's deliveries; `multiple` settles
// every outstanding tag up to the one given.

import { escape } from '../dom.js';
import { JS_HEAD, PY_HEAD, counter, settle, unackedTags, workQueue } from './common.js';

/** Sends one ack/nack/reject for tag `settings.tag` and records what the broker still holds after it. */
async function send(ctx, how) {
  const { settings, consumer } = ctx;
  const tag = settings.tag;
  const multiple = how !== 'reject' && settings.multiple;
  const before = unackedTags(ctx);
  const words = `basic.${how} tag ${tag}${multiple ? ', multiple' : ''}${how === 'ack' ? '' : ', requeue'}`;
  let error = null;
  try {
    await consumer.call(how, tag, { multiple, requeue: true });
  } catch (e) {
    error = `${e.message}. The broker closed worker's channel: its unacked messages went back to the queue, and worker subscribes again on a new channel.`;
  }
  await settle();
  ctx.state.log.push({ how, tag, multiple, words, before, after: unackedTags(ctx), error });
}

const show = (tags) => (tags.length ? tags.join(', ') : 'none');

export default {
  number: 4,
  slug: 'tags',
  short: 'Delivery tags and multiple',
  title: 'Delivery tags and multiple',
  defaults: { tag: 5, multiple: false },
  counters: ['nacked', 'rejected', 'requeued'],
  text: `
    <p>Every delivery on a channel gets the next <em>delivery tag</em>: 1, 2, 3… An ack names a tag.
    With <code>multiple=true</code> it settles <em>every</em> outstanding tag up to and including that one;
    without, only that tag. <code>basic.nack</code> takes <code>multiple</code> too; <code>basic.reject</code>
    does not.</p>
    <p>Tags belong to the channel, not to the message: a message that comes back gets a new tag, and
    acking a tag the channel does not hold (twice, or after a reconnect) is a channel error
    (406 PRECONDITION_FAILED).</p>
    <p><strong>Start:</strong> five messages were published; <em>worker</em> holds them without
    processing and acked tag 1, so tags 2, 3, 4 and 5 are outstanding. Ack tag 5 with and without
    <em>multiple</em> (reset the lesson in between) and read the broker's list of unacknowledged tags.</p>`,
  controls: [
    { number: 'Delivery tag', id: 'tag', min: 1, max: 99, change: () => {} },
    { toggle: '<code>multiple</code>', id: 'multiple', change: () => {} },
    {
      group: [
        {
          button: 'basic.ack',
          id: 'ack',
          run: (ctx) => {
            ctx.state.predictFrom = ctx.state.log.length;
            return send(ctx, 'ack');
          },
          predict: {
            question:
              'worker holds the tags listed below. You send basic.ack with the tag and multiple set above. What stays unacknowledged?',
            options: [
              ['none', 'Nothing: every outstanding tag is settled'],
              ['some', 'Some tags stay unacknowledged'],
              ['error', 'The broker closes the channel (406) and takes everything back'],
            ],
            outcome: (ctx) => {
              const l = ctx.state.log[ctx.state.predictFrom ?? Infinity];
              if (!l) return null;
              return l.error ? 'error' : l.after.length === 0 ? 'none' : 'some';
            },
            why: (ctx) => {
              const l = ctx.state.log[ctx.state.predictFrom];
              if (l.error) return `The channel held no tag ${l.tag}: ${l.error}`;
              return `${l.words}: the broker held ${show(l.before)} and now holds ${show(l.after)}${l.multiple ? ' (multiple settles every tag up to and including the one named)' : ' (without multiple only the tag named is settled)'}.`;
            },
          },
        },
        { button: 'basic.nack (requeue)', id: 'nack', kind: 'warn', run: (ctx) => send(ctx, 'nack') },
        { button: 'basic.reject (requeue)', id: 'reject', kind: 'warn', run: (ctx) => send(ctx, 'reject') },
        { button: 'Publish 5 more', id: 'publish', run: (ctx) => publish(ctx, 5) },
      ],
    },
    {
      panel: "Unacknowledged tags on worker's channel (the broker's view)",
      id: 'unacked',
      live: true,
      render: (ctx) => {
        const tags = ctx.world.up ? unackedTags(ctx) : [];
        const boxes = tags.map((t) => `<li class="tagbox">tag ${t}</li>`).join('');
        return `<ul class="tags" data-tags="${tags.join(',')}">${boxes || '<li>none</li>'}</ul>`;
      },
    },
    {
      panel: 'What you sent',
      id: 'log',
      render: (ctx) =>
        ctx.state.log.length
          ? `<ol class="log">${ctx.state.log.map((l) => `<li>${escape(l.words)}: ${l.error ? `<strong>error</strong> ${escape(l.error)}` : `unacked before ${show(l.before)}, after <strong>${show(l.after)}</strong>`}</li>`).join('')}</ol>`
          : '<p class="hint">Nothing yet.</p>',
    },
  ],
  async setup(ctx) {
    ctx.state.log = [];
    await workQueue(ctx, {
      consumer: {
        prefetch: 20,
        processMs: null,
        onReceive: (d, c) => {
          // The first delivery is handled before the lesson starts.
          if (d.tag === 1 && !d.m.redelivered) c.settle(d, 'ack');
        },
      },
    });
    ctx.afterAttach = () => publish(ctx, 5);
  },
  checks(ctx) {
    const seen = (how, multiple, after) =>
      ctx.state.log.some(
        (l) =>
          l.how === how &&
          l.multiple === multiple &&
          !l.error &&
          (after === undefined || String(l.after) === String(after)),
      );
    return [
      {
        text: 'At the start, tags <strong>2, 3, 4, 5</strong> are unacknowledged (tag 1 was acked).',
        ok: () => counter(ctx, 'acked') >= 1 && (ctx.state.log[0]?.before ?? unackedTags(ctx)).join() === '2,3,4,5',
      },
      {
        text: '<code>basic.ack 5</code> without multiple: tags <strong>2, 3, 4</strong> stay unacknowledged.',
        ok: () =>
          ctx.state.log.some((l) => l.how === 'ack' && l.tag === 5 && !l.multiple && l.after.join() === '2,3,4'),
      },
      {
        text: '<code>basic.ack 5</code> with multiple: tags 2 to 5 are all acked, <strong>none</strong> stays.',
        ok: () => ctx.state.log.some((l) => l.how === 'ack' && l.tag === 5 && l.multiple && l.after.length === 0),
      },
      {
        text: '<code>basic.nack 5</code> with multiple and requeue: 2 to 5 come back <strong>R</strong> with new tags (6 to 9).',
        ok: () => seen('nack', true) && counter(ctx, 'redelivered') >= 4,
      },
    ];
  },
  code(ctx) {
    const m = ctx.settings.multiple;
    return {
      js: `${JS_HEAD}await ch.queueDeclare('work', { durable: true })
await ch.prefetch(20)
const held = []
await ch.basicConsume('work', { noAck: false }, (msg) => held.push(msg))  // tags 1, 2, 3, ...

await ch.basicAck(1)                 // tag 1 only
await ch.basicAck(${ctx.settings.tag}, ${m})          // ${m ? 'every outstanding tag up to ' + ctx.settings.tag : 'only tag ' + ctx.settings.tag}
await ch.basicNack(${ctx.settings.tag}, true, ${m})   // requeue=true, multiple=${m}`,
      py: `${PY_HEAD}ch.basic_qos(prefetch_count=20)
held = []
ch.basic_consume('work', lambda ch, method, props, body: held.append(method.delivery_tag))

ch.basic_ack(1)                              # tag 1 only
ch.basic_ack(${ctx.settings.tag}, multiple=${m ? 'True' : 'False'})           # ${m ? 'every outstanding tag up to ' + ctx.settings.tag : 'only tag ' + ctx.settings.tag}
ch.basic_nack(${ctx.settings.tag}, multiple=${m ? 'True' : 'False'}, requeue=True)`,
    };
  },
};

function publish(ctx, n) {
  for (let i = 0; i < n; i++) ctx.producer.publish();
}
