// Predict, then see, in lessons 3 to 9: a guess made before the lesson's key
// moment is judged right or wrong by what the engine then did, and the
// reason given carries the engine's numbers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { action, open, pageSuite, setSpeed, waitCounter, whileResetting } from './harness.mjs';

const suite = pageSuite();

const verdict = (page) => page.locator('.predict .verdict');

/** Ticks a lesson's checkbox setting (the lesson restarts with it). */
const tick = (page, id) => whileResetting(page, () => page.click(`[data-setting="${id}"]`));

/** Sets a number setting that does not restart the lesson. */
const setNumber = (page, id, v) =>
  page.evaluate(
    ([id, v]) => {
      const input = document.querySelector(`[data-setting="${id}"]`);
      input.value = String(v);
      input.dispatchEvent(new Event('change'));
    },
    [id, v],
  );

/** Opens lesson `n` at speed 10, runs `before` (settings), guesses, runs `moment`, and returns the verdict. */
async function predict(n, guess, moment, before = async () => {}) {
  const page = await suite.browser.context.newPage();
  await open(page, suite.server.url, `lesson-${n}`);
  await setSpeed(page, 10);
  await before(page);
  await page.click(`.predict [data-predict="${guess}"]`);
  assert.equal(await verdict(page).getAttribute('data-verdict'), 'guessed');
  await moment(page);
  await page.waitForFunction(
    () => ['right', 'wrong'].includes(document.querySelector('.predict .verdict').dataset.verdict),
    null,
    { timeout: 30000 },
  );
  const result = {
    verdict: await verdict(page).getAttribute('data-verdict'),
    words: await verdict(page).textContent(),
  };
  await page.close();
  suite.noErrors();
  return result;
}

function judged(result, expected, words) {
  assert.equal(result.verdict, expected, result.words);
  assert.match(result.words, words);
}

describe('predict, then see: lessons 3 to 9', () => {
  test('lesson 3: a poison message with no limit loops (right), with the limit it is dead-lettered (wrong)', async () => {
    judged(await predict(3, 'loops', (page) => action(page, 'publish-poison')), 'right', /delivered \d+ times so far/);
    judged(
      await predict(
        3,
        'loops',
        (page) => action(page, 'publish-poison'),
        (page) => tick(page, 'limit'),
      ),
      'wrong',
      /dead-lettered it to dlx, reason delivery_limit: .*delivered 4 times/,
    );
  });

  const tags = (page) => page.waitForSelector('[data-tags="2,3,4,5"]');
  test('lesson 4: an ack of tag 5 without multiple leaves 2, 3, 4 (right); an unknown tag closes the channel (wrong)', async () => {
    judged(
      await predict(4, 'some', (page) => action(page, 'ack'), tags),
      'right',
      /held 2, 3, 4, 5 and now holds 2, 3, 4 \(without multiple/,
    );
    judged(
      await predict(
        4,
        'none',
        (page) => action(page, 'ack'),
        async (page) => {
          await tags(page);
          await setNumber(page, 'tag', 99);
        },
      ),
      'wrong',
      /the broker closes the channel .*held no tag 99: PRECONDITION_FAILED - unknown delivery tag 99/,
    );
  });

  const fullWindow = async (page) => {
    await action(page, 'publish');
    await page.waitForFunction(() => document.querySelector('[data-held]')?.textContent === '3');
    await action(page, 'crash');
  };
  test('lesson 5: a crash with a full window puts the window back (right; and wrong for "none")', async () => {
    judged(await predict(5, 'window', fullWindow), 'right', /put back 3: .*held 3 of a prefetch of 3/);
    judged(await predict(5, 'none', fullWindow), 'wrong', /every one it holds unacknowledged.*put back 3/i);
  });

  const confirmedThenRestart = async (page) => {
    await action(page, 'publish-sync');
    await page.waitForSelector('.confirms tr[data-state="confirmed"]');
    await action(page, 'publish-transient');
    await action(page, 'restart');
  };
  test('lesson 6: after a power cut orders holds its confirmed persistent messages (right; and wrong for "all")', async () => {
    judged(
      await predict(6, 'confirmed', confirmedThenRestart),
      'right',
      /with 1 of the 2 published to it: 1 were persistent and confirmed/,
    );
    judged(await predict(6, 'all', confirmedThenRestart), 'wrong', /exactly its persistent messages/i);
  });

  const crashThenPay = async (page) => {
    await action(page, 'arm-crash');
    await action(page, 'pay');
  };
  test('lesson 7: without memory the redelivery charges twice (right); with it, once (wrong for "twice")', async () => {
    judged(await predict(7, 'twice', crashThenPay), 'right', /redelivered pay-1 and billing, remembering nothing/);
    judged(
      await predict(7, 'twice', crashThenPay, (page) => tick(page, 'remember')),
      'wrong',
      /billing remembered its id and only acked it/,
    );
  });

  test('lesson 8: a job longer than the timeout comes back (right); with the lease it is acked (wrong for "back")', async () => {
    judged(
      await predict(8, 'back', (page) => action(page, 'publish')),
      'right',
      /takes 8 s; after 5 s with no ack the broker cancelled worker and requeued it/,
    );
    judged(
      await predict(
        8,
        'back',
        (page) => action(page, 'publish'),
        (page) => tick(page, 'lease'),
      ),
      'wrong',
      /extended its lease/,
    );
  });

  const afterTwelve = async (page) => {
    await action(page, 'publish');
    await waitCounter(page, 'processed', 12, 30000);
    await page.waitForFunction(() => window.warrenPage.world.model.counters.acked >= 10);
    await action(page, 'crash');
  };
  test('lesson 9: a crash after 12 processed, acked in fives, sends back the 2 unacked (right; and wrong for "none")', async () => {
    judged(await predict(9, 'unacked', afterTwelve), 'right', /put back 2: .* 2 of them were already processed/);
    judged(await predict(9, 'none', afterTwelve), 'wrong', /every one not yet acked/i);
  });
});
