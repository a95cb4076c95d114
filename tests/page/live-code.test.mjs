// Edit and run: the lesson's amqp-client.js program, edited, runs in a Web
// Worker against the broker in the tab (AMQPWebSocketClient over warren-mq's
// webSocketFor); the scene and broker.snapshot() show what it does, a loop
// that never yields freezes only the worker, and the client's errors are shown.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LESSONS } from '../../www/lessons/index.js';
import { open, pageSuite } from './harness.mjs';

const suite = pageSuite();

const HEAD = `const client = new AMQPWebSocketClient('ws://this-tab/amqp', '/', 'guest', 'guest')
const conn = await client.connect()
const ch = await conn.channel()
`;

/** Opens lesson `n`, the editor from its code panel, and runs `program` (or the lesson's own). */
async function runProgram(n, program) {
  const page = await suite.browser.context.newPage();
  await open(page, suite.server.url, `lesson-${n}`);
  await page.click('#code-edit');
  const source = page.locator('#live-code-source');
  await source.waitFor({ state: 'visible' });
  if (program !== undefined) await source.fill(program);
  await page.click('[data-live="run"]');
  return page;
}

const output = (page) => page.locator('.live-output li').allInnerTexts();
const waitOutput = (page, re, timeout = 20000) =>
  page.waitForFunction(
    (src) => [...document.querySelectorAll('.live-output li')].some((li) => new RegExp(src).test(li.textContent)),
    re.source,
    { timeout },
  );
const queueIn = (page, name) =>
  page.evaluate((q) => window.warrenPage.snapshot().queues.find((x) => x.name === q) ?? null, name);

describe('live code', () => {
  test("the lesson's own program, opened from the code panel, runs against the tab's broker", async () => {
    const page = await runProgram(1);
    const code = await page.locator('#live-code-source').inputValue();
    assert.match(code, /new AMQPWebSocketClient\(/, 'the opening connects to the broker in the tab');
    assert.match(code, /basicConsume\('work'/, "the rest is the lesson's program");
    // Its consumer is drawn, and it is the broker's: a second consumer on 'work' in the snapshot.
    await page.waitForSelector('[data-node="c:program"][data-consuming="true"]', { timeout: 20000 });
    const consumers = await page.evaluate(
      () => window.warrenPage.snapshot().consumers.filter((c) => c.queue === 'work').length,
    );
    assert.equal(consumers, 2, 'worker and your program consume from work');
    assert.deepEqual(
      (await output(page)).filter((l) => /error/i.test(l)),
      [],
    );
    await page.close();
    suite.noErrors();
  });

  test('an edited program: its consumer, its acks and its output show, as the engine has them', async () => {
    const page = await runProgram(
      1,
      `${HEAD}await ch.queueDeclare('mine', { durable: false })
await ch.prefetch(2)
await ch.basicConsume('mine', { noAck: false }, async (msg) => {
  print('got', msg.bodyString())
  await msg.ack()
})
for (let i = 1; i <= 3; i++) await ch.basicPublish('', 'mine', 'note ' + i)
`,
    );
    await waitOutput(page, /got note 3/);
    assert.deepEqual(
      (await output(page)).filter((l) => l.startsWith('got')),
      ['got note 1', 'got note 2', 'got note 3'],
    );
    // The engine: a consumer on 'mine' with prefetch 2, nothing left in the queue, three acks.
    await page.waitForFunction(() => window.warrenPage.world.model.counters.acked >= 3);
    const snap = await page.evaluate(() => window.warrenPage.snapshot());
    const c = snap.consumers.find((x) => x.queue === 'mine');
    assert.ok(c, 'the program consumes from mine');
    assert.equal(snap.channels.find((x) => x.conn === c.conn && x.channel === c.channel).prefetch, 2);
    const q = snap.queues.find((x) => x.name === 'mine');
    assert.deepEqual([q.ready, q.unacked], [0, 0]);
    // The scene: the queue it declared, its box linked to it, with the broker's prefetch.
    await page.waitForSelector('[data-node="q:mine"]');
    const box = page.locator('[data-node="c:program"]');
    await box.waitFor();
    assert.equal(await box.getAttribute('data-consuming'), 'true');
    assert.match(await box.textContent(), /channel 1 · prefetch 2/);
    await page.close();
    suite.noErrors();
  });

  test('a loop that never yields does not freeze the page; Stop ends it and the broker requeues', async () => {
    const page = await runProgram(
      1,
      `${HEAD}await ch.queueDeclare('mine', { durable: false })
await ch.basicConsume('mine', { noAck: false }, (msg) => {
  print('holding', msg.bodyString())
  for (;;) {}
})
await ch.basicPublish('', 'mine', 'stuck')
`,
    );
    await waitOutput(page, /holding stuck/);
    let q = await queueIn(page, 'mine');
    assert.deepEqual([q.ready, q.unacked], [0, 1], 'the program holds the message unacked');
    // The page goes on: its clock moves and it answers clicks.
    const t0 = await page.evaluate(() => window.warrenPage.world.now());
    await page.waitForFunction((t) => window.warrenPage.world.now() > t + 300, t0, { timeout: 10000 });
    await page.click('[data-live="stop"]');
    await waitOutput(page, /Stopped/);
    await page.waitForFunction(() => {
      const q = window.warrenPage.snapshot().queues.find((x) => x.name === 'mine');
      return q.ready === 1 && q.unacked === 0;
    });
    q = await queueIn(page, 'mine');
    assert.deepEqual([q.ready, q.unacked], [1, 0], 'back in the queue');
    assert.equal(await page.evaluate(() => window.warrenPage.snapshot().consumers.length), 1, 'only worker is left');
    await page.waitForFunction(() => window.warrenPage.world.model.counters.requeued >= 1);
    assert.equal(await page.locator('[data-live="run"]').isEnabled(), true);
    await page.close();
    suite.noErrors();
  });

  test("a client error is shown with the client's own text", async () => {
    const page = await runProgram(1, `${HEAD}await ch.basicAck(99)\nawait sleep(60000)\n`);
    await waitOutput(page, /406/);
    const lines = await output(page);
    const error = lines.find((l) => /406/.test(l));
    assert.match(error, /PRECONDITION_FAILED - unknown delivery tag 99/);
    assert.match(error, /^Channel 1 closed/);
    // The channel is gone in the engine too.
    const channels = await page.evaluate(() => window.warrenPage.snapshot().channels.length);
    assert.ok(channels >= 1);
    await page.close();
    suite.noErrors();
  });

  test("every lesson's and the playground's own program runs as written", async () => {
    for (const where of [...LESSONS.map((l) => l.number), 'playground']) {
      const page = await suite.browser.context.newPage();
      await open(page, suite.server.url, where === 'playground' ? 'playground' : `lesson-${where}`);
      await page.click('#code-edit');
      await page.click('[data-live="run"]');
      await page.waitForFunction(() => document.querySelector('.live-state')?.textContent === 'running');
      // Lesson 6's program ends; lesson 4's channel is closed; the others consume, as the broker reports.
      if (where === 6) await waitOutput(page, /reached its end/);
      else if (where === 4) await waitOutput(page, /406/);
      else await page.waitForSelector('[data-node="c:program"][data-consuming="true"]', { timeout: 20000 });
      const errors = await page.locator('.live-output li[data-kind="error"]').allInnerTexts();
      // Lesson 4's program acks tag 1 before anything reached it: the broker's answer is the lesson's point.
      if (where === 4) assert.match(errors.join('\n'), /PRECONDITION_FAILED - unknown delivery tag 1 \(406\)/);
      else assert.deepEqual(errors, [], `${where}: the program reported errors`);
      await page.close();
    }
    suite.noErrors();
  });

  test("lesson 8 with the lease: the program run is AMQP's way, a consumer timeout asked for at subscribe, and its slow job is not taken back", async () => {
    const page = await suite.browser.context.newPage();
    await open(page, suite.server.url, 'lesson-8');
    await page.locator('[data-setting="lease"]').check();
    // The lesson restarted with the lease: its code panel shows warren-mq's extendLease.
    await page.waitForFunction(() =>
      /ch\.extendLease/.test(document.querySelector('.code-panel pre')?.textContent ?? ''),
    );
    await page.click('#code-edit');
    const source = page.locator('#live-code-source');
    await source.waitFor({ state: 'visible' });
    const code = await source.inputValue();
    assert.doesNotMatch(code.replace(/^\/\/.*$/gm, ''), /extendLease/, 'no call amqp-client.js does not have');
    assert.match(code, /basicConsume\('jobs', \{ noAck: false, args: \{ 'x-consumer-timeout': 30000 \} \}/);
    await page.click('[data-live="run"]');
    await page.waitForSelector('[data-node="c:program"][data-consuming="true"]', { timeout: 20000 });
    // Two jobs: one for worker (extendLease), one for the program (slowJob, 8 s), each past the queue's 5 s.
    await page.click('[data-action="publish"]');
    await page.click('[data-action="publish"]');
    const counters = () => page.evaluate(() => ({ ...window.warrenPage.world.model.counters }));
    await page.waitForFunction(() => window.warrenPage.world.model.counters.acked >= 2, null, { timeout: 40000 });
    const c = await counters();
    assert.equal(c.redelivered, 0, 'neither job was taken back');
    assert.equal(c.requeued, 0);
    assert.deepEqual(await page.locator('.live-output li[data-kind="error"]').allInnerTexts(), []);
    await page.close();
    suite.noErrors();
  });

  test('a program that does not parse says why', async () => {
    const page = await runProgram(1, `${HEAD}await ch.queueDeclare('mine'\n`);
    await waitOutput(page, /SyntaxError/);
    await page.close();
    suite.noErrors();
  });
});
