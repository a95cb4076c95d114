// warren-mq/browser: the universal API plus the IndexedDB store and servePort.
export * from './index.js';
import type { Broker, BrokerOptions, Store } from './index.js';

/** What servePort listens on: a MessagePort or a worker's global scope. */
export interface PortListener {
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  start?(): void;
}

/**
 * Accepts the AMQP connections that `webSocketFor(worker or port)` opens on
 * the other side of `port` (e.g. `servePort(broker, self)` in a worker): one
 * MessageChannel and one `broker.accept` per connection. Returns a function
 * that stops accepting; open connections stay.
 */
export function servePort(broker: Broker, port: PortListener): () => void;

/**
 * A Store in IndexedDB: each append is one strict-durability transaction,
 * resolved once it completes, so confirms wait for it.
 */
export class IndexedDBStore implements Store {
  /** `name`: the IndexedDB database holding the log (default "warren"). */
  constructor(name?: string);
  load(): Promise<Uint8Array | null>;
  append(bytes: Uint8Array): Promise<void>;
  compact(bytes: Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
  /** Pages of paged queues, in an object store of their own. */
  writePage(id: number, bytes: Uint8Array, options: { sync: boolean }): Promise<void>;
  readPage(id: number): Promise<Uint8Array>;
  deletePage(id: number): Promise<void>;
  retainPages(ids: number[]): Promise<void>;
  /** Pages held. */
  pageCount(): Promise<number>;
  /** Page writes, reads and deletes carried out by this store. */
  readonly pageStats: { writes: number; reads: number; deletes: number };
  close(): Promise<void>;
  /** Deletes the database (the whole log and its pages). */
  static destroy(name?: string): Promise<void>;
}

/** A broker kept across reloads of its page (see `keepAcrossReloads`). */
export interface KeptBroker extends Broker {
  /** This load resumed the broker from the image its page kept. */
  readonly resumedFromImage: boolean;
  /** Why a kept image could not be resumed (the broker was created anew), or null. */
  readonly keptImageError: Error | null;
  /** Takes an image now, as hiding the page does; resolves once it is in IndexedDB. */
  keepImage(): Promise<void>;
}

/**
 * `Broker.resume` from the image kept in IndexedDB under `name`, or
 * `Broker.create(options)` when there is none; from then on an image of the
 * whole broker is kept whenever the page is hidden, so a reload finds its
 * queues and messages (transient ones too) again. In-process connections die
 * with the page: their unacked deliveries come back redelivered. With an
 * `IndexedDBStore` as `options.store`, queues past `options.pageBudget` page
 * to it, and the image names their pages: a reload reads none until a
 * consumer needs it.
 */
export function keepAcrossReloads(name: string, options?: BrokerOptions): Promise<KeptBroker>;
