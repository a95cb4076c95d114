// The package's workerd entry (`warren-mq` under the "workerd" condition)
// in real workerd: the wasm is imported as a module, never fetched or compiled
// from bytes, and a broker works inside a request.
import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { root } from './runtime.mjs';

test('js/entry-worker.js runs a broker in workerd', { timeout: 120_000 }, async (t) => {
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    cf: false,
    log: new Log(LogLevel.WARN),
    modules: true,
    modulesRoot: root,
    scriptPath: path.join(root, 'tests/worker/fixtures/entry-worker-app.js'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-09-01',
  });
  t.after(() => mf.dispose());
  const res = await mf.dispatchFetch('http://localhost/');
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), { got: ['hello from workerd'], seq: 1, unacked: 0 });
});
