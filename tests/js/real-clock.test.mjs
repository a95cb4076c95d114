// RealClock: real timers, one setTimeout under all of them. The engine's next
// deadline (a heartbeat's) moves a little later after every write; moving it
// must not cost a setTimeout each time, and must never make a callback run
// early, late by more than a timer's slack, or keep a process alive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import test from 'node:test';
import { RealClock } from '../../js/entry-node.js';

// Taken before any test replaces setTimeout with a counting one.
const realSetTimeout = globalThis.setTimeout;
const sleep = (ms) => new Promise((resolve) => realSetTimeout(resolve, ms));

test('a deadline moved later a hundred times is one timer, run once at its last time', async (t) => {
  const clock = new RealClock();
  const timers = t.mock.method(globalThis, 'setTimeout');
  const t0 = Date.now();
  const ranAt = [];
  let cancel = () => {};
  // As the broker's run loop does: cancel the old deadline, set the new one.
  for (let i = 0; i < 100; i++) {
    cancel();
    cancel = clock.at(t0 + 20 + i, () => ranAt.push(Date.now()));
  }
  assert.equal(timers.mock.callCount(), 1);
  await sleep(40);
  assert.deepEqual(ranAt, [], 'the first deadline passed, the moved one has not');
  await sleep(160);
  assert.equal(ranAt.length, 1);
  // setTimeout counts whole milliseconds from its own clock: allow one.
  assert.ok(ranAt[0] >= t0 + 119 - 1, `ran ${ranAt[0] - t0} ms after the start, before its deadline`);
  assert.equal(timers.mock.callCount(), 2, 'set again once, when the first deadline passed');
});

test('an earlier deadline sets the timer again', async () => {
  const clock = new RealClock();
  const t0 = Date.now();
  let ran = null;
  const cancel = clock.at(t0 + 60_000, () => assert.fail('cancelled'));
  cancel();
  clock.at(t0 + 10, () => (ran = Date.now()));
  await sleep(150);
  assert.ok(ran !== null, 'ran at its own time, not the minute of the cancelled one');
});

test('callbacks due together run in order of time, and a cancelled one does not run', async () => {
  const clock = new RealClock();
  const t0 = Date.now();
  const order = [];
  clock.at(t0 + 30, () => order.push('b'));
  clock.at(t0 + 10, () => order.push('a'));
  const cancel = clock.at(t0 + 20, () => order.push('cancelled'));
  clock.at(t0 + 80, () => order.push('c'));
  cancel();
  await sleep(200);
  assert.deepEqual(order, ['a', 'b', 'c']);
});

test('a callback cancelled by another due at the same time does not run', async () => {
  const clock = new RealClock();
  const t0 = Date.now();
  const order = [];
  let cancelSecond = () => {};
  clock.at(t0 + 10, () => {
    order.push('first');
    cancelSecond();
  });
  cancelSecond = clock.at(t0 + 10, () => order.push('second'));
  clock.at(t0 + 40, () => order.push('later'));
  await sleep(150);
  assert.deepEqual(order, ['first', 'later']);
});

test('a process whose only timer was cancelled exits at once', () => {
  const clockUrl = new URL('../../js/clock.js', import.meta.url).href;
  const script = `
    import { RealClock } from ${JSON.stringify(clockUrl)};
    const clock = new RealClock();
    const cancel = clock.at(Date.now() + 60_000, () => console.log('ran'));
    cancel();
  `;
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, '');
  assert.ok(Date.now() - started < 20_000, 'the cancelled minute-long timer held the process');
});
