// Rates for the management API, as RabbitMQ's `*_details.rate`: the host
// samples the engine's counters (queue totals and depths) every interval
// (RabbitMQ's collect_statistics_interval, 5 s by default) and a rate is the
// change over the last interval per second. The engine keeps no clock of its
// own for this: sampling is the host's.

// Counters and gauges per queue, under the names RabbitMQ's API gives their rates.
const FIELDS = {
  publish: (q) => q.stats.published,
  deliver_get: (q) => q.stats.delivered,
  ack: (q) => q.stats.acked,
  redeliver: (q) => q.stats.redelivered,
  messages: (q) => q.counts.ready + q.counts.unacked,
  messages_ready: (q) => q.counts.ready,
  messages_unacknowledged: (q) => q.counts.unacked,
};
const ZERO = Object.fromEntries(Object.keys(FIELDS).map((k) => [k, 0]));

const key = (vhost, name) => `${vhost}\u0000${name}`;

export class Rates {
  #broker;
  #timer;
  #last = null; // { at, values: Map<key, {field: n}> }
  #rates = new Map(); // key -> {field: rate}
  #totals = { ...ZERO };

  /** Samples `broker` every `intervalMs` from now on, until stop(). */
  constructor(broker, intervalMs, now = () => performance.now()) {
    this.#broker = broker;
    this.now = now;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Takes a sample now and computes the rates since the previous one. */
  sample() {
    const at = this.now();
    const values = new Map();
    for (const q of this.#broker.snapshot({ messages: false }).queues) {
      values.set(key(q.vhost, q.name), Object.fromEntries(Object.entries(FIELDS).map(([f, get]) => [f, get(q)])));
    }
    const last = this.#last;
    this.#rates = new Map();
    this.#totals = { ...ZERO };
    if (last && at > last.at) {
      const secs = (at - last.at) / 1000;
      for (const [k, v] of values) {
        // A queue new since the last sample (or re-declared) starts at zero.
        const before = last.values.get(k);
        const r = {};
        for (const f of Object.keys(FIELDS)) {
          // Depths may fall; a total that fell belongs to a queue declared again.
          const gauge = f.startsWith('messages');
          r[f] = before && (gauge || v[f] >= before[f]) ? (v[f] - before[f]) / secs : 0;
          this.#totals[f] += r[f];
        }
        this.#rates.set(k, r);
      }
    }
    this.#last = { at, values };
  }

  /** The rates of one queue: { publish, deliver_get, ..., messages_ready } per second. */
  queue(vhost, name) {
    return this.#rates.get(key(vhost, name)) ?? ZERO;
  }

  /** The rates summed over every queue. */
  totals() {
    return this.#totals;
  }

  stop() {
    clearInterval(this.#timer);
  }
}

/** `{ rate }`, as RabbitMQ's API writes a detail. */
export const detail = (rate) => ({ rate });
