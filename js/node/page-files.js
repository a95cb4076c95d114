// Pages of paged queues in segment files beside the log:
//
//   page-00000001.seg  pages appended one after another; a new file starts
//                      past `segmentSize`; a file goes once all its pages are deleted
//
// Each page is a header (magic "WPG1", id u64, length u32, crc32 u32) and its
// bytes. The index (page id -> file, offset, length) lives in memory, a few
// dozen bytes per page, and is rebuilt at open by reading the headers only.
// A page is read back with one positioned read. Deletes are not written:
// after a restart the broker names the pages it refers to (`retain`), and
// the rest go, with the files left empty. A torn page at the end of a file
// (a crash mid-write) is cut; its broker never named it in its log, which
// names only synced pages.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

const FILE = /^page-(\d{8})\.seg$/;
const MAGIC = 0x57504731; // "WPG1"
const HEADER = 20;
const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT']);
const fileName = (n) => `page-${String(n).padStart(8, '0')}.seg`;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** zlib's (Node 20.15 and later), else this one. */
const crc32 = zlib.crc32 ?? jsCrc32;

function jsCrc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export class PageFiles {
  #dir;
  #segmentSize;
  #openFile;
  /** file number -> { n, file, fh, size, live } */
  #files = new Map();
  /** page id -> { seg, offset, length, crc } */
  #index = new Map();
  #active = null;
  /** writes run one at a time, so a failed one can be cut off the end of its file */
  #queue = Promise.resolve();

  static async open(dir, { segmentSize = 256 * 1024 * 1024, openFile = fsp.open } = {}) {
    const pages = new PageFiles(dir, segmentSize, openFile);
    await pages.#scan();
    return pages;
  }

  constructor(dir, segmentSize, openFile) {
    this.#dir = dir;
    this.#segmentSize = segmentSize;
    this.#openFile = openFile;
  }

  /** Pages held, and their files, for tests and diagnostics. */
  get count() {
    return this.#index.size;
  }

  get files() {
    return [...this.#files.values()].sort((a, b) => a.n - b.n).map((f) => path.basename(f.file));
  }

  async #scan() {
    const names = fs.readdirSync(this.#dir).filter((f) => FILE.test(f));
    names.sort();
    const head = Buffer.alloc(HEADER);
    for (const name of names) {
      const n = Number(FILE.exec(name)[1]);
      const file = path.join(this.#dir, name);
      const fh = await this.#openFile(file, 'r+');
      const { size } = await fh.stat();
      const seg = { n, file, fh, size, live: 0 };
      let at = 0;
      while (at + HEADER <= size) {
        const { bytesRead } = await fh.read(head, 0, HEADER, at);
        if (bytesRead < HEADER || head.readUInt32BE(0) !== MAGIC) break;
        const id = Number(head.readBigUInt64BE(4));
        const length = head.readUInt32BE(12);
        if (at + HEADER + length > size) break;
        this.#index.set(id, { seg, offset: at + HEADER, length, crc: head.readUInt32BE(16) });
        seg.live++;
        at += HEADER + length;
      }
      if (at < size) {
        await fh.truncate(at); // a torn page: never named in the log
        seg.size = at;
      }
      this.#files.set(n, seg);
    }
  }

  /**
   * Appends page `id`; with `sync`, resolves once it is on disk. Out of
   * space (ENOSPC, EDQUOT), the write is cut off again and rejects with
   * `err.retryable`.
   */
  write(id, bytes, { sync = false } = {}) {
    const run = this.#queue.then(() => this.#write(id, bytes, sync));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #write(id, bytes, sync) {
    if (this.#index.has(id)) return; // written before a retried batch failed
    const seg = await this.#segment();
    const offset = seg.size;
    const head = Buffer.alloc(HEADER);
    head.writeUInt32BE(MAGIC, 0);
    head.writeBigUInt64BE(BigInt(id), 4);
    head.writeUInt32BE(bytes.length, 12);
    const crc = crc32(bytes);
    head.writeUInt32BE(crc, 16);
    try {
      await writeAllv(seg.fh, [head, bytes], offset);
      if (sync) await seg.fh.datasync();
    } catch (e) {
      if (OUT_OF_SPACE.has(e?.code)) {
        await seg.fh.truncate(offset).then(
          () => (e.retryable = true),
          () => {},
        );
      }
      throw e;
    }
    seg.size = offset + HEADER + bytes.length;
    this.#index.set(id, { seg, offset: offset + HEADER, length: bytes.length, crc });
    seg.live++;
  }

  /** The bytes of page `id`, with one positioned read. */
  async read(id) {
    const at = this.#index.get(id);
    if (!at) throw new Error(`page ${id} is not in ${this.#dir}`);
    const buf = new Uint8Array(at.length);
    let done = 0;
    while (done < at.length) {
      const { bytesRead } = await at.seg.fh.read(buf, done, at.length - done, at.offset + done);
      if (bytesRead === 0) throw new Error(`page ${id} is cut short in ${at.seg.file}`);
      done += bytesRead;
    }
    if (crc32(buf) !== at.crc) throw new Error(`page ${id} in ${at.seg.file} is damaged (checksum mismatch)`);
    return buf;
  }

  async delete(id) {
    const at = this.#index.get(id);
    if (!at) return;
    this.#index.delete(id);
    at.seg.live--;
    await this.#dropIfEmpty(at.seg);
  }

  /** Deletes every page but `ids`. */
  async retain(ids) {
    const keep = new Set(ids);
    for (const id of [...this.#index.keys()]) if (!keep.has(id)) await this.delete(id);
    for (const seg of [...this.#files.values()]) await this.#dropIfEmpty(seg);
  }

  async #dropIfEmpty(seg) {
    if (seg.live > 0 || seg === this.#active) return;
    this.#files.delete(seg.n);
    await seg.fh.close().catch(() => {});
    await fsp.rm(seg.file, { force: true });
  }

  async #segment() {
    if (this.#active && this.#active.size < this.#segmentSize) return this.#active;
    const previous = this.#active;
    const n = Math.max(0, ...this.#files.keys()) + 1;
    const file = path.join(this.#dir, fileName(n));
    const seg = { n, file, fh: await this.#openFile(file, 'w+'), size: 0, live: 0 };
    // The new name must be durable before a synced page in it counts.
    const dir = await fsp.open(this.#dir, 'r');
    await dir.sync().finally(() => dir.close());
    this.#files.set(n, seg);
    this.#active = seg;
    if (previous) await this.#dropIfEmpty(previous);
    return seg;
  }

  async close() {
    for (const seg of this.#files.values()) await seg.fh.close().catch(() => {});
    this.#files.clear();
    this.#active = null;
  }
}

/** Header and page in one call (one system call, usually). */
async function writeAllv(fh, parts, position) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const { bytesWritten } = await fh.writev(parts, position);
  if (bytesWritten === total) return;
  const all = Buffer.concat(parts);
  await writeAll(fh, all.subarray(bytesWritten), position + bytesWritten);
}

async function writeAll(fh, bytes, position) {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}
