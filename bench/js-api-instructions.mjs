// Instructions per message of the in-process JS API, publish -> deliver ->
// ack with basicPublishBatch + ack multiple, 16-byte bodies (the batched case
// of bench/js-api.mjs): JS, wasm and engine together, counted by valgrind's
// cachegrind on node. Unlike msg/s the count barely moves with the load other
// programs put on a shared machine; when V8 compiles what varies a little from
// run to run, so differences under ~50 per message are noise.
//
//   node bench/js-api-instructions.mjs [--messages N] [--batch B] [--wasm-side] [ROOT ...]
//
// `--wasm-side` counts the wasm side alone: the same batches written straight
// into the command buffer (runCommandBuffer) and the output taken
// (takeOutput) but not read, with no client and no dispatch in JS. It needs
// a checkout with runCommandBuffer. Its count has agreed within a few
// instructions from run to run, but on some days repeat runs of one tree
// differed by more than a third (2424 to 4162): run each tree several times,
// interleaved, and trust it only when its repeats agree.
//
// Each ROOT is a checkout with js/ and a built pkg/ (default: this one), to
// set a change against its baseline. Each runs N/6 and N messages; the
// difference divided by their difference leaves out node's start, loading the
// wasm and the warm-up.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { instructions, perMessage } from './cachegrind.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '1200000' },
    batch: { type: 'string', default: '1000' },
    run: { type: 'boolean', default: false },
    'wasm-side': { type: 'boolean', default: false },
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

/** The wasm side of `loop` alone: one queue, one consumer, commands as js/core.js writes them. */
async function wasmSide(root, n) {
  const { initSync, WasmBroker } = await import(pathToFileURL(path.join(root, 'pkg', 'warren.js')).href);
  const { memory } = initSync({ module: readFileSync(path.join(root, 'pkg', 'warren_bg.wasm')) });
  const w = new WasmBroker({ durable: false, events: false });
  const conn = w.openConnection(0, '/', 'bench', 'guest', 'guest');
  w.openChannel(0, conn, 1);
  w.queueDeclare(0, conn, 1, 'bench', 0, {});
  w.qos(0, conn, 1, 2 * batch, 0, false);
  w.consume(0, conn, 1, 'bench', '', 0, {});
  while (w.takeOutput() > 0);
  // PUBLISH (op, conn, channel, mandatory, exchange "", routing key "bench", body), then PUBLISH_NEXTs.
  const body = new TextEncoder().encode('0123456789abcdef');
  const pub = new Uint8Array(7 + 1 + 1 + 6 + 4 + body.length + (batch - 1) * (5 + body.length));
  const view = new DataView(pub.buffer);
  pub.set([1, 0, 0, 0, 0, 1, 0, 0, 0, 5, ...new TextEncoder().encode('bench')]);
  view.setUint32(1, conn, true);
  let at = 15;
  for (let i = 0; i < batch; i++, at += 4 + body.length) {
    if (i > 0) pub[at++] = 5;
    view.setUint32(at, body.length, true);
    pub.set(body, at + 4);
  }
  const ptr = w.commandBuffer(pub.length);
  let bytes = 0;
  for (let tag = batch; tag <= n; tag += batch) {
    new Uint8Array(memory.buffer, ptr, pub.length).set(pub);
    w.runCommandBuffer(0, pub.length);
    for (let len; (len = w.takeOutput()) > 0;) bytes += len;
    // ACK: op, conn, channel, tag f64, multiple, requeue
    const ack = new DataView(memory.buffer, ptr, 17);
    ack.setUint8(0, 2);
    ack.setUint32(1, conn, true);
    ack.setUint16(5, 1, true);
    ack.setFloat64(7, tag, true);
    ack.setUint8(15, 1);
    ack.setUint8(16, 0);
    w.runCommandBuffer(0, 17);
    while (w.takeOutput() > 0);
  }
  // Each delivery is at least its body and a byte.
  if (bytes < n * (body.length + 1)) throw new Error(`${bytes} bytes of output for ${n} messages`);
}

if (opts.run) {
  await (opts['wasm-side'] ? wasmSide : loop)(path.resolve(positionals[0]), Number(positionals[1]));
} else {
  const what = opts['wasm-side'] ? 'wasm side alone' : 'JS API';
  console.log(`${what}, basicPublishBatch ${batch} + ack multiple, 16 B bodies: instructions per message`);
  const side = opts['wasm-side'] ? ['--wasm-side'] : [];
  const run = [self, '--run', ...side, '--batch', String(batch)];
  perMessage(positionals, Number(opts.messages), batch, (root, n) => instructions([...run, root, String(n)], root));
}
