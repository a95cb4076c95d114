// Two Worlds driven as one feed by the time controls: every advance moves
// both clocks by the same page time, and an input runs on both sides between
// advances, so the two brokers stay in step on one clock.

export class PairFeed {
  constructor(worlds) {
    this.worlds = worlds;
    this.moving = null;
    this.inputs = [];
  }

  now() {
    return this.worlds[0].now();
  }

  get waiting() {
    return this.worlds.reduce((n, w) => n + w.waiting, 0);
  }

  async advance(ms) {
    if (this.moving) return this.moving;
    this.moving = (async () => {
      // The same whole milliseconds for both (World.advance carries fractions per world).
      for (const w of this.worlds) await w.advance(ms);
      await this.#runInputs();
    })();
    try {
      await this.moving;
    } finally {
      this.moving = null;
    }
    return undefined;
  }

  /** Runs `fn(world, index)` on each side at the same page time: after the advance under way, if any. */
  async input(fn) {
    this.inputs.push(fn);
    if (this.moving) return this.moving;
    return this.#runInputs();
  }

  async #runInputs() {
    while (this.inputs.length) {
      const fn = this.inputs.shift();
      for (const [i, w] of this.worlds.entries()) await fn(w, i);
    }
  }

  applyAll() {
    let n = 0;
    for (const w of this.worlds) n += w.applyAll();
    return n;
  }

  /**
   * One event: the next waiting one, left side first; with none waiting, both
   * clocks move to the earlier of their next timers.
   */
  async step() {
    if (this.waiting === 0) {
      const dues = this.worlds.map((w) => w.clock.nextDue()).filter((d) => d !== null);
      if (!dues.length) return null;
      const end = Math.min(...dues);
      for (const w of this.worlds) await w.advanceTo(Math.max(end, w.clock.now()));
      await new Promise((r) => setTimeout(r, 0));
    }
    for (const w of this.worlds) if (w.waiting > 0) return w.step();
    return null;
  }
}
