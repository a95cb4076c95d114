// The packed tarball installed into a fresh directory works in Node:
// `import { Broker } from "warren-mq"` picks the node entry, which loads the
// wasm from disk at import.
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
});
