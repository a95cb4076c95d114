// The wire lane: a sequence diagram of the AMQP frames that crossed between
// the broker and each connection of the page (its in-process clients and the
// live-code program), newest at the bottom, one row per frame, an arrow
// between the broker's lifeline and the connection's.
// Cheap at thousands of frames a second: only the rows in view exist (a
// small pool, re-filled), the lane is redrawn at most once per animation frame
// and only when something changed, and it never reads layout while drawing:
// the view scrolls from the bottom (column-reverse), so following the newest
// frames needs no scroll writes, and the scroll position and height come from
// scroll events and a ResizeObserver. A layout read after the scene's writes
// would force a layout of the whole page in the middle of the frame. Scrolled
// up (or with a frame picked) the lane holds still on the frames in view.
// When more than a screenful arrives between two animation frames (a
// playground at thousands of messages a second) every row changes on every
// frame and no one can read them: the lane then redraws its rows ten times a
// second, and at once for anything the reader does (a pick, a scroll, a
// selection).

import { h, text } from '../dom.js';

const ROW = 22; // px per frame
const POOL = 40; // rows in the pool: more than fit in the viewport
const BUSY_MS = 100; // between redraws while frames pour in faster than a screenful per animation frame
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
  /**
   * `id`: the prefix of the lane's element ids (a page with two lanes, compare, gives each its own);
   * `heading`: the level of its title.
   */
  constructor(el, { id = 'wire', heading = 'h3' } = {}) {
    this.el = el;
    this.toggle = h('input', { type: 'checkbox', id: `${id}-on`, checked: true, onchange: () => this.#switch() });
    this.heads = h('div', { class: 'wire-heads', 'aria-hidden': 'true' });
    this.spacer = h('div', { class: 'wire-spacer' });
    /** the pool, grown as rows are needed (an empty button would have no name) */
    this.rows = [];
    /** px from the bottom of the frames to the bottom of the view (0: following the newest) */
    this.fromBottom = 0;
    this.viewHeight = 0;
    this.view = h(
      'div',
      {
        class: 'wire-view',
        tabindex: '0',
        role: 'group',
        'aria-label': 'AMQP frames, newest last: arrow keys pick a frame and its message, End follows the newest',
        onscroll: () => this.#scrolled(),
        onkeydown: (e) => this.#key(e),
      },
      this.spacer,
    );
    new ResizeObserver(([e]) => {
      this.viewHeight = e.contentRect.height;
      this.dirty = true;
    }).observe(this.view);
    this.count = h('span', { class: 'wire-count' });
    el.replaceChildren(
      h(
        'div',
        { class: 'wire-bar' },
        h(heading, { id: `${id}-title` }, 'The wire'),
        h('label', {}, this.toggle, ' show the AMQP frames'),
        this.count,
      ),
      this.heads,
      this.view,
    );
    // For scripts and tests: bring frame `n` into view.
    el.reveal = (n) => this.reveal(n);
    this.source = null;
    this.onselect = null;
    this.held = null;
    const loop = () => {
      if (this.disposed) return;
      requestAnimationFrame(loop);
      this.render();
    };
    requestAnimationFrame(loop);
  }

  /** Stops drawing (a lane whose page part is gone). */
  dispose() {
    this.disposed = true;
  }

  /** source: a LiveSource of a World (its `world.wire` recorder, `name(channel)`, `selected`). */
  show(source) {
    this.source = source;
    this.recorder = source.world?.wire ?? null;
    this.el.hidden = !this.recorder;
    this.columns = new Map();
    this.scanned = 0;
    this.drawn = null;
    this.drawnTotal = 0;
    this.drawnAt = -Infinity;
    /** the number after the last frame drawn */
    this.drawnEnd = null;
    this.held = null;
    this.picked = null;
    this.view.scrollTop = 0;
    this.fromBottom = 0;
    if (this.recorder) this.toggle.checked = this.recorder.enabled;
    this.dirty = true;
  }

  #switch() {
    this.recorder?.setEnabled(this.toggle.checked);
    this.dirty = true;
  }

  /** In a column-reverse view scrollTop is 0 at the bottom and negative above it. */
  #scrolled() {
    const fromBottom = Math.max(0, -this.view.scrollTop);
    // The spacer growing at the bottom fires scroll events too: nothing moved then.
    if (fromBottom === this.fromBottom) return;
    this.fromBottom = fromBottom;
    // Back at the bottom: follow the newest frames again.
    if (this.fromBottom < ROW / 2 && this.picked === null) this.held = null;
    else this.#hold();
    this.dirty = true;
  }

  /**
   * Holds the lane still: the frames drawn (or, `all`, known) now keep their places while more arrive.
   * Those drawn, not known: between two redraws of a busy lane the rows a click lands on are older.
   */
  #hold(all = false) {
    const frames = this.recorder?.frames;
    if (this.held || !frames?.length) return;
    const first = frames[0].n;
    const end = all || this.drawnEnd === null ? first + frames.length : this.drawnEnd;
    this.held = { first, length: Math.max(0, Math.min(frames.length, end - first)) };
  }

  #pick(f) {
    if (!f) return;
    this.picked = f.n;
    this.#hold();
    if (f.msg !== null && f.msg !== undefined) this.onselect?.(f.msg);
    this.dirty = true;
  }

  /** Scrolls so that frame `n` is in view (the lane then holds still). */
  reveal(n) {
    // Held on the frames known now, so a frame newer than the last hold can be shown.
    this.held = null;
    this.#hold(true);
    const h = this.held;
    if (!h) return;
    const k = n - h.first;
    const below = (h.length - 1 - k) * ROW;
    if (below < this.fromBottom || below + ROW > this.fromBottom + this.viewHeight) {
      this.fromBottom = Math.max(0, below - this.viewHeight / 2);
      this.view.scrollTop = -this.fromBottom;
    }
    this.dirty = true;
  }

  /** Up and down pick the previous or next frame and keep it in view; End follows the newest again. */
  #key(e) {
    if (e.key === 'End') {
      e.preventDefault();
      this.picked = null;
      this.held = null;
      this.fromBottom = 0;
      this.view.scrollTop = 0;
      this.dirty = true;
      return;
    }
    const step = { ArrowUp: -1, ArrowDown: 1 }[e.key];
    const frames = this.recorder?.frames;
    if (!step || !frames?.length) return;
    e.preventDefault();
    const at = frames.findIndex((f) => f.n === this.picked);
    const i = at < 0 ? frames.length - 1 : Math.min(frames.length - 1, Math.max(0, at + step));
    this.#pick(frames[i]);
    this.reveal(frames[i].n);
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
      if (!this.columns.has(f.conn)) this.columns.set(f.conn, { index: this.columns.size, key: null, label: null });
      const c = this.columns.get(f.conn);
      if (!c.key && f.channel !== 0) c.key = `${f.conn}:${f.channel}`;
    }
    // Named again each time: a client may be known by name only after its first frames (the live-code program).
    for (const c of this.columns.values()) {
      if (c.key) c.label = this.source.name(c.key);
    }
    this.scanned = first + frames.length;
  }

  /**
   * How many frames the lane may show: all of them, unless events wait to be
   * shown one at a time ("step"): then those up to the moment the scene has
   * reached, so the lane never runs ahead of the scene and timeline.
   */
  #shown(frames) {
    const world = this.source.world;
    if (!world?.waiting) return frames.length;
    const last = world.model.lastEvent;
    const until = last ? last.at - world.t0 : -Infinity;
    // Frames are in time order: the last one at or before `until`.
    let lo = 0;
    let hi = frames.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (frames[mid].at <= until) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Redraws what changed; called every animation frame. Reads no layout. */
  render() {
    const r = this.recorder;
    if (!r || this.el.hidden) return;
    const frames = r.frames;
    const selected = this.source.selected ?? null;
    const shown = this.#shown(frames);
    const state = `${selected}|${this.picked}|${this.fromBottom}|${this.viewHeight}|${r.enabled}|${this.held !== null}`;
    const more = r.version !== this.drawnVersion || shown !== this.drawnShown;
    if (!this.dirty && state === this.drawn && !more) return;
    const now = performance.now();
    // Only new frames, a screenful or more of them, shortly after the last redraw: wait.
    if (!this.dirty && state === this.drawn && r.total - this.drawnTotal > POOL && now - this.drawnAt < BUSY_MS) return;
    this.dirty = false;
    this.drawn = state;
    this.drawnVersion = r.version;
    this.drawnShown = shown;
    this.drawnTotal = r.total;
    this.drawnAt = now;
    this.#columns(frames);
    this.#heads();
    // Following: the spacer grows with the frames and the bottom stays in view by itself.
    // Held: the frames known when it was held keep their places (by number).
    const base = frames[0]?.n ?? 0;
    const first = this.held ? this.held.first : base;
    // `shown` counts from the oldest frame kept; a hold may start earlier (frames dropped since).
    const length = Math.min(this.held ? this.held.length : frames.length, shown + base - first);
    this.drawnEnd = first + length;
    const height = `${length * ROW}px`;
    if (this.spacer.style.height !== height) this.spacer.style.height = height;
    const last = length - 1 - Math.floor(this.fromBottom / ROW) + 1;
    const from = Math.max(0, last - Math.ceil(this.viewHeight / ROW) - 2);
    const cols = Math.max(this.columns.size, 1);
    for (let i = 0; i < POOL; i++) {
      const k = from + i;
      const f = k <= last && k < length ? frames[first + k - base] : undefined;
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
      const top = k * ROW;
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
      row.classList.toggle('selected', f.msg !== null && f.msg === selected);
      row.setAttribute('aria-pressed', String(f.n === this.picked));
    }
    text(
      this.count,
      r.enabled
        ? `${r.total} frames${this.held ? ' · held (End: follow the newest)' : ''}`
        : 'off: the engine encodes nothing',
    );
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
