// AMQP over TCP (or TLS: amqps): every accepted socket becomes a broker connection.
import net from 'node:net';
import tls from 'node:tls';
import { LINGER_MS, attachPeer, gatherWrites, overConnectionLimit } from './peer.js';
import { refusedCertificate } from './tls-files.js';

/**
 * A server (not yet listening) whose sockets become broker connections. With
 * `tlsOptions` (a secure context's cert, key, ca...) it is amqps: a client
 * certificate verified against the CA names the user for EXTERNAL (its CN).
 */
export function amqpTcpServer(
  broker,
  { maxQueuedBytes, maxConnections, log, sockets, peers, closes, lingering, tlsOptions },
) {
  const kind = tlsOptions ? 'amqps' : 'amqp';
  const onSocket = (socket) => {
    if (overConnectionLimit({ peers, maxConnections, log }, kind, `${socket.remoteAddress}:${socket.remotePort}`)) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    const remote = { address: socket.remoteAddress, port: socket.remotePort };
    const refused = tlsOptions && refusedCertificate(socket, tlsOptions);
    if (refused) {
      log('info', `${kind} ${remote.address}:${remote.port}: ${refused}`);
      socket.on('close', () => sockets.delete(socket));
      socket.destroy();
      return;
    }
    const cert = tlsOptions && socket.authorized ? socket.getPeerCertificate() : null;
    const certUser = typeof cert?.subject?.CN === 'string' ? cert.subject.CN : undefined;
    const name = `${remote.address}:${remote.port}`;
    const peer = attachPeer(
      broker,
      {
        write: gatherWrites(socket, (bytes) => socket.write(bytes)),
        end: () => {
          socket.end();
          setTimeout(() => socket.destroy(), LINGER_MS).unref();
        },
        pause: () => socket.pause(),
        resume: () => socket.resume(),
        backlog: () => socket.writableLength,
      },
      { remote, kind, maxQueuedBytes, log, peers, certUser, closes, lingering },
    );
    socket.on('data', peer.data);
    socket.on('drain', peer.drained);
    socket.on('error', (e) => log('debug', `${kind} ${name}: ${e.message}`));
    socket.on('close', () => {
      sockets.delete(socket);
      peer.closed();
    });
  };
  const server = tlsOptions
    ? tls.createServer({ ...tlsOptions, noDelay: true }, onSocket)
    : net.createServer({ noDelay: true }, onSocket);
  if (tlsOptions) {
    // A failed handshake (an unverified client certificate, plain AMQP on the amqps port).
    server.on('tlsClientError', (e, socket) =>
      log('warn', `amqps ${socket.remoteAddress}:${socket.remotePort}: TLS handshake failed: ${e.message}`),
    );
  }
  return server;
}
