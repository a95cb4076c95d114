// --max-connections: a serve-wide limit on AMQP connections (TCP and
// WebSocket together), as RabbitMQ's connection_max. One more is closed at
// once and logged; a slot that frees is taken again.
import assert from 'node:assert/strict';
import test from 'node:test';
import { AMQPClient, AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import WebSocket from 'ws';
import { startServer } from './server.mjs';

globalThis.WebSocket ??= WebSocket;

async function tcpClient(server) {
  const c = new AMQPClient(server.url);
  c.onerror = () => {};
  await c.connect();
  return c;
}

test('--max-connections: past the limit TCP and WebSocket connections are refused and logged; a freed slot is reused', async () => {
  const server = await startServer({ args: ['--max-connections', '3'] });
  try {
    const open = [await tcpClient(server), await tcpClient(server)];
    const ws = new AMQPWebSocketClient({ url: server.ws, vhost: '/', username: 'guest', password: 'guest' });
    await ws.connect();
    open.push(ws);

    // The fourth: its socket is closed before the handshake.
    await assert.rejects(tcpClient(server), /Connection ended|ECONNRESET/);
    await server.waitFor(/amqp [^ ]+: refused: 3 connections, the limit \(--max-connections 3\)/);
    // Over WebSocket the upgrade is answered 503.
    const status = await new Promise((resolve) => {
      const raw = new WebSocket(server.ws);
      raw.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      raw.on('open', () => resolve('open'));
      raw.on('error', () => {});
    });
    assert.equal(status, 503);
    // Those held are served as before.
    const ch = await open[0].channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    await ch.basicPublish('', q.name, 'still served');
    assert.equal((await ch.basicGet(q.name, { noAck: true })).bodyToString(), 'still served');

    // One leaves: a new one gets its slot once its socket is gone.
    await open.pop().close();
    let again = null;
    for (let i = 0; i < 50 && !again; i++) {
      again = await tcpClient(server).catch(() => null);
      if (!again) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(again, 'no connection after one of three closed');
    open.push(again);
    await Promise.all(open.map((c) => c.close()));
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test('--max-connections takes a count; a bad one stops the start with the reason', async () => {
  await assert.rejects(
    startServer({ args: ['--max-connections', 'lots'] }),
    /max-connections.*not an integer|not an integer.*lots/s,
  );
});
