// warren-mq/lite for Node: the lite engine is read from disk and instantiated
// at import, so `new Broker()` works right away.
import { readFileSync } from 'node:fs';
import { loadEngineSync } from './engine.js';
import './node/wasm-calls.js';

loadEngineSync(readFileSync(new URL('../pkg/warren_lite_bg.wasm', import.meta.url)));

export * from './lite.js';
