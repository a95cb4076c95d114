// One live scenario: a broker on the page's clock, the simulated producers
// and consumers using it, and the feed of events the views are drawn from.
//
// Events wait in `pending` until applied to the model: all at once while
// time runs, one at a time under "step", so the scene, counters and
// timeline always agree with each other.

import { steppingClockClass, switchableClock } from './clock.js';
import { Model } from './model.js';
import { channelKey, tagKey } from './keys.js';
import { normalizeSnapshot } from './snapshot-view.js';
import { WireRecorder } from '../wire/recorder.js';

const SETTLE_TURNS = 8; // microtask turns a timer's promise callbacks get before time moves on
const SEEN_KEPT = 20000; // deliveries remembered for ordering page events

/** A small seeded generator (mulberry32): the same seed, the same numbers. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Made on first use: an open port would keep Node (which imports the lessons in tests) running.
let channel = null;
const waiters = [];

/** The next turn of the event loop, without setTimeout's clamping. */
export function nextTask() {
  if (typeof MessageChannel !== 'function') return settle();
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiters.shift()?.();
  }
  return new Promise((resolve) => {
    waiters.push(resolve);
    channel.port2.postMessage(0);
  });
}

/** Lets queued microtasks (the broker's event batches, promise callbacks) run. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

export class World {
  /**
   * `warren`: the warren-mq module. `store(clock)`: makes a Store kept across
   * simulated restarts (lesson 6); none for memory.
   */
  constructor(warren, { store = null, consumerTimeout, seed = 1, t0, exact = false } = {}) {
    const SteppingClock = steppingClockClass(warren.ManualClock);
    this.warren = warren;
    // Real wall-clock start, so timestamps the broker writes (x-death's time) read as today.
    // A replay passes the first run's t0: the same moments, the same timestamps.
    this.t0 = t0 ?? Math.floor(Date.now() / 1000) * 1000;
    /** the only randomness the simulated clients use (a consumer's crash chance): seeded, so a replay repeats it */
    this.seed = seed;
    this.random = mulberry32(seed);
    /** the reader's inputs still to come in a replay, page time order: [{ at, ... }] */
    this.script = [];
    /** runs one input of the script (the lesson's) */
    this.onInput = null;
    /**
     * exact: between two timers everything the first set off finishes (a task turn), as
     * between two frames, so a replay repeats a run exactly (lessons). Otherwise a few
     * microtask turns, cheaper at thousands of messages a second (the playground).
     */
    this.exact = exact;
    this.clock = new SteppingClock(this.t0);
    this.store = store ? store(this.clock) : null;
    this.consumerTimeout = consumerTimeout;
    this.model = new Model();
    this.pending = [];
    this.head = 0;
    /** deliveries whose engine event has reached the feed: tag key -> true (the latest few) */
    this.deliveredSeen = new Map();
    /** page events about a delivery whose engine event has not arrived yet: tag key -> [event] */
    this.heldPage = new Map();
    /** channels the broker closed: their deliveries' page events come late, never early */
    this.closedChannels = new Set();
    /** simulated producers and consumers */
    this.actors = [];
    /** "conn:channel" -> actor, so the scene can place deliveries */
    this.channels = new Map();
    /** what the page declared: queue name -> { args, durable }; exchange name -> type */
    this.queues = new Map();
    this.exchanges = new Map();
    this.selected = null; // message id whose timeline is shown
    this.up = false;
    this.restarts = 0;
    this.onchange = null; // topology changed: the scene lays itself out again
    this.disposed = false;
    /** the AMQP frames the engine's wire tap encodes for the page's clients */
    this.wire = new WireRecorder(() => this.now());
  }

  async start() {
    this.brokerClock = switchableClock(this.clock);
    const options = { clock: this.brokerClock, events: true };
    if (this.store) options.store = this.store;
    if (this.consumerTimeout) options.consumerTimeout = this.consumerTimeout;
    this.broker = await this.warren.Broker.create(options);
    this.wire.attach(this.broker);
    this.unsubscribe = this.broker.subscribe((events) => {
      for (const e of events) {
        this.pending.push(e);
        if (e.type === 'delivered') this.#delivered(tagKey(channelKey(e.to.conn, e.to.channel), e.deliveryTag));
        else if (e.type === 'channel-closed') this.#channelClosed(channelKey(e.channel.conn, e.channel.channel));
        else if (e.type === 'channel-opened') this.closedChannels.delete(channelKey(e.channel.conn, e.channel.channel));
      }
    });
    this.adminConnection = await this.broker.connect({ name: 'page setup' });
    this.adminChannel = null;
    this.up = true;
  }

  /** A channel for declarations; a failed one (406 ...) is replaced. */
  async admin() {
    if (!this.adminChannel || this.adminChannel.closed) this.adminChannel = await this.adminConnection.channel();
    return this.adminChannel;
  }

  async declareQueue(name, { durable = true, args = {} } = {}) {
    const ch = await this.admin();
    await ch.queueDeclare(name, { durable, autoDelete: false, exclusive: false }, args);
    this.queues.set(name, { durable, args });
    this.onchange?.();
  }

  async declareExchange(name, type, { durable = true } = {}) {
    const ch = await this.admin();
    await ch.exchangeDeclare(name, type, { durable });
    this.exchanges.set(name, type);
    this.onchange?.();
  }

  async bind(queue, exchange, routingKey = '') {
    const ch = await this.admin();
    await ch.queueBind(queue, exchange, routingKey);
    this.onchange?.();
  }

  add(actor) {
    this.actors.push(actor);
    this.onchange?.();
    return actor;
  }

  /** An actor's channel is known once it has connected. */
  registerChannel(conn, channel, actor) {
    this.channels.set(channelKey(conn, channel), actor);
  }

  /**
   * Adds a page event (what only the simulated consumers know) to the feed.
   * A consumer hears of a delivery during the engine call that made it, before
   * the engine's events for that call arrive (they come in a microtask): an
   * event about a delivery the feed has not seen yet waits for it, so the feed
   * stays in the order things happened and "step" shows one event at a time.
   */
  page(e) {
    const event = { at: this.clock.now(), page: true, ...e };
    if (event.deliveryTag !== undefined && event.conn !== undefined) {
      const channel = channelKey(event.conn, event.channel);
      const key = tagKey(channel, event.deliveryTag);
      if (!this.deliveredSeen.has(key) && !this.closedChannels.has(channel)) {
        const list = this.heldPage.get(key) ?? [];
        list.push(event);
        this.heldPage.set(key, list);
        return;
      }
    }
    this.pending.push(event);
  }

  /** A channel number can be opened again on the same connection, its tags starting at 1. */
  #channelClosed(channel) {
    this.closedChannels.add(channel);
    const prefix = `${channel}:`;
    for (const key of this.deliveredSeen.keys()) if (key.startsWith(prefix)) this.deliveredSeen.delete(key);
  }

  #delivered(key) {
    // A channel number reused on a new connection restarts its tags: seen again, it moves to the end.
    this.deliveredSeen.delete(key);
    this.deliveredSeen.set(key, true);
    if (this.deliveredSeen.size > SEEN_KEPT) this.deliveredSeen.delete(this.deliveredSeen.keys().next().value);
    const held = this.heldPage.get(key);
    if (!held) return;
    this.heldPage.delete(key);
    for (const e of held) this.pending.push(e);
  }

  /** Page time since this world started, ms. */
  now() {
    return this.clock.now() - this.t0;
  }

  get waiting() {
    return this.pending.length - this.head;
  }

  #applyNext() {
    const e = this.pending[this.head];
    this.pending[this.head++] = undefined;
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return this.model.apply(e);
  }

  /** Applies every waiting event. */
  applyAll() {
    let n = 0;
    while (this.head < this.pending.length) {
      this.#applyNext();
      n++;
    }
    if (n === 0) return 0;
    this.pending.length = 0;
    this.head = 0;
    return n;
  }

  /**
   * Moves the page's time forward by `ms`; the broker and the actors act on the way.
   */
  advance(ms) {
    if (!(ms > 0)) return undefined;
    // Whole milliseconds, as the engine counts them: an event's time is then exactly when it happened,
    // and a moment found in the timeline can be gone back to exactly.
    this.carry = (this.carry ?? 0) + ms;
    const whole = Math.floor(this.carry);
    this.carry -= whole;
    if (whole === 0) return undefined;
    return this.advanceTo(this.clock.now() + whole);
  }

  /**
   * Moves the clock to `end` (clock time) timer by timer: what a timer sets off in
   * promise callbacks (a consumer hearing it was cancelled) runs before time moves on,
   * so it is stamped with its own moment, not the end of the frame. Inputs of a
   * replay's script run at their moments, after the timers due by then, as a click does.
   */
  async advanceTo(end) {
    for (;;) {
      const input = this.script.length ? this.t0 + this.script[0].at : Infinity;
      const due = this.clock.nextDue() ?? Infinity;
      if (due <= end && due <= input) {
        // advance, not set: a timer due now (set for "at once") runs too.
        this.clock.advance(Math.max(0, due - this.clock.now()));
      } else if (input <= end) {
        this.clock.advance(Math.max(0, input - this.clock.now()));
        await this.onInput?.(this.script.shift());
      } else break;
      if (this.exact) await nextTask();
      else for (let i = 0; i < SETTLE_TURNS; i++) await null;
    }
    if (end > this.clock.now()) this.clock.set(end);
  }

  /**
   * "Step one event": shows the next waiting event, or first moves time to
   * the next thing scheduled. Returns the event shown, or null.
   */
  async step() {
    if (this.waiting === 0) {
      const due = this.clock.nextDue();
      if (due === null) return null;
      this.clock.advance(Math.max(0, due - this.clock.now()));
      await settle();
      if (this.waiting === 0) return null;
    }
    // A page event about a delivery not shown yet waits for it: show the next one too.
    do this.#applyNext();
    while (this.model.stashed && this.waiting > 0);
    return this.model.lastEvent;
  }

  snapshot() {
    return normalizeSnapshot(this.broker.snapshot());
  }

  /**
   * The power goes out and comes back: the broker is dropped as it is, with
   * only what its store holds surviving; a new one recovers from that store
   * and the actors reconnect.
   */
  async restart() {
    this.up = false;
    for (const a of this.actors) a.detach?.();
    this.brokerClock.off();
    this.store?.cut?.();
    this.unsubscribe();
    this.applyAll();
    const old = this.broker;
    // Nothing of the old broker reaches the page any more; closing it only frees it.
    old.close().catch(() => {});
    this.page({ type: 'broker-restart' });
    this.restarts++;
    await this.start();
    this.applyAll();
    this.model.resync(this.snapshot(), this.clock.now());
    for (const a of this.actors) await a.attach?.();
    this.onchange?.();
  }

  dispose() {
    this.disposed = true;
    this.wire.detach();
    for (const a of this.actors) a.stop?.();
    this.brokerClock?.off();
    this.unsubscribe?.();
    this.broker?.close().catch(() => {});
  }
}
