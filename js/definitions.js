// Definitions in RabbitMQ's JSON format (what `rabbitmqctl export_definitions`
// and GET /api/definitions produce): vhosts, users, permissions, policies,
// exchanges, queues and bindings. Export reads the engine's topology; import
// goes through the same front door as any client (an in-process connection per
// vhost) and setPolicy, so every check and error text is the engine's.

const SECTIONS = [
  'users',
  'vhosts',
  'permissions',
  'topic_permissions',
  'parameters',
  'global_parameters',
  'policies',
  'queues',
  'exchanges',
  'bindings',
];

/** A definitions file that does not have RabbitMQ's shape: `path` says where. */
export class DefinitionsError extends Error {
  constructor(path, message) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'DefinitionsError';
    this.path = path;
  }
}

const base64 = (bytes) => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ password)), 4-byte salt. */
export async function passwordHash(password, salt = crypto.getRandomValues(new Uint8Array(4))) {
  const pw = new TextEncoder().encode(password);
  const input = new Uint8Array(salt.length + pw.length);
  input.set(salt);
  input.set(pw, salt.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  const out = new Uint8Array(salt.length + digest.length);
  out.set(salt);
  out.set(digest, salt.length);
  return base64(out);
}

/**
 * The definitions of `broker` as RabbitMQ writes them: its users with their
 * tags and permissions, each with a password hash (a user configured with a
 * plain password, in `plain` ({ name: password }), is hashed now with a
 * random salt, as RabbitMQ stores it).
 */
export async function exportDefinitions(broker, { plain = {}, version = '' } = {}) {
  const t = broker._topology();
  const vhostNames = t.vhosts;
  const limits = broker.vhostLimits();
  const out = {
    product_name: 'Warren',
    product_version: version,
    users: [],
    // RabbitMQ 3.10 lists a vhost's limits as pairs there and imports them
    // from `parameters` (component vhost-limits).
    vhosts: vhostNames.map((name) => ({
      name,
      limits: Object.entries(limits.find((l) => l.vhost === name)?.value ?? {}),
      metadata: { description: '', tags: [] },
    })),
    permissions: [],
    topic_permissions: [],
    parameters: limits.map((l) => ({ vhost: l.vhost, component: 'vhost-limits', name: 'limits', value: l.value })),
    global_parameters: [],
    policies: broker.policies().map((p) => ({
      vhost: p.vhost,
      name: p.name,
      pattern: p.pattern,
      'apply-to': p.applyTo,
      definition: p.definition,
      priority: p.priority,
    })),
    queues: t.queues.map(({ exclusive: _exclusive, ...q }) => q),
    exchanges: t.exchanges,
    bindings: t.bindings,
  };
  for (const u of broker.users()) {
    const hash = u.passwordHash || (plain[u.name] !== undefined ? await passwordHash(plain[u.name]) : '');
    out.users.push({
      name: u.name,
      password_hash: hash,
      hashing_algorithm: 'rabbit_password_hashing_sha256',
      tags: u.tags,
      limits: {},
    });
    for (const p of u.permissions) {
      out.permissions.push({ user: u.name, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read });
    }
  }
  return out;
}

// ---- shape checks, with the path of what is wrong --------------------------------

function tagList(tags, path) {
  if (typeof tags === 'string')
    return tags
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  if (Array.isArray(tags) && tags.every((t) => typeof t === 'string')) return tags;
  throw new DefinitionsError(path, 'must be an array of strings or a comma-separated string');
}

function check(defs) {
  if (defs === null || typeof defs !== 'object' || Array.isArray(defs))
    throw new DefinitionsError('', 'definitions must be a JSON object');
  for (const s of SECTIONS) {
    if (defs[s] !== undefined && !Array.isArray(defs[s])) throw new DefinitionsError(s, 'must be an array');
  }
  const items = (section) => (defs[section] ?? []).map((item, i) => [item, `${section}[${i}]`]);
  const field = (item, path, key, type, { optional = false, def } = {}) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      throw new DefinitionsError(path, 'must be an object');
    const v = item[key];
    if (v === undefined && optional) return def;
    const ok = type === 'object' ? v !== null && typeof v === 'object' && !Array.isArray(v) : typeof v === type;
    if (!ok) throw new DefinitionsError(`${path}.${key}`, `must be ${type === 'object' ? 'an object' : `a ${type}`}`);
    return v;
  };
  const vhost = (item, path) => field(item, path, 'vhost', 'string');
  const out = {
    vhosts: [],
    policies: [],
    queues: [],
    exchanges: [],
    bindings: [],
    users: [],
    permissions: null,
    limits: [],
  };
  for (const [v, path] of items('vhosts')) out.vhosts.push({ name: field(v, path, 'name', 'string'), path });
  for (const [u, path] of items('users')) {
    out.users.push({
      path,
      name: field(u, path, 'name', 'string'),
      password: field(u, path, 'password', 'string', { optional: true }),
      passwordHash: field(u, path, 'password_hash', 'string', { optional: true }),
      hashingAlgorithm: field(u, path, 'hashing_algorithm', 'string', { optional: true }),
      // RabbitMQ writes tags as an array (3.9+) or a comma-separated string.
      tags: tagList(u.tags ?? [], `${path}.tags`),
    });
  }
  out.permissions = items('permissions').map(([p, path]) => ({
    path,
    user: field(p, path, 'user', 'string'),
    vhost: vhost(p, path),
    configure: field(p, path, 'configure', 'string', { optional: true, def: '' }),
    write: field(p, path, 'write', 'string', { optional: true, def: '' }),
    read: field(p, path, 'read', 'string', { optional: true, def: '' }),
  }));
  // Of the runtime parameters only vhost limits mean something here.
  for (const [p, path] of items('parameters')) {
    if (field(p, path, 'component', 'string') !== 'vhost-limits') continue;
    const value = field(p, path, 'value', 'object');
    for (const [name, v] of Object.entries(value)) {
      if (!Number.isInteger(v)) throw new DefinitionsError(`${path}.value.${name}`, 'must be an integer');
      out.limits.push({ path, vhost: vhost(p, path), name, value: v });
    }
  }
  for (const [p, path] of items('policies')) {
    const applyTo = field(p, path, 'apply-to', 'string', { optional: true, def: 'all' });
    out.policies.push({
      path,
      vhost: vhost(p, path),
      name: field(p, path, 'name', 'string'),
      pattern: field(p, path, 'pattern', 'string'),
      applyTo,
      priority: field(p, path, 'priority', 'number', { optional: true, def: 0 }),
      definition: field(p, path, 'definition', 'object'),
    });
  }
  for (const [q, path] of items('queues')) {
    const args = field(q, path, 'arguments', 'object', { optional: true, def: {} });
    // Later RabbitMQ versions write a queue's type beside its arguments.
    const type = field(q, path, 'type', 'string', { optional: true, def: 'classic' });
    out.queues.push({
      path,
      vhost: vhost(q, path),
      name: field(q, path, 'name', 'string'),
      durable: field(q, path, 'durable', 'boolean', { optional: true, def: true }),
      autoDelete: field(q, path, 'auto_delete', 'boolean', { optional: true, def: false }),
      args: type === 'classic' || 'x-queue-type' in args ? args : { ...args, 'x-queue-type': type },
    });
  }
  for (const [x, path] of items('exchanges')) {
    out.exchanges.push({
      path,
      vhost: vhost(x, path),
      name: field(x, path, 'name', 'string'),
      type: field(x, path, 'type', 'string'),
      durable: field(x, path, 'durable', 'boolean', { optional: true, def: true }),
      autoDelete: field(x, path, 'auto_delete', 'boolean', { optional: true, def: false }),
      internal: field(x, path, 'internal', 'boolean', { optional: true, def: false }),
      args: field(x, path, 'arguments', 'object', { optional: true, def: {} }),
    });
  }
  for (const [b, path] of items('bindings')) {
    const type = field(b, path, 'destination_type', 'string');
    if (type !== 'queue' && type !== 'exchange')
      throw new DefinitionsError(`${path}.destination_type`, `must be "queue" or "exchange", not "${type}"`);
    out.bindings.push({
      path,
      vhost: vhost(b, path),
      source: field(b, path, 'source', 'string'),
      destination: field(b, path, 'destination', 'string'),
      toQueue: type === 'queue',
      routingKey: field(b, path, 'routing_key', 'string', { optional: true, def: '' }),
      args: field(b, path, 'arguments', 'object', { optional: true, def: {} }),
    });
  }
  return out;
}

/**
 * Loads definitions into `broker`: users (a password hash from RabbitMQ logs
 * in with the same password; permissions become the vhosts a user may
 * open), vhosts, policies, exchanges, queues, then bindings (RabbitMQ's
 * order). Existing objects must be equivalent, as on a redeclare. Throws a
 * DefinitionsError naming the entry (`queues[3]`) and the engine's reason.
 */
export async function importDefinitions(broker, defs) {
  const d = check(defs);
  for (const v of d.vhosts) {
    try {
      broker._addVhost(v.name);
    } catch (e) {
      throw new DefinitionsError(v.path, e.message);
    }
  }
  for (const u of d.users) {
    if (u.hashingAlgorithm !== undefined && u.hashingAlgorithm !== 'rabbit_password_hashing_sha256')
      throw new DefinitionsError(
        u.path,
        `hashing_algorithm '${u.hashingAlgorithm}' is not supported (only rabbit_password_hashing_sha256)`,
      );
    try {
      broker.putUser(u.name, { password: u.password, passwordHash: u.passwordHash || undefined, tags: u.tags });
    } catch (e) {
      throw new DefinitionsError(u.path, e.message);
    }
  }
  for (const p of d.permissions) {
    try {
      broker.setPermissions(p.user, p.vhost, p);
    } catch (e) {
      throw new DefinitionsError(p.path, e.message);
    }
  }
  for (const p of d.policies) {
    try {
      broker.setPolicy(p.name, {
        vhost: p.vhost,
        pattern: p.pattern,
        applyTo: p.applyTo,
        priority: p.priority,
        definition: p.definition,
      });
    } catch (e) {
      throw new DefinitionsError(p.path, e.message);
    }
  }
  // RabbitMQ imports as the broker itself, past every permission: here a
  // login of the import's own, allowed everything in each vhost it touches,
  // and removed afterwards.
  const importer = `definitions-import-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const secret = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16)).join('');
  broker.putUser(importer, { password: secret, tags: [] });
  const channels = new Map();
  const channel = async (vhost) => {
    let ch = channels.get(vhost);
    if (!ch || ch.closed) {
      broker.setPermissions(importer, vhost, { configure: '.*', write: '.*', read: '.*' });
      const conn = await broker.connect({ vhost, name: 'definitions', username: importer, password: secret });
      ch = await conn.channel();
      channels.set(vhost, ch);
    }
    return ch;
  };
  const run = async (entry, what, fn) => {
    try {
      await fn(await channel(entry.vhost));
    } catch (e) {
      throw new DefinitionsError(entry.path, `${what} in vhost '${entry.vhost}': ${e.message}`);
    }
  };
  try {
    for (const x of d.exchanges) {
      await run(x, `exchange '${x.name}'`, (ch) =>
        ch.exchangeDeclare(
          x.name,
          x.type,
          { durable: x.durable, autoDelete: x.autoDelete, internal: x.internal },
          x.args,
        ),
      );
    }
    for (const q of d.queues) {
      await run(q, `queue '${q.name}'`, (ch) =>
        ch.queueDeclare(q.name, { durable: q.durable, autoDelete: q.autoDelete, exclusive: false }, q.args),
      );
    }
    for (const b of d.bindings) {
      await run(b, `binding of '${b.destination}' to '${b.source}'`, (ch) =>
        b.toQueue
          ? ch.queueBind(b.destination, b.source, b.routingKey, b.args)
          : ch.exchangeBind(b.destination, b.source, b.routingKey, b.args),
      );
    }
  } finally {
    for (const ch of channels.values()) await ch.connection.close().catch(() => {});
    broker.deleteUser(importer);
  }
  // Limits last: the queues of an export and the import's own connection
  // are not refused by the limits the same file sets.
  for (const l of d.limits) {
    try {
      broker.setVhostLimit(l.vhost, l.name, l.value);
    } catch (e) {
      throw new DefinitionsError(l.path, e.message);
    }
  }
  return {
    users: d.users.length,
    vhosts: d.vhosts.length,
    limits: d.limits.length,
    policies: d.policies.length,
    exchanges: d.exchanges.length,
    queues: d.queues.length,
    bindings: d.bindings.length,
  };
}

/** Line and column (1-based) of a character offset in `text`. */
function lineColumn(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/**
 * Parses a definitions file's text; a syntax error names the line, column
 * and character offset, then what the parser expected.
 */
export function parseDefinitions(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /at position (\d+)/.exec(e.message);
    const at = m ? Number(m[1]) : text.length;
    const { line, column } = lineColumn(text, at);
    const what = e.message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '');
    throw new DefinitionsError(`line ${line}, column ${column} (offset ${at})`, what);
  }
}
