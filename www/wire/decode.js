// Decodes AMQP 0-9-1 frames from bytes, driven by the spec's method table
// (methods.js): a method frame becomes { name, args }, a content header its
// body size and properties, body frames the body. Malformed input throws a
// RangeError saying where, never a half-read frame.

import { BASIC_PROPERTIES, METHODS } from './methods.js';

const utf8 = new TextDecoder();
const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_END = 0xce;

/** UTF-8 text; short ASCII without TextDecoder's call overhead (most names and tags). */
export function text(bytes) {
  if (bytes.length > 32) return utf8.decode(bytes);
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c > 127) return utf8.decode(bytes);
    s += String.fromCharCode(c);
  }
  return s;
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (this.pos + n > this.bytes.length)
      throw new RangeError(`AMQP frame: ${n} bytes wanted at ${this.pos}, ${this.bytes.length - this.pos} left`);
  }

  octet() {
    this.need(1);
    return this.bytes[this.pos++];
  }

  short() {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  long() {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  longlong() {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    // Tags and counts fit a double exactly well past anything a page reaches.
    return Number(v);
  }

  raw(n) {
    this.need(n);
    const b = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  shortstr() {
    return text(this.raw(this.octet()));
  }

  longstr() {
    return utf8.decode(this.raw(this.long()));
  }

  table() {
    const end = this.long() + this.pos;
    this.need(end - this.pos);
    const t = {};
    while (this.pos < end) {
      const key = this.shortstr();
      t[key] = this.value();
    }
    return t;
  }

  array() {
    const end = this.long() + this.pos;
    this.need(end - this.pos);
    const a = [];
    while (this.pos < end) a.push(this.value());
    return a;
  }

  /** One field value of a table or array, by its type letter. */
  value() {
    const type = String.fromCharCode(this.octet());
    switch (type) {
      case 't':
        return this.octet() !== 0;
      case 'b':
        return (this.octet() << 24) >> 24;
      case 'B':
        return this.octet();
      case 's':
        return (this.short() << 16) >> 16;
      case 'u':
        return this.short();
      case 'I':
        return this.long() | 0;
      case 'i':
        return this.long();
      case 'l':
      case 'T': {
        this.need(8);
        const v = Number(this.view.getBigInt64(this.pos));
        this.pos += 8;
        return v;
      }
      case 'f': {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 'd': {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case 'D': {
        const scale = this.octet();
        return (this.long() | 0) / 10 ** scale;
      }
      case 'S':
        return this.longstr();
      case 'x':
        return this.raw(this.long()).slice();
      case 'A':
        return this.array();
      case 'F':
        return this.table();
      case 'V':
        return null;
      default:
        throw new RangeError(`AMQP frame: unknown field type '${type}' at ${this.pos - 1}`);
    }
  }

  /** Arguments in spec order; consecutive bits share an octet. */
  args(fields) {
    const out = {};
    let bits = 0;
    let bit = 8;
    for (const [name, type] of fields) {
      if (type === 'bit') {
        if (bit === 8) {
          bits = this.octet();
          bit = 0;
        }
        out[name] = (bits & (1 << bit++)) !== 0;
        continue;
      }
      bit = 8;
      out[name] = type === 'timestamp' ? this.longlong() : this[type]();
    }
    return out;
  }
}

/** A content header's payload: class, body size and the properties its flags say are present. */
function header(r) {
  const classId = r.short();
  r.short(); // weight, always 0
  const bodySize = r.longlong();
  const flags = [];
  let more = true;
  while (more) {
    const f = r.short();
    flags.push(f);
    more = (f & 1) === 1;
  }
  const properties = {};
  BASIC_PROPERTIES.forEach(([name, type], i) => {
    const word = flags[Math.floor(i / 15)] ?? 0;
    if (word & (1 << (15 - (i % 15)))) properties[name] = type === 'timestamp' ? r.longlong() : r[type]();
  });
  return { classId, bodySize, properties };
}

/**
 * The frames in `bytes`, whole frames only: [{ type: 'method', channel, name,
 * classId, methodId, args } | { type: 'header', channel, bodySize, properties }
 * | { type: 'body', channel, body } | { type: 'heartbeat' }].
 */
export function decodeFrames(bytes) {
  const frames = [];
  const r = new Reader(bytes);
  while (r.pos < bytes.length) {
    const type = r.octet();
    const channel = r.short();
    const size = r.long();
    const payload = new Reader(r.raw(size));
    if (r.octet() !== FRAME_END) throw new RangeError(`AMQP frame: no frame-end octet at ${r.pos - 1}`);
    if (type === FRAME_METHOD) {
      const classId = payload.short();
      const methodId = payload.short();
      const m = METHODS[classId * 65536 + methodId];
      if (!m) throw new RangeError(`AMQP frame: unknown method ${classId}.${methodId}`);
      frames.push({ type: 'method', channel, name: m[0], classId, methodId, args: payload.args(m[1]), content: m[2] });
    } else if (type === FRAME_HEADER) {
      frames.push({ type: 'header', channel, ...header(payload) });
    } else if (type === FRAME_BODY) {
      frames.push({ type: 'body', channel, body: payload.bytes });
    } else frames.push({ type: 'heartbeat', channel });
  }
  return frames;
}

/**
 * One tapped record as a single method with its content: { name, args,
 * channel, properties?, body? }. The body is kept as text when it is short.
 */
export function decodeMethod(bytes) {
  const frames = decodeFrames(bytes);
  const m = frames[0];
  if (!m || m.type !== 'method') throw new RangeError('AMQP frames: a record starts with a method frame');
  const out = { name: m.name, args: m.args, channel: m.channel };
  if (m.content) {
    const h = frames[1];
    out.properties = h?.type === 'header' ? h.properties : {};
    let size = 0;
    for (let i = 2; i < frames.length; i++) size += frames[i].body.length;
    if (size <= 64) {
      out.body =
        frames.length === 3
          ? text(frames[2].body)
          : frames
              .slice(2)
              .map((f) => text(f.body))
              .join('');
    }
    out.bodySize = h?.bodySize ?? size;
  }
  return out;
}

/**
 * What a recorder needs of a tapped record without decoding it all: the
 * method's name and, for the methods that name a delivery, its tag (a
 * confirm's sequence number). The rest waits until the frame is drawn.
 */
export function peekMethod(bytes) {
  if (bytes.length < 12 || bytes[0] !== FRAME_METHOD) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = METHODS[view.getUint16(7) * 65536 + view.getUint16(9)];
  if (!m) return null;
  const name = m[0];
  let tagAt = -1;
  if (name === 'basic.ack' || name === 'basic.nack' || name === 'basic.reject' || name === 'basic.get-ok') tagAt = 11;
  else if (name === 'basic.deliver') tagAt = 12 + bytes[11];
  const tag = tagAt > 0 && tagAt + 8 <= bytes.length ? Number(view.getBigUint64(tagAt)) : undefined;
  return { name, tag };
}
