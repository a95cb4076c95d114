// Vhost limits in the management API, shaped like RabbitMQ's:
// GET /api/vhost-limits[/{vhost}] and, for administrators,
// PUT /api/vhost-limits/{vhost}/{name} with {"value": n} and DELETE of the same.
// The engine holds the limits (durably, in its store); this only translates.

const notFound = () => [404, { error: 'Object Not Found', reason: 'Not Found' }];
const bad = (reason) => [400, { error: 'bad_request', reason }];

/** GET /api/vhost-limits[/{vhost}]: [status, body]. */
export function vhostLimitsRead(broker, [vhost, ...rest]) {
  if (rest.length) return notFound();
  if (vhost !== undefined && !broker.vhosts().includes(vhost)) return notFound();
  return [200, broker.vhostLimits().filter((l) => vhost === undefined || l.vhost === vhost)];
}

/** PUT or DELETE /api/vhost-limits/{vhost}/{name}: [status, body], or null for another method or path. */
export function vhostLimitsWrite(broker, method, [vhost, name, ...rest], body) {
  if (vhost === undefined || name === undefined || rest.length) return null;
  if (method !== 'PUT' && method !== 'DELETE') return null;
  if (!broker.vhosts().includes(vhost)) return notFound();
  let value = null;
  if (method === 'PUT') {
    value = body?.value;
    if (!Number.isInteger(value)) return bad(`the body is {"value": <integer>}, not ${JSON.stringify(body)}`);
  } else if (broker.vhostLimits().find((l) => l.vhost === vhost)?.value[name] === undefined) {
    return notFound();
  }
  try {
    broker.setVhostLimit(vhost, name, value);
  } catch (e) {
    if (e instanceof TypeError) return bad(e.message);
    throw e;
  }
  return [204, null];
}
