// warren-mq/lite for workerd: the lite engine imported as a module and bound at import.
import wasmModule from '../pkg/warren_lite_bg.wasm';
import { loadEngineSync } from './engine.js';

loadEngineSync(wasmModule);

export * from './lite.js';
