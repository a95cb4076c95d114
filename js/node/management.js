// The management API: JSON shaped like RabbitMQ's (/api/overview, /api/queues,
// /api/exchanges, ...) so its tools and habits carry over, read from one
// broker.snapshot({ messages: false }) per request. Writes are in management-write.js, but
// for policies (PUT/DELETE /api/policies/{vhost}/{name}) and definitions
// (POST /api/definitions), here.
import { DefinitionsError, parseDefinitions } from '../definitions.js';
import { propsKey } from './management-write.js';
import { nodeView } from './node-view.js';
import { detail } from './rates.js';
import { vhostLimitsRead } from './vhost-api.js';
const sum = (xs, f) => xs.reduce((n, x) => n + f(x), 0);

// The snapshot (index.d.ts) flattened for the shapes below: queue counts
// beside the queue, bindings and channel references as named fields.
export function normalize(snap) {
  const chan = (c) => ({ connection: c.channel.conn, channel: c.channel.channel });
  return {
    queues: snap.queues.map((q) => ({ ...q, ...q.counts })),
    exchanges: snap.exchanges.map((x) => ({
      ...x,
      bindings: x.bindings.map(([destination, routingKey]) => ({ destination, routingKey })),
    })),
    consumers: snap.consumers.map((c) => ({ ...c, ...chan(c) })),
    channels: snap.channels.map((c) => ({ ...c, ...chan(c), unacked: c.unacked.length })),
    connections: snap.connections ?? [],
  };
}

/**
 * What the snapshot leaves out, from the declared topology: arguments, flags,
 * and whether a binding's destination is a queue. `declared.queue(vhost, name)`
 * and `declared.exchange(vhost, name)`, the standard exchanges as RabbitMQ
 * declares them; `declared.bindings`.
 */
function declarations(broker) {
  const t = broker._topology({ exclusive: true });
  const byName = (list) => new Map(list.map((x) => [`${x.vhost}\0${x.name}`, x]));
  const [queues, exchanges] = [byName(t.queues), byName(t.exchanges)];
  const standard = { durable: true, auto_delete: false, internal: false, arguments: {} };
  return {
    queue: (vhost, name) => queues.get(`${vhost}\0${name}`),
    exchange: (vhost, name) => exchanges.get(`${vhost}\0${name}`) ?? standard,
    bindings: t.bindings,
  };
}

/**
 * `queue(q, info, declared, details, policies)`: `details` its consumers as
 * /api/consumers lists them; `policies` by vhost and name.
 */
function queue(q, { rates, node }, declared, details, policies) {
  const r = rates?.queue(q.vhost, q.name) ?? {};
  const args = declared.queue(q.vhost, q.name)?.arguments ?? {};
  return {
    name: q.name,
    vhost: q.vhost,
    // One kind of queue, declared as classic or (under quorum queues' rules) quorum.
    type: args['x-queue-type'] === 'quorum' ? 'quorum' : 'classic',
    durable: q.durable,
    exclusive: q.exclusive,
    auto_delete: q.autoDelete,
    arguments: args,
    messages: q.ready + q.unacked,
    messages_details: detail(r.messages ?? 0),
    messages_ready: q.ready,
    messages_ready_details: detail(r.messages_ready ?? 0),
    messages_unacknowledged: q.unacked,
    messages_unacknowledged_details: detail(r.messages_unacknowledged ?? 0),
    messages_delayed: q.delayed,
    message_bytes_ready: q.readyBytes,
    // Paging, under the names RabbitMQ's classic queues use; `pages` is Warren's.
    messages_ready_ram: q.ready - q.paged,
    messages_paged_out: q.paged,
    memory: q.memory,
    pages: q.pages,
    consumers: q.consumers,
    consumer_details: details,
    // Totals since the queue was declared, under RabbitMQ's names.
    message_stats: {
      publish: q.stats.published,
      publish_details: detail(r.publish ?? 0),
      deliver_get: q.stats.delivered,
      deliver_get_details: detail(r.deliver_get ?? 0),
      redeliver: q.stats.redelivered,
      redeliver_details: detail(r.redeliver ?? 0),
      ack: q.stats.acked,
      ack_details: detail(r.ack ?? 0),
      dead_lettered: q.stats.deadLettered,
    },
    policy: q.policy ?? null,
    effective_policy_definition: policies.get(`${q.vhost}\0${q.policy}`)?.definition ?? {},
    state: 'running',
    node,
  };
}

/** A policy as RabbitMQ's API shows it. */
function policy(p) {
  return {
    vhost: p.vhost,
    name: p.name,
    pattern: p.pattern,
    'apply-to': p.applyTo,
    definition: p.definition,
    priority: p.priority,
  };
}

const badRequest = (reason) => [400, { error: 'bad_request', reason }];

function parseJson(body) {
  try {
    return { value: parseDefinitions(body) };
  } catch (e) {
    return { error: badRequest(e.message) };
  }
}

/** GET /api/definitions[/{vhost}]: RabbitMQ's definitions JSON. */
export async function exportApi(broker, info, pathname) {
  const parts = pathname.slice('/api/definitions'.length).split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length > 1) return [404, { error: 'Object Not Found', reason: 'Not Found' }];
  const defs = await broker.exportDefinitions({ version: info.version });
  if (parts.length === 0) return [200, defs];
  const [vhost] = parts;
  const mine = (x) => x.vhost === vhost;
  return [
    200,
    {
      ...defs,
      users: undefined,
      vhosts: undefined,
      permissions: undefined,
      policies: defs.policies.filter(mine),
      queues: defs.queues.filter(mine),
      exchanges: defs.exchanges.filter(mine),
      bindings: defs.bindings.filter(mine),
    },
  ];
}

/**
 * The handler of a write (PUT/DELETE/POST) to `pathname`, or null: it takes
 * (broker, info, body text) and resolves with [status, body].
 */
export function writeApi(pathname, method) {
  let parts;
  try {
    parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return null;
  }
  const [api, what, vhost, name, ...rest] = parts;
  if (api !== 'api' || rest.length) return null;
  if (what === 'definitions' && method === 'POST' && vhost === undefined) {
    return async (broker, _info, body) => {
      const { value, error } = parseJson(body);
      if (error) return error;
      try {
        await broker.importDefinitions(value);
      } catch (e) {
        if (e instanceof DefinitionsError) return badRequest(e.message);
        throw e;
      }
      return [204, null];
    };
  }
  if (what !== 'policies' || vhost === undefined || name === undefined) return null;
  if (method === 'DELETE') {
    return async (broker) =>
      broker.deletePolicy(name, { vhost }) ? [204, null] : [404, { error: 'Object Not Found', reason: 'Not Found' }];
  }
  if (method !== 'PUT') return null;
  return async (broker, _info, body) => {
    const { value, error } = parseJson(body);
    if (error) return error;
    if (value === null || typeof value !== 'object') return badRequest('a policy is a JSON object');
    const existed = broker.policies().some((p) => p.vhost === vhost && p.name === name);
    try {
      broker.setPolicy(name, {
        vhost,
        pattern: value.pattern,
        definition: value.definition,
        priority: value.priority ?? 0,
        applyTo: value['apply-to'] ?? 'all',
      });
    } catch (e) {
      if (e instanceof TypeError) return badRequest(e.message);
      throw e;
    }
    return [existed ? 204 : 201, null];
  };
}

function exchange(x, declared) {
  const d = declared.exchange(x.vhost, x.name);
  return {
    name: x.name,
    vhost: x.vhost,
    type: x.kind,
    durable: x.durable,
    auto_delete: d.auto_delete,
    internal: d.internal,
    arguments: d.arguments,
  };
}

/** Every binding as RabbitMQ lists it, the default exchange's implicit ones first. */
function bindings(snap, declared) {
  const binding = (vhost, source, destination, type, key, args) => ({
    source,
    vhost,
    destination,
    destination_type: type,
    routing_key: key,
    arguments: args,
    properties_key: propsKey(key, args),
  });
  return [
    ...snap.queues.map((q) => binding(q.vhost, '', q.name, 'queue', q.name, {})),
    ...declared.bindings.map((b) =>
      binding(b.vhost, b.source, b.destination, b.destination_type, b.routing_key, b.arguments),
    ),
  ];
}

/**
 * Connections as the host sees its transports; user and vhost come from the
 * engine, which names a connection after its peer unless the client chose a name.
 */
function connections(snap, info) {
  const engine = new Map((snap.connections ?? []).map((c) => [c.name, c]));
  return [...info.peers.values()].map((p) => ({
    name: p.name,
    protocol: p.protocol,
    peer_host: p.host,
    peer_port: p.port,
    connected_at: p.connectedAt,
    recv_oct: p.bytesIn,
    send_oct: p.bytesOut,
    user: engine.get(p.name)?.user,
    vhost: engine.get(p.name)?.vhost,
    channels: engine.get(p.name)?.channels,
    node: info.node,
    // As RabbitMQ lists a connection whose socket outlives its close.
    state: p.closed ? 'closed' : p.paused ? 'flow' : 'running',
  }));
}

/** Engine connections by id: a channel's or consumer's user, vhost and name. */
const connectionsById = (snap) => new Map(snap.connections.map((c) => [c.id, c]));

function channels(snap) {
  const conns = connectionsById(snap);
  return snap.channels.map((ch) => {
    const conn = conns.get(ch.connection);
    return {
      // RabbitMQ's name for a channel: its connection's, then its number.
      name: `${conn?.name ?? ch.connection} (${ch.channel})`,
      connection: ch.connection,
      connection_details: { name: conn?.name },
      number: ch.channel,
      user: conn?.user,
      vhost: conn?.vhost,
      prefetch_count: ch.prefetch,
      global_prefetch_count: ch.globalPrefetch,
      confirm: ch.confirm,
      transactional: ch.tx,
      messages_unacknowledged: ch.unacked,
    };
  });
}

function consumers(snap) {
  // A consumer's queue is in its connection's vhost.
  const conns = connectionsById(snap);
  return snap.consumers.map((c) => {
    const conn = conns.get(c.connection);
    return {
      queue: { name: c.queue, vhost: conn?.vhost ?? '/' },
      consumer_tag: c.tag,
      channel_details: {
        connection: c.connection,
        number: c.channel,
        name: `${conn?.name ?? c.connection} (${c.channel})`,
        connection_name: conn?.name,
        user: conn?.user,
      },
      ack_required: !c.noAck,
      prefetch_count: c.prefetch,
      messages_unacknowledged: c.unacked,
    };
  });
}

/** Each vhost with its messages, as RabbitMQ lists them. */
function vhosts(snap, broker) {
  return broker.vhosts().map((name) => {
    const queues = snap.queues.filter((q) => q.vhost === name);
    const ready = sum(queues, (q) => q.ready);
    const unacked = sum(queues, (q) => q.unacked);
    return {
      name,
      description: '',
      tags: [],
      tracing: false,
      messages: ready + unacked,
      messages_ready: ready,
      messages_unacknowledged: unacked,
    };
  });
}

function overview(snap, info, pages) {
  const r = info.rates?.totals() ?? {};
  // Summed over queues (RabbitMQ counts publishes per channel; a message
  // routed to two queues counts twice here).
  const total = (f) => sum(snap.queues, (q) => q.stats[f]);
  return {
    product_name: 'Warren',
    cluster_name: info.node,
    product_version: info.version,
    management_version: info.version,
    node: info.node,
    listeners: info.listeners,
    object_totals: {
      connections: info.peers.size,
      channels: snap.channels.length,
      exchanges: snap.exchanges.length,
      queues: snap.queues.length,
      consumers: snap.consumers.length,
    },
    message_stats: {
      publish: total('published'),
      publish_details: detail(r.publish ?? 0),
      deliver_get: total('delivered'),
      deliver_get_details: detail(r.deliver_get ?? 0),
      ack: total('acked'),
      ack_details: detail(r.ack ?? 0),
      redeliver: total('redelivered'),
      redeliver_details: detail(r.redeliver ?? 0),
    },
    queue_totals: {
      messages: sum(snap.queues, (q) => q.ready + q.unacked),
      messages_details: detail(r.messages ?? 0),
      messages_ready: sum(snap.queues, (q) => q.ready),
      messages_ready_details: detail(r.messages_ready ?? 0),
      messages_unacknowledged: sum(snap.queues, (q) => q.unacked),
      messages_unacknowledged_details: detail(r.messages_unacknowledged ?? 0),
      messages_paged_out: sum(snap.queues, (q) => q.paged),
    },
    // Warren's own: page I/O of paged queues since the broker started.
    paging: {
      pages: sum(snap.queues, (q) => q.pages),
      pages_written: pages.written,
      page_bytes_written: pages.writtenBytes,
      pages_read: pages.read,
      page_bytes_read: pages.readBytes,
    },
  };
}

// Runtime parameters (federation, shovels), operator policies, topic
// permissions, user limits and UI extensions: Warren has none, so their lists
// (down to this many path segments) are empty, and any one of them is not found.
const NONE_LIST_DEPTH = {
  parameters: 3,
  'global-parameters': 1,
  'operator-policies': 2,
  'topic-permissions': 2,
  'user-limits': 2,
  extensions: 1,
};

const byVhost = (vhost) => (x) => vhost === undefined || x.vhost === vhost;

/**
 * Answers GET /api/...: returns [status, body] or null for an unknown path.
 * `parts`: the path after /api/, split on '/' and percent-decoded, so a vhost
 * "/" arrives as "%2F" -> "/" as in RabbitMQ's API.
 */
export function managementApi(broker, info, parts) {
  const [what, vhost, name, ...rest] = parts;
  const raw = broker.snapshot({ messages: false });
  const snap = normalize(raw);
  const notFound = [404, { error: 'Object Not Found', reason: 'Not Found' }];
  const one = (list) => (name === undefined ? [200, list] : (list.find((x) => x.name === name) ?? null));
  // /api/{connections,channels,vhosts}[/{name}]: one segment names the object.
  const pickNamed = (list, key) => {
    if (key === undefined) return [200, list];
    const found = list.find((x) => x.name === key);
    return found ? [200, found] : notFound;
  };
  const pick = (list) => {
    if (rest.length) return notFound;
    const found = one(list.filter(byVhost(vhost)));
    return Array.isArray(found) ? found : found ? [200, found] : notFound;
  };
  // Read from the engine once a request, and only by the paths that need it.
  let known;
  const declared = () => (known ??= declarations(broker));
  // GET /api/queues/{vhost}/{name}/bindings and /api/exchanges/{vhost}/{name}/bindings/{source|destination}.
  const bindingsOf = (found, keep) => {
    if (!found || Array.isArray(found)) return notFound;
    return [200, bindings(snap, declared()).filter((b) => b.vhost === vhost && keep(b))];
  };
  switch (what) {
    case 'overview':
      return [200, overview(snap, info, broker.pageStats())];
    case 'queues': {
      const d = declared();
      const byQueue = new Map();
      for (const c of consumers(snap)) {
        const key = `${c.queue.vhost}\0${c.queue.name}`;
        if (!byQueue.has(key)) byQueue.set(key, []);
        byQueue.get(key).push(c);
      }
      const policies = new Map(broker.policies().map((p) => [`${p.vhost}\0${p.name}`, p]));
      const list = snap.queues.map((q) => queue(q, info, d, byQueue.get(`${q.vhost}\0${q.name}`) ?? [], policies));
      if (rest.length === 1 && rest[0] === 'bindings') {
        const found = one(list.filter(byVhost(vhost)));
        return bindingsOf(found, (b) => b.destination_type === 'queue' && b.destination === name);
      }
      return pick(list);
    }
    case 'exchanges': {
      const d = declared();
      const list = snap.exchanges.map((x) => exchange(x, d));
      if (rest.length === 2 && rest[0] === 'bindings' && ['source', 'destination'].includes(rest[1])) {
        const found = one(list.filter(byVhost(vhost)));
        return rest[1] === 'source'
          ? bindingsOf(found, (b) => b.source === name)
          : bindingsOf(found, (b) => b.destination_type === 'exchange' && b.destination === name);
      }
      return pick(list);
    }
    case 'bindings': {
      // /api/bindings[/{vhost}[/e/{source}/{q|e}/{destination}[/{props}]]]
      const [source, destKind, destination, props] = rest;
      const all = bindings(snap, declared()).filter(byVhost(vhost));
      if (name === undefined) return [200, all];
      if (name !== 'e' || !['q', 'e'].includes(destKind) || destination === undefined || rest.length > 4) {
        return notFound;
      }
      const type = destKind === 'q' ? 'queue' : 'exchange';
      const between = all.filter(
        (b) => b.source === source && b.destination_type === type && b.destination === destination,
      );
      if (props === undefined) return [200, between];
      const found = between.find((b) => b.properties_key === props);
      return found ? [200, found] : notFound;
    }
    case 'nodes':
      return name === undefined ? pickNamed([nodeView(broker, info)], vhost) : notFound;
    case 'connections': {
      if (name === undefined) return pickNamed(connections(snap, info), vhost);
      // /api/connections/{name}/channels
      const conn = snap.connections.find((c) => c.name === vhost);
      if (name !== 'channels' || rest.length || !conn) return notFound;
      return [200, channels(snap).filter((c) => c.connection === conn.id)];
    }
    case 'channels':
      return name === undefined ? pickNamed(channels(snap), vhost) : notFound;
    case 'consumers':
      return [200, consumers(snap).filter((c) => vhost === undefined || c.queue.vhost === vhost)];
    case 'policies':
      return pick(broker.policies().map(policy));
    case 'vhosts': {
      if (name === undefined) return pickNamed(vhosts(snap, broker), vhost);
      // /api/vhosts/{name}/connections and /channels
      if (rest.length || !broker.vhosts().includes(vhost)) return notFound;
      if (name === 'connections') return [200, connections(snap, info).filter((c) => c.vhost === vhost)];
      if (name === 'channels') return [200, channels(snap).filter((c) => c.vhost === vhost)];
      return notFound;
    }
    case 'vhost-limits':
      return vhostLimitsRead(broker, parts.slice(1));
    case 'cluster-name':
      return parts.length === 1 ? [200, { name: info.node }] : notFound;
    case 'parameters':
    case 'global-parameters':
    case 'operator-policies':
    case 'topic-permissions':
    case 'user-limits':
    case 'extensions':
      return parts.length <= NONE_LIST_DEPTH[what] ? [200, []] : notFound;
    case 'snapshot':
      // The engine's own view, as the tutorial page draws it (messages too).
      return [200, broker.snapshot()];
    default:
      return null;
  }
}
