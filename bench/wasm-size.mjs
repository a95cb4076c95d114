// The shipped wasm's size, full and lite (raw and gzipped, as `node scripts/build.mjs` prints it)
// and where the code goes: function bodies of the wasm before wasm-opt (which
// still has its name section) summed by crate, with the generic families that
// used to dominate (sorts, B-trees, hash maps, formatting) counted apart.
//
//   node bench/wasm-size.mjs [--top N] [--without REGEX] [--split REGEX [--wasm-split PATH]]
//
// Builds pkg/ first if anything changed. --top lists the N largest functions too.
// --without: the size the wasm would have without the exports whose names match
// REGEX (as wasm-bindgen names them: `wasmbroker_image`) and all code only they
// reach, which wasm-metadce removes before the build's wasm-opt: what moving
// them to a module loaded on first use could take out of the one loaded first.
// --split: that module made for real by binaryen's wasm-split (Debian's
// binaryen; the npm package has no wasm-split), both halves through the
// build's wasm-opt: their sizes, and how many cold exports became placeholders.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { build, run, WASM_OPT_FLAGS } from '../scripts/build.mjs';
import { readLeb } from '../scripts/wasm-exports.mjs';

const { values: opts } = parseArgs({
  options: {
    top: { type: 'string', default: '0' },
    without: { type: 'string' },
    split: { type: 'string' },
    'wasm-split': { type: 'string', default: 'wasm-split' },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const targetDir = path.resolve(root, process.env.CARGO_TARGET_DIR ?? 'target');

build();

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
for (const file of ['warren_bg.wasm', 'warren_lite_bg.wasm']) {
  const shipped = fs.readFileSync(path.join(root, 'pkg', file));
  console.log(`pkg/${file}: ${kib(shipped.length)} raw, ${kib(zlib.gzipSync(shipped, { level: 9 }).length)} gzipped`);
}

/** Each function body's size and name, from a wasm with a name section. */
function functions(buf) {
  let p = 8;
  const leb = () => {
    const { value, next } = readLeb(buf, p);
    p = next;
    return value;
  };
  /** Skips a table's or memory's limits. */
  const skipLimits = () => {
    const flags = leb();
    leb();
    if (flags & 1) leb();
  };
  let imported = 0;
  const sizes = [];
  const names = new Map();
  while (p < buf.length) {
    const id = buf[p++];
    const end = leb() + p;
    if (id === 2) {
      // Imported functions come first in the function index space.
      for (let n = leb(); n > 0; n--) {
        // (`p += leb()` would read p before leb() moves it.)
        for (let strings = 0; strings < 2; strings++) {
          const len = leb();
          p += len;
        }
        const kind = buf[p++];
        if (kind === 0) {
          leb();
          imported++;
        } else if (kind === 1) {
          p++;
          skipLimits();
        } else if (kind === 2) skipLimits();
        else p += 2;
      }
    } else if (id === 10) {
      for (let n = leb(); n > 0; n--) {
        const size = leb();
        sizes.push(size);
        p += size;
      }
    } else if (id === 0) {
      const len = leb();
      const name = buf.toString('utf8', p, p + len);
      p += len;
      while (name === 'name' && p < end) {
        const sub = buf[p++];
        const subEnd = leb() + p;
        if (sub === 1) {
          for (let n = leb(); n > 0; n--) {
            const index = leb();
            const l = leb();
            names.set(index, buf.toString('utf8', p, p + l));
            p += l;
          }
        }
        p = subEnd;
      }
    }
    p = end;
  }
  return sizes.map((size, i) => ({ size, name: names.get(i + imported) ?? `#${i + imported}` }));
}

const FAMILIES = [
  ['slice sorts', /core::slice::sort/],
  ['B-tree maps', /collections::btree/],
  ['hash maps (hashbrown)', /hashbrown/],
  ['float formatting', /core::num::flt2dec|fmt::float/],
  ['formatting (core::fmt)', /core::fmt|alloc::fmt/],
  ['serde, serde-wasm-bindgen', /serde/],
];
const crateOf = (name) =>
  name.includes('::') ? (name.replace(/^</, '').match(/^([a-z_0-9]+)/)?.[1] ?? 'other') : 'exports and shims';
// Crate names carry a hash (`core[c593..]::fmt`) and functions one at the end.
const clean = (name) => name.replace(/\[[0-9a-f]{16}\]|::h[0-9a-f]{16}$/g, '');

const unoptimised = path.join(targetDir, 'warren-bindgen', 'warren_bg.wasm');
const fns = functions(fs.readFileSync(unoptimised)).map((f) => ({ ...f, name: clean(f.name) }));
const total = fns.reduce((a, f) => a + f.size, 0);
const groups = new Map();
for (const f of fns) {
  const key = FAMILIES.find(([, re]) => re.test(f.name))?.[0] ?? crateOf(f.name);
  const g = groups.get(key) ?? { size: 0, count: 0 };
  g.size += f.size;
  g.count++;
  groups.set(key, g);
}
console.log(`\ncode before wasm-opt: ${kib(total)} in ${fns.length} functions (${path.relative(root, unoptimised)})`);
for (const [key, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, 14)) {
  console.log(`  ${kib(g.size).padStart(10)}  ${String(g.count).padStart(4)} fns  ${key}`);
}
const top = Number(opts.top);
if (top > 0) {
  console.log(`\nlargest ${top} functions:`);
  for (const f of fns.sort((a, b) => b.size - a.size).slice(0, top)) {
    console.log(`  ${String(f.size).padStart(7)}  ${f.name.slice(0, 150)}`);
  }
}

const unoptimisedBytes = fs.readFileSync(unoptimised);
const exportNames = WebAssembly.Module.exports(new WebAssembly.Module(unoptimisedBytes)).map((e) => e.name);
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const features = WASM_OPT_FLAGS.filter((f) => f.startsWith('--enable-'));
// wasm-metadce and wasm-split list on stdout what they did: only their errors are shown.
const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
const sizes = (file) => {
  const b = fs.readFileSync(file);
  return { raw: b.length, gz: zlib.gzipSync(b, { level: 9 }).length };
};

/** The exports matching `--flag REGEX`; exits if there are none. */
function coldExports(flag, regex) {
  const cold = new RegExp(regex);
  const gone = exportNames.filter((name) => cold.test(name));
  if (gone.length === 0) {
    console.error(`wasm-size: no export matches --${flag} ${regex}`);
    process.exit(2);
  }
  return gone;
}

/** Writes to `out` the unoptimised wasm with only `roots` exported: every other export, and code none of them reaches, goes. */
function metadce(dir, roots, out) {
  const graph = roots.map((name, i) => ({ name: `export ${i}`, root: true, export: name }));
  fs.writeFileSync(path.join(dir, 'graph.json'), JSON.stringify(graph));
  // -g keeps the name section, which --split matches functions by.
  run(
    bin('wasm-metadce'),
    [unoptimised, '--graph-file', path.join(dir, 'graph.json'), '-g', '-o', out, ...features],
    quiet,
  );
}

function withTempDir(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-size-'));
  try {
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (opts.without !== undefined) {
  const gone = coldExports('without', opts.without);
  withTempDir((dir) => {
    /** The gzipped size of the build with only `roots` exported. */
    const sizeWith = (roots) => {
      const dce = path.join(dir, 'dce.wasm');
      const out = path.join(dir, 'out.wasm');
      metadce(dir, roots, dce);
      run(bin('wasm-opt'), [dce, ...WASM_OPT_FLAGS, '-o', out], quiet);
      return sizes(out);
    };
    // wasm-metadce lays the module out anew, which gzips a little worse than
    // the shipped file: the baseline goes through the same steps.
    const all = sizeWith(exportNames);
    const rest = sizeWith(exportNames.filter((name) => !gone.includes(name)));
    console.log(`\nwithout ${gone.length} exports (${gone.join(' ')}), through wasm-metadce and wasm-opt:`);
    console.log(`  with every export: ${kib(all.raw)} raw, ${kib(all.gz)} gzipped`);
    console.log(`  without those:     ${kib(rest.raw)} raw, ${kib(rest.gz)} gzipped (${kib(all.gz - rest.gz)} less)`);
  });
}

/** Each table export's name and table index. */
function tableExports(buf) {
  const found = [];
  walkExports(buf, (name, kind, indexAt) => {
    if (kind === 1) found.push({ name, index: readLeb(buf, indexAt).value });
  });
  return found;
}

/** Calls `visit(name, kind, offset of the index)` for each export of a wasm module. */
function walkExports(buf, visit) {
  let p = 8;
  const leb = () => {
    const { value, next } = readLeb(buf, p);
    p = next;
    return value;
  };
  while (p < buf.length) {
    const id = buf[p++];
    const end = leb() + p;
    if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        const name = buf.toString('utf8', p, p + len);
        p += len;
        const kind = buf[p++];
        visit(name, kind, p);
        leb();
      }
    }
    p = end;
  }
}

// --split: the engine as two modules, as binaryen's wasm-split makes them. The
// functions only the cold exports reach go to the second, and each cold export
// becomes a placeholder the host answers by instantiating the second module.
if (opts.split !== undefined) {
  const gone = coldExports('split', opts.split);
  const wasmSplit = opts['wasm-split'];
  const probe = spawnSync(wasmSplit, ['--help'], { stdio: 'ignore' });
  if (probe.error) {
    console.error(
      `wasm-size: --split needs ${wasmSplit}, from binaryen (the npm package binaryen has none; on Debian: apt-get install binaryen), or --wasm-split PATH`,
    );
    process.exit(2);
  }
  withTempDir((dir) => {
    const kept = path.join(dir, 'kept.wasm');
    metadce(
      dir,
      exportNames.filter((name) => !gone.includes(name)),
      kept,
    );
    const keptNames = new Set(functions(fs.readFileSync(kept)).map((f) => f.name));
    // Listed by index in a module without names: wasm-split (binaryen 108) finds
    // no function whose name holds a space (`<T as Trait>::f`), and names an
    // unnamed one by its index among the module's own functions.
    const cold = functions(unoptimisedBytes).flatMap((f, i) => (keptNames.has(f.name) ? [] : [i]));
    fs.writeFileSync(path.join(dir, 'cold.txt'), `${cold.join('\n')}\n`);
    const stripped = path.join(dir, 'stripped.wasm');
    run(bin('wasm-opt'), [unoptimised, '--strip-debug', ...features, '-o', stripped], quiet);
    const [first, second] = ['first.wasm', 'second.wasm'].map((f) => path.join(dir, f));
    run(
      wasmSplit,
      [
        stripped,
        ...features,
        '--split-funcs',
        `@${path.join(dir, 'cold.txt')}`,
        '-o1',
        first,
        '-o2',
        second,
        '--placeholdermap',
      ],
      quiet,
    );
    // binaryen 108 points every table export at table 0, wasm-bindgen's
    // `__wbindgen_externrefs` (table 1) too: put back the indices it had.
    const firstBytes = fs.readFileSync(first);
    const before = new Map(tableExports(unoptimisedBytes).map((t) => [t.name, t.index]));
    walkExports(firstBytes, (name, kind, at) => {
      if (kind !== 1 || !before.has(name)) return;
      // Rewritten in place: both indices must be one-byte LEBs (under 128 tables).
      if (readLeb(firstBytes, at).next !== at + 1 || before.get(name) > 127) throw new Error('table index past 127');
      firstBytes[at] = before.get(name);
    });
    fs.writeFileSync(first, firstBytes);
    const placeholders = fs.readFileSync(`${first}.placeholders`, 'utf8').trim().split('\n').length;
    const [a, b] = [first, second].map((f) => {
      const out = f.replace('.wasm', '-opt.wasm');
      run(bin('wasm-opt'), [f, ...WASM_OPT_FLAGS, '-o', out], quiet);
      if (!WebAssembly.validate(fs.readFileSync(out))) throw new Error(`${path.basename(f)} does not validate`);
      return sizes(out);
    });
    console.log(
      `\nsplit: ${gone.length} exports (${gone.join(' ')}) and the ${cold.length} functions only they reach:`,
    );
    console.log(`  first module:  ${kib(a.raw)} raw, ${kib(a.gz)} gzipped (${placeholders} placeholders)`);
    console.log(`  second module: ${kib(b.raw)} raw, ${kib(b.gz)} gzipped`);
  });
}
