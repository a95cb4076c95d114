// Broker: the public face of one engine instance. Options in, in-process
// connections and accepted transports out; the run loop lives in core.js,
// the group-commit store loop in store-writer.js.
import { decodeProperties, WasmBroker } from '../pkg/warren.js';
import { AcceptedConnection } from './accept.js';
import { Connection } from './client.js';
import { RealClock } from './clock.js';
import { Core } from './core.js';
import { readData } from './data.js';
import { engineReady, loadEngine, requireEngine } from './engine.js';
import { exportDefinitions, importDefinitions } from './definitions.js';
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
  'pageBudget',
];
/** A queue's messages in memory before runs of them are paged to a store that keeps pages. */
const DEFAULT_PAGE_BUDGET = 4 * 1024 * 1024;
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
  const { pageBudget } = options;
  if (pageBudget !== undefined && !(pageBudget >= 0 && Number.isFinite(pageBudget))) {
    throw argError('Broker', 'pageBudget must be a number of bytes >= 0', pageBudget);
  }
}

/** The store keeps pages (paged queues): writePage, readPage and deletePage. */
function keepsPages(store) {
  return (
    store !== null &&
    typeof store.writePage === 'function' &&
    typeof store.readPage === 'function' &&
    typeof store.deletePage === 'function'
  );
}

/** The part of the options the engine reads (src/wasm/options.rs). */
function engineOptions(options, store) {
  const o = { durable: store !== null };
  // Without a store that keeps pages, nothing is paged.
  if (keepsPages(store)) o.pageBudget = options.pageBudget ?? DEFAULT_PAGE_BUDGET;
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
  /** why publishers are blocked: the store's reason (out of space), the caller's (setBlocked) */
  #storeBlocked = null;
  #userBlocked = null;
  #plainPasswords;

  /** Loads the engine if needed, recovers from the store, and starts. */
  static async create(options = {}) {
    checkOptions(options);
    await loadEngine();
    const broker = new Broker(options, FROM_CREATE);
    if (broker.#store) await broker.#recover(options.compactAfterBytes);
    return broker;
  }

  /**
   * A broker resumed from an image taken by `suspend()`: every exchange,
   * queue and message (transient too), every AMQP connection accepted
   * through `accept()` with its channels, consumers, unacked deliveries and
   * confirms owed. In-process connections (`connect()`) of the suspended
   * broker are gone, as if their client crashed: their unacked deliveries
   * are requeued. A `store` continues the log the image was taken against.
   */
  static async resume(image, options = {}) {
    checkOptions(options);
    if (!(image instanceof Uint8Array)) throw argError('Broker.resume', 'image must be a Uint8Array', image);
    await loadEngine();
    requireEngine('resume', 'Broker.resume');
    const broker = new Broker(options, FROM_CREATE, image);
    if (broker.#store) {
      // The state is the image's; the log is only continued, not replayed:
      // its size is all that is needed.
      const store = broker.#store;
      const size = store.logSize ? await store.logSize() : ((await store.load())?.length ?? 0);
      await broker.#retainPages();
      broker.#startWriter(size, options.compactAfterBytes);
      // Pages asked for before the sleep are asked for again.
      for (const page of broker.#core.wasm.pagesReading()) broker.#writer.readPage(page);
    }
    return broker;
  }

  /** Only once the engine is loaded (always with the node and worker entries); memory store only. */
  constructor(options = {}, from = undefined, image = undefined) {
    checkOptions(options);
    if (!engineReady()) {
      throw new Error(
        "Broker: the engine is not loaded yet: use `await Broker.create(options)`, or import 'warren-mq/node' in Node",
      );
    }
    const store = options.store === undefined || options.store === 'memory' ? null : options.store;
    if (store) requireEngine('recover', 'Broker: options.store');
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
    const engine = engineOptions(options, store);
    let wasm;
    if (image === undefined) wasm = new WasmBroker(engine);
    else {
      try {
        wasm = WasmBroker.resume(engine, image, this.clock.now());
      } catch (e) {
        throw new Error(`Broker.resume: ${e.message}`);
      }
    }
    this.#core = new Core(wasm, this.clock, (h) => readData(decodeProperties(h)), options.events !== false);
    this.#channelMax = options.limits?.channelMax || DEFAULT_CHANNEL_MAX;
    // Plain passwords given in the options, so that exported definitions hash them.
    this.#plainPasswords = Object.fromEntries(
      Object.entries(options.users ?? { guest: { password: 'guest' } })
        .filter(([, u]) => typeof u.password === 'string')
        .map(([name, u]) => [name, u.password]),
    );
  }

  async #recover(compactAfterBytes) {
    const store = this.#store;
    const core = this.#core;
    const log = await store.load();
    let size = 0;
    if (log && log.length > 0) {
      // Throws StoreLogError for a log it cannot read at all (a newer format):
      // that log is left as it is.
      // After a crash every message comes back flagged redelivered: the
      // record of a delivery may not have been written (Broker::recover_after_crash).
      const clean = store.cleanShutdown === true;
      const { validLength, version, damage = null } = readData(core.wasm.recover(core.now(), log, clean));
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
      } else if (damage || validLength < log.length) {
        // A torn tail (a crash mid-append), or zeros a file store wrote
        // ahead: cut it, or later appends would sit behind bytes that can
        // never be read.
        if (store.truncate) await store.truncate(validLength);
        else if (store.compact) await store.compact(log.slice(0, validLength));
        else
          throw new Error(
            `store: the log's tail is damaged (${damage?.message ?? 'zeros after its last record'}) and the store has no truncate() or compact()`,
          );
      }
    }
    await this.#retainPages();
    this.#startWriter(size, compactAfterBytes);
  }

  /** Pages left by a crash (written, never named in the log) go before new ones are written. */
  async #retainPages() {
    if (keepsPages(this.#store) && this.#store.retainPages) {
      await this.#store.retainPages(Array.from(this.#core.wasm.livePages()));
    }
  }

  #startWriter(logSize, compactAfterBytes) {
    const core = this.#core;
    const store = this.#store;
    // What a snapshot of the live state takes: the log is compacted once it passes twice that.
    const live =
      logSize > 0 && store.compact && compactAfterBytes === undefined ? core.wasm.snapshotLog().length : logSize;
    this.#writer = new StoreWriter(store, core, logSize, compactAfterBytes, WasmBroker.logHeader(), live);
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
    requireEngine('accept', 'Broker.accept');
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
    requireEngine('users', 'Broker.users');
    return readData(this.#core.wasm.users());
  }

  /** The user's tags if `password` is right (and a loopback-only user comes from this machine), else null. */
  authenticate(username, password, { loopback = false } = {}) {
    requireEngine('authenticate', 'Broker.authenticate');
    if (typeof username !== 'string' || typeof password !== 'string') return null;
    return this.#core.wasm.authenticate(username, password, loopback) ?? null;
  }

  /** Adds or updates a user: { password } or { passwordHash } (rabbit_password_hashing_sha256), tags. */
  putUser(name, { password, passwordHash, tags = [] } = {}) {
    requireEngine('putUser', 'Broker.putUser');
    if (typeof name !== 'string' || !name) throw argError('putUser', 'name must be a non-empty string', name);
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
      throw argError('putUser', 'tags must be an array of strings', tags);
    this.#core.wasm.putUser(name, password ?? undefined, passwordHash ?? undefined, tags);
  }

  /** Removes a user; true if it existed. */
  deleteUser(name) {
    requireEngine('deleteUser', 'Broker.deleteUser');
    return this.#core.wasm.deleteUser(String(name));
  }

  /** Sets a user's configure, write and read regular expressions in a vhost. */
  setPermissions(user, vhost, { configure = '', write = '', read = '' } = {}) {
    requireEngine('setPermission', 'Broker.setPermissions');
    for (const [k, v] of Object.entries({ configure, write, read }))
      if (typeof v !== 'string') throw argError('setPermissions', `${k} must be a string`, v);
    this.#core.wasm.setPermission(String(user), String(vhost), configure, write, read);
  }

  /** Removes a user's permissions in a vhost; true if it had some. */
  clearPermissions(user, vhost) {
    requireEngine('clearPermission', 'Broker.clearPermissions');
    return this.#core.wasm.clearPermission(String(user), String(vhost));
  }

  /** Adds a virtual host with its standard exchanges. */
  addVhost(name) {
    requireEngine('addVhost', 'Broker.addVhost');
    this.#core.wasm.addVhost(String(name));
  }

  /** The virtual hosts' names. */
  vhosts() {
    requireEngine('vhostNames', 'Broker.vhosts');
    return this.#core.wasm.vhostNames();
  }

  /**
   * Deletes a virtual host as RabbitMQ does: its connections are closed with
   * 320 CONNECTION_FORCED, its queues (with their messages), exchanges,
   * bindings, policies, limits and every user's permissions on it go, durably.
   * False when there is no such vhost.
   */
  deleteVhost(name) {
    requireEngine('deleteVhost', 'Broker.deleteVhost');
    this.#live();
    if (typeof name !== 'string') throw argError('deleteVhost', 'name must be a string', name);
    const core = this.#core;
    try {
      return core.wasm.deleteVhost(core.now(), name);
    } finally {
      core.drain();
    }
  }

  /**
   * Sets a vhost limit as `rabbitmqctl set_vhost_limits` does: 'max-connections'
   * or 'max-queues' to an integer; null or a negative value removes it. Only new
   * connections and queues are refused; a bad name or value is a TypeError.
   */
  setVhostLimit(vhost, name, value) {
    requireEngine('setVhostLimit', 'Broker.setVhostLimit');
    this.#live();
    if (typeof vhost !== 'string') throw argError('setVhostLimit', 'vhost must be a string', vhost);
    if (typeof name !== 'string') throw argError('setVhostLimit', 'name must be a string', name);
    if (value !== null && !Number.isInteger(value))
      throw argError('setVhostLimit', 'value must be an integer or null', value);
    const core = this.#core;
    core.wasm.setVhostLimit(core.now(), vhost, name, value ?? undefined);
    core.drain();
  }

  /** Vhosts with limits, as RabbitMQ's GET /api/vhost-limits: [{ vhost, value: { 'max-queues': n } }]. */
  vhostLimits() {
    requireEngine('vhostLimits', 'Broker.vhostLimits');
    return readData(this.#core.wasm.vhostLimits());
  }

  /** RabbitMQ's rabbit_password_hashing_sha256 hash of `password`, with a random salt. */
  static hashPassword(password) {
    requireEngine('hashPassword', 'Broker.hashPassword');
    if (typeof password !== 'string') throw argError('hashPassword', 'password must be a string', password);
    if (!engineReady()) throw new Error('Broker.hashPassword: the engine is not loaded yet');
    return WasmBroker.hashPassword(password, globalThis.crypto.getRandomValues(new Uint8Array(4)));
  }

  /**
   * After `Broker.resume`: the ids of the resumed AMQP connections that no
   * transport carries yet.
   */
  get unattached() {
    requireEngine('transportIds', 'Broker.unattached');
    const core = this.#core;
    return core.wasm.transportIds().filter((id) => !core.transports.has(id));
  }

  /**
   * After `Broker.resume`: `transport` carries on the resumed connection `id`
   * (a WebSocket that stayed open while the host slept). The connection goes
   * on where it was: channels, consumers, unacked deliveries, confirms.
   */
  reattach(id, transport, options = {}) {
    requireEngine('transportIds', 'Broker.reattach');
    this.#live();
    if (typeof transport?.send !== 'function' || typeof transport?.close !== 'function') {
      throw new TypeError('reattach: transport must have send(bytes) and close()');
    }
    if (!this.unattached.includes(id)) {
      throw new Error(`reattach: no resumed connection ${id} is waiting for a transport`);
    }
    return new AcceptedConnection(this.#core, transport, 'resumed', { id, onClose: options?.onClose });
  }

  /**
   * After `Broker.resume` and `reattach`: the resumed connections whose
   * transport is gone are closed as a lost transport (unacked deliveries
   * requeued, exclusive queues deleted). Returns how many.
   */
  closeUnattached() {
    requireEngine('transportIds', 'Broker.closeUnattached');
    const core = this.#core;
    const gone = this.unattached;
    for (const id of gone) core.wasm.transportClosed(core.now(), id);
    core.drain();
    return gone.length;
  }

  /** Follows the engine's events, delivered in batches; returns the unsubscribe function. */
  subscribe(listener) {
    return this.#core.subscribe(listener);
  }

  /**
   * Watches the wire of in-process connections: `listener(conn, channel,
   * toClient, frames)` gets the AMQP frames each command and each effect
   * stands for (method, then content header and body), encoded by the
   * engine's codec as an AMQP connection would carry them. Returns the
   * function that stops it; the tap costs an encode per frame while on.
   */
  tapWire(listener) {
    requireEngine('setWireTap', 'Broker.tapWire');
    if (typeof listener !== 'function') throw argError('tapWire', 'listener must be a function', listener);
    const core = this.#core;
    core.wireTaps.add(listener);
    core.wasm.setWireTap(true);
    return () => {
      core.wireTaps.delete(listener);
      if (core.wireTaps.size === 0 && !core.closed) core.wasm.setWireTap(false);
    };
  }

  /**
   * The whole broker as plain data: cheap enough for every animation frame of
   * a small broker. `{ messages: false }` leaves out each queue's ready
   * messages (`ready: []`), so the cost does not grow with the backlog.
   */
  snapshot(options = {}) {
    requireEngine('snapshot', 'Broker.snapshot');
    return readData(this.#core.wasm.snapshot(options?.messages !== false));
  }

  /**
   * Bytes the queued messages take, estimated: their bodies plus a fixed
   * overhead per message. Walks every queue: for a periodic check.
   */
  heldBytes() {
    requireEngine('heldBytes', 'Broker.heldBytes');
    return this.#core.wasm.heldBytes();
  }

  /**
   * Pages of paged queues written to the store and read back since the
   * broker started, with their bytes; all zero without a store that keeps pages.
   */
  pageStats() {
    return { written: 0, writtenBytes: 0, read: 0, readBytes: 0, ...this.#writer?.pageStats };
  }

  /**
   * Adds or replaces a policy (RabbitMQ's: a pattern over queue names, a
   * priority, apply-to, a definition such as { 'max-length': 1000 }); applied
   * to the vhost's existing queues at once. A bad one is a TypeError saying why.
   */
  setPolicy(name, { pattern, definition, priority = 0, applyTo = 'all', vhost = '/' } = {}) {
    requireEngine('setPolicy', 'Broker.setPolicy');
    this.#live();
    if (typeof name !== 'string' || name === '') throw argError('setPolicy', 'name must be a non-empty string', name);
    if (typeof pattern !== 'string') throw argError('setPolicy', 'pattern must be a string', pattern);
    if (definition === null || typeof definition !== 'object' || Array.isArray(definition))
      throw argError('setPolicy', 'definition must be an object', definition);
    if (typeof priority !== 'number') throw argError('setPolicy', 'priority must be an integer', priority);
    if (typeof applyTo !== 'string') throw argError('setPolicy', 'applyTo must be a string', applyTo);
    if (typeof vhost !== 'string') throw argError('setPolicy', 'vhost must be a string', vhost);
    const core = this.#core;
    try {
      core.wasm.setPolicy(core.now(), vhost, name, pattern, applyTo, priority, definition);
    } finally {
      core.drain();
    }
  }

  /** Removes a policy; false when the vhost has none of that name. */
  deletePolicy(name, { vhost = '/' } = {}) {
    requireEngine('deletePolicy', 'Broker.deletePolicy');
    this.#live();
    if (typeof name !== 'string') throw argError('deletePolicy', 'name must be a string', name);
    const core = this.#core;
    const existed = core.wasm.deletePolicy(core.now(), vhost, name);
    core.drain();
    return existed;
  }

  /** Every policy: { vhost, name, pattern, applyTo, priority, definition }. */
  policies() {
    requireEngine('policies', 'Broker.policies');
    return readData(this.#core.wasm.policies());
  }

  /**
   * The broker's definitions in RabbitMQ's JSON format (users with
   * rabbit_password_hashing_sha256 hashes, vhosts, permissions, policies,
   * exchanges, queues, bindings). `version` fills product_version.
   */
  exportDefinitions({ version = '' } = {}) {
    requireEngine('topology', 'Broker.exportDefinitions');
    return exportDefinitions(this, { plain: this.#plainPasswords, version });
  }

  /**
   * Loads definitions in RabbitMQ's format: vhosts, policies, exchanges,
   * queues, bindings. Rejects with a DefinitionsError naming the entry.
   */
  importDefinitions(definitions) {
    requireEngine('setPolicy', 'Broker.importDefinitions');
    this.#live();
    return importDefinitions(this, definitions);
  }

  /** @internal the declared topology, for exportDefinitions and (with exclusive queues) the management API */
  _topology({ exclusive = false } = {}) {
    return readData(this.#core.wasm.topology(exclusive));
  }

  /** @internal adds a vhost, for importDefinitions */
  _addVhost(name) {
    this.#live();
    this.#core.wasm.addVhost(name);
  }

  /** Sends connection.blocked (reason) or unblocked (null) to publishers that understand it. */
  setBlocked(reason) {
    requireEngine('setBlocked', 'Broker.setBlocked');
    this.#live();
    if (reason !== null && typeof reason !== 'string')
      throw argError('setBlocked', 'reason must be a string or null', reason);
    this.#userBlocked = reason;
    this.#applyBlocked();
  }

  /**
   * The whole broker as an image for `Broker.resume`, once every store
   * record emitted so far is durable (so the image and the store agree).
   * The broker goes on running; an image describes it only until its next
   * change, so resume from the latest one, once.
   */
  async suspend() {
    requireEngine('image', 'Broker.suspend');
    this.#live();
    const core = this.#core;
    core.drain();
    await this.#writer?.flush();
    this.#live();
    core.drain();
    // Pages the last drain wrote out must be in the store before an image names them.
    for (let i = 0; this.#writer && !this.#writer.idle && i < 100; i++) {
      await this.#writer.flush();
      this.#live();
      core.drain();
    }
    return core.wasm.image();
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
    let clean = false;
    try {
      await this.#writer?.flush();
      clean = true;
    } catch (e) {
      // A store that failed said so through onerror already.
      if (e !== this.#writer?.failed) throw e;
    } finally {
      core.stop();
      // Not clean when records were left unwritten: the next start must not trust the log's delivery records.
      await this.#store?.close?.({ clean });
    }
  }
}

/** A store error in a line: Node's messages start with their code (EIO: ...); DOM errors name themselves. */
function describe(err) {
  if (typeof err?.code === 'string') return err.message;
  return err instanceof Error || err?.name ? `${err.name}: ${err.message}` : String(err);
}
