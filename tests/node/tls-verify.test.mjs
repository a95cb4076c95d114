// `--tls-verify peer` (RabbitMQ's fail_if_no_peer_cert = false): a client
// certificate is verified if one is presented, clients without one log in
// with a password, and a certificate from another CA is refused. Real
// clients (amqp-client.js, amqplib) against a real serve, with a throwaway
// PKI made at run time.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { makePki, tlsServeArgs } from './certs.mjs';
import { startServer } from './server.mjs';

let pki;
let other; // another CA altogether
let server;

before(async () => {
  pki = makePki(['client-a']);
  other = makePki(['client-a']);
  server = await startServer({
    args: tlsServeArgs(
      pki,
      {
        app: { password: 'pw', tags: [] },
        'client-a': { tags: [], permissions: { '/': { configure: '.*', write: '.*', read: '.*' } } },
      },
      '--tls-verify',
      'peer',
    ),
  });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const amqpsPort = () => Number(server.log().match(/AMQPS +amqps:\/\/[^\s]+:(\d+)/)[1]);
const trust = { ca: () => pki.read('root.pem'), servername: 'localhost' };
const withCert = (from, name = 'client-a') => ({
  ca: trust.ca(),
  servername: trust.servername,
  cert: from.read(`${name}.pem`),
  key: from.read(`${name}.key`),
});

async function roundTrip(client, queue) {
  const conn = await client.connect();
  const ch = await conn.channel();
  await ch.queueDeclare(queue, { exclusive: true });
  await ch.basicPublish('', queue, 'hi');
  const body = (await ch.basicGet(queue)).bodyString();
  await conn.close();
  return body;
}

test('without a client certificate: PLAIN over amqps (amqp-client.js)', async () => {
  assert.match(server.log(), /client certificates verified if presented/);
  const client = new AMQPClient(`amqps://app:pw@127.0.0.1:${amqpsPort()}`, { ca: trust.ca(), servername: 'localhost' });
  assert.equal(await roundTrip(client, 'q1'), 'hi');
});

test('with a valid certificate: PLAIN works and EXTERNAL logs in as its CN (amqp-client.js, amqplib)', async () => {
  const client = new AMQPClient(`amqps://app:pw@127.0.0.1:${amqpsPort()}`, withCert(pki));
  assert.equal(await roundTrip(client, 'q2'), 'hi');
  const conn = await amqplib.connect(`amqps://127.0.0.1:${amqpsPort()}`, {
    ...withCert(pki),
    credentials: amqplib.credentials.external(),
  });
  // user_id must be the connection's user (RabbitMQ's check): the CN it is.
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('q3', { exclusive: true });
  ch.sendToQueue('q3', Buffer.from('x'), { userId: 'client-a' });
  await ch.waitForConfirms();
  const closed = new Promise((resolve) => ch.once('error', resolve));
  ch.sendToQueue('q3', Buffer.from('x'), { userId: 'app' });
  assert.match((await closed).message, /user_id property set to 'app' but authenticated user was 'client-a'/);
  await conn.close();
});

test('EXTERNAL without a certificate is not offered; a certificate from another CA is refused', async () => {
  await assert.rejects(
    amqplib.connect(`amqps://127.0.0.1:${amqpsPort()}`, {
      ca: trust.ca(),
      servername: 'localhost',
      credentials: amqplib.credentials.external(),
    }),
    /EXTERNAL/,
  );
  const before = server.log().length;
  await assert.rejects(
    amqplib.connect(`amqps://app:pw@127.0.0.1:${amqpsPort()}`, withCert(other)),
    /closed|ECONNRESET|socket hang up|EPIPE/i,
  );
  const stranger = new AMQPClient(`amqps://app:pw@127.0.0.1:${amqpsPort()}`, withCert(other));
  await assert.rejects(stranger.connect());
  await server.waitFor(/client certificate client-a refused: /);
  // Signed by a CA --tls-ca does not hold.
  assert.match(server.log().slice(before), /client certificate client-a refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
});

test('--tls-verify peer without --tls-ca stops the start, and a wrong mode names the choices', async () => {
  const args = ['--tls-cert', pki.file('server-chain.pem'), '--tls-key', pki.file('server.key'), '--tls-port', '0'];
  const noCa = await startServer({ args: [...args, '--tls-verify', 'peer'] }).catch((e) => e);
  assert.match(String(noCa.message ?? noCa), /--tls-verify peer needs --tls-ca/);
  const wrong = await startServer({ args: [...args, '--tls-verify', 'maybe'] }).catch((e) => e);
  assert.match(String(wrong.message ?? wrong), /expected require or peer, not maybe/);
});
