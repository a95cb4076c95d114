// TLS: amqps on its own port and https/wss on the HTTP port, from a
// throwaway PKI made at run time; client certificates verified against
// --tls-ca, the EXTERNAL login as the certificate's CN; bad files stop the
// start with a message naming them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AMQPClient, AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import WebSocket from 'ws';
import { makePki, tlsServeArgs } from './certs.mjs';
import { bin, startServer, tmpDir } from './server.mjs';

let pki;
let server;

before(async () => {
  pki = makePki(['client-a', 'stranger']);
  server = await startServer({
    args: tlsServeArgs(pki, {
      app: { password: 'pw', tags: ['monitoring'] },
      // No password: only its certificate logs it in.
      'client-a': { tags: [], permissions: { '/': { configure: '^a\\.', write: '.*', read: '.*' } } },
    }),
  });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const amqpsPort = () => Number(server.log().match(/AMQPS +amqps:\/\/[^\s]+:(\d+)/)[1]);
const clientTls = (name = 'client-a') => ({
  ca: pki.read('root.pem'),
  cert: pki.read(`${name}.pem`),
  key: pki.read(`${name}.key`),
  servername: 'localhost',
});

/** GET over https as app, trusting the test root: { status, body }. */
function httpsGet(apiPath) {
  return new Promise((resolve, reject) => {
    const options = { ca: pki.read('root.pem'), servername: 'localhost', auth: 'app:pw' };
    https
      .get(`https://127.0.0.1:${server.httpPort}${apiPath}`, options, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
      })
      .on('error', reject);
  });
}

async function roundTrip(ch, queue) {
  await ch.queueDeclare(queue, { exclusive: true });
  await ch.basicPublish('', queue, 'over tls');
  const m = await ch.basicGet(queue);
  return m.bodyString();
}

test('amqp-client.js over amqps with the root CA trusted and a client certificate', async () => {
  const client = new AMQPClient(`amqps://app:pw@127.0.0.1:${amqpsPort()}`, clientTls());
  await client.connect();
  assert.equal(await roundTrip(await client.channel(), 'tls.q'), 'over tls');
  await client.close();
  assert.match(server.log(), /AMQPS +amqps:\/\/127\.0\.0\.1:\d+/);
  assert.match(server.log(), /tls: .*CN=localhost.*client certificates required/);
});

test('a client without a certificate, or with an untrusted server CA, does not get in', async () => {
  const noCert = new AMQPClient(`amqps://app:pw@127.0.0.1:${amqpsPort()}`, { ca: pki.read('root.pem') });
  await assert.rejects(noCert.connect());
  const untrusting = new AMQPClient(`amqps://app:pw@127.0.0.1:${amqpsPort()}`, {
    cert: clientTls().cert,
    key: clientTls().key,
  });
  await assert.rejects(untrusting.connect(), /self[- ]signed|unable to (get|verify)/i);
});

test('amqplib: EXTERNAL logs in as the certificate CN, with its permissions', async () => {
  const conn = await amqplib.connect(`amqps://127.0.0.1:${amqpsPort()}`, {
    ...clientTls(),
    credentials: amqplib.credentials.external(),
  });
  const ch = await conn.createChannel();
  await ch.assertQueue('a.orders', { exclusive: true });
  ch.sendToQueue('a.orders', Buffer.from('hello'));
  const m = await new Promise((resolve) => {
    const poll = async () => {
      const got = await ch.get('a.orders', { noAck: true });
      if (got) resolve(got);
      else setTimeout(poll, 10);
    };
    poll();
  });
  assert.equal(m.content.toString(), 'hello');
  const closed = new Promise((resolve) => ch.once('error', resolve));
  await assert.rejects(ch.assertQueue('b.orders'), /ACCESS_REFUSED/);
  assert.match((await closed).message, /access to queue 'b.orders' in vhost '\/' refused for user 'client-a'/);
  const conns = (await httpsGet('/api/connections')).body;
  assert.ok(conns.some((c) => c.user === 'client-a' && c.protocol === 'amqps'));
  await conn.close();
  // A certificate whose CN is not a user: refused at login.
  await assert.rejects(
    amqplib.connect(`amqps://127.0.0.1:${amqpsPort()}`, {
      ...clientTls('stranger'),
      credentials: amqplib.credentials.external(),
    }),
    /403|ACCESS_REFUSED|Handshake terminated/,
  );
});

test('https serves the API and wss carries AMQP (amqp-client.js over WebSocket)', async () => {
  const overview = await httpsGet('/api/overview');
  assert.equal(overview.status, 200);
  // One listener per address (both loopbacks by default).
  assert.deepEqual([...new Set(overview.body.listeners.map((l) => l.protocol))], ['amqp', 'https', 'amqp/ssl']);
  const original = globalThis.WebSocket;
  // The client uses the global WebSocket: one that trusts the test root.
  globalThis.WebSocket = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { ca: pki.read('root.pem'), servername: 'localhost' });
    }
  };
  try {
    const url = `wss://127.0.0.1:${server.httpPort}/ws/amqp`;
    const client = new AMQPWebSocketClient({ url, vhost: '/', username: 'app', password: 'pw' });
    await client.connect();
    assert.equal(await roundTrip(await client.channel(), 'wss.q'), 'over tls');
    await client.close();
  } finally {
    globalThis.WebSocket = original;
  }
});

test("the certificate-expiration health check: ok within a day of the test certificate's two, failed within a week", async () => {
  assert.deepEqual(await httpsGet('/api/health/checks/certificate-expiration/1/days'), {
    status: 200,
    body: { status: 'ok' },
  });
  const week = await httpsGet('/api/health/checks/certificate-expiration/1/weeks');
  assert.equal(week.status, 503);
  assert.equal(week.body.reason, 'Certificates expiring');
  const listeners = week.body.expired.map((l) => [l.protocol, l.interface, l.port]);
  assert.deepEqual(
    listeners.filter(([, ip]) => ip === '127.0.0.1'),
    [
      ['https', '127.0.0.1', server.httpPort],
      ['amqp/ssl', '127.0.0.1', amqpsPort()],
    ],
  );
  // RabbitMQ's form: "2026-12-07 9:05:03", the hour not padded.
  const [y, mo, d, h, mi, sec] = week.body.expired[0].certfile_expires_on[0].match(/\d+/g).map(Number);
  const ends = Date.UTC(y, mo - 1, d, h, mi, sec);
  assert.ok(Math.abs(ends - (Date.now() + 2 * 86400e3)) < 3600e3, week.body.expired[0].certfile_expires_on[0]);
  assert.equal(week.body.expired[0].certfile, pki.file('server-chain.pem'));
});

test('bad TLS files stop the start, naming the file and the problem', () => {
  const start = (...args) =>
    spawnSync(process.execPath, [bin, 'serve', '--memory', '--port', '0', '--http-port', '0', ...args], {
      encoding: 'utf8',
      timeout: 20000,
    });
  const missing = start('--tls-cert', '/no/such/cert.pem', '--tls-key', pki.file('server.key'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr + missing.stdout, /--tls-cert \/no\/such\/cert\.pem: cannot read: no such file/);
  const notPem = path.join(tmpDir(), 'junk.pem');
  fs.writeFileSync(notPem, 'hello');
  const junk = start('--tls-cert', notPem, '--tls-key', pki.file('server.key'));
  assert.match(junk.stderr + junk.stdout, new RegExp(`--tls-cert ${notPem}: no PEM certificate`));
  const mismatch = start('--tls-cert', pki.file('server-chain.pem'), '--tls-key', pki.file('client-a.key'));
  assert.match(mismatch.stderr + mismatch.stdout, /--tls-key .*client-a\.key: does not match the certificate/);
  const keyOnly = start('--tls-key', pki.file('server.key'));
  assert.match(keyOnly.stderr + keyOnly.stdout, /TLS needs both --tls-cert and --tls-key/);
});
