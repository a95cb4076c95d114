// What the page shows, rebuilt from events only: every message's copies (one
// per queue it reached), where each copy is, the counters and each message's
// timeline. Engine events say what the broker did; a few page events say what
// only the simulated consumers know (processing started or finished, a
// crash, a message lost with its consumer).

import { channelKey, tagKey } from './keys.js';

/** States in which a copy has left the broker for good (the rest: ready, delivered, processing, processed). */
export const FINAL = new Set(['acked', 'done', 'dead-lettered', 'expired', 'dropped', 'lost', 'refused', 'gone']);

const KEEP_MESSAGES = 3000; // older finished messages are forgotten
const KEEP_FINALS = 48; // recently finished copies, for the fade-out in the scene
const KEEP_PAST_TAGS = 2000; // settled delivery tags remembered for late page events

export function emptyCounters() {
  return {
    published: 0,
    confirmed: 0,
    delivered: 0,
    redelivered: 0,
    acked: 0,
    lost: 0,
    deadLettered: 0,
    // the rest are shown where a lesson needs them
    publishNacked: 0,
    returned: 0,
    refused: 0,
    expired: 0,
    dropped: 0,
    nacked: 0,
    rejected: 0,
    requeued: 0,
    processed: 0,
  };
}

export class Model {
  constructor() {
    this.counters = emptyCounters();
    /** msg id -> { id, events, copies: Map<queue, copy>, persistent, confirm, stage } */
    this.messages = new Map();
    /** queue name -> { ready: Set<copy> } (insertion order is delivery order) */
    this.queues = new Map();
    /** "conn:channel" -> Set<copy> delivered there and not yet finished */
    this.holders = new Map();
    /** "conn:channel:tag" -> copy */
    this.tags = new Map();
    /** tags the broker has taken back or settled, for late page events: "conn:channel:tag" -> copy (the latest few) */
    this.pastTags = new Map();
    // The engine's books, from its events only (never from what the simulated clients believe):
    /** "conn:channel" -> unacked deliveries on that channel */
    this.unackedOn = new Map();
    /** "conn:channel" -> the most unacked deliveries that channel has held at once */
    this.peakUnacked = new Map();
    /** "conn:channel" -> Set of consumer tags consuming on it */
    this.consumers = new Map();
    /** "conn:channel" -> { persistent, transient } messages published on it */
    this.sent = new Map();
    /** "conn:channel:seq" -> message, for confirms */
    this.confirms = new Map();
    /** page events that arrived before the delivery they are about */
    this.early = new Map();
    /** copies that just finished: { copy, realAt } */
    this.finals = [];
    this.version = 0; // bumped on every change, so views redraw only when needed
    this.lastEvent = null;
  }

  queue(name) {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = { name, ready: new Set(), unacked: 0 }));
    return q;
  }

  holder(key) {
    let h = this.holders.get(key);
    if (!h) this.holders.set(key, (h = new Set()));
    return h;
  }

  message(id, at) {
    let m = this.messages.get(id);
    if (!m) {
      m = { id, at, events: [], copies: new Map(), persistent: false, confirm: null, stage: 'published', deaths: [] };
      this.messages.set(id, m);
      if (this.messages.size > KEEP_MESSAGES + 500) this.#forget();
    }
    return m;
  }

  copy(msg, queue, at) {
    const m = this.message(msg, at);
    let c = m.copies.get(queue);
    if (!c) {
      c = {
        key: `${msg}@${queue}`,
        msg,
        queue,
        state: 'ready',
        tag: 0,
        holder: null,
        redelivered: false,
        deliveries: 0,
        autoAck: false,
        acked: false,
        processing: false,
        processed: false,
        dead: m.deaths.at(-1) ?? null,
        until: 0,
      };
      // A message published on a confirm channel: its copies show whether the publisher has heard back.
      c.confirm = m.seq === undefined ? null : (m.confirm ?? 'waiting');
      m.copies.set(queue, c);
    }
    return c;
  }

  /** Applies one event (engine or page); returns the message it concerned, if any. */
  apply(e) {
    this.version++;
    this.lastEvent = e;
    this.stashed = false;
    this.late = null;
    const h = HANDLERS[e.type];
    const m = h ? h.call(this, e) : null;
    if (m || !this.late || !e.page) return m;
    const c = this.late;
    this.late = null;
    return this.record({ ...e, msg: c.msg, queue: c.queue, late: true });
  }

  /** Adds `e` to its message's timeline. */
  record(e) {
    const msg = e.msg;
    const m = this.message(msg, e.at);
    m.events.push(e);
    return m;
  }

  leaveHolder(c) {
    this.settled(c);
    if (c.holder) {
      this.holders.get(c.holder)?.delete(c);
      const key = tagKey(c.holder, c.tag);
      this.tags.delete(key);
      this.pastTags.set(key, c);
      if (this.pastTags.size > KEEP_PAST_TAGS) this.pastTags.delete(this.pastTags.keys().next().value);
    }
    c.holder = null;
  }

  /** The broker no longer counts copy `c` as unacknowledged (acked, nacked, rejected, requeued, gone). */
  settled(c) {
    if (!c.unacked) return;
    c.unacked = false;
    const q = this.queues.get(c.queue);
    if (q) q.unacked--;
    if (c.holder) this.unackedOn.set(c.holder, (this.unackedOn.get(c.holder) ?? 1) - 1);
  }

  /** Unacknowledged deliveries in queue `name`, as the broker counts them. */
  unackedIn(name) {
    return this.queues.get(name)?.unacked ?? 0;
  }

  /** Whether consumer `tag` is consuming on channel `key`, as the broker reports it. */
  consuming(key, tag) {
    return Boolean(key && this.consumers.get(key)?.has(tag));
  }

  finish(c, state) {
    if (c.state === 'ready') this.queues.get(c.queue)?.ready.delete(c);
    this.settled(c);
    this.leaveHolder(c);
    c.state = state;
    c.processing = false;
    this.finals.push({ copy: c, realAt: performance.now() });
    if (this.finals.length > KEEP_FINALS) this.finals.splice(0, this.finals.length - KEEP_FINALS);
  }

  /** Page events name a delivery by channel and tag; the delivered event may not be applied yet. */
  byTag(e) {
    const key = tagKey(channelKey(e.conn, e.channel), e.deliveryTag);
    const c = this.tags.get(key);
    if (!c && this.pastTags.has(key)) {
      // About a delivery the broker already took back or settled (a late finish after a timeout):
      // it goes on that message's timeline, in its place in time, and changes nothing.
      this.late = this.pastTags.get(key);
      return null;
    }
    if (!c) {
      const list = this.early.get(key) ?? [];
      list.push(e);
      this.early.set(key, list);
      this.stashed = true;
    }
    return c;
  }

  /** Forgets the oldest messages whose copies have all finished. */
  #forget() {
    let excess = this.messages.size - KEEP_MESSAGES;
    for (const [id, m] of this.messages) {
      if (excess <= 0) break;
      let done = m.stage !== 'published' || m.copies.size > 0;
      for (const c of m.copies.values()) if (!FINAL.has(c.state)) done = false;
      if (done) {
        this.messages.delete(id);
        excess--;
      }
    }
    if (this.early.size > 1000) this.early.clear();
  }

  /**
   * Starts over from a snapshot (a broker restart, or joining a running
   * server): ready messages are placed in their queues; history is kept.
   */
  resync(snapshot, at) {
    this.version++;
    for (const q of this.queues.values()) {
      q.ready.clear();
      q.unacked = 0;
    }
    this.holders.clear();
    this.tags.clear();
    this.pastTags.clear();
    this.unackedOn.clear();
    this.consumers.clear();
    this.early.clear();
    for (const m of this.messages.values()) {
      for (const c of m.copies.values()) {
        c.unacked = false;
        if (!FINAL.has(c.state)) c.state = 'gone';
      }
    }
    for (const q of snapshot.queues) {
      this.queue(q.name);
      for (const { id, deliveries } of q.messages) {
        const c = this.copy(id, q.name, at);
        c.state = 'ready';
        c.deliveries = deliveries;
        c.redelivered = deliveries > 0;
        c.processing = false;
        this.queue(q.name).ready.add(c);
        this.messages.get(id).events.push({ at, type: 'recovered', queue: q.name });
      }
    }
  }
}

const HANDLERS = {
  published(e) {
    // A broker recovered from its store numbers new messages after the last one it
    // kept: an id of a message lost in the restart can come again, as a new message.
    if (this.messages.get(e.msg)?.events.length) this.messages.delete(e.msg);
    const m = this.record(e);
    m.persistent = e.persistent;
    m.exchange = e.exchange;
    m.routingKey = e.routingKey;
    m.stage = 'published';
    this.counters.published++;
    if (e.channel) {
      const key = channelKey(e.channel.conn, e.channel.channel);
      let t = this.sent.get(key);
      if (!t) this.sent.set(key, (t = { persistent: 0, transient: 0 }));
      t[e.persistent ? 'persistent' : 'transient']++;
    }
    if (e.confirmSeq != null && e.channel) {
      m.seq = e.confirmSeq;
      m.channel = channelKey(e.channel.conn, e.channel.channel);
      this.confirms.set(`${m.channel}:${e.confirmSeq}`, m);
    }
    return m;
  },
  routed(e) {
    const m = this.record(e);
    if (!e.queues.length && m.stage === 'published') {
      m.stage = 'unroutable';
      // No copy exists: a stand-in fades out at the exchange.
      const c = { key: `${e.msg}@`, msg: e.msg, queue: null, exchange: m.exchange, state: 'unroutable', tag: 0 };
      this.finals.push({ copy: c, realAt: performance.now() });
    } else if (m.stage === 'published') m.stage = 'routed';
    return m;
  },
  returned(e) {
    const m = this.record(e);
    m.stage = 'returned';
    this.counters.returned++;
    return m;
  },
  refused(e) {
    const m = this.record(e);
    const c = this.copy(e.msg, e.queue, e.at);
    this.finish(c, 'refused');
    this.counters.refused++;
    return m;
  },
  enqueued(e) {
    const m = this.record(e);
    const c = this.copy(e.msg, e.queue, e.at);
    c.state = 'ready';
    this.queue(e.queue).ready.add(c);
    return m;
  },
  delivered(e) {
    const m = this.record(e);
    const c = this.copy(e.msg, e.queue, e.at);
    if (c.state === 'ready') this.queues.get(e.queue)?.ready.delete(c);
    this.leaveHolder(c);
    const holder = channelKey(e.to.conn, e.to.channel);
    Object.assign(c, {
      state: 'delivered',
      tag: e.deliveryTag,
      holder,
      consumerTag: e.consumerTag ?? null,
      redelivered: e.redelivered,
      deliveries: e.deliveryCount + 1,
      autoAck: e.autoAck,
      unacked: false,
      acked: false,
      processing: false,
      processed: false,
    });
    this.holder(holder).add(c);
    const key = tagKey(holder, e.deliveryTag);
    this.tags.set(key, c);
    if (!e.autoAck) {
      c.unacked = true;
      this.queue(e.queue).unacked++;
      const n = (this.unackedOn.get(holder) ?? 0) + 1;
      this.unackedOn.set(holder, n);
      if (n > (this.peakUnacked.get(holder) ?? 0)) this.peakUnacked.set(holder, n);
    }
    this.counters.delivered++;
    if (e.redelivered) this.counters.redelivered++;
    // basic.get with automatic ack: the reader has it, the broker is done with it.
    if (e.autoAck && e.consumerTag == null) this.finish(c, 'done');
    const early = this.early.get(key);
    if (early) {
      this.early.delete(key);
      for (const pe of early) this.apply(pe);
    }
    return m;
  },
  acked(e) {
    const m = this.record(e);
    const c = this.copy(e.msg, e.queue, e.at);
    this.counters.acked++;
    c.acked = true;
    this.settled(c);
    // Acked on receipt while still processing: the copy stays with its consumer.
    if (c.processing) return m;
    this.finish(c, 'acked');
    return m;
  },
  nacked(e) {
    const m = this.record(e);
    this.counters.nacked++;
    this.leaveHolder(this.copy(e.msg, e.queue, e.at));
    return m;
  },
  rejected(e) {
    const m = this.record(e);
    this.counters.rejected++;
    this.leaveHolder(this.copy(e.msg, e.queue, e.at));
    return m;
  },
  requeued(e) {
    const m = this.record(e);
    const c = this.copy(e.msg, e.queue, e.at);
    this.leaveHolder(c);
    Object.assign(c, { state: 'ready', redelivered: true, processing: false, processed: false, acked: false });
    // A requeued message goes back to the head of its queue, as in RabbitMQ.
    const q = this.queue(e.queue);
    q.ready.delete(c);
    q.ready = new Set([c, ...q.ready]);
    this.counters.requeued++;
    return m;
  },
  'dead-lettered'(e) {
    const m = this.record(e);
    m.deaths.push({ queue: e.queue, reason: e.reason, exchange: e.exchange });
    this.finish(this.copy(e.msg, e.queue, e.at), 'dead-lettered');
    this.counters.deadLettered++;
    return m;
  },
  expired(e) {
    const m = this.record(e);
    this.finish(this.copy(e.msg, e.queue, e.at), 'expired');
    this.counters.expired++;
    return m;
  },
  dropped(e) {
    const m = this.record(e);
    const c = this.copy(e.msg, e.queue, e.at);
    c.dropReason = e.reason;
    this.finish(c, 'dropped');
    this.counters.dropped++;
    return m;
  },
  confirmed(e) {
    const m = this.confirms.get(`${channelKey(e.to.conn, e.to.channel)}:${e.seq}`);
    if (e.ack) this.counters.confirmed++;
    else this.counters.publishNacked++;
    if (!m) return null;
    this.confirms.delete(`${m.channel}:${e.seq}`);
    m.confirm = e.ack ? 'confirmed' : 'nacked';
    for (const c of m.copies.values()) c.confirm = m.confirm;
    m.events.push(e);
    return m;
  },

  'consumer-added'(e) {
    const key = channelKey(e.to.conn, e.to.channel);
    let set = this.consumers.get(key);
    if (!set) this.consumers.set(key, (set = new Set()));
    set.add(e.consumerTag);
    return null;
  },
  'consumer-removed'(e) {
    this.consumers.get(channelKey(e.to.conn, e.to.channel))?.delete(e.consumerTag);
    return null;
  },
  'channel-closed'(e) {
    const key = channelKey(e.channel.conn, e.channel.channel);
    this.consumers.delete(key);
    this.unackedOn.delete(key);
    return null;
  },
  'connection-closed'(e) {
    for (const key of [...this.consumers.keys()]) if (key.startsWith(`${e.conn}:`)) this.consumers.delete(key);
    for (const key of [...this.unackedOn.keys()]) if (key.startsWith(`${e.conn}:`)) this.unackedOn.delete(key);
    return null;
  },

  // ---- page events: what only the simulated consumers know ----
  processing(e) {
    const c = this.byTag(e);
    if (!c) return null;
    c.processing = true;
    c.until = e.until;
    if (!FINAL.has(c.state)) c.state = 'processing';
    return this.record({ ...e, msg: c.msg, queue: c.queue });
  },
  processed(e) {
    const c = this.byTag(e);
    if (!c) return null;
    const m = this.record({ ...e, msg: c.msg, queue: c.queue });
    this.counters.processed++;
    c.processing = false;
    c.processed = true;
    if (c.state === 'lost') return m;
    if (c.acked) this.finish(c, 'acked');
    else if (c.autoAck) this.finish(c, 'done');
    else c.state = 'processed';
    return m;
  },
  crashed(e) {
    const c = this.byTag(e);
    return c ? this.record({ ...e, msg: c.msg, queue: c.queue }) : null;
  },
  lost(e) {
    const c = this.byTag(e);
    if (!c) return null;
    const m = this.record({ ...e, msg: c.msg, queue: c.queue });
    this.counters.lost++;
    this.finish(c, 'lost');
    return m;
  },
  note(e) {
    // A page remark for a message's timeline, naming the message or one of its deliveries.
    if (e.msg != null) return this.record(e);
    if (e.deliveryTag === undefined) return null;
    const c = this.byTag(e);
    return c ? this.record({ ...e, msg: c.msg, queue: c.queue }) : null;
  },
};
