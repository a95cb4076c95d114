// Input from the object's WebSockets, gathered per turn. The runtime delivers
// every client message as an event of its own (amqp-client.js sends one per
// publish and one per ack), and feeding one to the broker costs far more
// than its bytes: a call into the engine, a drain of its output, a store
// pump, a timer check. So an event only queues its bytes; on the next turn
// each socket's bytes go to its connection in one receive(), in the order
// they came. Output gathers the same way (socket-writer.js), so a turn's
// replies leave as one message.

import { concatBytes } from '../bytes.js';
import { NextTurn } from './next-turn.js';

export class SocketReader {
  /** (conn, bytes): bytes for one connection, in order */
  #feed;
  /** called after each turn's input is fed */
  #after;
  /** socket state -> its queued messages */
  #queued = new Map();
  #turn = new NextTurn(() => this.flush());
  /** messages queued, and receive() calls that fed them, for the debug view */
  messages = 0;
  feeds = 0;

  constructor(feed, after) {
    this.#feed = feed;
    this.#after = after;
  }

  /** Queues `bytes` from the socket whose state is `s` ({ conn }). */
  add(s, bytes) {
    const parts = this.#queued.get(s);
    if (parts) parts.push(bytes);
    else this.#queued.set(s, [bytes]);
    this.messages++;
    this.#turn.added(bytes.length);
  }

  /** Feeds every queued message now (before anything else reads or changes the broker). */
  flush() {
    this.#turn.flushed();
    if (this.#queued.size === 0) return;
    const queued = this.#queued;
    this.#queued = new Map();
    let failed = null;
    for (const [s, parts] of queued) {
      // One connection's failure leaves the others' input fed.
      try {
        this.feeds++;
        this.#feed(s.conn, concatBytes(parts));
      } catch (e) {
        failed ??= e;
      }
    }
    this.#after();
    if (failed) throw failed;
  }

  /** Feeds what socket `s` sent so far, ahead of its close. */
  flushSocket(s) {
    const parts = this.#queued.get(s);
    if (!parts) return;
    this.#queued.delete(s);
    const bytes = concatBytes(parts);
    this.#turn.taken(bytes.length);
    this.feeds++;
    this.#feed(s.conn, bytes);
  }
}
