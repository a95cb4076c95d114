// Group commit: the engine's store records go to the Store in batches, one
// append in flight at a time; records emitted meanwhile wait in the engine
// and form the next batch. Once an append resolves, the engine hears which
// records are durable and releases the confirms waiting on them. When the log
// has grown well past the live state, a snapshot of that state replaces it.
// The log starts with a header naming its format (src/storage/log.rs): the
// first append to an empty log carries it, and every snapshot starts with it.

//
// Pages (paged queues, src/broker/paging.rs): the engine's page writes go
// to the store before the log batch taken with them, and its page deletes
// after it, so the log never names a page that is not written, and a page
// goes only once the log holds its messages again. Reads go out at once; a
// page still being written is answered from memory.
//
// Spacing: a store may ask for `batchSpacingMs` between the starts of two
// appends while the load is continuous (records were emitted while the last
// append ran). Each synced write costs the host about the same whatever it
// holds, so under load fewer, larger batches cost less per message; a
// publisher waiting on each confirm finds no append in flight and is written
// at once. RabbitMQ's message store likewise syncs on a short interval
// while busy.
//
// A store that rejects with `err.retryable` (out of space: the write was
// undone) is retried with the same bytes, backing off up to RETRY_MAX_MS;
// `onfull(err)` reports the first failure and `onfull(null)` the write that
// succeeds again. Meanwhile nothing is confirmed. Any other rejection fails
// the writer for good (`onerror`).

const MIN_COMPACT = 8 * 1024 * 1024;
const RETRY_FIRST_MS = 20;
const RETRY_MAX_MS = 2000;

export class StoreWriter {
  #store;
  #core;
  /** the append or compaction in flight */
  #busy = null;
  #failed = null;
  /** bytes in the store's log, and the size at which to compact it */
  #size;
  #compactAt;
  #header;
  /** page writes and deletes taken from the engine, for the next batch */
  #pageWrites = [];
  #pageDeletes = [];
  /** bytes of pages not yet written, by id: reads of them are answered from here */
  #unwritten = new Map();
  /** the least time between the starts of two appends under continuous load (see above) */
  #spacingMs;
  /** when the last append started (performance.now()) */
  #started = 0;
  /** the timer the next batch waits for, while it waits */
  #spacing = null;
  /** pages written to the store and read back (from it or from memory) since the writer started */
  pageStats = { written: 0, writtenBytes: 0, read: 0, readBytes: 0 };

  /**
   * `logSize`: bytes in the store's log; `liveSize`: bytes a snapshot of the
   * recovered state takes. The threshold follows the live state, not the log:
   * measured against the log, every restart would raise it, and a broker that
   * restarts often would never compact (its log, and recovery, growing
   * without bound).
   */
  constructor(store, core, logSize, compactAfterBytes, header, liveSize = logSize) {
    this.#store = store;
    this.#header = header;
    this.#core = core;
    this.#size = logSize;
    this.#compactAt = compactAfterBytes ?? Math.max(MIN_COMPACT, 2 * liveSize);
    this.fixedThreshold = compactAfterBytes !== undefined;
    this.#spacingMs = store.batchSpacingMs ?? 0;
  }

  /** Starts the next batch if none is in flight. */
  pump() {
    this.#takePages();
    if (this.#busy || this.#failed || this.#spacing) return;
    const wasm = this.#core.wasm;
    const writes = this.#pageWrites.splice(0);
    const deletes = this.#pageDeletes.splice(0);
    const bytes = wasm.takeStoreBytes();
    if (bytes === undefined && writes.length === 0 && deletes.length === 0) return;
    // The batch covers every record up to this number.
    const upTo = wasm.storeEmitted();
    let log = null;
    let done = () => {};
    if (bytes === undefined) {
      // pages only
    } else if (this.#store.compact && this.#size + bytes.length > this.#compactAt) {
      // The snapshot includes what `bytes` held: it replaces the whole log.
      const snapshot = wasm.snapshotLog();
      log = () => this.#store.compact(snapshot);
      done = () => {
        this.#size = snapshot.length;
        if (!this.fixedThreshold) this.#compactAt = Math.max(MIN_COMPACT, 2 * snapshot.length);
      };
    } else {
      const batch = this.#size === 0 ? concat(this.#header, bytes) : bytes;
      this.#started = performance.now();
      log = () => this.#store.append(batch);
      done = () => {
        this.#size += batch.length;
      };
    }
    const store = this.#store;
    this.#run(
      async () => {
        if (writes.length) {
          await this.#attempt(() => Promise.all(writes.map((w) => store.writePage(w.page, w.bytes, { sync: w.sync }))));
          for (const w of writes) {
            this.#unwritten.delete(w.page);
            this.pageStats.written++;
            this.pageStats.writtenBytes += w.bytes.length;
          }
        }
        if (log) {
          await this.#attempt(log);
          done();
        }
        if (deletes.length) await Promise.all(deletes.map((page) => store.deletePage(page)));
      },
      log ? upTo : null,
    );
  }

  /** Takes the engine's page operations: reads go out now, writes and deletes wait for the next batch. */
  #takePages() {
    const ops = this.#core.wasm.takePageOps();
    if (ops === undefined) return;
    for (const op of ops) {
      if (op.op === 'write') {
        this.#pageWrites.push(op);
        this.#unwritten.set(op.page, op.bytes);
      } else if (op.op === 'read') this.readPage(op.page);
      else this.#pageDeletes.push(op.page);
    }
  }

  /** Reads a page the engine asked for and hands it back. */
  readPage(page) {
    const held = this.#unwritten.get(page);
    const read = held ? Promise.resolve(held) : Promise.resolve().then(() => this.#store.readPage(page));
    read.then(
      (bytes) => {
        const core = this.#core;
        if (core.closed || this.#failed) return;
        try {
          core.wasm.pageLoaded(core.now(), page, bytes);
        } catch (err) {
          this.#pageFailed(page, err);
          return;
        }
        this.pageStats.read++;
        this.pageStats.readBytes += bytes.length;
        core.drain();
      },
      (err) => this.#pageFailed(page, err),
    );
  }

  /** A page that cannot be read back: its messages are lost to the broker, which stops as for a failed write. */
  #pageFailed(page, err) {
    if (this.#failed) return;
    this.#failed = err instanceof Error ? err : new Error(String(err));
    this.#failed.message = `page ${page}: ${this.#failed.message}`;
    this.onerror?.(this.#failed);
  }

  #run(op, upTo) {
    this.#busy = op().then(
      () => {
        this.#busy = null;
        const core = this.#core;
        if (core.closed) return;
        if (upTo !== null) {
          core.wasm.storeDurable(core.now(), upTo);
          this.#space(upTo);
        }
        core.drain(); // sends the released confirms and pumps again
      },
      (err) => {
        this.#busy = null;
        this.#failed = err;
        this.onerror?.(err);
      },
    );
  }

  /** After an append of records up to `upTo`: holds the next one back if records queued behind it and it was quick. */
  #space(upTo) {
    if (this.#spacingMs <= 0 || this.#core.wasm.storeEmitted() <= upTo) return;
    const wait = this.#started + this.#spacingMs - performance.now();
    if (wait <= 0) return;
    this.#spacing = setTimeout(() => {
      this.#spacing = null;
      if (!this.#core.closed) this.#core.drain();
    }, wait);
  }

  /** Runs `op` until it succeeds or fails for good; retries what the store says may be retried. */
  async #attempt(op) {
    for (let n = 0; ; n++) {
      try {
        await op();
        if (n > 0) this.onfull?.(null);
        return;
      } catch (err) {
        if (!err?.retryable || this.#giveUp) throw err;
        if (n === 0) this.onfull?.(err);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** n));
          this.#wake = () => (clearTimeout(timer), resolve());
        });
        this.#wake = null;
      }
    }
  }

  /**
   * Stops retrying a write that waits for space: it fails instead. For a
   * closing broker: what was not written was never confirmed either.
   */
  giveUp() {
    this.#giveUp = true;
    this.#wake?.();
  }

  /** Waits until everything emitted so far is in the store. */
  async flush() {
    clearTimeout(this.#spacing);
    this.#spacing = null;
    for (let i = 0; i < 1000; i++) {
      if (this.#failed) throw this.#failed;
      if (this.#busy) await this.#busy;
      else {
        this.pump();
        if (!this.#busy) return;
      }
    }
    throw new Error('store flush: the engine kept emitting records');
  }

  /** Nothing in flight and no page write waiting. */
  get idle() {
    return !this.#busy && !this.#spacing && this.#pageWrites.length === 0 && this.#pageDeletes.length === 0;
  }

  /** Set when an append or compaction failed: nothing more is written. */
  get failed() {
    return this.#failed;
  }

  onerror = null;
  onfull = null;
  #giveUp = false;
  #wake = null;
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
