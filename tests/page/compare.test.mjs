// Compare: two brokers side by side, the same seed and inputs, one setting
// apart, in step on one clock. Each side's scene must agree with its own
// engine, and the two must differ exactly where the setting says.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { action, catchUp, navigated, open, pageSuite, setSpeed } from './harness.mjs';

const suite = pageSuite();
const noErrors = suite.noErrors;

/** Each side's counters as its model has them (drawn from its own engine's events). */
const counters = (page) => page.evaluate(() => window.warrenPage.sides.map((s) => ({ ...s.world.model.counters })));

/** Waits until `fn(sides' counters)` holds. */
function until(page, fn, timeout = 30000) {
  return page.waitForFunction(
    (src) => new Function('c', `return (${src})(c)`)(window.warrenPage.sides.map((s) => s.world.model.counters)),
    fn.toString(),
    { timeout },
  );
}

/** Each side's scene (queues, consumers, producers) against its own engine's snapshot. */
function mismatches(page) {
  return page.evaluate(() =>
    window.warrenPage.sides.flatMap(({ world, el }, side) => {
      const snap = world.snapshot();
      const out = [];
      const differ = (what, shown, engine) => {
        if (String(shown) !== String(engine))
          out.push(`side ${side}: ${what}: page shows ${shown}, engine has ${engine}`);
      };
      for (const q of snap.queues) {
        const g = el.querySelector(`[data-node="q:${CSS.escape(q.name)}"]`);
        if (!g) {
          out.push(`side ${side}: queue ${q.name} not drawn`);
          continue;
        }
        differ(`queue ${q.name} ready`, g.dataset.ready, q.ready);
        differ(`queue ${q.name} unacked`, g.dataset.unacked, q.unacked);
      }
      for (const a of world.actors) {
        const g = el.querySelector(`[data-node="${a.kind === 'producer' ? 'p' : 'c'}:${CSS.escape(a.id)}"]`);
        if (!g) continue;
        const key = a.brokerChannelKey;
        const ch = snap.channels.find((c) => `${c.conn}:${c.channel}` === key);
        if (a.kind === 'consumer') {
          const consuming = snap.consumers.some((c) => `${c.conn}:${c.channel}` === key && c.tag === a.id);
          differ(`consumer ${a.id} consuming`, g.dataset.consuming, consuming);
          differ(`consumer ${a.id} unacked`, g.dataset.unacked, ch ? ch.unacked.length : 0);
        } else if (ch) differ(`producer ${a.id} confirms`, g.dataset.confirm, ch.confirm);
      }
      // The counters drawn are that side's own.
      for (const cell of el.querySelectorAll('[data-counter]')) {
        differ(
          `counter ${cell.dataset.counter}`,
          cell.querySelector('.n').textContent,
          world.model.counters[cell.dataset.counter] ?? 0,
        );
      }
      return out;
    }),
  );
}

/** The rows of the "where they differ" table: counter -> [left, right]. */
const diffTable = (page) =>
  page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('.compare-diff tr[data-counter]')].map((r) => [
        r.dataset.counter,
        [...r.querySelectorAll('td')].map((td) => Number(td.textContent)),
      ]),
    ),
  );

describe('compare', () => {
  test('manual vs automatic ack: a crash while processing redelivers on one side and loses the message on the other', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await page.click('.compare-link a');
    await navigated(page, 'compare-ack', 'compare');
    assert.equal(await page.locator('#nav a[aria-current="page"]').textContent(), 'Compare');
    assert.deepEqual(await page.locator('.compare-side > h3').allTextContents(), ['manual ack', 'automatic ack']);
    await action(page, 'publish');
    await until(page, (c) => c.every((x) => x.delivered === 1));
    await action(page, 'crash');
    await until(page, (c) => c[0].redelivered === 1 && c[1].lost === 1);
    await catchUp(page);
    assert.deepEqual(await mismatches(page), []);
    const [manual, auto] = await counters(page);
    assert.deepEqual([manual.lost, manual.redelivered], [0, 1], 'manual ack: back in the queue, delivered again');
    assert.deepEqual([auto.lost, auto.redelivered], [1, 0], 'automatic ack: the broker had forgotten it');
    // Everything else is the same on both sides: one setting apart.
    for (const k of ['published', 'confirmed', 'acked', 'deadLettered']) assert.equal(manual[k], auto[k], k);
    const table = await diffTable(page);
    assert.deepEqual(table.lost, [0, 1]);
    assert.deepEqual(table.redelivered, [1, 0]);
    // One clock: both sides at the same page time.
    const times = await page.evaluate(() => window.warrenPage.sides.map((s) => s.world.now()));
    assert.equal(times[0], times[1]);

    // Played on, the manual side's worker restarts and acks it; the other has nothing left to ack.
    await page.click('.time-controls .play');
    await setSpeed(page, 10);
    await until(page, (c) => c[0].acked === 1);
    await catchUp(page);
    assert.deepEqual(await mismatches(page), []);
    const [m2, a2] = await counters(page);
    assert.deepEqual([m2.acked, a2.acked, a2.lost], [1, 0, 1]);
    await page.close();
    noErrors();
  });

  const cases = [
    {
      id: 'early',
      lesson: 2,
      run: async (page) => {
        // At 1x both workers are still processing (4 s) when the crash comes.
        await action(page, 'publish');
        await until(page, (c) => c.every((x) => x.delivered === 1));
        await action(page, 'crash');
        await setSpeed(page, 10);
        await until(page, (c) => c[0].redelivered === 1 && c[1].lost === 1);
      },
      expect: ([after, early]) => {
        assert.deepEqual([after.lost, early.lost], [0, 1]);
        assert.equal(early.acked, 1, 'acked on receipt, before the crash');
      },
    },
    {
      id: 'prefetch',
      lesson: 5,
      run: async (page) => {
        await setSpeed(page, 10);
        await action(page, 'publish-10');
        await until(page, (c) => c[0].delivered >= 1 && c[1].delivered === 10);
      },
      expect: async ([one, ten], page) => {
        assert.ok(one.delivered < ten.delivered, `prefetch 1 delivered ${one.delivered}, prefetch 10 ${ten.delivered}`);
        const queues = await page.evaluate(() =>
          window.warrenPage.sides.map((s) => {
            const q = s.snapshot().queues[0];
            return [q.ready, q.unacked];
          }),
        );
        // Prefetch 1: one with the worker, the rest wait in the queue. Prefetch 10: the worker holds them all.
        assert.deepEqual(queues[0], [10 - one.acked - 1, 1]);
        assert.deepEqual(queues[1], [0, 10 - ten.acked]);
      },
    },
    {
      id: 'confirms',
      lesson: 6,
      run: async (page) => {
        await setSpeed(page, 10);
        await action(page, 'publish-3');
        await until(page, (c) => c[0].confirmed === 3 && c[1].published === 3);
      },
      expect: ([confirms, none]) => assert.deepEqual([confirms.confirmed, none.confirmed], [3, 0]),
    },
    {
      id: 'limit',
      lesson: 3,
      run: async (page) => {
        await setSpeed(page, 10);
        await action(page, 'publish-poison');
        await until(page, (c) => c[0].dropped === 1 && c[1].redelivered >= 5);
      },
      expect: ([limit, none]) => {
        assert.equal(limit.delivered, 4, 'delivered once and 3 times more, then dropped');
        assert.deepEqual([limit.dropped, none.dropped], [1, 0]);
        assert.ok(none.delivered > limit.delivered, 'without a limit it keeps coming back');
      },
    },
  ];
  for (const c of cases) {
    test(`${c.id} (from lesson ${c.lesson}): the sides differ where the setting says, each agreeing with its engine`, async () => {
      const page = await suite.browser.context.newPage();
      await open(page, suite.server.url, `lesson-${c.lesson}`);
      assert.equal(await page.locator('.compare-link a').getAttribute('href'), `#compare-${c.id}`);
      await open(page, suite.server.url, `compare-${c.id}`);
      await c.run(page);
      await catchUp(page);
      assert.deepEqual(await mismatches(page), []);
      await c.expect(await counters(page), page);
      const table = await diffTable(page);
      const point = await page.evaluate(() =>
        [...document.querySelectorAll('.compare-diff tr.point')].map((r) => r.dataset.counter),
      );
      assert.ok(point.length > 0 && point.every((k) => k in table), `expected differences marked: ${point}`);
      await page.close();
      noErrors();
    });
  }

  test("each side's wire lane: that engine's frames at the shared clock's times; a click selects the message on that side", async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'compare-ack');
    await action(page, 'publish');
    await until(page, (c) => c.every((x) => x.delivered === 1));
    await action(page, 'crash');
    await until(page, (c) => c[0].redelivered === 1 && c[1].lost === 1);
    await catchUp(page);
    const sides = await page.evaluate(() =>
      window.warrenPage.sides.map((s) =>
        s.world.wire.frames.map((f) => ({ n: f.n, at: f.at, name: f.name, dir: f.dir, args: f.args, msg: f.msg })),
      ),
    );
    const [manual, auto] = sides;
    const consume = (frames) => frames.find((f) => f.name === 'basic.consume');
    assert.equal(consume(manual).args.noAck, false, 'manual ack: the worker consumes with acks');
    assert.equal(consume(auto).args.noAck, true, 'automatic ack: no-ack on the wire');
    const delivers = (frames) => frames.filter((f) => f.name === 'basic.deliver');
    assert.deepEqual(
      delivers(manual).map((f) => f.args.redelivered),
      [false, true],
      'manual ack: delivered, then again after the crash',
    );
    assert.deepEqual(
      delivers(auto).map((f) => f.args.redelivered),
      [false],
      'automatic ack: one delivery, then nothing',
    );
    // One clock: the first delivery crossed at the same moment on both sides.
    assert.equal(delivers(manual)[0].at, delivers(auto)[0].at);

    // Each lane draws its own side's frames, under its own heads.
    const again = delivers(manual)[1];
    await page.evaluate((n) => document.getElementById('wire-left').reveal(n), again.n);
    const row = page.locator(`#wire-left .wire-row[data-n="${again.n}"]`);
    assert.match(await row.locator('.wire-label').textContent(), /^basic\.deliver tag 1 redelivered/);
    assert.equal(await page.locator('#wire-right .wire-label', { hasText: 'redelivered' }).count(), 0);
    await row.click();
    await page.waitForFunction((msg) => window.warrenPage.sides[0].world.selected === msg, again.msg, {
      timeout: 5000,
    });
    assert.notEqual(again.msg, null, 'the redelivery is tied to its message');
    assert.equal(await page.evaluate(() => window.warrenPage.sides[1].world.selected ?? null), null);
    await page.waitForSelector(`#wire-left .wire-row.selected[data-n="${again.n}"]`);
    await page.close();
    noErrors();
  });

  test('the navigation reaches compare, and its picker switches between the comparisons', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-4');
    await page.click('#nav a[data-route="compare"]');
    await navigated(page, 'compare');
    assert.match(await page.locator('#lesson-title').textContent(), /^Compare: /);
    await page.selectOption('#compare-pick', 'prefetch');
    await page.waitForFunction(() => window.warrenPage?.compare === 'prefetch');
    assert.deepEqual(await page.locator('.compare-side > h3').allTextContents(), ['prefetch 1', 'prefetch 10']);
    await page.close();
    noErrors();
  });
});
