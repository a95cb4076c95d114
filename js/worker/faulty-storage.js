// For tests only (WARREN_TEST_FAULTS=1): Durable Object storage whose writes
// fail on command, as the StorageStore sees them. `faults.put` / `faults.sync`
// name the failure of every later call: "quota" (storage full: nothing is
// written, the same write may be tried again) or "error" (any other failure),
// null for none. A failed put writes nothing, as the platform's atomic batch.

/** The failure a fault names, with the message the platform gives it (see storage-store.js). */
function failure(kind, op) {
  if (kind === 'quota') return new Error(`${op}: SQLITE_FULL: Durable Object storage limit exceeded (injected)`);
  return new Error(`${op}: internal error in Durable Object storage (injected)`);
}

export function faultyStorage(storage, faults) {
  return {
    list: (options) => storage.list(options),
    get: (keys) => storage.get(keys),
    delete: (keys) => (faults.put ? Promise.reject(failure(faults.put, 'delete')) : storage.delete(keys)),
    put: (entries) => (faults.put ? Promise.reject(failure(faults.put, 'put')) : storage.put(entries)),
    sync: () => (faults.sync ? Promise.reject(failure(faults.sync, 'sync')) : storage.sync()),
  };
}
