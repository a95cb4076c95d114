// What the page tests share: a static server for www/ (at /), js/ and pkg/
// on 127.0.0.1:0, and a headless Chromium with a fresh profile that records
// console errors and uncaught exceptions.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const shots = path.join(root, 'test-results', 'page');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** Serves the page as `warren-mq serve` lays it out; resolves with its base URL and a close(). */
export function serveStatic() {
  const dirs = [
    ['/pkg/', path.join(root, 'pkg')],
    ['/js/', path.join(root, 'js')],
    ['/', path.join(root, 'www')],
  ];
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [prefix, dir] = dirs.find(([p]) => url.startsWith(p));
    let file = path.join(dir, url.slice(prefix.length));
    if (url.endsWith('/')) file = path.join(file, 'index.html');
    if (!file.startsWith(dir) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * A Chromium with a fresh profile; `errors` collects console errors and page
 * exceptions. Service workers are off unless asked for: tests see the files as served.
 */
export async function launch({ serviceWorkers = 'block' } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-page-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 800 },
    serviceWorkers,
  });
  const errors = [];
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`exception: ${e.stack ?? e.message}`));
  };
  context.on('page', watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    errors,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens `hash` and waits until the lesson (or view) has its broker running.
 * On a page already open, going to another hash is an in-page navigation: the
 * last view reads ready until the page routes, so the new route's nav item is
 * waited for too (as `navigated` does).
 */
export async function open(page, base, hash) {
  await page.goto(`${base}#${hash}`);
  const route = hash.startsWith('playground')
    ? 'playground'
    : hash.startsWith('compare')
      ? 'compare'
      : (/^lesson-\d/.exec(hash)?.[0] ?? hash);
  await navigated(page, hash, route);
}

/**
 * Waits for an in-page navigation to `#hash` (nav item `route`) to finish.
 * The hash changes at the click while the last view still reads ready; the
 * page marks its nav item in the same step that clears ready, so both
 * together mean the new view is up.
 */
export async function navigated(page, hash, route = hash) {
  await page.waitForFunction(
    ([h, r]) =>
      location.hash === `#${h}` &&
      document.querySelector('#nav a[aria-current="page"]')?.dataset.route === r &&
      document.documentElement.dataset.ready === 'true',
    [hash, route],
  );
}

export async function screenshot(page, name) {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** The value of one counter as the page shows it. */
export async function counter(page, key) {
  return Number(await page.locator(`[data-counter="${key}"] .n`).textContent());
}

/** Waits until a counter reaches `at least`. */
export async function waitCounter(page, key, atLeast, timeout = 20000) {
  await page.waitForFunction(
    ([k, n]) => Number(document.querySelector(`[data-counter="${k}"] .n`)?.textContent) >= n,
    [key, atLeast],
    { timeout },
  );
}

/** Sets the speed slider (0.1 to 10) through the range input. */
export async function setSpeed(page, speed) {
  await page.locator('#speed').fill(String(Math.log10(speed)));
}

/** Runs `fn` (a click that resets the lesson) and waits until the new broker is up. */
export async function whileResetting(page, fn) {
  const before = await page.evaluate(() => Number(document.documentElement.dataset.resets ?? 0));
  await fn();
  await page.waitForFunction((n) => Number(document.documentElement.dataset.resets ?? 0) > n, before);
}

export const action = (page, name) => page.click(`[data-action="${name}"]`);

/** Pauses time, runs `fn`, plays again: a crash lands while the consumer is surely mid-work. */
export async function whilePaused(page, fn) {
  await page.click('.time-controls .play');
  await page.waitForSelector('.time-controls.paused');
  await fn();
  await page.click('.time-controls .play');
}

/** Waits for a visible token in `state` (and redelivered, if asked). */
export async function waitToken(page, state, { redelivered } = {}) {
  const r = redelivered === undefined ? '' : `[data-redelivered="${redelivered}"]`;
  await page.locator(`.tokens .tok[data-state="${state}"]${r}`).first().waitFor({ state: 'visible' });
}

/** The "what you should see" items still not seen, after giving the checks (run a few times a second) time to tick. */
export async function unseen(page) {
  await page
    .waitForFunction(() => !document.querySelector('#see-list li[data-ok="false"]'), null, { timeout: 3000 })
    .catch(() => {});
  return (await page.locator('#see-list li[data-ok="false"]').allInnerTexts()).map((t) =>
    t.replace(/^○\s*not yet:\s*/, ''),
  );
}

/**
 * Pauses and lets the scene catch up with the engine: steps (which never move
 * time while events wait) until no event waits, then waits for a frame drawn
 * after that. The scene then shows the engine's present, not a moment behind it.
 * On compare, both sides (its feed steps them in turn).
 */
export async function catchUp(page) {
  if (!(await page.locator('.time-controls.paused').count())) {
    await page.click('.time-controls .play');
    await page.waitForSelector('.time-controls.paused');
  }
  for (let i = 0; i < 500; i++) {
    // Events of the last engine call arrive in a microtask; a macrotask later they are all in.
    const waiting = await page.evaluate(
      () => new Promise((r) => setTimeout(() => r((window.warrenPage.feed ?? window.warrenPage.world).waiting), 0)),
    );
    if (waiting === 0) break;
    await page.evaluate(() => (window.warrenPage.feed ?? window.warrenPage.world).step());
  }
  await page.evaluate(
    () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0)))),
  );
}

/** The page's counters and the engine's state, in a form two runs (a first and a replay) can be compared by. */
export function engineState(page) {
  return page.evaluate(() => {
    const w = window.warrenPage.world;
    const s = w.snapshot();
    return {
      t: w.now(),
      counters: { ...w.model.counters },
      queues: s.queues.map((q) => ({ name: q.name, ready: q.ready, unacked: q.unacked, messages: q.messages })),
      unacked: s.channels.map((c) => c.unacked.map((u) => [u.id, u.queue])).filter((u) => u.length),
      consumers: s.consumers.map((c) => c.tag),
    };
  });
}

/** Runs `fn` (a rewind, a jump, a link opened) and waits until the seek has finished and the scene caught up. */
export async function seeked(page, fn) {
  await page.evaluate(() => delete document.documentElement.dataset.moment);
  await fn();
  await page.waitForFunction(() => document.documentElement.dataset.moment !== undefined, null, { timeout: 30000 });
  await catchUp(page);
}

/**
 * Every number and state the scene shows for queues, consumers and publishers,
 * against the engine's snapshot taken now: a list of disagreements (empty when none).
 */
export function engineMismatches(page) {
  return page.evaluate(() => {
    const { world } = window.warrenPage;
    const snap = world.snapshot();
    const out = [];
    const differ = (what, shown, engine) => {
      if (String(shown) !== String(engine)) out.push(`${what}: page shows ${shown}, engine has ${engine}`);
    };
    for (const q of snap.queues) {
      const g = document.querySelector(`[data-node="q:${CSS.escape(q.name)}"]`);
      if (!g) continue;
      differ(`queue ${q.name} ready`, g.dataset.ready, q.ready);
      differ(`queue ${q.name} unacked`, g.dataset.unacked, q.unacked);
      const words = g.querySelector('.count')?.textContent ?? '';
      differ(`queue ${q.name} label`, words, `${q.ready} ready · ${q.unacked} unacked`);
    }
    for (const a of world.actors) {
      const g = document.querySelector(`[data-node="${a.kind === 'producer' ? 'p' : 'c'}:${CSS.escape(a.id)}"]`);
      if (!g) continue;
      const key = a.brokerChannelKey;
      const ch = snap.channels.find((c) => `${c.conn}:${c.channel}` === key);
      if (a.kind === 'consumer') {
        const consuming = snap.consumers.some((c) => `${c.conn}:${c.channel}` === key && c.tag === a.id);
        differ(`consumer ${a.id} consuming`, g.dataset.consuming, consuming);
        differ(`consumer ${a.id} unacked`, g.dataset.unacked, ch ? ch.unacked.length : 0);
        const badge = g.querySelector('.count')?.textContent ?? '';
        if (badge.startsWith('● consuming') !== consuming)
          out.push(`consumer ${a.id} badge "${badge}" while the engine says consuming=${consuming}`);
      } else if (ch) {
        differ(`producer ${a.id} confirms`, g.dataset.confirm, ch.confirm);
      }
    }
    return out;
  });
}

/**
 * What every page test file sets up: the static page server and a browser,
 * started before its tests and closed after; `noErrors()` asserts that the
 * page logged no console error or exception since the last call.
 */
export function pageSuite() {
  const suite = {
    server: null,
    browser: null,
    noErrors() {
      assert.deepEqual(suite.browser.errors.splice(0), [], 'console errors or exceptions');
    },
  };
  before(async () => {
    suite.server = await serveStatic();
    suite.browser = await launch();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.server?.close();
  });
  return suite;
}
