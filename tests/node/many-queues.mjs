// Declares queues as fast as one connection can pipeline them, while another
// client's round trips are timed. Shared by hostile-peers.test.mjs (a count
// that fits a test run) and bench/many-queues.mjs (a million).
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { frames, rawConnection } from './raw-amqp.mjs';

/** The resident set of process `pid`, in MiB (from /proc). */
export function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+) kB/)[1]) / 1024;
}

/** A well-behaved client's round trip: connect, declare, publish, get, close. Returns ms. */
export async function roundTrip(url) {
  const t0 = performance.now();
  const c = new AMQPClient(url);
  await c.connect();
  const ch = await c.channel();
  const q = await ch.queueDeclare('', { exclusive: true });
  await ch.basicPublish('', q.name, 'ping');
  const m = await ch.basicGet(q.name, { noAck: true });
  if (m?.bodyToString() !== 'ping') throw new Error('round trip: the message did not come back');
  await c.close();
  return performance.now() - t0;
}

/**
 * Declares `count` queues `${prefix}${i}` on one raw connection (channel 1),
 * written in chunks as fast as the socket takes them, and counts the
 * declare-oks without keeping frames. Meanwhile a worker thread
 * (round-trips.mjs) runs round trips on the server back to back. Stops early after `maxMs`. Resolves with { declared, ms,
 * rtts, rttError (why a round trip failed, or null), closed: { code, text } | null }.
 */
export async function declareMany(server, count, { prefix = 'many.', chunk = 2000, maxMs = 600000 } = {}) {
  const c = await rawConnection(server.amqpPort);
  await c.handshake();
  c.send(frames.channelOpen(1));
  await c.next(c.isMethod(20, 11));
  // From here frames are counted as they arrive, not collected.
  const socket = c.socket;
  socket.removeAllListeners('data');
  c.received.length = 0;
  let declared = 0;
  let closed = null;
  let buf = Buffer.alloc(0);
  let wake = () => {};
  socket.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    let at = 0;
    while (buf.length - at >= 8 && buf.length - at >= 8 + buf.readUInt32BE(at + 3)) {
      const size = buf.readUInt32BE(at + 3);
      if (buf[at] === 1) {
        const cls = buf.readUInt16BE(at + 7);
        const m = buf.readUInt16BE(at + 9);
        if (cls === 50 && m === 11) declared++;
        else if ((cls === 10 || cls === 20) && m === 40) {
          const len = buf[at + 13];
          closed = { code: buf.readUInt16BE(at + 11), text: buf.toString('utf8', at + 14, at + 14 + len) };
        }
      }
      at += 8 + size;
    }
    buf = buf.subarray(at);
    wake();
  });
  socket.on('close', () => wake());

  const t0 = performance.now();
  // The round trips run in a thread of their own: this one is busy writing.
  const timer = new Worker(new URL('./round-trips.mjs', import.meta.url), { workerData: { url: server.url } });
  const timing = new Promise((resolve, reject) => timer.once('message', resolve).once('error', reject));
  for (let i = 0; i < count && !closed && !socket.destroyed && performance.now() - t0 < maxMs; i += chunk) {
    const n = Math.min(chunk, count - i);
    const bytes = Buffer.concat(Array.from({ length: n }, (_, k) => frames.queueDeclare(1, `${prefix}${i + k}`)));
    if (!socket.write(bytes)) await new Promise((r) => socket.once('drain', r));
    else await new Promise((r) => setImmediate(r));
  }
  // Every declare-ok, or the connection's end, or the time is up.
  while (declared < count && !closed && !socket.destroyed && performance.now() - t0 < maxMs) {
    await new Promise((r) => {
      wake = r;
      setTimeout(r, 200);
    });
  }
  const ms = performance.now() - t0;
  timer.postMessage('stop');
  const { rtts, error: rttError } = await timing;
  await timer.terminate();
  socket.destroy();
  return { declared, ms, rtts, rttError, closed };
}
