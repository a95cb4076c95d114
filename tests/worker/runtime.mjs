// Runs the Worker (js/worker/index.js) and its Durable Object in real workerd,
// through Miniflare, on 127.0.0.1 and a port the OS picks, with storage in
// `persistDir`, so a second start with the same directory is a restart.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AMQPWebSocketClient } from '@cloudamqp/amqp-client';
import { Log, LogLevel, Miniflare } from 'miniflare';
import WebSocket from 'ws';
import { buildAssets } from '../../examples/cloudflare/build-assets.mjs';
import { tmpDir as makeTmpDir } from '../tmp-dirs.mjs';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const tmpDir = (prefix = 'warren-worker-') => makeTmpDir(prefix);

// Nothing reaches out: no cf.json download (also `cf: false` below), no metrics.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
process.env.WRANGLER_SEND_METRICS = 'false';

// Node 20 has no global WebSocket; amqp-client.js uses whichever is global.
globalThis.WebSocket ??= WebSocket;

let assetsDir = null;

/**
 * The runtime's options; `vars` are the Worker's environment variables;
 * `inspectorPort` opens workerd's inspector there (benchmarks: bench/isolate-inspector.mjs).
 */
export function options({ persistDir, vars = {}, assets = true, inspectorPort }) {
  return {
    host: '127.0.0.1',
    port: 0,
    cf: false,
    log: new Log(process.env.WARREN_WORKER_LOG ? LogLevel.DEBUG : LogLevel.WARN),
    modules: true,
    modulesRoot: root,
    scriptPath: path.join(root, 'js/worker/index.js'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-09-01',
    // As in examples/cloudflare/wrangler.toml (see there).
    compatibilityFlags: ['no_web_socket_compression'],
    durableObjects: { WARREN: { className: 'WarrenBroker', useSQLite: true } },
    durableObjectsPersist: persistDir,
    // The entry answers /ws/amqp itself; every other path is a file of the
    // page, laid out as examples/cloudflare deploys it.
    // (Locally the asset router sits in front and negotiates permessage-deflate:
    // `assets: false` with directWs() measures the Worker alone.)
    assets: !assets
      ? undefined
      : {
          directory: (assetsDir ??= buildAssets(tmpDir('warren-assets-'))),
          binding: 'ASSETS',
          routerConfig: { has_user_worker: true },
        },
    bindings: { WARREN_DEBUG: '1', ...vars },
    // The Worker on a socket of its own, without Miniflare's entry worker in
    // front (which negotiates permessage-deflate whatever the flags say).
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    ...(inspectorPort ? { inspectorPort } : {}),
  };
}

const amqpPath = (vhost) => `/ws/amqp${vhost === '/' ? '' : `/${encodeURIComponent(vhost)}`}`;

/** workerd processes started by this process: Miniflare runs one per instance. */
function workerdChildren() {
  const pids = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && stat.includes('(workerd)')) pids.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * Starts workerd; resolves with { url, ws(vhost), directWs(vhost), debug(vhost),
 * client(vhost), stop(), kill() }. `ws()` goes through Miniflare's entry (as
 * `wrangler dev` does), `directWs()` straight to the Worker (as in production).
 * `kill()` ends workerd with SIGKILL: no shutdown, no flush.
 */
export async function start(opts) {
  const before = new Set(workerdChildren());
  const mf = new Miniflare(options(opts));
  const url = await mf.ready;
  const direct = await mf.unsafeGetDirectURL();
  const pids = workerdChildren().filter((p) => !before.has(p));
  if (pids.length === 0) throw new Error('no workerd process found under this one');
  const rt = {
    url,
    /** the workerd processes of this instance (for benchmarks: their RSS) */
    pids,
    ws: (vhost = '/') => `ws://${url.host}${amqpPath(vhost)}`,
    directWs: (vhost = '/') => `ws://${direct.host}${amqpPath(vhost)}`,
    async debug(vhost = '/') {
      const res = await fetch(`http://${url.host}/debug/${encodeURIComponent(vhost)}`);
      if (!res.ok) throw new Error(`debug ${vhost}: ${res.status} ${await res.text()}`);
      return res.json();
    },
    /** A connected amqp-client.js AMQPWebSocketClient. */
    async client(vhost = '/', extra = {}) {
      const c = new AMQPWebSocketClient({ url: rt.ws(vhost), vhost, username: 'guest', password: 'guest', ...extra });
      await c.connect();
      return c;
    },
    stop: () => mf.dispose(),
    async kill() {
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      await until(() => pids.every((p) => !fs.existsSync(`/proc/${p}`)), { what: 'workerd to exit' });
      await mf.dispose().catch(() => {});
    },
  };
  return rt;
}

/** Polls `fn` until it returns a truthy value, every `every` ms, for at most `ms`. */
export async function until(fn, { ms = 10000, every = 50, what = 'condition' } = {}) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** Resolves with the first `n` messages a consumer gets (acking none), or rejects after `ms`. */
export function take(ch, queue, n, { ms = 10000, noAck = false } = {}) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} messages from ${queue}`)), ms);
    ch.basicConsume(queue, { noAck }, (m) => {
      got.push(m);
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    }).catch(reject);
  });
}

/** The bodies, as text, of the first `n` messages a consumer gets (see `take`). */
export async function takeBodies(ch, queue, n, opts) {
  return (await take(ch, queue, n, opts)).map((m) => m.bodyToString());
}

/** The counts of a queue in a debug snapshot. */
export function counts(stats, name) {
  const q = stats.snapshot?.queues.find((x) => x.name === name);
  return q ? q.counts : null;
}
