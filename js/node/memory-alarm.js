// The memory high-watermark: above it publishers get connection.blocked, below
// it connection.unblocked. A low-frequency check of the resident set is enough:
// memory grows with what is queued, which takes far longer than a second.
import os from 'node:os';

const CHECK_MS = 1000;

/** The limit in bytes for a `{ fraction }` of RAM (or of the cgroup's limit) or `{ bytes }`. */
export function watermarkBytes(watermark) {
  if (!watermark) return null;
  if (watermark.bytes) return watermark.bytes;
  const constrained = process.constrainedMemory?.() || Infinity;
  return Math.floor(watermark.fraction * Math.min(os.totalmem(), constrained));
}

/** Starts the check; returns a function that stops it. */
export function memoryAlarm(broker, watermark, log, rss = () => process.memoryUsage.rss()) {
  const limit = watermarkBytes(watermark);
  if (!limit) return () => {};
  const mib = (n) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  let blocked = false;
  const check = () => {
    const used = rss();
    if (used > limit === blocked) return;
    blocked = !blocked;
    broker.setBlocked(blocked ? 'low on memory' : null);
    log('warn', `memory ${mib(used)} is ${blocked ? 'above' : 'below'} the high watermark of ${mib(limit)}: publishers ${blocked ? 'blocked' : 'unblocked'}`);
  };
  const timer = setInterval(check, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
