// npm start: builds if needed, then serves www/ at / and pkg/ at /pkg/ on 127.0.0.1.
// A stand-in until the Node host (js/node) serves the page and AMQP itself.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const port = Number(process.env.PORT ?? 15670);
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm', // needed for WebAssembly.instantiateStreaming
};

build();
const www = path.join(root, 'www');
if (!fs.existsSync(www)) console.log('start: www/ does not exist yet: only /pkg/ is served');

http
  .createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [base, rel] = url.startsWith('/pkg/') ? ['pkg', url.slice(5)] : ['www', url.slice(1)];
    const dir = path.join(root, base);
    let file = path.join(dir, rel);
    if (file.endsWith(path.sep) || file === dir) file = path.join(file, 'index.html');
    // path.join resolves '..', so anything outside dir is an escape attempt.
    if (!file.startsWith(dir + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  })
  .listen(port, '127.0.0.1', () => console.log(`start: serving on http://127.0.0.1:${port}/`));
