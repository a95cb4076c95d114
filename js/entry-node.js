// warren-mq for Node 20+ (and Bun, Deno's node mode): the engine is read from
// disk and instantiated at import, so `new Broker()` works right away.
import { readFileSync } from 'node:fs';
import { loadEngineSync } from './engine.js';
import './node/wasm-calls.js';

loadEngineSync(readFileSync(new URL('../pkg/warren_bg.wasm', import.meta.url)));

export * from './index.js';
