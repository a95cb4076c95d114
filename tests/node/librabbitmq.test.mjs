// librabbitmq (rabbitmq-c), the C client under many language bindings,
// through Debian's amqp-tools, against a real `warren-mq serve`: declare,
// publish with properties and headers, get, consume with acks, a body larger
// than a frame, the 404 of a missing queue, and the same over amqps with the
// CA verified. `npm test` runs this suite when amqp-tools is installed and says
// how to install it otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { makePki, tlsServeArgs } from './certs.mjs';
import { startServer } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

/** Runs one of amqp-tools' commands against `url`: { status, stdout, stderr }. */
function tool(name, url, args, input) {
  const r = spawnSync(name, ['-u', url, ...args], { input, encoding: 'latin1', timeout: 20000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}
const ok = (r) => {
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

/** The queue as the management API shows it. */
async function queueView(name) {
  const res = await server.api(`/api/queues/%2F/${name}`);
  return res.json();
}

test('declare, publish with properties and headers, get, consume with acks, an empty get', async () => {
  const url = server.url;
  assert.equal(ok(tool('amqp-declare-queue', url, ['-q', 'c.q', '-d'])).trim(), 'c.q');
  assert.equal((await queueView('c.q')).durable, true);
  ok(tool('amqp-publish', url, ['-r', 'c.q', '-p', '-C', 'text/plain', '-E', 'utf8', '-H', 'trace: abc'], 'hello'));
  ok(tool('amqp-publish', url, ['-r', 'c.q', '-b', 'second']));
  ok(tool('amqp-publish', url, ['-r', 'c.q', '-b', 'third']));
  assert.equal((await queueView('c.q')).messages, 3);
  // The first message's properties, read back through the API without taking it.
  const peek = await server.api('/api/queues/%2F/c.q/get', {
    method: 'POST',
    body: { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' },
  });
  assert.deepEqual((await peek.json())[0].properties, {
    content_type: 'text/plain',
    content_encoding: 'utf8',
    delivery_mode: 2,
    headers: { trace: 'abc' },
  });
  assert.equal(ok(tool('amqp-get', url, ['-q', 'c.q'])), 'hello');
  // amqp-consume hands each body to the command and acks it after.
  assert.equal(ok(tool('amqp-consume', url, ['-q', 'c.q', '-c', '2', '-p', '1', 'cat'])), 'secondthird');
  assert.deepEqual([(await queueView('c.q')).messages, (await queueView('c.q')).messages_unacknowledged], [0, 0]);
  assert.equal(tool('amqp-get', url, ['-q', 'c.q']).status, 2, 'an empty queue');
  ok(tool('amqp-delete-queue', url, ['-q', 'c.q']));
  assert.equal((await server.api('/api/queues/%2F/c.q')).status, 404);
});

test('a body of three frames, byte for byte; the 404 of a missing queue, with its text', async () => {
  const url = server.url;
  ok(tool('amqp-declare-queue', url, ['-q', 'c.big']));
  // 300 KiB: three body frames at the frame_max of 128 KiB that connection.tune offers.
  const body = Buffer.alloc(300 * 1024, 0)
    .map((_, i) => 32 + (i % 90))
    .toString('latin1');
  ok(tool('amqp-publish', url, ['-r', 'c.big'], body));
  assert.equal((await queueView('c.big')).message_bytes_ready, body.length);
  const got = ok(tool('amqp-get', url, ['-q', 'c.big']));
  assert.equal(got.length, body.length);
  assert.ok(got === body, 'the same bytes');
  ok(tool('amqp-delete-queue', url, ['-q', 'c.big']));
  const missing = tool('amqp-get', url, ['-q', 'c.none']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /server channel error 404, message: NOT_FOUND - no queue 'c\.none' in vhost '\/'/);
});

test('amqps: librabbitmq with OpenSSL verifies the chain and the address, then publishes and gets', async () => {
  const pki = makePki();
  const tls = await startServer({ args: tlsServeArgs(pki, { app: { password: 'pw', tags: [] } }) });
  try {
    const port = Number(tls.log().match(/AMQPS +amqps:\/\/[^\s]+:(\d+)/)[1]);
    // (librabbitmq checks the name it connected to against the certificate's
    // DNS names only, not its IP address entries: localhost, not 127.0.0.1.)
    const url = `amqps://app:pw@localhost:${port}`;
    const verified = ['--ssl', '--cacert', pki.file('root.pem'), '--cert', pki.file('client-a.pem')];
    const withKey = [...verified, '--key', pki.file('client-a.key')];
    ok(tool('amqp-declare-queue', url, [...withKey, '-q', 'tls.q']));
    ok(tool('amqp-publish', url, [...withKey, '-r', 'tls.q', '-b', 'over tls']));
    assert.equal(ok(tool('amqp-get', url, [...withKey, '-q', 'tls.q'])), 'over tls');
    // Without the client certificate the server asks for, the handshake fails.
    const refused = tool('amqp-get', url, ['--ssl', '--cacert', pki.file('root.pem'), '-q', 'tls.q']);
    assert.notEqual(refused.status, 0);
  } finally {
    assert.equal(await tls.stop(), 0);
  }
});
