// Broker: the public face of one engine instance. Options in, in-process
// connections and accepted transports out; the run loop lives in core.js,
// the group-commit store loop in store-writer.js.
import { decodeProperties, WasmBroker } from '../pkg/warren.js';
import { AcceptedConnection } from './accept.js';
import { Connection } from './client.js';
import { RealClock } from './clock.js';
import { Core } from './core.js';
import { engineReady, loadEngine } from './engine.js';
import { AMQPError, argError, fromEngine } from './errors.js';
import { StoreWriter } from './store-writer.js';

const OPTIONS = ['users', 'vhosts', 'limits', 'store', 'clock', 'consumerTimeout', 'events', 'compactAfterBytes'];
const LIMITS = ['maxMessageSize', 'channelMax', 'frameMax', 'heartbeat', 'maxQueuedBytes'];
const USER = ['password', 'vhosts'];

/** Rejects keys outside `known`: a misspelt option would otherwise be ignored. */
function knownKeys(what, value, known) {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw argError('Broker', `${what} must be an object`, value);
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw new TypeError(`Broker: unknown option '${what}.${key}' (known: ${known.join(', ')})`);
  }
}
const DEFAULT_CHANNEL_MAX = 2047;
// Lets Broker.create hand a store to the constructor, which refuses one otherwise.
const FROM_CREATE = Symbol('from create');

function checkOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw argError('Broker', 'options must be an object', options);
  }
  for (const key of Object.keys(options)) {
    if (!OPTIONS.includes(key)) throw new TypeError(`Broker: unknown option '${key}' (known: ${OPTIONS.join(', ')})`);
  }
  knownKeys('limits', options.limits, LIMITS);
  knownKeys('users', options.users, Object.keys(options.users ?? {}));
  for (const [name, user] of Object.entries(options.users ?? {})) knownKeys(`users.${name}`, user, USER);
  const { store, clock, consumerTimeout, compactAfterBytes } = options;
  if (store !== undefined && store !== 'memory') {
    if (
      typeof store !== 'object' ||
      store === null ||
      typeof store.load !== 'function' ||
      typeof store.append !== 'function'
    ) {
      throw new TypeError("Broker: store must be 'memory' or an object with load() and append(bytes)");
    }
  }
  if (clock !== undefined && (typeof clock?.now !== 'function' || typeof clock?.at !== 'function')) {
    throw new TypeError('Broker: clock must have now() and at(time, fn) (a RealClock or ManualClock)');
  }
  if (consumerTimeout !== undefined && !(consumerTimeout >= 0)) {
    throw argError('Broker', 'consumerTimeout must be a number of ms >= 0', consumerTimeout);
  }
  if (compactAfterBytes !== undefined && !(compactAfterBytes >= 0)) {
    throw argError('Broker', 'compactAfterBytes must be a number >= 0', compactAfterBytes);
  }
}

/** The part of the options the engine reads (src/wasm/options.rs). */
function engineOptions(options, durable) {
  const o = { durable };
  for (const key of ['users', 'vhosts', 'limits', 'consumerTimeout', 'events']) {
    if (options[key] !== undefined) o[key] = options[key];
  }
  return o;
}

export class Broker {
  #core;
  #channelMax;
  #store = null;
  #writer = null;
  #closing = null;
  /** why publishers are blocked: the store's reason (out of space), the caller's (setBlocked) */
  #storeBlocked = null;
  #userBlocked = null;

  /** Loads the engine if needed, recovers from the store, and starts. */
  static async create(options = {}) {
    checkOptions(options);
    await loadEngine();
    const broker = new Broker(options, FROM_CREATE);
    if (broker.#store) await broker.#recover(options.compactAfterBytes);
    return broker;
  }

  /** Only once the engine is loaded (always with the node and worker entries); memory store only. */
  constructor(options = {}, from = undefined) {
    checkOptions(options);
    if (!engineReady()) {
      throw new Error(
        "Broker: the engine is not loaded yet: use `await Broker.create(options)`, or import 'warren-mq/node' in Node",
      );
    }
    const store = options.store === undefined || options.store === 'memory' ? null : options.store;
    if (store && from !== FROM_CREATE) {
      throw new TypeError('Broker: a durable store is loaded first: use `await Broker.create({ store })`');
    }
    this.#store = store;
    /** @type {import('./index.d.ts').Clock} */
    this.clock = options.clock ?? new RealClock();
    /** called when the store fails; nothing more is written after that */
    this.onerror = null;
    /** called with the error when the store runs out of space, with null once it has room again */
    this.onstorefull = null;
    /** why recovery cut the store's log short, if it did (the text of `recovery.damage`) */
    this.recoveryDamage = null;
    /** what recovery read from the store: `{ version, validLength, damage, upgraded }`, or null */
    this.recovery = null;
    const wasm = new WasmBroker(engineOptions(options, store !== null));
    this.#core = new Core(wasm, this.clock, decodeProperties, options.events !== false);
    this.#channelMax = options.limits?.channelMax || DEFAULT_CHANNEL_MAX;
  }

  async #recover(compactAfterBytes) {
    const store = this.#store;
    const core = this.#core;
    const log = await store.load();
    let size = 0;
    if (log && log.length > 0) {
      // Throws StoreLogError for a log it cannot read at all (a newer format):
      // that log is left as it is.
      const { validLength, version, damage = null } = core.wasm.recover(core.now(), log);
      this.recovery = { version, validLength, damage, upgraded: false };
      size = validLength;
      if (damage) this.recoveryDamage = damage.message;
      if (version < WasmBroker.logVersion() && store.compact) {
        // An older format is rewritten at once as a snapshot in the current
        // one (which also drops a damaged tail): a log never mixes versions.
        const snapshot = core.wasm.snapshotLog();
        await store.compact(snapshot);
        size = snapshot.length;
        this.recovery.upgraded = true;
      } else if (damage) {
        // A torn tail (a crash mid-append): cut it, or later appends would
        // sit behind bytes that can never be read.
        if (store.truncate) await store.truncate(validLength);
        else if (store.compact) await store.compact(log.slice(0, validLength));
        else
          throw new Error(
            `store: the log's tail is damaged (${damage.message}) and the store has no truncate() or compact()`,
          );
      }
    }
    // What a snapshot of the recovered state takes: the log is compacted once it passes twice that.
    const live = size > 0 && store.compact && compactAfterBytes === undefined ? core.wasm.snapshotLog().length : size;
    this.#writer = new StoreWriter(store, core, size, compactAfterBytes, WasmBroker.logHeader(), live);
    this.#writer.onerror = (err) => this.#storeFailed(err);
    this.#writer.onfull = (err) => {
      // RabbitMQ's disk alarm: publishers are blocked until a write succeeds again.
      this.#storeBlocked = err
        ? `store full: ${typeof err.code === 'string' ? err.code : (err.name ?? 'error')}`
        : null;
      this.#applyBlocked();
      this.onstorefull?.(err);
    };
    core.afterDrain = () => this.#writer.pump();
    core.drain();
  }

  /**
   * A write that failed for good: what it held is not durable, and nothing
   * written after it could be trusted. Like a RabbitMQ node that loses its
   * disk, the broker closes every connection (320, naming the failure) so no
   * publisher waits for a confirm that cannot come, and stops.
   */
  #storeFailed(err) {
    this.#closing ??= this.#close(`store failed: ${describe(err)}`);
    this.#closing.catch(() => {}); // whoever calls close() sees the outcome
    if (this.onerror) this.onerror(err);
    else console.error('warren: the store failed; the broker closed:', err);
  }

  /** Publishers are blocked for the store's reason first, else for the one set by `setBlocked`. */
  #applyBlocked() {
    if (this.#closing) return;
    const core = this.#core;
    core.wasm.setBlocked(core.now(), this.#storeBlocked ?? this.#userBlocked ?? undefined);
    core.drain();
  }

  #live() {
    if (this.#closing) throw new Error('Broker: closed');
  }

  /** An in-process client connection. */
  connect(options = {}) {
    const core = this.#core;
    let conn;
    try {
      this.#live();
      if (options === null || typeof options !== 'object')
        throw argError('connect', 'options must be an object', options);
      const { vhost = '/', name = 'in-process' } = options;
      if (typeof vhost !== 'string') throw argError('connect', 'vhost must be a string', vhost);
      if (typeof name !== 'string') throw argError('connect', 'name must be a string', name);
      const id = core.wasm.openConnection(core.now(), vhost, name);
      conn = new Connection(core, id, this.#channelMax);
      core.conns.set(id, conn);
    } catch (e) {
      core.drain();
      return Promise.reject(fromEngine(e)?.err ?? e);
    }
    core.drain();
    return Promise.resolve(conn);
  }

  /** Makes a byte transport ({ send(bytes), close() }) an AMQP connection. */
  accept(transport, options = {}) {
    this.#live();
    if (typeof transport?.send !== 'function' || typeof transport?.close !== 'function') {
      throw new TypeError('accept: transport must have send(bytes) and close()');
    }
    const { name = 'transport' } = options ?? {};
    if (typeof name !== 'string') throw argError('accept', 'options.name must be a string', name);
    return new AcceptedConnection(this.#core, transport, name);
  }

  /** Follows the engine's events, delivered in batches; returns the unsubscribe function. */
  subscribe(listener) {
    return this.#core.subscribe(listener);
  }

  /** The whole broker as plain data: cheap enough for every animation frame of a small broker. */
  snapshot() {
    return this.#core.wasm.snapshot();
  }

  /**
   * Bytes the queued messages take, estimated: their bodies plus a fixed
   * overhead per message. Walks every queue: for a periodic check.
   */
  heldBytes() {
    return this.#core.wasm.heldBytes();
  }

  /** Sends connection.blocked (reason) or unblocked (null) to publishers that understand it. */
  setBlocked(reason) {
    this.#live();
    if (reason !== null && typeof reason !== 'string')
      throw argError('setBlocked', 'reason must be a string or null', reason);
    this.#userBlocked = reason;
    this.#applyBlocked();
  }

  /** Closes every connection with 320 CONNECTION_FORCED and flushes the store. */
  close() {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(reason = 'broker shutdown') {
    const core = this.#core;
    const now = core.now();
    const forced = new AMQPError(320, `CONNECTION_FORCED - ${reason}`);
    this.#writer?.giveUp();
    for (const t of [...core.transports.values()]) t.forceClose(reason);
    for (const conn of [...core.conns.values()]) {
      core.wasm.closeConnection(now, conn.id);
      conn._closed(forced);
    }
    core.drain();
    // The peers got connection.close; their transports go now, not after close-ok.
    for (const t of [...core.transports.values()]) {
      t._close();
      core.wasm.transportClosed(now, t.id);
    }
    core.drain();
    try {
      await this.#writer?.flush();
    } catch (e) {
      // A store that failed said so through onerror already.
      if (e !== this.#writer?.failed) throw e;
    } finally {
      core.stop();
      await this.#store?.close?.();
    }
  }
}

/** A store error in a line: Node's messages start with their code (EIO: ...); DOM errors name themselves. */
function describe(err) {
  if (typeof err?.code === 'string') return err.message;
  return err instanceof Error || err?.name ? `${err.name}: ${err.message}` : String(err);
}
