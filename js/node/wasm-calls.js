// Imported for its effect by the Node entry points, before the engine loads.
import v8 from 'node:v8';

// V8 11 (Node 20) can abort the process ("unreachable code" in its
// deoptimizer) when optimized code that inlined a call into wasm is
// deoptimized during that call, as a GC in the engine's calls back into JS
// may cause. Not inlining those calls costs little: the JS API crosses into
// wasm once per batch.
if (Number.parseInt(process.versions.v8, 10) <= 11) {
  try {
    v8.setFlagsFromString('--no-turbo-inline-js-wasm-calls');
  } catch {
    // a runtime without V8's flags has no such inlining either
  }
}
