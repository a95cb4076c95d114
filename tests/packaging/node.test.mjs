// The packed tarball installed into a fresh directory works in Node:
// `import { Broker } from "warren-mq"` picks the node entry, which loads the
// wasm from disk at import; "warren-mq/lite" loads the lite engine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { install, pack, tempDir } from './tarball.mjs';

test('npm pack ships the JS, the glue and the wasm, and Node imports it', { timeout: 300_000 }, (t) => {
  const [dir, remove] = tempDir('warren-pack-');
  t.after(remove);
  const { tarball, files } = pack(dir);
  for (const f of [
    'package.json',
    'js/index.js',
    'js/index.d.ts',
    'js/entry-node.js',
    'js/entry-browser.js',
    'js/entry-worker.js',
    'pkg/warren.js',
    'pkg/warren_bg.wasm',
    'js/lite.js',
    'js/lite.d.ts',
    'js/entry-lite-node.js',
    'js/entry-lite-worker.js',
    'pkg/warren_lite_bg.wasm',
  ]) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.ok(
    !files.some((f) => f.startsWith('src/') || f.startsWith('tests/') || f.startsWith('target/')),
    'no sources or tests',
  );

  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  install(app, { 'warren-mq': `file:${tarball}` });
  fs.writeFileSync(
    path.join(app, 'main.mjs'),
    `import { Broker } from 'warren-mq';
import * as node from 'warren-mq/node';
const broker = new Broker({ events: false });
const ch = await (await broker.connect()).channel();
await ch.queueDeclare('q');
await ch.basicPublish('', 'q', 'from the tarball');
const msg = await ch.basicGet('q');
await broker.close();
const created = await node.Broker.create();
await created.close();
console.log(JSON.stringify({ body: msg.bodyString(), same: node.Broker === Broker }));
`,
  );
  const out = execFileSync(process.execPath, ['main.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
  assert.deepEqual(JSON.parse(out), { body: 'from the tarball', same: true });

  // warren-mq/lite in a process of its own: one engine per process.
  fs.writeFileSync(
    path.join(app, 'lite.mjs'),
    `import { Broker } from 'warren-mq/lite';
const broker = new Broker({ events: false });
const ch = await (await broker.connect()).channel();
await ch.queueDeclare('q');
await ch.basicPublish('', 'q', 'from lite');
const msg = await ch.basicGet('q');
let snapshot;
try {
  broker.snapshot();
} catch (e) {
  snapshot = e.message;
}
await broker.close();
console.log(JSON.stringify({ body: msg.bodyString(), snapshot }));
`,
  );
  const lite = JSON.parse(
    execFileSync(process.execPath, ['lite.mjs'], { cwd: app, encoding: 'utf8', timeout: 30_000 }),
  );
  assert.equal(lite.body, 'from lite');
  assert.match(lite.snapshot, /^Broker.snapshot is not in warren-mq\/lite/);
});
