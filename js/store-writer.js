// Group commit: the engine's store records go to the Store in batches, one
// append in flight at a time; records emitted meanwhile wait in the engine
// and form the next batch. Once an append resolves, the engine hears which
// records are durable and releases the confirms waiting on them. When the log
// has grown well past the live state, a snapshot of that state replaces it.
// The log starts with a header naming its format (src/storage/log.rs): the
// first append to an empty log carries it, and every snapshot starts with it.

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
  }

  /** Starts the next batch if none is in flight. */
  pump() {
    if (this.#busy || this.#failed) return;
    const wasm = this.#core.wasm;
    const bytes = wasm.takeStoreBytes();
    if (bytes === undefined) return;
    // The batch covers every record up to this number.
    const upTo = wasm.storeEmitted();
    if (this.#store.compact && this.#size + bytes.length > this.#compactAt) {
      // The snapshot includes what `bytes` held: it replaces the whole log.
      const snapshot = wasm.snapshotLog();
      this.#run(
        () => this.#store.compact(snapshot),
        upTo,
        () => {
          this.#size = snapshot.length;
          if (!this.fixedThreshold) this.#compactAt = Math.max(MIN_COMPACT, 2 * snapshot.length);
        },
      );
    } else {
      const batch = this.#size === 0 ? concat(this.#header, bytes) : bytes;
      this.#run(
        () => this.#store.append(batch),
        upTo,
        () => {
          this.#size += batch.length;
        },
      );
    }
  }

  #run(op, upTo, done) {
    this.#busy = this.#attempt(op).then(
      () => {
        this.#busy = null;
        done();
        const core = this.#core;
        if (core.closed) return;
        core.wasm.storeDurable(core.now(), upTo);
        core.drain(); // sends the released confirms and pumps again
      },
      (err) => {
        this.#busy = null;
        this.#failed = err;
        this.onerror?.(err);
      },
    );
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
