// The page's side of the live-code worker's connections: each AMQP
// connection the worker opens (warren-mq's webSocketFor over a MessagePort)
// is accepted by the page's broker. The same messages as servePort in
// js/port.js, but the page keeps hold of its connections, so that stopping a
// worker (which tells no one) can drop them: the broker then requeues what the
// program held unacknowledged, as it would for a killed process. The bytes
// both ways are cut into frames for the wire lane (`wire`, a WireRecorder):
// the engine taps only in-process connections, and these frames really crossed.

import { Framer } from '../wire/framer.js';

const CONNECT = 'warren-mq/connect';
const MAX_EARLY = 64; // handshake records kept until the connection opens

export class Bridge {
  /** `name`: the connections' name in the broker (the scene finds the program's by it). */
  constructor(broker, port, { name = 'your program', wire = null } = {}) {
    this.broker = broker;
    this.wire = wire;
    this.port = port;
    this.name = name;
    /** open connections: { conn, port } */
    this.open = new Set();
    port.onmessage = (e) => {
      if (e.data?.type === CONNECT && e.ports?.[0]) this.#accept(e.ports[0]);
    };
  }

  #accept(port) {
    port.postMessage('open'); // before any bytes the broker sends
    const link = { port, conn: null };
    const wire = this.wire;
    // The lane names connections by their engine id, which the engine gives
    // once it opens the connection (its connection.open-ok): the handshake's
    // records wait for it. The transport's id (`link.conn.id`) is another count.
    const early = [];
    const take = (toClient) => (channel, bytes) => {
      if (link.engineId != null) wire.take(link.engineId, channel, toClient, bytes);
      else if (early.length < MAX_EARLY) early.push([channel, toClient, bytes]);
    };
    const fromClient = wire && new Framer({ client: true, onRecord: take(false) });
    const toClient = wire && new Framer({ client: false, onRecord: take(true) });
    /** After the engine's turn: once it has opened the connection, its id names the records. */
    const named = () => {
      if (link.engineId != null) return;
      link.engineId = link.conn.engineId;
      if (link.engineId == null) return;
      for (const [channel, dir, bytes] of early.splice(0)) wire.take(link.engineId, channel, dir, bytes);
    };
    const end = () => {
      this.open.delete(link);
      port.onmessage = null;
      port.close();
    };
    try {
      link.conn = this.broker.accept(
        {
          send: (bytes) => {
            toClient?.push(bytes, wire.recording);
            const copy = bytes.slice();
            port.postMessage(copy.buffer, [copy.buffer]);
          },
          close: () => {
            port.postMessage('close');
            end();
          },
        },
        // In this tab: on this machine, so guest may log in.
        { name: this.name, loopback: true },
      );
    } catch (e) {
      port.postMessage({ error: String(e.message ?? e) });
      end();
      return;
    }
    this.open.add(link);
    port.onmessage = ({ data }) => {
      if (data instanceof ArrayBuffer) {
        const bytes = new Uint8Array(data);
        // Cut before the engine answers, so the lane has the request before its reply.
        fromClient?.push(bytes, wire.recording);
        link.conn.receive(bytes);
        if (wire) named();
      } else if (data === 'close') {
        end();
        link.conn.closed();
      }
    };
  }

  /** The program is gone: its connections drop, as a killed process's sockets do. */
  close() {
    this.port.onmessage = null;
    this.port.close();
    for (const link of [...this.open]) {
      this.open.delete(link);
      link.port.close();
      link.conn.closed();
    }
  }
}
