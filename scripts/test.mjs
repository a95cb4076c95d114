// npm test: builds, then runs every suite in turn, streaming its output. A failing
// suite does not stop the others; the exit code is non-zero if any failed.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, run } from './build.mjs';
import { needPython, venvDir } from './python-env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Test files under `dir` whose names match `re`, as repo-relative paths. */
function files(dir, re) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true })
    .filter((f) => re.test(f) && !f.split(path.sep).includes('node_modules'))
    .map((f) => path.join(dir, f))
    .sort();
}

// A `needs` check returns how to install what is missing, or nothing when all is there.
const needChromium = () =>
  fs.existsSync('/usr/bin/chromium') ? null : 'apt-get update && apt-get install -y chromium chromium-driver';
// Debian's amqp-tools: command-line clients on librabbitmq (rabbitmq-c).
const needAmqpTools = () =>
  fs.existsSync('/usr/bin/amqp-publish') ? null : 'apt-get update && apt-get install -y amqp-tools';
const needChromedriver = () =>
  needChromium() ??
  (fs.existsSync('/usr/bin/chromedriver') ? null : 'apt-get update && apt-get install -y chromium-driver');

// Suites that run pika find the project's Python environment first on PATH.
const withVenv = { PATH: `${path.join(venvDir, 'bin')}${path.delimiter}${process.env.PATH}` };

// wasm-bindgen-test: tests/wasm.rs compiled to wasm, run by the pinned runner
// in Node, or in headless Chromium through chromedriver.
const wasmTestEnv = {
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: path.join(root, '.tools', 'bin', 'wasm-bindgen-test-runner'),
};
const wasmInChromium = {
  WASM_BINDGEN_USE_BROWSER: '1',
  CHROMEDRIVER: '/usr/bin/chromedriver',
  WASM_BINDGEN_TEST_WEBDRIVER_JSON: path.join(root, 'tests', 'wasm-webdriver.json'),
  // The runner gives chromedriver 5 s to listen by default, which a loaded
  // machine can miss ("driver failed to bind port during startup").
  WASM_BINDGEN_TEST_DRIVER_TIMEOUT: '60',
};

// The hand-written JavaScript that prettier and eslint check.
const jsDirs = ['js', 'www', 'scripts', 'bench', 'tests', 'bin', 'examples', 'eslint.config.js'];

// Test files each suite runs. A suite whose files are missing fails: a glob
// that matches nothing must not pass quietly.
const jsTests = files('tests/js', /\.test\.mjs$/);
const packagingTests = files('tests/packaging', /\.test\.mjs$/);
const workerTests = files('tests/worker', /\.test\.mjs$/);
const browserTests = files('tests/browser', /\.test\.mjs$/);
const pageTests = files('tests/page', /\.test\.mjs$/);
// The server (warren-mq serve) against real clients; pika's part (tests/node/pika.test.mjs
// drives the scripts in tests/python) needs the Python environment.
// librabbitmq's part (tests/node/librabbitmq.test.mjs) needs Debian's amqp-tools.
const serverTests = files('tests/node', /\.test\.mjs$/).filter(
  (f) => !f.endsWith('pika.test.mjs') && !f.endsWith('librabbitmq.test.mjs'),
);
const pikaServerTests = files('tests/node', /pika\.test\.mjs$/);
const librabbitmqServerTests = files('tests/node', /librabbitmq\.test\.mjs$/);

const loadgenManifest = path.join('bench', 'loadgen', 'Cargo.toml');

const suites = [
  { name: 'build', fn: build },
  { name: 'cargo fmt', cmd: ['cargo', 'fmt', '--check'] },
  { name: 'js format', cmd: ['npx', '--no-install', 'prettier', '--check', '--log-level', 'warn', ...jsDirs] },
  { name: 'js lint', cmd: ['npx', '--no-install', 'eslint', ...jsDirs] },
  { name: 'cargo clippy', cmd: ['cargo', 'clippy', '--all-targets', '--', '-D', 'warnings'] },
  // tests/e2e_pika.rs runs pika too.
  { name: 'cargo test', needs: needPython, env: withVenv, cmd: ['cargo', 'test', '--no-fail-fast'] },
  { name: 'node tests', tests: jsTests, cmd: ['node', '--test', ...jsTests] },
  { name: 'packaging tests', tests: packagingTests, cmd: ['node', '--test', ...packagingTests] },
  { name: 'workerd tests', tests: workerTests, cmd: ['node', '--test', ...workerTests] },
  { name: 'browser tests', tests: browserTests, needs: needChromium, cmd: ['node', '--test', ...browserTests] },
  { name: 'page tests', tests: pageTests, needs: needChromium, cmd: ['node', '--test', ...pageTests] },
  {
    name: 'wasm in node',
    env: wasmTestEnv,
    cmd: ['cargo', 'test', '--target', 'wasm32-unknown-unknown', '--test', 'wasm'],
  },
  {
    name: 'wasm in chromium',
    env: { ...wasmTestEnv, ...wasmInChromium },
    needs: needChromedriver,
    cmd: ['cargo', 'test', '--target', 'wasm32-unknown-unknown', '--test', 'wasm'],
  },
  { name: 'server tests', tests: serverTests, cmd: ['node', '--test', ...serverTests] },
  {
    name: 'server vs pika',
    tests: pikaServerTests,
    needs: needPython,
    env: withVenv,
    cmd: ['node', '--test', ...pikaServerTests],
  },
  {
    name: 'server vs librabbitmq',
    tests: librabbitmqServerTests,
    needs: needAmqpTools,
    cmd: ['node', '--test', ...librabbitmqServerTests],
  },
  // The benchmark's load generator: its own Cargo package, checked and run against warren-mq serve.
  { name: 'loadgen fmt', cmd: ['cargo', 'fmt', '--check', '--manifest-path', loadgenManifest] },
  {
    name: 'loadgen clippy',
    cmd: ['cargo', 'clippy', '--all-targets', '--manifest-path', loadgenManifest, '--', '-D', 'warnings'],
  },
  { name: 'loadgen tests', cmd: ['cargo', 'test', '--manifest-path', loadgenManifest] },
];

const results = [];
for (const s of suites) {
  console.log(`\n=== ${s.name} ===`);
  const t0 = performance.now();
  let status = 'ok';
  try {
    if (s.tests?.length === 0) throw new Error('declared, but no test files were found for it');
    const missing = s.needs?.();
    if (missing) {
      console.error(`${s.name}: a system part is missing; install it with:\n  ${missing}`);
      status = 'MISSING';
    } else {
      s.fn ? s.fn() : run(s.cmd[0], s.cmd.slice(1), s.env ? { env: { ...process.env, ...s.env } } : {});
    }
  } catch (e) {
    console.error(`${s.name}: ${e.message}`);
    status = 'FAILED';
  }
  results.push({ name: s.name, status, secs: (performance.now() - t0) / 1000 });
}

console.log('\n=== summary ===');
for (const r of results) console.log(`${r.name.padEnd(16)} ${r.status.padEnd(8)} ${r.secs.toFixed(1).padStart(6)}s`);
const bad = results.filter((r) => r.status !== 'ok').map((r) => r.name);
console.log(bad.length ? `not ok: ${bad.join(', ')}` : 'all suites ok');
// The plain closing line CI readers look for, counting suites.
console.log(`suites: ${results.length - bad.length} passed, ${bad.length} failed`);
process.exit(bad.length ? 1 : 0);
