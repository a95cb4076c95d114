// RabbitMQ's health checks, which load balancers, Kubernetes probes and
// compose files call: GET /api/health/checks/{check}[/...] answers 200 with
// {"status":"ok"} when the check passes and 503 with what failed, so a probe
// needs only the status code. Also the two older checks, which RabbitMQ 3.10
// still answers: /api/aliveness-test/{vhost} and /api/healthchecks/node.

const FAILED = 503;
const ok = (extra = {}) => [200, { status: 'ok', ...extra }];
const failed = (reason, extra) => [FAILED, { status: 'failed', reason, ...extra }];
const badRequest = (reason) => [400, { error: 'bad_request', reason }];
const notFound = [404, { error: 'Object Not Found', reason: 'Not Found' }];

// The names RabbitMQ accepts for the protocols Warren listens with.
const PROTOCOL_NAMES = {
  amqp091: 'amqp',
  'amqp0.9.1': 'amqp',
  'amqp0-9-1': 'amqp',
  amqp0_9_1: 'amqp',
  amqps: 'amqp/ssl',
  http1: 'http',
  'http1.1': 'http',
  http_api: 'http',
  management: 'http',
  management_ui: 'http',
  ui: 'http',
};
const DAY_SECONDS = 86400;
const UNIT_SECONDS = {
  days: DAY_SECONDS,
  weeks: 7 * DAY_SECONDS,
  months: (365 / 12) * DAY_SECONDS,
  years: 365 * DAY_SECONDS,
};

const unique = (xs) => [...new Set(xs)];

/** "2026-12-07 9:05:03", as RabbitMQ writes a certificate's end. */
function expiryText(date) {
  const pad = (n) => String(n).padStart(2, '0');
  const d = new Date(date);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${d.getUTCHours()}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/**
 * The checks under /api/health/checks/. `info.alarms()`: the resources in
 * alarm ('memory', 'disk'); `info.listeners`; `info.tls`: the certificate
 * file and its end, with TLS on.
 */
const CHECKS = {
  alarms: (info) => alarms(info, 'There are alarms in effect in the cluster'),
  // One node: its alarms are the cluster's.
  'local-alarms': (info) => alarms(info, 'There are alarms in effect on the node'),
  // Every vhost lives in the one engine: each is up while the broker answers.
  'virtual-hosts': () => ok(),
  // No quorum queues or mirrors, so stopping this node never costs one its quorum.
  'node-is-quorum-critical': () => ok(),
  'node-is-mirror-sync-critical': () => ok(),
  'port-listener': (info, [port, ...rest]) => {
    if (port === undefined || rest.length) return null;
    if (!/^\d+$/.test(port)) return badRequest('Invalid port');
    const ports = unique(info.listeners.map((l) => l.port));
    return ports.includes(Number(port))
      ? ok({ port: Number(port) })
      : failed('No active listener', { missing: Number(port), ports });
  },
  'protocol-listener': (info, [name, ...rest]) => {
    if (name === undefined || rest.length) return null;
    const protocol = PROTOCOL_NAMES[name.toLowerCase()] ?? name.toLowerCase();
    const protocols = unique(info.listeners.map((l) => l.protocol));
    return protocols.includes(protocol)
      ? ok({ protocol })
      : failed('No active listener', { missing: protocol, protocols });
  },
  'certificate-expiration': (info, [within, unit, ...rest]) => {
    if (unit === undefined || rest.length) return null;
    if (!/^\d+$/.test(within)) return badRequest('Invalid expiration value.');
    const seconds = UNIT_SECONDS[unit.toLowerCase()];
    if (!seconds) return badRequest('Time unit not recognised. Supported units: days, weeks, months, years.');
    const ends = Date.parse(info.tls?.expires);
    if (!info.tls || ends > Date.now() + Number(within) * seconds * 1000) return ok();
    const expired = info.listeners
      .filter((l) => l.protocol === 'amqp/ssl' || l.protocol === 'https')
      .map((l) => ({
        node: info.node,
        protocol: l.protocol,
        interface: l.ip_address,
        port: l.port,
        certfile: info.tls.certfile,
        certfile_expires_on: [expiryText(ends)],
      }));
    return failed('Certificates expiring', { expired });
  },
};

function alarms(info, reason) {
  const inAlarm = info.alarms?.() ?? [];
  if (inAlarm.length === 0) return ok();
  return failed(reason, { alarms: inAlarm.map((resource) => ({ node: info.node, resource })) });
}

/**
 * Answers GET /api/health/..., /api/aliveness-test/... and
 * /api/healthchecks/...: [status, body], or null for a path that is none of
 * them. `parts`: the path after /api/, split and decoded.
 */
export function healthCheck(broker, info, parts) {
  const [what, ...rest] = parts;
  if (what === 'health') {
    const [checks, name, ...args] = rest;
    const check = checks === 'checks' && Object.hasOwn(CHECKS, name) ? CHECKS[name] : null;
    return check?.(info, args) ?? null;
  }
  if (what === 'aliveness-test') {
    // RabbitMQ's is now a channel opened on the vhost, no more.
    if (rest.length !== 1) return null;
    return broker.vhosts().includes(rest[0]) ? ok() : notFound;
  }
  if (what === 'healthchecks' && rest.length === 1 && rest[0] === 'node') return ok();
  return null;
}
