// The page's files as `warren-mq serve` sends them: compressed by the request's
// Accept-Encoding (brotli once made, gzip until then), revalidated by ETag, and
// byte for byte the files in the package once decoded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';
import { acceptedEncodings } from '../../js/node/static-files.js';
import { root, sleep, startServer } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

/** A request with exactly `headers` (fetch would add its own Accept-Encoding and decode). */
function request(pathname, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.http}${pathname}`, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject).end();
  });
}

const decode = { br: zlib.brotliDecompressSync, gzip: zlib.gunzipSync, undefined: (b) => b };
const wasm = fs.readFileSync(path.join(root, 'pkg', 'warren_bg.wasm'));

test('the engine comes gzipped at once, as brotli once that is made, and unencoded to a client that accepts neither', async () => {
  const plain = await request('/pkg/warren_bg.wasm');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.ok(plain.body.equals(wasm));
  assert.equal(plain.headers['content-type'], 'application/wasm');
  assert.equal(plain.headers.vary, 'accept-encoding');

  const gz = await request('/pkg/warren_bg.wasm', { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(Number(gz.headers['content-length']), gz.body.length);
  assert.ok(zlib.gunzipSync(gz.body).equals(wasm));
  assert.ok(gz.body.length < wasm.length / 2, `gzip: ${gz.body.length} of ${wasm.length} bytes`);

  // A browser accepts both: gzip answers while brotli is made, then brotli.
  let res;
  for (let i = 0; i < 200; i++) {
    res = await request('/pkg/warren_bg.wasm', { 'accept-encoding': 'gzip, deflate, br, zstd' });
    assert.ok(decode[res.headers['content-encoding']](res.body).equals(wasm));
    if (res.headers['content-encoding'] === 'br') break;
    await sleep(50);
  }
  assert.equal(res.headers['content-encoding'], 'br');
  assert.ok(res.body.length < gz.body.length, `brotli ${res.body.length} bytes, gzip ${gz.body.length}`);

  const refused = await request('/pkg/warren_bg.wasm', { 'accept-encoding': 'br;q=0, gzip;q=0.5' });
  assert.equal(refused.headers['content-encoding'], 'gzip');
});

test("the page's first request starts brotli for the engine, so the engine comes as brotli once it is asked for", async () => {
  const own = await startServer();
  try {
    const get = (pathname, headers) =>
      new Promise((resolve, reject) => {
        http.get(`${own.http}${pathname}`, { headers }, (res) => resolve(res.resume())).on('error', reject);
      });
    await get('/', { 'accept-encoding': 'gzip, br' });
    // Brotli of the wasm takes about a second; asked for first, it would go gzipped.
    await sleep(5000);
    const res = await get('/pkg/warren_bg.wasm', { 'accept-encoding': 'gzip, br' });
    assert.equal(res.headers['content-encoding'], 'br');
  } finally {
    assert.equal(await own.stop(), 0);
  }
});

test('a client holding the ETag gets 304 and no body; HEAD gets the headers of the form it would get', async () => {
  const page = await request('/', { 'accept-encoding': 'gzip' });
  assert.equal(page.status, 200);
  assert.match(zlib.gunzipSync(page.body).toString('utf8'), /<html/i);
  const { etag } = page.headers;
  assert.match(etag, /^"[^"]+-gzip"$/);

  const again = await request('/', { 'accept-encoding': 'gzip', 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  assert.equal(again.headers.etag, etag);
  // A gzip copy stays good once brotli is made, for a client that accepts both.
  let br;
  for (let i = 0; i < 200 && br?.headers['content-encoding'] !== 'br'; i++) {
    if (i > 0) await sleep(50);
    br = await request('/', { 'accept-encoding': 'gzip, br' });
  }
  assert.equal(br.headers['content-encoding'], 'br');
  const held = await request('/', { 'accept-encoding': 'gzip, br', 'if-none-match': `W/"x", ${etag}` });
  assert.equal(held.status, 304);
  assert.equal(held.headers.etag, etag);
  // but not for one that no longer accepts gzip, nor for an unencoded copy.
  assert.equal((await request('/', { 'accept-encoding': 'br', 'if-none-match': etag })).status, 200);
  assert.equal((await request('/', { 'if-none-match': etag })).status, 200);

  const head = await request('/', { 'accept-encoding': 'gzip' }, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers['content-encoding'], 'gzip');
  assert.equal(Number(head.headers['content-length']), page.body.length);
});

test('a file of a type not known to compress goes as it is; a missing file or an escape is still 404', async () => {
  const license = await request('/live-code/vendor/LICENSE', { 'accept-encoding': 'gzip, br' });
  assert.equal(license.status, 200);
  assert.equal(license.headers['content-encoding'], undefined);
  assert.ok(license.body.equals(fs.readFileSync(path.join(root, 'www', 'live-code', 'vendor', 'LICENSE'))));
  assert.equal((await request('/pkg/../package.json', { 'accept-encoding': 'gzip' })).status, 404);
  assert.equal((await request('/no-such-file.js', { 'accept-encoding': 'br' })).status, 404);
});

test('Accept-Encoding: q=0 refuses, * accepts both, other codings are ignored', () => {
  assert.deepEqual([...acceptedEncodings('gzip, deflate, br, zstd')].sort(), ['br', 'gzip']);
  assert.deepEqual([...acceptedEncodings('br;q=0, gzip;q=0.8')], ['gzip']);
  assert.deepEqual([...acceptedEncodings('*')].sort(), ['br', 'gzip']);
  assert.deepEqual([...acceptedEncodings('identity, deflate')], []);
  assert.deepEqual([...acceptedEncodings(undefined)], []);
  assert.deepEqual([...acceptedEncodings('GZIP ; Q=1')], ['gzip']);
});
