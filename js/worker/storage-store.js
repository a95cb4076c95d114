// The broker's Store on Durable Object storage: the log of framed records
// kept as chunks under ordered keys (`log:000000000000`, ...), so recovery is
// one list() and a concatenation. The bytes are opaque here: the log's format
// header (src/storage/log.rs) opens chunk 0, written like any other bytes.
//
// Group commit: an append waits one turn, puts its chunks (one atomic batch:
// no await between the calls), yields one turn so the events already waiting
// (more publishes) run and emit their records into the engine, then sync()s.
// The append resolves once the batch is on disk, and only then does the
// engine release the confirms it covers; the records emitted meanwhile form
// the next batch. sync() holds back new events while it waits (the input
// gate), so without the yield every batch would hold one publish. The output
// gate holds every outgoing message until the writes before it are on disk,
// confirms included, and it holds a whole turn: a message sent in the turn of
// a put, even before it, waits for that put. Hence the turn before the puts:
// the socket writers send what the last batch released (its confirms, and
// the deliveries made meanwhile) first, and it waits for no later batch.
//
// A write that fails (storage full, an internal error) breaks the output gate:
// the platform drops the messages it held, confirms included, and resets the
// object, which recovers from what was stored. The rejection also reaches the
// broker: out of space (SQLite's SQLITE_FULL, a storage limit) it is marked
// `retryable`, so where the object lives on (workerd with storage that
// failed a write without breaking the gate, as the tests' faulty-storage.js)
// publishers are blocked and the same bytes are written again until there is
// room; any other failure closes every connection naming it (js/broker.js).
// A failed batch leaves the chunk count as it was, so a retry writes the
// same keys.
//
// Each batch also puts the log's size (`logsize`: chunks and bytes), so a
// broker resumed from its image, which only continues the log, learns where
// the log ends without reading it (logSize()).
//
// Pages of paged queues (src/broker/paging.rs) are cut into chunks the same
// way, under `page:<id>:<n>`, with `pages:<id>` naming how many, put in one
// atomic batch. Reading a page is one get() of its keys; the index of
// pages (a number each) is listed once, never the pages themselves, so a
// restart reads no page until a consumer needs it.

import { concatBytes } from '../bytes.js';

const PREFIX = 'log:';
// A value holds at most 128 KiB on key-value-backed objects (2 MB on SQLite-backed ones).
export const CHUNK_BYTES = 128 * 1024;
// put() and delete() take at most 128 keys per call.
const KEYS_PER_CALL = 128;

const keyOf = (n) => PREFIX + String(n).padStart(12, '0');
// Outside PREFIX: load() lists the chunks alone.
const SIZE_KEY = 'logsize';
const PAGE_INDEX = 'pages:';
const indexKeyOf = (id) => PAGE_INDEX + String(id).padStart(16, '0');
const pageKeyOf = (id, n) => `page:${String(id).padStart(16, '0')}:${String(n).padStart(6, '0')}`;
/** Storage full: SQLite-backed objects fail with SQLITE_FULL; the limit's message names it. */
const outOfSpace = (e) => /SQLITE_FULL|storage limit|quota/i.test(String(e?.message ?? ''));
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Copies, not views: a stored view would carry its whole underlying buffer.
 * Bytes that are their whole buffer and fit one chunk (most appends) go as they are.
 */
function chunks(bytes) {
  if (bytes.length <= CHUNK_BYTES && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength)
    return [bytes];
  const out = [];
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) out.push(bytes.slice(at, at + CHUNK_BYTES));
  return out;
}

export class StorageStore {
  #storage;
  /** chunks in storage, under keys 0 .. #count-1 */
  #count = 0;
  /** bytes in the log */
  #bytes = 0;
  /** the log's size when load() read it */
  loadedBytes = 0;
  /** batches committed and their bytes, for the debug view */
  batches = 0;
  writtenBytes = 0;

  /** page id -> its chunks, once listed */
  #pages = null;
  /** pages whose delete failed for want of space: tried again with the next delete */
  #stale = new Set();
  /** called as a page read resolves, before the broker takes its bytes */
  onpageread = null;
  /** page operations carried out, for the debug view and tests */
  pageStats = { writes: 0, reads: 0, deletes: 0, readBytes: 0 };

  constructor(storage) {
    this.#storage = storage;
  }

  async load() {
    const entries = await this.#storage.list({ prefix: PREFIX });
    let size = 0;
    let n = 0;
    for (const [key, v] of entries) {
      // Batches are atomic and keys dense from 0: a gap is damage, not a torn write.
      if (key !== keyOf(n++)) throw new Error(`store: chunk ${keyOf(n - 1)} is missing (found ${key})`);
      size += v.byteLength;
    }
    this.#count = n;
    this.#bytes = size;
    this.loadedBytes = size;
    if (size === 0) return null;
    const log = new Uint8Array(size);
    let at = 0;
    for (const v of entries.values()) {
      log.set(new Uint8Array(v.buffer ?? v, v.byteOffset ?? 0, v.byteLength), at);
      at += v.byteLength;
    }
    return log;
  }

  /**
   * The log's size in bytes, read without the log (a store written before
   * the size was kept is read whole once).
   */
  async logSize() {
    const size = await this.#storage.get(SIZE_KEY);
    if (size === undefined) return (await this.load())?.length ?? 0;
    this.#count = size.chunks;
    this.#bytes = size.bytes;
    return size.bytes;
  }

  async append(bytes) {
    this.writtenBytes += bytes.length;
    const parts = chunks(bytes);
    const size = { chunks: this.#count + parts.length, bytes: this.#bytes + bytes.length };
    await nextTurn(); // output already due leaves ungated (see the top)
    return this.#commit(this.#put(parts, this.#count, size), size);
  }

  /** Replaces the log with `bytes`: chunks from 0, the old ones past them deleted, in one batch. */
  async compact(bytes) {
    await nextTurn(); // as append()
    const parts = chunks(bytes);
    const stale = [];
    for (let n = parts.length; n < this.#count; n++) stale.push(keyOf(n));
    const size = { chunks: parts.length, bytes: bytes.length };
    const writes = this.#put(parts, 0, size);
    for (let i = 0; i < stale.length; i += KEYS_PER_CALL)
      writes.push(this.#storage.delete(stale.slice(i, i + KEYS_PER_CALL)));
    this.writtenBytes += bytes.length;
    return this.#commit(writes, size);
  }

  /** Puts `parts` as chunks from `first` on, and the log's new `size` with them (each put() costs, whatever its size). */
  #put(parts, first, size) {
    const entries = parts.map((p, j) => [keyOf(first + j), p]);
    entries.push([SIZE_KEY, size]);
    const writes = [];
    for (let i = 0; i < entries.length; i += KEYS_PER_CALL)
      writes.push(this.#storage.put(Object.fromEntries(entries.slice(i, i + KEYS_PER_CALL))));
    return writes;
  }

  async #pageIndex() {
    if (this.#pages) return this.#pages;
    const pages = new Map();
    for (const [key, chunks] of await this.#storage.list({ prefix: PAGE_INDEX }))
      pages.set(Number(key.slice(PAGE_INDEX.length)), chunks);
    this.#pages ??= pages;
    return this.#pages;
  }

  /** Stores page `id` (chunks and index entry in one batch); with `sync`, on disk before it resolves. */
  async writePage(id, bytes, { sync = false } = {}) {
    const pages = await this.#pageIndex();
    this.#stale.delete(id); // a crash's leftover under the same id is overwritten
    const parts = chunks(bytes);
    const entries = { [indexKeyOf(id)]: parts.length };
    parts.forEach((p, n) => (entries[pageKeyOf(id, n)] = p));
    const keys = Object.keys(entries);
    const writes = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_CALL) {
      const some = {};
      for (const k of keys.slice(i, i + KEYS_PER_CALL)) some[k] = entries[k];
      writes.push(this.#storage.put(some));
    }
    try {
      await Promise.all(writes);
      if (sync) await this.#storage.sync();
    } catch (e) {
      if (outOfSpace(e)) e.retryable = true;
      throw e;
    }
    pages.set(id, parts.length);
    this.pageStats.writes++;
  }

  /** The bytes of page `id`: one get() of its chunks. */
  async readPage(id) {
    const count = (await this.#pageIndex()).get(id);
    if (count === undefined) throw new Error(`page ${id} is not in Durable Object storage`);
    const keys = Array.from({ length: count }, (_, n) => pageKeyOf(id, n));
    const parts = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_CALL) {
      const got = await this.#storage.get(keys.slice(i, i + KEYS_PER_CALL));
      for (const key of keys.slice(i, i + KEYS_PER_CALL)) {
        const v = got.get(key);
        if (!v) throw new Error(`page ${id}: chunk ${key} is missing from Durable Object storage`);
        parts.push(new Uint8Array(v.buffer ?? v, v.byteOffset ?? 0, v.byteLength));
      }
    }
    const bytes = parts.length === 1 ? parts[0].slice() : concatBytes(parts);
    this.pageStats.reads++;
    this.pageStats.readBytes += bytes.length;
    this.onpageread?.(id);
    return bytes;
  }

  async deletePage(id) {
    const pages = await this.#pageIndex();
    const ids = [...this.#stale, id];
    this.#stale.clear();
    const keys = [];
    for (const p of ids) {
      const count = pages.get(p);
      if (count === undefined) continue;
      keys.push(indexKeyOf(p));
      for (let n = 0; n < count; n++) keys.push(pageKeyOf(p, n));
    }
    try {
      const deletes = [];
      for (let i = 0; i < keys.length; i += KEYS_PER_CALL)
        deletes.push(this.#storage.delete(keys.slice(i, i + KEYS_PER_CALL)));
      await Promise.all(deletes);
    } catch (e) {
      // Storage full: a page kept a while longer harms nothing (it is named by no run).
      if (!outOfSpace(e)) throw e;
      for (const p of ids) this.#stale.add(p);
      return;
    }
    for (const p of ids) if (pages.delete(p)) this.pageStats.deletes++;
  }

  /** After a restart: deletes the pages a crash left behind, every one but `ids`. */
  async retainPages(ids) {
    const keep = new Set(ids);
    for (const id of [...(await this.#pageIndex()).keys()]) if (!keep.has(id)) await this.deletePage(id);
  }

  /** Pages held. */
  get pageCount() {
    return this.#pages?.size ?? 0;
  }

  /**
   * Waits for `writes` (one atomic batch: no await since they were made) and
   * the sync after them; then the log is of `size`.
   */
  async #commit(writes, size) {
    this.batches++;
    try {
      await Promise.all(writes);
      await nextTurn();
      await this.#storage.sync();
    } catch (e) {
      if (outOfSpace(e)) e.retryable = true;
      throw e;
    }
    this.#count = size.chunks;
    this.#bytes = size.bytes;
  }
}
