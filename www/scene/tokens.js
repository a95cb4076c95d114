// Message tokens: one SVG group per visible message copy, kept in a pool and
// moved by CSS transitions on `transform`, so a frame only writes the few
// attributes that changed. The number drawn is bounded whatever the rate, and
// under a flood of new tokens they are placed without animation.

import { TOKEN } from './layout.js';
import { BADGES, GLYPHS } from './glyphs.js';
import { setText, svgEl } from './svg.js';

const R = TOKEN / 2;
const CONFIRM_WORDS = { waiting: '…conf', confirmed: '✓conf', nacked: '✗nack' };

export class TokenLayer {
  constructor(group) {
    this.group = group;
    /** copy key -> token */
    this.live = new Map();
    this.pool = [];
    this.entering = [];
    /** new tokens per frame, smoothed: past FLOOD, tokens appear and fade without animation */
    this.arrivals = 0;
    this.flood = false;
  }

  #make() {
    const g = svgEl('g', { class: 'tok' }, this.group);
    const t = {
      g,
      body: svgEl('rect', { x: -R, y: -R, width: TOKEN, height: TOKEN, class: 'body' }, g),
      id: svgEl('text', { y: 4, class: 'tid', 'text-anchor': 'middle' }, g),
      mark: svgEl('text', { x: R + 1, y: R + 2, class: 'tmark', 'text-anchor': 'middle' }, g),
      badge: svgEl('g', { class: 'badge', transform: `translate(${R - 1},${-R + 1})` }, g),
      tag: svgEl('text', { y: -R - 4, class: 'ttag', 'text-anchor': 'middle' }, g),
      state: '',
      attrs: {}, // attribute -> value last written
      shape: null,
      badgeShown: null,
      x: NaN,
      y: NaN,
    };
    svgEl('circle', { r: 7 }, t.badge);
    t.badgeText = svgEl('text', { y: 3.5, 'text-anchor': 'middle' }, t.badge);
    return t;
  }

  /**
   * Draws exactly `wanted`: [{ copy, x, y, from?, fading? }]. Tokens already
   * on screen move to their new place; new ones appear at `from` and move.
   */
  draw(wanted, selected) {
    // Tokens that appeared last frame (drawn at their origin) start moving now.
    for (const t of this.entering) {
      t.g.style.transition = '';
      this.#moveTo(t, t.tx, t.ty);
      t.entering = false;
    }
    this.entering.length = 0;
    this.#floodCheck(wanted);
    const keep = new Set();
    for (const w of wanted) {
      keep.add(w.copy.key);
      let t = this.live.get(w.copy.key);
      if (!t) {
        t = this.pool.pop() ?? this.#make();
        t.g.style.visibility = '';
        this.live.set(w.copy.key, t);
        // Placed without a transition, at its origin (or its place); moving starts next frame.
        const from = w.from ?? w;
        t.g.style.transition = 'none';
        this.#moveTo(t, from.x, from.y);
        t.entering = true;
        this.entering.push(t);
      }
      if (t.entering) {
        t.tx = w.x;
        t.ty = w.y;
      } else {
        this.#moveTo(t, w.x, w.y);
      }
      this.#paint(t, w.copy, w.fading, selected);
    }
    for (const [key, t] of this.live) {
      if (keep.has(key)) continue;
      this.live.delete(key);
      // Hidden, not display: none, so its boxes stay built for the next message it shows;
      // no state or fade animation stays on it while it waits.
      t.g.style.visibility = 'hidden';
      put(t, t.g, 'class', 'tok');
      put(t, t.g, 'data-state', null);
      t.state = '';
      t.entering = false;
      this.pool.push(t);
    }
  }

  /**
   * At a rate nobody can follow token by token (a few new ones every frame),
   * the moves and fades cost most of a frame's style and paint work: the
   * scene then shows each token at its place at once (`.flood` in style.css).
   */
  #floodCheck(wanted) {
    let added = 0;
    for (const w of wanted) if (!this.live.has(w.copy.key)) added++;
    this.arrivals = this.arrivals * 0.8 + added;
    const flood = this.flood ? this.arrivals > 5 : this.arrivals > 10;
    if (flood !== this.flood) {
      this.flood = flood;
      this.group.classList.toggle('flood', flood);
    }
  }

  /** Where a copy's token is now, if it has one. */
  at(key) {
    const t = this.live.get(key);
    return t ? { x: t.x, y: t.y } : null;
  }

  /** Where a copy's token is going (its place once it has moved in), if it has one. */
  target(key) {
    const t = this.live.get(key);
    if (!t) return null;
    return t.entering ? { x: t.tx, y: t.ty } : { x: t.x, y: t.y };
  }

  #moveTo(t, x, y) {
    if (t.x === x && t.y === y) return;
    t.x = x;
    t.y = y;
    t.g.style.transform = `translate(${x}px,${y}px)`;
  }

  #paint(t, c, fading, selected) {
    const sig = `${c.state}|${c.redelivered}|${c.dead ? 1 : 0}|${c.acked && !fading}|${c.tag}|${fading ? 1 : 0}|${selected === c.msg}|${c.confirm}`;
    if (t.state === sig) return;
    t.state = sig;
    const glyph = GLYPHS[c.state] ?? GLYPHS.ready;
    // Each attribute is written only when it differs from what this token last
    // showed: a pooled token is reused for the next message, and most changes
    // are one state to the next, which leaves most attributes as they were.
    const g = t.g;
    put(
      t,
      g,
      'class',
      `tok s-${c.state} shape-${glyph.shape}${fading ? ' fading' : ''}${selected === c.msg ? ' sel' : ''}`,
    );
    put(t, g, 'data-msg', c.msg);
    put(t, g, 'data-key', c.key);
    put(t, g, 'data-state', c.state);
    put(t, g, 'data-redelivered', c.redelivered);
    put(t, g, 'data-queue', c.queue ?? '');
    put(t, g, 'data-tag', c.tag && !fading ? c.tag : null);
    if (t.shape !== glyph.shape) {
      t.shape = glyph.shape;
      t.body.setAttribute('rx', glyph.shape === 'round' ? R : 4);
      if (glyph.shape === 'diamond') t.body.setAttribute('transform', 'rotate(45) scale(0.82)');
      else t.body.removeAttribute('transform');
    }
    setText(t.id, String(c.msg));
    // A message acked on receipt and still being processed shows both.
    setText(t.mark, c.state === 'processing' && c.acked ? '⚙✓' : glyph.mark);
    const badge = c.redelivered ? BADGES.redelivered.mark : c.dead ? BADGES.dead.mark : '';
    if (t.badgeShown !== badge) {
      t.badgeShown = badge;
      t.badge.style.display = badge ? '' : 'none';
      setText(t.badgeText, badge);
    }
    const inFlight = c.state === 'delivered' || c.state === 'processing' || c.state === 'processed';
    // Above the token: its delivery tag while in flight, else what its publisher heard.
    setText(t.tag, inFlight && c.tag ? `tag ${c.tag}` : c.confirm ? CONFIRM_WORDS[c.confirm] : '');
    const title = `message ${c.msg}: ${glyph.words}${c.redelivered ? ', redelivered' : ''}${inFlight ? `, delivery tag ${c.tag}` : ''}${c.confirm ? `, publisher confirm: ${c.confirm}` : ''}`;
    put(t, g, 'aria-label', title);
  }
}

/** Sets (or, for null, removes) an attribute unless the token already shows that value. */
function put(t, e, name, value) {
  const v = value === null || value === undefined ? null : String(value);
  if (t.attrs[name] === v) return;
  t.attrs[name] = v;
  if (v === null) e.removeAttribute(name);
  else e.setAttribute(name, v);
}
