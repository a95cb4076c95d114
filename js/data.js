// Reader of the plain data the engine returns for snapshots, events, users,
// policies, the topology and recovery reports (layout: src/wasm/data.rs): one byte buffer
// per call, turned into plain objects and arrays here. No imports: the wasm
// tests load this file on its own (tests/wasm.rs).

const UNDEFINED = 0;
const FALSE = 1;
const TRUE = 2;
const NUMBER = 3;
const STRING = 4;
const ARRAY = 5;
const OBJECT = 6;
const END = 7;
const NULL = 8;
const BIGINT = 9;
const BYTES = 10;
const DATE = 11;

const utf8 = new TextDecoder();

/** UTF-8 of buf[start, end): short ASCII strings without TextDecoder's call overhead. */
export function decode(buf, start, end) {
  if (end - start > 32) return utf8.decode(buf.subarray(start, end));
  let s = '';
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c > 127) return utf8.decode(buf.subarray(start, end));
    s += String.fromCharCode(c);
  }
  return s;
}

/** The value in `bytes` (a Uint8Array the engine returned). */
export function readData(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const value = () => {
    switch (bytes[at++]) {
      case UNDEFINED:
        return undefined;
      case FALSE:
        return false;
      case TRUE:
        return true;
      case NUMBER:
        at += 8;
        return view.getFloat64(at - 8, true);
      case NULL:
        return null;
      case BIGINT:
        at += 8;
        return view.getBigInt64(at - 8, true);
      case DATE:
        at += 8;
        return new Date(view.getFloat64(at - 8, true));
      case BYTES: {
        const start = at + 4;
        at = start + view.getUint32(at, true);
        return bytes.slice(start, at);
      }
      case STRING: {
        const start = at + 4;
        at = start + view.getUint32(at, true);
        return decode(bytes, start, at);
      }
      case ARRAY: {
        const a = [];
        while (bytes[at] !== END) a.push(value());
        at++;
        return a;
      }
      case OBJECT: {
        const o = {};
        while (bytes[at] !== END) {
          const key = value();
          o[key] = value();
        }
        at++;
        return o;
      }
      default:
        throw new TypeError(`engine data: unknown tag ${bytes[at - 1]} at ${at - 1} (mismatched builds?)`);
    }
  };
  return value();
}
