// One benchmark run against any AMQP broker, with amqp-client.js over TCP on a
// single connection (a publishing and a consuming channel): messages/s from
// the first publish until the last message is consumed (and, with confirms,
// the last confirm is in).
import { AMQPClient } from '@cloudamqp/amqp-client';

export const MODES = {
  'auto-ack': { confirms: false, ack: false, persistent: false },
  'confirms + acks': { confirms: true, ack: true, persistent: false },
  'persistent + confirms + acks': { confirms: true, ack: true, persistent: true },
};

// Publishes in flight at once (written but not yet confirmed, or not yet
// flushed to the socket without confirms), and the consumer's prefetch.
export const WINDOW = 512;
export const PREFETCH = 256;

/** Runs `count` messages of `size` bytes in `mode`; resolves with messages/s. */
export async function runWorkload(url, mode, size, count) {
  const { confirms, ack, persistent } = MODES[mode];
  const client = new AMQPClient(url);
  await client.connect();
  // TCP_NODELAY, as most AMQP clients set it (amqp-client.js does not):
  // otherwise Nagle's algorithm holds small publishes and acks back for the
  // peer's delayed ACK, and that, not the broker, sets the pace.
  client.socket?.setNoDelay(true);
  try {
    const pub = await client.channel();
    const sub = await client.channel();
    const queue = `bench-${mode.replace(/\W+/g, '-')}-${size}`;
    await pub.queueDeclare(queue, { durable: persistent, autoDelete: false });
    await pub.queuePurge(queue);
    if (confirms) await pub.confirmSelect();
    if (ack) await sub.prefetch(PREFETCH);
    let received = 0;
    let allIn;
    const consumed = new Promise((resolve) => (allIn = resolve));
    await sub.basicConsume(queue, { noAck: !ack }, (msg) => {
      if (ack) msg.ack();
      if (++received === count) allIn();
    });

    const body = new Uint8Array(size).fill(120);
    const props = persistent ? { deliveryMode: 2 } : {};
    const inflight = new Set();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const p = pub.basicPublish('', queue, body, props);
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      if (inflight.size >= WINDOW) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    await consumed;
    const secs = (performance.now() - t0) / 1000;
    await pub.queueDelete(queue);
    return count / secs;
  } finally {
    await client.close().catch(() => {});
  }
}
