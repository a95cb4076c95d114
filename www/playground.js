// The playground: any topology, rates, processing times, crash chances,
// prefetch, ack modes and queue policies, on a live broker; the whole setup
// travels in the URL's hash so it can be shared.
//
// Rewind: a run is (the setup applied, its start time, the reader's inputs
// since: crashes and rate changes, with their page times). The world is
// seeded, so going to a moment applies the same setup again and replays the
// inputs on its clock up to it; a link to a moment carries all of that.

import { h, text } from './dom.js';
import { JS_HEAD, PY_HEAD } from './lessons/common.js';
import { RewindBar, RunLog, decodeMoment, encodeMoment } from './rewind.js';
import { SimConsumer } from './sim/consumer.js';
import { SimProducer } from './sim/producer.js';
import { World } from './sim/world.js';

/** Total producer rate (msg/s) up to which runs are exactly replayable. */
const EXACT_UP_TO = 200;

/** A new row of each kind, as the editor adds it. */
const NEW = {
  exchanges: () => ({ name: 'exchange', type: 'direct' }),
  queues: () => ({
    name: 'queue',
    durable: true,
    ttl: 0,
    maxLength: 0,
    overflow: 'drop-head',
    dlx: '',
    deliveryLimit: 0,
    consumerTimeout: 0,
  }),
  bindings: () => ({ exchange: '', queue: '', key: '' }),
  producers: () => ({ exchange: '', key: '', rate: 1, persistent: false, confirm: false }),
  consumers: () => ({ queue: '', prefetch: 1, ack: 'manual', processMs: 1000, crash: 0 }),
};

/** A queue of the presets: a new row named `name`, with `more` changed. */
const queue = (name, more = {}) => ({ ...NEW.queues(), name, ...more });

export const PRESETS = {
  'work queue': {
    exchanges: [
      { name: 'orders', type: 'direct' },
      { name: 'dead-letters', type: 'fanout' },
    ],
    queues: [queue('work', { dlx: 'dead-letters', deliveryLimit: 3 }), queue('dead')],
    bindings: [
      { exchange: 'orders', queue: 'work', key: 'new' },
      { exchange: 'dead-letters', queue: 'dead', key: '' },
    ],
    producers: [{ exchange: 'orders', key: 'new', rate: 3, persistent: true, confirm: true }],
    consumers: [
      { queue: 'work', prefetch: 2, ack: 'manual', processMs: 700, crash: 0.03 },
      { queue: 'work', prefetch: 2, ack: 'manual', processMs: 1200, crash: 0 },
    ],
  },
  'fan-out with a TTL': {
    exchanges: [{ name: 'news', type: 'fanout' }],
    queues: [queue('fast-reader'), queue('slow-reader', { ttl: 3000, maxLength: 5 })],
    bindings: [
      { exchange: 'news', queue: 'fast-reader', key: '' },
      { exchange: 'news', queue: 'slow-reader', key: '' },
    ],
    producers: [{ exchange: 'news', key: '', rate: 4, persistent: false, confirm: false }],
    consumers: [
      { queue: 'fast-reader', prefetch: 5, ack: 'auto', processMs: 100, crash: 0 },
      { queue: 'slow-reader', prefetch: 1, ack: 'manual', processMs: 1500, crash: 0 },
    ],
  },
  '2,000 messages a second': {
    exchanges: [{ name: 'firehose', type: 'direct' }],
    queues: [queue('events')],
    bindings: [{ exchange: 'firehose', queue: 'events', key: 'e' }],
    producers: [{ exchange: 'firehose', key: 'e', rate: 2000, persistent: false, confirm: false }],
    consumers: [
      { queue: 'events', prefetch: 50, ack: 'manual', processMs: 20, crash: 0 },
      { queue: 'events', prefetch: 50, ack: 'manual', processMs: 20, crash: 0 },
      { queue: 'events', prefetch: 50, ack: 'auto', processMs: 20, crash: 0 },
    ],
  },
};

// The fields of each kind of row: [key, label, type, extra].
const FIELDS = {
  exchanges: [
    ['name', 'Name', 'text'],
    ['type', 'Type', ['direct', 'fanout', 'topic', 'headers']],
  ],
  queues: [
    ['name', 'Name', 'text'],
    ['durable', 'Durable', 'checkbox'],
    ['ttl', 'Message TTL (ms, 0: none)', 'number'],
    ['maxLength', 'Max length (0: none)', 'number'],
    ['overflow', 'When full', ['drop-head', 'reject-publish']],
    ['dlx', 'Dead-letter exchange', 'text'],
    ['deliveryLimit', 'Delivery limit (0: none)', 'number'],
    ['consumerTimeout', 'Consumer timeout (ms, 0: none)', 'number'],
  ],
  bindings: [
    ['exchange', 'Exchange', 'text'],
    ['queue', 'Queue', 'text'],
    ['key', 'Routing key', 'text'],
  ],
  producers: [
    ['exchange', 'Exchange', 'text'],
    ['key', 'Routing key', 'text'],
    ['rate', 'Rate (msg/s)', 'number'],
    ['persistent', 'Persistent', 'checkbox'],
    ['confirm', 'Confirms', 'checkbox'],
  ],
  consumers: [
    ['queue', 'Queue', 'text'],
    ['prefetch', 'Prefetch (0: none)', 'number'],
    ['ack', 'Ack', ['manual', 'auto', 'early']],
    ['processMs', 'Processing (ms)', 'number'],
    ['crash', 'Crash chance per message (0–1)', 'number'],
  ],
};

const TITLES = {
  exchanges: 'Exchanges',
  queues: 'Queues',
  bindings: 'Bindings',
  producers: 'Producers',
  consumers: 'Consumers',
};

export function encodeSetup(setup) {
  const bytes = new TextEncoder().encode(JSON.stringify(setup));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeSetup(text) {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const setup = JSON.parse(new TextDecoder().decode(Uint8Array.from(s, (c) => c.charCodeAt(0))));
  for (const k of Object.keys(NEW)) {
    if (!Array.isArray(setup[k])) setup[k] = [];
    setup[k] = setup[k].map((row) => ({ ...NEW[k](), ...row }));
  }
  return setup;
}

function queueArgs(q) {
  const a = {};
  if (q.ttl > 0) a['x-message-ttl'] = q.ttl;
  if (q.maxLength > 0) {
    a['x-max-length'] = q.maxLength;
    a['x-overflow'] = q.overflow;
  }
  if (q.dlx) a['x-dead-letter-exchange'] = q.dlx;
  if (q.deliveryLimit > 0) a['x-delivery-limit'] = q.deliveryLimit;
  if (q.consumerTimeout > 0) a['x-consumer-timeout'] = q.consumerTimeout;
  return a;
}

/** A small seeded generator, so a shared playground crashes the same way. */
function seeded(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Playground {
  constructor(deps, hash) {
    this.deps = deps;
    this.setup = this.#fromHash(hash) ?? structuredClone(PRESETS['work queue']);
    this.world = null;
    this.status = h('p', { class: 'action-status', role: 'status' });
    this.crashes = h('div', { class: 'row crash-row', role: 'group', 'aria-label': 'Crash a consumer' });
    this.link = h('input', { id: 'share-link', type: 'text', readonly: true, class: 'share-link' });
    this.rates = h('div', { class: 'row rate-row', role: 'group', 'aria-label': 'Change a rate while it runs' });
    // A link to a moment: "playground~" and { t, setup, in: inputs, t0 }, encoded.
    const moment = hash.startsWith('playground~') ? decodeMoment(hash.slice('playground~'.length)) : null;
    if (moment?.setup) this.setup = this.#checked(moment.setup) ?? this.setup;
    this.restore = moment?.setup ? moment : null;
    /** the setup the running broker was built from, the run's start, the reader's inputs since */
    this.applied = null;
    this.t0 = moment?.t0 ?? null;
    /** the reader's inputs since the run's start, and the marks seen */
    this.log = new RunLog(moment?.in ?? []);
    this.lastTick = 0;
  }

  /** A setup from a link, with every field it needs; null if it is not one. */
  #checked(setup) {
    try {
      return decodeSetup(encodeSetup(setup));
    } catch {
      return null;
    }
  }

  #fromHash(hash) {
    const i = hash.indexOf('=');
    if (i < 0) return null;
    try {
      return decodeSetup(hash.slice(i + 1));
    } catch {
      return null;
    }
  }

  /** The hash changed (a shared link opened in this tab). */
  fromHash(hash) {
    if (hash.startsWith('playground~')) {
      const m = decodeMoment(hash.slice('playground~'.length));
      const setup = m?.setup && this.#checked(m.setup);
      if (!setup) return;
      this.setup = setup;
      this.applied = structuredClone(setup);
      this.t0 = m.t0 ?? null;
      this.log.clear(m.in ?? []);
      this.#editor();
      this.seek(m.t);
      return;
    }
    const s = this.#fromHash(hash);
    if (!s || encodeSetup(s) === encodeSetup(this.setup)) return;
    this.setup = s;
    this.#editor();
    this.apply();
  }

  async mount() {
    const { dom } = this.deps;
    text(dom.title, 'Playground');
    dom.text.innerHTML = `
      <p>Build any topology and watch it run on the real engine: exchanges, queues with their policies,
      bindings, producers with a rate, consumers with a prefetch, an ack mode, a processing time and a
      chance of crashing on each message. <em>Apply</em> rebuilds the broker with the setup;
      <em>Share</em> puts the whole setup in the page's address.</p>
      <p>Ack modes: <em>manual</em> acks after processing, <em>auto</em> is noAck, <em>early</em> acks on receipt.
      A crashed consumer is restarted 1.5 s later.</p>`;
    this.#editor();
    if (this.deps.dom.rewind) this.rewind = new RewindBar(this.deps.dom.rewind, this);
    if (this.restore) {
      this.applied = structuredClone(this.setup);
      await this.seek(this.restore.t);
    } else await this.apply();
  }

  // ---- rewind and replay (the same bar as the lessons') ----------------------------

  now() {
    return this.world ? this.world.now() : 0;
  }

  end() {
    return this.log.end(this.world);
  }

  marks() {
    return this.log.marks(this.world);
  }

  say(words) {
    text(this.status, words);
    this.status.classList.remove('ok');
  }

  /** The hash of a link to this moment: the setup applied, the start, the inputs, the time. */
  moment() {
    const t = Math.round(this.now() * 1000) / 1000;
    return `playground~${encodeMoment({ t, setup: this.applied, in: this.log.inputs, t0: this.t0 })}`;
  }

  /** Goes to page time `t` (ms): the applied setup again, its inputs replayed up to `t`; time stays paused. */
  async seek(t) {
    this.deps.pause?.();
    this.log.remember(this.world);
    const world = await this.apply({ replay: true });
    if (!world) return;
    await world.advanceTo(world.t0 + t);
    // What the last timer set off finishes, as before a frame.
    await new Promise((r) => setTimeout(r, 0));
    if (this.world !== world) return;
    world.applyAll();
    document.documentElement.dataset.moment = String(t);
  }

  /** A reader's input, with its page time; inputs of a rewound future are dropped. */
  #input(input) {
    if (this.world) this.log.record(this.world, input);
  }

  /** Runs one recorded input again, as the reader did. */
  async #replay(input) {
    const actor = this.world?.actors.find((a) => a.id === (input.crash ?? input.rate));
    if (input.crash !== undefined) actor?.crash();
    else if (input.rate !== undefined) {
      actor?.setRate(input.v);
      const field = this.rates.querySelector(`[data-rate="${input.rate}"]`);
      if (field) field.value = input.v;
    }
    // A click is followed by at least a turn of the event loop before the next frame.
    await new Promise((r) => setTimeout(r, 0));
  }

  #editor() {
    const box = this.deps.dom.controls;
    const presets = h(
      'select',
      { id: 'preset' },
      h('option', { value: '' }, 'Choose…'),
      ...Object.keys(PRESETS).map((k) => h('option', { value: k }, k)),
    );
    presets.addEventListener('change', () => {
      if (!presets.value) return;
      this.setup = structuredClone(PRESETS[presets.value]);
      this.#editor();
      this.apply();
    });
    const sections = Object.keys(FIELDS).map((kind) => this.#section(kind));
    box.replaceChildren(
      h('div', { class: 'field' }, h('label', { for: 'preset' }, 'Start from'), presets),
      ...sections,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', id: 'apply', onclick: () => this.apply() }, 'Apply'),
        h(
          'button',
          { type: 'button', id: 'share', class: 'secondary', onclick: () => this.share() },
          'Share as a link',
        ),
      ),
      h('div', { class: 'field share' }, h('label', { for: 'share-link' }, 'Link'), this.link),
      this.crashes,
      this.rates,
      this.status,
    );
  }

  #section(kind) {
    const rows = this.setup[kind].map((row, i) => {
      const fields = FIELDS[kind].map(([key, label, type]) => {
        const id = `pg-${kind}-${i}-${key}`;
        let input;
        if (Array.isArray(type)) {
          input = h('select', { id }, ...type.map((v) => h('option', { value: v, selected: row[key] === v }, v)));
          input.addEventListener('change', () => (row[key] = input.value));
        } else if (type === 'checkbox') {
          input = h('input', { id, type: 'checkbox', checked: Boolean(row[key]) });
          input.addEventListener('change', () => (row[key] = input.checked));
        } else {
          input = h('input', { id, type, value: row[key], ...(type === 'number' ? { min: 0, step: 'any' } : {}) });
          input.addEventListener(
            'change',
            () => (row[key] = type === 'number' ? Math.max(0, Number(input.value) || 0) : input.value),
          );
        }
        return h(
          'div',
          { class: `pg-field pg-${type === 'checkbox' ? 'check' : 'input'}` },
          h('label', { for: id }, label),
          input,
        );
      });
      const remove = h(
        'button',
        {
          type: 'button',
          class: 'secondary small',
          'aria-label': `Remove ${kind.slice(0, -1)} ${i + 1}`,
          onclick: () => {
            this.setup[kind].splice(i, 1);
            this.#editor();
          },
        },
        'Remove',
      );
      return h(
        'div',
        { class: 'pg-row', role: 'group', 'aria-label': `${TITLES[kind].slice(0, -1)} ${i + 1}` },
        ...fields,
        remove,
      );
    });
    const add = h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        onclick: () => {
          this.setup[kind].push(NEW[kind]());
          this.#editor();
        },
      },
      `Add ${kind.slice(0, -1)}`,
    );
    return h(
      'details',
      { class: 'pg-section', open: kind === 'producers' || kind === 'consumers' },
      h('summary', {}, `${TITLES[kind]} (${this.setup[kind].length})`),
      ...rows,
      add,
    );
  }

  /**
   * Rebuilds the broker and actors from the setup (a new run), or, for a replay,
   * from the setup applied last, with its start and inputs. Returns the world.
   */
  async apply({ replay = false } = {}) {
    if (!replay || !this.applied) {
      this.applied = structuredClone(this.setup);
      this.log.clear();
      this.t0 = null;
    }
    this.world?.dispose();
    // exact: between two timers everything the first set off finishes, so a replay repeats the run
    // exactly (see World). It costs a task turn per timer: above EXACT_UP_TO msg/s the playground
    // keeps the cheaper microtask turns, and a replay there is close but not guaranteed exact.
    const rate = this.applied.producers.reduce((sum, p) => sum + (Number(p.rate) || 0), 0);
    const options = { seed: 1, exact: rate <= EXACT_UP_TO };
    if (this.t0 !== null) options.t0 = this.t0;
    const world = new World(this.deps.warren, options);
    this.world = world;
    this.t0 = world.t0;
    world.onInput = (input) => this.#replay(input);
    if (replay) world.script = this.log.script();
    text(this.status, '');
    this.status.classList.remove('ok');
    try {
      await world.start();
      const s = this.applied;
      for (const x of s.exchanges) await world.declareExchange(x.name, x.type);
      for (const q of s.queues) await world.declareQueue(q.name, { durable: q.durable, args: queueArgs(q) });
      for (const b of s.bindings) await world.bind(b.queue, b.exchange, b.key);
      s.producers.forEach((p, i) =>
        world.add(
          new SimProducer(world, {
            id: `p${i + 1}`,
            label: `producer ${i + 1}`,
            exchange: p.exchange,
            routingKey: p.key,
            rate: p.rate,
            persistent: p.persistent,
            confirm: p.confirm,
          }),
        ),
      );
      const random = seeded(7);
      const timeouts = new Map(s.queues.map((q) => [q.name, q.consumerTimeout]));
      s.consumers.forEach((c, i) =>
        world.add(
          new SimConsumer(world, {
            // The scene shows the delivery deadline running down when the queue has a consumer timeout.
            timeoutMs: timeouts.get(c.queue) || 0,
            id: `c${i + 1}`,
            label: `consumer ${i + 1}`,
            queue: c.queue,
            prefetch: c.prefetch,
            ack: c.ack,
            processMs: c.processMs,
            crashChance: c.crash,
            random,
          }),
        ),
      );
      for (const a of world.actors) await a.attach();
    } catch (e) {
      text(this.status, `The broker refused the setup: ${e.message}`);
    }
    if (this.world !== world) return null;
    this.crashes.replaceChildren(
      ...world.actors
        .filter((a) => a.kind === 'consumer')
        .map((a) =>
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              dataset: { crash: a.id },
              onclick: () => {
                this.#input({ crash: a.id });
                a.crash();
              },
            },
            `Crash ${a.label}`,
          ),
        ),
    );
    this.rates.replaceChildren(...world.actors.filter((a) => a.kind === 'producer').map((a) => this.#rateField(a)));
    this.deps.onworld(world, this.#code(), ['expired', 'dropped', 'returned', 'refused']);
    document.documentElement.dataset.resets = String(Number(document.documentElement.dataset.resets ?? 0) + 1);
    return world;
  }

  /** A producer's rate, changed while it runs (an input the rewind replays). */
  #rateField(a) {
    const id = `rate-${a.id}`;
    const input = h('input', { id, type: 'number', min: 0, step: 'any', value: a.rate, dataset: { rate: a.id } });
    input.addEventListener('change', () => {
      const v = Math.max(0, Number(input.value) || 0);
      input.value = v;
      this.#input({ rate: a.id, v });
      a.setRate(v);
    });
    return h('div', { class: 'field' }, h('label', { for: id }, `${a.label}: msg/s now`), input);
  }

  share() {
    const url = `${location.origin}${location.pathname}#playground=${encodeSetup(this.setup)}`;
    history.replaceState(null, '', url);
    this.link.value = url;
    this.link.select();
    navigator.clipboard?.writeText(url).then(
      () => this.#done('Link copied.'),
      () => this.#done('Link ready to copy.'),
    );
  }

  #done(message) {
    text(this.status, message);
    this.status.classList.add('ok');
  }

  #code() {
    const s = this.setup;
    const js = [JS_HEAD];
    const py = [PY_HEAD];
    for (const x of s.exchanges) {
      js.push(`await ch.exchangeDeclare('${x.name}', '${x.type}', { durable: true })`);
      py.push(`ch.exchange_declare('${x.name}', '${x.type}', durable=True)`);
    }
    for (const q of s.queues) {
      const args = JSON.stringify(queueArgs(q));
      js.push(`await ch.queueDeclare('${q.name}', { durable: ${q.durable} }, ${args})`);
      py.push(
        `ch.queue_declare('${q.name}', durable=${q.durable ? 'True' : 'False'}, arguments=${args.replace(/true/g, 'True')})`,
      );
    }
    for (const b of s.bindings) {
      js.push(`await ch.queueBind('${b.queue}', '${b.exchange}', '${b.key}')`);
      py.push(`ch.queue_bind('${b.queue}', '${b.exchange}', '${b.key}')`);
    }
    for (const p of s.producers) {
      js.push(
        `\n// ${p.rate} messages a second\nsetInterval(() => ch.basicPublish('${p.exchange}', '${p.key}', 'm', { deliveryMode: ${p.persistent ? 2 : 1} }), ${Math.max(1, Math.round(1000 / Math.max(p.rate, 0.001)))})`,
      );
      py.push(
        `\nch.basic_publish('${p.exchange}', '${p.key}', b'm', pika.BasicProperties(delivery_mode=${p.persistent ? 2 : 1}))`,
      );
    }
    for (const c of s.consumers) {
      js.push(
        `\nawait ch.prefetch(${c.prefetch})\nawait ch.basicConsume('${c.queue}', { noAck: ${c.ack === 'auto'} }, async (msg) => {\n${c.ack === 'early' ? '  await msg.ack()\n' : ''}  await work(${c.processMs})\n${c.ack === 'manual' ? '  await msg.ack()\n' : ''}})`,
      );
      py.push(
        `\nch.basic_qos(prefetch_count=${c.prefetch})\ndef handle(ch, method, props, body):\n${c.ack === 'early' ? '    ch.basic_ack(method.delivery_tag)\n' : ''}    work(${c.processMs})\n${c.ack === 'manual' ? '    ch.basic_ack(method.delivery_tag)\n' : ''}ch.basic_consume('${c.queue}', handle, auto_ack=${c.ack === 'auto' ? 'True' : 'False'})`,
      );
    }
    return { js: js.join('\n'), py: `${py.join('\n')}\nch.start_consuming()` };
  }

  render(now) {
    if (now - this.lastTick < 150) return;
    this.lastTick = now;
    this.rewind?.update();
  }

  dispose() {
    this.rewind?.dispose();
    this.world?.dispose();
    this.world = null;
  }
}
