// Loading the wasm engine. Each entry point loads it its own way (fetch next
// to the glue, read from disk, imported as a module); `Broker.create` waits
// for whichever is under way, or starts the default one.
import init, { initSync } from '../pkg/warren.js';

let exports = null;
let loading = null;

/** Instantiates the engine from bytes or a compiled WebAssembly.Module, now. */
export function loadEngineSync(module) {
  exports ??= initSync({ module });
}

/** Resolves once the engine is loaded; by default fetches `warren_bg.wasm` next to the glue. */
export function loadEngine(moduleOrPath) {
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

export function engineReady() {
  return exports !== null;
}

/** The engine's linear memory, where output is read in place. */
export function engineMemory() {
  return exports.memory;
}
