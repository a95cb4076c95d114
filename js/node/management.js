// The management API: JSON shaped like RabbitMQ's (/api/overview, /api/queues,
// /api/exchanges, ...) so its tools and habits carry over, read from one
// broker.snapshot({ messages: false }) per request. Writes are in management-write.js.
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

function queue(q) {
  return {
    name: q.name,
    vhost: q.vhost,
    durable: q.durable,
    exclusive: q.exclusive,
    auto_delete: q.autoDelete,
    messages: q.ready + q.unacked,
    messages_ready: q.ready,
    messages_unacknowledged: q.unacked,
    messages_delayed: q.delayed,
    message_bytes_ready: q.readyBytes,
    consumers: q.consumers,
    // Totals since the queue was declared, under RabbitMQ's names.
    message_stats: {
      publish: q.stats.published,
      deliver_get: q.stats.delivered,
      redeliver: q.stats.redelivered,
      ack: q.stats.acked,
      dead_lettered: q.stats.deadLettered,
    },
    state: 'running',
  };
}

function exchange(x) {
  return { name: x.name, vhost: x.vhost, type: x.kind, durable: x.durable };
}

function bindings(snap) {
  return snap.exchanges.flatMap((x) =>
    x.bindings.map((b) => ({ source: x.name, vhost: x.vhost, destination: b.destination, routing_key: b.routingKey })),
  );
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
    state: p.paused ? 'flow' : 'running',
  }));
}

function channels(snap) {
  return snap.channels.map((ch) => ({
    connection: ch.connection,
    number: ch.channel,
    prefetch_count: ch.prefetch,
    global_prefetch_count: ch.globalPrefetch,
    confirm: ch.confirm,
    transactional: ch.tx,
    messages_unacknowledged: ch.unacked,
  }));
}

function consumers(snap) {
  const vhostOf = (name) => snap.queues.find((q) => q.name === name)?.vhost ?? '/';
  return snap.consumers.map((c) => ({
    queue: { name: c.queue, vhost: vhostOf(c.queue) },
    consumer_tag: c.tag,
    channel_details: { connection: c.connection, number: c.channel },
    ack_required: !c.noAck,
    prefetch_count: c.prefetch,
    messages_unacknowledged: c.unacked,
  }));
}

function overview(snap, info) {
  return {
    product_name: 'Warren',
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
    queue_totals: {
      messages: sum(snap.queues, (q) => q.ready + q.unacked),
      messages_ready: sum(snap.queues, (q) => q.ready),
      messages_unacknowledged: sum(snap.queues, (q) => q.unacked),
    },
  };
}

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
  const pick = (list) => {
    if (rest.length) return notFound;
    const found = one(list.filter(byVhost(vhost)));
    return Array.isArray(found) ? found : found ? [200, found] : notFound;
  };
  switch (what) {
    case 'overview':
      return [200, overview(snap, info)];
    case 'queues':
      return pick(snap.queues.map(queue));
    case 'exchanges':
      return pick(snap.exchanges.map(exchange));
    case 'bindings':
      return [200, bindings(snap).filter(byVhost(vhost))];
    case 'connections':
      return [200, connections(snap, info)];
    case 'channels':
      return [200, channels(snap)];
    case 'consumers':
      return [200, consumers(snap).filter((c) => vhost === undefined || c.queue.vhost === vhost)];
    case 'vhosts':
      return [200, broker.vhosts().map((v) => ({ name: v }))];
    case 'snapshot':
      // The engine's own view, as the tutorial page draws it (messages too).
      return [200, broker.snapshot()];
    default:
      return null;
  }
}
