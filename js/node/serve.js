// `warren-mq serve`: one broker, reachable over AMQP/TCP and AMQP/WebSocket,
// with the page and the management API on the HTTP port. Host code only: bytes
// move between sockets and the engine; every AMQP decision is the engine's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker } from '../entry-node.js';
import { hashPasswords, loadDefinitions, saveDefinitions } from './definitions.js';
import { eventStream } from './event-stream.js';
import { FileStore } from './file-store.js';
import { createHttpServer } from './http.js';
import { normalize } from './management.js';
import { memoryAlarm } from './memory-alarm.js';
import { Redrives } from './redrive.js';
import { listenTcp } from './tcp.js';
import { loadTls } from './tls-files.js';
import { amqpOverWebSocket, AMQP_PATH } from './websocket.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;

// How long connections get to answer the 320 close before sockets are dropped.
const SHUTDOWN_GRACE_MS = 3000;

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Resolves when every socket has closed, or after `ms`. */
function allClosed(sockets, ms) {
  let timer;
  const all = Promise.all([...sockets].map((s) => new Promise((r) => (s.destroyed ? r() : s.once('close', r)))));
  const late = new Promise((r) => (timer = setTimeout(r, ms)));
  return Promise.race([all, late]).finally(() => clearTimeout(timer));
}

const urlHost = (host) => (host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host);

/**
 * Starts the server with resolved options (see options.js). Resolves with
 * { broker, store, amqpPort, httpPort, url, amqpUrl, wsUrl, close(), done } once
 * both ports listen.
 */
export async function serve(opts, { log }) {
  // Checked before anything else: a bad file stops the start naming it.
  const tlsFiles =
    opts.tlsCert || opts.tlsKey ? loadTls({ cert: opts.tlsCert, key: opts.tlsKey, ca: opts.tlsCa }) : null;
  const tlsOptions = tlsFiles?.options;
  const store = opts.memory ? 'memory' : await FileStore.open(opts.dataDir, { log });
  let broker;
  try {
    // Users as the API left them, once there is a data directory with them.
    const saved = opts.memory ? null : loadDefinitions(opts.dataDir);
    if (saved) log('info', `users: ${saved.file} (kept from earlier runs; --users seeds a new data directory only)`);
    const users = saved?.users ?? hashPasswords(opts.users, (p) => Broker.hashPassword(p));
    broker = await Broker.create({
      users,
      loopbackUsers: opts.loopbackUsers,
      vhosts: [...new Set([...opts.vhosts, ...(saved?.vhosts ?? [])])],
      limits: {
        maxMessageSize: opts.maxMessageSize,
        frameMax: opts.frameMax,
        heartbeat: opts.heartbeat,
        channelMax: opts.channelMax,
        maxQueuedBytes: opts.maxQueuedBytes,
      },
      store,
      consumerTimeout: opts.consumerTimeout ?? undefined,
    });
  } catch (e) {
    if (store !== 'memory') await store.close();
    throw e;
  }

  if (store !== 'memory') {
    const { queues } = normalize(broker.snapshot({ messages: false }));
    const messages = queues.reduce((n, q) => n + q.ready + q.unacked, 0);
    log(
      'info',
      `store: ${store.dir}: ${queues.filter((q) => q.durable).length} durable queues, ${messages} messages recovered`,
    );
  }
  if (broker.recoveryDamage) log('warn', `store: recovery stopped at a damaged record: ${broker.recoveryDamage}`);
  // A failed write or fsync: confirms stop; better to stop than to run on
  // without durability. The exit code says so.
  broker.onerror = (err) => {
    log('error', `store failed: ${err.message}; shutting down`);
    process.exitCode = 1;
    close();
  };

  const sockets = new Set();
  const peers = new Set();
  // The server's closes by "scope code", for /metrics.
  const closes = new Map();
  const limits = {
    maxQueuedBytes: opts.maxQueuedBytes,
    maxMessageSize: opts.maxMessageSize,
    log,
    sockets,
    peers,
    closes,
  };
  const info = { version, node: `warren@${os.hostname()}`, vhosts: opts.vhosts, listeners: [], peers, closes };
  const events = eventStream(broker);
  const httpServer = createHttpServer({
    broker,
    root,
    info,
    events,
    log,
    tlsOptions,
    metricsPublic: opts.metricsPublic,
  });
  httpServer.on('upgrade', amqpOverWebSocket(broker, { origins: opts.wsOrigins, ...limits }));
  let amqpServer;
  let amqpsServer = null;
  try {
    amqpServer = await listenTcp(broker, { host: opts.host, port: opts.port, ...limits });
    if (tlsOptions)
      amqpsServer = await listenTcp(broker, { host: opts.host, port: opts.tlsPort, tlsOptions, ...limits });
    await listen(httpServer, opts.httpPort, opts.host);
  } catch (e) {
    amqpServer?.close();
    amqpsServer?.close();
    await broker.close(); // closes the store too
    throw e;
  }
  const amqpPort = amqpServer.address().port;
  const httpPort = httpServer.address().port;
  const amqpsPort = amqpsServer?.address().port ?? null;
  info.listeners.push(
    { protocol: 'amqp', ip_address: opts.host, port: amqpPort },
    { protocol: tlsOptions ? 'https' : 'http', ip_address: opts.host, port: httpPort },
  );
  if (amqpsServer) {
    info.listeners.push({ protocol: 'amqp/ssl', ip_address: opts.host, port: amqpsPort });
    log(
      'info',
      `tls: ${tlsFiles.subject}, expires ${tlsFiles.expires}${opts.tlsCa ? '; client certificates required' : ''}`,
    );
  }

  const stopAlarm = memoryAlarm(broker, opts.memoryHighWatermark, log);
  info.alarm = stopAlarm;
  info.redrives = new Redrives(broker, log);
  // After the API changed users, permissions or vhosts.
  info.definitionsChanged = () => {
    if (opts.memory) return;
    try {
      saveDefinitions(opts.dataDir, broker);
    } catch (e) {
      log('error', `users: cannot save ${opts.dataDir}/definitions.json: ${e.message}`);
    }
  };
  info.store = store === 'memory' ? null : store;
  const scheme = tlsOptions ? 'https' : 'http';
  const url = `${scheme}://${urlHost(opts.host)}:${httpPort}/`;

  let closing = null;
  let closed;
  const done = new Promise((r) => (closed = r));
  async function close() {
    closing ??= (async () => {
      stopAlarm();
      info.redrives.stopAll();
      amqpServer.close();
      amqpsServer?.close();
      httpServer.close();
      events.close();
      // 320 CONNECTION_FORCED to every client, then the store is flushed.
      await broker.close();
      await allClosed(sockets, SHUTDOWN_GRACE_MS);
      for (const s of sockets) s.destroy();
      httpServer.closeAllConnections();
      if (store !== 'memory') await store.close();
    })().finally(closed);
    return closing;
  }

  return {
    broker,
    store,
    amqpPort,
    httpPort,
    url,
    amqpsPort,
    amqpUrl: `amqp://${urlHost(opts.host)}:${amqpPort}`,
    amqpsUrl: amqpsServer ? `amqps://${urlHost(opts.host)}:${amqpsPort}` : null,
    wsUrl: `${tlsOptions ? 'wss' : 'ws'}://${urlHost(opts.host)}:${httpPort}${AMQP_PATH}`,
    close,
    /** resolves once the server has closed, whatever closed it */
    done,
  };
}
