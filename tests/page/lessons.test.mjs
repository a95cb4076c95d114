// Each lesson of the tutorial page, driven through its controls in a real
// Chromium: the outcome the lesson's text claims must be what the engine does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  action,
  counter,
  open,
  pageSuite,
  screenshot,
  setSpeed,
  unseen,
  waitCounter,
  waitToken,
  whilePaused,
  whileResetting,
} from './harness.mjs';

const suite = pageSuite();

/** A fresh tab on lesson `n`, sped up so the test does not wait on page time. */
async function lesson(n, speed = 10) {
  const page = await suite.browser.context.newPage();
  await open(page, suite.server.url, `lesson-${n}`);
  await setSpeed(page, speed);
  return page;
}

/** Screenshots at 1280x800 and at phone width, with time paused so the scene holds still. */
async function shots(page, name) {
  if (!(await page.locator('.time-controls.paused').count())) await page.click('.time-controls .play');
  await page.waitForTimeout(450); // tokens finish moving
  await screenshot(page, `${name}-1280`);
  await page.setViewportSize({ width: 375, height: 800 });
  await page.waitForTimeout(450);
  await screenshot(page, `${name}-375`);
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `the page scrolls sideways at 375px by ${overflow}px`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

function noErrors() {
  assert.deepEqual(suite.browser.errors.splice(0), [], 'console errors or exceptions');
}

/** Whether the lesson's n-th "what you should see" item is ticked (checks run a few times a second). */
const seen = (page, n) =>
  page.waitForSelector(`#see-list li:nth-child(${n})[data-ok="true"]`, { timeout: 3000 }).then(
    () => true,
    () => false,
  );

const setting = (page, key, value) =>
  page.locator(`[data-setting="${key}"]${value === undefined ? '' : `[value="${value}"]`}`);

describe('lessons', () => {
  test('1: manual ack: a crash brings the message back redelivered; automatic ack loses it', async () => {
    const page = await lesson(1);
    await action(page, 'publish');
    await waitToken(page, 'processing');
    await whilePaused(page, () => action(page, 'crash'));
    await waitToken(page, 'ready', { redelivered: true }).catch(() =>
      waitToken(page, 'processing', { redelivered: true }),
    );
    await waitCounter(page, 'redelivered', 1);
    await waitCounter(page, 'acked', 1);
    assert.equal(await counter(page, 'redelivered'), 1);
    assert.equal(await counter(page, 'lost'), 0);
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-1-manual');
    await page.click('.time-controls .play');

    await whileResetting(page, () => setting(page, 'ack', 'auto').check());
    await action(page, 'publish');
    await waitToken(page, 'processing');
    await whilePaused(page, () => action(page, 'crash'));
    await waitCounter(page, 'lost', 1);
    await page.waitForTimeout(600); // 6 s of page time: the worker is back, nothing comes
    assert.equal(await counter(page, 'lost'), 1);
    assert.equal(await counter(page, 'redelivered'), 0);
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-1-auto');
    await page.close();
    noErrors();
  });

  test('2: an ack on receipt then a crash loses the message; an ack after processing does not', async () => {
    const page = await lesson(2);
    await action(page, 'publish');
    await waitToken(page, 'processing');
    await whilePaused(page, () => action(page, 'crash'));
    await waitCounter(page, 'lost', 1);
    await page.waitForTimeout(600);
    assert.equal(await counter(page, 'acked'), 1, 'the broker got an ack');
    assert.equal(await counter(page, 'redelivered'), 0);
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-2-early');
    await page.click('.time-controls .play');

    await whileResetting(page, () => setting(page, 'ack', 'manual').check());
    await action(page, 'publish');
    await waitToken(page, 'processing');
    await whilePaused(page, () => action(page, 'crash'));
    await waitCounter(page, 'acked', 1);
    assert.equal(await counter(page, 'redelivered'), 1);
    assert.equal(await counter(page, 'lost'), 0);
    assert.deepEqual(await unseen(page), []);
    await page.close();
    noErrors();
  });

  test('3: a poison message loops until x-delivery-limit dead-letters it, with x-death', async () => {
    const page = await lesson(3);
    await action(page, 'publish-poison');
    await waitCounter(page, 'redelivered', 3);
    const last = await page.locator('[data-panel="last"]').innerText();
    assert.match(last, /x-delivery-count: \d/);
    assert.match(last, /x-acquired-count: \d/);
    assert.equal(await counter(page, 'deadLettered'), 0, 'without a limit nothing stops it');

    await whileResetting(page, () => setting(page, 'limit').check());
    await action(page, 'publish-poison');
    await waitCounter(page, 'deadLettered', 1);
    assert.equal(await counter(page, 'delivered'), 4, 'limit 3: delivered 4 times');
    await action(page, 'read-dead');
    const dead = page.locator('[data-panel="dead"]');
    await dead.locator('.x-death').waitFor();
    const text = await dead.innerText();
    assert.match(text, /x-death/);
    assert.match(text, /reason: "delivery_limit"/);
    assert.match(text, /queue: "work"/);
    assert.match(text, /count: 1/);
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-3-limit');
    await page.click('.time-controls .play');

    // RabbitMQ 4.3: a nack is no failed delivery, so the limit never stops it.
    await whileResetting(page, () => setting(page, 'fail', 'nack-requeue').check());
    await action(page, 'publish-poison');
    await waitCounter(page, 'redelivered', 5);
    assert.equal(await counter(page, 'deadLettered'), 0, 'nacks do not count towards the limit');
    const nacked = await page.locator('[data-panel="last"]').innerText();
    assert.match(nacked, /x-acquired-count: \d/);
    assert.doesNotMatch(nacked, /x-delivery-count/);

    await whileResetting(page, () => setting(page, 'fail', 'reject').check());
    await action(page, 'publish-poison');
    await waitCounter(page, 'deadLettered', 1);
    assert.equal(await counter(page, 'redelivered'), 0);
    await action(page, 'read-dead');
    await dead.locator('.x-death').waitFor();
    assert.match(await dead.innerText(), /reason: "rejected"/);
    await page.close();
    noErrors();
  });

  test('4: ack and nack of tag 5, with and without multiple', async () => {
    const page = await lesson(4, 1);
    const tags = page.locator('[data-panel="unacked"] ul.tags');
    const waitTags = (want) =>
      page.waitForFunction((w) => document.querySelector('[data-panel="unacked"] ul.tags')?.dataset.tags === w, want);
    await waitTags('2,3,4,5');
    await action(page, 'ack');
    await waitTags('2,3,4');
    assert.equal(await seen(page, 1), true);
    assert.equal(await seen(page, 2), true);

    await whileResetting(page, () => action(page, 'reset'));
    await waitTags('2,3,4,5');
    await setting(page, 'multiple').check();
    await action(page, 'ack');
    await waitTags('');
    await waitCounter(page, 'acked', 5);
    assert.equal(await counter(page, 'acked'), 5, 'tag 1, then 2 to 5 at once');
    assert.equal(await seen(page, 3), true);

    await whileResetting(page, () => action(page, 'reset'));
    await waitTags('2,3,4,5');
    await action(page, 'nack');
    await waitCounter(page, 'redelivered', 4);
    await waitTags('6,7,8,9');
    assert.equal(await tags.getAttribute('data-tags'), '6,7,8,9');
    assert.equal(await seen(page, 4), true);
    await shots(page, 'lesson-4-nack-multiple');
    await page.close();
    noErrors();
  });

  test('5: prefetch bounds what the consumer holds and what a crash returns', async () => {
    const page = await lesson(5);
    await whileResetting(page, async () => {
      await setting(page, 'prefetch').fill('4');
      await setting(page, 'prefetch').press('Tab');
    });
    await action(page, 'publish');
    await page.waitForFunction(() => document.querySelector('[data-held]')?.textContent === '4');
    await whilePaused(page, () => action(page, 'crash'));
    await page.waitForFunction(() => document.querySelector('[data-returned]')?.textContent === '4');
    await waitCounter(page, 'redelivered', 4);
    // A second consumer joining while messages wait in the queue gets some of them.
    await action(page, 'second');
    await page.waitForFunction(() => Number(document.querySelector('[data-held-second]')?.textContent) > 0);
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-5-prefetch');
    await page.close();
    noErrors();
  });

  test('6: confirms wait for the disk; nack from a full queue; return; restart keeps confirmed persistent messages', async () => {
    const page = await lesson(6);
    await action(page, 'publish-sync');
    await waitCounter(page, 'confirmed', 1);
    const row = page.locator('[data-panel="confirms"] tbody tr[data-state="confirmed"]').first();
    await row.waitFor();
    const waited = Number((await row.innerText()).match(/after ([\d.]+) s/)[1]);
    assert.ok(waited >= 1.5, `confirmed after ${waited} s of page time, before the 1.5 s disk write`);

    await action(page, 'publish-async');
    await waitCounter(page, 'confirmed', 6);
    await action(page, 'publish-transient');
    await action(page, 'publish-cache');
    await waitCounter(page, 'confirmed', 8);
    await action(page, 'publish-small');
    await waitCounter(page, 'publishNacked', 1);
    await action(page, 'publish-mandatory');
    await waitCounter(page, 'returned', 1);
    await waitCounter(page, 'confirmed', 11);
    await action(page, 'restart');
    const after = page.locator('[data-after-restart]');
    await after.waitFor();
    assert.match(
      await after.innerText(),
      /orders has 6 message\(s\) \(6 were persistent and confirmed\); cache is gone/,
    );
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-6-confirms');
    await page.close();
    noErrors();
  });

  test('7: a redelivery double-applies; remembering ids or x-message-deduplication prevents it', async () => {
    const page = await lesson(7);
    const balance = async (want) => {
      await page
        .waitForFunction((w) => document.querySelector('[data-balance]')?.dataset.balance === String(w), want, {
          timeout: 3000,
        })
        .catch(() => {});
      return Number(await page.locator('[data-balance]').getAttribute('data-balance'));
    };
    await action(page, 'arm-crash');
    await action(page, 'pay');
    await waitCounter(page, 'acked', 1);
    assert.equal(await counter(page, 'redelivered'), 1);
    assert.equal(await balance(20), 20, 'one payment of €10 charged twice');
    assert.equal(await seen(page, 1), true);

    await whileResetting(page, () => setting(page, 'remember').check());
    await action(page, 'arm-crash');
    await action(page, 'pay');
    await waitCounter(page, 'acked', 1);
    assert.equal(await counter(page, 'redelivered'), 1);
    assert.equal(await balance(10), 10, 'the redelivery is recognised');
    assert.equal(await seen(page, 1), true);

    await whileResetting(page, () => setting(page, 'dedup').check());
    await action(page, 'pay');
    await waitCounter(page, 'acked', 1);
    await action(page, 'retry');
    await waitCounter(page, 'dropped', 1);
    await page.waitForTimeout(400);
    assert.equal(await counter(page, 'published'), 2);
    assert.equal(await counter(page, 'delivered'), 1, 'the retry never reaches billing');
    assert.equal(await balance(10), 10);
    assert.equal(await seen(page, 2), true);
    await shots(page, 'lesson-7-idempotent');
    await page.close();
    noErrors();
  });

  test('8: a job longer than x-consumer-timeout comes back; extendLease keeps it', async () => {
    const page = await lesson(8);
    await action(page, 'publish');
    await waitCounter(page, 'redelivered', 1);
    await page.waitForFunction(() =>
      /unknown delivery tag/i.test(document.querySelector('[data-panel="worker"]')?.textContent ?? ''),
    );
    assert.equal(await counter(page, 'acked'), 0);
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-8-timeout');
    await page.click('.time-controls .play');

    await whileResetting(page, () => setting(page, 'lease').check());
    await action(page, 'publish');
    await waitCounter(page, 'acked', 1);
    assert.equal(await counter(page, 'redelivered'), 0);
    await page.waitForFunction(() => /Idle/.test(document.querySelector('[data-panel="worker"]')?.textContent ?? ''));
    assert.deepEqual(await unseen(page), []);
    await page.close();
    noErrors();
  });

  test('9: batch acks with multiple; a crash redelivers the processed but unacked tail', async () => {
    const page = await lesson(9, 5);
    await action(page, 'publish');
    await waitCounter(page, 'processed', 12);
    await page.waitForFunction(() => document.querySelector('[data-waiting]')?.dataset.waiting === '2');
    await waitCounter(page, 'acked', 10);
    await page.waitForTimeout(200);
    assert.equal(await counter(page, 'acked'), 10, 'two batches of 5; the last 2 wait');
    await whilePaused(page, () => action(page, 'crash'));
    await waitCounter(page, 'redelivered', 2);
    await waitCounter(page, 'processed', 14);
    // Processed twice now, and still unacked: a batch of 2 waits for 3 more messages.
    assert.equal(await counter(page, 'redelivered'), 2);
    assert.equal(await counter(page, 'acked'), 10);
    assert.deepEqual(await unseen(page), []);
    await shots(page, 'lesson-9-batch');
    await page.close();
    noErrors();
  });
});
