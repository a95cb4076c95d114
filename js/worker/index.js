// The Worker entry: /ws/amqp[/<vhost>] goes to the Durable Object of that
// vhost (one object per vhost, named by it); everything else is the tutorial
// page, served from static assets.
import { hostConfig } from './config.js';
import { VHOST_HEADER, WarrenBroker } from './durable-object.js';
import { DEBUG_PATH, FAULTS_PATH, originAllowed, vhostOf } from './routes.js';

export { WarrenBroker };

const stubFor = (env, vhost) => env.WARREN.get(env.WARREN.idFromName(vhost));

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const config = hostConfig(env);
    const vhost = vhostOf(url.pathname);
    if (vhost === null) return new Response('bad vhost in path', { status: 400 });
    if (vhost !== undefined) {
      if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
        return new Response('AMQP over WebSocket: connect with a WebSocket client', {
          status: 426,
          headers: { Upgrade: 'websocket' },
        });
      }
      if (!originAllowed(config.origins, request)) return new Response('origin not allowed', { status: 403 });
      const headers = new Headers(request.headers);
      headers.set(VHOST_HEADER, vhost);
      return stubFor(env, vhost).fetch(new Request(request, { headers }));
    }
    if (config.debug) {
      const debugVhost = vhostOf(url.pathname, DEBUG_PATH);
      if (debugVhost) return Response.json(await stubFor(env, debugVhost).stats());
    }
    if (config.testFaults && request.method === 'POST') {
      const faultsVhost = vhostOf(url.pathname, FAULTS_PATH);
      if (faultsVhost) return Response.json(await stubFor(env, faultsVhost).setStorageFaults(await request.json()));
    }
    if (env.ASSETS) return env.ASSETS.fetch(request);
    return new Response('not found', { status: 404 });
  },
};
