// The HTTP side: the tutorial page (www/), the engine build it loads (pkg/, js/),
// the management API (/api/...) and its event stream (/api/events), and
// /metrics. The API and /metrics need a user with a management tag (HTTP
// basic auth or the page's login cookie); writes from another origin are refused.
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { authenticate, crossOrigin } from './auth.js';
import { toJson } from './event-stream.js';
import { healthCheck } from './health-checks.js';
import { exportApi, managementApi, writeApi } from './management.js';
import { managementWrite, userReads } from './management-write.js';
import { metricsText } from './metrics.js';
import { StaticFiles } from './static-files.js';

// The largest request body read (a publish through the API carries one
// message; POST /api/definitions a whole topology).
const MAX_BODY = 64 * 1024 * 1024;

/** URL prefixes served from directories of the package; '/' is the page. */
function staticDirs(root) {
  return [
    ['/pkg/', path.join(root, 'pkg')],
    ['/js/', path.join(root, 'js')],
    ['/', path.join(root, 'www')],
  ];
}

function json(res, status, body, headers = {}) {
  if (status === 204 || body === null) {
    res.writeHead(status, { 'cache-control': 'no-store', ...headers });
    return res.end();
  }
  const text = toJson(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The request's body as text; rejects past MAX_BODY. */
function readText(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The request's JSON body ({} when empty); rejects with a reason for a bad one. */
async function readBody(req) {
  const text = (await readText(req)).trim();
  if (!text) return {};
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new Error(`body is not JSON: ${e.message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('body must be an object');
  return body;
}

const UNAUTHORIZED = { 'www-authenticate': 'Basic realm="RabbitMQ Management"' };

/**
 * What a user with only the management (or policymaker) tag may see, as in
 * RabbitMQ: objects of the vhosts it has permissions in, and its own
 * connections. Monitoring and administrator users see everything.
 */
function visible(broker, user, [resource, vhost, sub], answer) {
  const [status, body] = answer;
  if (user.monitor || status !== 200) return answer;
  const notFound = [404, { error: 'Object Not Found', reason: 'Not Found' }];
  const vhosts = new Set(
    broker
      .users()
      .find((u) => u.name === user.username)
      ?.permissions.map((p) => p.vhost) ?? [],
  );
  // A vhost's or a connection's channels and connections are those lists, within it.
  const nested = (resource === 'vhosts' || resource === 'connections') && sub !== undefined;
  if (nested && resource === 'vhosts' && !vhosts.has(vhost)) return notFound;
  const what = nested ? sub : resource;
  if (what === 'aliveness-test') return vhosts.has(vhost) ? answer : notFound;
  if (what === 'nodes') return [401, { error: 'not_authorised', reason: 'Not monitor user' }];
  // Connections and their channels: the user's own; vhosts: those it has permissions in.
  const mine = {
    connections: (c) => c.user === user.username,
    channels: (c) => c.user === user.username,
    vhosts: (v) => vhosts.has(v.name),
  }[what];
  if (mine) return Array.isArray(body) ? [200, body.filter(mine)] : mine(body) ? answer : notFound;
  // Queues, exchanges, bindings carry a vhost; consumers their queue's.
  const vhostOf = (x) => (x && typeof x === 'object' ? (x.vhost ?? x.queue?.vhost) : undefined);
  if (Array.isArray(body)) return [200, body.filter((x) => vhostOf(x) === undefined || vhosts.has(vhostOf(x)))];
  if (body && typeof body === 'object' && typeof body.vhost === 'string' && !vhosts.has(body.vhost)) return notFound;
  return answer;
}

/**
 * An http.Server (https.Server with `tlsOptions`) for `root` (the package
 * directory). `info`: what /api/overview and /metrics report besides the
 * snapshot; `events`: the /api/events stream; `metricsPublic`: /metrics
 * without authentication.
 */
export function createHttpServer({ broker, root, info, events, log, tlsOptions, metricsPublic = false }) {
  // The page's first request starts brotli for the engine, the largest file it loads.
  const files = new StaticFiles(staticDirs(root), { warm: [path.join(root, 'pkg', 'warren_bg.wasm')] });
  async function api(req, res, pathname) {
    let parts;
    try {
      // Split before decoding: the vhost "/" is sent as %2F.
      parts = pathname.slice(5).split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return json(res, 400, { error: 'bad_request', reason: 'bad percent-encoding' });
    }
    const user = authenticate(broker, req);
    // No challenge for the page's console: a browser would pop up its own dialog.
    const challenge = req.headers['x-warren-console'] ? {} : UNAUTHORIZED;
    if (user.status) return json(res, user.status, user.body, challenge);
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (!read && crossOrigin(req))
      return json(res, 403, { error: 'forbidden', reason: 'cross-origin requests may not change the broker' });
    if (pathname === '/api/events') return events.handle(req, res);
    // Definitions hold password hashes, and policies change every queue they
    // match: administrators only (and policymakers for policies), as in RabbitMQ.
    if (parts[0] === 'definitions' || (parts[0] === 'policies' && !read)) {
      const allowed = user.admin || (parts[0] === 'policies' && user.tags?.includes('policymaker'));
      if (!allowed) return json(res, 403, { error: 'not_authorised', reason: 'Not administrator user' });
      if (read) return json(res, ...(await exportApi(broker, info, pathname)));
      const write = writeApi(pathname, req.method);
      if (!write) return json(res, 405, { error: 'method_not_allowed', reason: `${req.method} ${pathname}` });
      let text;
      try {
        text = await readText(req);
      } catch (e) {
        return json(res, 413, { error: 'bad_request', reason: e.message });
      }
      // The raw text: a syntax error is reported with its line and column.
      const answer = await write(broker, info, text);
      log('info', `http ${user.username}: ${req.method} ${pathname}: ${answer[0]}`);
      return json(res, ...answer);
    }
    if (read) {
      const answer =
        parts[0] === 'redrives' && parts.length === 1
          ? [200, info.redrives.list()]
          : (userReads(broker, user, parts) ?? healthCheck(broker, info, parts) ?? managementApi(broker, info, parts));
      if (answer) return json(res, ...visible(broker, user, parts, answer));
      return json(res, 404, { error: 'Object Not Found', reason: 'Not Found' });
    }
    if (!['PUT', 'POST', 'DELETE'].includes(req.method)) {
      res.setHeader('allow', 'GET, HEAD, PUT, POST, DELETE');
      return json(res, 405, { error: 'method_not_allowed', reason: `${req.method} is not supported` });
    }
    let body;
    try {
      body = await readBody(req);
    } catch (e) {
      return json(res, 400, { error: 'bad_request', reason: e.message });
    }
    const answer = await managementWrite(broker, info, user, req.method, parts, body);
    if (answer) {
      const [status] = answer;
      if (status < 300) log('info', `http ${user.username}: ${req.method} ${pathname}: ${status}`);
      if (status < 300 && ['users', 'permissions', 'vhosts'].includes(parts[0])) info.definitionsChanged?.();
      return json(res, ...answer);
    }
    return json(res, 405, { error: 'method_not_allowed', reason: `${req.method} ${pathname} is not supported` });
  }

  function metrics(req, res) {
    if (!metricsPublic) {
      const user = authenticate(broker, req);
      if (user.status) return json(res, user.status, user.body, UNAUTHORIZED);
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
    res.end(metricsText(broker, info));
  }

  const handler = (req, res) => {
    let url;
    try {
      url = new URL(req.url, 'http://x');
    } catch {
      return json(res, 400, { error: 'bad_request', reason: 'bad URL' });
    }
    const { pathname } = url;
    if (pathname === '/api' || pathname.startsWith('/api/')) {
      return api(req, res, pathname).catch((e) => {
        log('error', `http ${req.method} ${pathname}: ${e.stack ?? e}`);
        if (!res.headersSent) json(res, 500, { error: 'internal_error', reason: e.message });
        else res.destroy();
      });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'method_not_allowed', reason: 'static files are read-only' });
    }
    if (pathname === '/metrics') return metrics(req, res);
    let decoded;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      decoded = null;
    }
    if (decoded === null || !files.send(req, res, decoded)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
  if (!tlsOptions) return http.createServer(handler);
  // Browsers present no client certificates: the CA check is for amqps only.
  return https.createServer({ cert: tlsOptions.cert, key: tlsOptions.key }, handler);
}
