// warren-mq, for any runtime with fetch: `Broker.create()` loads the engine
// from warren_bg.wasm next to pkg/warren.js (browsers, bundlers, Deno). The
// other entry points load it their own way and export the same API.
import { preferEngine } from './engine.js';

// The full engine: the glue's own default.
preferEngine(() => undefined);

export { Broker } from './broker.js';
export { Channel, Connection, Consumer, Message } from './client.js';
export { ManualClock, RealClock } from './clock.js';
export { loadEngine } from './engine.js';
export { DefinitionsError, parseDefinitions } from './definitions.js';
export { AMQPError } from './errors.js';
export { MemoryStore } from './memory-store.js';
export { webSocketFor } from './websocket.js';
