// The package's workerd entry (`warren-mq` under the "workerd" condition)
// in real workerd: the wasm is imported as a module, never fetched or compiled
// from bytes, and a broker works inside a request; the same for warren-mq/lite.
import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { root } from './runtime.mjs';

/** Miniflare running `fixture` with the package's files as modules, wasm as compiled modules. */
function workerd(t, fixture) {
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    cf: false,
    log: new Log(LogLevel.WARN),
    modules: true,
    modulesRoot: root,
    scriptPath: path.join(root, 'tests/worker/fixtures', fixture),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-09-01',
  });
  t.after(() => mf.dispose());
  return mf;
}

test('js/entry-worker.js runs a broker in workerd', { timeout: 120_000 }, async (t) => {
  const res = await workerd(t, 'entry-worker-app.js').dispatchFetch('http://localhost/');
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), { got: ['hello from workerd'], seq: 1, unacked: 0 });
});

test('js/entry-lite-worker.js runs a broker on the lite engine in workerd', { timeout: 120_000 }, async (t) => {
  const res = await workerd(t, 'entry-lite-worker-app.js').dispatchFetch('http://localhost/');
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.match(body.suspend, /^Broker.suspend is not in warren-mq\/lite/);
  assert.deepEqual({ ...body, suspend: null }, { got: ['hello from lite'], seq: 1, messageCount: 0, suspend: null });
});
