// Output to one WebSocket, gathered per turn: each event (one client message)
// makes the broker emit a few small buffers, and every WebSocket message
// costs both ends far more than its bytes. Buffers emitted while the queued
// events run go out together, as one message, on the next turn.

import { concatBytes } from '../bytes.js';

// Sent at once past this: a message stays well under the platform's limit.
const MAX_GATHERED = 256 * 1024;

export class SocketWriter {
  #ws;
  #parts = [];
  #bytes = 0;
  #scheduled = false;

  constructor(ws) {
    this.#ws = ws;
  }

  send(bytes) {
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
    if (this.#bytes >= MAX_GATHERED) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.flush(), 0);
    }
  }

  flush() {
    this.#scheduled = false;
    if (this.#bytes === 0) return;
    const out = concatBytes(this.#parts);
    this.#parts = [];
    this.#bytes = 0;
    try {
      this.#ws.send(out);
    } catch {
      // The socket closed meanwhile: webSocketClose tells the broker.
    }
  }

  close(code, reason) {
    this.flush();
    try {
      this.#ws.close(code, reason);
    } catch {
      // already closed
    }
  }
}
