// Which requests go where: the vhost named by an /ws/amqp path, and the
// Origin check that keeps other sites' pages from connecting.

export const AMQP_PATH = '/ws/amqp';
export const DEBUG_PATH = '/debug';
/** Tests only (WARREN_TEST_FAULTS=1): POST { put, sync } makes store writes fail. */
export const FAULTS_PATH = '/test-faults';

/**
 * The vhost a path names: `/ws/amqp` and `/ws/amqp/` are "/", `/ws/amqp/x`
 * is "x" (percent-decoded, so "/" itself is also `/ws/amqp/%2F`). Undefined
 * for other paths, null for a malformed one.
 */
export function vhostOf(pathname, base = AMQP_PATH) {
  if (pathname === base || pathname === `${base}/`) return '/';
  if (!pathname.startsWith(`${base}/`)) return undefined;
  const rest = pathname.slice(base.length + 1);
  if (rest.includes('/')) return null;
  try {
    const vhost = decodeURIComponent(rest);
    return vhost !== '' && new TextEncoder().encode(vhost).length <= 255 ? vhost : null;
  } catch {
    return null;
  }
}

/** Browsers send an Origin; "self" is a page served by this Worker. Non-browser clients send none. */
export function originAllowed(origins, request) {
  const origin = request.headers.get('Origin');
  if (!origin || origins.includes('*') || origins.includes(origin)) return true;
  try {
    return origins.includes('self') && new URL(origin).host === new URL(request.url).host;
  } catch {
    return false;
  }
}
