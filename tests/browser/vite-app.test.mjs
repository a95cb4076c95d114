// The packed tarball in a Vite app, in headless Chromium: a broker in the
// page, amqp-client.js's AMQPWebSocketClient connected through the WebSocket
// stand-in (publish with confirms, consume with acks), and the IndexedDB
// store keeping a durable message across a reload; then the broker in a
// module worker, the client in the page, connected through a MessagePort;
// and warren-mq/lite, whose page fetches the lite engine alone.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { devVersion, install, pack, root, tempDir } from '../packaging/tarball.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

/** Serves `dir` on 127.0.0.1 at a free port; resolves with [url, close]. */
function serve(dir) {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.join(dir, rel);
    if (!file.startsWith(dir + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve([`http://127.0.0.1:${server.address().port}/`, () => server.close()])),
  );
}

// The app is packed, installed and built once; each test opens its own page.
let url;
let context;
let dir;
const cleanup = [];

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

before(
  async () => {
    let remove;
    [dir, remove] = tempDir('warren-vite-');
    cleanup.push(remove);
    const { tarball } = pack(dir);
    const app = path.join(dir, 'app');
    fs.cpSync(path.join(root, 'tests', 'packaging', 'vite-app'), app, { recursive: true });
    install(app, { 'warren-mq': `file:${tarball}`, '@cloudamqp/amqp-client': devVersion('@cloudamqp/amqp-client') });
    execFileSync(
      process.execPath,
      [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'],
      {
        cwd: app,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    const dist = path.join(app, 'dist');
    let stop;
    [url, stop] = await serve(dist);
    cleanup.push(stop);
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 60_000,
    });
    cleanup.push(() => context.close());
  },
  { timeout: 300_000 },
);

/** A page of the app; `errors` collects uncaught errors and console errors. */
async function open(t) {
  const page = await context.newPage();
  t.after(() => page.close());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  await page.waitForFunction(() => window.warren !== undefined);
  return [page, errors];
}

test('a Vite app from the packed tarball runs a broker in Chromium', { timeout: 120_000 }, async (t) => {
  const assets = fs.readdirSync(path.join(dir, 'app', 'dist', 'assets'));
  assert.ok(
    assets.some((f) => f.endsWith('.wasm')),
    `the wasm is emitted as an asset: ${assets}`,
  );
  const [page, errors] = await open(t);
  const first = await page.evaluate(() => window.warren.firstVisit());
  assert.deepEqual(first.seqs, [1, 2, 3, 4]);
  assert.deepEqual(first.consumed, ['a', 'b', 'c']);
  assert.deepEqual(first.counts, [
    ['jobs', 0, 0],
    ['kept', 1, 0],
  ]);

  await page.reload();
  await page.waitForFunction(() => window.warren !== undefined);
  const second = await page.evaluate(() => window.warren.secondVisit());
  // A reload closes nothing: IndexedDB cannot say the delivery records are
  // complete, so the recovered message comes back flagged, as after a crash.
  assert.deepEqual(second, { kept: 'survives a reload', redelivered: true, jobs: null });
  assert.deepEqual(errors, []);
});

test(
  'a broker kept across a reload: transient messages back, the delivery the page held redelivered',
  { timeout: 120_000 },
  async (t) => {
    const [page, errors] = await open(t);
    const first = await page.evaluate(() => window.warren.keptFirstVisit());
    assert.deepEqual(first, { resumed: false, held: 'one' });
    await page.reload();
    await page.waitForFunction(() => window.warren !== undefined);
    const second = await page.evaluate(() => window.warren.keptSecondVisit());
    assert.deepEqual(second, {
      resumed: true,
      error: null,
      got: [
        ['one', true],
        ['two', false],
        ['three', false],
      ],
    });
    assert.deepEqual(errors, []);
  },
);

test('the broker in a module worker, AMQPWebSocketClient in the page', { timeout: 120_000 }, async (t) => {
  const assets = fs.readdirSync(path.join(dir, 'app', 'dist', 'assets'));
  assert.ok(
    assets.some((f) => /^broker-worker.*\.js$/.test(f)),
    `the worker is bundled: ${assets}`,
  );
  const [page, errors] = await open(t);
  const r = await page.evaluate(() => window.warren.workerVisit());
  assert.deepEqual(r.seqs, [1, 2, 3]);
  assert.deepEqual(r.consumed, ['one', 'two', 'three']);
  assert.equal(r.readyState, 3);
  assert.equal(r.dropped.at(-1), 'connection not cleanly closed (1000)', 'the client saw its socket go');
  assert.deepEqual(r.redelivered, ['three', true], 'the unacked delivery comes back to the second client');
  assert.equal(r.left, 0);
  assert.deepEqual(errors, []);
});

test(
  'warren-mq/lite in a Vite app: the page fetches the lite engine alone, and a client works',
  { timeout: 120_000 },
  async (t) => {
    const page = await context.newPage();
    t.after(() => page.close());
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const wasm = [];
    page.on('response', (res) => res.url().endsWith('.wasm') && wasm.push(res));
    page.setDefaultTimeout(30_000);
    await page.goto(`${url}lite.html`);
    await page.waitForFunction(() => window.warrenLite !== undefined);
    const r = await page.evaluate(() => window.warrenLite.run());
    assert.deepEqual(r.seqs, [1, 2]);
    assert.deepEqual(r.consumed, [
      ['a', false],
      ['a', true],
      ['b', false],
    ]);
    assert.match(r.snapshot, /^Broker.snapshot is not in warren-mq\/lite/);
    const sizes = await Promise.all(wasm.map(async (res) => (await res.body()).length));
    assert.deepEqual(
      sizes,
      [fs.statSync(path.join(root, 'pkg', 'warren_lite_bg.wasm')).size],
      'one wasm: the lite one',
    );
    assert.deepEqual(errors, []);
  },
);
