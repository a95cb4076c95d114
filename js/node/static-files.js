// The page's static files (www/, js/, pkg/) as serve sends them: compressed by
// the request's Accept-Encoding and revalidated by ETag, so a browser fetches
// the engine's wasm as brotli (under a third of its size) and a reload
// transfers nothing that has not changed (bench/page-transfer.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

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
// Images are compressed already.
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.svg', '.map', '.ts', '.wasm']);

/** A file's version, as its ETags name it: its size and modification time. */
const versionOf = (stat) => `${stat.size.toString(36)}-${Math.trunc(stat.mtimeMs).toString(36)}`;

/** The encodings `header` (an Accept-Encoding) accepts, of brotli and gzip. */
export function acceptedEncodings(header = '') {
  const accepted = new Set();
  for (const part of String(header).split(',')) {
    const [coding, ...params] = part.toLowerCase().split(';');
    const name = coding.trim();
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    if (name === 'br' || name === 'gzip') accepted.add(name);
    else if (name === '*') accepted.add('br').add('gzip');
  }
  return accepted;
}

/**
 * Sends files from `dirs` ([URL prefix, folder] pairs, the first matching
 * prefix wins). Each file's compressed forms are made once per version of it
 * (size and mtime) and kept: the folders are the package's own, a few MB.
 * Brotli at its best level takes about a second for the wasm, so it is made in
 * the thread pool, and gzip, made in milliseconds, answers until it is ready.
 */
export class StaticFiles {
  #dirs;
  #warm;
  #cache = new Map(); // file -> { version, bytes, gzip, brotli: Promises of Buffers; br: brotli once made }

  /** `warm`: files whose brotli is started on the first request, before they are asked for. */
  constructor(dirs, { warm = [] } = {}) {
    this.#dirs = dirs;
    this.#warm = [...warm];
  }

  /** Answers a GET or HEAD for `pathname` (decoded); false if there is no such file. */
  send(req, res, pathname) {
    const [prefix, dir] = this.#dirs.find(([p]) => pathname.startsWith(p));
    let file = path.join(dir, pathname.slice(prefix.length));
    if (pathname.endsWith('/')) file = path.join(file, 'index.html');
    // path.join resolves '..': anything outside dir is an escape attempt.
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!(file === dir || file.startsWith(dir + path.sep)) || !stat?.isFile()) return false;
    this.#warmUp();
    const ext = path.extname(file);
    const headers = { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-cache' };
    const version = versionOf(stat);
    const compressible = COMPRESSIBLE.has(ext);
    const accepted = compressible ? acceptedEncodings(req.headers['accept-encoding']) : new Set();
    if (compressible) headers.vary = 'accept-encoding';

    // Any form of this version the client holds and still accepts will do:
    // a gzip copy fetched before brotli was made stays good.
    const current = new Set([`"${version}"`, ...[...accepted].map((e) => `"${version}-${e}"`)]);
    const held = String(req.headers['if-none-match'] ?? '')
      .split(',')
      .map((tag) => tag.trim().replace(/^W\//, ''))
      .find((tag) => current.has(tag));
    if (held !== undefined) {
      const { 'cache-control': cacheControl, vary } = headers;
      res.writeHead(304, { etag: held, 'cache-control': cacheControl, ...(vary ? { vary } : {}) }).end();
      return true;
    }
    const answer = (more, body) => {
      res.writeHead(200, { ...headers, ...more });
      if (req.method === 'HEAD') res.end();
      else body();
    };
    if (accepted.size === 0) {
      answer({ etag: `"${version}"`, 'content-length': stat.size }, () => fs.createReadStream(file).pipe(res));
      return true;
    }
    this.#compressed(file, version, accepted).then(
      ({ encoding, body }) => {
        const more = { etag: `"${version}-${encoding}"`, 'content-encoding': encoding, 'content-length': body.length };
        answer(more, () => res.end(body));
      },
      (e) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`could not read ${pathname}: ${e.message}\n`);
      },
    );
    return true;
  }

  /** On the first request (a page being loaded), starts brotli for the files it will want. */
  #warmUp() {
    if (this.#warm.length === 0) return;
    for (const file of this.#warm.splice(0)) {
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      if (!stat?.isFile()) continue;
      this.#brotli(this.#forms(file, versionOf(stat)));
    }
  }

  /** The cached forms of this version of `file`, made anew when the file changed. */
  #forms(file, version) {
    let forms = this.#cache.get(file);
    if (forms?.version !== version) {
      forms = { version, bytes: fs.promises.readFile(file), gzip: null, brotli: null, br: null };
      this.#cache.set(file, forms);
      // A file that could not be read is read again next time.
      forms.bytes.catch(() => this.#cache.get(file) === forms && this.#cache.delete(file));
    }
    return forms;
  }

  /** The smallest form of `file` ready among those accepted: brotli once made, else gzip. */
  async #compressed(file, version, accepted) {
    const forms = this.#forms(file, version);
    if (accepted.has('br')) {
      if (forms.br) return { encoding: 'br', body: forms.br };
      const made = this.#brotli(forms);
      if (!accepted.has('gzip')) return { encoding: 'br', body: await made };
    }
    forms.gzip ??= forms.bytes.then((b) => gzip(b, { level: 9 }));
    return { encoding: 'gzip', body: await forms.gzip };
  }

  /** Brotli of `forms`, started in the thread pool on the first call; `forms.br` holds it once made. */
  #brotli(forms) {
    if (forms.brotli) return forms.brotli;
    const made = forms.bytes.then((b) =>
      brotli(b, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
        },
      }),
    );
    made.then(
      (body) => {
        forms.br = body;
      },
      () => {}, // a failed read answers whoever awaits it
    );
    forms.brotli = made;
    return made;
  }
}
