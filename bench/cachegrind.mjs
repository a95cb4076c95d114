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
 * Prints, for each ROOT (default: this checkout), the instructions per
 * message of `count(root, m)` run at N/6 and at N messages (`n`, rounded to
 * `batch`): their difference over the difference of the counts leaves out
 * node's start, loading the wasm and the warm-up.
 */
export function perMessage(roots, n, batch, count) {
  const small = Math.round(n / 6 / batch) * batch;
  const all = roots.length > 0 ? roots : [fileURLToPath(new URL('..', import.meta.url))];
  for (const root of all) {
    const [a, b] = [small, n].map((m) => count(path.resolve(root), m));
    console.log(`  ${((b - a) / (n - small)).toFixed(0).padStart(6)}  ${root}`);
  }
}
