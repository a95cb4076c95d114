// The run loop around one WasmBroker: after every call into the engine,
// `drain` takes its packed output and dispatches each record (deliveries,
// confirms, closes to in-process clients; bytes and closes to transports),
// then re-arms the one timer at the engine's next deadline, queues events
// for subscribers and lets the store writer pick up new records.
// In-process publishes and acks are queued as commands (layout:
// src/wasm/batch.rs), written straight into the engine's command buffer in
// wasm memory, and run once per batch: in a microtask, when the buffer
// fills, or before any other call into the engine.
import { AMQPError } from './errors.js';
import { report, Message } from './client.js';
import { readData } from './data.js';
import { engineMemory } from './engine.js';
import * as K from './output.js';

// Output buffers taken per drain before yielding to the event loop, so a
// consumer that acks from its callback cannot keep the broker spinning.
const MAX_ROUNDS = 256;
// Queued commands run once they take this many bytes: some 780 publishes
// of 16-byte bodies. A batch within a consumer's usual prefetch goes
// straight to it; a bigger one leaves most of its messages on the ready
// list, each then queued, taken off and handed out in a later round
// (bench/js-api-instructions.mjs, instructions per message: 64 KiB 3335,
// 32 KiB 3073, 16 KiB 2939-2968, 4 and 8 KiB 2991).
const BATCH_BYTES = 16 * 1024;
// The command buffer's usual size: a batch runs before the next record
// would take it past BATCH_BYTES, so this is room for one publish of a body
// up to 64 KiB with its names; only bigger ones get a buffer of their own.
const COMMAND_BUFFER = 65 * 1024;
const EMPTY = new Uint8Array(0);
// Command kinds (src/wasm/batch.rs).
export const PUBLISH = 1;
export const ACK = 2;
export const NACK = 3;
export const REJECT = 4;
const PUBLISH_NEXT = 5;
const ACK_RUN = 6;
const utf8 = new TextEncoder();

export class Core {
  /** in-process connections by engine id */
  conns = new Map();
  /** accepted transports by id */
  transports = new Map();
  /** called after each drain (the store writer) */
  afterDrain = null;
  /** wire taps: (conn, channel, toClient, frames) for each in-process frame (see tapWire) */
  wireTaps = new Set();
  closed = false;

  #wasm;
  /**
   * queued commands: #cmd[0, #cmdLen), a view of the engine's command buffer
   * (#cmdSize bytes at #cmdPtr in wasm memory); empty until first used and
   * once wasm memory grows (which detaches it), then made again
   */
  #cmd = EMPTY;
  #cmdView = new DataView(EMPTY.buffer);
  #cmdPtr = 0;
  #cmdSize = 0;
  #cmdLen = 0;
  /** the batch's last PUBLISH record: where it went, and how */
  #pubChannel = null;
  #pubExchange = '';
  #pubKey = '';
  #pubMandatory = false;
  /** the ACK_RUN record ending the batch (#runEnd === #cmdLen): its channel and tags */
  #runEnd = -1;
  #runChannel = null;
  #runFirst = 0;
  #runNext = 0;
  #flushQueued = false;
  /** channels whose batch promise waits on the queued commands, settled once their output is dispatched */
  #batched = [];
  #settle = [];
  /** the channel and consumer of the last delivery dispatched */
  #lastChannel = null;
  #lastConsumer = null;
  #lastExchange = '';
  #lastKey = '';
  #lastTag = 0;
  #reader;
  /** [output address, next deadline] as takeOutput leaves them, in wasm memory */
  #status = new Float64Array(0);
  #statusPtr;
  #draining = false;
  #resumeQueued = false;
  #timerAt = -1;
  #cancelTimer = null;
  #events;
  #listeners = new Set();
  #eventsQueued = false;

  constructor(wasm, clock, decodeProperties, events) {
    this.#wasm = wasm;
    this.clock = clock;
    this.decodeProperties = decodeProperties;
    this.#events = events;
    // Events are recorded only while someone listens.
    if (events) wasm.recordEvents(false);
    this.#reader = new K.OutputReader(engineMemory());
    this.#statusPtr = wasm.statusPtr();
  }

  /** The status words, re-viewed after wasm memory grew. */
  #statusView() {
    if (this.#status.length === 0) this.#status = new Float64Array(engineMemory().buffer, this.#statusPtr, 2);
    return this.#status;
  }

  /** The engine, with the queued commands run first: every other call comes after them. */
  get wasm() {
    if (this.#cmdLen > 0) {
      this.#runCommands();
      if (!this.#draining) this.drain();
    }
    return this.#wasm;
  }

  now() {
    return this.clock.now();
  }

  // ---- batched commands ------------------------------------------------------

  /** Room for `n` more bytes of commands; runs the batch when it is full. */
  #reserve(n) {
    if (this.#cmdLen + n > BATCH_BYTES && this.#cmdLen > 0) {
      this.#runCommands();
      if (!this.#draining) this.drain();
    }
    if (this.#cmdLen + n > this.#cmd.length) this.#viewCommands(Math.max(this.#cmdLen + n, COMMAND_BUFFER));
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.drain();
      });
    }
    return this.#cmdLen;
  }

  /**
   * Views the command buffer, first made `size` bytes long if it is not
   * (keeping what is queued): at first use, for a big publish, and after
   * wasm memory grew, which leaves the old view empty.
   */
  #viewCommands(size) {
    if (size !== this.#cmdSize) {
      this.#cmdPtr = this.#wasm.commandBuffer(size);
      this.#cmdSize = size;
    }
    const { buffer } = engineMemory();
    this.#cmd = new Uint8Array(buffer, this.#cmdPtr, size);
    this.#cmdView = new DataView(buffer, this.#cmdPtr, size);
  }

  #head(at, op, conn, ch) {
    this.#cmd[at] = op;
    this.#cmdView.setUint32(at + 1, conn, true);
    this.#cmdView.setUint16(at + 5, ch, true);
    return at + 7;
  }

  /**
   * Queues a publish without properties. `exchange` and `routingKey` are at
   * most 85 characters (255 bytes of UTF-8; longer ones go unbatched). One
   * like the batch's previous publish is a PUBLISH_NEXT: its body alone.
   */
  queuePublish(channel, exchange, routingKey, body, mandatory) {
    const n = body.length;
    let at = this.#reserve(7 + 1 + 2 + 3 * (exchange.length + routingKey.length) + 4 + n);
    const cmd = this.#cmd;
    if (
      channel === this.#pubChannel &&
      exchange === this.#pubExchange &&
      routingKey === this.#pubKey &&
      mandatory === this.#pubMandatory
    ) {
      cmd[at] = PUBLISH_NEXT;
      at += 1;
    } else {
      at = this.#head(at, PUBLISH, channel.connection.id, channel.id);
      cmd[at++] = mandatory ? 1 : 0;
      at = this.#str8(at, exchange);
      at = this.#str8(at, routingKey);
      this.#pubChannel = channel;
      this.#pubExchange = exchange;
      this.#pubKey = routingKey;
      this.#pubMandatory = mandatory;
    }
    this.#cmdView.setUint32(at, n, true);
    at += 4;
    cmd.set(body, at);
    this.#cmdLen = at + n;
  }

  /** queuePublish of each of `bodies` (Uint8Arrays). */
  queuePublishMany(channel, exchange, routingKey, bodies, mandatory) {
    for (let i = 0; i < bodies.length; i++) {
      const cmd = this.#cmd;
      const body = bodies[i];
      const n = body.length;
      let at = this.#cmdLen;
      // After the first, while the buffer holds them: PUBLISH_NEXT records
      // written here, with no look at the names.
      if (i === 0 || this.#pubChannel !== channel || at + 5 + n > BATCH_BYTES || channel.closed) {
        // A full buffer ran and closed the channel: the rest would be refused.
        if (i > 0 && channel.closed) return;
        this.queuePublish(channel, exchange, routingKey, body, mandatory);
        continue;
      }
      cmd[at] = PUBLISH_NEXT;
      this.#cmdView.setUint32(at + 1, n, true);
      at += 5;
      cmd.set(body, at);
      this.#cmdLen = at + n;
    }
  }

  /**
   * Queues basic.ack, nack or reject (`op`) of a valid delivery tag. Single
   * acks of consecutive tags on one channel, with nothing queued between
   * them, share one ACK_RUN record.
   */
  queueSettle(channel, op, tag, multiple, requeue) {
    const single = op === ACK && !multiple;
    if (
      single &&
      this.#runEnd === this.#cmdLen &&
      channel === this.#runChannel &&
      tag === this.#runNext &&
      tag - this.#runFirst < 0xffffffff && // the count is a u32
      this.#cmd.length > 0
    ) {
      this.#runNext = tag + 1;
      this.#cmdView.setUint32(this.#runEnd - 4, this.#runNext - this.#runFirst, true);
      return;
    }
    let at = this.#reserve(7 + 12);
    at = this.#head(at, single ? ACK_RUN : op, channel.connection.id, channel.id);
    this.#cmdView.setFloat64(at, tag, true);
    if (single) {
      this.#cmdView.setUint32(at + 8, 1, true);
      this.#cmdLen = at + 12;
      this.#runEnd = this.#cmdLen;
      this.#runChannel = channel;
      this.#runFirst = tag;
      this.#runNext = tag + 1;
      return;
    }
    this.#cmd[at + 8] = multiple ? 1 : 0;
    this.#cmd[at + 9] = requeue ? 1 : 0;
    this.#cmdLen = at + 10;
  }

  /** `channel` made a batch promise: it settles once the queued commands have run. */
  awaitBatch(channel) {
    this.#batched.push(channel);
  }

  #str8(at, s) {
    const cmd = this.#cmd;
    let ascii = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) {
        ascii = false;
        break;
      }
      cmd[at + 1 + i] = c;
    }
    if (ascii) {
      cmd[at] = s.length;
      return at + 1 + s.length;
    }
    const { written } = utf8.encodeInto(s, cmd.subarray(at + 1, at + 1 + 3 * s.length));
    cmd[at] = written;
    return at + 1 + written;
  }

  #runCommands() {
    const len = this.#cmdLen;
    this.#cmdLen = 0;
    this.#pubChannel = null;
    this.#runEnd = -1;
    if (this.#batched.length > 0) {
      for (const ch of this.#batched) this.#settle.push(ch);
      this.#batched.length = 0;
    }
    this.#wasm.runCommandBuffer(this.clock.now(), len);
    // A big publish's buffer is not kept.
    if (this.#cmdSize > COMMAND_BUFFER) {
      this.#cmdPtr = this.#wasm.commandBuffer(COMMAND_BUFFER);
      this.#cmdSize = COMMAND_BUFFER;
      this.#cmd = EMPTY;
    }
  }

  /**
   * Dispatches everything the engine has for the host. Re-entrant calls
   * (a callback acking from inside the dispatch) return at once: the loop
   * below picks up what they caused, in order.
   */
  drain() {
    if (this.#draining || this.closed) return;
    this.#draining = true;
    try {
      for (let round = 0; ; round++) {
        if (round === MAX_ROUNDS) {
          this.#resumeLater();
          break;
        }
        if (this.#cmdLen > 0) this.#runCommands();
        const len = this.#wasm.takeOutput();
        if (len > 0) this.#dispatch(this.#statusView()[0], len);
        // What the batches before this output caused (a close an error made) is dispatched.
        if (this.#settle.length > 0) for (const ch of this.#settle.splice(0)) ch._batchRan();
        if (len === 0 && this.#cmdLen === 0) break;
      }
    } finally {
      this.#draining = false;
    }
    this.#armTimer();
    if (this.#listeners.size > 0) this.#queueEvents();
    this.afterDrain?.();
  }

  #resumeLater() {
    if (this.#resumeQueued) return;
    this.#resumeQueued = true;
    setTimeout(() => {
      this.#resumeQueued = false;
      this.drain();
    }, 0);
  }

  #dispatch(ptr, len) {
    const r = this.#reader;
    r.reset(ptr, len);
    this.#lastTag = 0;
    while (r.more()) {
      const kind = r.u8();
      if (kind === K.DELIVER_NEXT) {
        this.#deliver(r, ++this.#lastTag, false, false);
        continue;
      }
      const conn = r.u32();
      const ch = r.u16();
      switch (kind) {
        case K.DELIVER: {
          const consumerTag = r.str8(r.tag);
          const exchange = r.str8(r.exchange);
          const routingKey = r.str8(r.routingKey);
          // A burst of deliveries goes to one channel and consumer: the last
          // ones found serve while they stay open.
          let channel = this.#lastChannel;
          if (channel === null || channel.closed || channel.id !== ch || channel.connection.id !== conn) {
            channel = this.conns.get(conn)?._channels[ch] ?? null;
            this.#lastChannel = channel;
          }
          let consumer = this.#lastConsumer;
          if (consumer === null || consumer._done || consumer.tag !== consumerTag || consumer.channel !== channel) {
            consumer = channel?._consumers.get(consumerTag) ?? null;
            this.#lastConsumer = consumer;
          }
          this.#lastExchange = exchange;
          this.#lastKey = routingKey;
          this.#lastTag = r.f64();
          this.#deliver(r, this.#lastTag, r.u8() === 1, true);
          break;
        }
        case K.GET_OK: {
          const tag = r.f64();
          const redelivered = r.u8() === 1;
          const channel = this.conns.get(conn)?._channels[ch];
          const m = new Message(channel ?? null, tag, redelivered, undefined);
          m.messageCount = r.u32();
          r.message(m);
          channel?._got(m);
          break;
        }
        case K.GET_EMPTY:
          this.conns.get(conn)?._channels[ch]?._got(null);
          break;
        case K.CONFIRM: {
          const tag = r.f64();
          const multiple = r.u8() === 1;
          const ack = r.u8() === 1;
          this.conns.get(conn)?._channels[ch]?._confirm(tag, multiple, ack);
          break;
        }
        case K.TX_COMMIT_OK:
          this.conns.get(conn)?._channels[ch]?._committed();
          break;
        case K.RETURN: {
          const replyCode = r.u16();
          const replyText = r.str8();
          const channel = this.conns.get(conn)?._channels[ch];
          const m = new Message(channel ?? null, 0, false, undefined);
          r.message(m);
          m.replyCode = replyCode;
          m.replyText = replyText;
          channel?._returned(m);
          break;
        }
        case K.CANCEL:
          this.conns.get(conn)?._channels[ch]?._cancelled(r.str8());
          break;
        case K.CLOSE_CHANNEL: {
          const e = r.error();
          this.conns.get(conn)?._channels[ch]?._closed(new AMQPError(e.code, e.text, e.classId, e.methodId));
          break;
        }
        case K.CLOSE_CONNECTION: {
          const e = r.error();
          this.conns.get(conn)?._closed(new AMQPError(e.code, e.text, e.classId, e.methodId));
          break;
        }
        case K.BLOCKED: {
          const blocked = r.u8() === 1;
          const reason = r.str8();
          this.conns.get(conn)?._blocked(blocked ? reason : null);
          break;
        }
        case K.SEND: {
          const t = this.transports.get(conn);
          const bytes = r.blob(t?._idle);
          t?._send(bytes);
          break;
        }
        case K.CLOSE:
          this.transports.get(conn)?._close(r.u8() === 1);
          break;
        case K.CLOSED: {
          const e = r.error();
          this.transports.get(conn)?._closeReport(ch, e);
          break;
        }
        case K.FLUSH:
          this.transports.get(conn)?._flush();
          break;
        case K.WIRE: {
          const toClient = r.u8() === 1;
          const frames = r.blob();
          for (const tap of this.wireTaps) {
            try {
              tap(conn, ch, toClient, frames);
            } catch (e) {
              report(e);
            }
          }
          break;
        }
        default:
          throw new Error(`warren: unknown output record ${kind}: the JS and wasm builds do not match`);
      }
    }
  }

  /**
   * The delivery whose content header (`header`: DELIVER has one,
   * DELIVER_NEXT none) and body the reader is at, to the consumer of the
   * last DELIVER record (DELIVER_NEXT repeats its names).
   */
  #deliver(r, tag, redelivered, header) {
    const consumer = this.#lastConsumer;
    const channel = this.#lastChannel;
    const m = new Message(channel, tag, redelivered, consumer?.tag, this.#lastExchange, this.#lastKey);
    if (header) m._props = r.blob();
    r.body(m);
    if (consumer !== null) channel._deliver(consumer, m);
  }

  // ---- the timer ---------------------------------------------------------------

  #armTimer() {
    // As the last takeOutput of the drain saw it.
    const at = this.#statusView()[1];
    if (at === this.#timerAt) return;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    this.#timerAt = at;
    if (at < 0) return;
    this.#cancelTimer = this.clock.at(at, () => {
      this.#cancelTimer = null;
      this.#timerAt = -1;
      if (this.closed) return;
      this.wasm.tick(this.clock.now());
      this.drain();
    });
  }

  // ---- events ------------------------------------------------------------------

  subscribe(listener) {
    if (!this.#events) throw new TypeError('subscribe: this broker was created with { events: false }');
    if (typeof listener !== 'function') throw new TypeError('subscribe: listener must be a function');
    if (this.#listeners.size === 0) this.wasm.recordEvents(true);
    this.#listeners.add(listener);
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0 && !this.closed) this.wasm.recordEvents(false);
    };
  }

  /** Events go out once per burst of calls, in a microtask. */
  #queueEvents() {
    if (this.#eventsQueued) return;
    this.#eventsQueued = true;
    queueMicrotask(() => {
      this.#eventsQueued = false;
      if (this.closed || this.#listeners.size === 0) return;
      const events = readData(this.wasm.takeEvents());
      if (events.length === 0) return;
      for (const listener of [...this.#listeners]) {
        try {
          listener(events);
        } catch (e) {
          report(e);
        }
      }
    });
  }

  stop() {
    this.closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
  }
}
