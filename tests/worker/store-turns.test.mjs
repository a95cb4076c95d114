// The turns of a store batch on Durable Object storage (js/worker/storage-store.js),
// with a storage that logs its calls. workerd's output gate holds every
// message sent in the turn of a put, even one sent before it, until the put
// is on disk; so a batch's puts must come a turn after the append that starts
// them, or the confirms the previous batch released (sent by the socket
// writers on the next turn) would also wait for this batch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageStore } from '../../js/worker/storage-store.js';

function loggingStorage(calls) {
  return {
    put: async (entries) => calls.push(`put ${Object.keys(entries).sort().join(' ')}`),
    delete: async (keys) => calls.push(`delete ${keys.join(' ')}`),
    sync: async () => calls.push('sync'),
  };
}

test('an append puts on a later turn than its call, after the output due in this one; then a turn, then sync', async () => {
  const calls = [];
  const store = new StorageStore(loggingStorage(calls));
  // A socket writer's flush, scheduled in the turn that released the last batch's confirms.
  setTimeout(() => calls.push('output sent'), 0);
  const done = store.append(new Uint8Array([1, 2, 3]));
  calls.push('append called');
  await done;
  assert.deepEqual(calls, ['append called', 'output sent', 'put log:000000000000 logsize', 'sync']);
});

test('a compaction waits the same turn before its puts and deletes', async () => {
  const calls = [];
  const store = new StorageStore(loggingStorage(calls));
  await store.append(new Uint8Array(200 * 1024)); // two chunks
  calls.length = 0;
  setTimeout(() => calls.push('output sent'), 0);
  const done = store.compact(new Uint8Array([9]));
  calls.push('compact called');
  await done;
  assert.deepEqual(calls, [
    'compact called',
    'output sent',
    'put log:000000000000 logsize',
    'delete log:000000000001',
    'sync',
  ]);
});
