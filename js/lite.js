// warren-mq/lite: the in-process broker alone, on an engine of under 150 KiB
// gzipped (pkg/warren_lite_bg.wasm). Every AMQP method, acknowledgment mode,
// dead-lettering, TTL, limit and confirm works as in 'warren-mq'; what it
// leaves out (the AMQP server for other clients, stores, suspend and resume,
// snapshots, and users, vhosts and policies after creation) throws an Error
// naming the method. One engine serves a page or process: the entry point
// imported first picks it.
import { preferEngine } from './engine.js';

// The URL form lets bundlers (Vite, webpack) emit the wasm as an asset; it is
// made only when loaded, as workerd has no URL for a module.
preferEngine(() => new URL('../pkg/warren_lite_bg.wasm', import.meta.url));

export { Broker } from './broker.js';
export { Channel, Connection, Consumer, Message } from './client.js';
export { ManualClock, RealClock } from './clock.js';
export { loadEngine } from './engine.js';
export { AMQPError } from './errors.js';
