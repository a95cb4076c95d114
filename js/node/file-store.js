// The durable store for Node: the engine's framed records in an append-only log
// split over segment files in one directory.
//
//   seg-00000001.log   appended to; a new one starts past `segmentSize`
//   seg-00000007.snap  a compacted log: the log starts here, older files are dead
//   *.tmp              a compaction that did not finish: ignored and deleted
//   LOCK               the pid of the process using the directory
//   page-00000001.seg  pages of paged queues (see page-files.js)
//
// The log is the concatenation of the newest .snap (if any) and the .log files
// numbered after it. Every append is on disk before its promise resolves: the
// segment is open with O_DSYNC, so a write returns once its bytes are synced
// (write and fdatasync in one system call, one trip to libuv's thread pool a
// batch); appends that arrive while a write runs share the next one (group
// commit). Records are opaque here: the engine frames and checks them, and on
// recovery tells how many bytes are valid; `truncate` cuts the rest.
//
// Space is written ahead: before a batch that would pass the end of the
// active segment's file, zeros extend it by a PREALLOCATE step (synced as
// any write is). A batch written inside the file then leaves its size
// alone, so its sync flushes the data alone, not the inode too: half the
// CPU a synced append costs on ext4. The zeros are no records: the engine's
// scan ends the log at them (src/storage/log.rs), and the file is cut back
// to its records when it is closed or left for the next segment; after a
// crash, recovery cuts them as it cuts a torn tail. The log's
// format header (magic and version, src/storage/log.rs) is the first bytes of
// the first file, written by the first append or the snapshot; the store never
// reads or writes it on its own.
//
// Failures. A write that fails for want of space (ENOSPC, EDQUOT) is undone:
// the segment is cut back to its last synced size and the append rejects with
// `err.retryable = true`; the store stays usable and the same bytes may be
// appended again once space frees. Any other failure, and every failed sync
// (after which the kernel may have dropped the dirty pages: the file's state
// is unknown; on a segment it is a failed write), fails the store for good:
// later calls reject with that error.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Histogram } from './metrics.js';
import { PageFiles } from './page-files.js';

const SEGMENT = /^seg-(\d{8})\.(log|snap)$/;
/** Write errors that leave the file as it was once the write is undone: retry later. */
const OUT_OF_SPACE = new Set(['ENOSPC', 'EDQUOT']);
const name = (n, kind) => `seg-${String(n).padStart(8, '0')}.${kind}`;
const { O_CREAT, O_DSYNC, O_RDWR, O_TRUNC, O_WRONLY } = fs.constants;
/** Segments appended to: each write returns once it is on disk. */
const APPEND_EXISTING = O_RDWR | O_DSYNC;
const APPEND_NEW = O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC;
/**
 * Under continuous load, appends start at most this often: a synced write
 * costs about the same CPU whatever it holds (some 240 µs here for 30 KB).
 */
const BATCH_SPACING_MS = 10;
/** Bytes of zeros a segment's file is extended by ahead of its records. */
const PREALLOCATE = 1024 * 1024;
let zeros = null;

async function syncDir(dir) {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Takes the directory's LOCK, or throws if a live process holds it. Returns
 * `{ file, clean }`: `clean` unless a LOCK was left behind, by a process that
 * was killed or whose store failed.
 */
function lock(dir) {
  const file = path.join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return { file, clean: attempt === 0 };
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (pid && pid !== process.pid && pidAlive(pid)) {
        throw new Error(`data directory ${dir} is in use by process ${pid}`);
      }
      // Left by a process that is gone (killed, crashed): take it over.
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot lock data directory ${dir}`);
}

export class FileStore {
  /** How long each batch took to write and sync (for /metrics). */
  fsyncSeconds = new Histogram();
  /** The least time between two appends' starts under continuous load (js/store-writer.js). */
  batchSpacingMs = BATCH_SPACING_MS;

  #dir;
  #segmentSize;
  #log;
  #lockFile;
  #cleanShutdown = false;
  /** the log's files in order: { n, kind, file, size, end } (size: bytes of records; end: of the file) */
  #segments = [];
  /** the open .log segment appends go to, or null until the next append */
  #active = null;
  #pending = [];
  #queue = Promise.resolve();
  #failed = null;
  #closed = false;
  #openFile;
  /** pages of paged queues */
  #pages = null;

  /**
   * Opens (creating if needed) the store in `dir`.
   * `segmentSize`: bytes after which appends go to a new segment file.
   * `log(level, message)`: where damage and failures are reported.
   * `openFile(path, flags)`: opens the files written to (default: fs/promises
   *   `open`); tests pass one whose handles fail or tear writes.
   */
  static async open(dir, { segmentSize = 64 * 1024 * 1024, log = () => {}, openFile = fsp.open } = {}) {
    const store = new FileStore(dir, segmentSize, log, openFile);
    await store.#scan();
    return store;
  }

  constructor(dir, segmentSize, log, openFile = fsp.open) {
    this.#dir = path.resolve(dir);
    this.#segmentSize = segmentSize;
    this.#log = log;
    this.#openFile = openFile;
  }

  get dir() {
    return this.#dir;
  }

  /**
   * Whether the process that used the directory before closed it with every
   * write done. If not (killed, or its store failed), recovery cannot trust
   * the delivery records and flags every message redelivered.
   */
  get cleanShutdown() {
    return this.#cleanShutdown;
  }

  /** Bytes in the log now (written, not only durable). */
  get size() {
    return this.#segments.reduce((sum, s) => sum + s.size, 0);
  }

  /** Names of the log's files in order, for tests and diagnostics. */
  get files() {
    return this.#segments.map((s) => path.basename(s.file));
  }

  async #scan() {
    fs.mkdirSync(this.#dir, { recursive: true });
    const { file, clean } = lock(this.#dir);
    this.#lockFile = file;
    this.#cleanShutdown = clean;
    const found = [];
    for (const f of fs.readdirSync(this.#dir)) {
      if (f.endsWith('.tmp')) {
        fs.rmSync(path.join(this.#dir, f), { force: true });
        continue;
      }
      const m = SEGMENT.exec(f);
      if (m) found.push({ n: Number(m[1]), kind: m[2], file: path.join(this.#dir, f) });
    }
    found.sort((a, b) => a.n - b.n || (a.kind === 'snap' ? -1 : 1));
    const base = found.findLast((s) => s.kind === 'snap');
    // Files before the newest snapshot are what a compaction left behind when it
    // stopped before deleting them: dead.
    const dead = base ? found.filter((s) => s.n < base.n || (s.n === base.n && s !== base)) : [];
    for (const s of dead) fs.rmSync(s.file, { force: true });
    this.#segments = found
      .filter((s) => !dead.includes(s))
      .map((s) => {
        const size = fs.statSync(s.file).size;
        return { ...s, size, end: size };
      });
    if (dead.length) await syncDir(this.#dir);
    this.#pages = await PageFiles.open(this.#dir, { openFile: this.#openFile });
  }

  /** Stores a page; with `sync`, durably (fdatasync) before it resolves. */
  writePage(id, bytes, options) {
    if (this.#failed) return Promise.reject(this.#failed);
    return this.#pages.write(id, bytes, options);
  }

  readPage(id) {
    return this.#pages.read(id);
  }

  deletePage(id) {
    return this.#pages.delete(id);
  }

  /** Deletes the pages a crash left behind: every one but `ids`. */
  retainPages(ids) {
    return this.#pages.retain(ids);
  }

  /** Page files and pages held, for tests and diagnostics. */
  get pages() {
    return { files: this.#pages.files, count: this.#pages.count };
  }

  /** The whole log: every segment's bytes in order, or null when empty. */
  async load() {
    await this.#queue;
    const parts = [];
    // An open segment's file runs on past its records into zeros written ahead.
    for (const s of this.#segments) parts.push((await fsp.readFile(s.file)).subarray(0, s.size));
    const bytes = Buffer.concat(parts);
    return bytes.length ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : null;
  }

  /** Appends framed records; resolves once they are on disk (fdatasync). */
  append(bytes) {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new Error('store is closed'));
    return new Promise((resolve, reject) => {
      this.#pending.push({ bytes, resolve, reject });
      if (this.#pending.length === 1) this.#run(() => this.#flush()).catch(() => {});
    });
  }

  /** Replaces the log with `bytes`, a compacted snapshot of the same state. */
  compact(bytes) {
    return this.#run(async () => {
      await this.#flush();
      const n = (this.#segments.at(-1)?.n ?? 0) + 1;
      const file = path.join(this.#dir, name(n, 'snap'));
      const tmp = `${file}.tmp`;
      const fh = await this.#openFile(tmp, 'w');
      try {
        await writeAll(fh, bytes, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
      // The rename is the commit point: from here on load() starts at this file.
      await fsp.rename(tmp, file);
      await syncDir(this.#dir);
      const old = this.#segments;
      await this.#closeActive();
      this.#segments = [{ n, kind: 'snap', file, size: bytes.length }];
      for (const s of old) await fsp.rm(s.file, { force: true });
      await syncDir(this.#dir);
    });
  }

  /**
   * Cuts the log to its first `validLength` bytes: what recovery found to be a
   * torn or corrupt tail goes, so new records follow the last valid one.
   */
  truncate(validLength) {
    return this.#run(async () => {
      await this.#flush();
      const total = this.size;
      if (validLength >= total) return;
      const padding = total - validLength <= 4 * PREALLOCATE && (await this.#zerosFrom(validLength));
      await this.#closeActive();
      let offset = 0;
      const keep = [];
      for (const s of this.#segments) {
        if (offset >= validLength) {
          await fsp.rm(s.file, { force: true });
        } else {
          if (offset + s.size > validLength) {
            s.size = validLength - offset;
            await fsp.truncate(s.file, s.size);
            const fh = await fsp.open(s.file, 'r+');
            await fh.sync().finally(() => fh.close());
          }
          keep.push(s);
        }
        offset += s.size;
      }
      this.#segments = keep;
      await syncDir(this.#dir);
      const cut = total - validLength;
      if (padding) this.#log('debug', `store: cut ${cut} bytes written ahead at the end of the log`);
      else this.#log('warn', `store: cut ${cut} damaged bytes at the end of the log (kept ${validLength})`);
    });
  }

  /** Whether the log holds only zeros from `offset` on: space written ahead, not a torn write. */
  async #zerosFrom(offset) {
    let at = 0;
    for (const s of this.#segments) {
      if (at + s.size > offset) {
        const from = Math.max(0, offset - at);
        const bytes = Buffer.alloc(s.size - from);
        const fh = await fsp.open(s.file, 'r');
        await fh.read(bytes, 0, bytes.length, from).finally(() => fh.close());
        if (bytes.some((b) => b !== 0)) return false;
      }
      at += s.size;
    }
    return true;
  }

  /**
   * Waits for pending appends, then closes the files and releases the lock.
   * A failed store closes too (its pending appends have been rejected), and
   * so does one whose broker says some records were never written
   * (`clean: false`); both leave the LOCK, so the next open is not clean.
   */
  close({ clean = true } = {}) {
    if (this.#closed) return this.#queue;
    this.#closed = true;
    const release = async () => {
      // A failed store's file is left as the failure left it.
      await this.#closeActive({ trim: !this.#failed }).catch(() => {});
      await this.#pages?.close();
      if (clean && !this.#failed) fs.rmSync(this.#lockFile, { force: true });
    };
    if (this.#failed) return (this.#queue = this.#queue.then(release));
    return this.#run(async () => {
      await this.#flush();
      await release();
    });
  }

  /** Runs `op` after every operation queued before it. */
  #run(op) {
    const p = this.#queue.then(() => {
      if (this.#failed) throw this.#failed;
      return op();
    });
    this.#queue = p.catch((e) => this.#fail(e));
    return p;
  }

  #fail(e) {
    // After a failed write or sync the file's state is unknown: the store stops
    // rather than append after bytes it cannot vouch for.
    if (!this.#failed) {
      this.#failed = e;
      this.#log('error', `store: ${e.message}; no further writes`);
    }
    for (const p of this.#pending.splice(0)) p.reject(e);
  }

  async #flush() {
    while (this.#pending.length) {
      const batch = this.#pending;
      this.#pending = [];
      let seg = null;
      try {
        const bytes = batch.length === 1 ? batch[0].bytes : Buffer.concat(batch.map((p) => p.bytes));
        seg = await this.#activeSegment();
        if (seg.size + bytes.length > seg.end) await this.#preallocate(seg, seg.size + bytes.length);
        const started = performance.now();
        await writeAll(seg.fh, bytes, seg.size); // O_DSYNC: synced as it returns
        this.fsyncSeconds.observe((performance.now() - started) / 1000);
        seg.size += bytes.length;
      } catch (e) {
        // Out of space: nothing past the last synced size counts; cut it and retry later.
        const retry = OUT_OF_SPACE.has(e?.code) && (await this.#undo(seg));
        if (retry) e.retryable = true;
        // Appends made meanwhile would land before the retried bytes: they fail too.
        for (const p of retry ? [...batch, ...this.#pending.splice(0)] : batch) p.reject(e);
        if (!retry) throw e;
        continue;
      }
      for (const p of batch) p.resolve();
    }
  }

  /** Cuts a segment back to its last synced size after a failed write; false if that fails too. */
  async #undo(seg) {
    if (!seg?.fh) return seg === null;
    try {
      await seg.fh.truncate(seg.size);
      await seg.fh.datasync();
      seg.end = seg.size;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Extends the segment's file with zeros to past `needed` bytes, a whole
   * step (at most the segment size) at a time, synced as appends are.
   */
  async #preallocate(seg, needed) {
    const step = Math.min(PREALLOCATE, this.#segmentSize);
    const end = Math.ceil(needed / step) * step;
    zeros ??= Buffer.alloc(PREALLOCATE);
    while (seg.end < end) {
      const n = Math.min(end - seg.end, zeros.length);
      await writeAll(seg.fh, zeros.subarray(0, n), seg.end);
      seg.end += n;
    }
  }

  async #activeSegment() {
    if (this.#active && this.#active.size < this.#segmentSize) return this.#active;
    const last = this.#segments.at(-1);
    if (!this.#active && last?.kind === 'log' && last.size < this.#segmentSize) {
      last.fh = await this.#openFile(last.file, APPEND_EXISTING);
      last.end = last.size;
      this.#active = last;
      return last;
    }
    // The segment left behind holds its records alone: the log reads on past it.
    await this.#closeActive({ trim: true });
    const n = (last?.n ?? 0) + 1;
    const file = path.join(this.#dir, name(n, 'log'));
    const seg = { n, kind: 'log', file, size: 0, end: 0, fh: await this.#openFile(file, APPEND_NEW) };
    // The new name must be durable before anything in the file counts as written.
    await syncDir(this.#dir);
    this.#segments.push(seg);
    this.#active = seg;
    return seg;
  }

  /** Closes the active segment; with `trim`, first cuts the zeros written ahead. */
  async #closeActive({ trim = false } = {}) {
    const seg = this.#active;
    this.#active = null;
    if (seg?.fh) {
      const fh = seg.fh;
      delete seg.fh;
      try {
        if (trim && seg.end > seg.size) {
          await fh.truncate(seg.size);
          await fh.datasync();
          seg.end = seg.size;
        }
      } finally {
        await fh.close();
      }
    }
  }
}

async function writeAll(fh, bytes, position) {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}
