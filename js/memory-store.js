// A Store kept in memory: survives a new Broker in the same process (a
// "restart" in a demo or a test), not the process itself.

export class MemoryStore {
  #chunks = [];
  #size = 0;
  #clean = false;
  #wasClean = false;
  /** pages of paged queues, by id */
  #pages = new Map();

  /** Bytes in the log. */
  get size() {
    return this.#size;
  }

  /** Whether the broker before closed this store with every record written (read after `load()`). */
  get cleanShutdown() {
    return this.#wasClean;
  }

  async load() {
    // A broker that opens the store and is dropped without close() leaves it unclean.
    this.#wasClean = this.#clean;
    this.#clean = false;
    return this.#size === 0 ? null : this.#bytes();
  }

  async close({ clean = true } = {}) {
    this.#clean = clean;
  }

  async append(bytes) {
    this.#chunks.push(bytes.slice());
    this.#size += bytes.length;
  }

  async compact(bytes) {
    this.#chunks = [bytes.slice()];
    this.#size = bytes.length;
  }

  async truncate(length) {
    const all = this.#bytes();
    this.#chunks = [all.slice(0, length)];
    this.#size = Math.min(length, all.length);
  }

  async writePage(id, bytes) {
    this.#pages.set(id, bytes.slice());
  }

  async readPage(id) {
    const bytes = this.#pages.get(id);
    if (!bytes) throw new Error(`page ${id} is not in the store`);
    return bytes;
  }

  async deletePage(id) {
    this.#pages.delete(id);
  }

  /** Deletes every page but `ids` (the ones a recovered broker refers to). */
  async retainPages(ids) {
    const keep = new Set(ids);
    for (const id of [...this.#pages.keys()]) if (!keep.has(id)) this.#pages.delete(id);
  }

  /** Pages held, for tests. */
  get pageCount() {
    return this.#pages.size;
  }

  #bytes() {
    if (this.#chunks.length === 1) return this.#chunks[0].slice();
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.#chunks = [out.slice()];
    return out;
  }
}
