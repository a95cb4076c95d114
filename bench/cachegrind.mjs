// Instructions per message under valgrind's cachegrind, for the benchmarks
// that set a checkout against its baseline by count rather than by time.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Instructions of `node ...nodeArgs` (V8 compiling on the main thread), as cachegrind's summary gives them. */
export function instructions(nodeArgs, what) {
  const args = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'];
  const r = spawnSync('valgrind', [...args, process.execPath, '--single-threaded', ...nodeArgs], { encoding: 'utf8' });
  const refs = /I\s+refs:\s+([\d,]+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !refs) {
    throw new Error(`valgrind on ${what} failed (is valgrind installed?): ${r.error?.message ?? r.stderr}`);
  }
  return Number(refs[1].replaceAll(',', ''));
}

/**
 * Prints, for each ROOT (default: this checkout), the count per message
 * (instructions, or whatever `count` measures) of `count(root, m)` run at
 * N/6 and at N messages (`n`, rounded to `batch`): their difference over the
 * difference of the counts leaves out node's start, loading the wasm and the
 * warm-up. With `repeat` over 1 the roots take turns that many times, and
 * each prints the median and every run, to `digits` decimals.
 */
export function perMessage(roots, n, batch, count, { repeat = 1, digits = 0 } = {}) {
  const small = Math.round(n / 6 / batch) * batch;
  const all = roots.length > 0 ? roots : [fileURLToPath(new URL('..', import.meta.url))];
  const runs = new Map(all.map((r) => [r, []]));
  for (let i = 0; i < repeat; i++) {
    for (const root of all) {
      const [a, b] = [small, n].map((m) => count(path.resolve(root), m));
      runs.get(root).push((b - a) / (n - small));
    }
  }
  for (const root of all) {
    const r = runs.get(root);
    const median = [...r].sort((x, y) => x - y)[r.length >> 1];
    const each = repeat > 1 ? `  (runs: ${r.map((x) => x.toFixed(digits)).join(' ')})` : '';
    console.log(`  ${median.toFixed(digits).padStart(6)}  ${root}${each}`);
  }
}
