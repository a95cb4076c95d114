// Public API of warren-mq. The same in every runtime; the entry points
// (`warren-mq`, `warren-mq/node`, `warren-mq/browser`, `warren-mq/worker`)
// differ only in how they load the WebAssembly engine.

/** An AMQP error: the reply code and text a client would see. */
export class AMQPError extends Error {
  readonly code: number; // 404, 406, 530 ...
  readonly replyText: string; // "NOT_FOUND - no queue 'q' in vhost '/'"
  readonly classId: number;
  readonly methodId: number;
}

export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | null
  | FieldValue[]
  | { [key: string]: FieldValue };
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

export interface UserEntry {
  password: string;
  /** vhosts the user may open; all when omitted */
  vhosts?: string[];
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
  /** unsent bytes per connection before reading from it pauses (default 16 MiB) */
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
  close?(): Promise<void>;
}

export interface Clock {
  now(): number;
  /** Runs `fn` at time `at` (ms, same scale as now()); returns a cancel function. */
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
  /** users and passwords; default { guest: { password: "guest" } } */
  users?: Record<string, UserEntry>;
  /** vhosts; default ["/"] */
  vhosts?: string[];
  limits?: Limits;
  /** memory (default) or a durable store */
  store?: "memory" | Store;
  /** real time (default) or a ManualClock */
  clock?: Clock;
  /** consumer timeout for every queue without x-consumer-timeout, ms (default none) */
  consumerTimeout?: number;
  /** record engine events for subscribe() (default true) */
  events?: boolean;
}

/** One step in a message's or consumer's life, as the engine reports it. */
export interface BrokerEvent {
  at: number;
  type: string; // "published" | "routed" | "enqueued" | "delivered" | "acked" | ...
  [field: string]: unknown;
}

export interface QueueView {
  vhost: string;
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  ready: number;
  readyBytes: number;
  unacked: number;
  delayed: number;
  consumers: number;
  /** ready messages in delivery order */
  messages: { id: number; deliveries: number }[];
}

export interface Snapshot {
  now: number;
  exchanges: { vhost: string; name: string; type: string; durable: boolean; bindings: { destination: string; routingKey: string }[] }[];
  queues: QueueView[];
  consumers: { queue: string; connection: number; channel: number; tag: string; noAck: boolean; prefetch: number; unacked: number }[];
  channels: { connection: number; channel: number; prefetch: number; globalPrefetch: number; confirm: boolean; tx: boolean; unacked: { tag: number; id: number; queue: string }[] }[];
  connections: { id: number; name: string; user: string; vhost: string }[];
}

/** Any byte transport: a WebSocket, a TCP socket, a MessagePort. */
export interface Transport {
  send(bytes: Uint8Array): void;
  close(): void;
}

export interface AcceptedConnection {
  /** bytes from the peer, any split */
  receive(bytes: Uint8Array): void;
  /** the transport closed: unacked deliveries are requeued */
  closed(): void;
  /** false while this connection's unsent output is over the limit */
  readonly wantsRead: boolean;
}

export class Broker {
  /** Loads the engine if needed, recovers from the store, and starts. */
  static create(options?: BrokerOptions): Promise<Broker>;
  /** Only once the engine is loaded (always in Node and workers); memory store only. */
  constructor(options?: BrokerOptions);
  /** An in-process client connection. */
  connect(options?: { vhost?: string; name?: string }): Promise<Connection>;
  /** Makes a byte transport an AMQP connection. */
  accept(transport: Transport, options?: { name?: string }): AcceptedConnection;
  /** Follows the engine's events; returns the unsubscribe function. */
  subscribe(listener: (events: BrokerEvent[]) => void): () => void;
  snapshot(): Snapshot;
  /** Sends connection.blocked (reason) or unblocked (null) to publishers. */
  setBlocked(reason: string | null): void;
  /** Closes every connection with 320 CONNECTION_FORCED and flushes the store. */
  close(): Promise<void>;
  readonly clock: Clock;
}

export class Connection {
  readonly id: number;
  channel(): Promise<Channel>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface QueueOptions {
  passive?: boolean;
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
}

export interface ExchangeOptions {
  passive?: boolean;
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
}

export interface ConsumeOptions {
  tag?: string;
  noAck?: boolean;
  exclusive?: boolean;
  args?: FieldTable;
}

export class Message {
  readonly body: Uint8Array;
  readonly properties: Properties;
  readonly exchange: string;
  readonly routingKey: string;
  readonly deliveryTag: number;
  readonly redelivered: boolean;
  readonly consumerTag?: string;
  /** for basicGet: messages left in the queue */
  readonly messageCount?: number;
  bodyString(): string;
  ack(multiple?: boolean): Promise<void>;
  nack(requeue?: boolean, multiple?: boolean): Promise<void>;
  reject(requeue?: boolean): Promise<void>;
  /** Pushes this delivery's consumer-timeout deadline to now + ms. */
  extendLease(ms: number): Promise<void>;
}

export class Consumer {
  readonly tag: string;
  readonly channel: Channel;
  cancel(): Promise<void>;
}

export class Channel {
  readonly id: number;
  readonly closed: boolean;
  exchangeDeclare(name: string, type: string, options?: ExchangeOptions, args?: FieldTable): Promise<void>;
  exchangeDelete(name: string, options?: { ifUnused?: boolean }): Promise<void>;
  exchangeBind(destination: string, source: string, routingKey?: string, args?: FieldTable): Promise<void>;
  exchangeUnbind(destination: string, source: string, routingKey?: string, args?: FieldTable): Promise<void>;
  queueDeclare(name?: string, options?: QueueOptions, args?: FieldTable): Promise<{ name: string; messageCount: number; consumerCount: number }>;
  queueDelete(name: string, options?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<{ messageCount: number }>;
  queueBind(queue: string, exchange: string, routingKey?: string, args?: FieldTable): Promise<void>;
  queueUnbind(queue: string, exchange: string, routingKey?: string, args?: FieldTable): Promise<void>;
  queuePurge(name: string): Promise<{ messageCount: number }>;
  /**
   * Publishes. On a confirm channel the promise settles on the broker's
   * confirm (resolves with the sequence number on ack, rejects on nack);
   * otherwise it resolves at once with 0.
   */
  basicPublish(exchange: string, routingKey: string, body: string | Uint8Array | ArrayBuffer | null, properties?: Properties, mandatory?: boolean): Promise<number>;
  basicConsume(queue: string, options: ConsumeOptions, onMessage: (msg: Message) => void): Promise<Consumer>;
  basicCancel(tag: string): Promise<void>;
  basicGet(queue: string, options?: { noAck?: boolean }): Promise<Message | null>;
  basicAck(deliveryTag: number, multiple?: boolean): Promise<void>;
  basicNack(deliveryTag: number, requeue?: boolean, multiple?: boolean): Promise<void>;
  basicReject(deliveryTag: number, requeue?: boolean): Promise<void>;
  basicRecover(requeue?: boolean): Promise<void>;
  basicQos(prefetchCount: number, prefetchSize?: number, global?: boolean): Promise<void>;
  prefetch(count: number): Promise<void>;
  extendLease(deliveryTag: number, ms: number): Promise<void>;
  confirmSelect(): Promise<void>;
  txSelect(): Promise<void>;
  txCommit(): Promise<void>;
  txRollback(): Promise<void>;
  /** mandatory messages that reached no queue */
  onReturn: ((msg: Message & { replyCode: number; replyText: string }) => void) | null;
  close(): Promise<void>;
}

/**
 * A WebSocket stand-in for amqp-client.js's AMQPWebSocketClient (and any
 * code written for the WebSocket API): binary frames go to `broker` in the
 * same page or worker instead of over the network.
 */
export function webSocketFor(broker: Broker): typeof WebSocket;
