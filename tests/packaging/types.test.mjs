// The TypeScript declarations cover the public API: tsc checks a usage file
// against the package's exports map (types condition of each entry point).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import test from 'node:test';
import { root } from './tarball.mjs';

test('tsc --noEmit accepts the usage file and rejects the misuses in it', { timeout: 120_000 }, () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const project = path.join(root, 'tests', 'packaging', 'types', 'tsconfig.json');
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '-p', project], { encoding: 'utf8', timeout: 100_000 });
  } catch (e) {
    throw new Error(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});
