// The learner's program as the scene draws it: one consumer box whose
// channel, queue, prefetch and unacked count are the broker's word (its
// events and snapshot), never what the program believes.

import { JS_HEAD } from '../lessons/common.js';

/** The lesson's program with its opening changed to connect to the broker in this tab. */
export const LIVE_HEAD = `// Runs in a worker of this page, connected to the broker in this tab.
const client = new AMQPWebSocketClient('ws://this-tab/amqp', '/', 'guest', 'guest')
const conn = await client.connect()
const ch = await conn.channel()
`;

/**
 * The code panel's program (its AMQP one, where it shows another), made to run in
 * the worker: its opening (amqp-client.js's AMQPClient) becomes LIVE_HEAD.
 */
export function runnable(js) {
  if (js.startsWith(JS_HEAD)) return LIVE_HEAD + js.slice(JS_HEAD.length);
  const opened = js.indexOf('const ch = await conn.channel()\n');
  if (opened < 0) return js;
  return LIVE_HEAD + js.slice(opened + 'const ch = await conn.channel()\n'.length);
}

export class ProgramActor {
  constructor(world) {
    this.world = world;
    this.kind = 'consumer';
    this.id = 'program';
    this.label = 'your program';
    /** engine connection ids: the program's, and others already looked at */
    this.conns = new Set();
    this.others = new Set();
    this.status = 'running';
    this.lastError = null;
    this.key = null; // "conn:channel" it consumes (or last consumed) on, as the broker reports
    this.seen = null;
    this.queue = null;
    this.stopped = null; // set by the editor: ends the worker
  }

  /** Whether engine connection `id` is the program's: the snapshot names its connections. */
  #mine(id) {
    if (this.conns.has(id)) return true;
    if (this.others.has(id)) return false;
    const c = (this.world.broker.snapshot().connections ?? []).find((x) => x.id === id);
    if (!c) return false; // not yet in the snapshot: looked at again next time
    (c.name === this.label ? this.conns : this.others).add(id);
    return c.name === this.label;
  }

  get channelKey() {
    return this.status === 'running' ? this.key : null;
  }

  get brokerChannelKey() {
    return this.key;
  }

  /** Follows the broker: the channel the program consumes on and from which queue. */
  refresh() {
    // Channels it publishes on are named after it in the timeline too.
    for (const k of this.world.model.sent.keys()) {
      if (this.world.channels.has(k)) continue;
      const [conn, channel] = k.split(':').map(Number);
      if (this.#mine(conn)) this.world.registerChannel(conn, channel, this);
    }
    let key = null;
    for (const [k, tags] of this.world.model.consumers) {
      if (tags.size && this.#mine(Number(k.split(':')[0]))) key = k;
    }
    if (key === this.seen) return;
    this.seen = key;
    if (key) {
      // The latest channel it consumed on stays drawn (and its deliveries placed) after it stops.
      this.key = key;
      const [conn, channel] = key.split(':').map(Number);
      this.world.registerChannel(conn, channel, this);
      const c = this.world.snapshot().consumers.find((x) => x.conn === conn && x.channel === channel);
      this.queue = c?.queue ?? this.queue;
    }
    this.world.onchange?.();
  }

  describe(model, channelInfo) {
    const key = this.key;
    const consuming = Boolean(key && model.consumers.get(key)?.size);
    const unacked = (key && model.unackedOn.get(key)) ?? 0;
    const prefetch = channelInfo(key)?.prefetch;
    let right;
    if (consuming) right = '● consuming';
    else if (this.status === 'stopped') right = '■ stopped';
    else right = '◌ not consuming';
    return {
      sub: `${key ? `channel ${key.split(':')[1]} · ` : ''}prefetch ${prefetch || '∞'}`,
      status: !consuming && this.lastError ? this.lastError : `${unacked} unacked`,
      right,
      down: !consuming,
      data: { consuming: String(consuming), unacked: String(unacked), program: 'true' },
    };
  }

  // A restart of the broker (lesson 6) or a reset ends the program with the old broker.
  detach() {
    this.stopped?.();
  }

  stop() {
    this.stopped?.();
  }
}
