// Lesson 6: publisher confirms. What a confirm promises (the broker has the
// message, on disk when it is persistent and its queue durable), a nack from
// a full queue, a mandatory message returned, and a restart that keeps
// exactly what was confirmed to disk.

import { escape } from '../dom.js';
import { SlowDisk } from '../sim/slow-disk.js';
import { JS_HEAD, PY_HEAD, counter, workQueue } from './common.js';

const MARK = {
  waiting: '… waiting',
  confirmed: '✓ confirmed',
  nacked: '✗ nacked',
  'never confirmed': '✗ never confirmed',
};

/** Publishes one message and records its confirm in the lesson's list. */
function pub(ctx, what, { routingKey = 'orders', persistent = true, mandatory = false, batch = null } = {}) {
  const { producer, world, state } = ctx;
  const row = {
    id: ++state.rows,
    seq: producer.seq + 1,
    what,
    routingKey,
    persistent,
    state: 'waiting',
    at: world.now(),
    settledAt: null,
    batch,
  };
  state.history.push(row);
  const p = producer.publish(`${what} ${row.id}`, persistent ? { deliveryMode: 2 } : { deliveryMode: 1 }, {
    routingKey,
    mandatory,
  });
  p.then(
    () => Object.assign(row, { state: 'confirmed', settledAt: world.now() }),
    () => Object.assign(row, { state: world.up ? 'nacked' : 'never confirmed', settledAt: world.now() }),
  );
  return p;
}

async function publishSync(ctx) {
  ctx.state.syncBusy = true;
  try {
    await pub(ctx, 'order');
  } finally {
    ctx.state.syncBusy = false;
  }
}

function publishAsync(ctx) {
  const batch = ++ctx.state.batches;
  for (let i = 0; i < 5; i++) pub(ctx, 'order', { batch }).catch(() => {});
}

async function restart(ctx) {
  const { state, world } = ctx;
  const before = state.history.filter((r) => r.routingKey === 'orders');
  state.beforeRestart = {
    persistentConfirmed: before.filter((r) => r.persistent && r.state === 'confirmed').length,
    transient: before.filter((r) => !r.persistent).length,
    inOrders: world.model.queues.get('orders')?.ready.size ?? 0,
  };
  await world.restart();
  const snap = world.snapshot();
  state.afterRestart = Object.fromEntries(snap.queues.map((q) => [q.name, q.ready]));
}

export default {
  number: 6,
  slug: 'confirms',
  short: 'Publisher confirms',
  title: 'Publisher confirms',
  defaults: { diskMs: 1500 },
  counters: ['publishNacked', 'returned'],
  world: () => ({ store: (clock) => new SlowDisk(clock, 1500) }),
  text: `
    <p>On a channel in confirm mode (<code>confirm.select</code>) the broker numbers your publishes 1, 2,
    3… and answers each with <code>basic.ack</code> (a <em>confirm</em>) or <code>basic.nack</code>. A confirm
    means the broker has taken responsibility: for a <em>persistent</em> message routed to a
    <em>durable</em> queue, only once it is written to disk. Until then, keep the message and be ready
    to publish it again.</p>
    <p>This broker's disk is slow on purpose: each write takes the time set below, so you can watch a
    confirm wait for it. A queue with <code>x-overflow: reject-publish</code> that is full nacks instead;
    a <code>mandatory</code> message that reaches no queue comes back with <code>basic.return</code> (and
    is then confirmed: the broker did all it could).</p>
    <p><strong>Restart the broker</strong> pulls the plug and starts it again from its disk: persistent
    messages in the durable queue <em>orders</em> that were confirmed survive; transient messages, the
    transient queue <em>cache</em> and writes still under way are gone, and their confirms never come.</p>`,
  controls: [
    {
      number: 'Disk write time',
      id: 'diskMs',
      min: 0,
      max: 5000,
      step: 100,
      unit: 'ms',
      change: (ctx, v) => (ctx.world.store.delayMs = v),
    },
    {
      group: [
        {
          button: 'Publish and wait for the confirm',
          id: 'publish-sync',
          run: publishSync,
          enabled: (ctx) => !ctx.state.syncBusy && ctx.world.up,
        },
        { button: 'Publish 5 without waiting', id: 'publish-async', run: publishAsync, enabled: (ctx) => ctx.world.up },
        {
          button: 'Publish a transient message',
          id: 'publish-transient',
          run: (ctx) => pub(ctx, 'transient', { persistent: false }).catch(() => {}),
          enabled: (ctx) => ctx.world.up,
        },
        {
          button: 'Publish to the transient queue cache',
          id: 'publish-cache',
          run: (ctx) => pub(ctx, 'cached', { routingKey: 'cache' }).catch(() => {}),
          enabled: (ctx) => ctx.world.up,
        },
      ],
    },
    {
      group: [
        {
          button: 'Publish 3 to small (max 2, reject-publish)',
          id: 'publish-small',
          kind: 'warn',
          run: (ctx) => {
            for (let i = 0; i < 3; i++) pub(ctx, 'small', { routingKey: 'small', persistent: false }).catch(() => {});
          },
          enabled: (ctx) => ctx.world.up,
        },
        {
          button: 'Publish mandatory, unroutable',
          id: 'publish-mandatory',
          kind: 'warn',
          run: (ctx) =>
            pub(ctx, 'lost letter', { routingKey: 'nowhere', mandatory: true, persistent: false }).catch(() => {}),
          enabled: (ctx) => ctx.world.up,
        },
        {
          button: 'Restart the broker (power cut)',
          id: 'restart',
          kind: 'danger',
          run: restart,
          enabled: (ctx) => ctx.world.up,
          predict: {
            question: 'The power goes out now. After the restart, what does the durable queue orders hold?',
            options: [
              ['confirmed', 'Exactly its persistent messages whose confirms came'],
              ['all', 'Every message published to it'],
              ['none', 'Nothing: a restart empties the queues'],
            ],
            outcome: (ctx) => {
              const { afterRestart: a, beforeRestart: b } = ctx.state;
              if (!a) return null;
              const orders = a.orders ?? 0;
              if (orders === b.persistentConfirmed) return 'confirmed';
              return orders === 0 ? 'none' : 'all';
            },
            why: (ctx) => {
              const { afterRestart: a, beforeRestart: b } = ctx.state;
              const sent = ctx.state.history.filter((r) => r.routingKey === 'orders').length;
              return `orders came back from the disk with ${a.orders ?? 0} of the ${sent} published to it: ${b.persistentConfirmed} were persistent and confirmed (a confirm waits for the disk); transient messages and writes still under way did not survive${a.cache === undefined ? ', and the transient queue cache is gone' : ''}.`;
            },
          },
        },
      ],
    },
    {
      panel: 'Disk',
      id: 'disk',
      live: true,
      render: (ctx) => {
        const d = ctx.world.store;
        const w = d.writing
          ? `writing ${d.writing.bytes} bytes… (until t = ${((d.writing.doneAt - ctx.world.t0) / 1000).toFixed(2)} s)`
          : 'idle';
        return `<p data-disk="${d.writing ? 'writing' : 'idle'}">${w}. On disk: ${d.size} bytes in ${d.writes} writes.</p>`;
      },
    },
    {
      panel: 'Confirms (latest first)',
      id: 'confirms',
      render: (ctx) => {
        const rows = ctx.state.history.slice(-12).reverse();
        if (!rows.length) return '<p class="hint">Nothing published yet.</p>';
        const tr = rows.map(
          (r) =>
            `<tr data-state="${r.state}"><td>${r.seq}</td><td>${escape(r.what)} → ${escape(r.routingKey)}${r.persistent ? ', persistent' : ''}</td><td>${MARK[r.state]}${r.settledAt !== null ? ` after ${((r.settledAt - r.at) / 1000).toFixed(2)} s` : ''}</td></tr>`,
        );
        return `<table class="confirms"><thead><tr><th scope="col">seq</th><th scope="col">message</th><th scope="col">confirm</th></tr></thead><tbody>${tr.join('')}</tbody></table>`;
      },
    },
    {
      panel: 'Returned and restarted',
      id: 'returned',
      render: (ctx) => {
        const ret = ctx.producer.returned
          .map((r) => `<li>${escape(r.body)}: ${r.replyCode} ${escape(r.replyText)}</li>`)
          .join('');
        const a = ctx.state.afterRestart;
        const after = a
          ? `<p data-after-restart>After the restart: orders has <strong>${a.orders ?? 0}</strong> message(s) (${ctx.state.beforeRestart.persistentConfirmed} were persistent and confirmed); cache ${a.cache === undefined ? 'is <strong>gone</strong>' : `has ${a.cache}`}.</p>`
          : '';
        return (ret ? `<ul>${ret}</ul>` : '<p class="hint">Nothing returned.</p>') + after;
      },
    },
  ],
  async setup(ctx) {
    Object.assign(ctx.state, { history: [], rows: 0, batches: 0 });
    ctx.world.store.delayMs = ctx.settings.diskMs;
    await ctx.world.declareQueue('cache', { durable: false });
    await ctx.world.declareQueue('small', { args: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
    await workQueue(ctx, { queue: 'orders', producer: { label: 'publisher', confirm: true }, consumer: null });
  },
  checks(ctx) {
    const { state } = ctx;
    // The disk write time can change while the lesson runs: words and check follow the setting.
    const delay = () => ctx.settings.diskMs;
    return [
      {
        text: () =>
          delay() > 0
            ? `A persistent message to the durable queue orders waits (… waiting) for the disk (${delay()} ms) before its confirm ✓.`
            : 'A persistent message to the durable queue orders is confirmed ✓ once written: with a disk that takes 0 ms, at once.',
        ok: () =>
          state.history.some(
            (r) =>
              r.persistent && r.routingKey === 'orders' && r.state === 'confirmed' && r.settledAt - r.at >= delay(),
          ),
      },
      {
        text: 'Five publishes without waiting get sequence numbers in order and are all confirmed, in one disk write or two.',
        ok: () =>
          state.batches > 0 &&
          [...Array(state.batches).keys()].some((b) => {
            const rows = state.history.filter((r) => r.batch === b + 1);
            return rows.length === 5 && rows.every((r) => r.state === 'confirmed');
          }),
      },
      {
        text: 'The third message to the full queue small is <strong>nacked</strong> (reject-publish).',
        ok: () => counter(ctx, 'publishNacked') >= 1,
      },
      {
        text: 'The mandatory message with no queue is <strong>returned</strong> (312 NO_ROUTE), then confirmed.',
        ok: () => counter(ctx, 'returned') >= 1 && ctx.producer.returned.length >= 1,
      },
      {
        text: 'After <em>Restart the broker</em>, orders holds exactly its persistent, confirmed messages; transient ones and the queue cache are gone.',
        ok: () =>
          state.afterRestart &&
          state.beforeRestart.persistentConfirmed > 0 &&
          state.afterRestart.orders === state.beforeRestart.persistentConfirmed &&
          state.afterRestart.cache === undefined,
      },
    ];
  },
  code() {
    return {
      js: `${JS_HEAD}await ch.confirmSelect()                 // confirms on: publishes are numbered 1, 2, 3...
await ch.queueDeclare('orders', { durable: true })

// sync: one at a time; resolves once the broker confirms (after the disk write)
await ch.basicPublish('', 'orders', 'order 1', { deliveryMode: 2 })

// async: many in flight, each promise settles on its own confirm
const pending = [2, 3, 4, 5, 6].map((i) =>
  ch.basicPublish('', 'orders', \`order \${i}\`, { deliveryMode: 2 }))
await Promise.all(pending)               // rejects if any is nacked

// full queue with x-overflow: reject-publish: the promise rejects (nack)
await ch.queueDeclare('small', { durable: true }, { 'x-max-length': 2, 'x-overflow': 'reject-publish' })

// mandatory + unroutable: basic.return, then the confirm
ch.onReturn = (msg) => console.log('returned', msg.replyCode, msg.replyText)
await ch.basicPublish('', 'nowhere', 'lost letter', {}, true)`,
      py: `${PY_HEAD}ch.confirm_delivery()                    # confirms on
ch.queue_declare('orders', durable=True)

# BlockingChannel waits for each confirm: basic_publish returns once acked,
# and raises NackError on a nack, UnroutableError for a returned mandatory message
ch.basic_publish('', 'orders', b'order 1',
                 pika.BasicProperties(delivery_mode=2))

ch.queue_declare('small', durable=True,
                 arguments={'x-max-length': 2, 'x-overflow': 'reject-publish'})
try:
    for i in range(3):
        ch.basic_publish('', 'small', b'small')
except pika.exceptions.NackError:
    print('nacked: the queue is full')

try:
    ch.basic_publish('', 'nowhere', b'lost letter', mandatory=True)
except pika.exceptions.UnroutableError:
    print('returned: no queue for it')`,
    };
  },
};
