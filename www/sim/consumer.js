// A simulated consumer: an in-process client whose "processing" is a timer on
// the page's clock. Crashing closes its connection, as a killed process would;
// what happens to its messages then is up to the broker.

import { channelKey, tagKey } from './keys.js';

let nextId = 1;

/**
 * ack: 'manual' (ack after processing), 'auto' (noAck: the broker forgets the
 * message as it sends it), 'early' (manual ack sent on receipt, before processing).
 */
export class SimConsumer {
  constructor(world, options) {
    this.world = world;
    this.kind = 'consumer';
    this.id = options.id ?? `c${nextId++}`;
    this.label = options.label ?? this.id;
    this.queue = options.queue;
    this.prefetch = options.prefetch ?? 1;
    this.ack = options.ack ?? 'manual';
    /** ms of page time per message; null: hold messages until told (lesson 4) */
    this.processMs = options.processMs === undefined ? 1000 : options.processMs;
    this.crashChance = options.crashChance ?? 0;
    /** restart this long after a crash (a supervisor bringing the worker back); null: stay down */
    this.restartMs = options.restartMs === undefined ? 1500 : options.restartMs;
    this.args = options.args ?? {};
    /** the queue's x-consumer-timeout (ms), when the page wants its deadline shown; 0: none */
    this.timeoutMs = options.timeoutMs ?? 0;
    this.random = options.random ?? world.random ?? Math.random;
    /** one message at a time (a single-threaded worker), the rest wait in arrival order */
    this.serial = options.serial ?? false;
    this.queueOfWork = [];
    this.busy = false;
    /** hooks: (delivery, consumer) => ..., for lessons that ack their own way */
    this.onReceive = options.onReceive ?? null;
    this.onProcessed = options.onProcessed ?? null;
    this.onError = options.onError ?? null;
    /** deliveries held: tag key -> { m, tag, key, acked, processed, until, cancel } */
    this.held = new Map();
    this.status = 'starting';
    this.crashes = 0;
    this.processedCount = 0;
    this.lastError = null;
    this.timers = new Set();
  }

  get channelKey() {
    return this.channel && !this.channel.closed ? channelKey(this.connection.id, this.channel.id) : null;
  }

  /** Its latest channel, open or closed, as the broker's events name it. */
  get brokerChannelKey() {
    return this.channel && this.connection ? channelKey(this.connection.id, this.channel.id) : null;
  }

  /** Connects and starts consuming. */
  async attach() {
    if (this.world.disposed || !this.world.up) return;
    this.status = 'starting';
    this.connection = await this.world.broker.connect({ name: this.label });
    await this.#subscribe();
  }

  async #subscribe() {
    const ch = await this.connection.channel();
    this.channel = ch;
    this.world.registerChannel(this.connection.id, ch.id, this);
    ch.onerror = (err) => this.#failed(err, 'channel closed by the broker', ch);
    if (this.prefetch > 0) await ch.prefetch(this.prefetch);
    const consumer = await ch.basicConsume(
      this.queue,
      { tag: this.id, noAck: this.ack === 'auto', args: this.args },
      (m) => this.#receive(m, ch),
    );
    this.consumer = consumer;
    this.status = 'running';
    this.world.onchange?.();
    // The broker cancels a consumer whose delivery outlived x-consumer-timeout.
    consumer.wait().catch((err) => {
      if (ch.closed || this.status !== 'running' || this.consumer !== consumer) return;
      this.#failed(err, 'cancelled by the broker', ch);
    });
  }

  #receive(m, ch) {
    const d = {
      m,
      ch,
      tag: m.deliveryTag,
      key: tagKey(channelKey(this.connection.id, ch.id), m.deliveryTag),
      acked: this.ack === 'auto',
      processed: false,
      until: 0,
      cancel: null,
    };
    this.held.set(d.key, d);
    if (this.ack === 'early') this.settle(d, 'ack', { keep: true });
    this.onReceive?.(d, this);
    if (this.processMs === null) return;
    if (this.serial && this.busy) {
      this.queueOfWork.push(d);
      return;
    }
    this.#start(d);
  }

  #start(d) {
    this.busy = true;
    d.until = this.world.clock.now() + this.processMs;
    this.#event('processing', d, { until: d.until, consumer: this.label });
    d.cancel = this.after(this.processMs, () => this.#finish(d));
  }

  /** The next message waiting for a serial worker, if any. */
  #next() {
    this.busy = false;
    while (this.queueOfWork.length) {
      const d = this.queueOfWork.shift();
      if (this.held.has(d.key) && !d.stale && !d.ch.closed) return this.#start(d);
    }
  }

  #finish(d) {
    d.cancel = null;
    this.#finishWork(d);
    if (this.serial) this.#next();
  }

  #finishWork(d) {
    if (this.crashChance > 0 && this.random() < this.crashChance) return this.crash();
    d.processed = true;
    this.processedCount++;
    this.#event('processed', d, { consumer: this.label });
    if (this.onProcessed) return this.onProcessed(d, this);
    if (this.ack === 'manual') this.settle(d, 'ack');
    else this.held.delete(d.key);
  }

  /** Schedules `fn` on the page's clock; crash and stop cancel it. */
  after(ms, fn) {
    const timer = this.world.clock.at(this.world.clock.now() + ms, () => {
      this.timers.delete(cancel);
      fn();
    });
    const cancel = () => {
      this.timers.delete(cancel);
      timer();
    };
    this.timers.add(cancel);
    return cancel;
  }

  /** A remark for the timeline of the message behind delivery `d`. */
  note(d, text) {
    this.#event('note', d, { text });
  }

  #event(type, d, extra) {
    this.world.page({ type, conn: this.connection.id, channel: d.ch.id, deliveryTag: d.tag, ...extra });
  }

  /**
   * Settles one delivery: 'ack', 'nack' or 'reject', with { requeue, multiple }.
   * `keep`: the message stays held (acked on receipt, still being processed).
   */
  settle(d, how, { requeue = false, multiple = false, keep = false } = {}) {
    const ch = d.ch;
    if (ch.closed) return;
    // What it lets go of leaves its hands before the call: the broker may send the next
    // delivery from inside it, and the worker never holds more than its prefetch.
    d.acked = true;
    const gone = multiple ? [...this.held.values()].filter((x) => x.ch === ch && x.tag <= d.tag) : [d];
    for (const x of gone) {
      x.acked = true;
      if (!keep) {
        x.cancel?.();
        this.held.delete(x.key);
      }
    }
    let p;
    if (how === 'ack') p = ch.basicAck(d.tag, multiple);
    else if (how === 'nack') p = ch.basicNack(d.tag, requeue, multiple);
    else p = ch.basicReject(d.tag, requeue);
    p.catch((err) => this.#failed(err, `${how} refused`, ch));
  }

  /**
   * Acks, nacks or rejects `tag` on the current channel for the reader (lesson 4); when the
   * broker refuses (406 unknown tag) the channel is gone and the worker says so and subscribes again.
   */
  async call(how, tag, { multiple = false, requeue = true } = {}) {
    const ch = this.channel;
    if (!ch || ch.closed) throw new Error(`${this.label} has no open channel`);
    for (const d of this.holding()) if (d.tag === tag || (multiple && d.tag <= tag)) this.held.delete(d.key);
    try {
      if (how === 'ack') await ch.basicAck(tag, multiple);
      else if (how === 'nack') await ch.basicNack(tag, requeue, multiple);
      else await ch.basicReject(tag, requeue);
    } catch (err) {
      this.#failed(err, `${how} refused`, ch);
      throw err;
    }
  }

  /** The channel or consumer was closed by the broker (406 unknown tag, consumer timeout). */
  #failed(err, what, ch) {
    this.lastError = `${what}: ${err.message}`;
    this.onError?.(this.lastError);
    this.world.page({ type: 'note', consumer: this.label, text: this.lastError });
    // An old channel failing (a late ack after a timeout) does not stop the current one.
    if (this.status !== 'running' || ch !== this.channel) return;
    this.status = 'resubscribing';
    // Its deliveries went back to the queue; whatever it was processing, it will ack in vain.
    for (const d of this.held.values()) {
      if (d.ch === ch && !d.stale) this.#event('note', d, { text: `${this.label}: ${this.lastError}` });
      d.stale = true;
    }
    this.after(this.restartMs ?? 1500, () => {
      if (this.connection.closed || this.world.disposed) return;
      this.#subscribe().catch((e) => (this.lastError = e.message));
    });
  }

  /**
   * "Crash now": the process dies. Messages it had acked (or that came with
   * automatic ack) but not finished processing are lost: the broker already
   * forgot them. Unacked ones go back to the queue.
   */
  crash() {
    if (!this.connection || this.connection.closed) return;
    for (const d of this.held.values()) {
      if (d.stale) continue;
      this.#event('crashed', d, { consumer: this.label });
      if (d.acked && !d.processed) this.#event('lost', d, { consumer: this.label });
    }
    this.#stopWork();
    this.crashes++;
    this.status = 'crashed';
    this.connection.close();
    this.world.onchange?.();
    if (this.restartMs !== null) {
      this.after(this.restartMs, () => {
        this.status = 'restarting';
        this.attach().catch((e) => (this.lastError = e.message));
      });
    }
  }

  #stopWork() {
    for (const cancel of [...this.timers]) cancel();
    this.held.clear();
    this.queueOfWork = [];
    this.busy = false;
  }

  /** The broker went away under it (a simulated power cut). */
  detach() {
    this.#stopWork();
    this.status = 'waiting for the broker';
    this.channel = null;
  }

  stop() {
    this.#stopWork();
    this.status = 'stopped';
  }

  /** Deliveries held now, by tag, oldest first. */
  holding() {
    return [...this.held.values()].filter((d) => !d.stale).sort((a, b) => a.tag - b.tag);
  }
}
