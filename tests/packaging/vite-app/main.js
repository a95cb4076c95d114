// A broker in the page, an AMQP client talking to it through the WebSocket
// stand-in, and an IndexedDB store. The test drives it through window.warren.
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client/amqp-websocket-client';
import { Broker, IndexedDBStore, webSocketFor } from 'warren-mq';

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

window.warren = { firstVisit, secondVisit };
document.getElementById('status').textContent = 'ready';
