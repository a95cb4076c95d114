// A simulated producer: an in-process client that publishes on demand or at a
// steady rate of page time, optionally on a confirm channel.

let nextId = 1;

// Above this rate messages go out in batches, one engine call per batch.
const BATCH_ABOVE = 200; // msg/s
const BATCH_EVERY = 10; // ms of page time

export class SimProducer {
  constructor(world, options) {
    this.world = world;
    this.kind = 'producer';
    this.id = options.id ?? `p${nextId++}`;
    this.label = options.label ?? this.id;
    this.exchange = options.exchange ?? '';
    this.routingKey = options.routingKey ?? '';
    this.confirm = options.confirm ?? false;
    this.persistent = options.persistent ?? false;
    this.mandatory = options.mandatory ?? false;
    this.rate = options.rate ?? 0;
    this.count = 0;
    /** confirm outcomes by sequence number: 'waiting' | 'confirmed' | 'nacked' */
    this.confirms = new Map();
    this.tally = { waiting: 0, confirmed: 0, nacked: 0, 'never confirmed': 0 };
    this.returned = [];
    this.lastError = null;
    this.status = 'starting';
    this.stopRate = null;
  }

  /** Its channel, as the broker's events name it. */
  get brokerChannelKey() {
    return this.channel && this.connection ? `${this.connection.id}:${this.channel.id}` : null;
  }

  async attach() {
    if (this.world.disposed || !this.world.up) return;
    this.connection = await this.world.broker.connect({ name: this.label });
    this.channel = await this.connection.channel();
    this.world.registerChannel(this.connection.id, this.channel.id, this);
    this.channel.onReturn = (m) => {
      this.returned.push({ body: m.bodyString(), replyCode: m.replyCode, replyText: m.replyText });
      this.world.onchange?.();
    };
    this.channel.onerror = (err) => (this.lastError = err.message);
    if (this.confirm) await this.channel.confirmSelect();
    this.seq = 0;
    this.status = 'running';
    this.setRate(this.rate);
    this.world.onchange?.();
  }

  /**
   * Publishes one message; resolves with the sequence number once confirmed
   * (on a confirm channel), rejects when nacked.
   */
  publish(
    body = `m${this.count + 1}`,
    properties = {},
    { routingKey = this.routingKey, mandatory = this.mandatory } = {},
  ) {
    if (!this.channel || this.channel.closed) return Promise.reject(new Error(`${this.label} is not connected`));
    this.count++;
    const props = this.persistent ? { deliveryMode: 2, ...properties } : properties;
    const p = this.channel.basicPublish(this.exchange, routingKey, body, props, mandatory);
    if (this.confirm) {
      const seq = ++this.seq;
      const mark = (state) => {
        this.tally[this.confirms.get(seq)]--;
        this.confirms.set(seq, state);
        this.tally[state]++;
        // Only the latest few are listed; older ones live on in the tally.
        if (this.confirms.size > 200) this.confirms.delete(this.confirms.keys().next().value);
      };
      this.confirms.set(seq, 'waiting');
      this.tally.waiting++;
      p.then(
        () => mark('confirmed'),
        () => mark(this.world.up ? 'nacked' : 'never confirmed'),
      );
    } else {
      p.catch((err) => (this.lastError = err.message));
    }
    return p;
  }

  /** Publishes `rate` messages per second of page time (0 stops). */
  setRate(rate) {
    this.rate = rate;
    this.stopRate?.();
    this.stopRate = null;
    if (!(rate > 0) || !this.channel) return;
    const clock = this.world.clock;
    const every = rate > BATCH_ABOVE ? BATCH_EVERY : 1000 / rate;
    let owed = 0;
    let cancel = null;
    const tick = () => {
      if (!this.channel || this.channel.closed) return;
      owed += (rate * every) / 1000;
      const n = Math.floor(owed);
      owed -= n;
      if (n === 1) this.publish();
      else if (n > 1) this.#publishBatch(n);
      cancel = clock.at(clock.now() + every, tick);
    };
    cancel = clock.at(clock.now() + every, tick);
    this.stopRate = () => cancel?.();
  }

  #publishBatch(n) {
    const bodies = [];
    for (let i = 0; i < n; i++) bodies.push(`m${++this.count}`);
    const props = this.persistent ? { deliveryMode: 2 } : undefined;
    const ch = this.channel;
    const p = ch.basicPublishBatch
      ? ch.basicPublishBatch(this.exchange, this.routingKey, bodies, props, this.mandatory)
      : Promise.all(bodies.map((b) => ch.basicPublish(this.exchange, this.routingKey, b, props, this.mandatory)));
    p.catch((err) => (this.lastError = err.message));
  }

  detach() {
    this.stopRate?.();
    this.stopRate = null;
    this.channel = null;
    this.status = 'waiting for the broker';
  }

  stop() {
    this.stopRate?.();
    this.stopRate = null;
    this.status = 'stopped';
  }
}
