// Kills a Warren host (SIGKILL) at random moments under a mixed load
// (tests/node/mixed-load.mjs: confirmed publishers, acking consumers, a
// consumer whose connection is cut mid-delivery, rejects and TTLs that
// dead-letter), many times over one store, and checks after every restart
// that no confirmed persistent message is lost, nothing comes back that was
// never published, and an acked message that comes back (its ack was not yet
// durable) is flagged redelivered. What at-least-once allows (acked messages
// back, flagged; dead-lettered copies still in their source) is counted.
//
//   node bench/crash-cycles.mjs [cycles=50] [--minutes N] [--keep] [--host serve|workerd] [--hibernation on|off]
//
// `serve`: `warren-mq serve` over TCP, file store. `workerd`: the Durable
// Object host in real workerd (Miniflare, tests/worker/runtime.mjs) over
// WebSocket, its storage in a directory on disk that outlives the process;
// `--hibernation off` accepts its sockets in memory (WARREN_HIBERNATION).
import fs from 'node:fs';
import { checkMixed, mixedLoad, newState } from '../tests/node/mixed-load.mjs';
import { sleep, startServer, tmpDir } from '../tests/node/server.mjs';

const cycles = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 50);
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const minutes = arg('--minutes');
const deadline = minutes ? Date.now() + Number(minutes) * 60000 : Infinity;
const keep = process.argv.includes('--keep');
const hostName = arg('--host') ?? 'serve';
if (!['serve', 'workerd'].includes(hostName)) {
  console.error(`crash-cycles: --host must be serve or workerd, not ${hostName}`);
  process.exit(2);
}
const hibernation = arg('--hibernation') ?? 'on';
if (!['on', 'off'].includes(hibernation)) {
  console.error(`crash-cycles: --hibernation must be on or off, not ${hibernation}`);
  process.exit(2);
}

/** { target (for mixed-load), kill(), stop(), torn() } of a started host. */
async function serveHost(dataDir) {
  const server = await startServer({ dataDir });
  return {
    target: server.url,
    torn: () => /damaged/.test(server.log()),
    async kill() {
      server.child.kill('SIGKILL');
      await server.exited;
    },
    stop: () => server.stop(),
  };
}

let worker = null; // tests/worker/runtime.mjs, loaded only for workerd
async function workerdHost(dataDir) {
  worker ??= await import('../tests/worker/runtime.mjs');
  // The client reaches the object directly (not through Miniflare's entry), where it is not seen as loopback.
  const rt = await worker.start({
    persistDir: dataDir,
    assets: false,
    vars: { WARREN_LOOPBACK_USERS: 'none', WARREN_HIBERNATION: hibernation },
  });
  const target = {
    async connect() {
      const { AMQPWebSocketClient } = await import('@cloudamqp/amqp-client');
      const c = new AMQPWebSocketClient({ url: rt.directWs(), vhost: '/', username: 'guest', password: 'guest' });
      c.onerror = () => {};
      await c.connect();
      return c;
    },
    cut(c) {
      // No AMQP close: the TCP connection under the WebSocket is dropped.
      if (!c.socket || c.socket.readyState !== 1) return false;
      c.socket.terminate();
      return true;
    },
  };
  return {
    target,
    torn: () => false, // the object's storage is a database: no torn tail to cut
    kill: () => rt.kill(),
    stop: () => rt.stop(),
  };
}

const startHost = hostName === 'workerd' ? workerdHost : serveHost;
const dataDir = tmpDir(`warren-crash-${hostName}-`);
const state = newState();
const totals = { confirmed: 0, acked: 0, lost: 0, phantom: 0, ackedAndBack: 0, ackedBackFlagged: 0, duplicates: 0 };
totals.redelivered = 0;
totals.unflagged = 0;
let torn = 0;
let done = 0;
const t0 = performance.now();

console.log(`crash-cycles (${hostName}): up to ${cycles} cycles in ${dataDir}`);
for (let cycle = 1; ; cycle++) {
  const host = await startHost(dataDir);
  if (host.torn()) torn++;
  if (cycle > 1) {
    const r = await checkMixed(host.target, state);
    done++;
    for (const k of ['confirmed', 'acked', 'ackedAndBack', 'ackedBackFlagged', 'duplicates', 'redelivered'])
      totals[k] += r[k];
    totals.lost += r.lost.length;
    totals.phantom += r.phantom.length;
    totals.unflagged += r.ackedBackUnflagged.length;
    const bad = [
      r.lost.length ? `LOST ${r.lost.length}: ${r.lost.slice(0, 10).join(',')}` : '',
      r.phantom.length ? `PHANTOM ${r.phantom.length}: ${r.phantom.slice(0, 10).join(',')}` : '',
      r.ackedBackUnflagged.length
        ? `ACKED BACK UNFLAGGED ${r.ackedBackUnflagged.length}: ${r.ackedBackUnflagged.slice(0, 10).join(',')}`
        : '',
    ].filter(Boolean);
    const pad = (n, w = 6) => String(n).padStart(w);
    const q = r.perQueue;
    console.log(
      `cycle ${pad(cycle - 1, 4)}: ${pad(r.confirmed)} confirmed, ${pad(r.acked)} acked; back: work ${pad(q['mix.work'], 5)} ttl ${pad(q['mix.ttl'], 5)} reject ${pad(q['mix.reject'], 4)} dead ${pad(q['mix.dead'], 5)}; ${pad(r.redelivered, 5)} redelivered, ${pad(r.ackedAndBack, 3)} acked and back (${r.ackedBackFlagged} flagged), ${r.duplicates} dup  ${bad.join(' ') || 'ok'}`,
    );
  }
  if (cycle > cycles || Date.now() > deadline) {
    await host.stop();
    break;
  }
  const loading = mixedLoad(host.target, state, { maxMessages: 100000 });
  await sleep(200 + Math.random() * 1300);
  await host.kill();
  // A client whose socket died mid-handshake may never settle (no timer or
  // socket left: Node would exit with 13): the load is given up after 10 s.
  await Promise.race([loading, sleep(10000)]);
}
const secs = ((performance.now() - t0) / 1000).toFixed(0);
console.log(
  `\n${hostName}: ${done} kills in ${secs}s: ${state.published} published, ${totals.confirmed} confirmed and checked, ${totals.lost} lost, ${totals.phantom} phantom; ` +
    `${totals.redelivered} redelivered; ${totals.ackedAndBack} acked and back (${totals.ackedBackFlagged} of them flagged redelivered, ${totals.unflagged} not), ` +
    `${totals.duplicates} dead-lettered also in their source; ${state.cuts} consumer connections cut; a torn tail was cut on ${torn} restarts`,
);
if (!keep) fs.rmSync(dataDir, { recursive: true, force: true });
process.exit(totals.lost || totals.phantom || totals.unflagged ? 1 : 0);
