// What the tutorial page costs to fetch from `warren-mq serve`: bytes on the
// wire (headers and encoded bodies, as Chromium's network log counts them) for
// the server's first page load, its reload, and a later visitor's first load
// (a new browser profile, the server's compressed copies made by then), with
// the engine's wasm apart. Service workers are blocked, so the reload measures
// HTTP revalidation.
//
//   node bench/page-transfer.mjs [CHECKOUT...]   (default: this one)
//
// Each checkout needs its pkg/ built (`node scripts/build.mjs` there).
import path from 'node:path';
import { launch } from '../tests/page/harness.mjs';
import { root, startServer } from '../tests/node/server.mjs';

const checkouts = process.argv.slice(2).map((d) => path.resolve(d));
if (checkouts.length === 0) checkouts.push(root);

/** Loads `url` in `page` until the page is ready; resolves with the bytes it fetched, in all and for the wasm. */
async function load(page, cdp, go) {
  const sizes = new Map(); // requestId -> { url, bytes }
  const onResponse = ({ requestId, response }) => sizes.set(requestId, { url: response.url, bytes: 0 });
  const onFinished = ({ requestId, encodedDataLength }) => {
    const r = sizes.get(requestId);
    if (r) r.bytes = encodedDataLength;
  };
  cdp.on('Network.responseReceived', onResponse);
  cdp.on('Network.loadingFinished', onFinished);
  await go();
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true');
  await page.waitForLoadState('networkidle');
  cdp.off('Network.responseReceived', onResponse);
  cdp.off('Network.loadingFinished', onFinished);
  const all = [...sizes.values()];
  return {
    requests: all.length,
    bytes: all.reduce((a, r) => a + r.bytes, 0),
    wasm: all.find((r) => new URL(r.url).pathname === '/pkg/warren_bg.wasm')?.bytes ?? 0,
  };
}

/** A new browser profile: loads the page, then reloads it if `reload`. */
async function visit(url, reload) {
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    const first = await load(page, cdp, () => page.goto(url));
    return reload ? [first, await load(page, cdp, () => page.reload())] : [first];
  } finally {
    await browser.close();
  }
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const cell = (r) => `${kib(r.bytes)} (wasm ${kib(r.wasm)})`;
console.log('checkout | first load | reload | later visitor (requests each)');
for (const dir of checkouts) {
  const server = await startServer({ command: path.join(dir, 'bin', 'warren-mq.js'), cwd: dir });
  try {
    const [first, reload] = await visit(`${server.http}/`, true);
    const [later] = await visit(`${server.http}/`, false);
    console.log(`${path.basename(dir)} | ${cell(first)} | ${cell(reload)} | ${cell(later)} (${first.requests})`);
  } finally {
    await server.stop();
  }
}
