// A few AMQP frames by hand, for tests that must send what no client library
// would: frames on unopened channels, stray content, bad frame ends.
import net from 'node:net';

export const shortstr = (s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
export const longstr = (b) => {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(b.length);
  return Buffer.concat([n, b]);
};
export const u16 = (n) => Buffer.from([n >> 8, n & 255]);
export const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

export function frame(type, channel, payload, end = 0xce) {
  return Buffer.concat([Buffer.from([type]), u16(channel), u32(payload.length), payload, Buffer.from([end])]);
}

export const method = (channel, classId, methodId, ...args) =>
  frame(1, channel, Buffer.concat([u16(classId), u16(methodId), ...args]));

export const frames = {
  startOk: () =>
    method(0, 10, 11, u32(0), shortstr('PLAIN'), longstr(Buffer.from('\0guest\0guest')), shortstr('en_US')),
  tuneOk: () => method(0, 10, 31, u16(2047), u32(131072), u16(0)),
  open: (vhost = '/') => method(0, 10, 40, shortstr(vhost), shortstr(''), Buffer.from([0])),
  close: () => method(0, 10, 50, u16(200), shortstr('bye'), u16(0), u16(0)),
  closeOk: () => method(0, 10, 51),
  channelOpen: (ch) => method(ch, 20, 10, shortstr('')),
  publish: (ch, queue) => method(ch, 60, 40, u16(0), shortstr(''), shortstr(queue), Buffer.from([0])),
  // A content header: class 60, weight 0, body size, no properties.
  header: (ch, size) => frame(2, ch, Buffer.concat([u16(60), u16(0), u32(0), u32(size), u16(0)])),
  body: (ch, bytes) => frame(3, ch, bytes),
  queueDeclare: (ch, name) => method(ch, 50, 10, u16(0), shortstr(name), Buffer.from([0]), u32(0)),
  consume: (ch, queue, noAck) =>
    method(ch, 60, 20, u16(0), shortstr(queue), shortstr(''), Buffer.from([noAck ? 2 : 0]), u32(0)),
};

/** A TCP connection that collects the frames it receives. */
export async function rawConnection(port) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const c = collector((bytes) => socket.write(bytes));
  socket.on('data', c.data);
  socket.on('error', () => {});
  socket.on('close', c.ended);
  return { socket, ...c };
}

/**
 * The same over AMQP-over-WebSocket (a `ws` WebSocket, binary messages):
 * `ws.close()` is the client's end; `closed()` resolves once the socket is
 * closed, whoever closed it.
 */
export async function rawWebSocket(url) {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url, 'amqp');
  ws.binaryType = 'nodebuffer';
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const c = collector((bytes) => ws.send(bytes));
  ws.on('message', c.data);
  ws.on('error', () => {});
  ws.on('close', c.ended);
  return { ws, ...c };
}

/** The frames in the bytes given to `data`; `write` sends bytes to the server. */
function collector(write) {
  let buf = Buffer.alloc(0);
  const received = [];
  let closed = false;
  const closedWaiters = [];
  const waiters = new Set();
  const wake = () => waiters.forEach((w) => w());
  const data = (d) => {
    buf = Buffer.concat([buf, d]);
    if (received.length === 0 && buf.length >= 8 && buf.toString('latin1', 0, 4) === 'AMQP') {
      received.push({ header: buf.subarray(0, 8) });
      buf = buf.subarray(8);
    }
    while (buf.length >= 7 && buf.length >= 8 + buf.readUInt32BE(3)) {
      const size = buf.readUInt32BE(3);
      const f = { type: buf[0], channel: buf.readUInt16BE(1), payload: buf.subarray(7, 7 + size) };
      if (f.type === 1) {
        f.classId = f.payload.readUInt16BE(0);
        f.methodId = f.payload.readUInt16BE(2);
      }
      received.push(f);
      buf = buf.subarray(8 + size);
    }
    wake();
  };
  const ended = () => {
    closed = true;
    closedWaiters.splice(0).forEach((r) => r());
    wake();
  };
  /** Resolves with the first received frame matching `pred` (after `from`). */
  function next(pred, ms = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const f = received.find(pred);
        if (f) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(f);
        } else if (closed) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(
            new Error(
              `socket closed; received ${JSON.stringify(received.map((r) => [r.type, r.classId, r.methodId]))}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error('timeout waiting for a frame'));
      }, ms);
      waiters.add(check);
      check();
    });
  }
  const isMethod = (c, m) => (f) => f.classId === c && f.methodId === m;

  return {
    data,
    ended,
    received,
    next,
    isMethod,
    send: (...bufs) => write(Buffer.concat(bufs)),
    /** Resolves once the socket is closed. */
    closed: () => new Promise((r) => (closed ? r() : closedWaiters.push(r))),
    /** The handshake up to open-ok. */
    async handshake(vhost = '/') {
      write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
      await next(isMethod(10, 10));
      write(frames.startOk());
      await next(isMethod(10, 30));
      write(Buffer.concat([frames.tuneOk(), frames.open(vhost)]));
      await next(isMethod(10, 41));
    },
    /** Reply code, text and the failed method's ids of a connection.close (10.50) or channel.close (20.40). */
    async closeReason(c, m) {
      const f = await next(isMethod(c, m));
      const len = f.payload[6];
      return {
        code: f.payload.readUInt16BE(4),
        text: f.payload.toString('utf8', 7, 7 + len),
        channel: f.channel,
        ids: [f.payload.readUInt16BE(7 + len), f.payload.readUInt16BE(9 + len)],
      };
    },
  };
}
