// The comparisons: one scenario run on two brokers that differ in a single
// setting. Each side builds its own World (same seed, same start) with
// `setup(world, value)`; the reader's actions run on both sides at the same
// page time. `differs` names the counters where the two sides are expected to
// part ways once the actions have run, and why.

import { SimConsumer } from '../sim/consumer.js';
import { SimProducer } from '../sim/producer.js';
import { SlowDisk } from '../sim/slow-disk.js';

const LIMIT = 3;

/** One queue "work", a producer and one worker: the shape most lessons use. */
async function workQueue(world, { args = {}, producer = {}, consumer = {} } = {}) {
  await world.declareQueue('work', { durable: true, args });
  const p = world.add(new SimProducer(world, { id: 'producer', label: 'producer', routingKey: 'work', ...producer }));
  const c = world.add(new SimConsumer(world, { id: 'worker', label: 'worker', queue: 'work', ...consumer }));
  return { producer: p, consumer: c };
}

const publish = { id: 'publish', label: 'Publish a message', run: (ctx) => ctx.producer.publish().catch(() => {}) };
const crash = {
  id: 'crash',
  label: 'Crash the worker',
  kind: 'danger',
  run: (ctx) => ctx.consumer.crash(),
  enabled: (ctx) => ctx.consumer.status === 'running',
};

export const COMPARISONS = [
  {
    id: 'ack',
    lesson: 1,
    title: 'Manual vs automatic ack',
    setting: 'acknowledgment',
    values: [
      ['manual', 'manual ack'],
      ['auto', 'automatic ack'],
    ],
    text: `Both workers get the same message and crash at the same moment, while processing it.
      With a manual ack the broker still holds the message and delivers it again; with automatic ack
      it forgot the message when it sent it, and the message is lost.`,
    setup: (world, ack) => workQueue(world, { consumer: { ack, prefetch: 1, processMs: 4000, restartMs: 1500 } }),
    actions: [publish, crash],
    differs: ['redelivered', 'lost'],
  },
  {
    id: 'early',
    lesson: 2,
    title: 'Ack after the work vs before it',
    setting: 'when the worker acks',
    values: [
      ['manual', 'ack after processing'],
      ['early', 'ack on receipt'],
    ],
    text: `An ack sent on receipt tells the broker the work is done before it is: a crash during the work
      then loses the message, exactly as automatic ack does. Acked after the work, it comes back.`,
    setup: (world, ack) => workQueue(world, { consumer: { ack, prefetch: 1, processMs: 4000, restartMs: 1500 } }),
    actions: [publish, crash],
    differs: ['redelivered', 'lost'],
  },
  {
    id: 'prefetch',
    lesson: 5,
    title: 'Prefetch 1 vs 10',
    setting: 'prefetch',
    values: [
      [1, 'prefetch 1'],
      [10, 'prefetch 10'],
    ],
    text: `The broker sends a consumer at most <code>prefetch</code> unacknowledged messages. With 10 it
      hands over the whole batch at once and the rest wait in the worker; with 1, one at a time, the rest
      wait in the queue where another consumer could take them. A crash sends back everything the worker held.`,
    setup: (world, prefetch) =>
      workQueue(world, { consumer: { ack: 'manual', prefetch, processMs: 1000, serial: true, restartMs: 1500 } }),
    actions: [
      {
        id: 'publish-10',
        label: 'Publish 10 messages',
        run: (ctx) => {
          for (let i = 0; i < 10; i++) ctx.producer.publish().catch(() => {});
        },
      },
      crash,
    ],
    differs: ['delivered', 'redelivered'],
  },
  {
    id: 'confirms',
    lesson: 6,
    title: 'With vs without publisher confirms',
    setting: 'publisher confirms',
    values: [
      [true, 'confirms'],
      [false, 'no confirms'],
    ],
    text: `Both publish persistent messages to a durable queue on a slow disk (1.5 s a write), then the
      power goes out. With confirms the publisher knows which messages the broker took responsibility for,
      and can publish the rest again; without, it cannot tell a saved message from a lost one.`,
    world: () => ({ store: (clock) => new SlowDisk(clock, 1500) }),
    setup: (world, confirm) =>
      workQueue(world, {
        producer: { confirm, persistent: true },
        consumer: { ack: 'manual', prefetch: 1, processMs: 60000 },
      }),
    actions: [
      {
        id: 'publish-3',
        label: 'Publish 3 messages',
        run: (ctx) => {
          for (let i = 0; i < 3; i++) ctx.producer.publish().catch(() => {});
        },
        enabled: (ctx) => ctx.world.up,
      },
      {
        id: 'restart',
        label: 'Restart the broker (power cut)',
        kind: 'danger',
        run: (ctx) => ctx.world.restart(),
        enabled: (ctx) => ctx.world.up,
      },
    ],
    differs: ['confirmed'],
  },
  {
    id: 'limit',
    lesson: 3,
    title: 'With vs without a delivery limit',
    setting: 'x-delivery-limit',
    values: [
      [LIMIT, `x-delivery-limit = ${LIMIT}`],
      [0, 'no delivery limit'],
    ],
    text: `A poison message fails every time and the worker rejects it with requeue. Without a limit it loops
      for ever; with <code>x-delivery-limit = ${LIMIT}</code> the broker drops it after ${LIMIT + 1} deliveries.`,
    setup: (world, limit) =>
      workQueue(world, {
        args: limit ? { 'x-delivery-limit': limit } : {},
        consumer: {
          ack: 'manual',
          prefetch: 1,
          processMs: 500,
          onProcessed: (d, c) => c.settle(d, 'reject', { requeue: true }),
        },
      }),
    actions: [
      {
        id: 'publish-poison',
        label: 'Publish a poison message',
        run: (ctx) => ctx.producer.publish('poison').catch(() => {}),
      },
    ],
    differs: ['redelivered', 'dropped'],
    counters: ['rejected', 'dropped'],
  },
];

/** The comparison a lesson's point is, if any. */
export const comparisonFor = (lessonNumber) => COMPARISONS.find((c) => c.lesson === lessonNumber) ?? null;
