// A wasm module's export section rewritten without some exports, for the lite
// engine: wasm-opt then removes every function only those exports reached.
// Only the export section changes; every other section is copied as it is.

/** The unsigned LEB128 at `at` in `buf`, and the offset after it. */
export function readLeb(buf, at) {
  let value = 0;
  let shift = 0;
  let b;
  do {
    b = buf[at++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return { value, next: at };
}

function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Uint8Array.from(out);
}

const EXPORT_SECTION = 7;

/**
 * `wasm` without the exports named in `names`. Throws naming any that the
 * module does not export, so a list of them cannot go stale unnoticed.
 */
export function withoutExports(wasm, names) {
  const gone = new Set(names);
  const decoder = new TextDecoder();
  const parts = [wasm.subarray(0, 8)];
  let p = 8;
  while (p < wasm.length) {
    const id = wasm[p];
    const { value: size, next: bodyStart } = readLeb(wasm, p + 1);
    const end = bodyStart + size;
    if (id !== EXPORT_SECTION) {
      parts.push(wasm.subarray(p, end));
      p = end;
      continue;
    }
    let { value: count, next: q } = readLeb(wasm, bodyStart);
    const kept = [];
    for (; count > 0; count--) {
      const start = q;
      const { value: nameLength, next: nameStart } = readLeb(wasm, q);
      const name = decoder.decode(wasm.subarray(nameStart, nameStart + nameLength));
      // the export's kind (one byte), then its index
      q = readLeb(wasm, nameStart + nameLength + 1).next;
      if (!gone.delete(name)) kept.push(wasm.subarray(start, q));
    }
    const body = concat([leb(kept.length), ...kept]);
    parts.push(Uint8Array.of(EXPORT_SECTION), leb(body.length), body);
    p = end;
  }
  if (gone.size > 0) throw new Error(`the wasm has no export named ${[...gone].join(', ')}`);
  return concat(parts);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
