// Output to one WebSocket, gathered per turn: each event (one client message)
// makes the broker emit a few small buffers, and every WebSocket message
// costs both ends far more than its bytes. Buffers emitted while the queued
// events run go out together, as one message, on the next turn.

import { concatBytes } from '../bytes.js';
import { NextTurn } from './next-turn.js';

export class SocketWriter {
  #ws;
  #parts = [];
  #turn = new NextTurn(() => this.flush());

  constructor(ws) {
    this.#ws = ws;
  }

  send(bytes) {
    this.#parts.push(bytes);
    this.#turn.added(bytes.length);
  }

  flush() {
    if (this.#turn.flushed() === 0) return;
    const out = concatBytes(this.#parts);
    this.#parts = [];
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
