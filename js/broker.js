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

const OPTIONS = [
  'users',
  'loopbackUsers',
  'vhosts',
  'limits',
  'store',
  'clock',
  'consumerTimeout',
  'events',
  'compactAfterBytes',
];
const LIMITS = ['maxMessageSize', 'channelMax', 'frameMax', 'heartbeat', 'maxQueuedBytes'];
const USER = ['password', 'passwordHash', 'tags', 'vhosts', 'permissions'];

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
  for (const key of ['users', 'loopbackUsers', 'vhosts', 'limits', 'consumerTimeout', 'events']) {
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
    /** why recovery cut the store's log short, if it did */
    this.recoveryDamage = null;
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
      const valid = core.wasm.recover(core.now(), log);
      if (valid < log.length) {
        // A torn tail (a crash mid-append): cut it, or later appends would
        // sit behind bytes that can never be read.
        this.recoveryDamage = WasmBroker.scanDamage(log) ?? 'unreadable tail';
        if (store.truncate) await store.truncate(valid);
        else if (store.compact) await store.compact(log.slice(0, valid));
        else
          throw new Error(
            `store: the log's tail is damaged (${this.recoveryDamage}) and the store has no truncate() or compact()`,
          );
      }
      size = valid;
    }
    this.#writer = new StoreWriter(store, core, size, compactAfterBytes);
    this.#writer.onerror = (err) => this.#storeFailed(err);
    core.afterDrain = () => this.#writer.pump();
    core.drain();
  }

  #storeFailed(err) {
    if (this.onerror) this.onerror(err);
    else console.error('warren: the store failed; persistent messages are no longer confirmed:', err);
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
      const { vhost = '/', name = 'in-process', username = 'guest', password = 'guest' } = options;
      if (typeof vhost !== 'string') throw argError('connect', 'vhost must be a string', vhost);
      if (typeof name !== 'string') throw argError('connect', 'name must be a string', name);
      if (typeof username !== 'string') throw argError('connect', 'username must be a string', username);
      if (typeof password !== 'string') throw argError('connect', 'password must be a string', password);
      const id = core.wasm.openConnection(core.now(), vhost, name, username, password);
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
    const { name = 'transport', loopback, certUser, onClose } = options ?? {};
    if (typeof name !== 'string') throw argError('accept', 'options.name must be a string', name);
    if (loopback !== undefined && typeof loopback !== 'boolean')
      throw argError('accept', 'options.loopback must be a boolean', loopback);
    if (certUser !== undefined && typeof certUser !== 'string')
      throw argError('accept', 'options.certUser must be a string', certUser);
    if (onClose !== undefined && typeof onClose !== 'function')
      throw argError('accept', 'options.onClose must be a function', onClose);
    return new AcceptedConnection(this.#core, transport, name, { loopback, certUser, onClose });
  }

  // ---- users, permissions, vhosts (the engine checks them for every client) ----

  /** Users with tags and permissions: [{ name, tags, passwordHash, hashingAlgorithm, permissions }]. */
  users() {
    return this.#core.wasm.users();
  }

  /** The user's tags if `password` is right (and a loopback-only user comes from this machine), else null. */
  authenticate(username, password, { loopback = false } = {}) {
    if (typeof username !== 'string' || typeof password !== 'string') return null;
    return this.#core.wasm.authenticate(username, password, loopback) ?? null;
  }

  /** Adds or updates a user: { password } or { passwordHash } (rabbit_password_hashing_sha256), tags. */
  putUser(name, { password, passwordHash, tags = [] } = {}) {
    if (typeof name !== 'string' || !name) throw argError('putUser', 'name must be a non-empty string', name);
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
      throw argError('putUser', 'tags must be an array of strings', tags);
    this.#core.wasm.putUser(name, password ?? undefined, passwordHash ?? undefined, tags);
  }

  /** Removes a user; true if it existed. */
  deleteUser(name) {
    return this.#core.wasm.deleteUser(String(name));
  }

  /** Sets a user's configure, write and read regular expressions in a vhost. */
  setPermissions(user, vhost, { configure = '', write = '', read = '' } = {}) {
    for (const [k, v] of Object.entries({ configure, write, read }))
      if (typeof v !== 'string') throw argError('setPermissions', `${k} must be a string`, v);
    this.#core.wasm.setPermission(String(user), String(vhost), configure, write, read);
  }

  /** Removes a user's permissions in a vhost; true if it had some. */
  clearPermissions(user, vhost) {
    return this.#core.wasm.clearPermission(String(user), String(vhost));
  }

  /** Adds a virtual host with its standard exchanges. */
  addVhost(name) {
    this.#core.wasm.addVhost(String(name));
  }

  /** The virtual hosts' names. */
  vhosts() {
    return this.#core.wasm.vhostNames();
  }

  /** RabbitMQ's rabbit_password_hashing_sha256 hash of `password`, with a random salt. */
  static hashPassword(password) {
    if (typeof password !== 'string') throw argError('hashPassword', 'password must be a string', password);
    if (!engineReady()) throw new Error('Broker.hashPassword: the engine is not loaded yet');
    return WasmBroker.hashPassword(password, globalThis.crypto.getRandomValues(new Uint8Array(4)));
  }

  /** Follows the engine's events, delivered in batches; returns the unsubscribe function. */
  subscribe(listener) {
    return this.#core.subscribe(listener);
  }

  /**
   * The whole broker as plain data: cheap enough for every animation frame of
   * a small broker. `{ messages: false }` leaves out each queue's ready
   * messages (`ready: []`), so the cost does not grow with the backlog.
   */
  snapshot(options = {}) {
    return this.#core.wasm.snapshot(options?.messages !== false);
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
    const core = this.#core;
    core.wasm.setBlocked(core.now(), reason ?? undefined);
    core.drain();
  }

  /** Closes every connection with 320 CONNECTION_FORCED and flushes the store. */
  close() {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close() {
    const core = this.#core;
    const now = core.now();
    const forced = new AMQPError(320, 'CONNECTION_FORCED - broker shutdown');
    for (const t of [...core.transports.values()]) t.forceClose('broker shutdown');
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
    } finally {
      core.stop();
      await this.#store?.close?.();
    }
  }
}
