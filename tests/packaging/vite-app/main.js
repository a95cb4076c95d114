// A broker in the page, an AMQP client talking to it through the WebSocket
// stand-in, and an IndexedDB store; then a broker in a worker, reached through
// a MessagePort. The test drives it through window.warren.
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client/amqp-websocket-client';
import { Broker, IndexedDBStore, keepAcrossReloads, webSocketFor } from 'warren-mq';

const DB = 'warren-vite-test';

/** Publishes with confirms and consumes with acks over AMQP; leaves one durable message. */
async function firstVisit() {
  await IndexedDBStore.destroy(DB);
  const broker = await Broker.create({ store: new IndexedDBStore(DB) });
  window.WebSocket = webSocketFor(broker);
  const client = new AMQPWebSocketClient({ url: 'ws://in-page/amqp' });
  const conn = await client.connect();
  const ch = await conn.channel();
  await ch.queueDeclare('jobs', { durable: true });
  await ch.queueDeclare('kept', { durable: true });
  await ch.confirmSelect();
  const seqs = [];
  for (const body of ['a', 'b', 'c']) seqs.push(await ch.basicPublish('', 'jobs', body, { deliveryMode: 2 }));
  seqs.push(await ch.basicPublish('', 'kept', 'survives a reload', { deliveryMode: 2 }));

  const consumed = [];
  await ch.prefetch(1);
  await new Promise((resolve) => {
    ch.basicConsume('jobs', { noAck: false }, async (msg) => {
      consumed.push(msg.bodyToString());
      await msg.ack();
      if (consumed.length === 3) resolve();
    });
  });
  const counts = broker.snapshot().queues.map((q) => [q.name, q.counts.ready, q.counts.unacked]);
  await client.close();
  await broker.close(); // flushes the store
  return { seqs, consumed, counts };
}

/** After a reload: the durable message is back, read through the in-process client. */
async function secondVisit() {
  const broker = await Broker.create({ store: new IndexedDBStore(DB) });
  const ch = await (await broker.connect()).channel();
  const kept = await ch.basicGet('kept', { noAck: false });
  const jobs = await ch.basicGet('jobs');
  const result = { kept: kept?.bodyString() ?? null, redelivered: kept?.redelivered, jobs: jobs && jobs.bodyString() };
  await broker.close();
  return result;
}

/** A kept broker: transient messages, one of them out unacked to a consumer in the page, then an image. */
async function keptFirstVisit() {
  indexedDB.deleteDatabase('warren-vite-kept:image');
  const broker = await keepAcrossReloads('warren-vite-kept');
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('scratch', { durable: false });
  for (const body of ['one', 'two', 'three']) await ch.basicPublish('', 'scratch', body);
  await ch.basicQos(1);
  const first = await new Promise((resolve) => ch.basicConsume('scratch', { noAck: false }, resolve));
  await broker.keepImage();
  return { resumed: broker.resumedFromImage, held: first.bodyString() };
}

/** After a reload: everything back, the delivery the page held redelivered first. */
async function keptSecondVisit() {
  const broker = await keepAcrossReloads('warren-vite-kept');
  const ch = await (await broker.connect()).channel();
  const got = [];
  for (;;) {
    const m = await ch.basicGet('scratch', { noAck: true });
    if (!m) break;
    got.push([m.bodyString(), m.redelivered]);
  }
  return { resumed: broker.resumedFromImage, error: broker.keptImageError?.message ?? null, got };
}

/** Resolves once the worker's broker serves its port; rejects on its errors. */
function started(worker) {
  return new Promise((resolve, reject) => {
    worker.addEventListener('message', ({ data }) => (data === 'ready' ? resolve() : reject(new Error(data.error))));
    worker.addEventListener('error', (e) => reject(new Error(`worker: ${e.message}`)));
  });
}

/** Resolves with the first delivery on `queue`, or null after `ms`. */
function firstDelivery(ch, queue, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    ch.basicConsume(queue, { noAck: false }, (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/**
 * The broker in a module worker, the client in the page: publish with
 * confirms, consume with acks, then drop the socket with a delivery unacked;
 * a second client gets it redelivered.
 */
async function workerVisit() {
  const worker = new Worker(new URL('./broker-worker.js', import.meta.url), { type: 'module' });
  try {
    await started(worker);
    window.WebSocket = webSocketFor(worker);
    const client = new AMQPWebSocketClient({ url: 'ws://worker/amqp' });
    const dropped = [];
    client.onerror = (e) => dropped.push(e.message); // the default logs to the console
    const ch = await (await client.connect()).channel();
    await ch.queueDeclare('work');
    await ch.confirmSelect();
    const seqs = [];
    for (const body of ['one', 'two', 'three']) seqs.push(await ch.basicPublish('', 'work', body));

    const consumed = [];
    await ch.prefetch(1);
    await new Promise((resolve) => {
      ch.basicConsume('work', { noAck: false }, async (msg) => {
        consumed.push(msg.bodyToString());
        if (consumed.length < 3) await msg.ack();
        else resolve();
      });
    });
    // The socket itself, no AMQP close: as a tab that goes away.
    const socket = client.socket;
    socket.close();

    const other = new AMQPWebSocketClient({ url: 'ws://worker/amqp' });
    const ch2 = await (await other.connect()).channel();
    const msg = await firstDelivery(ch2, 'work', 5000);
    await msg?.ack();
    const left = await ch2.queueDeclare('work', { passive: true });
    await other.close();
    return {
      seqs,
      consumed,
      redelivered: msg && [msg.bodyToString(), msg.redelivered],
      left: left.messageCount,
      readyState: socket.readyState,
      dropped,
    };
  } finally {
    worker.terminate();
  }
}

window.warren = { firstVisit, secondVisit, keptFirstVisit, keptSecondVisit, workerVisit };
document.getElementById('status').textContent = 'ready';
