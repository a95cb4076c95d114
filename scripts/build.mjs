// Builds pkg/: the engine compiled to wasm, its wasm-bindgen glue, shrunk by wasm-opt.
// Sets up what a fresh machine lacks (npm packages, the wasm target, the pinned
// wasm-bindgen-cli) and skips every step whose outputs are newer than its inputs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { vendor } from './vendor-amqp-client.mjs';
import { withoutExports } from './wasm-exports.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 'wasm32-unknown-unknown';
// `--bench`: the engine with its benchmark loop (`benchEngine`, feature `bench`),
// for `bench/js-api.mjs` only. It builds in a target directory of its own into
// target/bench-pkg/, so the shipped pkg/ never carries benchmark code.
const BENCH = process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--bench');
const mainTargetDir = path.resolve(root, process.env.CARGO_TARGET_DIR ?? 'target');
const targetDir = BENCH ? path.join(mainTargetDir, 'bench') : mainTargetDir;
const rawWasm = path.join(targetDir, TARGET, 'release', 'warren.wasm');
const bindgenDir = path.join(targetDir, 'warren-bindgen'); // wasm-bindgen output before wasm-opt
const stampDir = path.join(targetDir, 'warren-build'); // the tool versions each step last ran with
const pkgDir = BENCH ? path.join(mainTargetDir, 'bench-pkg') : path.join(root, 'pkg');
const wasmBindgen = path.join(root, '.tools', 'bin', 'wasm-bindgen');
const wasmOpt = path.join(root, 'node_modules', '.bin', 'wasm-opt');

// -O3 over -Oz: see the sizes printed at the end; speed matters more than a few KB.
// The --enable flags are the features rustc turns on by default for this target;
// wasm-opt must accept them, and enables nothing beyond them.
export const WASM_OPT_FLAGS = [
  '-O3',
  '--enable-bulk-memory',
  '--enable-nontrapping-float-to-int',
  '--enable-sign-ext',
  '--enable-mutable-globals',
  '--enable-reference-types',
  '--enable-multivalue',
];
// warren-mq/lite's engine (pkg/warren_lite_bg.wasm): the same build without
// the WasmBroker methods an in-process broker does without, and so without
// every function only they reach. The JS API names what is missing when one
// is called (requireEngine in js/engine.js). Grouped by what a user loses.
export const LITE_LEAVES_OUT = {
  'the AMQP server and the wire tap (accept, webSocketFor, servePort, tapWire)': [
    'accept',
    'engineConn',
    'receive',
    'wantsRead',
    'setBacklog',
    'forceClose',
    'transportClosed',
    'transportIds',
    'setWireTap',
  ],
  'stores, recovery and paging': [
    'recover',
    'logHeader',
    'logVersion',
    'snapshotLog',
    'storeDurable',
    'storeEmitted',
    'takeStoreBytes',
    'takePageOps',
    'pageLoaded',
    'pagesReading',
    'livePages',
  ],
  'suspend and resume': ['image', 'resume'],
  'snapshot and definitions': ['snapshot', 'topology'],
  'users, permissions, vhosts, limits and policies after creation': [
    'putUser',
    'deleteUser',
    'users',
    'authenticate',
    'hashPassword',
    'setPermission',
    'clearPermission',
    'addVhost',
    'deleteVhost',
    'vhostNames',
    'setVhostLimit',
    'vhostLimits',
    'setPolicy',
    'deletePolicy',
    'policies',
  ],
  'blocking publishers, and the bytes held': ['setBlocked', 'heldBytes'],
};

// --target web gives ES module glue with a default async init (browsers, Vite) and
// initSync({ module }) taking bytes or a WebAssembly.Module (Node, workerd).
const BINDGEN_FLAGS = ['--target', 'web', '--out-name', 'warren'];

/** Runs a command with inherited output; throws if it fails. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

/** Runs a command and returns its stdout, or null if it cannot run. */
function output(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const mtime = (f) => fs.statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? NaN;

function newestIn(dir) {
  let newest = mtime(dir);
  for (const f of fs.readdirSync(dir, { recursive: true })) newest = Math.max(newest, mtime(path.join(dir, f)));
  return newest;
}

/**
 * One build step: skipped when its outputs exist, it last ran with the same `key`
 * (tool versions and flags), and no input changed since that run began. The stamp,
 * not the outputs, holds that time: a tool that finds nothing to do leaves its
 * outputs untouched, so the steps after it stay skipped too.
 */
function step(name, { inputs, outputs, key = '', writesInputs = false }, action) {
  const stamp = path.join(stampDir, `${name.replace(/\W+/g, '-')}.key`);
  const newestInput = Math.max(...inputs.map((f) => (fs.statSync(f).isDirectory() ? newestIn(f) : mtime(f))));
  const fresh =
    outputs.every((f) => fs.existsSync(f)) && mtime(stamp) >= newestInput && fs.readFileSync(stamp, 'utf8') === key;
  if (fresh) {
    console.log(`build: ${name}: up to date`);
    return;
  }
  console.log(`build: ${name}: running`);
  const started = new Date();
  action();
  fs.mkdirSync(stampDir, { recursive: true });
  fs.writeFileSync(stamp, key);
  // An input edited during the run makes the next run redo it, unless the step
  // itself rewrites its inputs (npm and package-lock.json).
  if (!writesInputs) fs.utimesSync(stamp, started, started);
  console.log(`build: ${name}: done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

function npmInstall() {
  const lock = path.join(root, 'package-lock.json');
  const inputs = [path.join(root, 'package.json'), ...(fs.existsSync(lock) ? [lock] : [])];
  const outputs = [path.join(root, 'node_modules', '.package-lock.json')];
  step('npm install', { inputs, outputs, writesInputs: true }, () =>
    run('npm', ['install', '--no-audit', '--no-fund']),
  );
}

function wasmTarget() {
  if (output('rustup', ['target', 'list', '--installed'])?.split('\n').includes(TARGET)) {
    console.log(`build: rust target ${TARGET}: installed`);
    return;
  }
  console.log(`build: rust target ${TARGET}: adding`);
  run('rustup', ['target', 'add', TARGET]);
}

/** The CLI must match the wasm-bindgen crate exactly, so it is pinned to Cargo.lock. */
function bindgenCli() {
  const lock = fs.readFileSync(path.join(root, 'Cargo.lock'), 'utf8');
  const version = lock.match(/name = "wasm-bindgen"\nversion = "([^"]+)"/)?.[1];
  if (!version) throw new Error('wasm-bindgen not found in Cargo.lock');
  if (output(wasmBindgen, ['--version']) === `wasm-bindgen ${version}`) {
    console.log(`build: wasm-bindgen-cli ${version}: installed`);
    return version;
  }
  console.log(`build: wasm-bindgen-cli ${version}: installing into .tools/ (takes a few minutes once)`);
  run('cargo', ['install', 'wasm-bindgen-cli', '--version', `=${version}`, '--root', path.join(root, '.tools')]);
  return version;
}

export function build() {
  const t0 = performance.now();
  npmInstall();
  wasmTarget();
  vendor();
  const bindgenVersion = bindgenCli();
  const rustc = output('rustc', ['-V']);

  const crate = ['src', 'Cargo.toml', 'Cargo.lock', '.cargo/config.toml'].map((f) => path.join(root, f));
  step('cargo build', { inputs: crate, outputs: [rawWasm], key: rustc }, () =>
    run('cargo', ['build', '--release', '--target', TARGET, '--lib', ...(BENCH ? ['--features', 'bench'] : [])], {
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
    }),
  );

  const glue = ['warren.js', 'warren.d.ts', 'warren_bg.wasm.d.ts'];
  step(
    'wasm-bindgen',
    {
      inputs: [rawWasm],
      outputs: [...glue, 'warren_bg.wasm'].map((f) => path.join(bindgenDir, f)),
      key: `${bindgenVersion} ${BINDGEN_FLAGS.join(' ')}`,
    },
    () => {
      fs.rmSync(bindgenDir, { recursive: true, force: true });
      run(wasmBindgen, [rawWasm, ...BINDGEN_FLAGS, '--out-dir', bindgenDir]);
    },
  );

  const binaryen = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/binaryen/package.json'), 'utf8')).version;
  const finalWasm = path.join(pkgDir, 'warren_bg.wasm');
  step(
    'wasm-opt',
    {
      inputs: [path.join(bindgenDir, 'warren_bg.wasm')],
      outputs: [finalWasm],
      key: `${binaryen} ${WASM_OPT_FLAGS.join(' ')}`,
    },
    () => {
      fs.mkdirSync(pkgDir, { recursive: true });
      run(wasmOpt, [path.join(bindgenDir, 'warren_bg.wasm'), ...WASM_OPT_FLAGS, '-o', finalWasm]);
    },
  );
  const liteWasm = path.join(pkgDir, 'warren_lite_bg.wasm');
  const liteExports = Object.values(LITE_LEAVES_OUT)
    .flat()
    .map((m) => `wasmbroker_${m}`);
  step(
    'wasm-opt lite',
    {
      inputs: [path.join(bindgenDir, 'warren_bg.wasm'), path.join(root, 'scripts', 'wasm-exports.mjs')],
      outputs: [liteWasm],
      key: `${binaryen} ${WASM_OPT_FLAGS.join(' ')} ${liteExports.join(' ')}`,
    },
    () => {
      const stripped = path.join(bindgenDir, 'warren_lite_stripped.wasm');
      fs.writeFileSync(stripped, withoutExports(fs.readFileSync(path.join(bindgenDir, 'warren_bg.wasm')), liteExports));
      run(wasmOpt, [stripped, ...WASM_OPT_FLAGS, '-o', liteWasm]);
    },
  );
  // The glue is tiny: copy it every time rather than track it.
  for (const f of glue) fs.copyFileSync(path.join(bindgenDir, f), path.join(pkgDir, f));

  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  for (const wasm of [finalWasm, liteWasm]) {
    const bytes = fs.readFileSync(wasm);
    const gz = zlib.gzipSync(bytes, { level: 9 }).length;
    console.log(`build: ${path.relative(root, wasm)} ${kb(bytes.length)} raw, ${kb(gz)} gzipped`);
  }
  console.log(`build: finished in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    build();
  } catch (e) {
    console.error(`build: failed: ${e.message}`);
    process.exit(1);
  }
}
