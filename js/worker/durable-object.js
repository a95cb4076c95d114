// A Durable Object that owns one broker for one vhost. AMQP clients reach it
// over WebSocket (the Hibernation API: binary messages are chunks of the AMQP
// byte stream, fed to the broker once per turn: socket-reader.js); store
// records go to the object's storage; the engine's next deadline is the
// object's alarm. Host code only: every AMQP decision is the engine's.
//
// Sleep is not a crash. The runtime evicts an object about 10 s after its
// last event, leaving its WebSockets open, and gives no warning. So once the
// object has been idle for WARREN_IMAGE_AFTER_MS (2 s), it writes an image of
// the whole broker (engine, connections, channels, consumers, unacked
// deliveries, transient messages) to storage; the first change after that
// discards it. An object built after an eviction resumes from the image and
// re-attaches each surviving socket to its connection (the socket's
// attachment names it): clients, heartbeat 0 included, notice nothing. Only
// when there is no image (a crash, a deploy, an eviction in the first
// seconds after a change) does the object rebuild from its durable records
// alone, as a RabbitMQ restart does: old sockets are closed with 1012, and
// the restart is logged and counted. WARREN_HIBERNATION=off accepts sockets
// in memory instead: cheaper per message, but the object never sleeps while
// one is open.
//
// Queues past their page budget keep their messages in pages in storage
// (js/worker/storage-store.js). The image and the log name the pages, so
// neither a wake nor a restart reads a page before a consumer needs it, and
// the memory guard counts only what is in memory: a backlog blocks its
// publishers only once storage is full (the store's "store full" alarm).
import { DurableObject } from 'cloudflare:workers';
import wasmModule from '../../pkg/warren_bg.wasm';
import { initSync } from '../../pkg/warren.js';
import { Broker } from '../broker.js';
import { engineReady, loadEngineSync } from '../engine.js';
import { AlarmClock } from './alarm-clock.js';
import { brokerOptions, hostConfig } from './config.js';
import { ImageStore } from './image-store.js';
import { MemoryGuard } from './memory-guard.js';
import { SocketReader } from './socket-reader.js';
import { SocketWriter } from './socket-writer.js';
import { faultyStorage } from './faulty-storage.js';
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
  /** injected store failures (tests only) */
  #faults = { put: null, sync: null };
  /** each socket's AMQP connection, and the bytes it sent since publishers were last shed */
  #sockets = new Map();
  /** the sockets' messages, fed to the broker once per turn */
  #reader = new SocketReader(
    (conn, bytes) => {
      this.#changed();
      conn.receive(bytes);
    },
    () => {
      if (this.#guard.check(Date.now())) this.#shedPublishers();
    },
  );
  #starting = null;
  #images = null;
  /** storage holds an image that describes the broker as it is now */
  #imageValid = false;
  #lastChange = 0;
  /** an idle check is set on the clock */
  #idleArmed = false;
  /** the image write in flight */
  #writing = null;
  #stats = {
    startedAt: Date.now(),
    instantiateMs: 0,
    coldStartMs: null,
    recoveredBytes: 0,
    alarms: 0,
    restartedSockets: 0,
    resumes: 0,
    resumeMs: null,
    reattachedSockets: 0,
    restarts: 0,
    imageErrors: 0,
    lastImageError: null,
    imagesWritten: 0,
    imageBytes: 0,
    imageWriteMs: null,
    /** closes the server made, by "scope code" (the engine reports each one) */
    closes: {},
  };

  constructor(ctx, env) {
    super(ctx, env);
    const t0 = performance.now();
    this.#config = hostConfig(env);
    if (!engineReady()) {
      loadEngineSync(wasmModule);
      this.#stats.instantiateMs = performance.now() - t0;
    }
    ctx.blockConcurrencyWhile(async () => {
      const vhost = await ctx.storage.get(VHOST_KEY);
      // A new object learns its vhost from its first request.
      if (vhost !== undefined) await this.#start(vhost, t0, true);
    });
  }

  /** Builds the broker from storage: from its image after a sleep, else from the durable records. */
  async #start(vhost, t0 = performance.now(), woken = false) {
    const storage = this.ctx.storage;
    const clock = new AlarmClock(storage, await storage.getAlarm());
    clock.onerror = (e) => this.#fail('setting the alarm failed', e);
    this.#clock = clock;
    const store = new StorageStore(this.#config.testFaults ? faultyStorage(storage, this.#faults) : storage);
    // A page read back changes the broker (its run is in memory, its page then
    // deleted) with no event of its own: a read the image names as in flight
    // is asked for again on the next wake.
    store.onpageread = () => this.#changed();
    this.#store = store;
    this.#images = new ImageStore(storage);
    // Every engine timer that goes off may change the broker.
    const engineClock = { now: () => clock.now(), at: (at, fn) => clock.at(at, () => (this.#changed(), fn())) };
    const options = { ...brokerOptions(this.#config, vhost), store, clock: engineClock };
    const broker = (await this.#resume(vhost, options)) ?? (await this.#restart(vhost, options, woken));
    broker.onerror = (e) => this.#fail('a storage write failed', e);
    const { memory } = initSync();
    this.#guard = new MemoryGuard(broker, () => memory.buffer.byteLength, this.#config.maxQueuedBytes);
    this.#guard.onchange = (blocked, queued) =>
      console.warn(
        `warren ${vhost}: ~${(queued / 2 ** 20).toFixed(0)} MiB queued: publishers ${blocked ? 'blocked' : 'unblocked'}`,
      );
    this.#broker = broker;
    this.#stats.vhost = vhost;
    this.#stats.recoveredBytes = store.loadedBytes;
    this.#stats.coldStartMs = performance.now() - t0;
  }

  /** The broker as the image left it, with the sockets that outlived the sleep re-attached; null without an image. */
  async #resume(vhost, options) {
    const t0 = performance.now();
    let broker;
    const readsBefore = this.#store.pageStats.reads;
    try {
      const image = await this.#images.load();
      if (!image) return null;
      broker = await Broker.resume(image, options);
      this.#stats.imageBytes = image.length;
    } catch (e) {
      console.warn(
        `warren ${vhost}: the broker image cannot be resumed (${e.message}); recovering from durable records`,
      );
      this.#stats.imageErrors++;
      this.#stats.lastImageError = String(e.message ?? e);
      return null;
    }
    this.#imageValid = true;
    // A page the image named as being read came back already: the image is stale.
    if (this.#store.pageStats.reads > readsBefore) this.#changed();
    for (const ws of this.ctx.getWebSockets()) {
      const { conn: id, peer } = ws.deserializeAttachment() ?? {};
      if (broker.unattached.includes(id)) {
        const conn = broker.reattach(id, this.#transport(ws), { onClose: this.#closeLogger(peer ?? 'ws') });
        this.#sockets.set(ws, { conn, bytesIn: 0 });
        this.#stats.reattachedSockets++;
      } else {
        closeQuietly(ws, RESTARTED);
        this.#stats.restartedSockets++;
      }
    }
    // Sockets closed while the object slept: their connections end now.
    if (broker.closeUnattached() > 0) this.#changed();
    this.#stats.resumes++;
    this.#stats.resumeMs = performance.now() - t0;
    return broker;
  }

  /**
   * The broker from its durable records: a new object, or (`woken`) one that
   * lost its memory with no image to resume from: a crash, a deploy, or an
   * eviction right after a change.
   */
  async #restart(vhost, options, woken) {
    const broker = await Broker.create(options);
    const sockets = this.ctx.getWebSockets();
    if (woken) {
      this.#stats.restarts++;
      console.warn(
        `warren ${vhost}: restarted without an image: durable state recovered, ${sockets.length} connection(s) closed`,
      );
    }
    for (const ws of sockets) {
      closeQuietly(ws, RESTARTED);
      this.#stats.restartedSockets++;
    }
    return broker;
  }

  /**
   * The broker is about to change: a stored image no longer describes it
   * (the delete is ordered before every write and message that follows),
   * and a new one is due once the object has been idle a while.
   */
  #changed() {
    this.#lastChange = Date.now();
    if (this.#imageValid) {
      this.#imageValid = false;
      this.#images.discard().catch((e) => this.#fail('discarding the image failed', e));
    }
    if (!this.#idleArmed) this.#armIdle();
  }

  #armIdle() {
    this.#idleArmed = true;
    this.#clock.at(this.#lastChange + this.#config.imageAfterMs, () => {
      this.#idleArmed = false;
      if (Date.now() < this.#lastChange + this.#config.imageAfterMs) this.#armIdle();
      else this.#writing = this.#writeImage();
    });
  }

  async #writeImage() {
    const mark = this.#lastChange;
    const t0 = performance.now();
    let image;
    try {
      this.#reader.flush(); // what the sockets sent belongs in the image
      image = await this.#broker.suspend(); // once the store has every record
    } catch (e) {
      console.error('warren: taking the broker image failed:', e);
      return;
    }
    // A change while the store caught up: the idle check it re-armed tries again.
    if (this.#lastChange !== mark || this.#imageValid) return;
    const saved = this.#images.save(image);
    this.#imageValid = true;
    try {
      await saved;
    } catch (e) {
      return this.#fail('writing the image failed', e);
    }
    this.#stats.imagesWritten++;
    this.#stats.imageBytes = image.length;
    this.#stats.imageWriteMs = performance.now() - t0;
  }

  /** Counts and logs the closes the engine reports for one peer's connection. */
  #closeLogger(peer) {
    return (c) => {
      const key = `${c.scope} ${c.code}`;
      this.#stats.closes[key] = (this.#stats.closes[key] ?? 0) + 1;
      if (c.code !== 320) console.warn(`warren: ${peer}: ${c.scope} ${c.channel} closed: ${c.code} ${c.text}`);
    };
  }

  /** A WebSocket as the broker's transport. */
  #transport(ws) {
    const writer = new SocketWriter(ws);
    return {
      send: (bytes) => writer.send(bytes),
      // consume-ok goes out in a message of its own, ahead of deliveries.
      flush: () => writer.flush(),
      // A client sent close-ok closes the WebSocket itself (the recipient of
      // close-ok closes the socket); no timer keeps the object awake for one
      // that does not: a wake from hibernation or a restart closes it.
      close: ({ clientCloses = false } = {}) => {
        if (clientCloses) writer.flush();
        else writer.close(1000, 'connection closed');
      },
    };
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
    for (const ws of new Set([...this.ctx.getWebSockets(), ...this.#sockets.keys()])) closeQuietly(ws, FAILED);
    // One turn later, so the closes already sent (320 naming the failure,
    // then 1011) leave before the object goes, where the output gate holds.
    setTimeout(() => this.ctx.abort?.(what), 0);
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
    const peer = request.headers.get('cf-connecting-ip') ?? 'ws';
    this.#changed();
    const conn = broker.accept(this.#transport(server), { name: peer, onClose: this.#closeLogger(peer) });
    this.#sockets.set(server, { conn, bytesIn: 0 });
    if (this.#config.hibernation) {
      this.ctx.acceptWebSocket(server);
      // Survives hibernation: a resumed broker knows the socket by its connection.
      server.serializeAttachment({ peer, since: Date.now(), conn: conn.id });
    } else this.#acceptResident(server);
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

  /**
   * WARREN_HIBERNATION=off: the socket's events come to listeners in this
   * request's context, not each as an event of its own (half the runtime's
   * CPU per message), and the object stays in memory while the socket is open.
   */
  #acceptResident(ws) {
    ws.accept();
    ws.addEventListener('message', (e) => this.webSocketMessage(ws, e.data));
    ws.addEventListener('close', (e) => this.webSocketClose(ws, e.code));
    ws.addEventListener('error', () => this.webSocketError(ws));
  }

  webSocketMessage(ws, message) {
    const s = this.#sockets.get(ws);
    if (!s) return closeQuietly(ws, RESTARTED);
    if (typeof message === 'string') return closeQuietly(ws, [1003, 'AMQP over WebSocket is binary']);
    s.bytesIn += message.byteLength;
    this.#reader.add(s, new Uint8Array(message));
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
    this.#changed();
    this.#closeSocket(ws);
    // Completes the closing handshake (runtimes without automatic close replies).
    closeQuietly(ws, [code === 1005 || code === 1006 ? 1000 : code, 'bye']);
  }

  webSocketError(ws) {
    this.#changed();
    this.#closeSocket(ws);
  }

  /** The socket's connection ends, after the bytes it sent before. */
  #closeSocket(ws) {
    const s = this.#sockets.get(ws);
    if (!s) return;
    this.#reader.flushSocket(s);
    s.conn.closed();
    this.#sockets.delete(ws);
  }

  async alarm() {
    // The constructor rebuilt the broker (it stored its vhost before any alarm was set).
    if (!this.#clock) return;
    this.#stats.alarms++;
    this.#reader.flush(); // timers see what the sockets sent before they went off
    this.#clock.fire();
    await this.#writing;
  }

  /** Tests only (WARREN_TEST_FAULTS=1): how later store writes fail; see faulty-storage.js. */
  setStorageFaults({ put = null, sync = null } = {}) {
    if (!this.#config.testFaults) throw new Error('storage faults are for tests: set WARREN_TEST_FAULTS=1');
    const kinds = [null, 'quota', 'error'];
    if (!kinds.includes(put) || !kinds.includes(sync)) throw new Error('put and sync: null, "quota" or "error"');
    Object.assign(this.#faults, { put, sync });
    return { ...this.#faults };
  }

  /** For the debug route and the benchmark. */
  async stats() {
    this.#reader.flush();
    const broker = this.#broker;
    return {
      ...this.#stats,
      sockets: this.#sockets.size,
      hibernatableSockets: this.ctx.getWebSockets().length,
      timers: this.#clock?.pending ?? 0,
      alarmWrites: this.#clock?.writes ?? 0,
      socketMessages: this.#reader.messages,
      socketFeeds: this.#reader.feeds,
      storeBatches: this.#store?.batches ?? 0,
      storeBytes: this.#store?.writtenBytes ?? 0,
      pages: this.#store ? { ...this.#store.pageStats, held: this.#store.pageCount } : null,
      alarmAt: await this.ctx.storage.getAlarm(),
      memoryBytes: broker ? initSync().memory.buffer.byteLength : 0,
      queuedBytes: this.#guard?.queuedBytes() ?? 0,
      snapshot: broker?.snapshot() ?? null,
    };
  }
}
