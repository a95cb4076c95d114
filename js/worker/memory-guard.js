// Publishers are blocked (connection.blocked) before the isolate runs out of
// memory, and unblocked once consumers have drained the queues, as RabbitMQ's
// memory alarm does. The wasm memory only grows, so its size says when to
// look; what the engine says its queues hold (at most once a second) decides.
// connection.blocked only asks: a publisher that goes on past the hard limit
// is closed (the host picks which: the connections that sent the most).
//
// It protects memory, not the backlog: messages of paged queues are in
// storage and not counted, so a backlog past the page budgets blocks its
// publishers only when storage is full (the store's "store full" alarm,
// js/store-writer.js).

const CHECK_MS = 1000;

export class MemoryGuard {
  #broker;
  #memoryBytes;
  #limit;
  #checkedAt = -Infinity;
  blocked = false;
  onchange = null;

  /** `memoryBytes()`: the wasm memory's size now. */
  constructor(broker, memoryBytes, limit) {
    this.#broker = broker;
    this.#memoryBytes = memoryBytes;
    this.#limit = limit;
  }

  /** Estimated bytes queued messages hold in memory (bodies plus a per-message overhead; paged ones not). */
  queuedBytes() {
    return this.#broker.heldBytes();
  }

  /**
   * Cheap unless the wasm memory is past the limit: call after each input.
   * Returns true when what is queued is past the hard limit (1.5 x the limit).
   */
  check(now) {
    if (!this.blocked && this.#memoryBytes() < this.#limit) return false;
    if (now - this.#checkedAt < CHECK_MS) return false;
    this.#checkedAt = now;
    const queued = this.queuedBytes();
    // Unblock at half the limit, so it does not flap.
    const blocked = this.blocked ? queued > this.#limit / 2 : queued > this.#limit;
    if (blocked !== this.blocked) {
      this.blocked = blocked;
      this.#broker.setBlocked(blocked ? 'low on memory' : null);
      this.onchange?.(blocked, queued);
    }
    return queued > this.#limit * 1.5;
  }
}
