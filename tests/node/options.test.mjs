// Each serve option reaches the broker: tuning on the wire, limits, the
// consumer timeout, users from a file, allowed WebSocket origins, log level.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import WebSocket from 'ws';
import { rawConnection } from './raw-amqp.mjs';
import { startServer, tmpDir } from './server.mjs';

async function withServer(args, fn) {
  const server = await startServer({ args });
  try {
    await fn(server);
  } finally {
    assert.equal(await server.stop(), 0);
  }
}

test('--frame-max, --channel-max and --heartbeat are what connection.tune offers', async () => {
  await withServer(['--frame-max', '8192', '--channel-max', '10', '--heartbeat', '7'], async (server) => {
    const c = await rawConnection(server.amqpPort);
    c.send(Buffer.from('AMQP\x00\x00\x09\x01'));
    await c.next(c.isMethod(10, 10));
    const { frames } = await import('./raw-amqp.mjs');
    c.send(frames.startOk());
    const tune = await c.next(c.isMethod(10, 30));
    assert.deepEqual(
      [tune.payload.readUInt16BE(4), tune.payload.readUInt32BE(6), tune.payload.readUInt16BE(10)],
      [10, 8192, 7],
    );
    c.socket.destroy();
  });
});

test('--max-message-size: a bigger body closes the channel with 406', async () => {
  await withServer(['--max-message-size', '1KiB'], async (server) => {
    const client = new AMQPClient(server.url);
    client.onerror = () => {};
    await client.connect();
    const ch = await client.channel();
    await ch.queueDeclare('sized');
    await ch.basicPublish('', 'sized', new Uint8Array(1024));
    await ch.basicPublish('', 'sized', new Uint8Array(1025)).catch(() => {});
    await assert.rejects(ch.queueDeclare('sized', { passive: true }), /\(406\)/);
    await client.close();
    await server.waitFor(/channel 1 closed: 406 PRECONDITION_FAILED/);
  });
});

test('--consumer-timeout: a delivery left unacked too long cancels its consumer and is requeued', async () => {
  await withServer(['--consumer-timeout', '300'], async (server) => {
    const client = new AMQPClient(server.url);
    client.onerror = () => {};
    await client.connect();
    const ch = await client.channel();
    await ch.queueDeclare('slow-worker');
    const consumer = await ch.basicConsume('slow-worker', { noAck: false }, () => {}); // never acks
    await ch.basicPublish('', 'slow-worker', 'work');
    // amqp-client.js understands broker-initiated cancels, so it loses the
    // consumer rather than the channel.
    await assert.rejects(consumer.wait(5000), /cancelled by the server/);
    const again = await ch.basicGet('slow-worker');
    assert.equal(again.bodyToString(), 'work');
    assert.equal(again.redelivered, true);
    await client.close();
  });
});

test('--users from a file, as lines or as JSON with per-user vhosts', async () => {
  const dir = tmpDir();
  const lines = path.join(dir, 'users.txt');
  fs.writeFileSync(lines, '# operators\nops:s3cret\n');
  await withServer(['--users', lines], async (server) => {
    const ok = new AMQPClient(`amqp://ops:s3cret@127.0.0.1:${server.amqpPort}`);
    await ok.connect();
    await ok.close();
  });
  const json = path.join(dir, 'users.json');
  fs.writeFileSync(json, JSON.stringify({ app: { password: 'pw', vhosts: ['prod'] } }));
  await withServer(['--users', json, '--vhosts', '/,prod'], async (server) => {
    const prod = new AMQPClient(`amqp://app:pw@127.0.0.1:${server.amqpPort}/prod`);
    await prod.connect();
    await prod.close();
    const root = new AMQPClient(`amqp://app:pw@127.0.0.1:${server.amqpPort}/`);
    await assert.rejects(root.connect(), /530/);
  });
});

test('--ws-origins: only the listed origins may open /ws/amqp from a browser', async () => {
  await withServer(['--ws-origins', 'http://app.example'], async (server) => {
    const open = (origin) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(server.ws, { origin });
        ws.once('open', () => {
          ws.close();
          resolve();
        });
        ws.once('error', reject);
      });
    await open('http://app.example');
    await assert.rejects(open(server.http), /403/);
  });
});

test('--log-level warn keeps connection lines out of the log, errors in', async () => {
  await withServer(['--log-level', 'warn'], async (server) => {
    const client = new AMQPClient(server.url);
    client.onerror = () => {};
    await client.connect();
    const ch = await client.channel();
    await ch.queueDeclare('absent', { passive: true }).catch(() => {});
    await client.close();
    await server.waitFor(/channel 1 closed: 404 NOT_FOUND/);
    assert.doesNotMatch(server.log(), /connected/);
  });
});
