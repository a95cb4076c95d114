// The file store under a real server process: recovery after a restart, acks
// that stay acked, SIGKILL at random moments under confirmed publishing, and
// torn or corrupt log tails.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { check, load } from './crash-check.mjs';
import { checkMixed, mixedLoad, newState } from './mixed-load.mjs';
import { sleep, startServer, tmpDir } from './server.mjs';

async function connect(server) {
  const c = new AMQPClient(server.url);
  c.onerror = () => {};
  await c.connect();
  return c;
}

async function drain(ch, queue) {
  const got = [];
  for (let m; (m = await ch.basicGet(queue, { noAck: true }));)
    got.push({ body: m.bodyToString(), redelivered: m.redelivered });
  return got;
}

test('a restart recovers durable exchanges, queues, bindings and persistent messages, not transient ones', async () => {
  const dataDir = tmpDir();
  let server = await startServer({ dataDir });
  let c = await connect(server);
  let ch = await c.channel();
  await ch.confirmSelect();
  await ch.exchangeDeclare('d.x', 'topic', { durable: true });
  await ch.queueDeclare('d.q', { durable: true }, { 'x-max-length': 100 });
  await ch.queueBind('d.q', 'd.x', 'k.#');
  await ch.queueDeclare('t.q', { durable: false });
  await ch.basicPublish('d.x', 'k.1', 'persistent', { deliveryMode: 2 });
  await ch.basicPublish('d.x', 'k.2', 'transient', { deliveryMode: 1 });
  await ch.basicPublish('', 't.q', 'in a transient queue', { deliveryMode: 2 });
  await c.close();
  assert.equal(await server.stop('SIGTERM'), 0);

  server = await startServer({ dataDir });
  assert.match(server.log(), /1 durable queues, 1 messages recovered/);
  c = await connect(server);
  ch = await c.channel();
  await ch.exchangeDeclare('d.x', 'topic', { durable: true, passive: true });
  // The binding survived: a new publish is routed.
  await ch.basicPublish('d.x', 'k.3', 'after restart', { deliveryMode: 2 });
  assert.deepEqual(
    (await drain(ch, 'd.q')).map((m) => m.body),
    ['persistent', 'after restart'],
  );
  await assert.rejects(ch.queueDeclare('t.q', { passive: true }), /404/);
  await c.close();
  assert.equal(await server.stop(), 0);
});

test('after SIGKILL, acked messages stay acked and unacked ones come back redelivered', async () => {
  const dataDir = tmpDir();
  let server = await startServer({ dataDir });
  const c = await connect(server);
  const ch = await c.channel();
  await ch.confirmSelect();
  await ch.queueDeclare('acks', { durable: true });
  for (let i = 0; i < 6; i++) await ch.basicPublish('', 'acks', `m${i}`, { deliveryMode: 2 });
  const got = [];
  for (let i = 0; i < 4; i++) got.push(await ch.basicGet('acks', { noAck: false }));
  await got[0].ack();
  await got[1].ack();
  // A later confirm covers the acks before it: they are on disk now.
  await ch.basicPublish('', 'acks', 'marker', { deliveryMode: 2 });
  assert.equal(await server.stop('SIGKILL'), 'SIGKILL');

  server = await startServer({ dataDir });
  const c2 = await connect(server);
  const after = await drain(await c2.channel(), 'acks');
  await c2.close();
  assert.deepEqual(after.map((m) => m.body).sort(), ['m2', 'm3', 'm4', 'm5', 'marker']);
  // After a crash the log cannot say which were delivered (a delivery's
  // record is written after it goes out): all of them come back flagged.
  assert.ok(
    after.every((m) => m.redelivered),
    JSON.stringify(after),
  );
  assert.equal(await server.stop(), 0);
});

/** Publishes `bodies` (persistent, confirmed) to a new durable queue and takes the first unacked. */
async function publishAndHoldFirst(server, queue, bodies) {
  const c = await connect(server);
  const ch = await c.channel();
  await ch.confirmSelect();
  await ch.queueDeclare(queue, { durable: true });
  for (const b of bodies) await ch.basicPublish('', queue, b, { deliveryMode: 2 });
  assert.equal((await ch.basicGet(queue, { noAck: false })).bodyToString(), bodies[0]);
  return c;
}

test('after a clean stop only what was delivered comes back flagged redelivered', async () => {
  const dataDir = tmpDir();
  let server = await startServer({ dataDir });
  await publishAndHoldFirst(server, 'flags', ['a', 'b', 'c']);
  assert.equal(await server.stop('SIGTERM'), 0);

  server = await startServer({ dataDir });
  const c = await connect(server);
  const after = await drain(await c.channel(), 'flags');
  await c.close();
  assert.deepEqual(after, [
    { body: 'a', redelivered: true },
    { body: 'b', redelivered: false },
    { body: 'c', redelivered: false },
  ]);
  assert.equal(await server.stop(), 0);
});

test('the flags a crash put on recovered messages survive a clean restart after it', async () => {
  const dataDir = tmpDir();
  let server = await startServer({ dataDir });
  await publishAndHoldFirst(server, 'flags', ['a', 'b', 'c']);
  assert.equal(await server.stop('SIGKILL'), 'SIGKILL');
  // Recovered after the crash, and stopped cleanly with nothing else done.
  server = await startServer({ dataDir });
  assert.equal(await server.stop('SIGTERM'), 0);

  server = await startServer({ dataDir });
  const c = await connect(server);
  const after = await drain(await c.channel(), 'flags');
  await c.close();
  assert.deepEqual(
    after,
    ['a', 'b', 'c'].map((body) => ({ body, redelivered: true })),
  );
  assert.equal(await server.stop(), 0);
});

test('SIGKILL at random moments under confirmed publishing loses no confirmed message', async () => {
  const dataDir = tmpDir();
  const state = { next: 1, confirmed: new Set(), acked: new Set() };
  const cycles = 4;
  let totalConfirmed = 0;
  for (let cycle = 0; cycle < cycles; cycle++) {
    const server = await startServer({ dataDir });
    if (cycle > 0) {
      const result = await check(server.url, state);
      assert.deepEqual(result.lost, [], `cycle ${cycle}: confirmed messages lost`);
    }
    const loading = load(server.url, state);
    await sleep(150 + Math.random() * 600);
    totalConfirmed += state.confirmed.size;
    server.child.kill('SIGKILL');
    await server.exited;
    await loading;
  }
  const server = await startServer({ dataDir });
  const result = await check(server.url, state);
  assert.deepEqual(result.lost, []);
  assert.equal(await server.stop(), 0);
  assert.ok(totalConfirmed > 0 || state.next > 1, 'some messages were published');
});

test('SIGKILL under a mixed load (acks, cut consumers, rejects, TTLs, dead-lettering): nothing confirmed lost, nothing unpublished back', async () => {
  const dataDir = tmpDir();
  const state = newState();
  let checked = 0;
  for (let cycle = 0; cycle < 3; cycle++) {
    const server = await startServer({ dataDir });
    if (cycle > 0) {
      const r = await checkMixed(server.url, state);
      assert.deepEqual(r.lost, [], `cycle ${cycle}: confirmed messages lost`);
      assert.deepEqual(r.phantom, [], `cycle ${cycle}: messages never published`);
      assert.deepEqual(r.ackedBackUnflagged, [], `cycle ${cycle}: acked messages back without the redelivered flag`);
      checked += r.confirmed;
    }
    const loading = mixedLoad(server.url, state);
    await sleep(300 + Math.random() * 600);
    server.child.kill('SIGKILL');
    await server.exited;
    await loading;
  }
  const server = await startServer({ dataDir });
  const r = await checkMixed(server.url, state);
  assert.deepEqual(r.lost, []);
  assert.deepEqual(r.phantom, []);
  assert.equal(await server.stop(), 0);
  assert.ok(checked + r.confirmed > 0, 'some messages were confirmed');
});

/** The last .log segment of a data directory. */
function lastSegment(dataDir) {
  const segs = fs
    .readdirSync(dataDir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  return path.join(dataDir, segs.at(-1));
}

async function publishConfirmed(server, queue, bodies) {
  const c = await connect(server);
  const ch = await c.channel();
  await ch.confirmSelect();
  await ch.queueDeclare(queue, { durable: true });
  for (const b of bodies) await ch.basicPublish('', queue, b, { deliveryMode: 2 });
  await c.close();
}

async function bodies(server, queue) {
  const c = await connect(server);
  const ch = await c.channel();
  const ok = await ch.queueDeclare(queue, { durable: true, passive: true });
  const got = [];
  // Consume and requeue-less peek: get all, then put them back by not acking.
  for (let i = 0; i < ok.messageCount; i++) got.push((await ch.basicGet(queue, { noAck: false })).bodyToString());
  await c.close(); // unacked: they return to the queue
  return got;
}

test('a torn tail is cut and logged; the server starts and later records are readable', async () => {
  const dataDir = tmpDir();
  let server = await startServer({ dataDir });
  await publishConfirmed(server, 'torn', ['a', 'b', 'c']);
  assert.equal(await server.stop(), 0);

  const seg = lastSegment(dataDir);
  fs.truncateSync(seg, fs.statSync(seg).size - 3);
  server = await startServer({ dataDir });
  await server.waitFor(/store: recovery stopped at a damaged record/);
  await server.waitFor(/store: cut \d+ damaged bytes/);
  // Only the torn record (the last one written) is gone.
  const kept = await bodies(server, 'torn');
  assert.deepEqual(kept, ['a', 'b', 'c'].slice(0, kept.length));
  assert.ok(kept.length >= 2, `kept ${kept}`);
  await publishConfirmed(server, 'torn', ['d']);
  assert.equal(await server.stop(), 0);

  server = await startServer({ dataDir });
  assert.doesNotMatch(server.log(), /damaged/);
  assert.deepEqual(await bodies(server, 'torn'), [...kept, 'd']);
  assert.equal(await server.stop(), 0);
});

test('garbage after the last record is cut without losing any record', async () => {
  const dataDir = tmpDir();
  let server = await startServer({ dataDir });
  await publishConfirmed(server, 'garbage', ['x', 'y']);
  assert.equal(await server.stop(), 0);
  fs.appendFileSync(lastSegment(dataDir), Buffer.from([0, 0, 0, 9, 1, 2, 3, 4, 5, 6]));
  server = await startServer({ dataDir });
  await server.waitFor(/store: cut 10 damaged bytes/);
  assert.deepEqual(await bodies(server, 'garbage'), ['x', 'y']);
  assert.equal(await server.stop(), 0);
});

test('a second server on the same data directory refuses to start', async () => {
  const dataDir = tmpDir();
  const first = await startServer({ dataDir });
  try {
    await assert.rejects(startServer({ dataDir }), /cannot start: data directory .* is in use by process \d+/);
  } finally {
    assert.equal(await first.stop(), 0);
  }
});
