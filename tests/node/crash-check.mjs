// Confirmed publishing and acking against a server that is killed at a random
// moment, and the check after its restart: every confirmed persistent message
// is still in the queue or was delivered and acked. Shared by the test and by
// bench/crash-cycles.mjs.
import { once } from 'node:events';
import { AMQPClient } from '@cloudamqp/amqp-client';

export const QUEUE = 'crash.q';

/**
 * For a connected client whose server is killed under it. amqp-client 4.1.1 leaves a
 * confirm's promise unhandled when a publish's socket write fails: the write
 * error rejects the publish, then the socket's close rejects the confirm,
 * which nothing awaits any more. A write that fails before the client closes
 * is left to that close, which rejects the publish (and every reply awaited)
 * with the same error, so each rejection has a handler.
 */
export function closeSettlesFailedWrites(c) {
  const send = c.send.bind(c);
  c.send = (bytes) =>
    send(bytes).catch((err) => {
      if (c.closed) throw err;
    });
  return c;
}

/**
 * Closes a client whose server may have been killed under it. amqp-client
 * 4.1.1's close() never settles when the socket ends after the close frame was
 * written: a client that is closing takes the socket's end as its own close and
 * rejects nothing. A killed server ends its sockets one by one, so a client
 * that closes both its connections when the first fails can meet that end on
 * the second. Settles when the close does or the socket is gone.
 */
export function closeOrGone(c) {
  const socket = c.socket;
  const closing = c.close();
  return Promise.race([closing, socket ? once(socket, 'close') : closing]).catch(() => {});
}

/**
 * Publishes persistent messages (message-id = a unique number) with confirms,
 * `window` in flight, while a consumer acks some; stops when the connection
 * dies or after `maxMessages`. Records what was confirmed and acked in `state`
 * ({ next, confirmed: Set, acked: Set }).
 */
export async function load(url, state, { window = 64, maxMessages = 20000 } = {}) {
  const pub = new AMQPClient(url);
  const sub = new AMQPClient(url);
  pub.onerror = sub.onerror = () => {};
  await pub.connect();
  await sub.connect();
  closeSettlesFailedWrites(pub);
  closeSettlesFailedWrites(sub);
  const pch = await pub.channel();
  await pch.confirmSelect();
  await pch.queueDeclare(QUEUE, { durable: true });
  const sch = await sub.channel();
  await sch.prefetch(64);
  await sch.basicConsume(QUEUE, { noAck: false }, (msg) => {
    const id = Number(msg.properties.messageId);
    const ack = () =>
      msg.ack().then(
        () => state.acked.add(id),
        () => {},
      );
    // Every tenth message is acked late, so a kill finds some unacked; those
    // must come back, redelivered.
    if (id % 10 === 0) setTimeout(ack, 50).unref();
    else ack();
  });
  const inflight = new Set();
  try {
    for (let n = 0; n < maxMessages; n++) {
      const id = state.next++;
      const p = pch
        .basicPublish('', QUEUE, `body ${id}`, { deliveryMode: 2, messageId: String(id) })
        .then(() => state.confirmed.add(id));
      inflight.add(p);
      p.catch(() => {}).finally(() => inflight.delete(p));
      if (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } catch {
    // the server went away mid-publish: expected
  }
  await Promise.all([closeOrGone(pub), closeOrGone(sub)]);
}

/**
 * After a restart: takes every message from the queue (acking it) and returns
 * { present, redelivered, lost, ackedAndBack } where lost are confirmed ids neither present nor acked.
 */
export async function check(url, state) {
  const c = new AMQPClient(url);
  await c.connect();
  const ch = await c.channel();
  await ch.queueDeclare(QUEUE, { durable: true });
  const present = new Set();
  let redelivered = 0;
  for (;;) {
    const m = await ch.basicGet(QUEUE, { noAck: true });
    if (!m) break;
    present.add(Number(m.properties.messageId));
    if (m.redelivered) redelivered++;
  }
  await c.close();
  const lost = [...state.confirmed].filter((id) => !present.has(id) && !state.acked.has(id));
  // Acks are not confirmed to clients: one sent just before the kill may not
  // have reached the disk, and its message is back. Counted, not an error.
  const ackedAndBack = [...state.acked].filter((id) => present.has(id)).length;
  // What was checked is settled now; the next cycle starts from an empty queue.
  state.confirmed.clear();
  state.acked.clear();
  return { present: present.size, redelivered, lost, ackedAndBack };
}
