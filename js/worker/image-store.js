// The broker's image in Durable Object storage, for hibernation: written when
// the object has been idle a while, read by the object the runtime builds
// after an eviction. Values hold at most 128 KiB, so the image is cut into
// chunks; the meta key, written last in the same batch, says how many make
// it up. The image carries its own checksum: a mix of chunks from two writes
// is refused on resume, never half-used.

const META = 'image:meta';
const CHUNK_PREFIX = 'image:';
const CHUNK_BYTES = 128 * 1024;
const KEYS_PER_CALL = 128;

const keyOf = (n) => CHUNK_PREFIX + String(n).padStart(8, '0');

export class ImageStore {
  #storage;
  /** chunks under the meta key now, so stale ones past a smaller image go */
  #chunks = 0;

  constructor(storage) {
    this.#storage = storage;
  }

  /** The stored image, or null. */
  async load() {
    const meta = await this.#storage.get(META);
    if (!meta) return null;
    const keys = Array.from({ length: meta.chunks }, (_, i) => keyOf(i));
    const image = new Uint8Array(meta.bytes);
    let at = 0;
    for (let i = 0; i < keys.length; i += KEYS_PER_CALL) {
      const got = await this.#storage.get(keys.slice(i, i + KEYS_PER_CALL));
      for (const key of keys.slice(i, i + KEYS_PER_CALL)) {
        const v = got.get(key);
        if (!v) throw new Error(`image: chunk ${key} is missing`);
        const bytes = new Uint8Array(v.buffer ?? v, v.byteOffset ?? 0, v.byteLength);
        if (at + bytes.length > image.length) throw new Error('image: chunks exceed the recorded size');
        image.set(bytes, at);
        at += bytes.length;
      }
    }
    if (at !== image.length) throw new Error(`image: ${at} bytes in chunks, ${image.length} recorded`);
    this.#chunks = meta.chunks;
    return image;
  }

  /** Writes `image` (one batch: no await between the puts) and waits until it is on disk. */
  async save(image) {
    const writes = [];
    const count = Math.ceil(image.length / CHUNK_BYTES);
    for (let i = 0; i < count; i += KEYS_PER_CALL) {
      const entries = {};
      for (let n = i; n < Math.min(count, i + KEYS_PER_CALL); n++)
        entries[keyOf(n)] = image.slice(n * CHUNK_BYTES, (n + 1) * CHUNK_BYTES);
      writes.push(this.#storage.put(entries));
    }
    const stale = [];
    for (let n = count; n < this.#chunks; n++) stale.push(keyOf(n));
    for (let i = 0; i < stale.length; i += KEYS_PER_CALL)
      writes.push(this.#storage.delete(stale.slice(i, i + KEYS_PER_CALL)));
    writes.push(this.#storage.put(META, { chunks: count, bytes: image.length, at: Date.now() }));
    this.#chunks = count;
    await Promise.all(writes);
    await this.#storage.sync();
  }

  /**
   * The broker is about to change: the image no longer describes it. Ordered
   * before every write and message that follows, so a later eviction finds
   * either a fresh image or none.
   */
  discard() {
    return this.#storage.delete(META);
  }
}
