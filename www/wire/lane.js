// The wire lane: a sequence diagram of the AMQP frames that crossed between
// the broker and each in-process connection, newest at the bottom, one row
// per frame, an arrow between the broker's lifeline and the connection's.
// Cheap at thousands of frames a second: only the rows in view exist (a
// fixed pool, re-filled), and the lane is redrawn at most once per frame and
// only when something changed.

import { h, text } from '../dom.js';

const ROW = 22; // px per frame
const POOL = 40; // rows in the pool: more than fit in the viewport
const seconds = (ms) => `${(ms / 1000).toFixed(3)} s`;
const quote = (s) => (s === undefined ? '' : ` "${s.length > 24 ? `${s.slice(0, 24)}…` : s}"`);

/** A frame in a few words: the fields that matter for acks and confirms first. */
export function summary(f) {
  const a = f.args ?? {};
  const flags = (...names) => names.filter((n) => a[n]).join(' ');
  const more = (s) => (s ? ` ${s}` : '');
  switch (f.name) {
    case 'basic.publish':
      return `basic.publish ${a.exchange || '(default)'} → ${a.routingKey}${more(flags('mandatory'))}${quote(f.body)}`;
    case 'basic.deliver':
      return `basic.deliver tag ${a.deliveryTag}${more(flags('redelivered'))}${quote(f.body)}`;
    case 'basic.get-ok':
      return `basic.get-ok tag ${a.deliveryTag}${more(flags('redelivered'))}${quote(f.body)}`;
    case 'basic.ack':
      return f.dir === 'out'
        ? `basic.ack confirm seq ${a.deliveryTag}${more(flags('multiple'))}`
        : `basic.ack tag ${a.deliveryTag}${more(flags('multiple'))}`;
    case 'basic.nack':
      return f.dir === 'out'
        ? `basic.nack confirm seq ${a.deliveryTag}${more(flags('multiple'))}`
        : `basic.nack tag ${a.deliveryTag}${more(flags('multiple', 'requeue'))}`;
    case 'basic.reject':
      return `basic.reject tag ${a.deliveryTag}${more(flags('requeue'))}`;
    case 'basic.return':
      return `basic.return ${a.replyCode} ${a.replyText}${quote(f.body)}`;
    case 'channel.close':
    case 'connection.close':
      return `${f.name} ${a.replyCode} ${a.replyText}`;
    case 'basic.consume':
      return `basic.consume ${a.queue}${more(flags('noAck'))}`;
    case 'basic.consume-ok':
    case 'basic.cancel':
    case 'basic.cancel-ok':
      return `${f.name} ${a.consumerTag}`;
    case 'basic.qos':
      return `basic.qos prefetch ${a.prefetchCount}${more(flags('global'))}`;
    default:
      return f.name;
  }
}

export class WireLane {
  constructor(el) {
    this.el = el;
    this.toggle = h('input', { type: 'checkbox', id: 'wire-on', checked: true, onchange: () => this.#switch() });
    this.heads = h('div', { class: 'wire-heads', 'aria-hidden': 'true' });
    this.spacer = h('div', { class: 'wire-spacer' });
    /** the pool, grown as rows are needed (an empty button would have no name) */
    this.rows = [];
    this.view = h(
      'div',
      {
        class: 'wire-view',
        tabindex: '0',
        role: 'group',
        'aria-label': 'AMQP frames, newest last: arrow keys pick a frame and its message',
        onscroll: () => (this.dirty = true),
        // A frame picked stays in view until the reader scrolls again.
        onwheel: () => (this.pinned = false),
        ontouchmove: () => (this.pinned = false),
        onkeydown: (e) => this.#key(e),
      },
      this.spacer,
    );
    this.count = h('span', { class: 'wire-count' });
    el.replaceChildren(
      h(
        'div',
        { class: 'wire-bar' },
        h('h3', { id: 'wire-title' }, 'The wire'),
        h('label', {}, this.toggle, ' show the AMQP frames'),
        this.count,
      ),
      this.heads,
      this.view,
    );
    this.source = null;
    this.onselect = null;
    this.follow = true;
  }

  /** source: a LiveSource of a World (its `world.wire` recorder, `name(channel)`, `selected`). */
  show(source) {
    this.source = source;
    this.recorder = source.world?.wire ?? null;
    this.el.hidden = !this.recorder;
    this.columns = new Map();
    this.scanned = 0;
    this.drawn = null;
    this.follow = true;
    this.pinned = false;
    if (this.recorder) this.toggle.checked = this.recorder.enabled;
    this.dirty = true;
  }

  #switch() {
    this.recorder?.setEnabled(this.toggle.checked);
    this.dirty = true;
  }

  #pick(f) {
    if (!f) return;
    this.picked = f.n;
    this.pinned = true;
    if (f.msg !== null && f.msg !== undefined) this.onselect?.(f.msg);
    this.dirty = true;
  }

  /** Up and down pick the previous or next frame and keep it in view. */
  #key(e) {
    const step = { ArrowUp: -1, ArrowDown: 1 }[e.key];
    const frames = this.recorder?.frames;
    if (!step || !frames?.length) return;
    e.preventDefault();
    const at = frames.findIndex((f) => f.n === this.picked);
    const i = at < 0 ? frames.length - 1 : Math.min(frames.length - 1, Math.max(0, at + step));
    this.#pick(frames[i]);
    const view = this.view;
    if (i * ROW < view.scrollTop) view.scrollTop = i * ROW;
    else if ((i + 1) * ROW > view.scrollTop + view.clientHeight) view.scrollTop = (i + 1) * ROW - view.clientHeight;
  }

  #row(i) {
    if (!this.rows[i]) {
      const row = h(
        'button',
        // One tab stop for the lane (the view), not one per frame: arrow keys move between frames.
        {
          type: 'button',
          class: 'wire-row',
          tabindex: '-1',
          onclick: () => this.#pick(row.frame),
          // Every field, written when the pointer asks, not for each frame drawn.
          onpointerenter: () => {
            const f = row.frame;
            if (f)
              row.title = `${f.dir === 'in' ? 'client → broker' : 'broker → client'}, channel ${f.channel}: ${f.name} ${JSON.stringify(f.args)}`;
          },
        },
        h('time'),
        h('span', { class: 'wire-arrow' }, h('span', { class: 'wire-label' })),
      );
      this.rows[i] = row;
      this.spacer.append(row);
    }
    return this.rows[i];
  }

  /** Columns: one per connection, in the order they first spoke. */
  #columns(frames) {
    const first = frames.length ? frames[0].n : 0;
    for (let i = Math.max(this.scanned - first, 0); i < frames.length; i++) {
      const f = frames[i];
      if (!this.columns.has(f.conn)) this.columns.set(f.conn, { index: this.columns.size, label: null });
      const c = this.columns.get(f.conn);
      if (!c.label && f.channel !== 0) c.label = this.source.name(`${f.conn}:${f.channel}`);
    }
    this.scanned = first + frames.length;
  }

  render() {
    const r = this.recorder;
    if (!r || this.el.hidden) return;
    const frames = r.frames;
    const selected = this.source.selected ?? null;
    const view = this.view;
    const state = `${r.version}|${selected}|${this.picked}|${view.scrollTop}|${view.clientHeight}|${r.enabled}`;
    if (!this.dirty && state === this.drawn) return;
    this.dirty = false;
    const atEnd = view.scrollTop + view.clientHeight >= view.scrollHeight - ROW * 1.5;
    this.#columns(frames);
    const height = frames.length * ROW;
    if (this.spacer.style.height !== `${height}px`) this.spacer.style.height = `${height}px`;
    if (atEnd && this.follow && !this.pinned) view.scrollTop = Math.max(0, height - view.clientHeight);
    this.follow = atEnd || view.scrollTop + view.clientHeight >= height - ROW;
    this.#heads();
    const from = Math.max(0, Math.floor(view.scrollTop / ROW) - 2);
    const cols = Math.max(this.columns.size, 1);
    for (let i = 0; i < POOL; i++) {
      const f = frames[from + i];
      if (!f) {
        const row = this.rows[i];
        if (row?.frame) {
          row.hidden = true;
          row.frame = null;
          delete row.dataset.n;
        }
        continue;
      }
      const row = this.#row(i);
      row.hidden = false;
      const top = (from + i) * ROW;
      // Older frames are dropped in chunks: a frame drawn before may now sit higher.
      if (row.top !== top) {
        row.top = top;
        row.style.top = `${top}px`;
      }
      if (row.frame !== f || row.cols !== cols) {
        row.frame = f;
        row.cols = cols;
        const [time, arrow] = row.children;
        text(time, seconds(f.at));
        text(arrow.firstChild, summary(f));
        row.dataset.dir = f.dir;
        row.dataset.name = f.name;
        row.dataset.n = String(f.n);
        // The arrow runs from the broker's lifeline (left) to the connection's column.
        const col = this.columns.get(f.conn)?.index ?? 0;
        arrow.style.width = `calc(${((col + 1) / cols) * 100}% - 0.5em)`;
      }
      if (f.msg !== null) row.dataset.msg = String(f.msg);
      else delete row.dataset.msg;
      const on = f.msg !== null && f.msg === selected;
      row.classList.toggle('selected', on);
      row.setAttribute('aria-pressed', String(f.n === this.picked));
    }
    text(this.count, r.enabled ? `${r.total} frames` : 'off: the engine encodes nothing');
    this.drawn = `${r.version}|${selected}|${this.picked}|${view.scrollTop}|${view.clientHeight}|${r.enabled}`;
  }

  #heads() {
    const key = [...this.columns.values()].map((c) => c.label).join('|');
    if (key === this.headsKey) return;
    this.headsKey = key;
    const cols = [...this.columns.values()];
    this.heads.style.setProperty('--cols', String(Math.max(cols.length, 1)));
    this.heads.replaceChildren(
      h('span', { class: 'wire-broker' }, 'broker'),
      h('span', { class: 'wire-conns' }, ...cols.map((c) => h('span', {}, c.label ?? 'connection'))),
    );
  }
}
