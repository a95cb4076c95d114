// warren-mq for workerd (Cloudflare Workers): wasm cannot be fetched or
// compiled from bytes there, only imported as a module, so it is bound at import.
import wasmModule from '../pkg/warren_bg.wasm';
import { loadEngineSync } from './engine.js';

loadEngineSync(wasmModule);

export * from './index.js';
