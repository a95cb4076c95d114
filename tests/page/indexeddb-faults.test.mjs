// IndexedDBStore in real Chromium when the origin runs out of quota: the
// origin's quota is set small through the DevTools protocol
// (Storage.overrideQuotaForOrigin, before the origin first stores anything:
// Chromium reads it then) and mostly filled by another database, so the
// browser itself fails the broker's transaction with QuotaExceededError; room
// is made by deleting that database. No confirm for what was not stored,
// publishers blocked until there is room, and everything confirmed is there
// after a reload.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageSuite } from './harness.mjs';

const MiB = 1024 * 1024;

const suite = pageSuite();

/** A broker on IndexedDBStore `name` in the page, an in-process client, a durable queue; kept on window. */
async function openBroker(page, name) {
  await page.evaluate(async (name) => {
    const { Broker, IndexedDBStore } = await import('/js/entry-browser.js');
    const broker = await Broker.create({ store: new IndexedDBStore(name) });
    const full = [];
    broker.onstorefull = (e) => full.push(e ? `${e.name}: retryable=${e.retryable}` : 'room again');
    const conn = await broker.connect();
    const ch = await conn.channel();
    await ch.queueDeclare('kept', { durable: true });
    await ch.confirmSelect();
    window.t = { broker, conn, ch, full };
  }, name);
}

test('IndexedDB out of quota: no confirm, publishers blocked until there is room, nothing confirmed lost across a reload', async () => {
  const page = await suite.browser.context.newPage();
  await page.goto(`${suite.server.url}js/index.js`); // any page of the origin
  const cdp = await suite.browser.context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(suite.server.url).origin, quotaSize: 3 * MiB });
  // Another database takes 2 MiB of the 3.
  await page.evaluate(async (size) => {
    const req = indexedDB.open('filler', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('s');
    const db = await new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    // Random bytes: Chromium compresses large values, and zeros would take no room.
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
    const tx = db.transaction('s', 'readwrite');
    tx.objectStore('s').put(bytes, 'x');
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onabort = () => reject(tx.error);
    });
    db.close();
  }, 2 * MiB);
  await openBroker(page, 'faults');
  await page.evaluate(async () => {
    for (let i = 0; i < 20; i++) await window.t.ch.basicPublish('', 'kept', `before ${i}`, { deliveryMode: 2 });
  });

  // A message larger than the room left.
  const outcome = await page.evaluate(async (size) => {
    const { ch, conn, full } = window.t;
    let confirmed = false;
    const body = new Uint8Array(size);
    for (let at = 0; at < size; at += 65536) crypto.getRandomValues(body.subarray(at, at + 65536));
    window.t.pending = ch.basicPublish('', 'kept', body, { deliveryMode: 2 }).then(() => (confirmed = true));
    for (let i = 0; i < 100 && conn.blocked === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000)); // retried meanwhile
    return { confirmed, blocked: conn.blocked, full: [...full] };
  }, 1.5 * MiB);
  assert.equal(outcome.confirmed, false, 'a confirm for a message the browser refused to store');
  assert.match(outcome.blocked ?? '', /store full: QuotaExceededError/);
  assert.deepEqual(outcome.full, ['QuotaExceededError: retryable=true']);

  // Room again: the held write goes through, the confirm comes, publishers are unblocked.
  const freed = await page.evaluate(async () => {
    const { conn, full } = window.t;
    await new Promise((resolve, reject) => {
      const req = indexedDB.deleteDatabase('filler');
      req.onsuccess = resolve;
      req.onerror = () => reject(req.error);
    });
    await window.t.pending;
    for (let i = 0; i < 100 && conn.blocked !== undefined; i++) await new Promise((r) => setTimeout(r, 50));
    return { blocked: conn.blocked ?? null, full: [...full] };
  });
  assert.deepEqual(freed, { blocked: null, full: ['QuotaExceededError: retryable=true', 'room again'] });

  // A reload (no close: the page just goes) keeps every confirmed message.
  await page.reload();
  await openBroker(page, 'faults');
  const after = await page.evaluate(async () => {
    const bodies = [];
    for (let m; (m = await window.t.ch.basicGet('kept', { noAck: true }));)
      bodies.push(m.body.byteLength > 1000 ? `big ${m.body.byteLength}` : m.bodyString());
    return bodies;
  });
  assert.deepEqual(after, [...Array.from({ length: 20 }, (_, i) => `before ${i}`), `big ${1.5 * MiB}`]);
  await page.close();
});
