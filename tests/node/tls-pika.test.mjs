// pika (Python) over amqps with certificate verification on both sides:
// EXTERNAL as the certificate's user, and PLAIN over the verified channel.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { makePki, tlsServeArgs } from './certs.mjs';
import { root, startServer } from './server.mjs';

let pki;
let server;

before(async () => {
  pki = makePki(['client-a']);
  server = await startServer({
    args: tlsServeArgs(pki, {
      app: { password: 'pw', tags: [] },
      'client-a': { tags: [], permissions: { '/': { configure: '^a\\.', write: '.*', read: '.*' } } },
    }),
  });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

function pika(how) {
  const port = server.log().match(/AMQPS +amqps:\/\/[^\s]+:(\d+)/)[1];
  const script = path.join(root, 'tests', 'python', 'tls_client.py');
  const r = spawnSync('python3', [script, port, pki.dir, 'client-a', how], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return r.stdout;
}

test('pika: EXTERNAL logs in as client-a and is held to its permissions', () => {
  const out = pika('external');
  assert.match(out, /got secured/);
  assert.match(
    out,
    /refused 403 ACCESS_REFUSED - access to queue 'b.forbidden' in vhost '\/' refused for user 'client-a'/,
  );
});

test('pika: PLAIN over amqps with a client certificate', () => {
  const out = pika('plain');
  assert.match(out, /got secured/);
  assert.match(out, /declared b.forbidden/);
});
