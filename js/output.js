// Reader of the engine's packed output (layout: src/wasm/output.rs), read in
// place in wasm memory: every record starts with `kind u8, conn u32,
// channel u16`, little-endian, but DELIVER_NEXT, which repeats the previous
// delivery's. Bodies, headers and bytes for transports are copied out, since
// the engine reuses that memory on its next drain.

import { decode } from './data.js';

export const DELIVER = 1;
export const GET_OK = 2;
export const GET_EMPTY = 3;
export const CONFIRM = 4;
export const RETURN = 5;
export const CANCEL = 6;
export const CLOSE_CHANNEL = 7;
export const CLOSE_CONNECTION = 8;
export const BLOCKED = 9;
export const SEND = 10;
export const CLOSE = 11;
export const CLOSED = 12;
export const FLUSH = 13;
export const WIRE = 14;
export const DELIVER_NEXT = 15;
export const TX_COMMIT_OK = 16;

// Drains bigger than this are copied out whole (see OutputReader.reset).
const COPY_ABOVE = 2048;
const EMPTY = new Uint8Array(0);

/**
 * A copy of `mem[start..end]`. Under Node, into memory not zeroed first:
 * `slice` gets a new ArrayBuffer, which V8 zeroes (a memset as long as the
 * copy) before the bytes overwrite it; Buffer's unpooled uninitialized one is
 * overwritten whole just as well. Elsewhere (browsers, workerd) a slice.
 */
const copyOut =
  typeof globalThis.Buffer?.allocUnsafeSlow === 'function'
    ? (mem, start, end) => {
        const b = globalThis.Buffer.allocUnsafeSlow(end - start);
        const copy = new Uint8Array(b.buffer, b.byteOffset, end - start);
        copy.set(mem.subarray(start, end));
        return copy;
      }
    : (mem, start, end) => mem.slice(start, end);

// Where copies for idle transports are carved from (see `copyPooled`).
const POOL_BYTES = 16 * 1024;
let pool = new Uint8Array(POOL_BYTES);
let poolAt = 0;

/**
 * A copy of `mem[start..end]` (at most half the pool) as a view into a
 * shared pool, where a `slice` is an ArrayBuffer of its own, which V8
 * allocates, registers, sweeps and frees: a quarter of the host's CPU at 10
 * messages per read (bench/wire-instructions.mjs --cpu --per-read 10). For a
 * drain copied whole, and for a send to a transport that holds nothing
 * unsent: the bytes leave at once and the copy is dropped. Not for a send to
 * a transport that is behind: bytes it keeps would keep the whole pool
 * alive, beyond what its backlog counts.
 */
function copyPooled(mem, start, end) {
  const n = end - start;
  if (poolAt + n > POOL_BYTES) {
    pool = new Uint8Array(POOL_BYTES);
    poolAt = 0;
  }
  // Views made by constructor: `subarray` looks its species up each time.
  const copy = new Uint8Array(pool.buffer, poolAt, n);
  copy.set(new Uint8Array(mem.buffer, mem.byteOffset + start, n));
  poolAt += n;
  return copy;
}

/**
 * Remembers the last string read for one field: exchange names, routing keys
 * and consumer tags repeat from one delivery to the next.
 */
class LastString {
  bytes = EMPTY;
  str = '';

  read(buf, pos, n) {
    const b = this.bytes;
    if (b.length === n) {
      let i = 0;
      while (i < n && b[i] === buf[pos + i]) i++;
      if (i === n) return this.str;
    }
    this.bytes = buf.slice(pos, pos + n);
    this.str = decode(buf, pos, pos + n);
    return this.str;
  }
}

export class OutputReader {
  /** what is being read: wasm memory itself, or a copy of one drain */
  buf = EMPTY;
  view = new DataView(EMPTY.buffer);
  pos = 0;
  end = 0;
  copied = false;
  /** views of the whole wasm memory, re-made when it grows */
  #mem = EMPTY;
  #memView = this.view;
  exchange = new LastString();
  routingKey = new LastString();
  tag = new LastString();

  constructor(memory) {
    this.memory = memory;
  }

  /**
   * Reads `len` bytes at `ptr` in wasm memory. A big drain (a burst of
   * deliveries) is copied out once and its bodies are views into the copy;
   * a small one is read in place and its few bodies copied.
   */
  reset(ptr, len) {
    this.#refresh();
    if (len > COPY_ABOVE) {
      // Up to half a pool from the pool, as small sends are (see copyPooled).
      const buf = len <= POOL_BYTES / 2 ? copyPooled(this.#mem, ptr, ptr + len) : copyOut(this.#mem, ptr, ptr + len);
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, len);
      this.copied = true;
      this.pos = 0;
      this.end = len;
    } else {
      this.buf = this.#mem;
      this.view = this.#memView;
      this.copied = false;
      this.pos = ptr;
      this.end = ptr + len;
    }
  }

  /**
   * True while records remain. Reading in place, it also re-makes the views
   * when wasm memory has grown (a callback called into the engine): growth
   * detaches the old buffer, but the bytes being read stay at their address.
   */
  more() {
    if (this.buf.length === 0) {
      this.#refresh();
      this.buf = this.#mem;
      this.view = this.#memView;
    }
    return this.pos < this.end;
  }

  #refresh() {
    // Growth detaches the old buffer, which empties its views: a length test
    // here, where reading `memory.buffer` is a call into the runtime.
    if (this.#mem.length !== 0) return;
    const buffer = this.memory.buffer;
    this.#mem = new Uint8Array(buffer);
    this.#memView = new DataView(buffer);
  }

  u8() {
    return this.buf[this.pos++];
  }

  u16() {
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32() {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64() {
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A short string; `last` (a LastString) caches a field that repeats. */
  str8(last) {
    const n = this.buf[this.pos++];
    const s = last ? last.read(this.buf, this.pos, n) : decode(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /**
   * The next `len u32 + bytes`, never a view of wasm memory. `pooled`: for a
   * transport with nothing unsent, a small one is copied into the pool (see
   * `copyPooled`) rather than into memory of its own.
   */
  blob(pooled = false) {
    const n = this.u32();
    const start = this.pos;
    this.pos += n;
    if (n === 0) return EMPTY;
    if (this.copied) return this.buf.subarray(start, this.pos);
    return pooled ? copyPooled(this.buf, start, this.pos) : this.buf.slice(start, this.pos);
  }

  /** exchange, routing key, content header, body: into `m`. */
  message(m) {
    m.exchange = this.str8(this.exchange);
    m.routingKey = this.str8(this.routingKey);
    m._props = this.blob();
    this.body(m);
  }

  /** The body: into `m`. */
  body(m) {
    // From a copy, the body's view is made when first read.
    const n = this.u32();
    const start = this.pos;
    this.pos += n;
    if (n === 0) return;
    if (this.copied) {
      m._body = this.buf;
      m._at = start;
    } else {
      m._body = this.buf.slice(start, this.pos);
    }
  }

  /** code u16, text str8, class u16, method u16. */
  error() {
    const code = this.u16();
    const text = this.str8();
    const classId = this.u16();
    const methodId = this.u16();
    return { code, text, classId, methodId };
  }
}
