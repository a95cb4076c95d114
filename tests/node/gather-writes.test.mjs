// gatherWrites (js/node/peer.js) over real loopback sockets: what a turn
// sends is held until the event loop's check phase, then leaves whole and in
// order; an end in the same turn still sends it; WebSocket messages keep
// their boundaries.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import test from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { gatherWrites } from '../../js/node/peer.js';

/** A connected pair: [the server's socket, the client's socket]. */
async function socketPair() {
  const server = net.createServer({ noDelay: true }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect(server.address().port, '127.0.0.1');
  const [accepted] = await once(server, 'connection');
  await once(client, 'connect');
  server.close();
  return [accepted, client];
}

/** Everything `socket` receives until its peer ends. */
async function readAll(socket) {
  const chunks = [];
  for await (const c of socket) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

test('a turn of sends is held corked, then written whole and in order', async () => {
  const [sock, client] = await socketPair();
  const received = readAll(client);
  const send = gatherWrites(sock, (b) => sock.write(b));
  send(Buffer.from('one,'));
  send(Buffer.from('two,'));
  send(Buffer.from('three'));
  // Nothing has left yet: the bytes wait in the corked socket.
  assert.equal(sock.writableCorked, 1);
  assert.equal(sock.writableLength, 'one,two,three'.length);
  await new Promise((r) => setImmediate(r));
  assert.equal(sock.writableCorked, 0);
  // The next turn corks again.
  send(Buffer.from(';four'));
  assert.equal(sock.writableCorked, 1);
  await new Promise((r) => setImmediate(r));
  sock.end();
  assert.equal(await received, 'one,two,three;four');
});

test('an end in the same turn as the sends still sends them first', async () => {
  const [sock, client] = await socketPair();
  const received = readAll(client);
  const send = gatherWrites(sock, (b) => sock.write(b));
  send(Buffer.from('connection.close'));
  sock.end();
  assert.equal(await received, 'connection.close');
  // The uncork due at the check phase finds the socket ended and does nothing.
  await new Promise((r) => setImmediate(r));
  assert.equal(sock.writableCorked, 0);
});

test('WebSocket messages sent in one turn arrive as separate messages, in order', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  try {
    const client = new WebSocket(`ws://127.0.0.1:${wss.address().port}`);
    const [ws, req] = await once(wss, 'connection');
    await once(client, 'open');
    const got = [];
    const all = new Promise((resolve) =>
      client.on('message', (data) => {
        got.push(data.toString());
        if (got.length === 3) resolve();
      }),
    );
    const send = gatherWrites(req.socket, (b) => ws.send(b, { binary: true }));
    for (const m of ['frame-a', 'frame-b', 'frame-c']) send(Buffer.from(m));
    assert.equal(req.socket.writableCorked, 1);
    await all;
    assert.deepEqual(got, ['frame-a', 'frame-b', 'frame-c']);
    client.close();
  } finally {
    wss.close();
  }
});
