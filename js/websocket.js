// A WebSocket stand-in for code written against the WebSocket API, such as
// amqp-client.js's AMQPWebSocketClient: binary frames go to a broker in the
// same page or worker (through broker.accept), or to one in a worker of the
// page (through a MessagePort it serves, see port.js), instead of over the network.
// Events are dispatched as tasks, as a real socket's are: after the promise
// callbacks of the code that caused them (clients rely on that ordering).
import { connectPort } from './port.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Runs `fn` as a new task: setImmediate in Node, a MessageChannel in browsers and workers. */
const nextTask = (() => {
  if (typeof setImmediate === 'function') return setImmediate;
  if (typeof MessageChannel !== 'function') return (fn) => setTimeout(fn, 0);
  const queue = [];
  const channel = new MessageChannel();
  channel.port1.onmessage = () => queue.shift()?.();
  return (fn) => {
    queue.push(fn);
    channel.port2.postMessage(null);
  };
})();

function event(type, fields) {
  if (type === 'message' && typeof MessageEvent === 'function') return new MessageEvent('message', fields);
  return Object.assign(new Event(type), fields);
}

function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return new TextEncoder().encode(data);
  throw new TypeError('WebSocket.send: data must be an ArrayBuffer, a typed array or a string');
}

/** A connection straight to `broker.accept`, with the hooks connectPort has. */
function connectBroker(broker, url, on) {
  const conn = broker.accept(
    // Each message is its own ArrayBuffer, exactly the bytes sent.
    { send: (bytes) => on.message(bytes.slice().buffer), close: () => on.close() },
    // In this page or a worker of it: on this machine, so guest may log in.
    { name: `websocket ${url}`, loopback: true },
  );
  on.open();
  // The engine copies the bytes before receive returns: the caller may reuse its buffer.
  return { send: (bytes) => conn.receive(bytes), close: () => conn.closed() };
}

/**
 * A class with the WebSocket API whose instances connect to `target`: a
 * Broker, or a Worker or MessagePort whose other side runs servePort.
 */
export function webSocketFor(target) {
  let connect;
  if (typeof target?.accept === 'function') connect = (url, on) => connectBroker(target, url, on);
  else if (typeof target?.postMessage === 'function') connect = (url, on) => connectPort(target, url, on);
  else throw new TypeError('webSocketFor: target must be a Broker, a Worker or a MessagePort');

  return class BrokerWebSocket extends EventTarget {
    static CONNECTING = CONNECTING;
    static OPEN = OPEN;
    static CLOSING = CLOSING;
    static CLOSED = CLOSED;
    CONNECTING = CONNECTING;
    OPEN = OPEN;
    CLOSING = CLOSING;
    CLOSED = CLOSED;

    binaryType = 'blob';
    bufferedAmount = 0;
    extensions = '';
    protocol = '';
    readyState = CONNECTING;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    #link = null;

    constructor(url, protocols) {
      super();
      this.url = String(url);
      void protocols;
      nextTask(() => this.#connect());
    }

    #connect() {
      if (this.readyState !== CONNECTING) return;
      try {
        this.#link = connect(this.url, {
          open: () => this.#opened(),
          message: (buf) => this.#received(buf),
          close: () => this.#closedByBroker(),
          error: (e) => this.#failed(e),
        });
      } catch (e) {
        this.#failed(e);
      }
    }

    #opened() {
      if (this.readyState !== CONNECTING) return;
      this.readyState = OPEN;
      this.#emit('open', {});
    }

    #failed(e) {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      this.#emit('error', { error: e, message: String(e) });
      this.#emit('close', { code: 1006, reason: String(e), wasClean: false });
    }

    send(data) {
      if (this.readyState === CONNECTING) {
        throw new DOMException(
          "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
          'InvalidStateError',
        );
      }
      if (this.readyState !== OPEN) return;
      this.#link.send(bytesOf(data));
    }

    close(code = 1000, reason = '') {
      if (this.readyState === CLOSING || this.readyState === CLOSED) return;
      this.readyState = CLOSING;
      // A port link exists while connecting too: the other side may accept before it hears this.
      this.#link?.close();
      this.readyState = CLOSED;
      this.#emit('close', { code, reason, wasClean: true });
    }

    #received(buf) {
      const data = this.binaryType === 'arraybuffer' ? buf : new Blob([buf]);
      this.#emit('message', { data });
    }

    #closedByBroker() {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      this.#emit('close', { code: 1000, reason: '', wasClean: true });
    }

    /** One task per event, as a socket has: promise callbacks run between two messages. */
    #emit(type, fields) {
      nextTask(() => {
        const ev = event(type, fields);
        try {
          this[`on${type}`]?.call(this, ev);
        } catch (e) {
          queueMicrotask(() => {
            throw e;
          });
        }
        this.dispatchEvent(ev);
      });
    }
  };
}
