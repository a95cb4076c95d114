// Feeds the scene from a World on this page: the topology from the broker's
// snapshot plus the page's actors, and the words for each actor's box.

import { buildTopology } from '../scene/topology.js';

const ACK_WORDS = { manual: 'ack after work', auto: 'automatic ack', early: 'ack on receipt' };
const SNAPSHOT_EVERY = 2000; // ms; sooner when the page changed the topology

export class LiveSource {
  constructor(world) {
    this.world = world;
    this.model = world.model;
    this.dirty = true;
    this.at = -Infinity;
    this.last = null;
    world.onchange = () => (this.dirty = true);
  }

  origin() {
    return this.world.t0;
  }

  get selected() {
    return this.world.selected;
  }

  topology() {
    const w = this.world;
    const now = performance.now();
    if (this.last && (!w.up || (!this.dirty && now - this.at < SNAPSHOT_EVERY))) return this.last;
    this.at = now;
    const snap = w.snapshot();
    this.snap = snap;
    const producers = [];
    const consumers = [];
    for (const a of w.actors) {
      if (a.kind === 'producer')
        producers.push({ key: a.id, label: a.label, exchange: a.exchange, routingKey: a.routingKey, actor: a });
      else
        consumers.push({
          key: a.id,
          label: a.label,
          queue: a.queue,
          actor: a,
          get holder() {
            return a.channelKey;
          },
        });
    }
    this.last = buildTopology(snap, { producers, consumers, declared: w.queues });
    return this.last;
  }

  describe(id, item) {
    const a = item.actor;
    if (!a) return null;
    // An actor that knows how to say what the broker shows of it (the live-code program).
    if (a.describe) return a.describe(this.model, (key) => this.channelInfo(key));
    const model = this.model;
    const key = a.brokerChannelKey;
    if (a.kind === 'producer') {
      // What it really sent and how its channel is set, as the broker saw them.
      const sent = (key && model.sent.get(key)) ?? { persistent: 0, transient: 0 };
      const persistence =
        sent.persistent && sent.transient
          ? 'persistent and transient'
          : sent.persistent
            ? 'persistent'
            : sent.transient
              ? 'transient'
              : a.persistent
                ? 'will send persistent'
                : 'will send transient';
      const confirm = this.channelInfo(key)?.confirm ?? a.confirm;
      const sub = [confirm ? 'confirms on' : 'no confirms', persistence];
      if (a.rate) sub.push(`${a.rate}/s`);
      const t = a.tally;
      const status = `${a.count} sent${a.confirm ? ` · ${t.confirmed} confirmed${t.waiting ? ` · ${t.waiting} waiting` : ''}${t.nacked ? ` · ${t.nacked} nacked` : ''}` : ''}`;
      return {
        sub: sub.join(' · '),
        status,
        down: a.status !== 'running',
        data: { persistence, confirm: String(confirm) },
      };
    }
    const consuming = model.consuming(key, a.id);
    const unacked = (key && model.unackedOn.get(key)) ?? 0;
    const sub = `${ACK_WORDS[a.ack]} · prefetch ${a.prefetch || '∞'}`;
    const work = a.processMs === null ? 'holds what it gets' : `${a.processMs / 1000} s per message`;
    let right;
    // Consuming or not is the broker's word; why not is the client's (a crash, a channel error).
    if (consuming) right = '● consuming';
    else if (a.status === 'crashed') right = '✗ crashed';
    else if (a.status === 'running') right = '◌ not consuming';
    else right = `◌ ${a.status}`;
    // A queue with x-consumer-timeout: the oldest unacked delivery's deadline, running down.
    const left = a.timeoutMs && consuming ? this.deadlineIn(key, a.timeoutMs) : null;
    const status = `${left === null ? '' : `⏱ ${(left / 1000).toFixed(1)} s · `}${work} · ${a.processedCount} done · ${unacked} unacked`;
    const data = { consuming: String(consuming), unacked: String(unacked) };
    if (a.timeoutMs) data.deadline = left === null ? '' : String(Math.round(left));
    return {
      sub,
      status: !consuming && a.lastError && a.status !== 'crashed' ? a.lastError : status,
      right,
      down: !consuming,
      data,
    };
  }

  /**
   * ms until the broker takes back the oldest unacked delivery on channel `key`:
   * its delivery (from the engine's event) plus the queue's consumer timeout. null: none held.
   */
  deadlineIn(key, timeoutMs) {
    let first = Infinity;
    for (const c of this.model.holders.get(key) ?? []) {
      if (!c.unacked) continue;
      const events = this.model.messages.get(c.msg)?.events ?? [];
      const d = events.findLast((e) => e.type === 'delivered' && e.queue === c.queue);
      if (d) first = Math.min(first, d.at);
    }
    return first === Infinity ? null : Math.max(0, first + timeoutMs - this.world.clock.now());
  }

  /** The broker's view of channel `key` in the latest snapshot. */
  channelInfo(key) {
    if (!key || !this.snap) return null;
    return this.snap.channels.find((c) => `${c.conn}:${c.channel}` === key) ?? null;
  }
}
