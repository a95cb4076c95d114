// One Worker's isolate seen through workerd's inspector (the DevTools
// protocol; Miniflare's `inspectorPort` starts workerd with --inspector-addr):
// its V8 heap as the platform's memory limit counts it, and CPU profiles.
//
// The limit counts the whole isolate: the JS heap plus memory held outside it
// (ArrayBuffer backing stores, wasm memories). Runtime.getHeapUsage gives the
// heap and the embedder's share; the wasm memory's size comes from the object
// itself (its debug route), as V8's inspector does not report it.
import net from 'node:net';
import WebSocket from 'ws';

/** A free port on loopback for the inspector. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * Connects to the isolate of worker `name` (Miniflare's user worker by
 * default). workerd runs some commands (a garbage collection, a profile's
 * start) only once an event enters the isolate: `poke()` makes one (a
 * request), every 100 ms while a command waits.
 */
export async function inspect(port, { name = 'core:user:', poke }) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => t.id === name);
  if (!target) throw new Error(`inspector: no worker ${name} (${targets.map((t) => t.id).join(', ')})`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  let next = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const m = JSON.parse(data);
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(`inspector: ${m.error.message}`));
    else p.resolve(m.result);
  });
  let poking = null;
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
      poking ??= setInterval(() => {
        if (pending.size === 0) return (clearInterval(poking), (poking = null));
        poke().catch(() => {});
      }, 100);
    });
  await call('HeapProfiler.enable');
  return {
    call,
    /** { usedSize, totalSize, embedderHeapUsedSize, backingStorageSize } in bytes; `gc` collects first. */
    async heap({ gc = false } = {}) {
      if (gc) await call('HeapProfiler.collectGarbage');
      return call('Runtime.getHeapUsage');
    },
    async startProfile(intervalUs = 200) {
      await call('Profiler.enable');
      await call('Profiler.setSamplingInterval', { interval: intervalUs });
      await call('Profiler.start');
    },
    /** The CPU profile since startProfile() (a .cpuprofile object). */
    async stopProfile() {
      const { profile } = await call('Profiler.stop');
      await call('Profiler.disable');
      return profile;
    },
    close: () => (clearInterval(poking), ws.close()),
  };
}

/**
 * Self time of a CPU profile by function and by script, largest first:
 * [{ name, ms, share }].
 */
export function selfTimes(profile) {
  const ticks = new Map(profile.nodes.map((n) => [n.id, 0]));
  for (const id of profile.samples) ticks.set(id, ticks.get(id) + 1);
  const total = profile.samples.length || 1;
  const ms = (profile.endTime - profile.startTime) / 1000;
  const byFn = new Map();
  const byScript = new Map();
  for (const n of profile.nodes) {
    const t = ticks.get(n.id);
    if (!t) continue;
    const f = n.callFrame;
    const script = f.url ? f.url.replace(/^.*\//, '') : '(native)';
    const fn = `${f.functionName || '(anonymous)'} ${script}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + t);
    byScript.set(script, (byScript.get(script) ?? 0) + t);
  }
  const rows = (m) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, t]) => ({ name, ms: (t / total) * ms, share: t / total }));
  return { ms, functions: rows(byFn), scripts: rows(byScript) };
}
