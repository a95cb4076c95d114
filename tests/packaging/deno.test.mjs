// The packed tarball works in Deno: installed into a project's node_modules,
// `import { Broker } from "warren-mq"` resolves through the exports map and
// runs a broker, and so does "warren-mq/lite" on its engine. Deno comes from
// its npm package (a pinned devDependency).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { install, pack, tempDir } from './tarball.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const deno = path.join(root, 'node_modules', '.bin', 'deno');

test('Deno imports the packed tarball and runs a broker', { timeout: 300_000 }, (t) => {
  assert.ok(fs.existsSync(deno), `${deno} is missing: run npm install`);
  const [dir, remove] = tempDir('warren-deno-');
  t.after(remove);
  const { tarball } = pack(dir);
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  install(app, { 'warren-mq': `file:${tarball}` });
  fs.writeFileSync(
    path.join(app, 'main.mjs'),
    `import { Broker } from 'warren-mq';
const broker = await Broker.create({ events: false });
const ch = await (await broker.connect()).channel();
await ch.queueDeclare('q');
const got = [];
await ch.basicConsume('q', { noAck: false }, (m) => { got.push(m.bodyString()); m.ack(); });
await ch.confirmSelect();
const seq = await ch.basicPublish('', 'q', 'hello from deno');
console.log(JSON.stringify({ got, seq, unacked: broker.snapshot().queues[0].counts.unacked }));
await broker.close();
`,
  );
  const out = execFileSync(deno, ['run', '--allow-read', '--allow-env', 'main.mjs'], {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()), { got: ['hello from deno'], seq: 1, unacked: 0 });

  // warren-mq/lite resolves too, to its smaller engine.
  fs.writeFileSync(
    path.join(app, 'lite.mjs'),
    `import { Broker } from 'warren-mq/lite';
const broker = await Broker.create({ events: false });
const ch = await (await broker.connect()).channel();
await ch.queueDeclare('q');
await ch.basicPublish('', 'q', 'hello from lite');
const msg = await ch.basicGet('q');
let snapshot = null;
try {
  broker.snapshot();
} catch (e) {
  snapshot = e.message.split(' is ')[0];
}
console.log(JSON.stringify({ body: msg.bodyString(), snapshot }));
await broker.close();
`,
  );
  const lite = execFileSync(deno, ['run', '--allow-read', '--allow-env', 'lite.mjs'], {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
  });
  assert.deepEqual(JSON.parse(lite.trim().split('\n').pop()), { body: 'hello from lite', snapshot: 'Broker.snapshot' });
});
