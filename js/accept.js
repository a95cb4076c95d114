// `broker.accept(transport)`: an AMQP connection over any byte transport.
// Bytes from the peer go into the engine's protocol state machine; bytes it
// produces come back through `transport.send`, in order.
import { report, toBytes } from './client.js';

export class AcceptedConnection {
  #core;
  #transport;
  #id;
  #gone = false;
  #onClose;

  /** `id`: a connection resumed from an image that this transport carries on; else a new one. */
  constructor(core, transport, name, { loopback, certUser, onClose, id } = {}) {
    this.#core = core;
    this.#transport = transport;
    this.#onClose = onClose;
    this.#id = id ?? core.wasm.accept(core.now(), name, loopback, certUser);
    core.transports.set(this.#id, this);
    core.drain();
  }

  /** This connection's id in the engine's server. */
  get id() {
    return this.#id;
  }

  /**
   * The engine's id of this connection (the `conn` of events and of
   * `snapshot().connections`) once the client's `connection.open` is
   * accepted; null before and after it closes. Not the same count as `id`.
   */
  get engineId() {
    return this.#gone ? null : (this.#core.wasm.engineConn(this.#id) ?? null);
  }

  /** Bytes from the peer, any split. */
  receive(bytes) {
    if (this.#gone) return;
    const core = this.#core;
    core.wasm.receive(core.now(), this.#id, toBytes('receive', bytes));
    core.drain();
  }

  /** The transport closed: unacked deliveries are requeued. */
  closed() {
    if (this.#gone) return;
    this.#forget();
    const core = this.#core;
    core.wasm.transportClosed(core.now(), this.#id);
    core.drain();
  }

  /** The transport sent what it held: reads its `bufferedAmount` again. */
  drained() {
    if (this.#gone) return;
    this.#reportBacklog();
    this.#core.drain();
  }

  /** False while this connection's unsent output is over the limit. */
  get wantsRead() {
    return !this.#gone && this.#core.wasm.wantsRead(this.#id);
  }

  /** Closes from the broker's side with 320 CONNECTION_FORCED. */
  forceClose(reason = 'broker shutdown') {
    if (this.#gone) return;
    const core = this.#core;
    core.wasm.forceClose(core.now(), this.#id, reason);
    core.drain();
  }

  #reportBacklog() {
    const held = this.#transport.bufferedAmount;
    if (typeof held === 'number') this.#core.wasm.setBacklog(this.#id, held);
  }

  #forget() {
    this.#gone = true;
    this.#core.transports.delete(this.#id);
  }

  /** Whether the transport holds nothing unsent: what it is given now leaves at once. */
  get _idle() {
    return this.#transport.bufferedAmount === 0;
  }

  _send(bytes) {
    try {
      this.#transport.send(bytes);
    } catch (e) {
      report(e);
    }
    this.#reportBacklog();
  }

  /** A close the server made (a `connection.close` or `channel.close` it sent, or a dropped transport: code 0). */
  _closeReport(channel, e) {
    if (!this.#onClose) return;
    try {
      this.#onClose({ scope: channel === 0 ? 'connection' : 'channel', channel, ...e });
    } catch (err) {
      report(err);
    }
  }

  /** What was sent so far must leave apart from what follows (a gathering transport's `flush`). */
  _flush() {
    try {
      this.#transport.flush?.();
    } catch (e) {
      report(e);
    }
  }

  /** `clientCloses`: the client was sent close-ok and closes its end next. */
  _close(clientCloses) {
    this.#forget();
    try {
      this.#transport.close({ clientCloses });
    } catch (e) {
      report(e);
    }
  }
}
