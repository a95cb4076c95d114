// The broker's snapshot in one shape, whichever the engine build sends:
// counts nested or flat, ready messages as [id, deliveries] pairs or objects,
// channels as { conn, channel } or as two numbers.

const pair = (v) => (Array.isArray(v) ? { id: v[0], deliveries: v[1] } : v);

function channelOf(x) {
  if (x.channel && typeof x.channel === 'object') return { conn: x.channel.conn, channel: x.channel.channel };
  return { conn: x.connection ?? x.conn, channel: x.channel };
}

export function normalizeSnapshot(s) {
  return {
    now: s.now ?? s.nowMs ?? 0,
    exchanges: (s.exchanges ?? []).map((x) => ({
      vhost: x.vhost,
      name: x.name,
      type: x.type ?? x.kind,
      durable: x.durable,
      bindings: (x.bindings ?? []).map((b) => (Array.isArray(b) ? { destination: b[0], routingKey: b[1] } : b)),
    })),
    queues: (s.queues ?? []).map((q) => {
      const c = q.counts ?? q;
      return {
        vhost: q.vhost,
        name: q.name,
        durable: q.durable,
        ready: c.ready?.length !== undefined ? c.ready.length : c.ready,
        unacked: c.unacked,
        consumers: c.consumers,
        messages: (q.messages ?? (Array.isArray(q.ready) ? q.ready : [])).map(pair),
      };
    }),
    consumers: (s.consumers ?? []).map((c) => ({ ...c, ...channelOf(c) })),
    channels: (s.channels ?? []).map((c) => ({
      ...channelOf(c),
      prefetch: c.prefetch,
      confirm: c.confirm,
      unacked: (c.unacked ?? []).map((u) => (Array.isArray(u) ? { tag: u[0], id: u[1], queue: u[2] } : u)),
    })),
  };
}
