// basicPublishBatch goes to the engine as one run of publishes, its checks
// made once (src/broker/publish_run.rs): what each publish would hear alone
// it still hears, at the publish that causes it, with the ones before it
// published.
import assert from 'node:assert/strict';
import test from 'node:test';
import { Broker } from '../../js/entry-node.js';

async function open(options = {}) {
  const broker = new Broker({ events: false, ...options });
  const conn = await broker.connect();
  return { broker, conn, ch: await conn.channel() };
}

async function drain(ch, q) {
  const out = [];
  for (let m; (m = await ch.basicGet(q));) out.push(m.bodyString());
  return out;
}

test('a body over maxMessageSize in a batch closes the channel there, the bodies before it published', async () => {
  const { broker, conn, ch } = await open({ limits: { maxMessageSize: 8 } });
  await ch.queueDeclare('q');
  const err = await ch.basicPublishBatch('', 'q', ['a', 'b', '123456789', 'c']).catch((e) => e);
  assert.equal(err.code, 406);
  assert.equal(err.replyText, 'PRECONDITION_FAILED - message size 9 is larger than configured max size 8');
  assert.equal(ch.closed, true);
  assert.deepEqual(await drain(await conn.channel(), 'q'), ['a', 'b']);
  await broker.close();
});

test('a batch is held to write permission on its exchange, and to the exchange existing', async () => {
  const users = {
    admin: { password: 'root', tags: ['administrator'] },
    app: { password: 'p', permissions: { '/': { configure: '.*', write: '^app\\.', read: '.*' } } },
  };
  const broker = new Broker({ users, events: false });
  const conn = await broker.connect({ username: 'app', password: 'p' });
  const ch = await conn.channel();
  await ch.queueDeclare('app.jobs');
  await ch.exchangeDeclare('app.x', 'fanout');
  await ch.queueBind('app.jobs', 'app.x');
  await ch.basicPublishBatch('app.x', '', ['a', 'b']);
  const refused = await ch.basicPublishBatch('', 'app.jobs', ['c', 'd']).catch((e) => e);
  assert.equal(refused.code, 403);
  assert.equal(
    refused.replyText,
    "ACCESS_REFUSED - access to exchange 'amq.default' in vhost '/' refused for user 'app'",
  );
  const ch2 = await conn.channel();
  const missing = await ch2.basicPublishBatch('app.missing', '', ['e']).catch((e) => e);
  assert.equal(missing.code, 404);
  assert.equal(missing.replyText, "NOT_FOUND - no exchange 'app.missing' in vhost '/'");
  assert.deepEqual(await drain(await conn.channel(), 'app.jobs'), ['a', 'b']);
  await broker.close();
});

test('a mandatory batch to nowhere returns each body in order; one in a transaction waits for the commit', async () => {
  const { broker, conn, ch } = await open();
  await ch.queueDeclare('q');
  const returned = [];
  ch.onReturn = (m) => returned.push([m.bodyString(), m.replyCode, m.routingKey]);
  await ch.basicPublishBatch('', 'nowhere', ['a', 'b', 'c'], undefined, true);
  assert.deepEqual(returned, [
    ['a', 312, 'nowhere'],
    ['b', 312, 'nowhere'],
    ['c', 312, 'nowhere'],
  ]);
  const other = await conn.channel();
  await ch.txSelect();
  await ch.basicPublishBatch('', 'q', ['d', 'e']);
  assert.deepEqual(await drain(other, 'q'), []);
  await ch.txCommit();
  await ch.basicPublishBatch('', 'q', ['f']);
  await ch.txRollback();
  assert.deepEqual(await drain(other, 'q'), ['d', 'e']);
  await broker.close();
});

test('publishes after an ack in the same batch run on from there: each checked, in order with the ack', async () => {
  const { broker, conn, ch } = await open({ limits: { maxMessageSize: 8 } });
  await ch.queueDeclare('q');
  await ch.queueDeclare('seen');
  const got = [];
  await ch.basicConsume('seen', { noAck: false }, (m) => got.push(m));
  await ch.basicPublish('', 'seen', 'x');
  // One batch: a publish, the ack, then a run to the same place as the first.
  ch.basicPublish('', 'q', 'a');
  got[0].ack();
  const err = await ch.basicPublishBatch('', 'q', ['b', '123456789', 'c']).catch((e) => e);
  assert.equal(err.code, 406);
  assert.equal(ch.closed, true);
  const other = await conn.channel();
  assert.deepEqual(await drain(other, 'q'), ['a', 'b']);
  // The ack ran before the close: nothing went back to 'seen'.
  assert.equal(await other.basicGet('seen'), null);
  await broker.close();
});
