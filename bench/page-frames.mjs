// Frame times of the tutorial page's playground while 2,000 messages a second
// flow through the real engine, measured in headless Chromium, with the wire
// lane on (every frame tapped, decoded and drawn) unless told "off".
//
//   node bench/page-frames.mjs [seconds=5] [rate=2000] [wire=on|off]
//
// Reports the interval between animation frames (what a reader sees) and the
// time the page's own work takes per frame (engine calls for the messages due
// in that frame, the engine's event batch, applying events, drawing), plus the
// message rate actually reached, and the machine's load average: on a shared
// machine the figures move with it. The page's own work leaves out what the
// browser does for the frame after the callbacks (style, layout, paint), so
// the run is also traced (Chromium's DevTools protocol) and each frame's whole
// rendering step is reported: the callbacks plus style, layout and paint, the
// main-thread cost of a frame. Tracing adds a little to every figure.
// Needs /usr/bin/chromium and a built pkg/.
import os from 'node:os';
import { launch, serveStatic } from '../tests/page/harness.mjs';
import { PRESETS } from '../www/playground.js';

const seconds = Number(process.argv[2] ?? 5);
const rate = Number(process.argv[3] ?? 2000);
const wire = (process.argv[4] ?? 'on') !== 'off';
const WARMUP_MS = 2000;

// The playground's own preset, at the rate asked for.
const setup = structuredClone(PRESETS['2,000 messages a second']);
setup.producers[0].rate = rate;
const hash = `playground=${Buffer.from(JSON.stringify(setup)).toString('base64url')}`;

// Installed before the page's scripts: times every requestAnimationFrame callback
// (the page's and the wire lane's); callbacks of one frame share its timestamp.
function instrument() {
  const raf = window.requestAnimationFrame.bind(window);
  const frames = (window.__frames = { calls: [], on: false });
  window.requestAnimationFrame = (fn) =>
    raf((t) => {
      const t0 = performance.now();
      const done = fn(t);
      if (!frames.on) return;
      // The page's frame is async (time moves timer by timer): measured when it has finished,
      // then after the microtasks it caused (the engine's event batch).
      Promise.resolve(done).then(() => queueMicrotask(() => frames.calls.push([t, performance.now() - t0])));
    });
  window.__loaf = [];
  try {
    new PerformanceObserver((list) => {
      if (frames.on) for (const e of list.getEntries()) window.__loaf.push(e.duration);
    }).observe({ type: 'long-animation-frame', buffered: false });
  } catch {
    // older Chromium: no Long Animation Frames API
  }
}

/**
 * Traces the page's main thread; `stop()` resolves with each frame's rendering
 * step (Chromium's AnimationFrame::Render span: the animation frame callbacks,
 * then style, layout, paint), in order: `wall` its length in ms, `cpu` the
 * main thread's CPU time in it (the top-level slices inside it), which a busy
 * machine inflates far less than the wall time.
 */
async function startTrace(context, page) {
  const cdp = await context.newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (d) => events.push(...d.value));
  await cdp.send('Tracing.start', {
    traceConfig: { includedCategories: ['devtools.timeline'], recordMode: 'recordContinuously' },
    transferMode: 'ReportEvents',
  });
  return {
    async stop() {
      const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
      await cdp.send('Tracing.end');
      await complete;
      await cdp.detach();
      events.sort((a, b) => a.ts - b.ts);
      const begun = new Map();
      const spans = [];
      let thread = null;
      for (const e of events) {
        if (e.name !== 'AnimationFrame::Render') continue;
        thread ??= `${e.pid}:${e.tid}`;
        const key = `${e.pid}:${e.id2?.local ?? e.id}`;
        if (e.ph === 'b') begun.set(key, e.ts);
        else if (e.ph === 'e' && begun.has(key)) {
          spans.push({ from: begun.get(key), to: e.ts });
          begun.delete(key);
        }
      }
      const slices = events.filter((e) => e.ph === 'X' && `${e.pid}:${e.tid}` === thread && e.tdur !== undefined);
      let i = 0;
      return spans.map(({ from, to }) => {
        while (i < slices.length && slices[i].ts < from) i++;
        let cpu = 0;
        let end = from;
        for (let j = i; j < slices.length && slices[j].ts < to; j++) {
          // Top-level in the span only: a slice inside one already counted is part of it.
          if (slices[j].ts < end) continue;
          cpu += slices[j].tdur;
          end = slices[j].ts + slices[j].dur;
        }
        return { wall: (to - from) / 1000, cpu: cpu / 1000 };
      });
    },
  };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const f = (x) => x.toFixed(2);

const server = await serveStatic();
const browser = await launch();
try {
  const page = await browser.context.newPage();
  await page.addInitScript(instrument);
  await page.goto(`${server.url}#${hash}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  if (!wire) await page.uncheck('#wire-on');
  const lane = () => page.evaluate(() => window.warrenPage.world.wire.total);
  const published = () =>
    page.evaluate(() => Number(document.querySelector('[data-counter="published"] .n').textContent));
  await page.waitForTimeout(WARMUP_MS);
  const p0 = await published();
  const w0 = await lane();
  const load0 = os.loadavg()[0];
  await page.evaluate(() => (window.__frames.on = true));
  const t0 = Date.now();
  const trace = await startTrace(browser.context, page);
  await page.waitForTimeout(seconds * 1000);
  await page.evaluate(() => (window.__frames.on = false));
  const elapsed = (Date.now() - t0) / 1000;
  const rendering = await trace.stop();
  const p1 = await published();
  const w1 = await lane();
  const load1 = os.loadavg()[0];
  const { calls } = await page.evaluate(() => window.__frames);
  // Per frame: its timestamp, and the work of all its callbacks together.
  const perFrame = new Map();
  for (const [t, ms] of calls) perFrame.set(t, (perFrame.get(t) ?? 0) + ms);
  const at = [...perFrame.keys()].sort((a, b) => a - b);
  const work = at.map((t) => perFrame.get(t));
  const loaf = await page.evaluate(() => window.__loaf);
  const gaps = at.slice(1).map((t, i) => t - at[i]);
  // Timestamps come in steps of about 0.1 ms: an on-time 60 Hz frame reads 16.6 to 16.8.
  const onTime = gaps.filter((g) => g <= 17.5).length;
  const dropped = gaps.filter((g) => g > 25).length;
  const version = await page.evaluate(() => navigator.userAgent.match(/Chrom(e|ium)\/[\d.]+/)?.[0]);
  console.log(
    `page-frames: ${version}, playground at ${rate} msg/s for ${seconds} s (after ${WARMUP_MS / 1000} s warm-up)`,
  );
  console.log(`  messages published: ${((p1 - p0) / elapsed).toFixed(0)} msg/s of page time at speed 1x`);
  console.log(
    `  wire lane: ${wire ? `on, ${((w1 - w0) / elapsed).toFixed(0)} AMQP frames/s tapped, decoded and drawn` : 'off'}`,
  );
  console.log(
    `  load average (1 min) before/after: ${f(load0)} / ${f(load1)} on ${os.cpus().length} cores (shared machine)`,
  );
  console.log(`  frames: ${at.length} (${(at.length / elapsed).toFixed(1)} fps)`);
  console.log(
    `  frame interval ms: mean ${f(gaps.reduce((a, b) => a + b, 0) / gaps.length)}  p50 ${f(pct(gaps, 50))}  p95 ${f(pct(gaps, 95))}  p99 ${f(pct(gaps, 99))}  max ${f(Math.max(...gaps))}`,
  );
  console.log(
    `  frames on time (interval <= 17.5 ms, one 60 Hz vsync): ${((100 * onTime) / gaps.length).toFixed(1)}%; dropped (> 25 ms): ${dropped}`,
  );
  console.log(
    `  page work under 16.7 ms: ${((100 * work.filter((w) => w < 16.7).length) / work.length).toFixed(1)}% of frames`,
  );
  console.log(
    `  page work per frame ms: mean ${f(work.reduce((a, b) => a + b, 0) / work.length)}  p50 ${f(pct(work, 50))}  p95 ${f(pct(work, 95))}  p99 ${f(pct(work, 99))}  max ${f(Math.max(...work))}`,
  );
  for (const [what, key] of [
    ['wall', 'wall'],
    ['main-thread CPU', 'cpu'],
  ]) {
    const ms = rendering.map((r) => r[key]);
    console.log(
      `  frame rendering (callbacks + style, layout, paint), ${what}: under 16.7 ms in ${((100 * ms.filter((w) => w < 16.7).length) / ms.length).toFixed(1)}% of ${ms.length} frames; ms mean ${f(ms.reduce((a, b) => a + b, 0) / ms.length)}  p50 ${f(pct(ms, 50))}  p95 ${f(pct(ms, 95))}  p99 ${f(pct(ms, 99))}  max ${f(Math.max(...ms))}`,
    );
  }
  console.log(
    `  long animation frames (> 50 ms): ${loaf.length}${loaf.length ? `, longest ${f(Math.max(...loaf))} ms` : ''}`,
  );
  if (browser.errors.length) console.log(`  page errors:\n    ${browser.errors.join('\n    ')}`);
} finally {
  await browser.close();
  await server.close();
}
