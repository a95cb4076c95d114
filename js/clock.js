// Clocks: the engine never reads time; the host passes `now` into every call
// and wakes the engine at its next deadline through `at`.

// setTimeout takes at most 2^31-1 ms; a later deadline wakes early and re-arms.
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Wall-clock time (ms since the epoch) and real timers. One setTimeout, set
 * for the earliest callback, serves them all: the engine's next deadline
 * often moves a little later (a heartbeat's, after each write to a
 * connection), and its timer is cancelled and set again each time; here that
 * changes a list entry, and the setTimeout is set again only for an earlier
 * deadline or once it fires.
 */
export class RealClock {
  /** callbacks not yet run: { at, fn } */
  #pending = [];
  #timer = null;
  /** what #timer was set for (Infinity: none) */
  #timerAt = Infinity;
  #sweepQueued = false;

  now() {
    return Date.now();
  }

  at(at, fn) {
    const t = { at, fn };
    this.#pending.push(t);
    if (at < this.#timerAt) this.#arm(at);
    return () => {
      // Cancelled, it does not run even if it is already due in this #fire.
      t.fn = null;
      const i = this.#pending.indexOf(t);
      if (i < 0) return;
      this.#pending.splice(i, 1);
      // A cancel is mostly followed at once by the next deadline's `at`; if
      // none comes, the timer goes (it would keep a Node process alive).
      if (this.#pending.length === 0 && !this.#sweepQueued) {
        this.#sweepQueued = true;
        queueMicrotask(() => {
          this.#sweepQueued = false;
          if (this.#pending.length === 0) this.#disarm();
        });
      }
    };
  }

  #arm(at) {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.min(MAX_DELAY, Math.max(0, at - Date.now())));
  }

  #disarm() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  /** Runs what the timer was set for and anything else due by then, in order of time; sets it for the rest. */
  #fire() {
    const due = Math.max(this.#timerAt, Date.now());
    this.#timer = null;
    this.#timerAt = Infinity;
    const run = this.#pending.filter((t) => t.at <= due).sort((a, b) => a.at - b.at);
    this.#pending = this.#pending.filter((t) => t.at > due);
    // One callback's failure leaves the others run and the timer set.
    let failed = null;
    for (const t of run) {
      try {
        t.fn?.();
      } catch (e) {
        failed ??= e;
      }
    }
    if (this.#timer === null && this.#pending.length > 0) {
      this.#arm(Math.min(...this.#pending.map((t) => t.at)));
    }
    if (failed) throw failed;
  }
}

/** A clock that moves only when told: for tests and the tutorial's time controls. */
export class ManualClock {
  #now;
  /** pending timers: { at, fn, seq } */
  #timers = [];
  #seq = 0;

  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new TypeError(`ManualClock: start must be a finite number (got ${start})`);
    this.#now = start;
  }

  now() {
    return this.#now;
  }

  at(at, fn) {
    const t = { at, fn, seq: this.#seq++ };
    this.#timers.push(t);
    return () => {
      const i = this.#timers.indexOf(t);
      if (i >= 0) this.#timers.splice(i, 1);
    };
  }

  /** Moves time forward by `ms`, running what falls due, in order, each at its own time. */
  advance(ms) {
    if (!(ms >= 0)) throw new TypeError(`ManualClock.advance: ms must be a number >= 0 (got ${ms})`);
    this.#runUntil(this.#now + ms);
  }

  /** Jumps to `now` (never backwards), running what falls due on the way. */
  set(now) {
    if (!Number.isFinite(now)) throw new TypeError(`ManualClock.set: now must be a finite number (got ${now})`);
    if (now > this.#now) this.#runUntil(now);
  }

  #runUntil(end) {
    // A timer may schedule another that is also due: keep going, but not forever.
    for (let runs = 0; runs < 1_000_000; runs++) {
      let next = null;
      for (const t of this.#timers) {
        if (t.at <= end && (next === null || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (next === null) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      if (next.at > this.#now) this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }
}
