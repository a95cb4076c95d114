// Paged queues on IndexedDBStore in real Chromium: a backlog past a tiny page
// budget goes to the store's pages object store; a reload resumes the kept
// broker from its image, or (no image) recovers from the compacted log, and
// reads no page before a consumer drains the queue, in order. A database of
// schema version 1 (a log, no pages) is upgraded with its log kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageSuite } from './harness.mjs';

const N = 1500;
const PAGE_BUDGET = 16 * 1024;

const suite = pageSuite();

/** Page-side helpers, installed on window before each step. */
function install(page) {
  return page.evaluate(() => {
    window.body = (i) => `${String(i).padStart(5, '0')} ${'x'.repeat(200)}`;
    /** A kept broker on IndexedDBStore `name` whose durable queue `backlog` holds `n` confirmed messages. */
    window.keptBacklog = async (name, n, budget, deliveryMode = () => 2) => {
      const { IndexedDBStore, keepAcrossReloads } = await import('/js/entry-browser.js');
      const store = new IndexedDBStore(name);
      const broker = await keepAcrossReloads(name, { store, pageBudget: budget, events: false });
      const ch = await (await broker.connect()).channel();
      await ch.queueDeclare('backlog', { durable: true });
      await ch.confirmSelect();
      const all = [];
      for (let i = 0; i < n; i++)
        all.push(ch.basicPublish('', 'backlog', window.body(i), { deliveryMode: deliveryMode(i) }));
      await Promise.all(all);
      return { store, broker };
    };
    window.counts = (broker, name) => broker.snapshot().queues.find((q) => q.name === name)?.counts;
    /** Consumes `n` messages (no ack), resolving with their numbers. */
    window.drain = async (broker, queue, n) => {
      const ch = await (await broker.connect()).channel();
      const got = [];
      await new Promise((resolve, reject) => {
        setTimeout(() => reject(new Error(`got ${got.length} of ${n}`)), 20000);
        ch.basicConsume(queue, { noAck: true }, (m) => {
          got.push(Number(m.bodyString().slice(0, 5)));
          if (got.length === n) resolve();
        });
      });
      return got;
    };
  });
}

test('a kept broker with a paged queue: reload, resume from the image reading no page, drain in order, transient messages included', async () => {
  const page = await suite.browser.context.newPage();
  await page.goto(`${suite.server.url}js/index.js`); // any page of the origin
  await install(page);
  const filled = await page.evaluate(
    async ({ n, budget }) => {
      const { store, broker } = await window.keptBacklog('kept-paging', n, budget, (i) => (i % 3 ? 2 : 1));
      await broker.keepImage();
      return { counts: window.counts(broker, 'backlog'), pages: await store.pageCount() };
    },
    { n: N, budget: PAGE_BUDGET },
  );
  assert.equal(filled.counts.ready, N);
  assert.ok(filled.counts.paged > N / 2, `paged ${filled.counts.paged}`);
  assert.ok(filled.counts.memory <= PAGE_BUDGET, `memory ${filled.counts.memory}`);
  assert.ok(filled.pages > 5, `${filled.pages} pages`);

  await page.reload();
  await install(page);
  const woken = await page.evaluate(
    async ({ n, budget }) => {
      const { IndexedDBStore, keepAcrossReloads } = await import('/js/entry-browser.js');
      const store = new IndexedDBStore('kept-paging');
      const broker = await keepAcrossReloads('kept-paging', { store, pageBudget: budget, events: false });
      const resumed = { ...window.counts(broker, 'backlog'), reads: store.pageStats.reads };
      const got = await window.drain(broker, 'backlog', n);
      const reads = store.pageStats.reads;
      for (let i = 0; i < 100 && (await store.pageCount()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      return { fromImage: broker.resumedFromImage, resumed, got, reads, left: await store.pageCount() };
    },
    { n: N, budget: PAGE_BUDGET },
  );
  assert.equal(woken.fromImage, true);
  assert.equal(woken.resumed.ready, N);
  assert.ok(woken.resumed.paged > N / 2);
  assert.ok(woken.resumed.reads <= 2, `${woken.resumed.reads} pages read on resume`);
  assert.deepEqual(
    woken.got,
    Array.from({ length: N }, (_, i) => i),
  );
  assert.ok(woken.reads > 5, `${woken.reads} pages read in the drain`);
  assert.equal(woken.left, 0, 'pages read back are deleted');
  // (the favicon of the bare origin is a 404: not an error of the broker)
  assert.deepEqual(
    suite.browser.errors.filter((e) => !/Failed to load resource/.test(e)),
    [],
  );
  await page.close();
});

test('no image: a reload recovers the paged queue from the compacted log without reading its pages; persistent messages come back in order', async () => {
  const page = await suite.browser.context.newPage();
  await page.goto(`${suite.server.url}js/index.js`);
  await install(page);
  const options = { budget: PAGE_BUDGET, n: N };
  const filled = await page.evaluate(async ({ n, budget }) => {
    const { Broker, IndexedDBStore } = await import('/js/entry-browser.js');
    const store = new IndexedDBStore('log-paging');
    const broker = await Broker.create({ store, pageBudget: budget, compactAfterBytes: 64 * 1024, events: false });
    const ch = await (await broker.connect()).channel();
    await ch.queueDeclare('backlog', { durable: true });
    await ch.confirmSelect();
    const all = [];
    for (let i = 0; i < n; i++) all.push(ch.basicPublish('', 'backlog', window.body(i), { deliveryMode: 2 }));
    await Promise.all(all);
    return window.counts(broker, 'backlog');
  }, options);
  assert.ok(filled.paged > N / 2);

  await page.reload(); // the broker just goes, as in a crash
  await install(page);
  const recovered = await page.evaluate(async ({ n, budget }) => {
    const { Broker, IndexedDBStore } = await import('/js/entry-browser.js');
    const store = new IndexedDBStore('log-paging');
    const broker = await Broker.create({ store, pageBudget: budget, events: false });
    const counts = { ...window.counts(broker, 'backlog'), reads: store.pageStats.reads };
    const got = await window.drain(broker, 'backlog', n);
    return { counts, got };
  }, options);
  assert.equal(recovered.counts.ready, N);
  assert.ok(recovered.counts.paged > N / 2, `recovered as pages: ${recovered.counts.paged}`);
  assert.ok(recovered.counts.reads <= 2, `${recovered.counts.reads} pages read at recovery`);
  assert.deepEqual(
    recovered.got,
    Array.from({ length: N }, (_, i) => i),
  );
  await page.close();
});

test('a database of schema version 1 is upgraded with its log kept, and pages from then on', async () => {
  const page = await suite.browser.context.newPage();
  await page.goto(`${suite.server.url}js/index.js`);
  await install(page);
  const result = await page.evaluate(async (budget) => {
    const { Broker, IndexedDBStore } = await import('/js/entry-browser.js');
    // A log written by a broker, laid out as version 1 kept it: chunks only.
    const log = [];
    const plain = { load: async () => null, append: async (b) => void log.push(b.slice()) };
    const first = await Broker.create({ store: plain, events: false });
    const ch = await (await first.connect()).channel();
    await ch.queueDeclare('old', { durable: true });
    await ch.confirmSelect();
    for (let i = 0; i < 10; i++) await ch.basicPublish('', 'old', window.body(i), { deliveryMode: 2 });
    await first.close();
    const req = indexedDB.open('upgraded', 1);
    req.onupgradeneeded = () => req.result.createObjectStore('chunks', { autoIncrement: true });
    const db = await new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const tx = db.transaction('chunks', 'readwrite');
    for (const b of log) tx.objectStore('chunks').add(b);
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();

    const store = new IndexedDBStore('upgraded');
    const broker = await Broker.create({ store, pageBudget: budget, events: false });
    const ready = window.counts(broker, 'old').ready;
    const ch2 = await (await broker.connect()).channel();
    await ch2.confirmSelect();
    for (let i = 10; i < 600; i++) await ch2.basicPublish('', 'old', window.body(i), { deliveryMode: 2 });
    const paged = window.counts(broker, 'old').paged;
    const got = await window.drain(broker, 'old', 600);
    return { ready, paged, got, writes: store.pageStats.writes };
  }, PAGE_BUDGET);
  assert.equal(result.ready, 10, 'the version 1 log is recovered');
  assert.ok(result.paged > 0 && result.writes > 0, `paged ${result.paged}, ${result.writes} page writes`);
  assert.deepEqual(
    result.got,
    Array.from({ length: 600 }, (_, i) => i),
  );
  await page.close();
});

test('a kept image is discarded before a page it names is deleted: a hidden page that drains its queue leaves no image naming a deleted page', async () => {
  const page = await suite.browser.context.newPage();
  await page.goto(`${suite.server.url}js/index.js`);
  await install(page);
  const result = await page.evaluate(
    async ({ n, budget }) => {
      const { store, broker } = await window.keptBacklog('stale-paging', n, budget);
      const image = async () => {
        const req = indexedDB.open('stale-paging:image', 1);
        const db = await new Promise((resolve, reject) => {
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        const get = db.transaction('image').objectStore('image').get('current');
        const v = await new Promise((resolve) => (get.onsuccess = () => resolve(get.result)));
        db.close();
        return v !== undefined;
      };
      await broker.keepImage(); // as hiding the page does
      const keptBefore = await image();
      const got = await window.drain(broker, 'backlog', n);
      return { keptBefore, deletes: store.pageStats.deletes, keptAfter: await image(), got };
    },
    { n: N, budget: PAGE_BUDGET },
  );
  assert.equal(result.keptBefore, true);
  assert.ok(result.deletes > 0, `${result.deletes} pages deleted`);
  assert.equal(result.keptAfter, false, 'an image naming deleted pages is still kept');
  assert.deepEqual(
    result.got,
    Array.from({ length: N }, (_, i) => i),
  );
  await page.close();
});
