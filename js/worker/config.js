// This host's settings: the platform's limits, and what a deployment may set
// through its environment (wrangler.toml [vars] or secrets).

// What the platform allows, and where the broker stops short of it.
export const PLATFORM = {
  // One isolate's memory; objects of one namespace may share an isolate.
  isolateMemory: 128 * 1024 * 1024,
  // A WebSocket message received by a Worker: 32 MiB (1 MiB on older runtimes).
  // amqp-client.js sends a whole publish as one message.
  wsMessage: 32 * 1024 * 1024,
};

export const DEFAULTS = {
  // Bodies above this get 406 PRECONDITION_FAILED. A body is copied a few
  // times on its way in (message, engine, store record, storage value), so
  // it stays far below the isolate's memory.
  maxMessageSize: 1024 * 1024,
  // 0: no heartbeats, so idle connections let the object hibernate.
  heartbeat: 0,
  // Estimated bytes queued in the broker's memory (paged messages are in
  // storage, not counted) above which publishers are blocked.
  maxQueuedBytes: 48 * 1024 * 1024,
  // A queue's messages in memory before runs of them are paged to storage
  // (pages of at most a quarter of it, 1 MiB at most).
  pageBudget: 4 * 1024 * 1024,
  // The runtime evicts an object about 10 s after its last event; the image
  // must be written before that, and not after every burst of traffic.
  imageAfterMs: 2000,
};

const int = (v, name, min, max) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name} must be an integer from ${min} to ${max} (got ${v})`);
  return n;
};

const onOff = (v, name, dflt) => {
  if (v === undefined) return dflt;
  if (v === 'on' || v === 'off') return v === 'on';
  throw new Error(`${name} must be "on" or "off" (got ${v})`);
};

const list = (text) =>
  String(text)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * Options from env:
 * - WARREN_USERS: JSON { "name": { "password": "..." | "passwordHash": "...",
 *   "tags": [...], "permissions": { "/": { "configure", "write", "read" } } } }
 *   (default guest/guest)
 * - WARREN_LOOPBACK_USERS: users who may only log in from this machine, which
 *   no client of a deployed Worker is (default guest, as RabbitMQ; "none" for nobody)
 * - WARREN_HEARTBEAT: seconds (default 0)
 * - WARREN_MAX_MESSAGE_SIZE: bytes (default 1 MiB)
 * - WARREN_MAX_QUEUED_BYTES: bytes in memory (default 48 MiB)
 * - WARREN_PAGE_BUDGET: bytes a queue's messages take in memory before they
 *   are paged to the object's storage (default 4 MiB)
 * - WARREN_COMPACT_AFTER_BYTES: log bytes after which it is compacted (default:
 *   twice the last compaction, at least 8 MiB); a compacted log names paged
 *   runs instead of holding their messages
 * - WARREN_WS_ORIGINS: comma-separated Origins allowed; "self", "*" (default self)
 * - WARREN_HIBERNATION: "on" (default): WebSockets through the Hibernation
 *   API, so an object with idle connections can be evicted and resume from its
 *   image; "off": sockets accepted in memory, each client message costing the
 *   runtime about half as much CPU, but the object then stays in memory (and
 *   billed for its duration) while any socket is open
 * - WARREN_DEBUG: "1" serves /debug/<vhost> (cold-start time, alarm count, snapshot)
 * - WARREN_IMAGE_AFTER_MS: idle time after which the broker's image is written (default 2000)
 * - WARREN_TEST_FAULTS: "1" for tests only: POST /test-faults/<vhost> makes the
 *   object's store writes fail (js/worker/faulty-storage.js)
 */
export function hostConfig(env = {}) {
  let users = { guest: { password: 'guest' } };
  if (env.WARREN_USERS) {
    try {
      users = JSON.parse(env.WARREN_USERS);
    } catch (e) {
      throw new Error(`WARREN_USERS is not valid JSON: ${e.message}`);
    }
  }
  const loopback = env.WARREN_LOOPBACK_USERS ?? 'guest';
  return {
    users,
    loopbackUsers: loopback === 'none' ? [] : list(loopback),
    heartbeat:
      env.WARREN_HEARTBEAT === undefined ? DEFAULTS.heartbeat : int(env.WARREN_HEARTBEAT, 'WARREN_HEARTBEAT', 0, 65535),
    maxMessageSize:
      env.WARREN_MAX_MESSAGE_SIZE === undefined
        ? DEFAULTS.maxMessageSize
        : int(env.WARREN_MAX_MESSAGE_SIZE, 'WARREN_MAX_MESSAGE_SIZE', 4096, PLATFORM.wsMessage - 64 * 1024),
    maxQueuedBytes:
      env.WARREN_MAX_QUEUED_BYTES === undefined
        ? DEFAULTS.maxQueuedBytes
        : int(env.WARREN_MAX_QUEUED_BYTES, 'WARREN_MAX_QUEUED_BYTES', 1024 * 1024, PLATFORM.isolateMemory),
    pageBudget:
      env.WARREN_PAGE_BUDGET === undefined
        ? DEFAULTS.pageBudget
        : int(env.WARREN_PAGE_BUDGET, 'WARREN_PAGE_BUDGET', 1024, PLATFORM.isolateMemory),
    compactAfterBytes:
      env.WARREN_COMPACT_AFTER_BYTES === undefined
        ? undefined
        : int(env.WARREN_COMPACT_AFTER_BYTES, 'WARREN_COMPACT_AFTER_BYTES', 64 * 1024, 2 ** 31),
    origins: (env.WARREN_WS_ORIGINS ?? 'self')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    debug: env.WARREN_DEBUG === '1',
    hibernation: onOff(env.WARREN_HIBERNATION, 'WARREN_HIBERNATION', true),
    testFaults: env.WARREN_TEST_FAULTS === '1',
    imageAfterMs:
      env.WARREN_IMAGE_AFTER_MS === undefined
        ? DEFAULTS.imageAfterMs
        : int(env.WARREN_IMAGE_AFTER_MS, 'WARREN_IMAGE_AFTER_MS', 100, 8000),
  };
}

/**
 * Broker options for the object that holds `vhost`: users keep their tags and
 * their permissions there; a user given without permissions may do anything
 * in the vhosts it lists (all when it lists none).
 */
export function brokerOptions(config, vhost) {
  const users = {};
  for (const [name, u] of Object.entries(config.users)) {
    const entry = { tags: u.tags };
    if (u.passwordHash !== undefined) entry.passwordHash = u.passwordHash;
    else if (u.password !== undefined) entry.password = u.password;
    if (u.permissions) entry.permissions = u.permissions[vhost] ? { [vhost]: u.permissions[vhost] } : {};
    else entry.vhosts = !u.vhosts || u.vhosts.includes(vhost) ? [vhost] : [];
    users[name] = entry;
  }
  return {
    users,
    loopbackUsers: config.loopbackUsers,
    vhosts: [vhost],
    limits: { heartbeat: config.heartbeat, maxMessageSize: config.maxMessageSize },
    pageBudget: config.pageBudget,
    compactAfterBytes: config.compactAfterBytes,
    events: false,
  };
}
