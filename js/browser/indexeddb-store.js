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
//
// Pages of paged queues (src/broker/paging.rs) are values of their own
// object store, keyed by page id (schema version 2; the upgrade from 1 adds
// it and keeps the log). A page of persistent messages is written with
// strict durability, others relaxed; a restart or a resume reads none until
// a consumer needs it.

const CHUNKS = 'chunks';
const PAGES = 'pages';
const VERSION = 2;

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
  /** page operations carried out, for tests and diagnostics */
  pageStats = { writes: 0, reads: 0, deletes: 0 };

  /** `name`: the IndexedDB database holding this broker's log. */
  constructor(name = 'warren') {
    if (typeof name !== 'string' || name === '') throw new TypeError('IndexedDBStore: name must be a non-empty string');
    if (typeof indexedDB === 'undefined') throw new Error('IndexedDBStore: indexedDB is not available here');
    this.#name = name;
  }

  async #open() {
    if (this.#db) return this.#db;
    const req = indexedDB.open(this.#name, VERSION);
    req.onupgradeneeded = (ev) => {
      const db = req.result;
      if (ev.oldVersion < 1) db.createObjectStore(CHUNKS, { autoIncrement: true });
      if (ev.oldVersion < 2) db.createObjectStore(PAGES);
    };
    this.#db = await request(req);
    return this.#db;
  }

  async #tx(mode, objects = CHUNKS, durability = 'strict') {
    const db = await this.#open();
    return db.transaction(objects, mode, { durability });
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

  /** Stores page `id`; with `sync`, flushed before it resolves. */
  async writePage(id, bytes, { sync = false } = {}) {
    const tx = await this.#tx('readwrite', PAGES, sync ? 'strict' : 'relaxed');
    tx.objectStore(PAGES).put(bytes.slice(), id);
    await done(tx);
    this.pageStats.writes++;
  }

  async readPage(id) {
    const tx = await this.#tx('readonly', PAGES);
    const v = await request(tx.objectStore(PAGES).get(id));
    if (v === undefined) throw new Error(`page ${id} is not in IndexedDB database ${this.#name}`);
    this.pageStats.reads++;
    return new Uint8Array(v.buffer ?? v, v.byteOffset ?? 0, v.byteLength);
  }

  async deletePage(id) {
    const tx = await this.#tx('readwrite', PAGES, 'relaxed');
    tx.objectStore(PAGES).delete(id);
    await done(tx);
    this.pageStats.deletes++;
  }

  /** After a restart: deletes the pages a crash left behind, every one but `ids`. */
  async retainPages(ids) {
    const keep = new Set(ids);
    const tx = await this.#tx('readwrite', PAGES, 'relaxed');
    const pages = tx.objectStore(PAGES);
    for (const id of await request(pages.getAllKeys())) if (!keep.has(id)) pages.delete(id);
    await done(tx);
  }

  /** Pages held. */
  async pageCount() {
    const tx = await this.#tx('readonly', PAGES);
    return request(tx.objectStore(PAGES).count());
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
