// The packed tarball in a Vite app, in headless Chromium: a broker in the
// page, amqp-client.js's AMQPWebSocketClient connected through the WebSocket
// stand-in (publish with confirms, consume with acks), and the IndexedDB
// store keeping a durable message across a reload.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'node:test';
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

test('a Vite app from the packed tarball runs a broker in Chromium', { timeout: 300_000 }, async (t) => {
  const [dir, remove] = tempDir('warren-vite-');
  t.after(remove);
  const { tarball } = pack(dir);
  const app = path.join(dir, 'app');
  fs.cpSync(path.join(root, 'tests', 'packaging', 'vite-app'), app, { recursive: true });
  install(app, { 'warren-mq': `file:${tarball}`, '@cloudamqp/amqp-client': devVersion('@cloudamqp/amqp-client') });
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const dist = path.join(app, 'dist');
  const assets = fs.readdirSync(path.join(dist, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the wasm is emitted as an asset: ${assets}`);

  const [url, stop] = await serve(dist);
  t.after(stop);
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: 60_000,
  });
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(30_000);

  await page.goto(url);
  await page.waitForFunction(() => window.warren !== undefined);
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
  assert.deepEqual(second, { kept: 'survives a reload', redelivered: false, jobs: null });
  assert.deepEqual(errors, []);
});
