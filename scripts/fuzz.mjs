// Runs every fuzz target in fuzz/ (libFuzzer through libfuzzer-sys) one after
// the other, each for a given time or number of runs, at the lowest CPU
// priority, and prints executions, coverage and crashes per target.
//
//   node scripts/fuzz.mjs                      60 s per target
//   node scripts/fuzz.mjs --seconds 600        per target
//   node scripts/fuzz.mjs --runs 25000000      per target (stops early on a crash)
//   node scripts/fuzz.mjs --seconds 30 log_scan field_table
//
// The targets are built with the coverage instrumentation cargo-fuzz uses
// (sanitizer coverage, comparison tracing, debug assertions, overflow checks),
// on the stable toolchain: the crate has no `unsafe`, so the address
// sanitizer (cargo fuzz's nightly-only default) adds nothing but time, and
// cargo-fuzz itself is not needed. Corpora grow in fuzz/corpus/<target>;
// a crashing input is saved as fuzz/artifacts/<target>/crash-*, and the run
// exits 1. Every crash becomes a regression test beside the code it broke.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fuzzDir = path.join(root, 'fuzz');

const RUSTFLAGS = [
  '-Cpasses=sancov-module',
  '-Cllvm-args=-sanitizer-coverage-level=4',
  '-Cllvm-args=-sanitizer-coverage-inline-8bit-counters',
  '-Cllvm-args=-sanitizer-coverage-pc-table',
  '-Cllvm-args=-sanitizer-coverage-trace-compares',
  '--cfg',
  'fuzzing',
  '-Cdebug-assertions',
  '-Coverflow-checks',
  '-Cdebuginfo=1',
].join(' ');

function parseArgs(argv) {
  const opts = { seconds: null, runs: null, targets: [], jobs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') opts.seconds = Number(argv[++i]);
    else if (a === '--runs') opts.runs = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log(
        fs
          .readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('\n')
          .slice(0, 17)
          .join('\n'),
      );
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else opts.targets.push(a);
  }
  for (const [k, v] of [
    ['--seconds', opts.seconds],
    ['--runs', opts.runs],
  ])
    if (v !== null && !(Number.isInteger(v) && v > 0)) throw new Error(`${k} takes a positive whole number`);
  if (opts.seconds === null && opts.runs === null) opts.seconds = 60;
  return opts;
}

/** The targets declared in fuzz/Cargo.toml, in order. */
function declaredTargets() {
  const toml = fs.readFileSync(path.join(fuzzDir, 'Cargo.toml'), 'utf8');
  return [...toml.matchAll(/\[\[bin\]\]\s*\nname = "([^"]+)"/g)].map((m) => m[1]);
}

// With an explicit --target, RUSTFLAGS instrument the targets only, not build scripts.
const host = spawnSync('rustc', ['-vV'], { encoding: 'utf8' }).stdout?.match(/^host: (\S+)/m)?.[1];

function build(targets) {
  if (!host) throw new Error('cannot tell the host target from rustc -vV');
  console.log(`fuzz: building ${targets.join(', ')} (release, instrumented)`);
  const args = ['build', '--release', '--target', host, ...targets.flatMap((t) => ['--bin', t])];
  const r = spawnSync('cargo', args, {
    cwd: fuzzDir,
    stdio: 'inherit',
    env: { ...process.env, RUSTFLAGS, CARGO_BUILD_JOBS: process.env.CARGO_BUILD_JOBS ?? '1' },
  });
  if (r.status !== 0) throw new Error(`cargo ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

/** Runs one target under nice; resolves to { execs, cov, ft, corpus, secs, crashed, artifacts }. */
function runTarget(target, { seconds, runs }) {
  const bin = path.join(fuzzDir, 'target', host, 'release', target);
  const corpus = path.join(fuzzDir, 'corpus', target);
  const artifacts = path.join(fuzzDir, 'artifacts', target);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const before = new Set(fs.readdirSync(artifacts));
  const args = [
    '-n',
    '19',
    bin,
    '-print_final_stats=1',
    '-max_len=65536',
    '-rss_limit_mb=1024',
    '-timeout=10',
    `-artifact_prefix=${artifacts}/`,
  ];
  if (seconds) args.push(`-max_total_time=${seconds}`);
  if (runs) args.push(`-runs=${runs}`);
  args.push(corpus);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('nice', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    let lastStatus = 0;
    child.stderr.setEncoding('utf8').on('data', (d) => {
      tail = (tail + d).slice(-20000);
      // A progress line every 30 s, so a long run shows it is alive.
      const now = performance.now();
      if (now - lastStatus > 30000) {
        const line = d
          .split('\n')
          .filter((l) => /^#\d+/.test(l))
          .at(-1);
        if (line) {
          console.log(`fuzz: ${target}: ${line.trim()}`);
          lastStatus = now;
        }
      }
    });
    child.on('exit', (code) => {
      const stat = (name) => Number(tail.match(new RegExp(`stat::${name}:\\s+(\\d+)`))?.[1] ?? NaN);
      const last = [...tail.matchAll(/^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/gm)].at(-1);
      const found = fs.readdirSync(artifacts).filter((f) => !before.has(f));
      resolve({
        target,
        execs: stat('number_of_executed_units'),
        cov: Number(last?.[2] ?? NaN),
        ft: Number(last?.[3] ?? NaN),
        corpus: Number(last?.[4] ?? NaN),
        secs: (performance.now() - t0) / 1000,
        crashed: code !== 0 || found.length > 0,
        artifacts: found.map((f) => path.relative(root, path.join(artifacts, f))),
        log: tail,
      });
    });
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const all = declaredTargets();
  const targets = opts.targets.length ? opts.targets : all;
  for (const t of targets) if (!all.includes(t)) throw new Error(`no fuzz target ${t} (have: ${all.join(', ')})`);
  build(targets);
  const results = [];
  for (const t of targets) {
    console.log(`fuzz: ${t}: running ${opts.runs ? `${opts.runs} runs` : `${opts.seconds} s`}`);
    const r = await runTarget(t, opts);
    if (r.crashed) console.error(r.log.split('\n').slice(-40).join('\n'));
    results.push(r);
  }
  const num = (n) => (Number.isFinite(n) ? n.toLocaleString('en-US') : '?');
  console.log('\ntarget          executions     exec/s   cov (edges)  features  corpus  result');
  for (const r of results) {
    console.log(
      `${r.target.padEnd(14)} ${num(r.execs).padStart(12)} ${num(Math.round(r.execs / r.secs)).padStart(10)} ${num(r.cov).padStart(12)} ${num(r.ft).padStart(9)} ${num(r.corpus).padStart(7)}  ${r.crashed ? `CRASH ${r.artifacts.join(' ')}` : 'ok'}`,
    );
  }
  const total = results.reduce((n, r) => n + (Number.isFinite(r.execs) ? r.execs : 0), 0);
  const secs = results.reduce((n, r) => n + r.secs, 0);
  console.log(`total: ${num(total)} executions in ${secs.toFixed(0)} s`);
  process.exit(results.some((r) => r.crashed) ? 1 : 0);
}

main().catch((e) => {
  console.error(`fuzz: ${e.message}`);
  process.exit(1);
});
