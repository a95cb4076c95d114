// Memory per queued message in wasm: how much the engine's linear memory grows
// while N messages with 16-byte bodies are published through the JS API to a
// queue without consumers (events off), per message and beyond its body.
// Allocator overhead counts: it is memory the page or worker really pays for.
//
//   npm run build && node bench/memory.mjs [--messages N]
//
// The native figure for the same queue is in `cargo bench --bench engine`.
import { parseArgs } from 'node:util';
import { Broker } from '../js/entry-node.js';
import { engineMemory } from '../js/engine.js';

const { values: opts } = parseArgs({ options: { messages: { type: 'string', default: '1000000' } } });
const N = Number(opts.messages);
const BODY = new TextEncoder().encode('0123456789abcdef');

const broker = new Broker({ events: false });
const ch = await (await broker.connect()).channel();
await ch.queueDeclare('bench', { durable: false });
// Warm-up: the allocator's first pages and the queue's first ring are not per-message costs.
for (let i = 0; i < 1000; i++) ch.basicPublish('', 'bench', BODY);
await ch.queuePurge('bench');
const before = engineMemory().buffer.byteLength;
for (let i = 0; i < N; i++) ch.basicPublish('', 'bench', BODY);
const { messageCount } = await ch.queueDeclare('bench', { passive: true });
if (messageCount !== N) throw new Error(`queued ${messageCount} of ${N}`);
const grown = engineMemory().buffer.byteLength - before;
console.log(
  `wasm memory per queued message beyond its ${BODY.length} B body (${N} queued): ${(grown / N - BODY.length).toFixed(1)} bytes (memory grew ${(grown / 2 ** 20).toFixed(1)} MiB)`,
);
await broker.close();
