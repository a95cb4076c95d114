// Instructions per message of the wire path in wasm: AMQP bytes from a
// publishing and a consuming connection handed to `broker.accept` (the
// host's js/accept.js, the wasm server and engine, the output given to the
// transport), as `warren-mq serve` runs them but without sockets. Counted by
// valgrind's cachegrind on node: unlike `bench/serve-cpu.mjs --instructions`,
// every run reads the same bytes in the same pieces, so two trees compare
// within a few instructions per message.
//
//   node bench/wire-instructions.mjs [--messages N] [--mode single|multiple|auto] [--size 16]
//                                    [--per-read 1000] [--cpu] [--repeat 5] [ROOT ...]
//
// Bodies of --size bytes (16 by default), reads of --per-read publishes
// (method, header and body frames; 1000 by default):
// - single: confirms; the consumer at prefetch 256 behind a backlog, acking
//   each delivery alone in reads of 250 acks, as bench/loadgen's consumers
//   and most clients do;
// - multiple: confirms; one ack with `multiple` after each read's deliveries;
// - auto: the consumer on automatic acknowledgment.
//
// Each ROOT is a checkout with js/ and a built pkg/ (default: this one). Each
// runs N/6 and N messages; the difference divided by theirs leaves out
// node's start, the handshake and the warm-up. The ack tags are written into
// a read's bytes in place, a few instructions per ack. Node runs with
// --no-liftoff: the wasm is compiled by TurboFan once, up front, instead of
// function by function as each gets hot, which moved counts of one tree by
// up to 1,500 instructions per message from run to run (60,000 messages);
// with it, by about 50.
//
// --per-read N: N publishes per read (N a divisor of 1000, or a multiple of
// it), and in `single` acks in reads of N (at most 250). Under
// `warren-mq serve` at full speed a read brings some 7 to 16 messages
// (bench/loadgen, auto-ack and confirms + acks), so what each read and each
// send costs (the crossings into wasm, the copies) counts there as it does
// not at 1000.
//
// --cpu: instead of instructions, the CPU time (user + system, every
// thread) per message of the same loop at full speed, each ROOT --repeat
// times in turn, the median. Some costs are time and not instructions:
// memory touched for the first time, the kernel's page faults and V8's
// background threads, which valgrind's count leaves out or serializes. A
// copy per send into a new ArrayBuffer, against one into a shared pool, was
// as many instructions and 15-20% more CPU at --per-read 4.

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { frames, method, u16, u32 } from '../tests/node/raw-amqp.mjs';
import { instructions, perMessage } from './cachegrind.mjs';
import { nodeCpuMicros } from './proc-cpu.mjs';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '120000' },
    mode: { type: 'string', default: 'single' },
    size: { type: 'string', default: '16' },
    'per-read': { type: 'string', default: '1000' },
    cpu: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '5' },
    run: { type: 'boolean', default: false },
  },
});
const MODES = ['single', 'multiple', 'auto'];
if (!MODES.includes(opts.mode)) throw new Error(`--mode: one of ${MODES.join(', ')}, not ${opts.mode}`);
// One body frame each: within the broker's frame_max (128 KiB) with room to spare.
if (!/^\d+$/.test(opts.size) || Number(opts.size) < 1 || Number(opts.size) > 65536)
  throw new Error(`--size: bytes from 1 to 65536, not ${opts.size}`);
const PER_READ = Number(opts['per-read']);
if (!(PER_READ >= 1 && (1000 % PER_READ === 0 || PER_READ % 1000 === 0)))
  throw new Error(`--per-read: a divisor of 1000 or a multiple of it, not ${opts['per-read']}`);
const self = fileURLToPath(import.meta.url);
const BATCH = PER_READ;
const PREFETCH = 256;
const ACKS_PER_READ = Math.min(250, PER_READ);
const BODY = Buffer.alloc(Number(opts.size), '0123456789abcdef');

const bits = (b) => Buffer.from([b]);
const confirmSelect = (ch) => method(ch, 85, 10, bits(0));
const qos = (ch, n) => method(ch, 60, 10, u32(0), u16(n), bits(0));
function ack(ch, tag, multiple) {
  const t = Buffer.alloc(8);
  t.writeBigUInt64BE(BigInt(tag));
  return method(ch, 60, 80, t, bits(multiple ? 1 : 0));
}
/** Where an ack's tag sits in its frame: type, channel, size, class, method. */
const ACK_TAG_AT = 1 + 2 + 4 + 4;
const ACK_FRAME = ack(1, 0, false).length;

/** A transport that counts what the broker sends it. */
function sink() {
  return {
    bytes: 0,
    bufferedAmount: 0,
    send(b) {
      this.bytes += b.byteLength;
    },
    close() {},
  };
}

/** The loop itself, in the process valgrind watches: `--run ROOT COUNT`. */
async function loop(root, n, mode) {
  const { Broker } = await import(pathToFileURL(path.join(root, 'js', 'entry-node.js')).href);
  const broker = new Broker({ events: false });
  const [pt, ct] = [sink(), sink()];
  const p = broker.accept(pt, { name: 'publisher', loopback: true });
  const c = broker.accept(ct, { name: 'consumer', loopback: true });
  const open = [
    Buffer.from('AMQP\x00\x00\x09\x01'),
    frames.startOk(),
    frames.tuneOk(),
    frames.open(),
    frames.channelOpen(1),
  ];
  const confirms = mode !== 'auto';
  p.receive(Buffer.concat([...open, frames.queueDeclare(1, 'q'), ...(confirms ? [confirmSelect(1)] : [])]));
  const consume = [...(mode === 'single' ? [qos(1, PREFETCH)] : []), frames.consume(1, 'q', mode === 'auto')];
  c.receive(Buffer.concat([...open, ...consume]));
  const one = [frames.publish(1, 'q'), frames.header(1, BODY.length), frames.body(1, BODY)];
  const publishes = Buffer.concat(Array.from({ length: BATCH }, () => one).flat());
  const acks = Buffer.concat(Array.from({ length: ACKS_PER_READ }, () => ack(1, 0, false)));
  if (mode === 'single') p.receive(publishes); // the backlog the consumer stays behind
  const before = ct.bytes;
  let acked = 0;
  for (let sent = 0; sent < n; sent += BATCH) {
    p.receive(publishes);
    if (mode === 'multiple') {
      c.receive(ack(1, sent + BATCH, true));
    } else if (mode === 'single') {
      for (let r = 0; r < BATCH / ACKS_PER_READ; r++) {
        // The tag's low half (the high one stays 0): a BigInt per ack cost
        // this loop some 700 instructions per message, counted as the broker's.
        for (let i = 0; i < ACKS_PER_READ; i++) acks.writeUInt32BE(++acked, i * ACK_FRAME + ACK_TAG_AT + 4);
        c.receive(acks);
      }
    }
  }
  // Each delivery is at least its body and a byte; a wrong tag would have
  // closed the channel and stopped them.
  if (ct.bytes - before < n * (BODY.length + 1)) throw new Error(`${ct.bytes - before} bytes delivered for ${n}`);
  if (confirms && pt.bytes === 0) throw new Error('no confirms');
  await broker.close();
}

if (opts.run) {
  await loop(path.resolve(positionals[0]), Number(positionals[1]), opts.mode);
  if (opts.cpu) {
    const { user, system } = process.cpuUsage();
    console.log(JSON.stringify({ cpuMicros: user + system }));
  }
} else {
  const what = opts.cpu ? 'CPU µs' : 'instructions';
  console.log(
    `the wire path in wasm, --mode ${opts.mode}, ${BODY.length} B bodies, ${PER_READ} per read: ${what} per message`,
  );
  const args = [self, '--run', '--mode', opts.mode, '--size', String(BODY.length), '--per-read', String(PER_READ)];
  if (opts.cpu) {
    const run = (root, n) => nodeCpuMicros([...args, '--cpu', root, String(n)], root);
    perMessage(positionals, Number(opts.messages), BATCH, run, { repeat: Number(opts.repeat), digits: 3 });
  } else {
    // --no-liftoff: see the top of this file.
    const run = (root, n) => instructions(['--no-liftoff', ...args, root, String(n)], root);
    perMessage(positionals, Number(opts.messages), BATCH, run);
  }
}
