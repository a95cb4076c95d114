// A Durable Object that owns one broker for one vhost. AMQP clients reach it
// over WebSocket (the Hibernation API: binary messages are chunks of the AMQP
// byte stream); store records go to the object's storage; the engine's next
// deadline is the object's alarm. Host code only: every AMQP decision is the
// engine's.
//
// Hibernation is a broker restart. An idle object (no input, no alarm due;
// heartbeat 0 by default) is evicted by the runtime with its sockets left
// open; its memory, wasm instance and AMQP connection state go with it. On the
// next event the constructor rebuilds the broker from storage, so what a
// restart keeps survives (durable topology, persistent messages in durable
// queues) and the rest is gone, as after a RabbitMQ restart. Sockets left
// from before are closed with 1012 (service restart): their AMQP state is
// lost, so the client must reconnect. Deployments that want connections to
// outlive idle periods set a heartbeat (WARREN_HEARTBEAT): heartbeat frames
// keep the object resident, at the cost of its running time.
import { DurableObject } from 'cloudflare:workers';
import wasmModule from '../../pkg/warren_bg.wasm';
import { initSync } from '../../pkg/warren.js';
import { Broker } from '../broker.js';
import { engineReady, loadEngineSync } from '../engine.js';
import { AlarmClock } from './alarm-clock.js';
import { brokerOptions, hostConfig } from './config.js';
import { MemoryGuard } from './memory-guard.js';
import { SocketWriter } from './socket-writer.js';
import { StorageStore } from './storage-store.js';

/** Header by which the Worker entry tells the object its vhost. */
export const VHOST_HEADER = 'x-warren-vhost';
const VHOST_KEY = 'meta:vhost';

/** Why sockets are closed, as WebSocket close codes. */
const RESTARTED = [1012, 'broker restarted: reconnect'];
const FAILED = [1011, 'broker failed: reconnect'];

function closeQuietly(ws, [code, reason]) {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

export class WarrenBroker extends DurableObject {
  #config;
  #broker = null;
  #clock = null;
  #guard = null;
  #store = null;
  /** each socket's AMQP connection, and the bytes it sent since publishers were last shed */
  #sockets = new Map();
  #starting = null;
  #stats = {
    startedAt: Date.now(),
    instantiateMs: 0,
    coldStartMs: null,
    recoveredBytes: 0,
    alarms: 0,
    restartedSockets: 0,
  };

  constructor(ctx, env) {
    super(ctx, env);
    const t0 = performance.now();
    this.#config = hostConfig(env);
    if (!engineReady()) {
      loadEngineSync(wasmModule);
      this.#stats.instantiateMs = performance.now() - t0;
    }
    // Sockets accepted before a hibernation: nothing here knows them now.
    for (const ws of ctx.getWebSockets()) {
      closeQuietly(ws, RESTARTED);
      this.#stats.restartedSockets++;
    }
    ctx.blockConcurrencyWhile(async () => {
      const vhost = await ctx.storage.get(VHOST_KEY);
      // A new object learns its vhost from its first request.
      if (vhost !== undefined) await this.#start(vhost, t0);
    });
  }

  /** Builds the broker from storage. */
  async #start(vhost, t0 = performance.now()) {
    const storage = this.ctx.storage;
    const clock = new AlarmClock(storage, await storage.getAlarm());
    clock.onerror = (e) => this.#fail('setting the alarm failed', e);
    const store = new StorageStore(storage);
    this.#store = store;
    const broker = await Broker.create({ ...brokerOptions(this.#config, vhost), store, clock });
    broker.onerror = (e) => this.#fail('a storage write failed', e);
    const { memory } = initSync();
    this.#guard = new MemoryGuard(broker, () => memory.buffer.byteLength, this.#config.maxQueuedBytes);
    this.#guard.onchange = (blocked, queued) =>
      console.warn(
        `warren ${vhost}: ~${(queued / 2 ** 20).toFixed(0)} MiB queued: publishers ${blocked ? 'blocked' : 'unblocked'}`,
      );
    this.#clock = clock;
    this.#broker = broker;
    this.#stats.vhost = vhost;
    this.#stats.recoveredBytes = store.loadedBytes;
    this.#stats.coldStartMs = performance.now() - t0;
  }

  /** The broker, created on the first request of a new object. */
  async #ready(vhost) {
    if (this.#broker) return this.#broker;
    this.#starting ??= this.ctx.blockConcurrencyWhile(async () => {
      if (this.#broker) return;
      await this.ctx.storage.put(VHOST_KEY, vhost);
      await this.#start(vhost);
    });
    await this.#starting;
    return this.#broker;
  }

  /**
   * Without durability there is no broker: drop everything and let the
   * runtime start this object again from what storage holds.
   */
  #fail(what, err) {
    console.error(`warren: ${what}; restarting the object:`, err);
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, FAILED);
    this.ctx.abort?.(what);
  }

  async fetch(request) {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('AMQP over WebSocket only', { status: 426, headers: { Upgrade: 'websocket' } });
    }
    const vhost = request.headers.get(VHOST_HEADER);
    const broker = await this.#ready(vhost ?? '/');
    if (vhost !== null && vhost !== this.#stats.vhost)
      return new Response('wrong object for this vhost', { status: 421 });

    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    const peer = request.headers.get('cf-connecting-ip') ?? 'ws';
    // Survives hibernation for logs; the AMQP state cannot (see the top).
    server.serializeAttachment({ peer, since: Date.now() });
    const writer = new SocketWriter(server);
    const conn = broker.accept(
      {
        send: (bytes) => writer.send(bytes),
        // consume-ok goes out in a message of its own, ahead of deliveries.
        flush: () => writer.flush(),
        close: () => writer.close(1000, 'connection closed'),
      },
      { name: peer },
    );
    this.#sockets.set(server, { conn, bytesIn: 0 });
    // amqp-client.js offers no subprotocol; echo an amqp* one when offered.
    const offered = request.headers
      .get('Sec-WebSocket-Protocol')
      ?.split(',')
      .map((p) => p.trim());
    const protocol = offered?.find((p) => /^amqp/i.test(p));
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: protocol ? { 'Sec-WebSocket-Protocol': protocol } : {},
    });
  }

  webSocketMessage(ws, message) {
    const s = this.#sockets.get(ws);
    if (!s) return closeQuietly(ws, RESTARTED);
    if (typeof message === 'string') return closeQuietly(ws, [1003, 'AMQP over WebSocket is binary']);
    s.bytesIn += message.byteLength;
    s.conn.receive(new Uint8Array(message));
    if (this.#guard.check(Date.now())) this.#shedPublishers();
  }

  /** Past the hard memory limit: close the connections that sent most since the last check. */
  #shedPublishers() {
    let total = 0;
    for (const s of this.#sockets.values()) total += s.bytesIn;
    for (const s of this.#sockets.values()) {
      if (s.bytesIn * 2 >= total && s.bytesIn > 0) s.conn.forceClose('low on memory');
      s.bytesIn = 0;
    }
  }

  webSocketClose(ws, code) {
    this.#sockets.get(ws)?.conn.closed();
    this.#sockets.delete(ws);
    // Completes the closing handshake (runtimes without automatic close replies).
    closeQuietly(ws, [code === 1005 || code === 1006 ? 1000 : code, 'bye']);
  }

  webSocketError(ws) {
    this.#sockets.get(ws)?.conn.closed();
    this.#sockets.delete(ws);
  }

  async alarm() {
    // The constructor rebuilt the broker (it stored its vhost before any alarm was set).
    if (!this.#clock) return;
    this.#stats.alarms++;
    this.#clock.fire();
  }

  /** For the debug route and the benchmark. */
  async stats() {
    const broker = this.#broker;
    return {
      ...this.#stats,
      sockets: this.#sockets.size,
      timers: this.#clock?.pending ?? 0,
      alarmWrites: this.#clock?.writes ?? 0,
      storeBatches: this.#store?.batches ?? 0,
      storeBytes: this.#store?.writtenBytes ?? 0,
      alarmAt: await this.ctx.storage.getAlarm(),
      memoryBytes: broker ? initSync().memory.buffer.byteLength : 0,
      queuedBytes: this.#guard?.queuedBytes() ?? 0,
      snapshot: broker?.snapshot() ?? null,
    };
  }
}
