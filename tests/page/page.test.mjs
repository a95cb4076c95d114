// The page as a whole: load time, time controls (pause, step, speed),
// keyboard use and labels, the playground and its share link, phone width,
// and working offline once loaded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { LESSONS } from '../../www/lessons/index.js';
import { PRESETS } from '../../www/playground.js';
import { action, counter, launch, open, pageSuite, root, screenshot, setSpeed, waitCounter } from './harness.mjs';

const suite = pageSuite();
const noErrors = suite.noErrors;

const clockText = (page) => page.locator('.time-controls .clock').textContent();

describe('page', () => {
  test("index.html preloads exactly the page's modules", () => {
    const www = path.join(root, 'www');
    const html = fs.readFileSync(path.join(www, 'index.html'), 'utf8');
    const preloaded = [...html.matchAll(/rel="modulepreload" href="([^"]+)"/g)].map((m) => m[1]).sort();
    const scripts = [...html.matchAll(/<script type="module" src="([^"]+)"/g)].map((m) => m[1]);
    const modules = fs
      .readdirSync(www, { recursive: true })
      .filter((f) => f.endsWith('.js') && f !== 'sw.js' && !scripts.includes(f))
      .map((f) => f.split(path.sep).join('/'))
      // The live-code worker's own modules load in the worker, when a program is run.
      .filter((f) => f !== 'live-code/worker.js' && !f.startsWith('live-code/vendor/'))
      .sort();
    assert.deepEqual(preloaded, modules);
  });

  test('loads and starts its broker quickly on loopback', async () => {
    const page = await suite.browser.context.newPage();
    const t0 = Date.now();
    await open(page, suite.server.url, 'lesson-1');
    const ms = Date.now() - t0;
    const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
    console.log(
      `# page ready in ${ms} ms (DOMContentLoaded ${nav.domContentLoadedEventEnd.toFixed(0)} ms, load ${nav.loadEventEnd.toFixed(0)} ms)`,
    );
    // The target is under a second; the bound here only catches a gross regression on a busy machine.
    assert.ok(ms < 5000, `ready after ${ms} ms`);
    await page.close();
    noErrors();
  });

  test('pause stops the clock; step shows one event at a time; speed spans 0.1x to 10x', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await page.click('.time-controls .play');
    await page.waitForSelector('.time-controls.paused');
    const t = await clockText(page);
    await page.waitForTimeout(300);
    assert.equal(await clockText(page), t, 'paused: the broker clock stands still');

    await action(page, 'publish');
    await page.waitForFunction(() => /waiting/.test(document.querySelector('.time-controls .waiting').textContent));
    assert.equal(await counter(page, 'published'), 0, 'events wait while paused');
    assert.match(await page.locator('.time-controls .waiting').textContent(), /5 events waiting/);
    // Each step shows exactly the next event, in the order things happened, and time stands still.
    const types = () => page.locator('#timeline .events li').evaluateAll((ls) => ls.map((l) => l.dataset.type));
    const expected = ['published', 'routed', 'enqueued', 'delivered', 'processing'];
    for (let i = 0; i < expected.length; i++) {
      await page.click('.time-controls .step');
      await page.waitForFunction((n) => document.querySelectorAll('#timeline .events li').length >= n, i + 1);
      assert.deepEqual(await types(), expected.slice(0, i + 1), `after step ${i + 1}`);
      assert.equal(await clockText(page), t, `step ${i + 1} shows a waiting event without moving time`);
    }
    assert.equal(await counter(page, 'delivered'), 1);
    assert.match(await page.locator('.time-controls .waiting').textContent(), /^paused$/);
    // Nothing waits now: the next step moves time to the end of the processing, and shows what happened then.
    await page.click('.time-controls .step');
    await page.waitForFunction(() => document.querySelectorAll('#timeline .events li').length === 6);
    assert.equal(await page.locator('#timeline .events li').last().getAttribute('data-type'), 'processed');
    assert.match(await clockText(page), /t = 4\.\d\d s/);
    await page.waitForTimeout(300);
    assert.equal(await page.locator('#timeline .events li').count(), 6, 'paused: nothing more happens by itself');

    await setSpeed(page, 0.1);
    assert.equal(await page.locator('.speed-out').textContent(), '0.1×');
    await setSpeed(page, 10);
    assert.equal(await page.locator('.speed-out').textContent(), '10×');
    await page.close();
    noErrors();
  });

  test('keyboard: controls are reachable, labelled, and show focus', async () => {
    const page = await suite.browser.context.newPage();
    for (const hash of [...LESSONS.map((l) => `lesson-${l.number}`), 'playground']) {
      await open(page, suite.server.url, hash);
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll('input, select, textarea')]
          .filter((e) => !e.labels?.length && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
          .map((e) => e.outerHTML.slice(0, 80)),
      );
      assert.deepEqual(unlabelled, [], `${hash}: controls without a label`);
      const nameless = await page.evaluate(
        () =>
          [...document.querySelectorAll('button')].filter((b) => !b.textContent.trim() && !b.getAttribute('aria-label'))
            .length,
      );
      assert.equal(nameless, 0, `${hash}: buttons without a name`);
    }
    await open(page, suite.server.url, 'lesson-1');
    await setSpeed(page, 10);
    // Tab to "Publish a message" and press Enter.
    let focused = '';
    for (let i = 0; i < 40 && focused !== 'publish'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.dataset?.action ?? '');
    }
    assert.equal(focused, 'publish', 'reached by Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, 'solid', 'visible focus');
    await page.keyboard.press('Enter');
    await waitCounter(page, 'published', 1);
    await page.close();
    noErrors();
  });

  test('playground: runs a topology, shares it as a link that rebuilds it', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'playground');
    await setSpeed(page, 10);
    await waitCounter(page, 'delivered', 5);
    await page.locator('#pg-consumers-0-prefetch').fill('7');
    await page.locator('#pg-consumers-0-processMs').fill('250');
    await page.locator('#pg-consumers-0-processMs').press('Tab');
    await page.click('#apply');
    await page.click('#share');
    const link = await page.locator('#share-link').inputValue();
    assert.match(link, /#playground=[\w-]+$/);
    await screenshot(page, 'playground-1280');

    const other = await suite.browser.context.newPage();
    await other.goto(link);
    await other.waitForFunction(() => document.documentElement.dataset.ready === 'true');
    assert.equal(await other.locator('#pg-consumers-0-prefetch').inputValue(), '7');
    assert.equal(await other.locator('#pg-consumers-0-processMs').inputValue(), '250');
    await other.locator('[data-node="c:c1"]').waitFor();
    await setSpeed(other, 10);
    await waitCounter(other, 'acked', 3);
    await other.click('[data-crash="c1"]');
    await other.locator('[data-node="c:c1"].down').waitFor();
    await other.close();

    await page.selectOption('#preset', '2,000 messages a second');
    await page.waitForFunction(
      () => Number(document.querySelector('[data-counter="published"] .n').textContent) > 2000,
      null,
      { timeout: 20000 },
    );
    await page.setViewportSize({ width: 375, height: 800 });
    await page.waitForTimeout(300);
    await screenshot(page, 'playground-375');
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `the playground scrolls sideways at 375px by ${overflow}px`);
    await page.close();
    noErrors();
  });

  test("tokens move and fade at a lesson's pace, and under a flood of 2,000 msg/s appear at their place at once", async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await action(page, 'publish');
    await waitCounter(page, 'delivered', 1);
    // A token that has entered (one just placed has its transition off for a frame) moves in 0.35 s.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('#scene .tok')].some((t) => getComputedStyle(t).transitionDuration === '0.35s'),
      null,
      { timeout: 10000 },
    );
    assert.equal(await page.evaluate(() => document.querySelector('#scene .flood')), null);
    const setup = PRESETS['2,000 messages a second'];
    await open(page, suite.server.url, `playground=${Buffer.from(JSON.stringify(setup)).toString('base64url')}`);
    await page.waitForFunction(() => document.querySelector('#scene .flood') !== null, null, { timeout: 30000 });
    const transition = await page.evaluate(
      () => getComputedStyle(document.querySelector('#scene .flood .tok')).transitionDuration,
    );
    assert.equal(transition, '0s');
    await page.close();
    noErrors();
  });

  test('works offline once loaded', async () => {
    const online = await launch({ serviceWorkers: 'allow' });
    try {
      const page = await online.context.newPage();
      await open(page, suite.server.url, 'lesson-1');
      await page.evaluate(() => navigator.serviceWorker.ready);
      // Once the worker controls the page, a reload passes every file through its cache.
      await page.reload();
      await page.waitForFunction(
        () => document.documentElement.dataset.ready === 'true' && navigator.serviceWorker.controller,
      );
      await online.context.setOffline(true);
      await page.reload();
      await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
      await setSpeed(page, 10);
      await action(page, 'publish');
      await waitCounter(page, 'acked', 1);
      await page.close();
      assert.deepEqual(online.errors, [], 'console errors or exceptions');
    } finally {
      await online.close();
    }
  });
});
