// Redrive: moves the messages of a queue (a dead-letter queue, usually) back
// to the queue they died in (the first x-death entry) or to an exchange, at
// a chosen rate. Runs on an in-process connection as the user who asked, so
// the engine checks read on the source and write on the target. Each message
// is taken with basic.get, published with a publisher confirm and mandatory,
// and only then acknowledged: a message is never lost, and one that cannot be
// routed is put back and stops the redrive.

const MAX_RATE = 10000;
const TICK_MS = 50;

export class Redrives {
  #broker;
  #log;
  #jobs = new Map();
  #next = 1;

  constructor(broker, log) {
    this.#broker = broker;
    this.#log = log;
  }

  /** Every redrive, running or finished, as the API shows it. */
  list() {
    return [...this.#jobs.values()].map((j) => j.view());
  }

  /** Stops a redrive; false if there is none by that id. */
  cancel(id) {
    const job = this.#jobs.get(Number(id));
    if (!job) return false;
    job.stop('cancelled');
    return true;
  }

  /** Starts one; throws a TypeError for a bad option, an AMQP error for a refused login. */
  async start(user, vhost, queue, { rate = 10, count, exchange, routing_key: routingKey } = {}) {
    rate = Number(rate);
    if (!(rate > 0 && rate <= MAX_RATE))
      throw new TypeError(`rate must be a number of messages per second in (0, ${MAX_RATE}]`);
    if (count !== undefined && !(Number.isInteger(count) && count > 0))
      throw new TypeError('count must be a positive integer');
    if (exchange !== undefined && typeof exchange !== 'string') throw new TypeError('exchange must be a string');
    if (routingKey !== undefined && typeof routingKey !== 'string') throw new TypeError('routing_key must be a string');
    const conn = await this.#broker.connect({
      vhost,
      username: user.username,
      password: user.password,
      name: 'redrive',
    });
    const id = this.#next++;
    const job = new Job(id, conn, { vhost, queue, rate, count, exchange, routingKey, user: user.username }, (why) => {
      this.#log('info', `redrive ${id} of ${vhost} ${queue}: ${why} after moving ${job.moved}`);
    });
    this.#jobs.set(id, job);
    // The first message moves now, so a refusal (404, 403 on either side)
    // is the answer to the request; the rate paces the rest.
    let more;
    try {
      await job.check();
      more = await job.moveOne();
    } catch (e) {
      if (typeof e?.code !== 'number') {
        // Not refused: the redrive ran and failed (an unroutable message, put back).
        job.stop('failed', e.message);
        return job.view();
      }
      this.#jobs.delete(id);
      await conn.close().catch(() => {});
      throw e;
    }
    this.#log('info', `redrive ${id} of ${vhost} ${queue} by ${user.username}: ${rate}/s to ${job.target()}`);
    if (!more || (count !== undefined && job.moved >= count)) job.stop('done');
    else job.run();
    return job.view();
  }

  stopAll() {
    for (const j of this.#jobs.values()) j.stop('server stopping');
  }
}

class Job {
  moved = 0;
  state = 'running';
  error = null;

  constructor(id, conn, opts, onEnd) {
    this.id = id;
    this.conn = conn;
    this.opts = opts;
    this.onEnd = onEnd;
    this.startedAt = Date.now();
  }

  target() {
    const { exchange, routingKey } = this.opts;
    if (exchange === undefined) return 'the queue each message died in';
    return `exchange '${exchange}'${routingKey === undefined ? '' : ` with routing key '${routingKey}'`}`;
  }

  view() {
    const { vhost, queue, rate, count, exchange, routingKey, user } = this.opts;
    return {
      id: this.id,
      vhost,
      queue,
      user,
      rate,
      count: count ?? null,
      destination: exchange === undefined ? { original: true } : { exchange, routing_key: routingKey ?? null },
      moved: this.moved,
      state: this.state,
      error: this.error,
      started_at: this.startedAt,
    };
  }

  async check() {
    this.src = await this.conn.channel();
    await this.src.queueDeclare(this.opts.queue, { passive: true });
    this.dst = await this.conn.channel();
    await this.dst.confirmSelect();
  }

  stop(state, error = null) {
    if (this.state !== 'running') return;
    this.state = state;
    this.error = error;
    clearTimeout(this.timer);
    this.conn.close().catch(() => {});
    this.onEnd(error ? `${state}: ${error}` : state);
  }

  /** Moves the rest: `rate` a second, the budget earned by the time passed. */
  run() {
    const { rate } = this.opts;
    let last = Date.now();
    let credit = 0;
    const tick = async () => {
      if (this.state !== 'running') return;
      const now = Date.now();
      // A stall (a slow confirm) does not turn into a burst later.
      credit = Math.min(credit + ((now - last) / 1000) * rate, Math.max(1, (rate * TICK_MS) / 500));
      last = now;
      try {
        while (credit >= 1 && this.state === 'running') {
          credit -= 1;
          if (!(await this.moveOne())) return this.stop('done');
          if (this.opts.count !== undefined && this.moved >= this.opts.count) return this.stop('done');
        }
      } catch (e) {
        return this.stop('failed', e.message);
      }
      this.timer = setTimeout(tick, Math.min(TICK_MS, 1000 / rate));
    };
    this.timer = setTimeout(tick, Math.min(TICK_MS, 1000 / rate));
  }

  /** Moves one message; false when the queue is empty. */
  async moveOne() {
    const m = await this.src.basicGet(this.opts.queue, { noAck: false });
    if (!m) return false;
    let exchange = this.opts.exchange;
    let routingKey = this.opts.routingKey ?? m.routingKey;
    if (exchange === undefined) {
      const death = m.properties.headers?.['x-death']?.[0];
      if (typeof death?.queue !== 'string') {
        await m.nack(true);
        throw new Error('a message without x-death: give an exchange to redrive it to');
      }
      exchange = '';
      routingKey = death.queue;
    }
    let returned = false;
    this.dst.onReturn = () => (returned = true);
    await this.dst.basicPublish(exchange, routingKey, m.body, m.properties, true);
    if (returned) {
      await m.nack(true);
      throw new Error(
        `no queue for the message at ${exchange === '' ? 'the default exchange' : `exchange '${exchange}'`} with routing key '${routingKey}'`,
      );
    }
    await m.ack();
    this.moved++;
    return true;
  }
}
