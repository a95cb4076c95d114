// A broker that outlives a reload of its page: whenever the page is hidden
// (switching tabs, closing, reloading, a phone locking), an image of the
// whole broker goes to IndexedDB; the next load resumes from it, so queues
// and messages, transient ones included, are found again. In-process
// connections die with the page: their unacked deliveries come back
// redelivered, as when a client crashes.
//
// The image describes the broker only until it changes, so it is taken
// once read, and again when the page becomes visible: a later reload finds
// either the image of its last hiding or none (then a durable store, if
// given, recovers what RabbitMQ's restart would keep).
//
// Paged queues need a store that keeps pages (IndexedDBStore): the image
// names the runs in pages there, and a resume reads none of them until a
// consumer needs it. An image is taken after the store has every page it
// names (Broker.suspend flushes the store writer), and discarded before the
// first page is deleted after it: a hidden page may go on draining its
// queues, and an image naming a deleted page could not be resumed.
import { Broker } from '../broker.js';

const OBJECTS = 'image';
const KEY = 'current';

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function open(name) {
  const req = indexedDB.open(`${name}:image`, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(OBJECTS);
  return request(req);
}

function write(db, value) {
  const tx = db.transaction(OBJECTS, 'readwrite', { durability: 'strict' });
  const store = tx.objectStore(OBJECTS);
  if (value === undefined) store.delete(KEY);
  else store.put(value, KEY);
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/**
 * `Broker.resume` from the image kept under `name`, or `Broker.create` when
 * there is none (or it cannot be resumed: the reason is in
 * `broker.keptImageError`); from then on the broker is imaged into IndexedDB
 * whenever the page is hidden. `options` are `Broker.create`'s.
 */
export async function keepAcrossReloads(name, options = {}) {
  if (typeof name !== 'string' || name === '')
    throw new TypeError('keepAcrossReloads: name must be a non-empty string');
  if (typeof indexedDB === 'undefined') throw new Error('keepAcrossReloads: indexedDB is not available here');
  const db = await open(name);
  let saving = Promise.resolve();
  /** an image in IndexedDB (or on its way) may name pages */
  let kept = false;
  if (typeof options.store?.deletePage === 'function') {
    const store = options.store;
    const deletePage = async (id) => {
      if (kept) {
        kept = false;
        // Not queued behind `saving`: a save in flight waits (Broker.suspend) for
        // this delete. IndexedDB runs the two writes in the order they begin.
        try {
          await write(db, undefined);
        } catch (e) {
          // The page stays (the next start deletes it): the image may still name it.
          console.error('warren: discarding the kept broker image failed:', e);
          kept = true;
          return;
        }
      }
      return store.deletePage(id);
    };
    // The store as it is, but for deletePage: methods keep their own `this` (private fields).
    const proxy = new Proxy(store, {
      get(target, key) {
        if (key === 'deletePage') return deletePage;
        const v = Reflect.get(target, key, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    options = { ...options, store: proxy };
  }
  const image = await request(db.transaction(OBJECTS, 'readonly').objectStore(OBJECTS).get(KEY));
  let broker = null;
  let error = null;
  if (image instanceof Uint8Array) {
    await write(db, undefined); // read once: the broker changes from here on
    try {
      broker = await Broker.resume(image, options);
    } catch (e) {
      error = e;
    }
  }
  broker ??= await Broker.create(options);
  broker.keptImageError = error;
  broker.resumedFromImage = broker.keptImageError === null && image instanceof Uint8Array;

  const save = () => {
    saving = saving
      .then(() => broker.suspend())
      .then((img) => ((kept = true), write(db, img)))
      .catch((e) => console.error('warren: keeping the broker image failed:', e));
    return saving;
  };
  const onVisibility = () => {
    if (document.visibilityState === 'hidden') save();
    else saving = saving.then(() => ((kept = false), write(db, undefined))).catch(() => {});
  };
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('pagehide', save);
  /** Takes an image now (also what hiding the page does); resolves once it is in IndexedDB. */
  broker.keepImage = save;
  const close = broker.close.bind(broker);
  broker.close = () => {
    document.removeEventListener('visibilitychange', onVisibility);
    window.removeEventListener('pagehide', save);
    return close();
  };
  return broker;
}
