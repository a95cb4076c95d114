// /metrics: the broker in Prometheus' text exposition format (version 0.0.4).
// Names start with warren_; per-queue series carry vhost and queue labels,
// as rabbitmq_prometheus' detailed metrics do.

/** A fixed-bucket histogram of seconds (cumulative buckets, as Prometheus wants). */
export class Histogram {
  constructor(buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]) {
    this.buckets = buckets;
    this.counts = new Array(buckets.length).fill(0);
    this.sum = 0;
    this.count = 0;
  }

  observe(seconds) {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]) this.counts[i]++;
  }
}

const escape = (v) => String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labels = (l) => {
  const entries = Object.entries(l);
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}` : '';
};

class Writer {
  lines = [];

  metric(name, type, help, samples) {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${Number(v)}`);
  }

  histogram(name, help, h) {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    h.buckets.forEach((b, i) => this.lines.push(`${name}_bucket{le="${b}"} ${h.counts[i]}`));
    this.lines.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sum}`, `${name}_count ${h.count}`);
  }

  text() {
    return this.lines.join('\n') + '\n';
  }
}

/**
 * The metrics text. `info`: peers (transports), closes (Map "scope code" ->
 * count), alarm ({ limit, blocked }), store (with `fsyncSeconds`, a
 * Histogram, when it is a file store).
 */
export function metricsText(broker, info) {
  const snap = broker.snapshot({ messages: false });
  const w = new Writer();
  const q = (f) => snap.queues.map((x) => [{ vhost: x.vhost, queue: x.name }, f(x)]);
  w.metric(
    'warren_queue_messages_ready',
    'gauge',
    'Messages ready for delivery.',
    q((x) => x.counts.ready),
  );
  w.metric(
    'warren_queue_messages_unacked',
    'gauge',
    'Messages delivered and not yet acknowledged.',
    q((x) => x.counts.unacked),
  );
  w.metric(
    'warren_queue_consumers',
    'gauge',
    'Consumers on the queue.',
    q((x) => x.counts.consumers),
  );
  const counters = [
    ['published', 'Messages routed into the queue.'],
    ['delivered', 'Deliveries to consumers and basic.get, redeliveries included.'],
    ['redelivered', 'Redeliveries.'],
    ['acked', 'Deliveries acknowledged by clients.'],
    ['dead_lettered', 'Messages dead-lettered from the queue.'],
  ];
  for (const [key, help] of counters) {
    const field = key.replace(/_(.)/g, (_, c) => c.toUpperCase());
    w.metric(
      `warren_queue_messages_${key}_total`,
      'counter',
      help,
      q((x) => x.stats[field]),
    );
  }
  w.metric('warren_connections', 'gauge', 'Open client connections (transports).', [[{}, info.peers.size]]);
  w.metric('warren_channels', 'gauge', 'Open channels.', [[{}, snap.channels.length]]);
  const perConn = new Map();
  for (const c of snap.connections ?? []) perConn.set(c.name, c);
  w.metric(
    'warren_connection_channels',
    'gauge',
    'Channels per connection.',
    [...info.peers].map((p) => [{ connection: p.name, protocol: p.protocol }, perConn.get(p.name)?.channels ?? 0]),
  );
  w.metric('warren_confirms_outstanding', 'gauge', 'Publishes on confirm channels not yet confirmed.', [
    [{}, snap.channels.reduce((n, c) => n + (c.confirmsPending ?? 0), 0)],
  ]);
  w.metric(
    'warren_closes_total',
    'counter',
    'Channels and connections the server closed, by reply code (0: transport dropped).',
    [...info.closes].map(([k, n]) => {
      const [scope, code] = k.split(' ');
      return [{ scope, code }, n];
    }),
  );
  if (info.store?.fsyncSeconds)
    w.histogram(
      'warren_store_fsync_seconds',
      'Time to make a batch of store records durable.',
      info.store.fsyncSeconds,
    );
  w.metric('warren_memory_held_bytes', 'gauge', 'Bytes queued messages take, estimated.', [[{}, broker.heldBytes()]]);
  if (info.alarm?.limit)
    w.metric('warren_memory_high_watermark_bytes', 'gauge', 'Held bytes above which publishers are blocked.', [
      [{}, info.alarm.limit],
    ]);
  w.metric('warren_memory_blocked', 'gauge', '1 while publishers are blocked by the memory alarm.', [
    [{}, info.alarm?.blocked ? 1 : 0],
  ]);
  w.metric('warren_process_resident_memory_bytes', 'gauge', 'Resident set size of the process.', [
    [{}, process.memoryUsage().rss],
  ]);
  return w.text();
}
