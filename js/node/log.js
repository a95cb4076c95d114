// One line per event on stdout: time, level, message. Tests and operators grep it.
const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 };

/** A `log(level, message)` function that drops levels above `level`. */
export function createLogger(level = 'info', stream = process.stdout) {
  const max = LEVELS[level] ?? LEVELS.info;
  const log = (lvl, message) => {
    if ((LEVELS[lvl] ?? 0) > max) return;
    stream.write(`${new Date().toISOString()} ${lvl.padEnd(5)} ${message}\n`);
  };
  log.enabled = (lvl) => (LEVELS[lvl] ?? 0) <= max;
  return log;
}
