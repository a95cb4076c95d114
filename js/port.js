// AMQP connections across a MessagePort: a broker in a worker, clients in the
// page. Each connection gets its own MessageChannel, so its bytes keep their
// order and its close reaches only it. On a connection's port, an ArrayBuffer
// is bytes; 'open', 'close' and { error } are the only other messages.

const CONNECT = 'warren-mq/connect';

/** The bytes' own buffer when they span all of it (transferred, not copied), else a copy. */
function ownBuffer(bytes) {
  const whole = bytes.byteLength > 0 && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole ? bytes.buffer : bytes.slice().buffer;
}

function post(port, bytes) {
  const buf = ownBuffer(bytes);
  port.postMessage(buf, [buf]);
}

/**
 * Accepts connections that `webSocketFor(worker or port)` opens: `port` is a
 * MessagePort or a worker's global scope. Returns a function that stops
 * accepting (open connections stay).
 */
export function servePort(broker, port) {
  if (typeof broker?.accept !== 'function') throw new TypeError('servePort: broker must be a Broker');
  const onMessage = (e) => {
    if (e.data?.type === CONNECT && e.ports?.[0]) acceptOn(broker, e.ports[0], String(e.data.url));
  };
  port.addEventListener('message', onMessage);
  port.start?.(); // a MessagePort holds its messages until started
  return () => port.removeEventListener('message', onMessage);
}

function acceptOn(broker, port, url) {
  // 'open' goes first so that it precedes any bytes the broker sends.
  port.postMessage('open');
  let conn;
  try {
    conn = broker.accept(
      {
        send: (bytes) => post(port, bytes),
        close: () => {
          port.postMessage('close');
          port.close();
        },
      },
      // In this page or a worker of it: on this machine, so guest may log in.
      { name: `websocket ${url}`, loopback: true },
    );
  } catch (e) {
    port.postMessage({ error: String(e) });
    port.close();
    return;
  }
  port.onmessage = ({ data }) => {
    if (data instanceof ArrayBuffer) conn.receive(new Uint8Array(data));
    else if (data === 'close') {
      port.close();
      conn.closed();
    }
  };
}

/**
 * Opens a connection to the servePort on the other side of `target` (a
 * Worker or a MessagePort); `on` hears open, message (an ArrayBuffer),
 * close and error. Returns the connection's send and close.
 */
export function connectPort(target, url, on) {
  const { port1: port, port2 } = new MessageChannel();
  let done = false;
  const end = () => {
    done = true;
    port.onmessage = null;
    port.close();
  };
  port.onmessage = ({ data }) => {
    if (done) return;
    if (data instanceof ArrayBuffer) on.message(data);
    else if (data === 'open') on.open();
    else if (data === 'close') {
      end();
      on.close();
    } else if (data?.error !== undefined) {
      end();
      on.error(new Error(data.error));
    }
  };
  target.postMessage({ type: CONNECT, url }, [port2]);
  return {
    // The caller may reuse its buffer: this one is a copy, handed over whole.
    send: (bytes) => {
      const copy = bytes.slice();
      port.postMessage(copy.buffer, [copy.buffer]);
    },
    close: () => {
      if (done) return;
      port.postMessage('close'); // queued before the close, so it is delivered
      end();
    },
  };
}
