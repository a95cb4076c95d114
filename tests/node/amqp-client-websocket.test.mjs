// amqp-client.js's AMQPWebSocketClient, unmodified, against /ws/amqp; plus the
// endpoint's own rules (stream semantics, subprotocol echo, origin check).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import WebSocket from 'ws';
import { serveWithWebSocket } from './server.mjs';

const served = serveWithWebSocket();

async function roundTrip(client, bodies) {
  await client.connect();
  const ch = await client.channel();
  await ch.confirmSelect();
  const { name } = await ch.queueDeclare('', { exclusive: true });
  for (const b of bodies) await ch.basicPublish('', name, b);
  const got = [];
  await new Promise((resolve) => {
    ch.basicConsume(name, { noAck: false }, async (m) => {
      got.push(m.bodyString() ?? '');
      await m.ack();
      if (got.length === bodies.length) resolve();
    });
  });
  await client.close();
  return got;
}

test('publish, confirm, consume and ack over WebSocket, with a body larger than a frame', async () => {
  const big = 'x'.repeat(300 * 1024);
  const client = new AMQPWebSocketClient({ url: served.server.ws, vhost: '/', username: 'guest', password: 'guest' });
  assert.deepEqual(await roundTrip(client, ['hello', big, '']), ['hello', big, '']);
});

test('frames split across messages and many frames per message read as one stream', async () => {
  // A WebSocket that cuts whatever the client sends into 1..5 byte messages.
  class Splitting extends WebSocket {
    send(data) {
      const bytes = new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength);
      for (let at = 0, n = 1; at < bytes.length; at += n, n = (n % 5) + 1) super.send(bytes.slice(at, at + n));
    }
  }
  globalThis.WebSocket = Splitting;
  try {
    const client = new AMQPWebSocketClient({ url: served.server.ws, vhost: '/', username: 'guest', password: 'guest' });
    assert.deepEqual(await roundTrip(client, ['one', 'two', 'three']), ['one', 'two', 'three']);
  } finally {
    globalThis.WebSocket = WebSocket;
  }
});

function open(url, protocols, options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('a subprotocol amqp* is echoed only when the client offers it', async () => {
  const plain = await open(served.server.ws);
  assert.equal(plain.protocol, '');
  plain.close();
  const offered = await open(served.server.ws, ['amqp']);
  assert.equal(offered.protocol, 'amqp');
  offered.close();
  const versioned = await open(served.server.ws, ['mqtt', 'amqpv0-9-1']);
  assert.equal(versioned.protocol, 'amqpv0-9-1');
  versioned.close();
});

test("browsers from other origins are refused; this server's own page is allowed", async () => {
  await assert.rejects(open(served.server.ws, [], { origin: 'http://evil.example' }), /403/);
  const own = await open(served.server.ws, [], { origin: served.server.http });
  own.close();
  await assert.rejects(open(served.server.ws.replace('/ws/amqp', '/ws/other')), /404/);
  await served.server.waitFor(/origin http:\/\/evil\.example not allowed/);
});

test('the broker answers a protocol header split over two messages', async () => {
  const ws = await open(served.server.ws);
  const reply = new Promise((resolve) => ws.once('message', resolve));
  ws.send(Buffer.from('AMQP'));
  ws.send(Buffer.from([0, 0, 9, 1]));
  const first = await reply;
  // connection.start: a method frame (type 1) on channel 0, class 10 method 10.
  assert.equal(first[0], 1);
  assert.equal(first.readUInt16BE(1), 0);
  assert.equal(first.readUInt32BE(7), (10 << 16) | 10);
  ws.close();
});
