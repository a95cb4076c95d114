// A Store (the warren-mq Store interface) that keeps its log in page memory
// and takes a visible while to make each write durable: an append resolves
// `delayMs` of page time after it starts. It outlives the broker using it,
// so a simulated restart recovers from exactly what was written.

export class SlowDisk {
  constructor(clock, delayMs = 1500) {
    this.clock = clock;
    this.delayMs = delayMs;
    this.chunks = [];
    this.size = 0;
    /** the write in flight: { bytes, startedAt, doneAt } or null */
    this.writing = null;
    this.writes = 0;
    this.epoch = 0;
  }

  async load() {
    if (this.size === 0) return null;
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  append(bytes) {
    const copy = bytes.slice();
    const epoch = this.epoch;
    const now = this.clock.now();
    this.writing = { bytes: copy.length, startedAt: now, doneAt: now + this.delayMs };
    return new Promise((resolve) => {
      this.clock.at(now + this.delayMs, () => {
        // A write still under way when the power went out never lands.
        if (epoch !== this.epoch) return;
        this.chunks.push(copy);
        this.size += copy.length;
        this.writing = null;
        this.writes++;
        resolve();
      });
    });
  }

  async compact(bytes) {
    this.chunks = [bytes.slice()];
    this.size = bytes.length;
  }

  async truncate(length) {
    const all = await this.load();
    this.chunks = all ? [all.slice(0, length)] : [];
    this.size = Math.min(length, this.size);
  }

  /** The power goes out: the write in flight is lost. */
  cut() {
    this.epoch++;
    this.writing = null;
  }
}
