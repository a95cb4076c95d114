// The server view: when this page is served by `warren-mq serve`, it follows
// that broker's event stream (/api/events), so messages sent by pika or
// amqp-client.js from a terminal show up in the scene and the timeline.

import { h, text } from './dom.js';
import { buildTopology } from './scene/topology.js';
import { channelKey } from './sim/keys.js';
import { Model } from './sim/model.js';
import { normalizeSnapshot } from './sim/snapshot-view.js';

const TOPOLOGY_EVERY = 2000; // ms between management API reads

/** Events from the server wait here until shown, like a World's feed. */
class ServerFeed {
  constructor() {
    this.model = new Model();
    this.pending = [];
    this.origin = null;
    this.latest = 0;
  }

  push(events) {
    for (const e of events) {
      this.origin ??= e.at;
      this.latest = e.at;
      this.pending.push(e);
    }
  }

  get waiting() {
    return this.pending.length;
  }

  now() {
    return this.origin === null ? 0 : this.latest - this.origin;
  }

  advance() {} // the server's clock is its own

  applyAll() {
    for (const e of this.pending) this.model.apply(e);
    this.pending.length = 0;
  }

  async step() {
    const e = this.pending.shift();
    if (e) this.model.apply(e);
    return e ?? null;
  }
}

export class ServerView {
  constructor(deps) {
    this.deps = deps;
    this.feed = new ServerFeed();
    this.source = null;
    this.state = h('p', { class: 'server-status', role: 'status' }, 'Connecting…');
    this.timer = null;
  }

  async mount() {
    const { dom } = this.deps;
    text(dom.title, 'Server: watch your own clients');
    dom.controls.replaceChildren(this.state);
    let overview;
    try {
      const r = await fetch('api/overview', { headers: { accept: 'application/json' } });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      overview = await r.json();
    } catch {
      dom.text.innerHTML = `<p>This view follows a broker started with <code>npx warren-mq serve</code>, which serves this
        page too. This copy of the page is not served by one (no <code>/api/overview</code> here).</p>`;
      text(this.state, 'No server to follow.');
      return;
    }
    const amqp = overview.listeners?.find((l) => l.protocol === 'amqp');
    const port = amqp?.port ?? 5672;
    const host = location.hostname;
    dom.text.innerHTML = `
      <p>This page is served by <strong>${overview.product_name ?? 'Warren'} ${overview.product_version ?? ''}</strong>.
      Everything that broker does shows up here as it happens: connect a client from a terminal and watch.</p>
      <pre>python3 - &lt;&lt;'EOF'
import pika
conn = pika.BlockingConnection(pika.ConnectionParameters('${host}', ${port}))
ch = conn.channel()
ch.queue_declare('hello', durable=True)
ch.basic_publish('', 'hello', b'hi from pika')
EOF</pre>
      <p>The page cannot know what a remote consumer does with a message, so <em>lost</em> stays at 0 here.</p>`;
    this.source = {
      model: this.feed.model,
      selected: null,
      dirty: true,
      origin: () => this.feed.origin ?? 0,
      topology: () => this.topology ?? buildTopology({ queues: [], exchanges: [] }, {}),
      describe: (id, item) => (item.status ? { sub: item.sub, status: item.status } : null),
      name: (key) => this.names.get(key) ?? `channel ${key}`,
    };
    this.names = new Map();
    this.deps.onlive({ source: this.source, feed: this.feed, code: this.#code(host, port), realTime: true });
    this.#follow();
    await this.#refresh();
    this.timer = setInterval(() => this.#refresh(), TOPOLOGY_EVERY);
  }

  #follow() {
    const es = new EventSource('api/events');
    this.events = es;
    es.addEventListener('snapshot', (m) => {
      const snap = normalizeSnapshot(JSON.parse(m.data));
      this.feed.pending.length = 0;
      this.feed.model.resync(snap, 0);
      this.source.dirty = true;
      text(this.state, 'Following the server’s events.');
    });
    es.addEventListener('message', (m) => this.feed.push(JSON.parse(m.data)));
    es.addEventListener('dropped', (m) =>
      text(this.state, `Missed ${JSON.parse(m.data).count} events (the page fell behind).`),
    );
    es.addEventListener('error', () => text(this.state, 'Lost the event stream; retrying…'));
  }

  /** The topology from the management API (RabbitMQ's shapes). */
  async #refresh() {
    try {
      const get = (p) => fetch(`api/${p}`).then((r) => r.json());
      const [queues, exchanges, bindings, consumers] = await Promise.all(
        ['queues', 'exchanges', 'bindings', 'consumers'].map(get),
      );
      const snap = {
        queues: queues.map((q) => ({ name: q.name, durable: q.durable })),
        exchanges: exchanges.map((x) => ({
          name: x.name,
          type: x.type,
          bindings: bindings
            .filter((b) => b.source === x.name)
            .map((b) => ({ destination: b.destination, routingKey: b.routing_key })),
        })),
      };
      const cons = consumers.map((c) => {
        const key = channelKey(c.channel_details.connection, c.channel_details.number);
        this.names.set(key, c.consumer_tag);
        return {
          key,
          holder: key,
          label: c.consumer_tag,
          queue: c.queue.name,
          sub: c.ack_required ? `manual ack · prefetch ${c.prefetch_count || '∞'}` : 'automatic ack',
          status: `${c.messages_unacknowledged} unacked`,
        };
      });
      // Publishers are known from their events: the channel a message came from.
      const pubs = new Map();
      for (const m of this.feed.model.messages.values()) {
        const e = m.events[0];
        if (e?.type === 'published' && e.channel) pubs.set(channelKey(e.channel.conn, e.channel.channel), e);
      }
      const producers = [...pubs].slice(-6).map(([key, e]) => ({
        key,
        label: `publisher ${key}`,
        exchange: e.exchange,
        routingKey: e.routingKey,
        sub: `to ${e.exchange || '(default)'}`,
        status: '',
      }));
      this.topology = buildTopology(snap, { producers, consumers: cons });
      this.source.dirty = true;
    } catch (e) {
      text(this.state, `Cannot read the management API: ${e.message}`);
    }
  }

  #code(host, port) {
    return {
      js: `import { AMQPClient } from '@cloudamqp/amqp-client'

const client = new AMQPClient('amqp://guest:guest@${host}:${port}')
const conn = await client.connect()
const ch = await conn.channel()
await ch.queueDeclare('hello', { durable: true })
await ch.basicPublish('', 'hello', 'hi from amqp-client.js')
await ch.basicConsume('hello', { noAck: false }, async (msg) => {
  console.log(msg.bodyString())
  await msg.ack()
})`,
      py: `import pika

conn = pika.BlockingConnection(pika.ConnectionParameters('${host}', ${port}))
ch = conn.channel()
ch.queue_declare('hello', durable=True)
ch.basic_publish('', 'hello', b'hi from pika')

def on_message(ch, method, props, body):
    print(body)
    ch.basic_ack(method.delivery_tag)

ch.basic_consume('hello', on_message)
ch.start_consuming()`,
    };
  }

  render() {}

  dispose() {
    this.events?.close();
    clearInterval(this.timer);
  }
}
