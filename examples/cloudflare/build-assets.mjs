// Lays out the static assets as `warren-mq serve` serves them: the page
// (www/) at /, the browser build of the library at /js/ and the engine at
// /pkg/. wrangler runs this before `dev` and `deploy` ([build] in wrangler.toml).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Fills `out` (emptied first) with the assets; returns `out`. */
export function buildAssets(out = path.join(root, 'examples/cloudflare/public')) {
  const wasm = path.join(root, 'pkg/warren_bg.wasm');
  if (!fs.existsSync(wasm)) throw new Error('pkg/warren_bg.wasm is missing: run `npm run build` first');
  fs.rmSync(out, { recursive: true, force: true });
  fs.cpSync(path.join(root, 'www'), out, { recursive: true });
  // Server-side hosts stay out of what browsers can fetch.
  fs.cpSync(path.join(root, 'js'), path.join(out, 'js'), {
    recursive: true,
    filter: (src) => !['node', 'worker'].includes(path.relative(path.join(root, 'js'), src).split(path.sep)[0]),
  });
  fs.mkdirSync(path.join(out, 'pkg'));
  for (const f of ['warren.js', 'warren_bg.wasm']) fs.copyFileSync(path.join(root, 'pkg', f), path.join(out, 'pkg', f));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildAssets();
