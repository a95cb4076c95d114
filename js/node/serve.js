// `warren-mq serve`: one broker, reachable over AMQP/TCP and AMQP/WebSocket,
// with the page and the management API on the HTTP port. Host code only: bytes
// move between sockets and the engine; every AMQP decision is the engine's.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Broker } from '../entry-node.js';
import { hashPasswords, loadDefinitions, saveDefinitions } from './definitions.js';
import { Rates } from './rates.js';
import { eventStream } from './event-stream.js';
import { FileStore } from './file-store.js';
import { createHttpServer } from './http.js';
import { normalize } from './management.js';
import { memoryAlarm } from './memory-alarm.js';
import { DEFAULT_HOSTS } from './options.js';
import { Redrives } from './redrive.js';
import { amqpTcpServer } from './tcp.js';
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

const EVERY_INTERFACE = ['::', '0.0.0.0'];
// Errors of an address the machine does not have (IPv6 switched off).
const UNAVAILABLE = ['EADDRNOTAVAIL', 'EAFNOSUPPORT'];

/**
 * Makes `server` (already listening on the first address) reachable on the
 * other addresses too, on the same port: each gets a plain net.Server that
 * hands its sockets to `server`. `::` or `0.0.0.0` mean every interface, IPv4
 * and IPv6 (Node's default when no host is given). Returns the extra servers
 * and the addresses listened on. With `optional`, an address the machine
 * lacks is skipped with a warning (the default ::1 on a host without IPv6).
 */
async function listenOn(server, port, hosts, { optional, log, noDelay }) {
  const every = hosts.some((h) => EVERY_INTERFACE.includes(h));
  const addresses = every ? [undefined] : hosts;
  await listen(server, port, addresses[0]);
  const bound = server.address().port;
  const extra = [];
  const listening = [addresses[0] ?? '::'];
  for (const host of addresses.slice(1)) {
    const relay = net.createServer({ noDelay }, (socket) => server.emit('connection', socket));
    try {
      await listen(relay, bound, host);
    } catch (e) {
      if (optional && UNAVAILABLE.includes(e.code)) {
        log('warn', `not listening on ${host}: ${e.message}`);
        continue;
      }
      for (const r of extra) r.close();
      throw e;
    }
    extra.push(relay);
    listening.push(host);
  }
  return { extra, listening };
}

/** Resolves when every socket has closed, or after `ms`. */
function allClosed(sockets, ms) {
  let timer;
  const all = Promise.all([...sockets].map((s) => new Promise((r) => (s.destroyed ? r() : s.once('close', r)))));
  const late = new Promise((r) => (timer = setTimeout(r, ms)));
  return Promise.race([all, late]).finally(() => clearTimeout(timer));
}

const urlHost = (host) => (EVERY_INTERFACE.includes(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host);

/**
 * Starts the server with resolved options (see options.js). Resolves with
 * { broker, store, amqpPort, httpPort, url, amqpUrl, wsUrl, close(), done } once
 * both ports listen.
 */
export async function serve(opts, { log }) {
  // Checked before anything else: a bad file stops the start naming it.
  const tlsFiles =
    opts.tlsCert || opts.tlsKey
      ? loadTls({ cert: opts.tlsCert, key: opts.tlsKey, ca: opts.tlsCa, verify: opts.tlsVerify })
      : null;
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
      pageBudget: opts.pageBudget,
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
  if (opts.definitions) {
    const { file, definitions } = opts.definitions;
    try {
      const r = await broker.importDefinitions(definitions);
      log(
        'info',
        `definitions ${file}: ${r.users} users, ${r.vhosts} vhosts, ${r.policies} policies, ${r.exchanges} exchanges, ${r.queues} queues, ${r.bindings} bindings`,
      );
    } catch (e) {
      await broker.close();
      throw new Error(`--definitions ${file}: ${e.message}`);
    }
  }
  if (broker.recoveryDamage) log('warn', `store: recovery stopped at a damaged record: ${broker.recoveryDamage}`);
  if (broker.recovery?.upgraded)
    log('info', `store: log format version ${broker.recovery.version} rewritten in the current format`);
  // RabbitMQ's disk alarm, for /api/health/checks/alarms.
  let diskAlarm = false;
  broker.onstorefull = (err) => {
    diskAlarm = Boolean(err);
    if (err) log('warn', `store: ${err.message}; publishers blocked, confirms wait until a write succeeds`);
    else log('info', 'store: writing again; publishers unblocked');
  };
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
  // Ends of streams whose clients were sent close-ok and have not closed yet.
  const lingering = new Set();
  const limits = {
    maxQueuedBytes: opts.maxQueuedBytes,
    maxMessageSize: opts.maxMessageSize,
    maxConnections: opts.maxConnections,
    log,
    sockets,
    peers,
    closes,
    lingering,
  };
  const info = {
    version,
    node: `warren@${os.hostname()}`,
    startedAt: Date.now(),
    dataDir: opts.memory ? null : opts.dataDir,
    maxConnections: opts.maxConnections,
    vhosts: opts.vhosts,
    listeners: [],
    peers,
    closes,
  };
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
  const hosts = Array.isArray(opts.host) ? opts.host : [opts.host];
  const how = { optional: hosts.join(',') === DEFAULT_HOSTS, log };
  const amqpServer = amqpTcpServer(broker, limits);
  const amqpsServer = tlsOptions ? amqpTcpServer(broker, { ...limits, tlsOptions }) : null;
  const relays = [];
  let amqpOn;
  let amqpsOn = null;
  let httpOn;
  try {
    amqpOn = await listenOn(amqpServer, opts.port, hosts, { ...how, noDelay: true });
    relays.push(...amqpOn.extra);
    if (amqpsServer) {
      amqpsOn = await listenOn(amqpsServer, opts.tlsPort, hosts, { ...how, noDelay: true });
      relays.push(...amqpsOn.extra);
    }
    httpOn = await listenOn(httpServer, opts.httpPort, hosts, how);
    relays.push(...httpOn.extra);
  } catch (e) {
    amqpServer.close();
    amqpsServer?.close();
    for (const r of relays) r.close();
    await broker.close(); // closes the store too
    throw e;
  }
  const amqpPort = amqpServer.address().port;
  const httpPort = httpServer.address().port;
  const amqpsPort = amqpsServer?.address().port ?? null;
  for (const ip_address of amqpOn.listening) info.listeners.push({ protocol: 'amqp', ip_address, port: amqpPort });
  for (const ip_address of httpOn.listening)
    info.listeners.push({ protocol: tlsOptions ? 'https' : 'http', ip_address, port: httpPort });
  if (amqpsServer) {
    for (const ip_address of amqpsOn.listening)
      info.listeners.push({ protocol: 'amqp/ssl', ip_address, port: amqpsPort });
    log(
      'info',
      `tls: ${tlsFiles.subject}, expires ${tlsFiles.expires}${opts.tlsCa ? (opts.tlsVerify === 'peer' ? '; client certificates verified if presented' : '; client certificates required') : ''}`,
    );
  }

  const stopAlarm = memoryAlarm(broker, opts.memoryHighWatermark, log);
  info.alarm = stopAlarm;
  info.alarms = () => [...(stopAlarm.blocked ? ['memory'] : []), ...(diskAlarm ? ['disk'] : [])];
  info.tls = tlsFiles && { certfile: opts.tlsCert, expires: tlsFiles.expires };
  info.redrives = new Redrives(broker, log);
  info.rates = new Rates(broker, opts.statsInterval);
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
  const shown = urlHost(hosts[0]);
  const scheme = tlsOptions ? 'https' : 'http';
  const url = `${scheme}://${shown}:${httpPort}/`;

  let closing = null;
  let closed;
  const done = new Promise((r) => (closed = r));
  async function close() {
    closing ??= (async () => {
      stopAlarm();
      info.redrives.stopAll();
      info.rates.stop();
      amqpServer.close();
      amqpsServer?.close();
      httpServer.close();
      for (const r of relays) r.close();
      events.close();
      // 320 CONNECTION_FORCED to every client, then the store is flushed.
      await broker.close();
      // Connections closed already: nothing more is owed to their clients.
      for (const end of lingering) end();
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
    amqpUrl: `amqp://${shown}:${amqpPort}`,
    amqpsUrl: amqpsServer ? `amqps://${shown}:${amqpsPort}` : null,
    wsUrl: `${tlsOptions ? 'wss' : 'ws'}://${shown}:${httpPort}${AMQP_PATH}`,
    close,
    /** resolves once the server has closed, whatever closed it */
    done,
  };
}
