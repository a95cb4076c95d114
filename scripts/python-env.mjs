// The project's own Python environment, .venv/ (git-ignored), with pika, the
// real AMQP client the pika suites drive. Made on first use, the way build.mjs
// installs wasm-bindgen-cli into .tools/: nothing is installed system-wide.
// Only a Python that can make environments must be there; what is missing is
// named with the exact command that installs it (as root).
//
//   node scripts/python-env.mjs    makes or checks the environment
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PIKA = 'pika==1.4.4';
export const venvDir = path.join(root, '.venv');
export const venvPython = path.join(venvDir, 'bin', 'python3');

const ok = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/**
 * Makes .venv/ with pika if it is not there. Returns null when ready, or the
 * command that installs the missing system part; throws if making it failed.
 */
export function needPython() {
  if (ok(venvPython, ['-c', 'import pika'])) return null;
  if (!ok('python3', ['--version'])) return 'apt-get update && apt-get install -y python3 python3-venv';
  // Debian ships venv's pip bootstrap (ensurepip) in a package of its own.
  if (!ok('python3', ['-c', 'import ensurepip, venv'])) return 'apt-get update && apt-get install -y python3-venv';
  try {
    if (!ok(venvPython, ['-m', 'pip', '--version'])) {
      fs.rmSync(venvDir, { recursive: true, force: true });
      console.log('python: making .venv/');
      run('python3', ['-m', 'venv', venvDir]);
    }
    console.log(`python: installing ${PIKA} into .venv/`);
    run(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', PIKA]);
  } catch (e) {
    fs.rmSync(venvDir, { recursive: true, force: true });
    throw new Error(`cannot make the Python environment .venv/: ${e.message}`);
  }
  if (!ok(venvPython, ['-c', 'import pika'])) throw new Error(`.venv/ was made, but cannot import ${PIKA}`);
  return null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const missing = needPython();
    if (missing) {
      console.error(`python: a system part is missing; install it with:\n  ${missing}`);
      process.exit(1);
    }
    console.log(`python: ${path.relative(root, venvPython)} has ${PIKA}`);
  } catch (e) {
    console.error(`python: ${e.message}`);
    process.exit(1);
  }
}
