// Users on the edge host: guest is refused by default (no client of a
// Worker is on its machine), and WARREN_USERS gives tags, hashed passwords
// and permissions that the engine enforces.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import WebSocket from 'ws';
import { start, tmpDir } from './runtime.mjs';

const runtimes = [];
after(() => Promise.all(runtimes.map((rt) => rt.stop())));

/** A client whose requests claim to come from `ip` (the header Cloudflare sets). */
async function clientFrom(rt, ip, vars) {
  const original = globalThis.WebSocket;
  globalThis.WebSocket = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { headers: { 'cf-connecting-ip': ip } });
    }
  };
  try {
    const c = new AMQPWebSocketClient({ url: rt.ws('/'), vhost: '/', username: 'guest', password: 'guest', ...vars });
    await c.connect();
    return c;
  } finally {
    globalThis.WebSocket = original;
  }
}

test('guest only from this machine unless WARREN_LOOPBACK_USERS says otherwise', async () => {
  const rt = await start({ persistDir: tmpDir() });
  runtimes.push(rt);
  await assert.rejects(clientFrom(rt, '203.0.113.9'), /403|ACCESS_REFUSED|Login was refused/);
  await (await clientFrom(rt, '127.0.0.1')).close();
  const open = await start({ persistDir: tmpDir(), vars: { WARREN_LOOPBACK_USERS: 'none' } });
  runtimes.push(open);
  await (await clientFrom(open, '203.0.113.9')).close();
});

test('WARREN_USERS: permissions per vhost, enforced by the engine', async () => {
  const users = {
    app: { password: 'pw', tags: [], permissions: { '/': { configure: '^app\\.', write: '.*', read: '.*' } } },
  };
  const rt = await start({ persistDir: tmpDir(), vars: { WARREN_USERS: JSON.stringify(users) } });
  runtimes.push(rt);
  const client = new AMQPWebSocketClient({ url: rt.ws('/'), vhost: '/', username: 'app', password: 'pw' });
  await client.connect();
  const ch = await client.channel();
  await ch.queueDeclare('app.jobs');
  await assert.rejects(ch.queueDeclare('other'), /access to queue 'other' in vhost '\/' refused for user 'app'/);
  await client.close();
  // The host counts the closes the engine reports.
  assert.equal((await rt.debug()).closes['channel 403'], 1);
});
