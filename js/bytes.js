// Byte arrays joined into one, as hosts gather a turn's input or a store's chunks.

/** `parts` (Uint8Arrays) in one Uint8Array, in order; a single part is returned as it is, not copied. */
export function concatBytes(parts) {
  if (parts.length === 1) return parts[0];
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
