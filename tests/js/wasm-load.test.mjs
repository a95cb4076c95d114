// The built package loads in Node: pkg/warren.js instantiated from the wasm bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import test from 'node:test';
import { initSync, version } from '../../pkg/warren.js';

const read = (rel) => readFileSync(new URL(rel, import.meta.url));

test('initSync from bytes, version() matches Cargo.toml', () => {
  initSync({ module: read('../../pkg/warren_bg.wasm') });
  const cargoVersion = read('../../Cargo.toml')
    .toString()
    .match(/^version = "([^"]+)"/m)[1];
  assert.equal(version(), cargoVersion);
});
