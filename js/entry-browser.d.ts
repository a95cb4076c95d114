// warren-mq/browser: the universal API plus the IndexedDB store.
export * from './index.js';
import type { Store } from './index.js';

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
  close(): Promise<void>;
  /** Deletes the database (the whole log). */
  static destroy(name?: string): Promise<void>;
}
