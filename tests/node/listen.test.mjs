// Where `warren-mq serve` listens: both loopbacks by default (so
// amqp://localhost works wherever Node resolves it to ::1 first), a list with
// --host, and :: or 0.0.0.0 for every interface. AMQP and HTTP alike.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import test from 'node:test';
import amqplib from 'amqplib';
import { bin, root, startServer } from './server.mjs';

/** Resolves true when a TCP connection to host:port is accepted, false when refused. */
function reachable(host, port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', (e) => (e.code === 'ECONNREFUSED' ? resolve(false) : reject(e)));
  });
}

async function amqpRoundTrip(url) {
  const c = await amqplib.connect(url);
  const ch = await c.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  ch.sendToQueue(queue, Buffer.from('here'));
  let m;
  while (!(m = await ch.get(queue, { noAck: true }))) await new Promise((r) => setTimeout(r, 10));
  await c.close();
  return m.content.toString();
}

async function withServer(args, fn) {
  const server = await startServer({ args });
  try {
    await fn(server);
  } finally {
    assert.equal(await server.stop(), 0);
  }
}

test('by default both loopbacks, AMQP and HTTP, on the same ports; localhost works', async () => {
  await withServer([], async (server) => {
    const { amqpPort, httpPort } = server;
    for (const host of ['127.0.0.1', '::1']) {
      assert.ok(await reachable(host, amqpPort), `AMQP on ${host}`);
      assert.ok(await reachable(host, httpPort), `HTTP on ${host}`);
    }
    assert.equal(await amqpRoundTrip(`amqp://guest:guest@[::1]:${amqpPort}`), 'here');
    assert.equal(await amqpRoundTrip(`amqp://guest:guest@localhost:${amqpPort}`), 'here');
    const res = await fetch(`http://[::1]:${httpPort}/api/overview`, {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
    });
    const { listeners } = await res.json();
    assert.deepEqual(
      listeners.map((l) => `${l.protocol} ${l.ip_address}`),
      ['amqp 127.0.0.1', 'amqp ::1', 'http 127.0.0.1', 'http ::1'],
    );
  });
});

test('--host takes a list; one address means only that one', async () => {
  await withServer(['--host', '127.0.0.1'], async (server) => {
    assert.ok(await reachable('127.0.0.1', server.amqpPort));
    assert.equal(await reachable('::1', server.amqpPort), false);
    assert.equal(await reachable('::1', server.httpPort), false);
  });
  await withServer(['--host', '::1'], async (server) => {
    assert.match(server.log(), /AMQP +amqp:\/\/\[::1\]:\d+/);
    assert.ok(await reachable('::1', server.amqpPort));
    assert.equal(await reachable('127.0.0.1', server.amqpPort), false);
  });
});

test(':: and 0.0.0.0 mean every interface, IPv4 and IPv6', async () => {
  for (const every of ['::', '0.0.0.0', '127.0.0.1,0.0.0.0']) {
    await withServer(['--host', every], async (server) => {
      for (const host of ['127.0.0.1', '::1']) {
        assert.ok(await reachable(host, server.amqpPort), `${every}: AMQP on ${host}`);
        assert.ok(await reachable(host, server.httpPort), `${every}: HTTP on ${host}`);
      }
      assert.match(server.log(), /AMQP +amqp:\/\/127\.0\.0\.1:\d+/);
    });
  }
});

test('a bad address exits with 2 and says why', () => {
  const r = spawnSync(process.execPath, [bin, 'serve', '--memory', '--host', '[::1]'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20000,
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--host: not an address: \[::1\] \(IPv6 addresses go without brackets\)/);
});
