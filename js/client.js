// The in-process client: Connection, Channel, Consumer and Message, named as
// in amqp-client.js (defaults included). Each method checks its arguments'
// JS types and forwards the AMQP method to the engine, which runs it through
// the same per-method layer as a wire connection's: every rule, error code
// and text is decided there. Publishes without properties and acks are
// queued and cross in batches (see core.js); their promise settles once the
// batch ran. Callbacks run from the drain.
import { AMQPError, argError, fromEngine } from './errors.js';
import { ACK, NACK, REJECT } from './core.js';

const RESOLVED = Promise.resolve();
const ZERO = Promise.resolve(0);
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Flag bits of the wasm declare/consume calls (src/wasm/commands.rs).
const PASSIVE = 1;
const DURABLE = 2;
const AUTO_DELETE = 4;
const INTERNAL = 8;
const EXCLUSIVE = 16;
const NO_ACK = 32;

/** A body as bytes: strings are UTF-8, views keep their window. */
export function toBytes(method, body) {
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return encoder.encode(body);
  if (body === null || body === undefined) return EMPTY;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw argError(method, 'body must be a string, Uint8Array, ArrayBuffer or null', body);
}

function str(method, what, v) {
  if (typeof v !== 'string') throw argError(method, `${what} must be a string`, v);
}

function obj(method, what, v) {
  if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) {
    throw argError(method, `${what} must be an object`, v);
  }
}

function int(method, what, v, max) {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new TypeError(`${method}: ${what} must be an integer from 0 to ${max} (got ${String(v)})`);
  }
}

// AMQP's basic properties, named as amqp-client.js names them.
const PROPERTIES = new Set([
  'contentType',
  'contentEncoding',
  'headers',
  'deliveryMode',
  'priority',
  'correlationId',
  'replyTo',
  'expiration',
  'messageId',
  'timestamp',
  'type',
  'userId',
  'appId',
  'clusterId',
]);
const HINTS = {
  persistent: '; a persistent message has deliveryMode: 2',
  mandatory: "; mandatory is the publish's next argument",
};

/**
 * No properties to encode, so the publish can be batched. A key that is no
 * property is refused: dropped, it would fail without a word (amqplib's
 * `persistent: true` leaving a message transient).
 */
function bare(method, properties) {
  if (properties === undefined || properties === null) return true;
  let none = true;
  for (const key in properties) {
    if (!PROPERTIES.has(key)) {
      throw new TypeError(
        `${method}: unknown property '${key}' (properties: ${[...PROPERTIES].join(', ')})${HINTS[key] ?? ''}`,
      );
    }
    none = false;
  }
  return none;
}

function bool(method, what, v) {
  if (typeof v !== 'boolean') throw argError(method, `${what} must be a boolean`, v);
}

// Names up to this many UTF-16 units fit a short string (255 bytes of UTF-8)
// in the batch; longer ones go unbatched, where the engine checks them.
const BATCH_NAME = 85;

/** A delivery tag the batch can carry; others go unbatched, where the engine checks them. */
const batchTag = (t) => Number.isSafeInteger(t) && t >= 0;

function fn(method, what, v) {
  if (typeof v !== 'function') throw argError(method, `${what} must be a function`, v);
}

const flag = (on, bit) => (on ? bit : 0);

/** Reports an exception thrown by user code without stopping the broker. */
export function report(err) {
  queueMicrotask(() => {
    throw err;
  });
}

/** A delivered (or fetched, or returned) message. */
export class Message {
  // Few fields: one of these is made per delivery.
  constructor(channel, deliveryTag, redelivered, consumerTag, exchange = '', routingKey = '') {
    this.channel = channel;
    this.exchange = exchange;
    this.routingKey = routingKey;
    this.deliveryTag = deliveryTag;
    this.redelivered = redelivered;
    this.consumerTag = consumerTag;
    this.messageCount = undefined;
    // The body; or, while _at >= 0, a copy of the drain's output holding it
    // at _at, after its length (u32, little-endian): made on first access.
    this._body = EMPTY;
    this._at = -1;
    // The AMQP content header until `properties` is first read, then the properties.
    this._props = EMPTY;
  }

  get body() {
    const at = this._at;
    if (at >= 0) {
      const b = this._body;
      const n = (b[at - 4] | (b[at - 3] << 8) | (b[at - 2] << 16) | (b[at - 1] << 24)) >>> 0;
      this._body = b.subarray(at, at + n);
      this._at = -1;
    }
    return this._body;
  }

  get properties() {
    const p = this._props;
    if (p instanceof Uint8Array) this._props = p.length === 0 ? {} : this.channel._decodeProperties(p);
    return this._props;
  }

  bodyString() {
    return decoder.decode(this.body);
  }

  bodyToString() {
    return this.bodyString();
  }

  ack(multiple = false) {
    return this.channel.basicAck(this.deliveryTag, multiple);
  }

  nack(requeue = false, multiple = false) {
    return this.channel.basicNack(this.deliveryTag, requeue, multiple);
  }

  reject(requeue = false) {
    return this.channel.basicReject(this.deliveryTag, requeue);
  }

  extendLease(ms) {
    return this.channel.extendLease(this.deliveryTag, ms);
  }
}

export class Consumer {
  #done = null;
  #settled = false;
  #result = null;
  /** cancelled, or its channel closed: no more deliveries */
  _done = false;

  constructor(channel, tag, onMessage) {
    this.channel = channel;
    this.tag = tag;
    this.onMessage = onMessage;
  }

  cancel() {
    return this.channel.basicCancel(this.tag);
  }

  /**
   * Resolves when the consumer is cancelled by the client, rejects with an
   * AMQPError when the broker cancels it or its channel closes; `timeout` ms
   * (real time) rejects with a plain Error instead.
   */
  wait(timeout) {
    if (this.#settled) return this.#result;
    this.#done ??= withResolvers();
    if (timeout === undefined) return this.#done.promise;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`consumer ${this.tag}: still running after ${timeout} ms`)), timeout);
      this.#done.promise.then(resolve, reject).finally(() => clearTimeout(t));
    });
  }

  _settle(err) {
    if (this.#settled) return;
    this.#settled = true;
    this._done = true;
    this.#result = err ? Promise.reject(err) : RESOLVED;
    this.#result.catch(() => {});
    if (this.#done) {
      if (err) this.#done.reject(err);
      else this.#done.resolve();
    }
  }
}

function withResolvers() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class Channel {
  #core;
  #closeError = null;
  /** pending basic.get answers, in order: [resolve, reject] */
  #gets = [];
  /** txCommit calls waiting for commit-ok, oldest first. */
  #commits = [];
  #confirm = false;
  #seq = 0;
  /** unconfirmed publishes: seq -> [resolve, reject], in seq order */
  #unconfirmed = new Map();
  /** consumers by tag */
  _consumers = new Map();
  /** the promise of this channel's commands in the current batch */
  #batch = null;

  constructor(core, connection, id) {
    this.#core = core;
    this.connection = connection;
    this.id = id;
    this.closed = false;
    /** mandatory messages that reached no queue */
    this.onReturn = null;
    /** the broker closed this channel */
    this.onerror = null;
  }

  // ---- plumbing ------------------------------------------------------------

  /** Throws if this channel can no longer be used. */
  #live() {
    if (!this.closed) return;
    throw this.#closeError ?? new AMQPError(504, `CHANNEL_ERROR - channel ${this.id} is closed`);
  }

  /**
   * A failed command: an engine error closed this channel (soft) or the
   * connection (hard); anything else (a TypeError) changed nothing.
   */
  #failed(e) {
    const amqp = fromEngine(e);
    if (amqp) {
      if (amqp.soft) this._closed(amqp.err, false);
      else this.connection._closed(amqp.err, false);
    }
    this.#core.drain();
    return Promise.reject(amqp ? amqp.err : e);
  }

  /** One command with nothing to register before the drain. */
  #run(call) {
    let value;
    try {
      this.#live();
      value = call(this.#core.wasm, this.#core.now(), this.connection.id, this.id);
    } catch (e) {
      return this.#failed(e);
    }
    this.#core.drain();
    return value === undefined ? RESOLVED : Promise.resolve(value);
  }

  /** The promise the channel's batched commands return: settled by _batchRan. */
  #batchPromise() {
    if (this.#batch === null) {
      this.#batch = withResolvers();
      this.#core.awaitBatch(this);
    }
    return this.#batch.promise;
  }

  /** The batch ran and its output was dispatched: an error in it closed the channel. */
  _batchRan() {
    const b = this.#batch;
    if (b === null) return;
    this.#batch = null;
    if (this.closed && this.#closeError) b.reject(this.#closeError);
    else b.resolve(0);
  }

  _decodeProperties(header) {
    return this.#core.decodeProperties(header);
  }

  // ---- exchanges and queues -------------------------------------------------

  exchangeDeclare(name, type, options = {}, args = {}) {
    return this.#run((w, now, c, ch) => {
      str('exchangeDeclare', 'name', name);
      str('exchangeDeclare', 'type', type);
      obj('exchangeDeclare', 'options', options);
      const { passive = false, durable = true, autoDelete = false, internal = false } = options ?? {};
      const flags =
        flag(passive, PASSIVE) | flag(durable, DURABLE) | flag(autoDelete, AUTO_DELETE) | flag(internal, INTERNAL);
      w.exchangeDeclare(now, c, ch, name, type, flags, args);
    });
  }

  exchangeDelete(name, { ifUnused = false } = {}) {
    return this.#run((w, now, c, ch) => {
      str('exchangeDelete', 'name', name);
      w.exchangeDelete(now, c, ch, name, Boolean(ifUnused));
    });
  }

  #bind(method, kind, destination, source, routingKey, args) {
    return this.#run((w, now, c, ch) => {
      str(method, 'destination', destination);
      str(method, 'source exchange', source);
      str(method, 'routingKey', routingKey);
      obj(method, 'args', args);
      w.bind(now, c, ch, kind, destination, source, routingKey, args);
    });
  }

  exchangeBind(destination, source, routingKey = '', args = {}) {
    return this.#bind('exchangeBind', 2, destination, source, routingKey, args);
  }

  exchangeUnbind(destination, source, routingKey = '', args = {}) {
    return this.#bind('exchangeUnbind', 3, destination, source, routingKey, args);
  }

  queueDeclare(name = '', options = {}, args = {}) {
    return this.#run((w, now, c, ch) => {
      str('queueDeclare', 'name', name);
      obj('queueDeclare', 'options', options);
      obj('queueDeclare', 'args', args);
      const {
        passive = false,
        durable = name !== '',
        exclusive = name === '',
        autoDelete = name === '',
      } = options ?? {};
      const flags =
        flag(passive, PASSIVE) | flag(durable, DURABLE) | flag(exclusive, EXCLUSIVE) | flag(autoDelete, AUTO_DELETE);
      const [queue, messageCount, consumerCount] = w.queueDeclare(now, c, ch, name, flags, args);
      return { name: queue, messageCount, consumerCount };
    });
  }

  queueDelete(name = '', { ifUnused = false, ifEmpty = false } = {}) {
    return this.#run((w, now, c, ch) => {
      str('queueDelete', 'name', name);
      return { messageCount: w.queueDelete(now, c, ch, name, Boolean(ifUnused), Boolean(ifEmpty)) };
    });
  }

  queueBind(queue, exchange, routingKey = '', args = {}) {
    return this.#bind('queueBind', 0, queue, exchange, routingKey, args);
  }

  queueUnbind(queue, exchange, routingKey = '', args = {}) {
    return this.#bind('queueUnbind', 1, queue, exchange, routingKey, args);
  }

  queuePurge(name) {
    return this.#run((w, now, c, ch) => {
      str('queuePurge', 'name', name);
      return { messageCount: w.queuePurge(now, c, ch, name) };
    });
  }

  // ---- publishing -------------------------------------------------------------

  /**
   * On a confirm channel the promise settles on the broker's confirm:
   * resolves with the sequence number on ack, rejects on nack.
   */
  basicPublish(exchange, routingKey, body, properties, mandatory = false) {
    const core = this.#core;
    try {
      this.#live();
      str('basicPublish', 'exchange', exchange);
      str('basicPublish', 'routingKey', routingKey);
      if (properties !== undefined) obj('basicPublish', 'properties', properties);
      bool('basicPublish', 'mandatory', mandatory);
      const bytes = body instanceof Uint8Array ? body : toBytes('basicPublish', body);
      if (bare('basicPublish', properties) && exchange.length <= BATCH_NAME && routingKey.length <= BATCH_NAME) {
        core.queuePublish(this, exchange, routingKey, bytes, mandatory);
        return this.#confirm ? this.#awaitConfirm(++this.#seq) : this.#batchPromise();
      }
      core.wasm.publish(core.now(), this.connection.id, this.id, exchange, routingKey, properties, bytes, mandatory);
    } catch (e) {
      return this.#failed(e);
    }
    const p = this.#confirm ? this.#awaitConfirm(++this.#seq) : ZERO;
    core.drain();
    return p;
  }

  /**
   * Publishes many bodies to one exchange and routing key with the same
   * properties. Settles like basicPublish for the last one: on a confirm
   * channel, resolves with its sequence number once all are acked and
   * rejects if any is nacked.
   */
  basicPublishBatch(exchange, routingKey, bodies, properties, mandatory = false) {
    let p = ZERO;
    try {
      this.#live();
      str('basicPublishBatch', 'exchange', exchange);
      str('basicPublishBatch', 'routingKey', routingKey);
      if (!Array.isArray(bodies)) throw argError('basicPublishBatch', 'bodies must be an array', bodies);
      if (properties !== undefined) obj('basicPublishBatch', 'properties', properties);
      bool('basicPublishBatch', 'mandatory', mandatory);
      const noProperties = bare('basicPublishBatch', properties);
      // Converted only if some are not bytes already.
      let all = bodies;
      for (let i = 0; i < bodies.length; i++) {
        if (bodies[i] instanceof Uint8Array) continue;
        all = bodies.map((b) => toBytes('basicPublishBatch', b));
        break;
      }
      if (!this.#confirm && noProperties && exchange.length <= BATCH_NAME && routingKey.length <= BATCH_NAME) {
        this.#core.queuePublishMany(this, exchange, routingKey, all, mandatory);
        return all.length > 0 ? this.#batchPromise() : ZERO;
      }
      const confirms = this.#confirm ? [] : null;
      for (const bytes of all) {
        if (this.closed) break;
        const one = this.basicPublish(exchange, routingKey, bytes, properties, mandatory);
        if (confirms) confirms.push(one);
        else p = one;
      }
      if (confirms && confirms.length > 0) {
        const last = this.#seq;
        p = Promise.all(confirms).then(() => last);
      }
    } catch (e) {
      return this.#failed(e);
    }
    return p;
  }

  #awaitConfirm(seq) {
    return new Promise((resolve, reject) => this.#unconfirmed.set(seq, [resolve, reject]));
  }

  _confirm(tag, multiple, ack) {
    const settle = (seq, fns) => {
      if (ack) fns[0](seq);
      else fns[1](new AMQPError(0, `message ${seq} was nacked by the broker`));
    };
    if (!multiple) {
      const fns = this.#unconfirmed.get(tag);
      if (fns) {
        this.#unconfirmed.delete(tag);
        settle(tag, fns);
      }
      return;
    }
    for (const [seq, fns] of this.#unconfirmed) {
      if (seq > tag) break;
      this.#unconfirmed.delete(seq);
      settle(seq, fns);
    }
  }

  // ---- consuming ----------------------------------------------------------------

  basicConsume(queue, options, onMessage) {
    const core = this.#core;
    let consumer;
    try {
      this.#live();
      str('basicConsume', 'queue', queue);
      obj('basicConsume', 'options', options);
      fn('basicConsume', 'onMessage', onMessage);
      const { tag = '', noAck = true, exclusive = false, args = {} } = options ?? {};
      str('basicConsume', 'options.tag', tag);
      const flags = flag(noAck, NO_ACK) | flag(exclusive, EXCLUSIVE);
      const given = core.wasm.consume(core.now(), this.connection.id, this.id, queue, tag, flags, args);
      consumer = new Consumer(this, given, onMessage);
      this._consumers.set(given, consumer);
    } catch (e) {
      return this.#failed(e);
    }
    core.drain();
    return Promise.resolve(consumer);
  }

  basicCancel(tag) {
    return this.#run((w, now, c, ch) => {
      str('basicCancel', 'tag', tag);
      w.cancel(now, c, ch, tag);
      const consumer = this._consumers.get(tag);
      this._consumers.delete(tag);
      consumer?._settle(null);
    });
  }

  /** A delivery to `consumer`, one of this channel's (core.js looked it up). */
  _deliver(consumer, m) {
    if (this.closed || consumer._done) return; // the engine requeued it when the channel closed
    try {
      consumer.onMessage(m);
    } catch (e) {
      report(e);
    }
  }

  /** The broker cancelled a consumer (queue deleted, consumer timeout). */
  _cancelled(tag) {
    const consumer = this._consumers.get(tag);
    if (!consumer) return;
    this._consumers.delete(tag);
    consumer._settle(new AMQPError(0, `consumer ${tag} was cancelled by the broker`));
  }

  /** Resolves with the message, or null when the queue is empty. */
  basicGet(queue, { noAck = true } = {}) {
    const core = this.#core;
    try {
      this.#live();
      str('basicGet', 'queue', queue);
      core.wasm.get(core.now(), this.connection.id, this.id, queue, Boolean(noAck));
    } catch (e) {
      return this.#failed(e);
    }
    const p = new Promise((resolve, reject) => this.#gets.push([resolve, reject]));
    core.drain();
    return p;
  }

  _got(m) {
    this.#gets.shift()?.[0](m);
  }

  _returned(m) {
    if (!this.onReturn) return;
    try {
      this.onReturn(m);
    } catch (e) {
      report(e);
    }
  }

  // ---- acknowledgements ----------------------------------------------------------

  basicAck(deliveryTag, multiple = false) {
    return this.#settle(ACK, deliveryTag, multiple === true, false);
  }

  basicNack(deliveryTag, requeue = false, multiple = false) {
    return this.#settle(NACK, deliveryTag, multiple === true, requeue === true);
  }

  basicReject(deliveryTag, requeue = false) {
    return this.#settle(REJECT, deliveryTag, false, requeue === true);
  }

  /** basic.ack, nack or reject: batched (the hot path: no closure), or alone for a tag the engine must refuse. */
  #settle(op, tag, multiple, requeue) {
    const core = this.#core;
    try {
      this.#live();
      if (batchTag(tag)) {
        core.queueSettle(this, op, tag, multiple, requeue);
        return this.#batchPromise();
      }
      core.wasm.settle(core.now(), this.connection.id, this.id, op - ACK, tag, multiple, requeue);
    } catch (e) {
      return this.#failed(e);
    }
    core.drain();
    return RESOLVED;
  }

  basicRecover(requeue = false) {
    return this.#run((w, now, c, ch) => w.recoverChannel(now, c, ch, requeue === true));
  }

  /** Pushes a delivery's consumer-timeout deadline to now + ms. */
  extendLease(deliveryTag, ms) {
    return this.#run((w, now, c, ch) => {
      if (!(ms >= 0)) throw argError('extendLease', 'ms must be a number >= 0', ms);
      w.extendLease(now, c, ch, deliveryTag, ms);
    });
  }

  basicQos(prefetchCount, prefetchSize = 0, global = false) {
    return this.#run((w, now, c, ch) => {
      int('basicQos', 'prefetchCount', prefetchCount, 65535);
      int('basicQos', 'prefetchSize', prefetchSize, 2 ** 32 - 1);
      w.qos(now, c, ch, prefetchCount, prefetchSize, global === true);
    });
  }

  prefetch(count) {
    return this.basicQos(count);
  }

  basicFlow(active = true) {
    return this.#run((w, now, c, ch) => w.flow(now, c, ch, active !== false));
  }

  // ---- modes ------------------------------------------------------------------------

  confirmSelect() {
    return this.#run((w, now, c, ch) => {
      w.confirmSelect(now, c, ch);
      this.#confirm = true;
    });
  }

  txSelect() {
    return this.#run((w, now, c, ch) => w.txSelect(now, c, ch));
  }

  /** Resolves once the broker answers: after what the commit stored is durable. */
  txCommit() {
    const core = this.#core;
    try {
      this.#live();
      core.wasm.txCommit(core.now(), this.connection.id, this.id);
    } catch (e) {
      return this.#failed(e);
    }
    const p = new Promise((resolve, reject) => this.#commits.push([resolve, reject]));
    core.drain();
    return p;
  }

  _committed() {
    this.#commits.shift()?.[0]();
  }

  txRollback() {
    return this.#run((w, now, c, ch) => w.txRollback(now, c, ch));
  }

  // ---- closing ----------------------------------------------------------------------

  close() {
    if (this.closed) return RESOLVED;
    const core = this.#core;
    core.wasm.closeChannel(core.now(), this.connection.id, this.id);
    this._closed(null, false);
    core.drain();
    return RESOLVED;
  }

  /**
   * Marks the channel closed (by the client when `err` is null, else by the
   * broker) and settles everything waiting on it. `notify`: call onerror.
   */
  _closed(err, notify = true) {
    if (this.closed) return;
    this.closed = true;
    this.#closeError = err;
    this.connection._forget(this.id);
    const why = err ?? new AMQPError(504, `CHANNEL_ERROR - channel ${this.id} is closed`);
    for (const [, fns] of this.#unconfirmed) fns[1](why);
    this.#unconfirmed.clear();
    for (const [, reject] of this.#gets.splice(0)) reject(why);
    for (const [, reject] of this.#commits.splice(0)) reject(why);
    for (const consumer of this._consumers.values()) consumer._settle(err);
    this._consumers.clear();
    if (err && notify && this.onerror) {
      try {
        this.onerror(err);
      } catch (e) {
        report(e);
      }
    }
  }
}

export class Connection {
  #core;
  /** open channels, indexed by number */
  _channels = [];
  #closeError = null;

  constructor(core, id, channelMax) {
    this.#core = core;
    this.id = id;
    this.channelMax = channelMax;
    this.closed = false;
    /** set while the broker blocks publishers (connection.blocked reason) */
    this.blocked = undefined;
    this.onblocked = null;
    this.onunblocked = null;
    /** the broker closed this connection */
    this.onerror = null;
  }

  /** Opens a channel on the lowest free number (or `id`). */
  channel(id) {
    const core = this.#core;
    let channel;
    try {
      if (this.closed) throw this.#closeError ?? new AMQPError(504, 'CHANNEL_ERROR - connection is closed');
      // The lowest free number; past channel_max the engine refuses it, as on the wire.
      if (id === undefined) {
        id = 1;
        while (this._channels[id]) id++;
      } else {
        int('channel', 'id', id, 65535);
        if (id === 0) throw new TypeError('channel: id must be from 1 (channel 0 is the connection itself)');
        if (this._channels[id]) throw new TypeError(`channel: channel ${id} is already open`);
      }
      core.wasm.openChannel(core.now(), this.id, id);
      channel = new Channel(core, this, id);
      this._channels[id] = channel;
    } catch (e) {
      const amqp = fromEngine(e);
      if (amqp) this._closed(amqp.err, false);
      core.drain();
      return Promise.reject(amqp ? amqp.err : e);
    }
    core.drain();
    return Promise.resolve(channel);
  }

  close() {
    if (this.closed) return RESOLVED;
    const core = this.#core;
    core.wasm.closeConnection(core.now(), this.id);
    this._closed(null, false);
    core.drain();
    return RESOLVED;
  }

  _forget(id) {
    if (this._channels[id]) this._channels[id] = undefined;
  }

  _blocked(reason) {
    const fn = reason === null ? this.onunblocked : this.onblocked;
    this.blocked = reason ?? undefined;
    try {
      fn?.(reason ?? undefined);
    } catch (e) {
      report(e);
    }
  }

  _closed(err, notify = true) {
    if (this.closed) return;
    this.closed = true;
    this.#closeError = err;
    this.#core.conns.delete(this.id);
    for (const ch of this._channels) ch?._closed(err, false);
    this._channels = [];
    if (err && notify && this.onerror) {
      try {
        this.onerror(err);
      } catch (e) {
        report(e);
      }
    }
  }
}
