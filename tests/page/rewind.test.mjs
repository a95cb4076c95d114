// Rewind and replay: every lesson is seeded and replays the reader's inputs on
// its clock, so going back to a moment, jumping to the previous or next ack,
// crash or redelivery, and opening a link to a moment all land on exactly the
// engine state of the first run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  action,
  catchUp,
  engineMismatches,
  engineState,
  navigated,
  open,
  pageSuite,
  seeked,
  setSpeed,
  waitCounter,
} from './harness.mjs';

const suite = pageSuite();
const noErrors = suite.noErrors;

describe('rewind and replay', () => {
  test('lesson 1: back to the crash, on to the redelivery, and to the end again: the same engine state', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await setSpeed(page, 10);
    await action(page, 'publish');
    await waitCounter(page, 'delivered', 1);
    await action(page, 'crash');
    await waitCounter(page, 'acked', 1, 30000);
    await catchUp(page);
    const end = await engineState(page);
    assert.equal(end.counters.redelivered, 1);

    await page.selectOption('#jump-kind', 'crash');
    await seeked(page, () => page.click('.jump-prev'));
    const atCrash = await engineState(page);
    assert.equal(atCrash.counters.acked, 0, 'before the ack');
    assert.equal(atCrash.counters.redelivered, 0, 'before the redelivery');
    assert.equal(atCrash.queues[0].ready, 1, 'the crash put the message back');
    assert.match(await page.locator('[data-node="c:worker"]').textContent(), /crashed/);
    assert.deepEqual(await engineMismatches(page), []);

    await page.selectOption('#jump-kind', 'redelivery');
    await seeked(page, () => page.click('.jump-next'));
    const atRedelivery = await engineState(page);
    assert.ok(atRedelivery.t > atCrash.t);
    assert.equal(atRedelivery.counters.redelivered, 1);
    assert.equal(atRedelivery.counters.acked, 0);

    // The scrubber to where the first run was: replayed, it is the same.
    await seeked(page, () =>
      page.evaluate((t) => {
        const scrub = document.getElementById('scrub');
        scrub.max = String(Math.ceil(t / 10) * 10 + 10);
        scrub.value = String(t);
        scrub.dispatchEvent(new Event('change'));
      }, end.t),
    );
    const again = await engineState(page);
    assert.deepEqual({ ...again, t: 0 }, { ...end, t: 0 });
    assert.ok(Math.abs(again.t - end.t) <= 10, `at ${again.t} ms, asked ${end.t}`);
    await page.close();
    noErrors();
  });

  test('a link restores the lesson and the exact moment; playing on from a rewound moment replays the same future', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-2');
    await setSpeed(page, 10);
    await action(page, 'publish');
    await waitCounter(page, 'acked', 1);
    await action(page, 'crash');
    await waitCounter(page, 'lost', 1);
    await action(page, 'publish');
    await waitCounter(page, 'acked', 2, 30000);
    await catchUp(page);
    const end = await engineState(page);

    await page.selectOption('#jump-kind', 'crash');
    await seeked(page, () => page.click('.jump-prev'));
    const there = await engineState(page);
    assert.equal(there.counters.lost, 1);
    assert.equal(there.counters.published, 1, 'the second publish is still to come');
    await page.click('.moment');
    const link = await page.locator('#moment-link').inputValue();
    assert.match(link, /#lesson-2~[\w-]+$/);

    const other = await suite.browser.context.newPage();
    await other.goto(link);
    await other.waitForFunction(() => document.documentElement.dataset.moment !== undefined, null, {
      timeout: 30000,
    });
    await catchUp(other);
    assert.deepEqual(await engineState(other), there, 'the same moment, the same state');
    assert.equal(
      await other.locator('.time-controls .clock').textContent(),
      await page.locator('.time-controls .clock').textContent(),
    );
    assert.deepEqual(await engineMismatches(other), []);
    // Play on: the reader's later publish happens again at its time, and the run ends as the first did.
    await setSpeed(other, 10);
    await other.click('.time-controls .play');
    await other.waitForFunction((t) => window.warrenPage.world.now() >= t, end.t, { timeout: 30000 });
    await catchUp(other);
    const replayed = await engineState(other);
    assert.deepEqual(replayed.counters, end.counters);
    assert.deepEqual(replayed.queues, end.queues);
    await other.close();
    await page.close();
    noErrors();
  });

  test('after navigating, keyboard focus is on the lesson; at 375 px the rewind bar needs no sideways scroll', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await page.click('#nav a[data-route="lesson-3"]');
    await navigated(page, 'lesson-3');
    await page.waitForFunction(() => document.activeElement?.id === 'lesson-title');
    assert.match(await page.evaluate(() => document.activeElement.textContent), /^3\./);
    await page.setViewportSize({ width: 375, height: 800 });
    await page.click('.moment');
    assert.match(await page.locator('#moment-link').inputValue(), /#lesson-3~/);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `the lesson scrolls sideways at 375px by ${overflow}px`);
    for (const sel of ['#scrub', '.jump-prev', '.jump-next', '#jump-kind', '.moment']) {
      const box = await page.locator(sel).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `${sel} within the width`);
    }
    await page.close();
    noErrors();
  });
});
