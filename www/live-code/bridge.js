// The page's side of the live-code worker's connections: each AMQP
// connection the worker opens (warren-mq's webSocketFor over a MessagePort)
// is accepted by the page's broker. The same messages as servePort in
// js/port.js, but the page keeps hold of its connections, so that stopping a
// worker (which tells no one) can drop them: the broker then requeues what the
// program held unacknowledged, as it would for a killed process.

const CONNECT = 'warren-mq/connect';

export class Bridge {
  /** `name`: the connections' name in the broker (the scene finds the program's by it). */
  constructor(broker, port, { name = 'your program' } = {}) {
    this.broker = broker;
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
    const end = () => {
      this.open.delete(link);
      port.onmessage = null;
      port.close();
    };
    try {
      link.conn = this.broker.accept(
        {
          send: (bytes) => {
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
      if (data instanceof ArrayBuffer) link.conn.receive(new Uint8Array(data));
      else if (data === 'close') {
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
