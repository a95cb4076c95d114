// The HTTP side: the tutorial page (www/), the engine build it loads (pkg/, js/),
// the management API (/api/...) and its event stream (/api/events).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { toJson } from './event-stream.js';
import { exportApi, managementApi, writeApi } from './management.js';

// Bodies of PUT/POST (definitions) above this are refused.
const MAX_BODY = 64 * 1024 * 1024;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    req.on('data', (d) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(new Error(`request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** HTTP Basic credentials of one of the broker's users (the management API's writes need them). */
function authorized(req, broker) {
  const m = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const at = text.indexOf(':');
  return at > 0 && broker.checkLogin(text.slice(0, at), text.slice(at + 1));
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.ts': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm', // needed for WebAssembly.instantiateStreaming
};

/** URL prefixes served from directories of the package; '/' is the page. */
function staticDirs(root) {
  return [
    ['/pkg/', path.join(root, 'pkg')],
    ['/js/', path.join(root, 'js')],
    ['/', path.join(root, 'www')],
  ];
}

function sendFile(req, res, dirs, pathname) {
  const [prefix, dir] = dirs.find(([p]) => pathname.startsWith(p));
  let file = path.join(dir, pathname.slice(prefix.length));
  if (pathname.endsWith('/')) file = path.join(file, 'index.html');
  // path.join resolves '..': anything outside dir is an escape attempt.
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!(file === dir || file.startsWith(dir + path.sep)) || !stat?.isFile()) return false;
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-length': stat.size,
    'cache-control': 'no-cache',
  });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).pipe(res);
  return true;
}

function json(res, status, body) {
  if (body === null) {
    res.writeHead(status, { 'cache-control': 'no-store' }).end();
    return;
  }
  const text = toJson(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * An http.Server for `root` (the package directory). `info`: what
 * /api/overview reports besides the snapshot; `events`: the /api/events stream.
 */
export function createHttpServer({ broker, root, info, events, log }) {
  const dirs = staticDirs(root);
  return http.createServer((req, res) => {
    let url;
    try {
      url = new URL(req.url, 'http://x');
    } catch {
      return json(res, 400, { error: 'bad_request', reason: 'bad URL' });
    }
    const { pathname } = url;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const write = writeApi(pathname, req.method);
      if (!write) {
        res.setHeader('allow', 'GET, HEAD');
        return json(res, 405, { error: 'method_not_allowed', reason: 'only policies and definitions can be changed' });
      }
      if (!authorized(req, broker)) {
        res.setHeader('www-authenticate', 'Basic realm="Warren Management"');
        return json(res, 401, { error: 'not_authorised', reason: 'Login failed' });
      }
      readBody(req)
        .then(
          (body) => write(broker, info, body).then((answer) => json(res, ...answer)),
          (e) => json(res, 413, { error: 'bad_request', reason: e.message }),
        )
        .catch((e) => {
          log('error', `http ${req.method} ${pathname}: ${e.stack ?? e}`);
          json(res, 500, { error: 'internal_error', reason: e.message });
        });
      return;
    }
    if (pathname === '/api/definitions' || pathname.startsWith('/api/definitions/')) {
      // They hold password hashes: a user's credentials, as in RabbitMQ.
      if (!authorized(req, broker)) {
        res.setHeader('www-authenticate', 'Basic realm="Warren Management"');
        return json(res, 401, { error: 'not_authorised', reason: 'Login failed' });
      }
      return exportApi(broker, info, pathname).then(
        (answer) => json(res, ...answer),
        (e) => json(res, 500, { error: 'internal_error', reason: e.message }),
      );
    }
    if (pathname === '/api/events') return events.handle(req, res);
    if (pathname === '/api' || pathname.startsWith('/api/')) {
      let parts;
      try {
        // Split before decoding: the vhost "/" is sent as %2F.
        parts = pathname.slice(5).split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        return json(res, 400, { error: 'bad_request', reason: 'bad percent-encoding' });
      }
      try {
        const answer = managementApi(broker, info, parts);
        if (answer) return json(res, ...answer);
      } catch (e) {
        log('error', `http ${pathname}: ${e.stack ?? e}`);
        return json(res, 500, { error: 'internal_error', reason: e.message });
      }
      return json(res, 404, { error: 'Object Not Found', reason: 'Not Found' });
    }
    let decoded;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      decoded = null;
    }
    if (decoded === null || !sendFile(req, res, dirs, decoded)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}
