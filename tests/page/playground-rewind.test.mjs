// Rewind for the playground: its run is the setup applied, a seed, and the
// reader's inputs since (crashes, rate changes); going back replays them on a
// fresh broker, and a link to a moment restores exactly that engine state.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catchUp, engineMismatches, engineState, open, pageSuite, seeked, setSpeed } from './harness.mjs';

const suite = pageSuite();

const runUntil = (page, t) => page.waitForFunction((t) => window.warrenPage.world.now() >= t, t, { timeout: 30000 });

describe('playground rewind', () => {
  test('a crash and a rate change are replayed: back to the crash, and a link restores the exact moment', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'playground');
    await setSpeed(page, 10);
    await runUntil(page, 3000);
    await page.click('[data-crash="c2"]');
    await page.fill('[data-rate="p1"]', '12');
    await page.locator('[data-rate="p1"]').dispatchEvent('change');
    await runUntil(page, 9000);
    await catchUp(page);
    const end = await engineState(page);
    // A link to this moment, taken now.
    await page.click('.moment');
    const link = await page.locator('#moment-link').inputValue();
    assert.match(link, /#playground~[\w-]+$/);

    // Back to consumer 2's crash: before it, the rate change had not happened.
    await page.selectOption('#jump-kind', 'crash');
    await seeked(page, () => page.click('.jump-prev'));
    const atCrash = await engineState(page);
    assert.ok(atCrash.t >= 3000 && atCrash.t < end.t, `at ${atCrash.t} ms`);
    assert.ok(!atCrash.consumers.includes('c2'), 'consumer 2 has crashed');
    assert.ok(atCrash.counters.published < end.counters.published);
    assert.equal(await page.locator('[data-rate="p1"]').inputValue(), '3', 'the rate change is still to come');
    assert.deepEqual(await engineMismatches(page), []);

    // The link, opened in another tab: the setup, the crash and the rate change replayed to the exact moment.
    const other = await suite.browser.context.newPage();
    await other.goto(link);
    await other.waitForFunction(() => document.documentElement.dataset.moment !== undefined, null, {
      timeout: 30000,
    });
    await catchUp(other);
    assert.deepEqual(await engineState(other), end, 'the same moment, the same state');
    assert.equal(await other.locator('[data-rate="p1"]').inputValue(), '12');
    assert.deepEqual(await engineMismatches(other), []);
    await other.close();
    await page.close();
    suite.noErrors();
  });
});
