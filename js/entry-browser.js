// warren-mq for browsers and bundlers: the universal API plus the IndexedDB
// store and servePort (a broker in a worker, clients in the page).
// `await Broker.create()` fetches the engine on first use.
export * from './index.js';
export { IndexedDBStore } from './browser/indexeddb-store.js';
export { keepAcrossReloads } from './browser/kept-broker.js';
export { servePort } from './port.js';
