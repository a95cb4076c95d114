// The packed package as a user installs it: its `warren-mq` command serves
// AMQP and the tutorial page from the installed files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { install, pack, tempDir } from '../packaging/tarball.mjs';
import { startServer } from './server.mjs';

test('npm install of the tarball gives a working `warren-mq serve` with the page', { timeout: 300_000 }, async () => {
  const [dir, cleanup] = tempDir('warren-packaged-');
  try {
    const { tarball, files } = pack(dir);
    assert.ok(files.includes('bin/warren-mq.js'));
    assert.ok(files.includes('www/index.html'));
    install(dir, { 'warren-mq': `file:${tarball}` });
    const command = path.join(dir, 'node_modules', 'warren-mq', 'bin', 'warren-mq.js');
    assert.ok(fs.existsSync(path.join(dir, 'node_modules', '.bin', 'warren-mq')), 'the bin link');
    const server = await startServer({ command, cwd: dir });
    try {
      const page = await fetch(`${server.http}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type'), /text\/html/);
      assert.match(await page.text(), /<html/i);
      const client = new AMQPClient(server.url);
      await client.connect();
      const ch = await client.channel();
      await ch.queueDeclare('installed');
      await client.close();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  } finally {
    cleanup();
  }
});
