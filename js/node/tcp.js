// AMQP over TCP: every accepted socket becomes a broker connection.
import net from 'node:net';
import { attachPeer } from './peer.js';

// After the broker closes a connection, the time the client gets to close its
// end before the socket is dropped.
const LINGER_MS = 5000;

/** A net.Server (not yet listening) whose sockets become broker connections. */
export function amqpTcpServer(broker, { maxQueuedBytes, log, sockets, peers }) {
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    const remote = { address: socket.remoteAddress, port: socket.remotePort };
    const name = `${remote.address}:${remote.port}`;
    const peer = attachPeer(
      broker,
      {
        write: (bytes) => socket.write(bytes),
        end: () => {
          socket.end();
          setTimeout(() => socket.destroy(), LINGER_MS).unref();
        },
        pause: () => socket.pause(),
        resume: () => socket.resume(),
        backlog: () => socket.writableLength,
      },
      { remote, kind: 'amqp', maxQueuedBytes, log, peers },
    );
    socket.on('data', peer.data);
    socket.on('drain', peer.drained);
    socket.on('error', (e) => log('debug', `amqp ${name}: ${e.message}`));
    socket.on('close', () => {
      sockets.delete(socket);
      peer.closed();
    });
  });
  return server;
}
