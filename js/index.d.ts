// Public API of warren-mq. The same in every runtime; the entry points
// (`warren-mq`, `warren-mq/node`, `warren-mq/browser`, `warren-mq/worker`)
// differ only in how they load the WebAssembly engine.

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
  /** Returns the bytes of the log written so far (framed records), or null when empty. */
  load(): Promise<Uint8Array | null>;
  /** Appends framed records and resolves once they are durable. Calls never overlap. */
  append(bytes: Uint8Array): Promise<void>;
  /** Replaces the whole log with `bytes` (a compacted snapshot), durably. Optional. */
  compact?(bytes: Uint8Array): Promise<void>;
  /**
   * Keeps only the first `length` bytes: recovery cuts a torn tail with it
   * (or with `compact` when there is no `truncate`). Optional.
   */
  truncate?(length: number): Promise<void>;
  close?(): Promise<void>;
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
  counts: { ready: number; readyBytes: number; unacked: number; delayed: number; consumers: number };
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

/** Any byte transport: a WebSocket, a TCP socket, a MessagePort. */
export interface Transport {
  /** Bytes to write, in order. The array is never reused by the broker. */
  send(bytes: Uint8Array): void;
  /** Close after writing what was sent before. */
  close(): void;
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
}

export class Broker {
  /** Loads the engine if needed, recovers from the store, and starts. */
  static create(options?: BrokerOptions): Promise<Broker>;
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
  /** RabbitMQ's rabbit_password_hashing_sha256 hash of `password` with a random salt. */
  static hashPassword(password: string): string;
  /** Follows the engine's events; returns the unsubscribe function. */
  subscribe(listener: (events: BrokerEvent[]) => void): () => void;
  /** `messages: false`: without each queue's ready messages (cheap with deep queues). */
  snapshot(options?: { messages?: boolean }): Snapshot;
  /** Bytes the queued messages take, estimated (bodies plus a per-message overhead); walks every queue. */
  heldBytes(): number;
  /** Sends connection.blocked (reason) or unblocked (null) to publishers. */
  setBlocked(reason: string | null): void;
  /** Closes every connection with 320 CONNECTION_FORCED and flushes the store. */
  close(): Promise<void>;
  readonly clock: Clock;
  /** Called when the store fails (nothing more is written); default: console.error. */
  onerror: ((err: unknown) => void) | null;
  /** Why recovery cut the store's log short (a torn tail), or null. */
  readonly recoveryDamage: string | null;
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
   * otherwise it resolves at once with 0.
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
   * properties in one call into the engine. On a confirm channel resolves
   * with the last sequence number once all are acked, rejects if any is
   * nacked; otherwise resolves at once with 0.
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
