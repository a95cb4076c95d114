// The wire lane: the AMQP frames the engine's wire tap encoded for the page's
// clients, shown row by row with their fields; a row selects its message; a
// rewind rebuilds the lane from the replay.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LESSONS } from '../../www/lessons/index.js';
import { PRESETS } from '../../www/playground.js';
import { action, catchUp, open, pageSuite, setSpeed, waitCounter } from './harness.mjs';

const suite = pageSuite();
const noErrors = suite.noErrors;

/**
 * The lane's row for the first frame after frame `after` that matches (`where(frame, arg)`
 * runs in the page), as the page draws it: scrolled into the lane's window first (only rows in view exist).
 */
async function row(page, { name, dir, after = -1, where = () => true, arg = null }) {
  const n = await page.waitForFunction(
    ({ name, dir, after, where, arg }) => {
      const test = new Function('f', 'arg', `return (${where})(f, arg)`);
      const f = window.warrenPage.world.wire.frames.find(
        (x) => x.n > after && x.name === name && x.dir === dir && test(x, arg),
      );
      return f ? f.n : null;
    },
    { name, dir, after, where: where.toString(), arg },
    { timeout: 20000 },
  );
  const index = await n.jsonValue();
  await page.evaluate((index) => document.getElementById('wire').reveal(index), index);
  const locator = page.locator(`.wire-row[data-n="${index}"]`);
  await locator.waitFor({ state: 'visible' });
  return { n: index, locator, text: await locator.locator('.wire-label').textContent() };
}

/** The lane's frames without their page-specific numbering: what a replay must rebuild. */
const frames = (page) =>
  page.evaluate(() =>
    window.warrenPage.world.wire.frames.map((f) => ({
      at: f.at,
      dir: f.dir,
      name: f.name,
      args: f.args,
      msg: f.msg,
      body: f.body,
    })),
  );

describe('the wire lane', () => {
  test('lesson 4: a nack with requeue, the redelivery marked redelivered, and the 406 for an unknown tag, as frames', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-4');
    await setSpeed(page, 10);
    await waitCounter(page, 'delivered', 5);
    const first = await row(page, { name: 'basic.deliver', dir: 'out' });
    assert.match(first.text, /^basic\.deliver tag 1 "m1"$/);
    await page.fill('#ctl-tags-tag', '2');
    await page.dispatchEvent('#ctl-tags-tag', 'change');
    await action(page, 'nack');
    const nack = await row(page, { name: 'basic.nack', dir: 'in' });
    assert.equal(nack.text, 'basic.nack tag 2 requeue');
    assert.equal(await nack.locator.getAttribute('data-dir'), 'in');
    const redelivery = await row(page, { name: 'basic.deliver', dir: 'out', after: nack.n });
    assert.match(redelivery.text, /^basic\.deliver tag 6 redelivered "m2"$/);
    // Both name the same message: the one the engine delivered as tag 2 and again as tag 6.
    assert.equal(
      await nack.locator.getAttribute('data-msg'),
      await redelivery.locator.getAttribute('data-msg'),
      'the nack and its redelivery are one message',
    );

    await page.fill('#ctl-tags-tag', '99');
    await page.dispatchEvent('#ctl-tags-tag', 'change');
    await action(page, 'ack');
    const ack = await row(page, { name: 'basic.ack', dir: 'in', after: redelivery.n });
    assert.equal(ack.text, 'basic.ack tag 99');
    const close = await row(page, { name: 'channel.close', dir: 'out', after: ack.n });
    assert.match(close.text, /^channel\.close 406 PRECONDITION_FAILED - unknown delivery tag 99$/);
    assert.equal(close.n, ack.n + 1, 'the close answers the ack at once');
    await page.close();
    noErrors();
  });

  test('a confirm channel, a mandatory unroutable publish and a basic.get, scripted on the page broker', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await page.evaluate(async () => {
      const conn = await window.warrenPage.world.broker.connect({ name: 'script' });
      const ch = await conn.channel();
      await ch.queueDeclare('wire-q', { durable: false });
      await ch.confirmSelect();
      await ch.basicPublish('', 'wire-q', 'first', { deliveryMode: 2 });
      await ch.basicPublish('', 'no-such-queue', 'stray', {}, true);
      await ch.basicGet('wire-q', { noAck: false });
    });
    const publish = await row(page, { name: 'basic.publish', dir: 'in', where: (f) => f.body === 'first' });
    assert.equal(publish.text, 'basic.publish (default) → wire-q "first"');
    const confirm = await row(page, { name: 'basic.ack', dir: 'out', after: publish.n });
    assert.equal(confirm.text, 'basic.ack confirm seq 1');
    const stray = await row(page, { name: 'basic.publish', dir: 'in', after: publish.n });
    assert.equal(stray.text, 'basic.publish (default) → no-such-queue mandatory "stray"');
    const ret = await row(page, { name: 'basic.return', dir: 'out', after: stray.n });
    assert.equal(ret.text, 'basic.return 312 NO_ROUTE "stray"');
    assert.equal(await ret.locator.getAttribute('data-msg'), await stray.locator.getAttribute('data-msg'));
    const second = await row(page, { name: 'basic.ack', dir: 'out', after: stray.n });
    assert.equal(second.text, 'basic.ack confirm seq 2', 'an unroutable message is confirmed too');
    const got = await row(page, { name: 'basic.get-ok', dir: 'out' });
    assert.equal(got.text, 'basic.get-ok tag 1 "first"');
    assert.equal(await got.locator.getAttribute('data-msg'), await publish.locator.getAttribute('data-msg'));
    await page.close();
    noErrors();
  });

  test("every lesson and the playground: the lane draws its clients' frames under their names", async () => {
    const page = await suite.browser.context.newPage();
    for (const hash of [...LESSONS.map((l) => `lesson-${l.number}`), 'playground']) {
      await open(page, suite.server.url, hash);
      const open_ = await row(page, { name: 'channel.open-ok', dir: 'out' });
      assert.equal(open_.text, 'channel.open-ok', hash);
      // Each connection that spoke has a column, named after the client on it.
      const heads = await page.locator('.wire-conns span').allTextContents();
      const labels = await page.evaluate(() =>
        window.warrenPage.world.actors.filter((a) => a.connection).map((a) => a.label),
      );
      for (const label of labels) assert.ok(heads.includes(label), `${hash}: no column for ${label} in ${heads}`);
    }
    await setSpeed(page, 10);
    const deliver = await row(page, { name: 'basic.deliver', dir: 'out' });
    assert.match(deliver.text, /^basic\.deliver tag \d+/);
    await page.close();
    noErrors();
  });

  test('under "step" the lane shows no frame of a moment the scene has not reached', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await page.click('.time-controls .play');
    await page.waitForSelector('.time-controls.paused');
    const before = await page.locator('.wire-row:not([hidden])').count();
    await action(page, 'publish');
    // The engine has run the publish (its frames are recorded) but its events wait for "step".
    await page.waitForFunction(() => window.warrenPage.world.wire.frames.some((f) => f.name === 'basic.publish'));
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.equal(
      await page.locator('.wire-row[data-name="basic.publish"]').count(),
      0,
      'not before its event is shown',
    );
    assert.equal(await page.locator('.wire-row:not([hidden])').count(), before);
    await page.click('.time-controls .step');
    await page.waitForFunction(() => window.warrenPage.world.model.lastEvent?.type === 'published');
    await page.locator('.wire-row[data-name="basic.publish"]').waitFor({ state: 'visible' });
    await page.close();
    noErrors();
  });

  test('clicking a frame selects its message in the scene and the timeline', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-3');
    await setSpeed(page, 10);
    await action(page, 'publish-good');
    const deliver = await row(page, { name: 'basic.deliver', dir: 'out' });
    await page.waitForFunction(
      (n) => document.querySelector(`.wire-row[data-n="${n}"]`)?.dataset.msg !== undefined,
      deliver.n,
    );
    const msg = Number(await deliver.locator.getAttribute('data-msg'));
    await deliver.locator.click();
    await page.waitForFunction((m) => window.warrenPage.world.selected === m, msg);
    await page.waitForFunction((m) => document.querySelector('.timeline select')?.value === String(m), msg);
    await page.locator('.tokens .tok.sel').first().waitFor({ state: 'attached' });
    // The row picked is marked as pressed at the next frame.
    await page.waitForSelector(`.wire-row[data-n="${deliver.n}"][aria-pressed="true"]`);
    // Every row of that message is marked, the publish included.
    const publish = await row(page, { name: 'basic.publish', dir: 'in', where: (f, m) => f.msg === m, arg: msg });
    assert.ok(await publish.locator.evaluate((e) => e.classList.contains('selected')));
    // From the keyboard: the lane is one tab stop; up picks the frame before (the publish).
    await page.focus('.wire-view');
    await page.keyboard.press('ArrowUp');
    await page.waitForSelector(`.wire-row[data-n="${deliver.n - 1}"][aria-pressed="true"]`);
    // End lets go of the pick and follows the newest frames again.
    await page.keyboard.press('End');
    await page.waitForFunction(() => !document.querySelector('.wire-count').textContent.includes('held'));
    assert.equal(await page.locator('.wire-row[aria-pressed="true"]').count(), 0);
    await page.close();
    noErrors();
  });

  test("the live-code program's own frames, cut from its real AMQP bytes, under its connection", async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    await setSpeed(page, 10);
    await page.click('#code-edit');
    await page.locator('#live-code-source').fill(
      `const client = new AMQPWebSocketClient('ws://this-tab/amqp', '/', 'guest', 'guest')
const conn = await client.connect()
const ch = await conn.channel()
await ch.queueDeclare('mine', { durable: false })
await ch.basicConsume('mine', { noAck: false }, async (msg) => {
  print('got', msg.bodyString())
  await msg.ack()
})
await ch.basicPublish('', 'mine', 'over the wire')
await sleep(200)
const other = await conn.channel()
await other.basicAck(99)
await sleep(60000)
`,
    );
    await page.click('[data-live="run"]');
    await page.waitForFunction(
      () => [...document.querySelectorAll('.live-output li')].some((li) => /406/.test(li.textContent)),
      null,
      { timeout: 20000 },
    );
    // The program's connection in the engine: the one consuming from 'mine'.
    const conn = await page.evaluate(() => window.warrenPage.snapshot().consumers.find((c) => c.queue === 'mine').conn);
    const mine = (f, conn) => f.conn === conn;
    const start = await row(page, { name: 'connection.start', dir: 'out', where: mine, arg: conn });
    assert.equal(start.text, 'connection.start');
    await row(page, { name: 'connection.start-ok', dir: 'in', where: mine, arg: conn });
    await row(page, { name: 'connection.tune', dir: 'out', where: mine, arg: conn });
    const opened = await row(page, { name: 'connection.open', dir: 'in', where: mine, arg: conn });
    assert.ok(opened.n > start.n, 'in the order they crossed');
    const consume = await row(page, { name: 'basic.consume', dir: 'in', where: mine, arg: conn });
    assert.equal(consume.text, 'basic.consume mine');
    const publish = await row(page, { name: 'basic.publish', dir: 'in', where: mine, arg: conn });
    assert.equal(publish.text, 'basic.publish (default) → mine "over the wire"');
    const deliver = await row(page, { name: 'basic.deliver', dir: 'out', where: mine, arg: conn });
    assert.equal(deliver.text, 'basic.deliver tag 1 "over the wire"');
    const ack = await row(page, {
      name: 'basic.ack',
      dir: 'in',
      where: (f, c) => f.conn === c && f.channel === 1,
      arg: conn,
    });
    assert.equal(ack.text, 'basic.ack tag 1');
    // Tied to the message by the engine's events: the publish, the delivery and the ack name one message.
    await page.waitForFunction(
      (n) => document.querySelector(`.wire-row[data-n="${n}"]`)?.dataset.msg !== undefined,
      deliver.n,
    );
    const msg = await deliver.locator.getAttribute('data-msg');
    assert.equal(await publish.locator.getAttribute('data-msg'), msg);
    assert.equal(await ack.locator.getAttribute('data-msg'), msg);
    await deliver.locator.click();
    await page.waitForFunction((m) => window.warrenPage.world.selected === m, Number(msg));
    await page.waitForSelector(`.wire-row[data-n="${deliver.n}"].selected`);
    // The unknown tag on the second channel, and the broker's answer.
    const bad = await row(page, {
      name: 'basic.ack',
      dir: 'in',
      where: (f, c) => f.conn === c && f.channel === 2,
      arg: conn,
    });
    assert.equal(bad.text, 'basic.ack tag 99');
    const close = await row(page, { name: 'channel.close', dir: 'out', where: mine, arg: conn, after: bad.n });
    assert.equal(close.text, 'channel.close 406 PRECONDITION_FAILED - unknown delivery tag 99');
    // Its column is headed by the program's name, and its rows' arrows reach that column.
    const columns = await page.locator('.wire-conns span').allTextContents();
    assert.ok(columns.includes('your program'), `a column for the program in ${columns}`);
    const width = (r) => r.locator.locator('.wire-arrow').evaluate((e) => e.style.width);
    const col = columns.indexOf('your program');
    assert.equal(await width(close), `calc(${((col + 1) / columns.length) * 100}% - 0.5em)`);
    await page.close();
    noErrors();
  });

  test('at 2,000 msg/s the lane keeps its height, redraws its rows ten times a second and answers a click at once', async () => {
    const setup = PRESETS['2,000 messages a second'];
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, `playground=${Buffer.from(JSON.stringify(setup)).toString('base64url')}`);
    await page.waitForFunction(() => window.warrenPage.world.wire.total > 2000, null, { timeout: 30000 });
    // The view is the lane's own scroll box (14em), not as tall as every frame kept.
    const view = await page.evaluate(() => {
      const v = document.querySelector('.wire-view');
      return { height: v.clientHeight, rows: v.querySelectorAll('.wire-row').length };
    });
    assert.ok(view.height > 100 && view.height < 400, `lane view ${view.height} px high`);
    assert.ok(view.rows <= 40, `${view.rows} rows exist`);
    const seen = await page.evaluate(async () => {
      const spacer = document.querySelector('.wire-spacer');
      const wire = window.warrenPage.world.wire;
      let redraws = 0;
      const watch = new MutationObserver((list) => (redraws += list.length));
      watch.observe(spacer, { attributes: true, attributeFilter: ['style'] });
      const [total, t0] = [wire.total, performance.now()];
      await new Promise((resolve) => setTimeout(resolve, 2000));
      watch.disconnect();
      return { redraws, frames: wire.total - total, ms: performance.now() - t0 };
    });
    assert.ok(seen.frames > 1000, `${seen.frames} frames in ${seen.ms} ms`);
    // The spacer grows at each redraw: at most one every 100 ms (and one for the first).
    assert.ok(seen.redraws <= Math.ceil(seen.ms / 100) + 1, `${seen.redraws} redraws in ${seen.ms} ms`);
    // A click is drawn in the next frame, not at the next tenth of a second.
    const drawnIn = await page.evaluate(async () => {
      const rows = document.querySelectorAll('.wire-row:not([hidden])');
      const row = rows[rows.length - 1];
      const n = row.dataset.n;
      row.click();
      const t0 = performance.now();
      // Two animation frames: the lane's loop may run before the click's in this one.
      for (let i = 0; i < 2; i++) await new Promise((resolve) => requestAnimationFrame(resolve));
      const pressed = document.querySelector('.wire-row[aria-pressed="true"]:not([hidden])');
      return pressed?.dataset.n === n ? performance.now() - t0 : null;
    });
    assert.notEqual(drawnIn, null, 'the clicked row is drawn picked within two animation frames');
    await page.close();
    noErrors();
  });

  test('after a rewind the lane is rebuilt by the replay: the same frames at the same moments', async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-1');
    // At 1x the worker is still processing (4 s) when the crash comes; then on, faster.
    await action(page, 'publish');
    await waitCounter(page, 'delivered', 1);
    await action(page, 'crash');
    await setSpeed(page, 10);
    await waitCounter(page, 'acked', 1, 30000);
    await catchUp(page);
    const first = await frames(page);
    assert.ok(first.some((f) => f.name === 'basic.deliver' && f.args.redelivered));
    const end = await page.evaluate(() => window.warrenPage.world.now());

    await page.evaluate(() => delete document.documentElement.dataset.moment);
    await page.selectOption('#jump-kind', 'crash');
    await page.click('.jump-prev');
    await page.waitForFunction(() => document.documentElement.dataset.moment !== undefined, null, { timeout: 30000 });
    const atCrash = await frames(page);
    assert.ok(atCrash.length < first.length, 'the lane went back with the clock');
    assert.deepEqual(atCrash, first.slice(0, atCrash.length), 'the replay so far is the first run');
    assert.ok(!atCrash.some((f) => f.name === 'basic.deliver' && f.args.redelivered), 'no redelivery yet');

    await page.evaluate(() => delete document.documentElement.dataset.moment);
    await page.evaluate((t) => {
      const scrub = document.getElementById('scrub');
      scrub.max = String(Math.ceil(t / 10) * 10 + 10);
      scrub.value = String(t);
      scrub.dispatchEvent(new Event('change'));
    }, end);
    await page.waitForFunction(() => document.documentElement.dataset.moment !== undefined, null, { timeout: 30000 });
    await catchUp(page);
    assert.deepEqual(await frames(page), first);
    const redelivery = await row(page, { name: 'basic.deliver', dir: 'out', where: (f) => f.args.redelivered });
    assert.match(redelivery.text, /^basic\.deliver tag 1 redelivered "m1"$/);
    await page.close();
    noErrors();
  });
});
