// What the seeded walks (random-, routing-, death- and dispatch-walk.mjs)
// share: their random source, and the loop that runs each seed on RabbitMQ
// and on a `warren-mq serve` of this tree and prints where they part.
import { startServer } from '../node/server.mjs';

/** mulberry32: a small seeded generator, so a walk replays from its seed. */
export function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { int, chance: (p) => next() < p, pick: (xs) => xs[int(xs.length)] };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints the steps both brokers took alike, then the first where they part. */
export function firstStep(fromRabbit, fromWarren) {
  const at = fromRabbit.findIndex((s, i) => JSON.stringify(s) !== JSON.stringify(fromWarren[i]));
  const step = at < 0 ? fromRabbit.length : at;
  for (let i = 0; i < step; i++) console.log(`  same     ${JSON.stringify(fromRabbit[i])}`);
  console.log(`  RabbitMQ ${JSON.stringify(fromRabbit[step])}\n  Warren   ${JSON.stringify(fromWarren[step])}`);
}

/**
 * Runs `walk(url, seed)` for `walks` seeds from `firstSeed` on RabbitMQ at
 * `amqpPort` and on Warren, compares the two results as JSON, and prints
 * each seed where they differ (through `show(fromRabbit, fromWarren, seed)`)
 * and a summary (`tally(fromRabbit)` adds a count to it). Sets the exit code.
 */
export async function runWalks({ label, amqpPort, walks, firstSeed, walk, show = firstStep, tally }) {
  const warren = await startServer();
  let differ = 0;
  let count = 0;
  try {
    for (let seed = Number(firstSeed); seed < Number(firstSeed) + Number(walks); seed++) {
      const fromRabbit = await walk(`amqp://guest:guest@127.0.0.1:${amqpPort}`, seed);
      const fromWarren = await walk(warren.url, seed);
      count += tally?.(fromRabbit) ?? 0;
      if (JSON.stringify(fromRabbit) === JSON.stringify(fromWarren)) continue;
      differ++;
      console.log(`DIFFERENT: seed ${seed}`);
      show(fromRabbit, fromWarren, seed);
    }
  } finally {
    await warren.stop();
  }
  const counted = tally ? ` (${count} ${tally.what})` : '';
  console.log(
    differ
      ? `${label}: ${differ} of ${walks} differ`
      : `${label}: RabbitMQ and Warren agree on ${walks} walks${counted}`,
  );
  process.exitCode = differ ? 1 : 0;
}
