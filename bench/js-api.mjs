// Publish -> deliver -> ack through the in-process JS API in Node, 16-byte
// bodies, one queue, one consumer; then the same engine loop run entirely
// inside wasm, set against the native figure from `cargo bench --bench engine`.
//
//   npm run build && node bench/js-api.mjs [--messages N] [--no-native] [--no-wasm-loop] [--lite]
//
// --lite: the JS API on warren-mq/lite's engine (pkg/warren_lite_bg.wasm).
//
// The in-wasm loop comes from a separate build with the `bench` feature
// (`node scripts/build.mjs --bench`, into target/bench-pkg/), run here if missing:
// the shipped wasm carries no benchmark code.
//
// Prints msg/s per variant, and messages per CPU-second of this process (less
// disturbed than wall time on a shared machine), then the wasm/native ratio
// per batch size.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000000' },
    'no-native': { type: 'boolean', default: false },
    'no-wasm-loop': { type: 'boolean', default: false },
    lite: { type: 'boolean', default: false },
  },
});
const { Broker } = await import(opts.lite ? '../js/entry-lite-node.js' : '../js/entry-node.js');
const N = Number(opts.messages);
const BODY = new TextEncoder().encode('0123456789abcdef');
const root = fileURLToPath(new URL('..', import.meta.url));
const rate = (n, ms) => (n / ms) * 1000;
const fmt = (r) => `${(r / 1e6).toFixed(2)}M msg/s`.padStart(14);

/** Starts a timed section: its end gives [msg/s, msg per CPU-second] for `n` messages. */
function timer(n) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return () => {
    const ms = performance.now() - t0;
    const { user, system } = process.cpuUsage(c0);
    return [rate(n, ms), rate(n, (user + system) / 1000)];
  };
}

/** A broker with one queue and one consumer; `onMessage(msg, count)` acks as the variant wants. */
async function setup(options, prefetch, onMessage) {
  const broker = new Broker({ events: false, ...options });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('bench', { durable: false });
  await ch.prefetch(prefetch);
  const state = { delivered: 0 };
  await ch.basicConsume('bench', { noAck: false }, (msg) => onMessage(msg, ++state.delivered));
  return { broker, ch, state };
}

/** Every message published, delivered and acked on its own. */
async function oneByOne(n, options = {}) {
  const { broker, ch, state } = await setup(options, 1000, (msg) => msg.ack());
  const done = timer(n);
  let last;
  for (let i = 0; i < n; i++) last = ch.basicPublish('', 'bench', BODY);
  await last; // the last batch has run, and the acks its deliveries made
  const rates = done();
  if (state.delivered !== n) throw new Error(`delivered ${state.delivered} of ${n}`);
  await broker.close();
  return rates;
}

/** Published one by one, acked with `multiple` every `every` deliveries. */
async function ackEvery(n, every) {
  const { broker, ch, state } = await setup({}, 2 * every, (msg, count) => {
    if (count % every === 0) msg.ack(true);
  });
  const done = timer(n);
  let last;
  for (let i = 0; i < n; i++) last = ch.basicPublish('', 'bench', BODY);
  await last; // the last batch has run, and the acks its deliveries made
  const rates = done();
  if (state.delivered !== n) throw new Error(`delivered ${state.delivered} of ${n}`);
  await broker.close();
  return rates;
}

/** basicPublishBatch of `batch` bodies, acked with `multiple` once per batch. */
async function batched(n, batch) {
  const { broker, ch, state } = await setup({}, 2 * batch, (msg, count) => {
    if (count % batch === 0) msg.ack(true);
  });
  const bodies = Array.from({ length: batch }, () => BODY);
  const done = timer(n);
  let last;
  for (let i = 0; i < n; i += batch) last = ch.basicPublishBatch('', 'bench', bodies);
  await last;
  const rates = done();
  if (state.delivered !== n) throw new Error(`delivered ${state.delivered} of ${n}`);
  await broker.close();
  return rates;
}

/** Best of three runs after a warm-up, wall and CPU each: the figures least disturbed by GC and other load. */
async function best(fn) {
  await fn(Math.min(N, 200_000));
  const top = [0, 0];
  for (let i = 0; i < 3; i++) {
    const [wall, cpu] = await fn(N);
    top[0] = Math.max(top[0], wall);
    top[1] = Math.max(top[1], cpu);
  }
  return `${fmt(top[0])}  ${`${(top[1] / 1e6).toFixed(2)}M msg/CPU-s`.padStart(16)}`;
}

function native() {
  const out = execFileSync('cargo', ['bench', '--bench', 'engine'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const figures = new Map();
  for (const m of out.matchAll(/batch\s+(\d+):\s+([\d.]+) msg\/s/g)) figures.set(Number(m[1]), Number(m[2]));
  return figures;
}

const engine = opts.lite ? 'lite engine' : 'full engine';
console.log(`JS API, ${engine}, ${N} messages, 16 B bodies, events off (node ${process.version}):`);
console.log(`  publish, deliver, ack each            ${await best((n) => oneByOne(n))}`);
console.log(`  same, events on (default)             ${await best((n) => oneByOne(n, { events: true }))}`);
console.log(`  publish each, ack multiple every 100  ${await best((n) => ackEvery(n, 100))}`);
console.log(`  basicPublishBatch 100, ack multiple   ${await best((n) => batched(n, 100))}`);
console.log(`  basicPublishBatch 1000, ack multiple  ${await best((n) => batched(n, 1000))}`);

if (opts['no-wasm-loop']) process.exit(0);
execFileSync('node', ['scripts/build.mjs', '--bench'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const benchPkg = path.join(path.resolve(root, process.env.CARGO_TARGET_DIR ?? 'target'), 'bench-pkg');
const { initSync, benchEngine } = await import(pathToFileURL(path.join(benchPkg, 'warren.js')).href);
initSync({ module: readFileSync(path.join(benchPkg, 'warren_bg.wasm')) });
const inWasm = new Map();
for (const batch of [1, 64, 1000]) {
  benchEngine(Math.min(N, 200_000), batch);
  inWasm.set(batch, Math.max(...[0, 1, 2].map(() => benchEngine(N, batch))));
}
const nat = opts['no-native'] ? new Map() : native();
console.log('engine loop (publish batch, flush, ack multiple), 16 B bodies:');
for (const [batch, w] of inWasm) {
  const n = nat.get(batch);
  const ratio = n ? `  native ${fmt(n)}  wasm/native ${(w / n).toFixed(2)}` : '';
  console.log(`  batch ${String(batch).padStart(4)}: wasm ${fmt(w)}${ratio}`);
}
