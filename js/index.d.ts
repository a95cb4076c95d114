// Public API of warren-mq. The same in every runtime; the entry points
// (`warren-mq`, `warren-mq/node`, `warren-mq/browser`, `warren-mq/worker`)
// differ only in how they load the WebAssembly engine. `warren-mq/lite`
// (lite.d.ts) is this API on a smaller engine, without some Broker methods.

/** An AMQP error: the reply code and text a client would see. */
export class AMQPError extends Error {
  constructor(code: number, replyText: string, classId?: number, methodId?: number);
  readonly code: number; // 404, 406, 530 ... (0 for a nack or a broker-side cancel)
  readonly replyText: string; // "NOT_FOUND - no queue 'q' in vhost '/'"
  readonly classId: number;
  readonly methodId: number;
}

export type FieldValue =
  boolean | number | bigint | string | Uint8Array | Date | null | FieldValue[] | { [key: string]: FieldValue };
export type FieldTable = { [key: string]: FieldValue };

export interface Properties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  deliveryMode?: 1 | 2;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  timestamp?: Date;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/** A user's configure, write and read regular expressions in one vhost (RabbitMQ's rules). */
export interface Permission {
  configure: string;
  write: string;
  read: string;
}

export interface UserEntry {
  /** a plain password; or */
  password?: string;
  /** RabbitMQ's rabbit_password_hashing_sha256 hash (base64 of salt ++ SHA-256(salt ++ password)); neither: EXTERNAL only */
  passwordHash?: string;
  /** administrator, management, monitoring, policymaker, impersonator, ...; default ["administrator"] */
  tags?: string[];
  /** per vhost; wins over `vhosts` */
  permissions?: Record<string, Permission>;
  /** every permission on these vhosts; all configured vhosts when neither this nor `permissions` is given */
  vhosts?: string[];
}

/** A user as `Broker.users()` lists it. */
export interface UserInfo {
  name: string;
  tags: string[];
  /** base64, "" for a plain password */
  passwordHash: string;
  hashingAlgorithm: 'rabbit_password_hashing_sha256';
  permissions: (Permission & { vhost: string })[];
}

/** A close the server made: `connection.close`/`channel.close` sent, or (code 0) a dropped transport. */
export interface CloseReport {
  scope: 'connection' | 'channel';
  channel: number;
  code: number;
  text: string;
  classId: number;
  methodId: number;
}

export interface Limits {
  /** largest message body accepted, bytes (default 128 MiB) */
  maxMessageSize?: number;
  /** highest channel number a connection may open (default 2047) */
  channelMax?: number;
  /** frame size offered to clients (default 131072) */
  frameMax?: number;
  /** heartbeat offered to clients, seconds (default 60; 0 disables) */
  heartbeat?: number;
  /** unsent bytes per connection before reading from it pauses (default 4 MiB) */
  maxQueuedBytes?: number;
}

/** A store keeps the engine's records (durable topology, persistent messages). */
export interface Store {
  /** Returns the bytes of the log written so far (a header, then framed records), or null when empty. */
  load(): Promise<Uint8Array | null>;
  /**
   * The log's size in bytes. Optional: a broker resumed from an image only
   * continues the log, so a store that knows its size without reading the
   * log saves that read (else `load()` is called).
   */
  logSize?(): Promise<number>;
  /**
   * Appends bytes of the log (the first append to an empty log starts with its
   * header) and resolves once they are durable. Calls never overlap. A
   * rejection with `err.retryable` (out of space) promises the log is as it
   * was before the call: the same bytes are appended again later; any other
   * rejection stops the broker.
   */
  append(bytes: Uint8Array): Promise<void>;
  /** Replaces the whole log with `bytes` (a compacted snapshot), durably. Optional. */
  compact?(bytes: Uint8Array): Promise<void>;
  /**
   * Keeps only the first `length` bytes: recovery cuts a torn tail with it
   * (or with `compact` when there is no `truncate`). Optional.
   */
  truncate?(length: number): Promise<void>;
  /**
   * Called by `broker.close()`; `clean` is false when some records could not
   * be written. A store that remembers it says so in `cleanShutdown`.
   */
  close?(options?: { clean: boolean }): Promise<void>;
  /**
   * Read after `load()`: true if the broker before closed the store cleanly,
   * so the log's delivery records are complete. Otherwise (or when absent),
   * recovery treats the log as left by a crash and every recovered message
   * comes back flagged redelivered, as RabbitMQ's classic queues do.
   */
  readonly cleanShutdown?: boolean;
  /**
   * Pages of paged queues (optional, all three or none; without them nothing
   * is paged). `writePage` resolves once the page is stored, durably when
   * `sync`; a rejection with `err.retryable` (out of space) is retried.
   */
  writePage?(id: number, bytes: Uint8Array, options: { sync: boolean }): Promise<void>;
  /** The bytes given to `writePage(id, ...)`. */
  readPage?(id: number): Promise<Uint8Array>;
  /** The page is no longer needed. */
  deletePage?(id: number): Promise<void>;
  /** After a restart: deletes every page but `ids` (pages a crash left behind). Optional. */
  retainPages?(ids: number[]): Promise<void>;
}

/**
 * What recovery read from a store's log. The log starts with a header naming
 * its format (magic and version, see src/storage/log.rs); a log without one is
 * version 0, and is rewritten in the current format at once when the store has
 * `compact()` (`upgraded`). A log of a newer version makes `Broker.create`
 * reject with an Error named `StoreLogError`, leaving the log untouched.
 */
export interface StoreRecovery {
  /** the format version read */
  version: number;
  /** bytes holding the header and whole, valid records: the rest was cut */
  validLength: number;
  /** why the scan stopped early, where the damaged bytes start, or null */
  damage: {
    kind: 'truncated-header' | 'truncated-frame-header' | 'truncated-record' | 'checksum-mismatch' | 'bad-record';
    offset: number;
    message: string;
  } | null;
  /** whether the log was rewritten in the current format */
  upgraded: boolean;
}

export interface Clock {
  now(): number;
  /** Runs `fn` at time `at` (ms, same scale as now()); returns a cancel function. */
  at(at: number, fn: () => void): () => void;
}

/** Wall-clock time (ms since the epoch) and setTimeout: the default. */
export class RealClock implements Clock {
  now(): number;
  at(at: number, fn: () => void): () => void;
}

/** A clock that moves only when told: for tests and the tutorial's time controls. */
export class ManualClock implements Clock {
  constructor(start?: number);
  now(): number;
  at(at: number, fn: () => void): () => void;
  /** Moves time forward by `ms`, running what falls due, in order. */
  advance(ms: number): void;
  set(now: number): void;
}

export interface BrokerOptions {
  /** users, their tags and permissions; default { guest: { password: "guest" } } (administrator, all on "/") */
  users?: Record<string, UserEntry>;
  /** users who may log in only from this machine (RabbitMQ's loopback_users); default ["guest"] */
  loopbackUsers?: string[];
  /** vhosts; default ["/"] */
  vhosts?: string[];
  limits?: Limits;
  /** memory (default) or a durable store */
  store?: 'memory' | Store;
  /** real time (default) or a ManualClock */
  clock?: Clock;
  /** consumer timeout for every queue without x-consumer-timeout, ms (default none) */
  consumerTimeout?: number;
  /** record engine events for subscribe() (default true) */
  events?: boolean;
  /**
   * Compact the store's log (replace it with a snapshot of the durable
   * state) once it holds more than this many bytes (default: 8 MiB or twice
   * the last snapshot, whichever is more). Needs `Store.compact`.
   */
  compactAfterBytes?: number;
  /**
   * Bytes a queue's messages may take in memory (bodies and about 96 bytes
   * each) before runs of them are paged to the store (default 4 MiB). Needs
   * a store with `writePage`, `readPage` and `deletePage`; others page nothing.
   */
  pageBudget?: number;
}

/** One step in a message's or consumer's life, as the engine reports it. */
export interface BrokerEvent {
  at: number;
  type: string; // "published" | "routed" | "enqueued" | "delivered" | "acked" | ...
  [field: string]: unknown;
}

/** A channel: the engine's connection id and the channel number. */
export interface ChannelRef {
  conn: number;
  channel: number;
}

export interface QueueView {
  vhost: string;
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  /**
   * `paged`: ready messages in pages on the store (counted in `ready`), in
   * `pages` pages; `memory`: bytes the others take in memory
   */
  counts: {
    ready: number;
    readyBytes: number;
    paged: number;
    memory: number;
    pages: number;
    unacked: number;
    delayed: number;
    consumers: number;
  };
  /** the policy in force, when one matches */
  policy?: string;
  /** ready messages in delivery order: [message id, earlier deliveries] */
  ready: [id: number, deliveries: number][];
}

/** The broker as plain data, as the engine reports it (`Broker.snapshot()`). */
export interface Snapshot {
  nowMs: number;
  exchanges: {
    vhost: string;
    name: string;
    kind: string;
    durable: boolean;
    /** [destination, routing key] */
    bindings: [destination: string, routingKey: string][];
  }[];
  queues: QueueView[];
  consumers: { queue: string; channel: ChannelRef; tag: string; noAck: boolean; prefetch: number; unacked: number }[];
  channels: {
    channel: ChannelRef;
    prefetch: number;
    globalPrefetch: number;
    confirm: boolean;
    tx: boolean;
    /** [delivery tag, message id, queue] of each unacked delivery */
    unacked: [tag: number, id: number, queue: string][];
  }[];
  /** open connections: AMQP transports and in-process clients */
  connections: { id: number; name: string; user: string; vhost: string; channels: number }[];
}

/** A policy as RabbitMQ has it: the highest-priority match applies to a queue. */
export interface PolicyOptions {
  /** a regular expression over queue (or exchange) names */
  pattern: string;
  definition: Record<string, string | number>;
  /** default 0; the highest wins */
  priority?: number;
  /** default 'all' */
  applyTo?: 'all' | 'queues' | 'exchanges' | 'classic_queues' | 'quorum_queues' | 'streams';
  /** default '/' */
  vhost?: string;
}

export interface PolicyView {
  vhost: string;
  name: string;
  pattern: string;
  applyTo: 'all' | 'queues' | 'exchanges' | 'classic_queues' | 'quorum_queues' | 'streams';
  priority: number;
  definition: Record<string, string | number>;
}

/** RabbitMQ's definitions.json (the sections Warren reads and writes). */
export interface Definitions {
  product_name?: string;
  product_version?: string;
  users?: { name: string; password_hash?: string; hashing_algorithm?: string; tags?: string[] }[];
  vhosts?: { name: string }[];
  permissions?: { user: string; vhost: string; configure: string; write: string; read: string }[];
  policies?: {
    vhost: string;
    name: string;
    pattern: string;
    'apply-to'?: string;
    definition: Record<string, string | number>;
    priority?: number;
  }[];
  queues?: { name: string; vhost: string; durable?: boolean; auto_delete?: boolean; arguments?: object }[];
  exchanges?: {
    name: string;
    vhost: string;
    type: string;
    durable?: boolean;
    auto_delete?: boolean;
    internal?: boolean;
    arguments?: object;
  }[];
  bindings?: {
    source: string;
    vhost: string;
    destination: string;
    destination_type: 'queue' | 'exchange';
    routing_key?: string;
    arguments?: object;
  }[];
  [section: string]: unknown;
}

/** A definitions file or object that does not have RabbitMQ's shape. */
export class DefinitionsError extends Error {
  /** where: `queues[3].durable`, or `line 4, column 7 (offset 52)` for JSON syntax */
  path: string;
}

/** Parses definitions JSON; a syntax error is a DefinitionsError with line and column. */
export function parseDefinitions(text: string): Definitions;

/** Any byte transport: a WebSocket, a TCP socket, a MessagePort. */
export interface Transport {
  /**
   * Bytes to write, in order. The array is never reused by the broker. While
   * `bufferedAmount` is 0 it may be a view into a larger buffer that other
   * sends share: a transport that hands `bytes.buffer` on (a transfer to a
   * worker) copies them first.
   */
  send(bytes: Uint8Array): void;
  /**
   * Close after writing what was sent before. `clientCloses`: the client asked
   * to close and was sent close-ok, so it closes its end next (AMQP 0-9-1: the
   * recipient of close-ok closes the socket); a stream transport may wait for
   * that, not for long, before closing its own.
   */
  close(options?: { clientCloses: boolean }): void;
  /**
   * For a transport that gathers sends into larger writes: what was sent so
   * far must go out now, apart from what follows (basic.consume-ok ahead of
   * the first deliveries). Transports that write each send at once omit it.
   */
  flush?(): void;
  /** Bytes the transport still holds unsent (read after each send and on drained()). */
  readonly bufferedAmount?: number;
}

export interface AcceptedConnection {
  /** bytes from the peer, any split */
  receive(bytes: Uint8Array): void;
  /** the transport closed: unacked deliveries are requeued */
  closed(): void;
  /** the transport sent what it held (re-reads its bufferedAmount) */
  drained(): void;
  /** false while this connection's unsent output is over the limit: stop reading until true */
  readonly wantsRead: boolean;
  /** Closes from the broker's side (320 CONNECTION_FORCED, then the transport). */
  forceClose(reason?: string): void;
  readonly id: number;
  /** The engine's id of this connection (the `conn` of events and snapshots) once it is open; null before. */
  readonly engineId: number | null;
}

export class Broker {
  /** Loads the engine if needed, recovers from the store, and starts. */
  static create(options?: BrokerOptions): Promise<Broker>;
  /**
   * A broker resumed from an image taken by `suspend()`: exchanges, queues and
   * messages (transient too), and every connection accepted through `accept()`
   * with its channels, consumers, unacked deliveries and confirms owed (the
   * host re-attaches its transports by `AcceptedConnection.id`; see the
   * Durable Object host). In-process connections of the suspended broker are
   * gone: their unacked deliveries are requeued. A damaged image, or one from
   * another format version, is refused with an Error saying why; fall back to
   * `Broker.create({ store })`.
   */
  static resume(image: Uint8Array, options?: BrokerOptions): Promise<Broker>;
  /**
   * Waits until every store record so far is durable, then returns the whole
   * broker as an image for `Broker.resume`. The broker keeps running: the image
   * holds only until its next change.
   */
  suspend(): Promise<Uint8Array>;
  /** After `resume`: ids of resumed AMQP connections no transport carries yet. */
  readonly unattached: number[];
  /** After `resume`: `transport` carries on resumed connection `id` (channels, consumers, unacked deliveries, confirms). */
  reattach(id: number, transport: Transport): AcceptedConnection;
  /** After `resume` and `reattach`: closes the rest as lost transports (deliveries requeued); returns how many. */
  closeUnattached(): number;
  /** Only once the engine is loaded (always in Node and workers); memory store only. */
  constructor(options?: BrokerOptions);
  /** An in-process client connection, logged in as `username` (default guest/guest) and held to its permissions. */
  connect(options?: { vhost?: string; name?: string; username?: string; password?: string }): Promise<Connection>;
  /**
   * Makes a byte transport an AMQP connection. `loopback`: the peer is on
   * this machine (default: judged from a `name` like "127.0.0.1:5000");
   * `certUser`: the CN of a client certificate the host verified (offers
   * EXTERNAL); `onClose`: told of every close the server makes.
   */
  accept(
    transport: Transport,
    options?: { name?: string; loopback?: boolean; certUser?: string; onClose?: (report: CloseReport) => void },
  ): AcceptedConnection;
  /** Users with tags and permissions (what access control checks). */
  users(): UserInfo[];
  /** The user's tags if the password is right (and a loopback-only user is local), else null. */
  authenticate(username: string, password: string, options?: { loopback?: boolean }): string[] | null;
  /** Adds or updates a user; an existing user keeps its permissions. */
  putUser(name: string, user: { password?: string; passwordHash?: string; tags?: string[] }): void;
  deleteUser(name: string): boolean;
  setPermissions(user: string, vhost: string, permission: Permission): void;
  clearPermissions(user: string, vhost: string): boolean;
  addVhost(name: string): void;
  vhosts(): string[];
  /**
   * Deletes a vhost as RabbitMQ does: its connections closed with 320, its
   * queues, messages, exchanges, policies, limits and permissions gone, durably.
   */
  deleteVhost(name: string): boolean;
  /** 'max-connections' or 'max-queues'; null or negative removes the limit. */
  setVhostLimit(vhost: string, name: 'max-connections' | 'max-queues', value: number | null): void;
  /** As RabbitMQ's GET /api/vhost-limits. */
  vhostLimits(): { vhost: string; value: { 'max-connections'?: number; 'max-queues'?: number } }[];
  /** RabbitMQ's rabbit_password_hashing_sha256 hash of `password` with a random salt. */
  static hashPassword(password: string): string;
  /** Follows the engine's events; returns the unsubscribe function. */
  subscribe(listener: (events: BrokerEvent[]) => void): () => void;
  /**
   * Watches in-process connections' AMQP frames (method, content header, body), encoded by the
   * engine's codec: `toClient` is false for a command, true for what the broker sends. Returns the stop function.
   */
  tapWire(listener: (conn: number, channel: number, toClient: boolean, frames: Uint8Array) => void): () => void;
  /** `messages: false`: without each queue's ready messages (cheap with deep queues). */
  snapshot(options?: { messages?: boolean }): Snapshot;
  /** Bytes the queued messages take, estimated (bodies plus a per-message overhead); walks every queue. */
  heldBytes(): number;
  /** Pages of paged queues written to the store and read back since the broker started, and their bytes. */
  pageStats(): { written: number; writtenBytes: number; read: number; readBytes: number };
  /** Sends connection.blocked (reason) or unblocked (null) to publishers. */
  setBlocked(reason: string | null): void;
  /**
   * Adds or replaces a policy, applied to existing queues at once. Keys:
   * message-ttl, expires, max-length, max-length-bytes, overflow,
   * dead-letter-exchange, dead-letter-routing-key, delivery-limit,
   * consumer-timeout. Throws a TypeError saying what is wrong.
   */
  setPolicy(name: string, policy: PolicyOptions): void;
  /** Removes a policy; false when there was none of that name. */
  deletePolicy(name: string, options?: { vhost?: string }): boolean;
  /** Every policy, by vhost then name. */
  policies(): PolicyView[];
  /** Definitions in RabbitMQ's JSON format (GET /api/definitions). */
  exportDefinitions(options?: { version?: string }): Promise<Definitions>;
  /**
   * Loads definitions in RabbitMQ's JSON format (users with their password
   * hashes and permissions, vhosts, policies, exchanges, queues, bindings).
   * Rejects with a DefinitionsError whose `path` names the entry at fault.
   */
  importDefinitions(definitions: Definitions): Promise<{
    users: number;
    vhosts: number;
    limits: number;
    policies: number;
    exchanges: number;
    queues: number;
    bindings: number;
  }>;
  /** Closes every connection with 320 CONNECTION_FORCED and flushes the store. */
  close(): Promise<void>;
  readonly clock: Clock;
  /**
   * Called when the store fails for good (nothing more is written): the broker
   * has closed every connection with 320 naming the failure, and stops.
   * Default: console.error.
   */
  onerror: ((err: unknown) => void) | null;
  /**
   * Called when the store runs out of space (a write rejected with
   * `err.retryable`: publishers get connection.blocked, confirms wait, the
   * write is retried), and with null once a write succeeds again.
   */
  onstorefull: ((err: Error | null) => void) | null;
  /** Why recovery cut the store's log short (a torn tail), or null. */
  readonly recoveryDamage: string | null;
  /** What recovery read from the store (null without a store or with an empty log). */
  readonly recovery: StoreRecovery | null;
}

export class Connection {
  readonly id: number;
  readonly channelMax: number;
  /** Opens a channel on the lowest free number, or on `id`. */
  channel(id?: number): Promise<Channel>;
  close(): Promise<void>;
  readonly closed: boolean;
  /** set while the broker blocks publishers: the reason */
  readonly blocked: string | undefined;
  onblocked: ((reason: string) => void) | null;
  onunblocked: (() => void) | null;
  /** The broker closed this connection. */
  onerror: ((err: AMQPError) => void) | null;
}

/** Defaults as in amqp-client.js: a named queue is durable; a server-named one exclusive and auto-delete. */
export interface QueueOptions {
  passive?: boolean;
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
}

/** Defaults as in amqp-client.js: durable. */
export interface ExchangeOptions {
  passive?: boolean;
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
}

export interface ConsumeOptions {
  /** default: a tag the broker generates */
  tag?: string;
  /** default true, as in amqp-client.js: pass false to acknowledge messages */
  noAck?: boolean;
  exclusive?: boolean;
  args?: FieldTable;
}

export class Message {
  readonly channel: Channel;
  /** a view into the drained output: copy it to keep it apart from other messages' bytes */
  readonly body: Uint8Array;
  readonly properties: Properties;
  readonly exchange: string;
  readonly routingKey: string;
  readonly deliveryTag: number;
  readonly redelivered: boolean;
  readonly consumerTag?: string;
  /** for basicGet: messages left in the queue */
  readonly messageCount?: number;
  /** for returned messages */
  readonly replyCode?: number;
  readonly replyText?: string;
  bodyString(): string;
  bodyToString(): string;
  ack(multiple?: boolean): Promise<void>;
  /** defaults as in amqp-client.js: requeue false */
  nack(requeue?: boolean, multiple?: boolean): Promise<void>;
  reject(requeue?: boolean): Promise<void>;
  /** Pushes this delivery's consumer-timeout deadline to now + ms. */
  extendLease(ms: number): Promise<void>;
}

export class Consumer {
  readonly tag: string;
  readonly channel: Channel;
  cancel(): Promise<void>;
  /**
   * Resolves when the client cancels the consumer; rejects with an AMQPError
   * when the broker cancels it or its channel closes, or with an Error after
   * `timeout` ms.
   */
  wait(timeout?: number): Promise<void>;
}

export class Channel {
  readonly id: number;
  readonly connection: Connection;
  readonly closed: boolean;
  exchangeDeclare(name: string, type: string, options?: ExchangeOptions, args?: FieldTable): Promise<void>;
  exchangeDelete(name: string, options?: { ifUnused?: boolean }): Promise<void>;
  exchangeBind(destination: string, source: string, routingKey?: string, args?: FieldTable): Promise<void>;
  exchangeUnbind(destination: string, source: string, routingKey?: string, args?: FieldTable): Promise<void>;
  queueDeclare(
    name?: string,
    options?: QueueOptions,
    args?: FieldTable,
  ): Promise<{ name: string; messageCount: number; consumerCount: number }>;
  queueDelete(name: string, options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<{ messageCount: number }>;
  queueBind(queue: string, exchange: string, routingKey?: string, args?: FieldTable): Promise<void>;
  queueUnbind(queue: string, exchange: string, routingKey?: string, args?: FieldTable): Promise<void>;
  queuePurge(name: string): Promise<{ messageCount: number }>;
  /**
   * Publishes. On a confirm channel the promise settles on the broker's
   * confirm (resolves with the sequence number on ack, rejects on nack);
   * otherwise it resolves with 0. Publishes without properties, and acks,
   * are queued and run in one call into the engine per batch (in a
   * microtask, or before any other call); their promise is shared by the
   * channel's commands in the batch and rejects with the error if one of
   * them closed the channel.
   */
  basicPublish(
    exchange: string,
    routingKey: string,
    body: string | Uint8Array | ArrayBuffer | null,
    properties?: Properties,
    mandatory?: boolean,
  ): Promise<number>;
  /**
   * Publishes many bodies to one exchange and routing key with the same
   * properties, as basicPublish each. On a confirm channel resolves with
   * the last sequence number once all are acked, rejects if any is nacked;
   * otherwise resolves with 0 once the batch has run.
   */
  basicPublishBatch(
    exchange: string,
    routingKey: string,
    bodies: (string | Uint8Array | ArrayBuffer | null)[],
    properties?: Properties,
    mandatory?: boolean,
  ): Promise<number>;
  basicConsume(queue: string, options: ConsumeOptions, onMessage: (msg: Message) => void): Promise<Consumer>;
  basicCancel(tag: string): Promise<void>;
  /** `noAck` defaults to true, as in amqp-client.js */
  basicGet(queue: string, options?: { noAck?: boolean }): Promise<Message | null>;
  basicAck(deliveryTag: number, multiple?: boolean): Promise<void>;
  basicNack(deliveryTag: number, requeue?: boolean, multiple?: boolean): Promise<void>;
  basicReject(deliveryTag: number, requeue?: boolean): Promise<void>;
  basicRecover(requeue?: boolean): Promise<void>;
  basicQos(prefetchCount: number, prefetchSize?: number, global?: boolean): Promise<void>;
  prefetch(count: number): Promise<void>;
  basicFlow(active?: boolean): Promise<boolean>;
  extendLease(deliveryTag: number, ms: number): Promise<void>;
  confirmSelect(): Promise<void>;
  txSelect(): Promise<void>;
  /** Resolves once the commit is applied and what it stored (persistent messages in durable queues) is durable. */
  txCommit(): Promise<void>;
  txRollback(): Promise<void>;
  /** mandatory messages that reached no queue */
  onReturn: ((msg: Message & { replyCode: number; replyText: string }) => void) | null;
  /** The broker closed this channel (a soft error); the error is also what later calls reject with. */
  onerror: ((err: AMQPError) => void) | null;
  close(): Promise<void>;
}

/** A Store kept in memory: survives a new Broker in the same process, not the process. */
export class MemoryStore implements Store {
  readonly size: number;
  readonly cleanShutdown: boolean;
  close(options?: { clean: boolean }): Promise<void>;
  load(): Promise<Uint8Array | null>;
  append(bytes: Uint8Array): Promise<void>;
  compact(bytes: Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
}

/**
 * Loads the engine: by default fetches warren_bg.wasm next to the glue;
 * pass a URL, a Response, bytes or a WebAssembly.Module to load it from
 * elsewhere. `Broker.create` calls it.
 */
export function loadEngine(
  moduleOrPath?: string | URL | ArrayBuffer | Uint8Array | WebAssembly.Module | PromiseLike<unknown>,
): Promise<void>;

/** What the WebSocket stand-in implements of the WebSocket API. */
export interface BrokerWebSocket extends EventTarget {
  readonly url: string;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly bufferedAmount: number;
  readonly protocol: string;
  readonly extensions: string;
  binaryType: 'blob' | 'arraybuffer';
  onopen: ((ev: Event) => void) | null;
  /** `ev.data`: an ArrayBuffer (binaryType "arraybuffer") or a Blob */
  onmessage: ((ev: Event & { data: unknown }) => void) | null;
  onclose: ((ev: Event & { code: number; reason: string; wasClean: boolean }) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: ArrayBuffer | ArrayBufferView | string): void;
  close(code?: number, reason?: string): void;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

export interface BrokerWebSocketConstructor {
  new (url: string | URL, protocols?: string | string[]): BrokerWebSocket;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

/**
 * Where a port stand-in connects: a Worker or a MessagePort (anything with
 * `postMessage(message, transfer)`) whose other side runs `servePort` from
 * `warren-mq/browser`.
 */
export interface PortTarget {
  postMessage(message: unknown, transfer: Transferable[]): void;
}

/**
 * A WebSocket stand-in for amqp-client.js's AMQPWebSocketClient (and any
 * code written for the WebSocket API): binary frames go to `broker` in the
 * same page or worker instead of over the network, or, given a Worker or a
 * MessagePort, to the broker serving it (each socket gets its own
 * MessageChannel). Install it where the client looks for WebSocket, e.g.
 * `globalThis.WebSocket = webSocketFor(broker)`.
 */
export function webSocketFor(target: Broker | PortTarget): BrokerWebSocketConstructor;
