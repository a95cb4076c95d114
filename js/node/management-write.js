// The management API's writes, shaped like RabbitMQ's HTTP API so scripts
// written for it work unchanged: declare and delete queues, exchanges and
// bindings, purge, publish, get, close connections, users, permissions,
// vhosts and their limits. Queue and exchange operations run on an in-process connection
// logged in as the caller, so the engine checks the caller's permissions
// exactly as for an AMQP client.

import { vhostLimitsWrite } from './vhost-api.js';

const TRUE = (v) => v === true || v === 'true';

// RabbitMQ's message properties (snake_case) <-> the JS API's.
const PROPS = {
  content_type: 'contentType',
  content_encoding: 'contentEncoding',
  headers: 'headers',
  delivery_mode: 'deliveryMode',
  priority: 'priority',
  correlation_id: 'correlationId',
  reply_to: 'replyTo',
  expiration: 'expiration',
  message_id: 'messageId',
  timestamp: 'timestamp',
  type: 'type',
  user_id: 'userId',
  app_id: 'appId',
};

class HttpError extends Error {
  constructor(status, error, reason) {
    super(reason);
    this.status = status;
    this.error = error;
  }
}

const bad = (reason) => new HttpError(400, 'bad_request', reason);
const notFound = () => new HttpError(404, 'Object Not Found', 'Not Found');
const notAdmin = () => new HttpError(401, 'not_authorised', 'Not administrator user');

/**
 * An engine error as RabbitMQ's API (3.10) answers it: 401 not_authorised
 * with the AMQP text for a refusal ("Access refused." for a declare), 404
 * Object Not Found, else 400 with the text after the AMQP code name.
 */
function fromAmqp(e, { declare = false } = {}) {
  if (typeof e?.code !== 'number') return e;
  if (e.code === 403) return new HttpError(401, 'not_authorised', declare ? 'Access refused.' : e.message);
  if (e.code === 404) return notFound();
  if (e.code === 530) return new HttpError(401, 'not_authorised', e.message);
  return new HttpError(400, 'bad_request', e.message.replace(/^[A-Z_]+ - /, ''));
}

function propertiesFromApi(p = {}) {
  if (p === null || typeof p !== 'object') throw bad('properties must be an object');
  const out = {};
  for (const [k, v] of Object.entries(p)) {
    const key = PROPS[k];
    if (!key) throw bad(`unknown property '${k}'`);
    out[key] = key === 'timestamp' ? new Date(Number(v) * 1000) : v;
  }
  return out;
}

function propertiesToApi(p = {}) {
  const out = {};
  for (const [k, key] of Object.entries(PROPS)) {
    const v = p[key];
    if (v === undefined) continue;
    out[k] = v instanceof Date ? Math.floor(v.getTime() / 1000) : v;
  }
  return out;
}

function payloadBytes(body) {
  const { payload, payload_encoding: encoding = 'string' } = body;
  if (typeof payload !== 'string') throw bad('payload must be a string');
  if (encoding === 'base64') return Buffer.from(payload, 'base64');
  if (encoding === 'string') return Buffer.from(payload, 'utf8');
  throw bad(`payload_encoding must be string or base64, not ${encoding}`);
}

/** Runs `fn(channel)` on a connection of the caller to `vhost`, then closes it. */
async function asUser(broker, user, vhost, fn, how = {}) {
  if (!broker.vhosts().includes(vhost)) throw notFound();
  let conn;
  try {
    conn = await broker.connect({ vhost, username: user.username, password: user.password, name: 'management' });
  } catch (e) {
    throw fromAmqp(e);
  }
  try {
    const ch = await conn.channel();
    return await fn(ch);
  } catch (e) {
    throw fromAmqp(e, how);
  } finally {
    await conn.close().catch(() => {});
  }
}

// ---- queues and exchanges ----------------------------------------------------

async function putQueue(broker, user, vhost, name, body) {
  return asUser(
    broker,
    user,
    vhost,
    async (ch) => {
      const exists = await ch
        .queueDeclare(name, { passive: true })
        .then(() => true)
        .catch(() => false);
      const ch2 = exists ? ch : await ch.connection.channel();
      await ch2.queueDeclare(
        name,
        { durable: body.durable !== false, autoDelete: TRUE(body.auto_delete), exclusive: false },
        body.arguments ?? {},
      );
      return [exists ? 204 : 201, null];
    },
    { declare: true },
  );
}

async function putExchange(broker, user, vhost, name, body) {
  if (typeof body.type !== 'string') throw bad('type is required');
  return asUser(
    broker,
    user,
    vhost,
    async (ch) => {
      const exists = await ch
        .exchangeDeclare(name, body.type, { passive: true })
        .then(() => true)
        .catch(() => false);
      const ch2 = exists ? ch : await ch.connection.channel();
      await ch2.exchangeDeclare(
        name,
        body.type,
        { durable: body.durable !== false, autoDelete: TRUE(body.auto_delete), internal: TRUE(body.internal) },
        body.arguments ?? {},
      );
      return [exists ? 204 : 201, null];
    },
    { declare: true },
  );
}

// RabbitMQ's API names the default exchange amq.default in its paths.
const exchangeName = (name) => (name === 'amq.default' ? '' : name);

async function publish(broker, user, vhost, exchange, body) {
  exchange = exchangeName(exchange);
  if (typeof body.routing_key !== 'string') throw bad('routing_key is required');
  const bytes = payloadBytes(body);
  const props = propertiesFromApi(body.properties);
  return asUser(broker, user, vhost, async (ch) => {
    let returned = false;
    ch.onReturn = () => (returned = true);
    await ch.confirmSelect();
    await ch.basicPublish(exchange, body.routing_key, bytes, props, true);
    return [200, { routed: !returned }];
  });
}

const ACKMODES = ['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false'];

async function getMessages(broker, user, vhost, queue, body) {
  const count = Number(body.count ?? 1);
  if (!Number.isInteger(count) || count < 1) throw bad('count must be a positive integer');
  const ackmode = body.ackmode ?? 'ack_requeue_true';
  if (!ACKMODES.includes(ackmode)) throw bad(`ackmode must be one of ${ACKMODES.join(', ')}`);
  const encoding = body.encoding ?? 'auto';
  if (!['auto', 'base64'].includes(encoding)) throw bad('encoding must be auto or base64');
  const truncate = body.truncate === undefined ? Infinity : Number(body.truncate);
  return asUser(broker, user, vhost, async (ch) => {
    const got = [];
    for (let i = 0; i < Math.min(count, 10000); i++) {
      const m = await ch.basicGet(queue, { noAck: false });
      if (!m) break;
      got.push(m);
    }
    // Settled once all are fetched, so a requeue does not fetch one twice.
    for (const m of got) {
      if (ackmode === 'ack_requeue_false') await m.ack();
      else await m.nack(ackmode !== 'reject_requeue_false');
    }
    return [
      200,
      got.map((m) => {
        const body = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).subarray(0, truncate);
        const text = body.toString('utf8');
        const printable = encoding === 'auto' && Buffer.from(text, 'utf8').equals(body);
        const properties = propertiesToApi(m.properties);
        return {
          payload_bytes: m.body.byteLength,
          redelivered: m.redelivered,
          exchange: m.exchange,
          routing_key: m.routingKey,
          message_count: m.messageCount,
          // (RabbitMQ writes no properties as an empty list.)
          properties: Object.keys(properties).length ? properties : [],
          payload: printable ? text : body.toString('base64'),
          payload_encoding: printable ? 'string' : 'base64',
        };
      }),
    ];
  });
}

/** A binding's key as RabbitMQ quotes it in a properties key: form-encoded, "~" escaped (it separates the arguments). */
function quoteBinding(text) {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9._-]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The arguments' JSON with keys sorted, so equal tables give equal text. */
const canonical = (v) =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
        .join(',')}}`
    : Array.isArray(v)
      ? `[${v.map(canonical).join(',')}]`
      : JSON.stringify(v);

/** Four bytes of FNV-1a over the arguments, base64url: what tells apart bindings that differ only in them. */
function argsHash(args) {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(canonical(args), 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(h);
  return b.toString('base64url');
}

/**
 * RabbitMQ's "properties key" of a binding, in URLs and /api/bindings: the
 * routing key quoted, "~" for an empty one, and "~" then a hash of the
 * arguments when there are any (RabbitMQ hashes its own term of them, so the
 * hash is Warren's; the rest is as RabbitMQ writes it).
 */
export function propsKey(routingKey, args = {}) {
  if (Object.keys(args).length === 0) return routingKey === '' ? '~' : quoteBinding(routingKey);
  return `${quoteBinding(routingKey)}~${argsHash(args)}`;
}

/** A properties key read back: { key, hash } (hash undefined without arguments); null if it is not one. */
function parsePropsKey(props) {
  const unquote = (t) => decodeURIComponent(t.replace(/\+/g, ' '));
  if (props === '~') return { key: '', hash: undefined };
  const tilde = props.indexOf('~');
  try {
    if (tilde < 0) return { key: unquote(props), hash: undefined };
    if (props.indexOf('~', tilde + 1) >= 0) return null;
    return { key: unquote(props.slice(0, tilde)), hash: props.slice(tilde + 1) };
  } catch {
    return null;
  }
}

async function bindings(broker, user, method, [vhost, srcKind, source, destKind, destination, props], body) {
  if (srcKind !== 'e' || !['q', 'e'].includes(destKind) || destination === undefined) return null;
  const toQueue = destKind === 'q';
  if (method === 'POST' && props === undefined) {
    const key = body.routing_key ?? '';
    if (typeof key !== 'string') throw bad('routing_key must be a string');
    const args = body.arguments ?? {};
    return asUser(broker, user, vhost, async (ch) => {
      if (toQueue) await ch.queueBind(destination, source, key, args);
      else await ch.exchangeBind(destination, source, key, args);
      // As RabbitMQ: relative to the path posted to, destination/props.
      return [201, null, { location: `${encodeURIComponent(destination)}/${propsKey(key, args)}` }];
    });
  }
  if (method === 'DELETE' && props !== undefined) {
    const parsed = parsePropsKey(props);
    if (!parsed) throw bad(`not a binding's properties key: ${props}`);
    // The binding it names, with the arguments to unbind it by.
    const named = () =>
      broker
        ._topology({ exclusive: true })
        .bindings.find(
          (b) =>
            b.vhost === vhost &&
            b.source === source &&
            b.destination === destination &&
            b.destination_type === (toQueue ? 'queue' : 'exchange') &&
            b.routing_key === parsed.key &&
            (parsed.hash === undefined
              ? Object.keys(b.arguments).length === 0
              : propsKey(b.routing_key, b.arguments) === props),
        );
    const found = named();
    if (!found) throw notFound();
    return asUser(broker, user, vhost, async (ch) => {
      if (toQueue) await ch.queueUnbind(destination, source, found.routing_key, found.arguments);
      else await ch.exchangeUnbind(destination, source, found.routing_key, found.arguments);
      // queue.unbind matches arguments with their AMQP types, which JSON does
      // not keep: a byte 1 comes back as the int 1 and matches nothing.
      if (named())
        throw bad(
          "the binding's arguments have AMQP types JSON does not keep (a byte or a long integer); unbind it over AMQP with the table it was bound with",
        );
      return [204, null];
    });
  }
  return null;
}

// ---- users, permissions, vhosts -------------------------------------------------

function tagList(tags) {
  if (tags === undefined) return [];
  if (Array.isArray(tags)) return tags.map(String);
  if (typeof tags === 'string')
    return tags
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  throw bad('tags must be a string or a list');
}

function putUser(broker, name, body) {
  const exists = broker.users().some((u) => u.name === name);
  const hash = body.password_hash;
  const algorithm = body.hashing_algorithm ?? 'rabbit_password_hashing_sha256';
  if (hash !== undefined && algorithm !== 'rabbit_password_hashing_sha256')
    throw bad(`hashing_algorithm ${algorithm} is not supported`);
  if (body.password === undefined && hash === undefined && !exists) throw bad('password or password_hash is required');
  const keep = exists && body.password === undefined && hash === undefined;
  const current = broker.users().find((u) => u.name === name);
  // Kept hashed, as RabbitMQ keeps them.
  const fresh = body.password === undefined ? hash : broker.constructor.hashPassword(String(body.password));
  try {
    broker.putUser(name, {
      passwordHash: keep ? current.passwordHash || undefined : fresh || undefined,
      tags: tagList(body.tags),
    });
  } catch (e) {
    throw bad(e.message);
  }
  return [exists ? 204 : 201, null];
}

export function userView(u) {
  return {
    name: u.name,
    password_hash: u.passwordHash,
    hashing_algorithm: u.hashingAlgorithm,
    tags: u.tags,
    limits: {},
  };
}

export function permissionViews(broker) {
  return broker.users().flatMap((u) =>
    u.permissions.map((p) => ({
      user: u.name,
      vhost: p.vhost,
      configure: p.configure,
      write: p.write,
      read: p.read,
    })),
  );
}

function permissions(broker, method, [vhost, user], body) {
  if (vhost === undefined) return method === 'GET' ? [200, permissionViews(broker)] : null;
  if (user === undefined) {
    return method === 'GET' ? [200, permissionViews(broker).filter((p) => p.vhost === vhost)] : null;
  }
  if (method === 'GET') {
    const p = permissionViews(broker).find((x) => x.vhost === vhost && x.user === user);
    if (!p) throw notFound();
    return [200, p];
  }
  if (method === 'PUT') {
    if (!broker.users().some((u) => u.name === user)) throw bad(`no user '${user}'`);
    if (!broker.vhosts().includes(vhost)) throw bad(`no vhost '${vhost}'`);
    const existed = permissionViews(broker).some((x) => x.vhost === vhost && x.user === user);
    for (const k of ['configure', 'write', 'read'])
      if (typeof body[k] !== 'string') throw bad(`${k} must be a string (a regular expression)`);
    try {
      broker.setPermissions(user, vhost, body);
    } catch (e) {
      throw bad(e.message);
    }
    return [existed ? 204 : 201, null];
  }
  if (method === 'DELETE') {
    if (!broker.clearPermissions(user, vhost)) throw notFound();
    return [204, null];
  }
  return null;
}

/**
 * Answers a write (PUT, POST, DELETE) to /api/...: resolves with [status,
 * body, headers?], or null for a path or method the API does not have.
 * `user`: the authenticated caller (see auth.js); `info.peers`: live
 * transports, each with `close(reason)`.
 */
export async function managementWrite(broker, info, user, method, parts, body) {
  const [what, ...rest] = parts;
  try {
    switch (what) {
      case 'queues': {
        const [vhost, name, action] = rest;
        if (vhost === undefined || name === undefined || rest.length > 3) return null;
        if (method === 'PUT' && action === undefined) return await putQueue(broker, user, vhost, name, body);
        if (method === 'DELETE' && action === undefined) {
          return await asUser(broker, user, vhost, async (ch) => {
            await ch.queueDeclare(name, { passive: true }); // 404 for a queue that is not there
            await ch.queueDelete(name, { ifUnused: TRUE(body['if-unused']), ifEmpty: TRUE(body['if-empty']) });
            return [204, null];
          });
        }
        if (method === 'DELETE' && action === 'contents') {
          return await asUser(broker, user, vhost, async (ch) => {
            await ch.queueDeclare(name, { passive: true });
            await ch.queuePurge(name);
            return [204, null];
          });
        }
        if (method === 'POST' && action === 'get') return await getMessages(broker, user, vhost, name, body);
        if (method === 'POST' && action === 'redrive') {
          if (!broker.vhosts().includes(vhost)) throw notFound();
          try {
            return [202, await info.redrives.start(user, vhost, name, body)];
          } catch (e) {
            if (e instanceof TypeError) throw bad(e.message);
            throw fromAmqp(e);
          }
        }
        return null;
      }
      case 'exchanges': {
        const [vhost, name, action] = rest;
        if (vhost === undefined || name === undefined || rest.length > 3) return null;
        if (method === 'PUT' && action === undefined) return await putExchange(broker, user, vhost, name, body);
        if (method === 'DELETE' && action === undefined) {
          return await asUser(broker, user, vhost, async (ch) => {
            await ch.exchangeDeclare(name, 'direct', { passive: true });
            await ch.exchangeDelete(name, { ifUnused: TRUE(body['if-unused']) });
            return [204, null];
          });
        }
        if (method === 'POST' && action === 'publish') return await publish(broker, user, vhost, name, body);
        return null;
      }
      case 'bindings':
        return await bindings(broker, user, method, rest, body);
      case 'redrives': {
        const [id] = rest;
        if (method !== 'DELETE' || id === undefined || rest.length > 1) return null;
        if (!info.redrives.cancel(id)) throw notFound();
        return [204, null];
      }
      case 'connections': {
        const [name] = rest;
        if (method !== 'DELETE' || name === undefined || rest.length > 1) return null;
        const peer = [...info.peers].find((p) => p.name === name);
        if (!peer) throw notFound();
        const owner = broker.snapshot({ messages: false }).connections.find((c) => c.name === name)?.user;
        if (!user.admin && owner !== user.username) throw notAdmin();
        peer.close(body.reason ?? 'Closed via management plugin');
        return [204, null];
      }
      case 'users': {
        const [name] = rest;
        if (!user.admin) throw notAdmin();
        if (name === undefined || rest.length > 1) return null;
        if (method === 'PUT') return putUser(broker, name, body);
        if (method === 'DELETE') {
          if (!broker.deleteUser(name)) throw notFound();
          const theirs = new Set(
            broker
              .snapshot({ messages: false })
              .connections.filter((c) => c.user === name)
              .map((c) => c.name),
          );
          for (const p of info.peers) if (theirs.has(p.name)) p.close('user deleted');
          return [204, null];
        }
        return null;
      }
      case 'permissions':
        if (!user.admin) throw notAdmin();
        return permissions(broker, method, rest, body);
      case 'vhosts': {
        const [name] = rest;
        if (!user.admin) throw notAdmin();
        if (name === undefined || rest.length > 1) return null;
        if (method === 'PUT') {
          const existed = broker.vhosts().includes(name);
          try {
            broker.addVhost(name);
          } catch (e) {
            throw bad(e.message);
          }
          if (!existed) broker.setPermissions(user.username, name, { configure: '.*', write: '.*', read: '.*' });
          return [existed ? 204 : 201, null];
        }
        // RabbitMQ's deletion: connections closed with 320, everything in it gone.
        if (method === 'DELETE') {
          if (!broker.deleteVhost(name)) throw notFound();
          return [204, null];
        }
        return null;
      }
      case 'vhost-limits':
        if (!user.admin) throw notAdmin();
        return vhostLimitsWrite(broker, method, rest, body);
      default:
        return null;
    }
  } catch (e) {
    if (e instanceof HttpError) return [e.status, { error: e.error, reason: e.message }];
    throw e;
  }
}

/** GET endpoints about users (administrators only): null when not one of them. */
export function userReads(broker, user, parts) {
  const [what, name, sub, ...rest] = parts;
  if (what === 'whoami') return [200, { name: user.username, tags: user.tags }];
  // A vhost's permissions (/api/vhosts/{name}/permissions and topic-permissions) are the users'.
  const vhostPermissions = what === 'vhosts' && (sub === 'permissions' || sub === 'topic-permissions');
  if (what !== 'users' && what !== 'permissions' && !vhostPermissions) return null;
  if (!user.admin) return [401, { error: 'not_authorised', reason: 'Not administrator user' }];
  const notFound = [404, { error: 'Object Not Found', reason: 'Not Found' }];
  if (vhostPermissions) {
    if (rest.length || !broker.vhosts().includes(name)) return notFound;
    // (Warren has no topic permissions.)
    return [200, sub === 'permissions' ? permissionViews(broker).filter((p) => p.vhost === name) : []];
  }
  if (what === 'permissions') {
    try {
      return permissions(broker, 'GET', parts.slice(1), {});
    } catch (e) {
      if (e instanceof HttpError) return [e.status, { error: e.error, reason: e.message }];
      throw e;
    }
  }
  const users = broker.users();
  if (name === undefined) return [200, users.map(userView)];
  const u = users.find((x) => x.name === name);
  if (!u || rest.length) return notFound;
  if (sub === 'permissions') return [200, permissionViews(broker).filter((p) => p.user === name)];
  if (sub === 'topic-permissions') return [200, []];
  return sub === undefined ? [200, userView(u)] : notFound;
}
