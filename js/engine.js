// Loading the wasm engine. Each entry point loads it its own way (fetch next
// to the glue, read from disk, imported as a module); `Broker.create` waits
// for whichever is under way, or starts the default one.
import init, { initSync } from '../pkg/warren.js';

let exports = null;
let loading = null;
// What `loadEngine()` loads when given nothing, as the first entry point
// imported chose it: a function giving the wasm's URL, or undefined for the
// glue's default (warren_bg.wasm beside it).
let defaultSource = null;

/** Makes `source()` what `loadEngine()` loads when given nothing, unless an entry point chose first. */
export function preferEngine(source) {
  defaultSource ??= source;
}

/** Instantiates the engine from bytes or a compiled WebAssembly.Module, now. */
export function loadEngineSync(module) {
  exports ??= initSync({ module });
}

/** Resolves once the engine is loaded; by default fetches `warren_bg.wasm` next to the glue. */
export function loadEngine(moduleOrPath = defaultSource?.()) {
  if (exports) return Promise.resolve();
  loading ??= init(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath }).then(
    (e) => {
      exports = e;
    },
    (e) => {
      loading = null;
      throw e;
    },
  );
  return loading;
}

/**
 * Throws, naming `api`, when the loaded engine lacks the WasmBroker method
 * `method`: warren-mq/lite's engine leaves the cold parts out.
 */
export function requireEngine(method, api) {
  if (exports === null || typeof exports[`wasmbroker_${method}`] === 'function') return;
  throw new Error(
    `${api} is not in warren-mq/lite, whose engine leaves out the AMQP server, stores, suspend and resume, ` +
      "snapshots and management after creation: import it from 'warren-mq' instead",
  );
}

export function engineReady() {
  return exports !== null;
}

/** The engine's linear memory, where output is read in place. */
export function engineMemory() {
  return exports.memory;
}
