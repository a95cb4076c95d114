// Nothing the page shows disagrees with the engine: the scene's counts and
// states against broker.snapshot() at many moments of every lesson and the
// playground, and one test per contradiction a learner once found.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LESSONS } from '../../www/lessons/index.js';
import { action, catchUp, counter, engineMismatches, open, pageSuite, setSpeed, waitCounter } from './harness.mjs';

const suite = pageSuite();
const noErrors = suite.noErrors;

const play = (page) => page.click('.time-controls .play');
const pageTime = (page) => page.evaluate(() => window.warrenPage.world.now());

/** Lets page time run on by `ms` (at the speed set), then catches up and compares with the engine. */
async function runAndCompare(page, ms, where) {
  const from = await pageTime(page);
  if (await page.locator('.time-controls.paused').count()) await play(page);
  await page.waitForFunction((t) => window.warrenPage.world.now() >= t, from + ms, { timeout: 30000 });
  await catchUp(page);
  assert.deepEqual(await engineMismatches(page), [], `${where} at t = ${((await pageTime(page)) / 1000).toFixed(2)} s`);
}

/** The lesson's buttons that do something (not reset), enabled now. */
const buttons = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('#lesson-controls button[data-action]')]
      .filter((b) => !b.disabled && b.dataset.action !== 'reset')
      .map((b) => b.dataset.action),
  );

describe('the scene agrees with the engine', () => {
  for (const lesson of LESSONS) {
    test(`lesson ${lesson.number}: at many moments while its controls are used`, async () => {
      const page = await suite.browser.context.newPage();
      await open(page, suite.server.url, `lesson-${lesson.number}`);
      await setSpeed(page, 10);
      let moments = 0;
      await runAndCompare(page, 500, 'at the start');
      moments++;
      // Every control once, then again, each followed by a few moments of the lesson running.
      const all = await buttons(page);
      for (const round of [0, 1]) {
        for (const name of all) {
          const enabled = await buttons(page);
          if (!enabled.includes(name)) continue;
          await action(page, name);
          for (const ms of [150, 1200, 3000]) {
            await runAndCompare(page, ms, `after ${name} (round ${round + 1})`);
            moments++;
          }
        }
      }
      assert.ok(moments >= 7, `compared at ${moments} moments`);
      await page.close();
      noErrors();
    });
  }

  test('playground: at many moments, with a crash and at 2,000 messages a second', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'playground');
    await setSpeed(page, 10);
    for (let i = 0; i < 4; i++) await runAndCompare(page, 700 + i * 900, 'default topology');
    await page.locator('[data-crash]').first().click();
    for (let i = 0; i < 3; i++) await runAndCompare(page, 400 + i * 800, 'after a crash');
    await page.selectOption('#preset', '2,000 messages a second');
    await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
    for (let i = 0; i < 4; i++) await runAndCompare(page, 300 + i * 500, 'at 2,000 msg/s');
    await page.close();
    noErrors();
  });
});

describe('contradictions once seen', () => {
  test('lesson 1, automatic ack: messages being processed are not counted unacked', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await page.locator('input[data-setting="ack"][value="auto"]').check();
    await page.waitForFunction(() => document.documentElement.dataset.resets === '2');
    await setSpeed(page, 10);
    for (let i = 0; i < 3; i++) await action(page, 'publish');
    await waitCounter(page, 'delivered', 3);
    await catchUp(page);
    const q = page.locator('[data-node="q:work"]');
    assert.equal(await q.getAttribute('data-unacked'), '0');
    assert.match(await q.locator('.count').textContent(), /0 ready · 0 unacked/);
    assert.ok((await page.locator('.tokens .tok[data-state="processing"]').count()) >= 1, 'still being processed');
    assert.deepEqual(await engineMismatches(page), []);
    await page.close();
    noErrors();
  });

  test('lesson 2: after the early ack the queue holds nothing unacked while the work goes on', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-2');
    await action(page, 'publish');
    await waitCounter(page, 'acked', 1);
    await catchUp(page);
    assert.equal(await page.locator('[data-node="q:work"]').getAttribute('data-unacked'), '0');
    assert.equal(await page.locator('[data-node="c:worker"]').getAttribute('data-unacked'), '0');
    assert.equal(
      await page.locator('.tokens .tok[data-state="processing"]').count(),
      1,
      'processing, ack already sent',
    );
    assert.deepEqual(await engineMismatches(page), []);
    await page.close();
    noErrors();
  });

  test('lesson 4: a 406 shows the worker not consuming and why; it subscribes again and later messages reach it', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-4');
    await setSpeed(page, 10);
    await page.waitForFunction(() => document.querySelector('[data-panel="unacked"] ul')?.dataset.tags === '2,3,4,5');
    await page.locator('#ctl-tags-tag').fill('1');
    await page.locator('#ctl-tags-tag').press('Tab');
    await action(page, 'ack');
    // Read in the same frame as it is seen not consuming: at 10x on a loaded machine it may be back on
    // a new channel by the next round trip.
    const down = await page.waitForFunction(() => {
      const g = document.querySelector('[data-node="c:worker"]');
      return g.dataset.consuming === 'false' && g.textContent;
    });
    const shown = await down.jsonValue();
    assert.match(shown, /resubscribing/);
    assert.match(shown, /406|PRECONDITION/);
    // The panels are redrawn a few times a second.
    await page.waitForFunction(() =>
      /unknown delivery tag 1|PRECONDITION_FAILED/.test(document.querySelector('[data-panel="log"]').textContent),
    );
    // Back on a new channel, it gets the requeued messages and the new ones: nothing sits ready.
    await page.waitForFunction(() => document.querySelector('[data-node="c:worker"]').dataset.consuming === 'true');
    await action(page, 'publish');
    await page.waitForFunction(() => {
      const q = document.querySelector('[data-node="q:work"]').dataset;
      return q.ready === '0' && q.unacked === '9';
    });
    await catchUp(page);
    assert.deepEqual(await engineMismatches(page), []);
    await page.close();
    noErrors();
  });

  test('lesson 5: with prefetch 3 the worker never holds more than 3', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-5');
    await setSpeed(page, 10);
    await action(page, 'publish');
    // Several acks, each followed by the next delivery, while the window is full.
    await waitCounter(page, 'acked', 4, 30000);
    await catchUp(page);
    assert.equal(await page.locator('[data-panel="now"] [data-most]').textContent(), '3');
    assert.equal(await page.locator('[data-panel="now"] [data-held]').textContent(), '3');
    const { peak, unacked } = await page.evaluate(() => {
      const w = window.warrenPage.world;
      const key = w.actors.find((a) => a.kind === 'consumer').brokerChannelKey;
      const ch = window.warrenPage.snapshot().channels.find((c) => `${c.conn}:${c.channel}` === key);
      return { peak: w.model.peakUnacked.get(key), unacked: ch.unacked.length };
    });
    assert.equal(peak, 3);
    assert.equal(unacked, 3);
    await page.close();
    noErrors();
  });

  test('lesson 6: the publisher of persistent messages is labelled persistent; the check follows the disk time', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-6');
    await setSpeed(page, 10);
    await action(page, 'publish-sync');
    await waitCounter(page, 'confirmed', 1);
    const publisher = page.locator('[data-node="p:producer"]');
    await page.waitForFunction(() => document.querySelector('[data-node="p:producer"]').dataset.persistence);
    assert.equal(await publisher.getAttribute('data-persistence'), 'persistent');
    assert.doesNotMatch(await publisher.textContent(), /transient/);
    await action(page, 'publish-transient');
    await page.waitForFunction(
      () => document.querySelector('[data-node="p:producer"]').dataset.persistence === 'persistent and transient',
    );
    // Disk write time 0: no check waits for 1500 ms, and the one about the disk is seen.
    await page.locator('#ctl-confirms-diskMs').fill('0');
    await page.locator('#ctl-confirms-diskMs').press('Tab');
    await page.waitForFunction(() => !/1500/.test(document.querySelector('#see-list').textContent));
    await action(page, 'publish-sync');
    await page.waitForFunction(() => document.querySelector('#see-list li').dataset.ok === 'true');
    await page.close();
    noErrors();
  });

  test('lesson 8: the timeline lists a job timed out and redone in time order', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-8');
    await setSpeed(page, 10);
    await action(page, 'publish');
    await page.waitForFunction(
      () => /unknown delivery tag|PRECONDITION/i.test(document.querySelector('[data-panel="worker"]').textContent),
      null,
      { timeout: 30000 },
    );
    await waitCounter(page, 'redelivered', 2, 30000);
    await catchUp(page);
    const times = await page
      .locator('#timeline .events li time')
      .evaluateAll((ts) => ts.map((t) => Number.parseFloat(t.textContent)));
    assert.ok(times.length >= 8, `${times.length} events`);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'in time order',
    );
    await page.close();
    noErrors();
  });

  test('lesson 9: twelve messages are processed one by one, so the batch acks unfold', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-9');
    await setSpeed(page, 10);
    await action(page, 'publish');
    await waitCounter(page, 'processed', 12, 30000);
    await catchUp(page);
    assert.equal(await counter(page, 'acked'), 10);
    assert.equal(await page.locator('[data-node="q:work"]').getAttribute('data-unacked'), '2');
    // From the history: one message at a time, 0.6 s each, and the batch acks spread over the run.
    const { processed, acked } = await page.evaluate(() => {
      const events = [...window.warrenPage.world.model.messages.values()].flatMap((m) => m.events);
      const at = (type) =>
        events
          .filter((e) => e.type === type)
          .map((e) => e.at)
          .sort((a, b) => a - b);
      return { processed: at('processed'), acked: at('acked') };
    });
    assert.equal(processed.length, 12);
    for (let i = 1; i < processed.length; i++)
      assert.ok(
        processed[i] - processed[i - 1] >= 599,
        `message ${i + 1} finished ${processed[i] - processed[i - 1]} ms after the one before`,
      );
    assert.ok(processed[11] - processed[0] >= 6500, 'twelve messages take their time');
    assert.ok(acked[9] - acked[0] >= 2900, 'the second batch is acked well after the first');
    await page.close();
    noErrors();
  });
});

describe('deadlines run down', () => {
  test('lesson 8: the consumer-timeout deadline counts down, and a lease pushes it back', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-8');
    await page.locator('#ctl-timeout-lease').check();
    await page.waitForFunction(() => document.documentElement.dataset.resets === '2');
    // Slow enough that a loaded machine's few frames still see the deadline move
    // (at 10x the whole 8 s job can pass between two polls).
    await setSpeed(page, 2);
    await action(page, 'publish');
    const left = () =>
      page.evaluate(() => Number(document.querySelector('[data-panel="worker"] [data-deadline]')?.dataset.deadline));
    await page.waitForFunction(() => document.querySelector('[data-panel="worker"] [data-deadline]'));
    // Down it goes...
    const first = await left();
    await page.waitForFunction(
      (v) => Number(document.querySelector('[data-panel="worker"] [data-deadline]')?.dataset.deadline) < v - 500,
      first,
    );
    // ...and the lease every 2 s puts it back up to the whole timeout: it never reaches 0, the job is acked.
    await page.waitForFunction(() =>
      /leases extended: [1-9]/.test(document.querySelector('[data-panel="worker"]').textContent),
    );
    await waitCounter(page, 'acked', 1, 30000);
    assert.equal(await counter(page, 'redelivered'), 0);
    await page.close();
    noErrors();
  });
});

describe('predict, then see', () => {
  for (const [lesson, guess, verdict, words] of [
    [1, 'back', 'right', /goes back to the queue/i],
    [2, 'back', 'wrong', /is lost/i],
  ]) {
    test(`lesson ${lesson}: guessing "${guess}" before the crash is judged ${verdict} by what the engine did`, async () => {
      const page = await suite.browser.context.newPage();
      await open(page, suite.server.url, `lesson-${lesson}`);
      // 2x: the work (4 s of page time) outlasts the test's crash click on a loaded machine;
      // at 10x it could finish first, and a crash with nothing held has no verdict.
      await setSpeed(page, 2);
      await page.click(`[data-predict="${guess}"]`);
      assert.equal(await page.locator('.predict .verdict').getAttribute('data-verdict'), 'guessed');
      await action(page, 'publish');
      await waitCounter(page, 'delivered', 1);
      await action(page, 'crash');
      await page.waitForFunction(
        () => ['right', 'wrong'].includes(document.querySelector('.predict .verdict').dataset.verdict),
        null,
        { timeout: 30000 },
      );
      assert.equal(await page.locator('.predict .verdict').getAttribute('data-verdict'), verdict);
      assert.match(await page.locator('.predict .verdict').textContent(), words);
      await page.close();
      noErrors();
    });
  }
});
