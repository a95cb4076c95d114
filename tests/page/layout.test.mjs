// Layout and pacing: at 1280x800 and at 375 px the scene and the counters stay
// in view while each lesson's controls are pressed, no page scrolls sideways,
// the scene's labels never overlap, focus lands on the view navigated to, and
// lesson 5's second consumer idles when the first one's prefetch took everything.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LESSONS } from '../../www/lessons/index.js';
import { encodeSetup } from '../../www/playground.js';
import { action, open, pageSuite, setSpeed, waitCounter, whileResetting } from './harness.mjs';

const suite = pageSuite();

const SIZES = [
  [1280, 800],
  [375, 800],
];

/** How much of the scene and of the counters' first row is on screen, and any sideways scroll. */
function inView(page) {
  return page.evaluate(() => {
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const shown = Math.min(r.bottom, innerHeight) - Math.max(r.top, 0);
      return r.height > 0 ? Math.max(0, shown) / r.height : 0;
    };
    return {
      scene: visible(document.querySelector('figure.scene')),
      counters: visible(document.querySelector('#counters .counter')),
      sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    };
  });
}

/** Pairs of labels in the scene whose boxes overlap (by more than a pixel each way). */
function overlaps(page) {
  return page.evaluate(() => {
    const boxes = [...document.querySelectorAll('#scene .node text, #scene .link-label')]
      .filter((t) => t.textContent.trim() && t.getBBox().width > 0)
      .map((t) => ({ t: t.textContent.trim(), r: t.getBoundingClientRect() }));
    const out = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].r;
        const b = boxes[j].r;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) out.push(`"${boxes[i].t}" and "${boxes[j].t}"`);
      }
    }
    // Labels were looked at: a scene with fewer than a handful would make this check empty.
    if (boxes.length < 6) out.push(`only ${boxes.length} labels found`);
    return out;
  });
}

/** The lesson's buttons that do something (not reset), enabled now. */
const buttons = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('#lesson-controls button[data-action]')]
      .filter((b) => !b.disabled && b.dataset.action !== 'reset')
      .map((b) => b.dataset.action),
  );

describe('layout', () => {
  for (const [width, height] of SIZES) {
    test(`${width}x${height}: the scene and counters stay in view while every lesson's controls are pressed`, async () => {
      const page = await suite.browser.context.newPage();
      await page.setViewportSize({ width, height });
      for (const lesson of LESSONS) {
        await open(page, suite.server.url, `lesson-${lesson.number}`);
        await setSpeed(page, 10);
        for (const name of await buttons(page)) {
          if (!(await page.locator(`[data-action="${name}"]`).isEnabled())) continue;
          await action(page, name);
          const v = await inView(page);
          const where = `lesson ${lesson.number}, after "${name}" at ${width} px`;
          assert.ok(v.scene >= 0.9, `${where}: ${Math.round(v.scene * 100)}% of the scene on screen`);
          assert.ok(v.counters >= 0.9, `${where}: the counters are off screen`);
          assert.ok(v.sideways <= 0, `${where}: the page scrolls sideways by ${v.sideways}px`);
        }
        assert.deepEqual(await overlaps(page), [], `lesson ${lesson.number} at ${width} px: overlapping labels`);
      }
      await page.close();
      suite.noErrors();
    });

    test(`${width}x${height}: the playground's controls keep the scene in view; no labels overlap, no sideways scroll`, async () => {
      const page = await suite.browser.context.newPage();
      await page.setViewportSize({ width, height });
      await open(page, suite.server.url, 'playground');
      for (const sel of ['[data-crash="c1"]', '#apply', '#share']) {
        await page.click(sel);
        await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
        const v = await inView(page);
        assert.ok(v.scene >= 0.9, `after ${sel}: ${Math.round(v.scene * 100)}% of the scene on screen`);
        assert.ok(v.counters >= 0.9, `after ${sel}: the counters are off screen`);
        assert.ok(v.sideways <= 0, `after ${sel}: the page scrolls sideways by ${v.sideways}px`);
      }
      await page.selectOption('#preset', '2,000 messages a second');
      await waitCounter(page, 'acked', 100, 30000);
      assert.deepEqual(await overlaps(page), []);
      // The nav to a lesson and back: focus on the heading of the view shown.
      await page.click('#nav a[data-route="lesson-4"]');
      await page.waitForFunction(() => document.activeElement?.id === 'lesson-title');
      assert.match(await page.evaluate(() => document.activeElement.textContent), /^4\./);
      await page.close();
      suite.noErrors();
    });
  }
});

test('375 px: every lesson and view is reachable in the navigation without a sideways scroll', async () => {
  const page = await suite.browser.context.newPage();
  await page.setViewportSize({ width: 375, height: 800 });
  await open(page, suite.server.url, 'lesson-9');
  const nav = await page.evaluate(() => {
    const ol = document.querySelector('#nav');
    return {
      scroll: ol.scrollWidth - ol.clientWidth,
      outside: [...ol.querySelectorAll('a')]
        .filter((a) => {
          const r = a.getBoundingClientRect();
          return r.left < 0 || r.right > innerWidth;
        })
        .map((a) => a.dataset.route),
      links: ol.querySelectorAll('a').length,
      names: [...ol.querySelectorAll('a')].map((a) => a.textContent.trim()),
    };
  });
  assert.equal(nav.scroll, 0, 'the navigation scrolls sideways');
  assert.deepEqual(nav.outside, [], 'links outside the screen');
  assert.equal(nav.links, 12); // nine lessons, playground, compare, server
  // Each link still says what it leads to (read out where not shown).
  assert.match(nav.names[0], /^1 Manual vs automatic ack$/);
  await page.click('#nav a[data-route="playground"]');
  await page.waitForFunction(() => document.activeElement?.id === 'lesson-title');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Playground');
  await page.close();
  suite.noErrors();
});

describe('pacing', () => {
  test('lesson 5: worker 2 idles when a prefetch of 10 let worker take all ten; with 3 it gets the rest', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-5');
    await setSpeed(page, 10);
    const held = (sel) => page.evaluate((s) => Number(document.querySelector(s)?.textContent), sel);

    await action(page, 'publish');
    await page.waitForFunction(() => document.querySelector('[data-held]')?.textContent === '3');
    await action(page, 'second');
    await page.waitForFunction(() => document.querySelector('[data-held-second]')?.textContent === '3');
    assert.equal(await held('[data-held]'), 3);

    await whileResetting(page, async () => {
      await page.fill('[data-setting="prefetch"]', '10');
      await page.press('[data-setting="prefetch"]', 'Tab');
    });
    await action(page, 'publish');
    await page.waitForFunction(() => document.querySelector('[data-held]')?.textContent === '10');
    await action(page, 'second');
    // Three seconds of page time, as long as worker's first message takes: worker 2 gets nothing.
    const t = await page.evaluate(() => window.warrenPage.world.now());
    await page.waitForFunction((t) => window.warrenPage.world.now() > t + 3500, t, { timeout: 20000 });
    assert.equal(await held('[data-held-second]'), 0);
    assert.match(await page.locator('[data-panel="now"]').textContent(), /it idles/);
    const snap = await page.evaluate(() => window.warrenPage.snapshot());
    const w2 = snap.consumers.find((c) => c.tag === 'worker-2');
    assert.ok(w2, 'worker 2 consumes');
    assert.equal(w2.unacked, 0, 'the broker has given worker 2 nothing');
    await page.close();
    suite.noErrors();
  });

  test("playground: a queue's consumer timeout shows as a deadline running down on the consumer", async () => {
    const setup = {
      exchanges: [{ name: 'x', type: 'direct' }],
      queues: [{ name: 'jobs', durable: true, consumerTimeout: 3000 }],
      bindings: [{ exchange: 'x', queue: 'jobs', key: 'k' }],
      producers: [{ exchange: 'x', key: 'k', rate: 0.5, persistent: false, confirm: false }],
      consumers: [{ queue: 'jobs', prefetch: 1, ack: 'manual', processMs: 5000, crash: 0 }],
    };
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, `playground=${encodeSetup(setup)}`);
    const box = page.locator('[data-node="c:c1"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-node="c:c1"]')?.dataset.deadline) > 0, null, {
      timeout: 20000,
    });
    const first = Number(await box.getAttribute('data-deadline'));
    assert.ok(first > 0 && first <= 3000, `${first} ms left`);
    assert.match(await box.textContent(), /⏱ \d+\.\d s/);
    await page.waitForFunction(
      (f) => Number(document.querySelector('[data-node="c:c1"]').dataset.deadline) < f - 500,
      first,
    );
    // At the deadline the broker takes the delivery back.
    await page.waitForFunction(() => window.warrenPage.world.model.counters.requeued >= 1, null, { timeout: 20000 });
    await page.close();
    suite.noErrors();
  });
});
