// Who is calling the HTTP API: HTTP basic auth (what RabbitMQ's API takes),
// or the page's login cookie holding the same credentials. Users, passwords,
// tags and loopback-only users are the engine's, as for AMQP logins.
import { isLoopback } from './peer.js';

export const COOKIE = 'warren_auth';

// RabbitMQ's management tags, from most to least able.
const MANAGEMENT_TAGS = ['administrator', 'monitoring', 'policymaker', 'management'];

function decodeBasic(value) {
  try {
    const text = Buffer.from(value, 'base64').toString('utf8');
    const at = text.indexOf(':');
    return at < 0 ? null : { username: text.slice(0, at), password: text.slice(at + 1) };
  } catch {
    return null;
  }
}

/** The credentials a request carries, or null. */
export function credentials(req) {
  const header = req.headers.authorization;
  if (header?.startsWith('Basic ')) return decodeBasic(header.slice(6).trim());
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeBasic(decodeURIComponent(v.join('=')));
  }
  return null;
}

/**
 * The caller as { username, password, tags, admin, monitor } or, when the
 * request may not use the API, { status, body } to answer with: 401 as
 * RabbitMQ does, for no or wrong credentials and users without a
 * management tag.
 */
export function authenticate(broker, req) {
  const c = credentials(req);
  const refuse = (reason) => ({ status: 401, body: { error: 'not_authorised', reason } });
  if (!c) return refuse('Login failed');
  const tags = broker.authenticate(c.username, c.password, { loopback: isLoopback(req.socket.remoteAddress) });
  if (!tags) return refuse('Login failed');
  if (!tags.some((t) => MANAGEMENT_TAGS.includes(t))) return refuse('Not management user');
  return {
    ...c,
    tags,
    admin: tags.includes('administrator'),
    monitor: tags.includes('administrator') || tags.includes('monitoring'),
  };
}

/**
 * A write from a page of another origin is refused: browsers send Origin on
 * cross-origin requests, and a cookie login must not let another site act.
 */
export function crossOrigin(req) {
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}
