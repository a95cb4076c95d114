// The page's live code works from the npm package: the worker, its bridge and
// amqp-client.js's browser build (vendored, with its licence) are packed, and
// the copy the build makes is exactly the installed amqp-client's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { vendoredText } from '../../scripts/vendor-amqp-client.mjs';
import { pack, tempDir } from './tarball.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

test("the vendored amqp-client.js is the installed package's browser build", () => {
  const vendored = fs.readFileSync(`${root}www/live-code/vendor/amqp-client.js`, 'utf8');
  assert.ok(vendored === vendoredText(), 'out of date: run npm run build');
  assert.match(vendored, /export \{[^}]*AMQPWebSocketClient/);
});

test(
  'the packed tarball carries the live-code worker and amqp-client.js with its licence',
  { timeout: 120_000 },
  (t) => {
    const [dir, remove] = tempDir('warren-live-code-');
    t.after(remove);
    const { files } = pack(dir);
    for (const f of [
      'www/live-code/worker.js',
      'www/live-code/bridge.js',
      'www/live-code/editor.js',
      'www/live-code/vendor/amqp-client.js',
      'www/live-code/vendor/LICENSE',
      'js/websocket.js',
      'js/port.js',
    ])
      assert.ok(files.includes(f), `${f} is not in the package`);
  },
);
