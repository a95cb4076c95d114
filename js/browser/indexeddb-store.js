// A Store in IndexedDB, for browsers: the log is a series of chunks in one
// object store, keyed in append order. Each append is one readwrite
// transaction with strict durability, resolved on `complete` (after the
// browser has flushed it), so confirms wait for it. The bytes are opaque here:
// the log's format header (src/storage/log.rs) opens the first chunk. A
// transaction that fails writes nothing and rejects its append. Out of quota
// (QuotaExceededError) the rejection is marked `retryable`: the broker blocks
// publishers and holds confirms, and writes the same bytes again until the
// origin has room (js/store-writer.js). Any other failure (an abort, an
// error) makes the broker close every connection naming it, so no confirm
// goes out for what it held (js/broker.js).

const CHUNKS = 'chunks';

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  }).catch((e) => {
    // Nothing of the transaction was written: the same bytes may be tried again.
    if (e?.name === 'QuotaExceededError') e.retryable = true;
    throw e;
  });
}

function concat(chunks) {
  let size = 0;
  for (const c of chunks) size += c.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(new Uint8Array(c.buffer ?? c, c.byteOffset ?? 0, c.byteLength), at);
    at += c.byteLength;
  }
  return out;
}

export class IndexedDBStore {
  #name;
  #db = null;

  /** `name`: the IndexedDB database holding this broker's log. */
  constructor(name = 'warren') {
    if (typeof name !== 'string' || name === '') throw new TypeError('IndexedDBStore: name must be a non-empty string');
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDBStore: indexedDB is not available here');
    this.#name = name;
  }

  async #open() {
    if (this.#db) return this.#db;
    const req = indexedDB.open(this.#name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(CHUNKS, { autoIncrement: true });
    this.#db = await request(req);
    return this.#db;
  }

  async #tx(mode) {
    const db = await this.#open();
    return db.transaction(CHUNKS, mode, { durability: 'strict' });
  }

  async load() {
    const tx = await this.#tx('readonly');
    const chunks = await request(tx.objectStore(CHUNKS).getAll());
    return chunks.length === 0 ? null : concat(chunks);
  }

  async append(bytes) {
    const tx = await this.#tx('readwrite');
    tx.objectStore(CHUNKS).add(bytes.slice());
    await done(tx);
  }

  /** Replaces the log with `bytes`, in one transaction. */
  async compact(bytes) {
    const tx = await this.#tx('readwrite');
    const chunks = tx.objectStore(CHUNKS);
    chunks.clear();
    chunks.add(bytes.slice());
    await done(tx);
  }

  /** Keeps the first `length` bytes of the log. */
  async truncate(length) {
    const tx = await this.#tx('readwrite');
    const chunks = tx.objectStore(CHUNKS);
    const all = concat(await request(chunks.getAll()));
    chunks.clear();
    if (length > 0) chunks.add(all.slice(0, length));
    await done(tx);
  }

  async close() {
    this.#db?.close();
    this.#db = null;
  }

  /** Deletes the database (the whole log). */
  static destroy(name = 'warren') {
    return request(indexedDB.deleteDatabase(name));
  }
}
