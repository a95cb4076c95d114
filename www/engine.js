// Loads warren-mq's browser entry. `warren-mq serve` and `npm start` serve
// this page at / with the package's js/ beside it; the repository served as
// plain files has it one level up, next to www/. index.html runs this module
// first, so the engine downloads while the page's own modules do.
const nested = /\/www\/(index\.html)?$/.test(location.pathname);

/** The URL of a module of the package's js/ (the live-code worker imports js/websocket.js itself). */
export const packageModule = (file) => new URL(`${nested ? '../js/' : './js/'}${file}`, location.href).href;

export const warrenReady = import(packageModule('entry-browser.js')).then(async (warren) => {
  // Fetch and compile the WebAssembly now, not at the first Broker.create.
  await warren.loadEngine?.();
  return warren;
});
// The page reports a failure itself; this keeps it from also being an unhandled rejection.
warrenReady.catch(() => {});
