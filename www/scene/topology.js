// What the diagram shows: producers, exchanges, queues, consumers and the
// links between them, from a snapshot of the broker plus the page's actors.

const shown = (name) => name !== '' && !name.startsWith('amq.');
export const exchangeLabel = (name) => (name === '' ? '(default)' : name);

/** Queue arguments worth a word under the queue's name. */
export function argSummary(args = {}) {
  const parts = [];
  if (args['x-delivery-limit'] !== undefined) parts.push(`delivery limit ${args['x-delivery-limit']}`);
  if (args['x-max-length'] !== undefined)
    parts.push(`max ${args['x-max-length']}${args['x-overflow'] === 'reject-publish' ? ', reject-publish' : ''}`);
  if (args['x-message-ttl'] !== undefined) parts.push(`ttl ${args['x-message-ttl']} ms`);
  if (args['x-consumer-timeout'] !== undefined) parts.push(`consumer timeout ${args['x-consumer-timeout'] / 1000} s`);
  if (args['x-message-deduplication']) parts.push('deduplication');
  return parts.join(' · ');
}

/**
 * producers/consumers: [{ key, label, exchange | queue, holder, status, sub }]
 * declared: queue name -> { args, durable }
 */
export function buildTopology(snapshot, { producers = [], consumers = [], declared = new Map() }) {
  const queues = snapshot.queues.map((q) => {
    const d = declared.get(q.name);
    const sub = [q.durable ? 'durable' : 'transient', argSummary(d?.args)].filter(Boolean).join(' · ');
    return {
      name: q.name,
      label: q.name,
      sub,
      dlx: d?.args?.['x-dead-letter-exchange'],
      dlk: d?.args?.['x-dead-letter-routing-key'],
    };
  });
  const queueNames = new Set(queues.map((q) => q.name));
  const byName = new Map(snapshot.exchanges.map((x) => [x.name, x]));
  const used = new Set();
  for (const p of producers) if (byName.has(p.exchange)) used.add(p.exchange);
  for (const x of snapshot.exchanges) {
    if (shown(x.name) && x.bindings.some((b) => queueNames.has(b.destination))) used.add(x.name);
  }
  for (const q of queues) if (q.dlx !== undefined && byName.has(q.dlx)) used.add(q.dlx);

  const links = [];
  const exchanges = [];
  for (const name of used) {
    const x = byName.get(name);
    exchanges.push({ name, label: exchangeLabel(name), type: x.type });
    for (const b of x.bindings) {
      if (queueNames.has(b.destination))
        links.push({ from: `x:${name}`, to: `q:${b.destination}`, label: b.routingKey });
    }
  }
  // Producers' exchanges first, dead-letter exchanges last: the diagram reads left to right, top to bottom.
  const dlxs = new Set(queues.map((q) => q.dlx).filter((n) => n !== undefined));
  exchanges.sort((a, b) => dlxs.has(a.name) - dlxs.has(b.name));
  const deadQueues = new Set(links.filter((l) => dlxs.has(l.from.slice(2))).map((l) => l.to.slice(2)));
  for (const q of queues) {
    if (q.dlx === undefined || !byName.has(q.dlx)) continue;
    links.push({ from: `q:${q.name}`, to: `x:${q.dlx}`, label: 'dead letters', dashed: true });
    // The default exchange's implicit binding: the dead-letter routing key names the queue.
    if (q.dlx === '' && q.dlk && queueNames.has(q.dlk)) {
      links.push({ from: 'x:', to: `q:${q.dlk}`, label: q.dlk });
      deadQueues.add(q.dlk);
    }
  }
  queues.sort((a, b) => deadQueues.has(a.name) - deadQueues.has(b.name));
  for (const p of producers) {
    if (!used.has(p.exchange)) continue;
    links.push({ from: `p:${p.key}`, to: `x:${p.exchange}`, label: p.routingKey ?? '' });
    if (p.exchange === '' && queueNames.has(p.routingKey))
      links.push({ from: 'x:', to: `q:${p.routingKey}`, label: p.routingKey });
  }
  for (const c of consumers)
    if (queueNames.has(c.queue)) links.push({ from: `q:${c.queue}`, to: `c:${c.key}`, label: '' });
  return { producers, exchanges, queues, consumers, links, dead: deadQueues };
}

/** A string that changes when the diagram must be laid out again. */
export function topologyKey(t) {
  return JSON.stringify([
    t.producers.map((p) => p.key),
    t.exchanges.map((x) => x.name),
    t.queues.map((q) => [q.name, q.sub]),
    t.consumers.map((c) => c.key),
    t.links.map((l) => [l.from, l.to, l.label]),
  ]);
}
