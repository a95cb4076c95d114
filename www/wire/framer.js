// A real AMQP byte stream (one direction of a connection) cut into the
// records the engine's wire tap gives: a method frame followed by its content
// header and body frames, if any, with its channel. Bytes may come split at
// any offset or several frames to a chunk. Frame boundaries are followed even
// while nothing is recorded (a few reads per frame, no copies), so recording
// can start again mid-stream.

import { METHODS } from './methods.js';

const PROTOCOL_HEADER = 8; // "AMQP\0\0\x09\x01", sent first by the client
const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_END = 0xce;

export class Framer {
  /** `client`: the client's side (starts with the protocol header). `onRecord(channel, bytes)`. */
  constructor({ client, onRecord }) {
    this.onRecord = onRecord;
    this.skip = client ? PROTOCOL_HEADER : 0;
    this.head = new Uint8Array(7);
    this.headView = new DataView(this.head.buffer);
    this.headLen = 0;
    /** bytes of the current frame's payload and end octet still to come */
    this.need = 0;
    /** the current frame, whole, when it is kept */
    this.frame = null;
    this.at = 0;
    /** a content method waiting for its header and body: { channel, frames, size, left } */
    this.content = null;
    /** a frame without its end octet: the peer is closed by the engine, nothing more is cut */
    this.broken = false;
  }

  /** Takes the next bytes; `keep`: records are wanted (the lane is on). */
  push(bytes, keep) {
    let i = 0;
    const n = bytes.length;
    while (i < n && !this.broken) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        this.skip -= k;
        i += k;
      } else if (this.headLen < 7) {
        const k = Math.min(7 - this.headLen, n - i);
        this.head.set(bytes.subarray(i, i + k), this.headLen);
        this.headLen += k;
        i += k;
        if (this.headLen === 7) {
          const size = this.headView.getUint32(3);
          this.need = size + 1;
          this.frame = keep ? new Uint8Array(size + 8) : null;
          if (this.frame) this.frame.set(this.head);
          this.at = 7;
        }
      } else {
        const k = Math.min(this.need, n - i);
        if (this.frame) this.frame.set(bytes.subarray(i, i + k), this.at);
        this.at += k;
        this.need -= k;
        i += k;
        if (this.need === 0) {
          if (bytes[i - 1] !== FRAME_END) this.broken = true;
          else if (this.frame) this.#whole(this.frame);
          else this.content = null;
          this.headLen = 0;
          this.frame = null;
        }
      }
    }
  }

  /** One whole frame: a record of its own, or a part of the content method before it. */
  #whole(frame) {
    const type = frame[0];
    const channel = (frame[1] << 8) | frame[2];
    const view = new DataView(frame.buffer);
    if (type === FRAME_METHOD) {
      this.content = null;
      const m = frame.length >= 12 ? METHODS[view.getUint16(7) * 65536 + view.getUint16(9)] : undefined;
      if (m?.[2]) this.content = { channel, frames: [frame], left: -1 };
      else this.onRecord(channel, frame);
      return;
    }
    const c = this.content;
    // Heartbeats, and content frames whose method was not kept, are not records.
    if (!c || channel !== c.channel || (type !== FRAME_HEADER && type !== FRAME_BODY)) return;
    if (type === FRAME_BODY && c.left < 0) return; // a body before its header: not a record
    c.frames.push(frame);
    if (type === FRAME_HEADER) c.left = frame.length >= 19 ? Number(view.getBigUint64(11)) : 0;
    else c.left -= frame.length - 8;
    if (c.left <= 0) {
      this.content = null;
      this.onRecord(channel, concat(c.frames));
    }
  }
}

function concat(frames) {
  let size = 0;
  for (const f of frames) size += f.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}
