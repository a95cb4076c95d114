// AMQP over WebSocket at /ws/amqp. Binary messages are chunks of one byte
// stream in both directions: a frame may span messages and a message may hold
// many frames. Out, each chunk the broker emits (whole frames) is one message.
import { WebSocketServer } from 'ws';
import { attachPeer, gatherWrites, overConnectionLimit } from './peer.js';

export const AMQP_PATH = '/ws/amqp';

/**
 * `origins`: allowed Origin headers; "self" is a page served by this server
 * (Origin's host equals the Host header), "*" any. Requests without an Origin
 * (not from a browser) are always allowed: an origin check guards browsers.
 */
export function originAllowed(origins, req) {
  const origin = req.headers.origin;
  if (!origin || origins.includes('*') || origins.includes(origin)) return true;
  if (!origins.includes('self')) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Handles the HTTP server's upgrade requests for the AMQP endpoint. */
export function amqpOverWebSocket(
  broker,
  { origins, maxMessageSize, maxQueuedBytes, maxConnections, log, sockets, peers, closes, lingering },
) {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // A client may send a whole publish (body included) as one message.
    maxPayload: maxMessageSize + 1024 * 1024,
    // amqp-client.js offers no subprotocol and browsers reject an unrequested
    // one, so `amqp*` is echoed only when offered.
    handleProtocols: (protocols) => [...protocols].find((p) => /^amqp/i.test(p)) ?? false,
  });

  function reject(socket, status, text) {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  return function upgrade(req, socket, head) {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (new URL(req.url, 'http://x').pathname !== AMQP_PATH) return reject(socket, 404, 'Not Found');
    if (!originAllowed(origins, req)) {
      log('warn', `ws ${remote}: origin ${req.headers.origin} not allowed (see --ws-origins)`);
      return reject(socket, 403, 'Forbidden');
    }
    if (overConnectionLimit({ peers, maxConnections, log }, 'ws', remote))
      return reject(socket, 503, 'Service Unavailable');
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(socket);
      const peer = attachPeer(
        broker,
        {
          // Each chunk stays one message; the messages of a turn leave together.
          write: gatherWrites(socket, (bytes) => ws.send(bytes, { binary: true })),
          end: () => ws.close(1000),
          pause: () => ws.pause(),
          resume: () => ws.resume(),
          backlog: () => ws.bufferedAmount,
        },
        {
          remote: { address: req.socket.remoteAddress, port: req.socket.remotePort },
          kind: req.socket.encrypted ? 'wss' : 'ws',
          maxQueuedBytes,
          log,
          peers,
          closes,
          lingering,
        },
      );
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          log('warn', `ws ${remote}: text message; AMQP over WebSocket is binary`);
          ws.close(1003, 'binary messages only');
          return;
        }
        peer.data(data);
      });
      socket.on('drain', peer.drained);
      ws.on('error', (e) => log('debug', `ws ${remote}: ${e.message}`));
      ws.on('close', () => {
        sockets.delete(socket);
        peer.closed();
      });
    });
  };
}
