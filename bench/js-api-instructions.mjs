// Instructions per message of the in-process JS API, publish -> deliver ->
// ack with basicPublishBatch + ack multiple, 16-byte bodies (the batched case
// of bench/js-api.mjs): JS, wasm and engine together, counted by valgrind's
// cachegrind on node. Unlike msg/s the count barely moves with the load other
// programs put on a shared machine; when V8 compiles what varies a little from
// run to run, so differences under ~50 per message are noise.
//
//   node bench/js-api-instructions.mjs [--messages N] [--batch B] [ROOT ...]
//
// Each ROOT is a checkout with js/ and a built pkg/ (default: this one), to
// set a change against its baseline. Each runs N/6 and N messages; the
// difference divided by their difference leaves out node's start, loading the
// wasm and the warm-up.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '1200000' },
    batch: { type: 'string', default: '1000' },
    run: { type: 'boolean', default: false },
  },
});
const self = fileURLToPath(import.meta.url);
const batch = Number(opts.batch);

/** The loop itself, in the process valgrind watches: `--run ROOT COUNT`. */
async function loop(root, n) {
  const { Broker } = await import(pathToFileURL(path.join(root, 'js', 'entry-node.js')).href);
  const body = new TextEncoder().encode('0123456789abcdef');
  const broker = new Broker({ events: false });
  const ch = await (await broker.connect()).channel();
  await ch.queueDeclare('bench', { durable: false });
  await ch.prefetch(2 * batch);
  let delivered = 0;
  await ch.basicConsume('bench', { noAck: false }, (msg) => {
    if (++delivered % batch === 0) msg.ack(true);
  });
  const bodies = Array.from({ length: batch }, () => body);
  let last;
  for (let i = 0; i < n; i += batch) last = ch.basicPublishBatch('', 'bench', bodies);
  await last;
  if (delivered !== n) throw new Error(`delivered ${delivered} of ${n}`);
  await broker.close();
}

/** Instructions of one run of `n` messages against ROOT, as cachegrind's summary gives them. */
function count(root, n) {
  const args = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'];
  const node = ['--single-threaded', self, '--run', '--batch', String(batch), root, String(n)];
  const r = spawnSync('valgrind', [...args, process.execPath, ...node], { encoding: 'utf8' });
  const refs = /I\s+refs:\s+([\d,]+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !refs) {
    throw new Error(`valgrind on ${root} failed (is valgrind installed?): ${r.error?.message ?? r.stderr}`);
  }
  return Number(refs[1].replaceAll(',', ''));
}

if (opts.run) {
  await loop(path.resolve(positionals[0]), Number(positionals[1]));
} else {
  const n = Number(opts.messages);
  const small = Math.round(n / 6 / batch) * batch;
  const roots = positionals.length > 0 ? positionals : [fileURLToPath(new URL('..', import.meta.url))];
  console.log(`JS API, basicPublishBatch ${batch} + ack multiple, 16 B bodies: instructions per message`);
  for (const root of roots) {
    const [a, b] = [small, n].map((m) => count(path.resolve(root), m));
    console.log(`  ${((b - a) / (n - small)).toFixed(0).padStart(6)}  ${root}`);
  }
}
