// The shipped wasm's size (raw and gzipped, as `node scripts/build.mjs` prints it)
// and where the code goes: function bodies of the wasm before wasm-opt (which
// still has its name section) summed by crate, with the generic families that
// used to dominate (sorts, B-trees, hash maps, formatting) counted apart.
//
//   node bench/wasm-size.mjs [--top N] [--without REGEX]
//
// Builds pkg/ first if anything changed. --top lists the N largest functions too.
// --without: the size the wasm would have without the exports whose names match
// REGEX (as wasm-bindgen names them: `wasmbroker_image`) and all code only they
// reach, which wasm-metadce removes before the build's wasm-opt: what moving
// them to a module loaded on first use could take out of the one loaded first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { build, run, WASM_OPT_FLAGS } from '../scripts/build.mjs';

const { values: opts } = parseArgs({
  options: { top: { type: 'string', default: '0' }, without: { type: 'string' } },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const targetDir = path.resolve(root, process.env.CARGO_TARGET_DIR ?? 'target');

build();

const shipped = fs.readFileSync(path.join(root, 'pkg', 'warren_bg.wasm'));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(
  `pkg/warren_bg.wasm: ${kib(shipped.length)} raw, ${kib(zlib.gzipSync(shipped, { level: 9 }).length)} gzipped`,
);

/** Each function body's size and name, from a wasm with a name section. */
function functions(buf) {
  let p = 8;
  const leb = () => {
    let r = 0;
    let s = 0;
    let b;
    do {
      b = buf[p++];
      r += (b & 0x7f) * 2 ** s;
      s += 7;
    } while (b & 0x80);
    return r;
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

if (opts.without !== undefined) {
  const cold = new RegExp(opts.without);
  const module = new WebAssembly.Module(fs.readFileSync(unoptimised));
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  const gone = exports.filter((name) => cold.test(name));
  if (gone.length === 0) {
    console.error(`wasm-size: no export matches --without ${opts.without}`);
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-size-'));
  const bin = (name) => path.join(root, 'node_modules', '.bin', name);
  const features = WASM_OPT_FLAGS.filter((f) => f.startsWith('--enable-'));
  // wasm-metadce lists on stdout what it found unused: only its errors are shown.
  const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
  /** The gzipped size of the build with only `roots` exported: every other export, and code none of them reaches, goes. */
  const sizeWith = (roots) => {
    const graph = roots.map((name, i) => ({ name: `export ${i}`, root: true, export: name }));
    fs.writeFileSync(path.join(dir, 'graph.json'), JSON.stringify(graph));
    const dce = path.join(dir, 'dce.wasm');
    const out = path.join(dir, 'out.wasm');
    run(
      bin('wasm-metadce'),
      [unoptimised, '--graph-file', path.join(dir, 'graph.json'), '-o', dce, ...features],
      quiet,
    );
    run(bin('wasm-opt'), [dce, ...WASM_OPT_FLAGS, '-o', out], quiet);
    const b = fs.readFileSync(out);
    return { raw: b.length, gz: zlib.gzipSync(b, { level: 9 }).length };
  };
  try {
    // wasm-metadce lays the module out anew, which gzips a little worse than
    // the shipped file: the baseline goes through the same steps.
    const all = sizeWith(exports);
    const rest = sizeWith(exports.filter((name) => !cold.test(name)));
    console.log(`\nwithout ${gone.length} exports (${gone.join(' ')}), through wasm-metadce and wasm-opt:`);
    console.log(`  with every export: ${kib(all.raw)} raw, ${kib(all.gz)} gzipped`);
    console.log(`  without those:     ${kib(rest.raw)} raw, ${kib(rest.gz)} gzipped (${kib(all.gz - rest.gz)} less)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
