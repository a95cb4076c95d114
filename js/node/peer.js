// Binds one byte stream (a TCP socket, a WebSocket) to the broker as an AMQP
// connection: bytes in go to `receive`, bytes out to the stream, and reading
// pauses while the peer is slow, so nothing is buffered without bound.

// The time a client gets to close its end: after it was sent close-ok, before
// the server ends the stream; after the server ended it, before the socket is
// dropped.
export const LINGER_MS = 5000;

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x: this machine. */
export function isLoopback(address = '') {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * `send` for a stream whose bytes leave through `socket`, with the socket
 * corked until the event loop has run this turn's reads: a turn often reads
 * several peers, each read making output for the same consumers, and each
 * socket then takes all of it in one writev rather than a write per read.
 */
export function gatherWrites(socket, send) {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return (bytes) => {
    if (!corked) {
      corked = true;
      setImmediate(uncork);
      socket.cork();
    }
    send(bytes);
  };
}

/** Input time a peer may take before its reading yields to others for a turn. */
const SLICE_MS = 10;
const PIECE_BYTES = 64 * 1024;

/**
 * Whether a new connection would go past `maxConnections` (0: no limit), the
 * serve-wide count of AMQP connections over TCP, TLS and WebSocket, as
 * RabbitMQ's `connection_max`. RabbitMQ (through Ranch) then stops accepting,
 * and clients wait in the listen backlog until their handshake times out;
 * here the socket is closed at once, so a client fails fast, and the refusal
 * is logged (at most once a second) with the limit to raise.
 */
export function overConnectionLimit({ peers, maxConnections, log }, kind, remote) {
  if (!maxConnections || peers.size < maxConnections) return false;
  const now = Date.now();
  if (!(now - (refusedLogAt.get(peers) ?? 0) < 1000)) {
    refusedLogAt.set(peers, now);
    log(
      'warn',
      `${kind} ${remote}: refused: ${peers.size} connections, the limit (--max-connections ${maxConnections})`,
    );
  }
  return true;
}
const refusedLogAt = new WeakMap();

/**
 * `remote`: { address, port } of the peer; `peers`: the Set of live peers'
 * stats, which this adds to and removes from; `certUser`: the CN of a
 * verified client certificate (the EXTERNAL login); `closes`: a Map counting
 * the server's closes by "scope code" (for /metrics); `lingering`: a Set of
 * functions that end, at once, the streams left for their clients to close
 * after close-ok (a shutdown calls them rather than wait for those clients).
 * `io`: { write(bytes), end(), pause(), resume(), backlog(): bytes written and
 * not yet sent }. Returns { data(bytes), drained(), closed() } for the stream's
 * events to call.
 */
export function attachPeer(
  broker,
  io,
  { remote, kind, maxQueuedBytes, log, peers, certUser, closes, lingering = new Set() },
) {
  const name = `${remote.address}:${remote.port}`;
  // What /api/connections shows for this peer.
  const stats = {
    name,
    protocol: kind,
    host: remote.address,
    port: remote.port,
    connectedAt: Date.now(),
    bytesIn: 0,
    bytesOut: 0,
    paused: false,
    // The AMQP connection is over; the socket waits for its last close. From
    // then on reading goes on: a WebSocket's closing handshake needs the
    // peer's close frame (paused, it would hang until ws's 30 s timeout, and
    // the connection would count against --max-connections).
    closed: false,
  };
  peers.add(stats);
  let done = false;
  let lastError = null;

  // Every close the engine makes, with its reply code and text.
  const onClose = (c) => {
    lastError = c;
    const key = `${c.scope} ${c.code}`;
    closes?.set(key, (closes.get(key) ?? 0) + 1);
    const where = c.scope === 'channel' ? `channel ${c.channel} closed` : 'connection closed';
    const method = c.classId ? ` (method ${c.classId}.${c.methodId})` : '';
    log(c.code === 320 ? 'info' : 'warn', `${kind} ${name}: ${where}: ${c.code} ${c.text}${method}`);
  };

  const transport = {
    send(bytes) {
      stats.bytesOut += bytes.byteLength;
      io.write(bytes);
      if (!stats.paused && io.backlog() > maxQueuedBytes) flow();
    },
    close({ clientCloses = false } = {}) {
      stats.closed = true;
      if (stats.paused) {
        stats.paused = false;
        io.resume();
      }
      // The recipient of close-ok closes the socket (AMQP 0-9-1), as with
      // RabbitMQ: a client sent close-ok ends the stream itself, and reads an
      // end arriving with close-ok as a failed close (lapin). Ours comes only
      // if its end has not come within LINGER_MS.
      if (clientCloses) {
        const end = () => {
          lingering.delete(end);
          if (!done) io.end();
        };
        lingering.add(end);
        setTimeout(end, LINGER_MS).unref();
      } else io.end();
    },
    // How much this transport still holds: the broker may hold back deliveries.
    get bufferedAmount() {
      return io.backlog();
    },
  };
  // Assigned before any byte arrives; `flow` may run during accept itself.
  let conn = null;
  /** bytes received and not yet given to the broker, while reading yields */
  const unread = [];
  let yielding = false;

  /** Gives the broker what arrived, in pieces, yielding a turn once SLICE_MS is spent. */
  function feed() {
    const t0 = performance.now();
    while (unread.length > 0) {
      const b = unread[0];
      if (b.byteLength > PIECE_BYTES) unread[0] = b.subarray(PIECE_BYTES);
      else unread.shift();
      conn.receive(b.byteLength > PIECE_BYTES ? b.subarray(0, PIECE_BYTES) : b);
      if (done) return;
      if (performance.now() - t0 > SLICE_MS) return yieldTurn();
    }
    flow();
  }
  /** Pauses reading for a turn of the event loop, then feeds what is left. */
  function yieldTurn() {
    yielding = true;
    flow();
    setImmediate(() => {
      yielding = false;
      if (!done) feed();
    });
  }
  /** Closes from the server side (320 CONNECTION_FORCED with `reason`). */
  stats.close = (reason) => conn?.forceClose(reason);
  conn = broker.accept(transport, { name, loopback: isLoopback(remote.address), certUser, onClose });
  log('info', `${kind} ${name}: connected`);

  // Reading pauses while the broker has too much unsent for this peer (its
  // `wantsRead`) or the stream holds more than the limit; a drain resumes it.
  // It also pauses for a turn of the event loop once this peer's input has
  // taken SLICE_MS: libuv reads a busy socket many times per turn, so a peer
  // pipelining work (a flood of declares) would otherwise hold the loop for
  // seconds while others wait. Input is given to the broker in pieces of
  // PIECE_BYTES so that a slice ends soon after its time is up.
  function flow() {
    if (!conn || stats.closed) return;
    const want = !yielding && conn.wantsRead && io.backlog() <= maxQueuedBytes;
    if (want === !stats.paused) return;
    stats.paused = !want;
    if (stats.paused) io.pause();
    else io.resume();
    log('debug', `${kind} ${name}: reading ${stats.paused ? 'paused' : 'resumed'}`);
  }

  return {
    data(bytes) {
      stats.bytesIn += bytes.byteLength;
      unread.push(bytes);
      if (!yielding) feed();
    },
    drained() {
      conn.drained?.();
      flow();
    },
    closed() {
      if (done) return;
      // What arrived before the close is the peer's last word: it counts.
      for (const b of unread.splice(0)) conn.receive(b);
      done = true;
      peers.delete(stats);
      conn.closed();
      const secs = ((Date.now() - stats.connectedAt) / 1000).toFixed(1);
      const why = lastError ? `, last error ${lastError.code}` : '';
      log(
        'info',
        `${kind} ${name}: disconnected after ${secs}s, ${stats.bytesIn} bytes in, ${stats.bytesOut} out${why}`,
      );
    },
  };
}
