// A mixed load against a server that is killed at a random moment, and the
// at-least-once check after its restart. Shared by bench/crash-cycles.mjs and
// the durability test.
//
// Durable queues, persistent messages, each published with a confirm and a
// unique message-id, in turn to:
//   mix.work    consumed by an acking consumer (every tenth ack late) and by a
//               consumer whose connection is cut every few hundred ms with
//               deliveries unacked (they come back, redelivered)
//   mix.ttl     no consumer; messages expire after 300 ms into mix.dead
//   mix.reject  a consumer rejects every message without requeue: into mix.dead
//   mix.dead    the dead-letter queue; a consumer acks half of what arrives
import { AMQPClient } from '@cloudamqp/amqp-client';
import { closeOrGone, closeSettlesFailedWrites } from './crash-check.mjs';

export const QUEUES = ['mix.work', 'mix.ttl', 'mix.reject', 'mix.dead'];
const DLX = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'mix.dead' };
const ARGS = {
  'mix.work': {},
  'mix.ttl': { 'x-message-ttl': 300, ...DLX },
  'mix.reject': DLX,
  'mix.dead': {},
};
const TARGETS = ['mix.work', 'mix.ttl', 'mix.reject'];

/** What the load did: ids published, confirmed (id -> queue) and acked. */
export const newState = () => ({ next: 1, published: 0, confirmed: new Map(), acked: new Set(), cuts: 0 });

/**
 * How the load reaches a broker: an amqp:// URL (amqp-client.js over TCP) or
 * `{ connect(): Promise<client>, cut(client) }` for another transport
 * (bench/crash-cycles.mjs passes WebSocket clients of workerd).
 */
async function client(target) {
  if (typeof target !== 'string') return target.connect();
  const c = new AMQPClient(target);
  c.onerror = () => {};
  await c.connect();
  return closeSettlesFailedWrites(c);
}

/** Drops a client's transport without a close handshake; false if it is already gone. */
function cut(target, c) {
  if (typeof target !== 'string') return target.cut(c);
  if (!c.socket) return false;
  c.socket.destroy();
  return true;
}

async function declare(ch) {
  for (const q of QUEUES) await ch.queueDeclare(q, { durable: true }, ARGS[q]);
}

/** Cuts its connection's socket (no close handshake) every `ms`, while `live()`. */
async function crashingConsumer(url, state, live) {
  while (live()) {
    let c;
    try {
      c = await client(url);
      const ch = await c.channel();
      await ch.prefetch(20);
      await ch.basicConsume('mix.work', { noAck: false }, () => {}); // never acks
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
    } catch {
      return; // the server is gone
    }
    if (!cut(url, c)) return; // the server closed it first: it is gone
    state.cuts++;
  }
}

/**
 * Runs the load until the server dies or `maxMessages` are published;
 * records what was confirmed and acked in `state`. `url`: see `client()`.
 */
export async function mixedLoad(url, state, opts = {}) {
  const clients = [];
  try {
    await runLoad(url, state, opts, clients);
  } catch {
    // The server went away while the load was being set up: expected.
  }
  await Promise.all(clients.map(closeOrGone));
}

async function runLoad(url, state, { window = 64, maxMessages = 50000 }, clients) {
  const pub = await client(url);
  clients.push(pub);
  const subs = await client(url);
  clients.push(subs);
  const pch = await pub.channel();
  await declare(pch);
  await pch.confirmSelect();
  const ack = (msg, id) =>
    msg.ack().then(
      () => state.acked.add(id),
      () => {},
    );
  const work = await subs.channel();
  await work.prefetch(64);
  await work.basicConsume('mix.work', { noAck: false }, (msg) => {
    const id = Number(msg.properties.messageId);
    if (id % 10 === 0) setTimeout(() => ack(msg, id), 50).unref();
    else ack(msg, id);
  });
  const rej = await subs.channel();
  await rej.prefetch(64);
  await rej.basicConsume('mix.reject', { noAck: false }, (msg) => msg.reject(false).catch(() => {}));
  const dead = await subs.channel();
  await dead.prefetch(64);
  await dead.basicConsume('mix.dead', { noAck: false }, (msg) => {
    const id = Number(msg.properties.messageId);
    if (id % 2 === 0) ack(msg, id);
  });

  let live = true;
  const crashing = crashingConsumer(url, state, () => live);
  const inflight = new Set();
  try {
    for (let n = 0; n < maxMessages; n++) {
      const id = state.next++;
      const queue = TARGETS[id % TARGETS.length];
      state.published++;
      const p = pch
        .basicPublish('', queue, `body ${id}`, { deliveryMode: 2, messageId: String(id) })
        .then(() => state.confirmed.set(id, queue));
      inflight.add(p);
      p.catch(() => {}).finally(() => inflight.delete(p));
      if (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } catch {
    // the server went away mid-publish: expected
  }
  live = false;
  await crashing;
}

/**
 * After a restart: takes every message from every queue and checks at least
 * once. Returns counts and the violations: `lost` (confirmed, not acked, not
 * in any queue) and `phantom` (in a queue, never published). Also counted, as
 * at-least-once allows: `ackedAndBack` (acked before the kill, back because
 * the ack was not yet durable; `ackedBackFlagged` of them redelivered) and
 * `duplicates` (an id in two queues: dead-lettered, and its removal from the
 * source not yet durable). An acked message back without the flag is a
 * violation (`ackedBackUnflagged`): a consumer may take an unflagged message
 * as never seen before (RabbitMQ's reliability guide).
 */
export async function checkMixed(url, state) {
  const c = await client(url);
  const ch = await c.channel();
  await declare(ch);
  const seen = new Map(); // id -> count
  const perQueue = {};
  let redelivered = 0;
  const backFlagged = new Set();
  for (const q of QUEUES) {
    perQueue[q] = 0;
    for (;;) {
      const m = await ch.basicGet(q, { noAck: true });
      if (!m) break;
      const id = Number(m.properties.messageId);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      perQueue[q]++;
      if (m.redelivered) {
        redelivered++;
        if (state.acked.has(id)) backFlagged.add(id);
      }
    }
  }
  await c.close();
  const lost = [...state.confirmed.keys()].filter((id) => !seen.has(id) && !state.acked.has(id));
  const phantom = [...seen.keys()].filter((id) => !(id >= 1 && id < state.next));
  const back = [...state.acked].filter((id) => seen.has(id));
  const ackedAndBack = back.length;
  const ackedBackUnflagged = back.filter((id) => !backFlagged.has(id));
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  const result = {
    confirmed: state.confirmed.size,
    acked: state.acked.size,
    present: [...seen.values()].reduce((a, b) => a + b, 0),
    perQueue,
    redelivered,
    ackedAndBack,
    ackedBackFlagged: backFlagged.size,
    ackedBackUnflagged,
    duplicates,
    lost,
    phantom,
  };
  // What was checked is settled: the next cycle starts from empty queues.
  state.confirmed.clear();
  state.acked.clear();
  return result;
}
