// The broker's Clock on a Durable Object: timers live in memory and the
// earliest of them is the object's alarm. A pending setTimeout would keep the
// object from hibernating; an alarm wakes it (rebuilding the broker from
// storage if it slept) and alarm() runs what is due.

export class AlarmClock {
  #storage;
  #timers = new Set();
  /** when the stored alarm goes off, as far as this instance knows; null: none */
  #armed;
  /** called with a failed setAlarm */
  onerror = null;
  /** setAlarm calls (storage writes), for the debug view */
  writes = 0;

  /** `armedAt`: the stored alarm (getAlarm()) when this instance started. */
  constructor(storage, armedAt = null) {
    this.#storage = storage;
    this.#armed = armedAt;
  }

  now() {
    return Date.now();
  }

  at(at, fn) {
    const t = { at, fn };
    this.#timers.add(t);
    this.#arm();
    // A cancelled timer leaves the alarm set: it goes off early, finds
    // nothing due and moves on. Cheaper than a storage write per cancel.
    return () => this.#timers.delete(t);
  }

  /** The alarm went off: runs what is due, then sets the alarm for the rest. */
  fire() {
    this.#armed = null;
    const now = Date.now();
    const due = [...this.#timers].filter((t) => t.at <= now).sort((a, b) => a.at - b.at);
    for (const t of due) {
      if (!this.#timers.delete(t)) continue; // cancelled by an earlier one
      t.fn();
    }
    this.#arm();
  }

  /** Timers pending, for the debug view. */
  get pending() {
    return this.#timers.size;
  }

  #arm() {
    let earliest = Infinity;
    for (const t of this.#timers) earliest = Math.min(earliest, t.at);
    if (earliest === Infinity || (this.#armed !== null && this.#armed <= earliest)) return;
    this.#armed = earliest;
    this.writes++;
    this.#storage.setAlarm(earliest).catch((e) => this.onerror?.(e));
  }
}
