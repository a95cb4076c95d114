// Work gathered for the next turn. A runtime event (a client's WebSocket
// message, a buffer for one) only queues; the queue is worked through once,
// on the next turn, or at once when it holds MAX_GATHERED bytes, so a burst
// is not held in memory twice and a message stays well under the platform's
// size limit.

const MAX_GATHERED = 256 * 1024;

export class NextTurn {
  #flush;
  #bytes = 0;
  #scheduled = false;

  /** `flush` works through the queue; it calls flushed() first. */
  constructor(flush) {
    this.#flush = flush;
  }

  /** Counts `n` more queued bytes: flushes now past the bound, else next turn. */
  added(n) {
    this.#bytes += n;
    if (this.#bytes >= MAX_GATHERED) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.#flush(), 0);
    }
  }

  /** Starts a flush: the whole queue is taken. Returns its byte count. */
  flushed() {
    const bytes = this.#bytes;
    this.#bytes = 0;
    this.#scheduled = false;
    return bytes;
  }

  /** Counts `n` bytes taken out of the queue ahead of a flush. */
  taken(n) {
    this.#bytes -= n;
  }
}
