// The memory high-watermark: above it publishers get connection.blocked, below
// it connection.unblocked. It measures what the engine holds for its queues
// (message bodies plus a per-message overhead), not the resident set: the
// WebAssembly memory never shrinks once grown, so the resident set would keep
// publishers blocked after the queues drained. A check a second is enough:
// queues grow far more slowly than that.
import os from 'node:os';

const CHECK_MS = 1000;

/** The limit in bytes for a `{ fraction }` of RAM (or of the cgroup's limit) or `{ bytes }`. */
export function watermarkBytes(watermark) {
  if (!watermark) return null;
  if (watermark.bytes) return watermark.bytes;
  const constrained = process.constrainedMemory?.() || Infinity;
  return Math.floor(watermark.fraction * Math.min(os.totalmem(), constrained));
}

/**
 * Starts the check; returns a function that stops it, with `limit` (bytes or
 * null) and `blocked` (whether publishers are blocked now) on it.
 */
export function memoryAlarm(broker, watermark, log, held = () => broker.heldBytes()) {
  const limit = watermarkBytes(watermark);
  if (!limit) return Object.assign(() => {}, { limit: null, blocked: false });
  const size = (n) => (n < 2 ** 20 ? `${Math.round(n / 2 ** 10)} KiB` : `${Math.round(n / 2 ** 20)} MiB`);
  let blocked = false;
  const check = () => {
    const used = held();
    if (used > limit === blocked) return;
    blocked = !blocked;
    broker.setBlocked(blocked ? 'low on memory' : null);
    log(
      'warn',
      `queued messages hold ${size(used)}, ${blocked ? 'above' : 'below'} the high watermark of ${size(limit)}: publishers ${blocked ? 'blocked' : 'unblocked'}`,
    );
  };
  const timer = setInterval(check, CHECK_MS);
  timer.unref();
  const stop = () => clearInterval(timer);
  return Object.defineProperties(stop, {
    limit: { value: limit },
    blocked: { get: () => blocked },
  });
}
