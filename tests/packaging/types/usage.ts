// Compiled by tsc in tests/packaging/types.test.mjs against the package's own
// exports map ("warren-mq" resolves to this repository): every public name,
// used the way the README shows, plus misuses the declarations must reject.
import {
  AMQPError,
  Broker,
  ManualClock,
  MemoryStore,
  RealClock,
  loadEngine,
  webSocketFor,
  type BrokerEvent,
  type Channel,
  type Connection,
  type Consumer,
  type Message,
  type Snapshot,
  type Store,
  type Transport,
} from 'warren-mq';
import { IndexedDBStore } from 'warren-mq/browser';
import * as liteApi from 'warren-mq/lite';
import * as node from 'warren-mq/node';
import * as worker from 'warren-mq/worker';

export async function everything(): Promise<void> {
  await loadEngine();
  const clock = new ManualClock(0);
  const store: Store = new MemoryStore();
  const broker: Broker = await Broker.create({
    users: { guest: { password: 'guest' }, app: { password: 'secret', vhosts: ['/'] } },
    vhosts: ['/', 'test'],
    limits: { maxMessageSize: 1 << 20, channelMax: 64, frameMax: 131072, heartbeat: 0, maxQueuedBytes: 1 << 22 },
    store,
    clock,
    consumerTimeout: 30_000,
    events: true,
    compactAfterBytes: 1 << 24,
  });
  const plain = new node.Broker({ clock: new RealClock() });
  void plain;
  void worker.Broker;

  const unsubscribe = broker.subscribe((events: BrokerEvent[]) => {
    for (const e of events) console.log(e.at, e.type);
  });
  unsubscribe();
  const snap: Snapshot = broker.snapshot();
  const ready: number = snap.queues[0]?.counts.ready ?? 0;
  const tags: number[] = snap.channels.flatMap((c) => c.unacked.map(([tag]) => tag));
  void ready;
  void tags;

  const conn: Connection = await broker.connect({ vhost: '/', name: 'app' });
  conn.onerror = (err: AMQPError) => console.log(err.code, err.replyText, err.classId, err.methodId);
  const ch: Channel = await conn.channel();
  await ch.exchangeDeclare('x', 'topic', { durable: true });
  const q = await ch.queueDeclare('q', { durable: true }, { 'x-message-ttl': 1000, 'x-dead-letter-exchange': 'dlx' });
  const count: number = q.messageCount;
  void count;
  await ch.queueBind('q', 'x', 'a.#');
  await ch.confirmSelect();
  const seq: number = await ch.basicPublish('x', 'a.b', 'hello', {
    contentType: 'text/plain',
    deliveryMode: 2,
    headers: { n: 1, big: 2n, list: [1, 'two', null], when: new Date(), raw: new Uint8Array(2) },
    expiration: '60000',
  });
  void seq;
  await ch.basicPublishBatch('', 'q', ['a', new Uint8Array(1), null]);
  ch.onReturn = (msg) => console.log(msg.replyCode, msg.replyText, msg.bodyString());
  await ch.prefetch(10);
  const consumer: Consumer = await ch.basicConsume('q', { noAck: false, tag: 't' }, async (msg: Message) => {
    const h = msg.properties.headers?.['x-death'];
    void h;
    await msg.extendLease(1000);
    if (msg.redelivered) await msg.reject(false);
    else await msg.ack();
  });
  await consumer.wait(10).catch(() => {});
  await consumer.cancel();
  const got: Message | null = await ch.basicGet('q', { noAck: true });
  if (got) await got.nack(true, false);
  await ch.txSelect();
  await ch.txCommit();
  await ch.close();
  await conn.close();

  const sent: Uint8Array[] = [];
  const transport: Transport = { send: (b) => sent.push(b), close: () => {} };
  const accepted = broker.accept(transport, { name: 'peer' });
  accepted.receive(new Uint8Array(8));
  if (!accepted.wantsRead) accepted.drained();
  accepted.closed();

  const WS = webSocketFor(broker);
  const ws = new WS('ws://in-page');
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (ev) => console.log(ev.data);
  ws.send(new Uint8Array([65, 77, 81, 80, 0, 0, 9, 1]));
  ws.close();

  const idb: Store = new IndexedDBStore('db');
  await IndexedDBStore.destroy('db');
  void idb;
  clock.advance(1000);
  broker.setBlocked('low memory');
  broker.setBlocked(null);
  await broker.close();

  // Misuses the declarations reject.
  // @ts-expect-error the body is not a number
  await ch.basicPublish('', 'q', 42);
  // @ts-expect-error unknown option
  new Broker({ limts: {} });
  // @ts-expect-error noAck is a boolean
  await ch.basicConsume('q', { noAck: 'yes' }, () => {});
  // @ts-expect-error a store needs load and append
  await Broker.create({ store: {} });
}

// warren-mq/lite: the in-process API on the lite engine, without what it leaves out.
export async function lite(): Promise<void> {
  const broker: liteApi.Broker = await liteApi.Broker.create({ consumerTimeout: 60_000, events: true });
  const stop = broker.subscribe((events: liteApi.BrokerEvent[]) => console.log(events.length));
  const conn: liteApi.Connection = await broker.connect({ username: 'guest', password: 'guest' });
  const ch: liteApi.Channel = await conn.channel();
  await ch.queueDeclare('q', { durable: true }, { 'x-max-length': 10 });
  await ch.confirmSelect();
  await ch.basicPublish('', 'q', 'body', { headers: { n: 1 } });
  const msg: liteApi.Message | null = await ch.basicGet('q', { noAck: false });
  msg?.ack();
  stop();
  await broker.close();
  new liteApi.Broker({ clock: new liteApi.ManualClock(0) });
  // @ts-expect-error the lite engine has no AMQP server
  broker.accept({ send() {}, close() {} });
  // @ts-expect-error nor snapshots
  broker.snapshot();
  // @ts-expect-error nor stores
  await liteApi.Broker.create({ store: new MemoryStore() });
}
