// The options of `warren-mq serve`: one table drives flag parsing, WARREN_*
// environment variables and --help, so the three never disagree.
import fs from 'node:fs';
import { parseDefinitions } from '../definitions.js';

const KIB = 1024;
const UNITS = { b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: KIB, mib: KIB ** 2, gib: KIB ** 3 };

/** "16MiB", "1.5GB", "4096" -> bytes. */
export function parseBytes(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(text));
  const unit = UNITS[(m?.[2] || 'b').toLowerCase()];
  if (!m || !unit) throw new Error(`not a size: ${text} (use bytes or a unit: KiB, MiB, GiB, KB, MB, GB)`);
  return Math.round(Number(m[1]) * unit);
}

function integer(min, max) {
  return (text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`not an integer in ${min}..${max}: ${text}`);
    return n;
  };
}

const port = integer(0, 65535);

// Above a socket's write high-water mark (16 KiB), so a paused peer always
// gets the 'drain' event that resumes it.
function atLeast(min, parse) {
  return (text) => {
    const n = parse(text);
    if (n < min) throw new Error(`${text} is below the minimum of ${min} bytes`);
    return n;
  };
}
const list = (text) =>
  String(text)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

// Both loopbacks, as RabbitMQ: Node resolves `localhost` to ::1 first on many systems.
export const DEFAULT_HOSTS = '127.0.0.1,::1';

/** Addresses to listen on; `::` or `0.0.0.0` anywhere in the list means every interface. */
function hosts(text) {
  const all = list(text);
  if (!all.length) throw new Error('no address given');
  for (const h of all) {
    if (/[\s/[\]]/.test(h)) throw new Error(`not an address: ${h} (IPv6 addresses go without brackets)`);
  }
  return [...new Set(all)];
}

/** A definitions file, read and parsed now: a bad one stops the start with its path and position. */
function definitionsFile(file) {
  if (file === '' || file === 'none') return null;
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  try {
    return { file, definitions: parseDefinitions(text) };
  } catch (e) {
    throw new Error(`${file}: ${e.message}`);
  }
}

/** "off" / "" -> null, else ms */
function millisOrOff(text) {
  if (text === 'off' || text === '' || text === '0') return null;
  return integer(1, 2 ** 31)(text);
}

/** A fraction of the machine's memory ("0.4") or a size ("512MiB"). */
function watermark(text) {
  const n = Number(text);
  if (Number.isFinite(n) && n > 0 && n < 1) return { fraction: n };
  if (text === 'off') return null;
  return { bytes: parseBytes(text) };
}

const SHA256 = 'rabbit_password_hashing_sha256';

/**
 * Users from RabbitMQ's definitions (`rabbitmqctl export_definitions`, or
 * the management API's /api/definitions): `users` with `password_hash`
 * (rabbit_password_hashing_sha256) or `password`, `tags`, and `permissions`.
 */
export function fromDefinitions(defs, file) {
  const users = {};
  for (const u of defs.users ?? []) {
    if (typeof u?.name !== 'string') throw new Error(`${file}: a user without a name`);
    const algorithm = u.hashing_algorithm ?? SHA256;
    if (u.password_hash !== undefined && algorithm !== SHA256)
      throw new Error(`${file}: user '${u.name}': hashing_algorithm ${algorithm} is not supported (only ${SHA256})`);
    const tags = Array.isArray(u.tags) ? u.tags : String(u.tags ?? '').split(',');
    users[u.name] = {
      ...(u.password !== undefined ? { password: u.password } : {}),
      ...(u.password_hash ? { passwordHash: u.password_hash } : {}),
      tags: tags.map((t) => t.trim()).filter(Boolean),
      permissions: {},
    };
  }
  for (const p of defs.permissions ?? []) {
    const user = users[p.user];
    if (!user) throw new Error(`${file}: permissions for unknown user '${p.user}'`);
    user.permissions[p.vhost] = { configure: p.configure ?? '', write: p.write ?? '', read: p.read ?? '' };
  }
  return users;
}

/**
 * Users as `user:pass[,user:pass]` (every permission on every vhost, tag
 * administrator), or the path of a file holding that (one per line), or JSON:
 * RabbitMQ's definitions (users, permissions), or `{ "user": { "password" |
 * "passwordHash", "tags": [...], "permissions": { "/": { "configure", "write",
 * "read" } } | "vhosts": ["/"] } }`. Errors name the file and the problem.
 */
export function parseUsers(text) {
  let source = String(text);
  // A file when one is there, or when the text cannot be users (no ':').
  if (fs.existsSync(source) || !source.includes(':')) {
    const file = source;
    try {
      source = fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new Error(`cannot read users file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    }
    if (source.startsWith('{')) {
      let json;
      try {
        json = JSON.parse(source);
      } catch (e) {
        throw new Error(`users file ${file} is not valid JSON: ${e.message}`);
      }
      return Array.isArray(json.users) ? fromDefinitions(json, file) : json;
    }
  }
  const users = {};
  for (const entry of source.split(/[,\n]/).map((s) => s.trim())) {
    if (!entry || entry.startsWith('#')) continue;
    const at = entry.indexOf(':');
    if (at <= 0) throw new Error(`a user is name:password, got "${entry}"`);
    users[entry.slice(0, at)] = { password: entry.slice(at + 1) };
  }
  if (!Object.keys(users).length) throw new Error('no users given');
  return users;
}

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];
function logLevel(text) {
  if (!LOG_LEVELS.includes(text)) throw new Error(`log level is one of ${LOG_LEVELS.join(', ')}`);
  return text;
}

// key: property of the parsed options; flag: --name; env: WARREN_NAME.
// `parse` turns the text into a value; `boolean` options take no value.
export const OPTIONS = [
  {
    key: 'host',
    arg: 'LIST',
    def: DEFAULT_HOSTS,
    parse: hosts,
    help: 'addresses to listen on (AMQP and HTTP), comma-separated; :: or 0.0.0.0 for every interface',
  },
  { key: 'port', arg: 'PORT', def: '5672', parse: port, help: 'AMQP over TCP; 0 picks a free port' },
  {
    key: 'httpPort',
    flag: 'http-port',
    arg: 'PORT',
    def: '15670',
    parse: port,
    help: 'HTTP: the page, /api, and AMQP over WebSocket at /ws/amqp; 0 picks a free port',
  },
  {
    key: 'users',
    arg: 'USERS',
    def: 'guest:guest',
    parse: parseUsers,
    help: 'user:pass[,user:pass], or a file of such lines, of RabbitMQ definitions JSON (users with password_hash, permissions), or of JSON {"user":{"password":"...","tags":["management"],"permissions":{"/":{"configure":".*","write":".*","read":".*"}}}}',
  },
  {
    key: 'loopbackUsers',
    flag: 'loopback-users',
    arg: 'LIST',
    def: 'guest',
    parse: (t) => (t === 'none' ? [] : list(t)),
    help: "users who may log in only from this machine (RabbitMQ's loopback_users); none for nobody",
  },
  { key: 'vhosts', arg: 'LIST', def: '/', parse: list, help: 'virtual hosts, comma-separated' },
  {
    key: 'definitions',
    arg: 'FILE',
    def: 'none',
    parse: definitionsFile,
    help: 'RabbitMQ definitions JSON to load at start (vhosts, policies, exchanges, queues, bindings)',
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    arg: 'DIR',
    def: './warren-data',
    help: 'where durable exchanges, queues and persistent messages are kept',
  },
  { key: 'memory', boolean: true, def: 'false', help: 'keep nothing on disk (no data directory)' },
  {
    key: 'maxMessageSize',
    flag: 'max-message-size',
    arg: 'SIZE',
    def: '128MiB',
    parse: parseBytes,
    help: 'largest message body accepted',
  },
  {
    key: 'frameMax',
    flag: 'frame-max',
    arg: 'BYTES',
    def: '131072',
    parse: integer(4096, 2 ** 32 - 1),
    help: 'largest frame offered to clients',
  },
  {
    key: 'heartbeat',
    arg: 'SECS',
    def: '60',
    parse: integer(0, 65535),
    help: 'heartbeat offered to clients; 0 disables',
  },
  {
    key: 'channelMax',
    flag: 'channel-max',
    arg: 'N',
    def: '2047',
    parse: integer(1, 65535),
    help: 'highest channel number a connection may open',
  },
  {
    key: 'maxConnections',
    flag: 'max-connections',
    arg: 'N',
    def: '0',
    parse: integer(0, 2 ** 31 - 1),
    help: "most AMQP connections at once, TCP, TLS and WebSocket together (RabbitMQ's connection_max); more are closed at once; 0: no limit",
  },
  {
    key: 'maxQueuedBytes',
    flag: 'max-queued-bytes',
    arg: 'SIZE',
    def: '16MiB',
    parse: atLeast(64 * KIB, parseBytes),
    help: 'unsent bytes per connection before reading from it and deliveries to it pause (at least 64KiB)',
  },
  {
    key: 'wsOrigins',
    flag: 'ws-origins',
    arg: 'LIST',
    def: 'self',
    parse: list,
    help: 'Origin headers allowed on /ws/amqp, comma-separated; "self" is this server\'s page, "*" any; clients that send no Origin are always allowed',
  },
  {
    key: 'pageBudget',
    flag: 'page-budget',
    arg: 'SIZE',
    def: '4MiB',
    parse: parseBytes,
    help: "memory a queue's messages take before runs of them are paged to page files in the data directory and read back ahead of consumers (not with --memory)",
  },
  {
    key: 'memoryHighWatermark',
    flag: 'memory-high-watermark',
    arg: 'LIMIT',
    def: '0.4',
    parse: watermark,
    help: 'block publishers while queued messages held in memory (not those paged to disk) take more than this: a fraction of RAM, a size (1GiB), or off',
  },
  {
    key: 'consumerTimeout',
    flag: 'consumer-timeout',
    arg: 'MS',
    def: 'off',
    parse: millisOrOff,
    help: 'a delivery unacked this long cancels its consumer and is requeued (406 channel close for clients without cancel notifications); off for none',
  },
  {
    key: 'tlsCert',
    flag: 'tls-cert',
    arg: 'FILE',
    def: '',
    help: 'PEM certificate (with its chain) for amqps on --tls-port and https/wss on the HTTP port',
  },
  { key: 'tlsKey', flag: 'tls-key', arg: 'FILE', def: '', help: 'PEM private key of --tls-cert' },
  {
    key: 'tlsCa',
    flag: 'tls-ca',
    arg: 'FILE',
    def: '',
    help: 'PEM CA certificates: amqps clients must present a certificate it signed; EXTERNAL logs in as its CN',
  },
  {
    key: 'tlsVerify',
    flag: 'tls-verify',
    arg: 'MODE',
    def: 'require',
    parse: (t) => {
      if (t !== 'require' && t !== 'peer') throw new Error(`expected require or peer, not ${t}`);
      return t;
    },
    help: "with --tls-ca: require refuses clients without a valid certificate; peer verifies one if presented and lets the others log in with a password (RabbitMQ's fail_if_no_peer_cert true / false)",
  },
  {
    key: 'tlsPort',
    flag: 'tls-port',
    arg: 'PORT',
    def: '5671',
    parse: port,
    help: 'amqps (AMQP over TLS), when --tls-cert is given; 0 picks a free port',
  },
  {
    key: 'metricsPublic',
    flag: 'metrics-public',
    boolean: true,
    def: 'false',
    help: 'serve /metrics without authentication (for a Prometheus scraper on a private network)',
  },
  {
    key: 'statsInterval',
    flag: 'stats-interval',
    arg: 'MS',
    def: '5000',
    parse: integer(100, 3_600_000),
    help: "how often the management API's rates (*_details.rate) are sampled, as RabbitMQ's collect_statistics_interval",
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    arg: 'LEVEL',
    def: 'info',
    parse: logLevel,
    help: 'error, warn, info (connections and errors) or debug',
  },
].map((o) => {
  const flag = o.flag ?? o.key;
  return { ...o, flag, env: `WARREN_${flag.toUpperCase().replaceAll('-', '_')}` };
});

const truthy = (text) => ['1', 'true', 'yes', 'on'].includes(String(text).toLowerCase());

/**
 * The options from `flags` (name -> text, as node:util parseArgs gives them),
 * else `env`, else the defaults. Throws with the option's name on a bad value.
 */
export function resolveOptions(flags, env = process.env) {
  const out = {};
  for (const o of OPTIONS) {
    const [text, from] =
      flags[o.flag] !== undefined
        ? [flags[o.flag], `--${o.flag}`]
        : env[o.env] !== undefined
          ? [env[o.env], o.env]
          : [o.def, `default of --${o.flag}`];
    try {
      out[o.key] = o.boolean
        ? typeof text === 'boolean'
          ? text
          : truthy(text)
        : o.parse
          ? o.parse(text)
          : String(text);
    } catch (e) {
      throw new Error(`${from}: ${e.message}`);
    }
  }
  return out;
}

export function helpText() {
  const rows = OPTIONS.map((o) => [
    `  --${o.flag}${o.boolean ? '' : ` ${o.arg}`}`,
    o.help,
    `default: ${o.def}   env: ${o.env}`,
  ]);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  const pad = ' '.repeat(width);
  return [
    'Usage: warren-mq serve [options]',
    '',
    'Runs an AMQP 0-9-1 broker: AMQP over TCP, AMQP over WebSocket at /ws/amqp on the',
    "HTTP port, the tutorial page, and a management API shaped like RabbitMQ's (/api/...).",
    '',
    'Options (a flag wins over its WARREN_* environment variable, which wins over the default):',
    ...rows.flatMap(([flag, help, def]) => [flag.padEnd(width) + help, pad + def]),
    '  --help'.padEnd(width) + 'show this text',
    '  --version'.padEnd(width) + 'print the version',
    '',
  ].join('\n');
}
