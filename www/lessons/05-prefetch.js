// Lesson 5: prefetch bounds how many unacked messages a consumer holds, and
// so how many a crash sends back.

import { SimConsumer } from '../sim/consumer.js';
import { JS_HEAD, PY_HEAD, counter, mark, sinceMark, workQueue } from './common.js';

export default {
  number: 5,
  slug: 'prefetch',
  short: 'Prefetch',
  title: 'Prefetch: how much a consumer holds',
  defaults: { prefetch: 3 },
  counters: ['requeued'],
  text: `
    <p><code>basic.qos(prefetch_count)</code> caps the number of messages delivered to a consumer and
    not yet acked. The broker sends up to that many, then waits for acks. With no limit (0) it sends
    everything it has: one slow consumer can sit on the whole queue while others idle.</p>
    <p>Those held messages are also what a crash puts back: every unacked delivery returns to the queue,
    marked redelivered. A large prefetch means more work redone after a crash and more latency for
    messages stuck behind a slow consumer; a prefetch of 1 means a round trip per message.</p>
    <p><strong>Try it:</strong> set a prefetch, publish 10 messages (each takes worker 3 s), and crash
    worker while it holds a full window. Then reset, publish 10 and <em>start worker 2</em>: with a small
    prefetch it takes what waits in the queue; with a prefetch of 10 or more worker already holds
    everything and worker 2 idles.</p>`,
  controls: [
    { number: 'Prefetch count', id: 'prefetch', min: 1, max: 20 },
    {
      group: [
        {
          button: 'Publish 10 messages',
          id: 'publish',
          run: (ctx) => {
            for (let i = 0; i < 10; i++) ctx.producer.publish();
          },
        },
        {
          button: 'Start worker 2',
          id: 'second',
          run: startSecond,
          enabled: (ctx) => !ctx.second,
        },
        {
          button: 'Crash now',
          id: 'crash',
          kind: 'danger',
          run: crash,
          enabled: (ctx) => ctx.consumer.status === 'running',
          predict: {
            question: 'worker crashes now. How many messages go back to the queue?',
            options: [
              ['window', 'Every one it holds unacknowledged: up to the prefetch count'],
              ['one', 'Only the one it is working on'],
              ['none', 'None: they are lost with worker'],
            ],
            outcome: (ctx) => {
              if (ctx.state.crashAt === undefined) return null;
              const back = sinceMark(ctx, 'requeued');
              // The requeues come with the connection's close; until all are in, wait.
              if (back < ctx.state.heldAtCrash) return null;
              return back === 0 ? 'none' : back === 1 && ctx.state.heldAtCrash > 1 ? 'one' : 'window';
            },
            why: (ctx) => {
              const back = sinceMark(ctx, 'requeued');
              return back === 0
                ? 'worker held nothing unacknowledged when it crashed, so there was nothing to put back.'
                : `The broker put back ${back}: every delivery on worker's closed channel that was not acked (it held ${ctx.state.heldAtCrash} of a prefetch of ${ctx.settings.prefetch}), marked redelivered.`;
            },
          },
        },
      ],
    },
    {
      panel: 'Right now',
      id: 'now',
      live: true,
      render: (ctx) => {
        // The broker's count of worker's unacked deliveries, kept from its events.
        const held = unackedNow(ctx);
        const ready = ctx.world.model.queues.get('work')?.ready.size ?? 0;
        const back =
          ctx.state.crashAt === undefined
            ? ''
            : `<p>The crash sent <strong data-returned>${returnedSinceCrash(ctx)}</strong> messages back to the queue.</p>`;
        const second = ctx.second
          ? `<p>worker 2 holds <strong data-held-second>${unackedNow(ctx, ctx.second)}</strong>; ${ctx.second.processedCount} done${ctx.state.readyAtSecond === 0 ? ' (it arrived when worker already held everything: it idles)' : ''}.</p>`
          : '';
        return `<p>worker holds <strong data-held>${held}</strong> of at most ${ctx.settings.prefetch} (most so far: <span data-most>${mostHeld(ctx)}</span>); ${ready} ready in the queue.</p>${second}${back}`;
      },
    },
  ],
  async setup(ctx) {
    ctx.second = null;
    await workQueue(ctx, {
      // One message at a time, as a single-threaded worker: the window fills, then drains one by one.
      consumer: { prefetch: ctx.settings.prefetch, processMs: 3000, restartMs: 2000, serial: true },
    });
  },
  checks(ctx) {
    const p = ctx.settings.prefetch;
    const returned = () => returnedSinceCrash(ctx);
    return [
      {
        text: `<em>Start worker 2</em> after publishing: it gets what still waits in the queue${p >= 10 ? '; with this prefetch worker took all 10 and worker 2 idles' : ''}.`,
        ok: () => {
          if (!ctx.second || ctx.state.readyAtSecond === undefined) return false;
          const got = ctx.world.model.peakUnacked.get(ctx.second.brokerChannelKey) ?? 0;
          return ctx.state.readyAtSecond > 0 ? got > 0 : ctx.world.now() - ctx.state.secondAt > 3000 && got === 0;
        },
      },
      {
        text: `worker holds at most <strong>${p}</strong> message${p === 1 ? '' : 's'} at a time; the rest wait in the queue.`,
        ok: () => mostHeld(ctx) === p,
      },
      {
        text: `<em>Crash now</em> with a full window sends those <strong>${p}</strong> back, marked <strong>R</strong>.`,
        ok: () =>
          ctx.state.crashAt !== undefined && returned() === ctx.state.heldAtCrash && ctx.state.heldAtCrash === p,
      },
      {
        text: 'After the restart they are delivered again: <strong>redelivered</strong> counts them.',
        ok: () =>
          ctx.state.crashAt !== undefined &&
          counter(ctx, 'redelivered') >= ctx.state.heldAtCrash &&
          ctx.state.heldAtCrash > 0,
      },
    ];
  },
  code(ctx) {
    const p = ctx.settings.prefetch;
    return {
      js: `${JS_HEAD}await ch.prefetch(${p})   // at most ${p} unacked deliveries on this channel
await ch.queueDeclare('work', { durable: true })
await ch.basicConsume('work', { noAck: false }, async (msg) => {
  await process(msg.bodyString())   // 3 s each
  await msg.ack()                   // frees a slot: the broker sends the next
})`,
      py: `${PY_HEAD}ch.basic_qos(prefetch_count=${p})   # at most ${p} unacked deliveries

def on_message(ch, method, properties, body):
    process(body)                        # 3 s each
    ch.basic_ack(method.delivery_tag)    # frees a slot

ch.basic_consume('work', on_message)
ch.start_consuming()`,
    };
  },
};

/** Unacked deliveries on a consumer's current channel (worker's by default), as the broker counts them. */
function unackedNow(ctx, consumer = ctx.consumer) {
  const key = consumer.brokerChannelKey;
  return (key && ctx.world.model.unackedOn.get(key)) || 0;
}

/** The most unacked deliveries any of worker's channels held at once, as the broker counted them. */
function mostHeld(ctx) {
  let most = 0;
  for (const [key, n] of ctx.world.model.peakUnacked) {
    if (ctx.world.channels.get(key) === ctx.consumer) most = Math.max(most, n);
  }
  return most;
}

function crash(ctx) {
  mark(ctx);
  ctx.state.heldAtCrash = unackedNow(ctx);
  ctx.state.crashAt = ctx.world.now();
  ctx.consumer.crash();
}

/** Messages the broker put back in the queue since the crash (requeued events, as applied so far). */
function returnedSinceCrash(ctx) {
  let n = 0;
  for (const m of ctx.world.model.messages.values()) {
    if (m.events.some((e) => e.type === 'requeued' && e.at >= ctx.state.crashAt)) n++;
  }
  return n;
}

/** A second consumer with the same prefetch joins: what it gets is what worker's window left in the queue. */
async function startSecond(ctx) {
  if (ctx.second) return;
  ctx.state.readyAtSecond = ctx.world.model.queues.get('work')?.ready.size ?? 0;
  ctx.state.secondAt = ctx.world.now();
  ctx.second = ctx.world.add(
    new SimConsumer(ctx.world, {
      id: 'worker-2',
      label: 'worker 2',
      queue: 'work',
      prefetch: ctx.settings.prefetch,
      processMs: 3000,
      restartMs: 2000,
      serial: true,
    }),
  );
  await ctx.second.attach();
}
