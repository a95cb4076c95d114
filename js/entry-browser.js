// warren-mq for browsers and bundlers: the universal API plus the IndexedDB
// store. `await Broker.create()` fetches the engine on first use.
export * from './index.js';
export { IndexedDBStore } from './browser/indexeddb-store.js';
