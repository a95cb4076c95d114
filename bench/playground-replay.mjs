// How long the playground takes to go to a moment (rewind: the applied setup
// rebuilt on a fresh broker and its run replayed timer by timer up to the
// moment), per second of page time replayed, at several producer rates, in
// headless Chromium. Runs at up to 200 msg/s in all replay exactly (a task turn
// between timers); faster ones use microtask turns.
//
//   node bench/playground-replay.mjs [seconds=20]
//
// Needs /usr/bin/chromium and a built pkg/.
import { launch, serveStatic } from '../tests/page/harness.mjs';

const seconds = Number(process.argv[2] ?? 20);

function setup(rate) {
  const queue = { name: 'work', durable: true, ttl: 0, maxLength: 0, overflow: 'drop-head', dlx: '' };
  return {
    exchanges: [{ name: 'jobs', type: 'direct' }],
    queues: [{ ...queue, deliveryLimit: 0, consumerTimeout: 0 }],
    bindings: [{ exchange: 'jobs', queue: 'work', key: 'k' }],
    producers: [{ exchange: 'jobs', key: 'k', rate, persistent: false, confirm: false }],
    // Enough consumers for every rate (50 each per 20 ms): the queue does not grow without bound.
    consumers: [
      { queue: 'work', prefetch: 50, ack: 'manual', processMs: 20, crash: 0.001 },
      { queue: 'work', prefetch: 50, ack: 'manual', processMs: 20, crash: 0 },
      { queue: 'work', prefetch: 50, ack: 'auto', processMs: 20, crash: 0 },
    ],
  };
}

const server = await serveStatic();
const browser = await launch();
const page = await browser.context.newPage();
console.log(`going to t = ${seconds} s of the playground (${process.env.HOSTNAME ?? 'this machine'})`);
console.log('rate msg/s  exact  replay ms  ms per page second  messages published');
for (const rate of [10, 200, 2000]) {
  const hash = `playground=${Buffer.from(JSON.stringify(setup(rate))).toString('base64url')}`;
  await page.goto(`${server.url}#${hash}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  const ms = await page.evaluate(async (t) => {
    delete document.documentElement.dataset.moment;
    const scrub = document.getElementById('scrub');
    const t0 = performance.now();
    scrub.max = String(t);
    scrub.value = String(t);
    scrub.dispatchEvent(new Event('change'));
    while (document.documentElement.dataset.moment === undefined) await new Promise((r) => setTimeout(r, 5));
    return performance.now() - t0;
  }, seconds * 1000);
  const published = await page.evaluate(() => window.warrenPage.world.model.counters.published);
  const exact = await page.evaluate(() => window.warrenPage.world.exact);
  console.log(
    `${String(rate).padStart(10)}  ${String(exact).padEnd(5)}  ${ms.toFixed(0).padStart(9)}  ${(ms / seconds).toFixed(1).padStart(18)}  ${published}`,
  );
}
await browser.close();
await server.close();
