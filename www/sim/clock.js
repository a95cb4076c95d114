// The page's clock: the package's ManualClock, which the page advances from
// requestAnimationFrame, plus what "step one event" needs to know: when the
// next timer (the broker's or a simulated consumer's) falls due.

/** A ManualClock subclass; made at run time because the package loads asynchronously. */
export function steppingClockClass(ManualClock) {
  return class SteppingClock extends ManualClock {
    #pending = new Set();

    at(at, fn) {
      const entry = { at };
      this.#pending.add(entry);
      const cancel = super.at(at, () => {
        this.#pending.delete(entry);
        fn();
      });
      return () => {
        this.#pending.delete(entry);
        cancel();
      };
    }

    /** The time of the earliest pending timer, or null when nothing is scheduled. */
    nextDue() {
      let next = null;
      for (const e of this.#pending) if (next === null || e.at < next) next = e.at;
      return next;
    }
  };
}

/**
 * A view of `clock` for one broker instance: when that broker is abandoned
 * (the power cut of a simulated restart) its timers stop firing.
 */
export function switchableClock(clock) {
  let on = true;
  return {
    now: () => clock.now(),
    at(at, fn) {
      if (!on) return () => {};
      return clock.at(at, () => on && fn());
    },
    off() {
      on = false;
    },
  };
}
