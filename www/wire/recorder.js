// The frames that crossed between the page's in-process clients and the
// engine, as the engine's wire tap encodes them (broker.tapWire), decoded and
// kept in order with their page time, each tied to the message it concerns
// from the engine's own events: a publish to its `published` event, a
// delivery and the acks naming its tag to the `delivered` event, a confirm to
// its sequence number, a return to the `returned` event. Real AMQP connections
// (the live-code program's) are fed the same records by `take`.

import { decodeMethod, peekMethod } from './decode.js';

const KEEP = 4000; // frames kept for the lane; older ones are dropped in chunks
const KEEP_KEYS = 20000; // tags and sequence numbers remembered for matching

// Methods whose message is named by a delivery tag on the frame's channel.
const BY_TAG = new Set(['basic.deliver', 'basic.get-ok']);
const SETTLE = new Set(['basic.ack', 'basic.nack', 'basic.reject']);

/**
 * One tapped record. Only its method and tag are read when it arrives; the
 * arguments, properties and body are decoded when first asked for (a row
 * drawn, a test), so thousands of frames a second cost little.
 */
class WireFrame {
  #bytes;
  #decoded = null;

  constructor(n, at, conn, channel, dir, name, bytes) {
    this.n = n;
    this.at = at;
    this.conn = conn;
    this.channel = channel;
    this.dir = dir;
    this.name = name;
    this.msg = null;
    this.#bytes = bytes;
  }

  #decode() {
    if (!this.#decoded) {
      try {
        this.#decoded = decodeMethod(this.#bytes);
      } catch (e) {
        this.#decoded = { args: { error: e.message } };
      }
    }
    return this.#decoded;
  }

  get args() {
    return this.#decode().args;
  }

  get body() {
    return this.#decode().body;
  }

  get properties() {
    return this.#decode().properties;
  }
}

export class WireRecorder {
  /** `now()`: page time in ms. */
  constructor(now) {
    this.now = now;
    this.frames = [];
    /** frames recorded since the start, so views know what is new */
    this.total = 0;
    this.version = 0;
    this.enabled = true;
    this.#clear();
  }

  #clear() {
    /** matching keys ("t:conn:ch:epoch:tag", "c:conn:ch:epoch:seq") -> message id */
    this.known = new Map();
    /** frames waiting for their key's event: key -> [frame] */
    this.waiting = new Map();
    /** per channel: publish frames waiting for their `published` event */
    this.publishes = new Map();
    /** return frames waiting for their `returned` event, in order */
    this.returns = [];
    /** per channel: times it was opened, as the frames and as the events saw it */
    this.frameEpoch = new Map();
    this.eventEpoch = new Map();
  }

  /** Taps `broker` (a new one after a restart: the history goes on). */
  attach(broker) {
    this.detach();
    this.#clear();
    this.broker = broker;
    if (!this.enabled) return;
    this.stopTap = broker.tapWire((conn, channel, toClient, bytes) => this.#frame(conn, channel, toClient, bytes));
    this.unsubscribe = broker.subscribe((events) => this.#events(events));
  }

  detach() {
    this.stopTap?.();
    this.unsubscribe?.();
    this.stopTap = this.unsubscribe = null;
  }

  /** Turns recording on or off (off: the engine encodes nothing). */
  setEnabled(on) {
    this.enabled = on;
    if (!on) this.detach();
    else if (this.broker && !this.stopTap) this.attach(this.broker);
  }

  /** True while frames are taken (the lane is on and a broker is tapped). */
  get recording() {
    return Boolean(this.stopTap);
  }

  /**
   * A record from a connection the engine does not tap (a real AMQP
   * connection, cut into records by a Framer): the same shape as the tap's.
   */
  take(conn, channel, toClient, bytes) {
    if (this.stopTap) this.#frame(conn, channel, toClient, bytes);
  }

  #frame(conn, channel, toClient, bytes) {
    const m = peekMethod(bytes) ?? { name: 'undecodable' };
    const ch = `${conn}:${channel}`;
    const f = new WireFrame(this.total++, this.now(), conn, channel, toClient ? 'out' : 'in', m.name, bytes);
    if (m.name === 'channel.open') {
      this.frameEpoch.set(ch, (this.frameEpoch.get(ch) ?? 0) + 1);
      this.publishes.delete(ch);
    }
    const epoch = this.frameEpoch.get(ch) ?? 0;
    if (m.name === 'basic.publish') {
      let list = this.publishes.get(ch);
      if (!list) this.publishes.set(ch, (list = []));
      list.push(f);
    } else if (m.name === 'basic.return') this.returns.push(f);
    else if (BY_TAG.has(m.name) || (SETTLE.has(m.name) && !toClient)) {
      const key = `t:${ch}:${epoch}:${m.tag}`;
      // A tag given out again (after a requeue on a new channel) names a new message.
      if (toClient) this.known.delete(key);
      this.#want(key, f);
    } else if (toClient && (m.name === 'basic.ack' || m.name === 'basic.nack')) {
      this.#want(`c:${ch}:${epoch}:${m.tag}`, f);
    }
    this.frames.push(f);
    if (this.frames.length > KEEP * 1.5) this.frames.splice(0, this.frames.length - KEEP);
    this.version++;
  }

  #want(key, f) {
    const msg = this.known.get(key);
    if (msg !== undefined) {
      f.msg = msg;
      return;
    }
    const list = this.waiting.get(key);
    if (list) list.push(f);
    else this.waiting.set(key, [f]);
  }

  #know(key, msg) {
    this.known.set(key, msg);
    if (this.known.size > KEEP_KEYS) this.known.delete(this.known.keys().next().value);
    const list = this.waiting.get(key);
    if (!list) return;
    this.waiting.delete(key);
    for (const f of list) f.msg = msg;
    this.version++;
  }

  #events(events) {
    for (const e of events) {
      switch (e.type) {
        case 'channel-opened': {
          const ch = `${e.channel.conn}:${e.channel.channel}`;
          this.eventEpoch.set(ch, (this.eventEpoch.get(ch) ?? 0) + 1);
          break;
        }
        case 'published': {
          if (!e.channel) break;
          const ch = `${e.channel.conn}:${e.channel.channel}`;
          const f = this.publishes.get(ch)?.shift();
          if (f) f.msg = e.msg;
          if (e.confirmSeq != null) this.#know(`c:${ch}:${this.eventEpoch.get(ch) ?? 0}:${e.confirmSeq}`, e.msg);
          this.version++;
          break;
        }
        case 'delivered': {
          const ch = `${e.to.conn}:${e.to.channel}`;
          this.#know(`t:${ch}:${this.eventEpoch.get(ch) ?? 0}:${e.deliveryTag}`, e.msg);
          break;
        }
        case 'returned': {
          const f = this.returns.shift();
          if (f) f.msg = e.msg;
          this.version++;
          break;
        }
        default:
      }
    }
    if (this.waiting.size > KEEP_KEYS) this.waiting.clear();
  }

  /** Forgets the history (a new run). */
  reset() {
    this.frames = [];
    this.version++;
  }
}
