// Rewind and replay for a lesson: a scrubbable timeline of page time, jumps to
// the previous or next ack, crash or redelivery, and a link to the moment shown.
//
// How: every lesson is seeded and the engine is deterministic, so a moment is
// (settings, the reader's inputs with their page times, the moment). Going to
// a moment builds the lesson afresh and replays those inputs on the page's
// clock, timer by timer. Broker images (suspend/resume) are not used: they
// hold the engine, not the page's simulated clients, their timers and the
// event history the timeline shows, which replay rebuilds as well.

import { h, text } from './dom.js';

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

/** The moments worth jumping to in a model's history: acks, crashes, redeliveries (page time, ms). */
export function marksOf(model, t0) {
  const out = [];
  for (const m of model.messages.values()) {
    for (const e of m.events) {
      let kind = null;
      if (e.type === 'acked') kind = 'ack';
      else if (e.type === 'crashed') kind = 'crash';
      else if (e.type === 'delivered' && e.redelivered) kind = 'redelivery';
      if (kind) out.push({ at: e.at - t0, kind });
    }
  }
  return out;
}

/**
 * What a rewindable view keeps of its run: the reader's inputs since its start,
 * with their page times ([{ at, ...input }]), and the marks seen in runs whose
 * inputs still hold (a rewind goes back before some of them; jumping forward
 * again needs them).
 */
export class RunLog {
  constructor(inputs = []) {
    this.clear(inputs);
  }

  /** A new run: `inputs` (from a link to a moment), no marks. */
  clear(inputs = []) {
    this.inputs = inputs;
    this.known = [];
  }

  /** The marks known and those of `world`'s run so far (page time), each once, in time order. */
  marks(world) {
    const seen = new Set();
    const out = [];
    for (const m of world ? [...this.known, ...marksOf(world.model, world.t0)] : this.known) {
      const key = `${m.kind}@${m.at}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(m);
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** The latest moment known: the last input or mark. */
  end(world) {
    let end = 0;
    for (const m of this.marks(world)) end = Math.max(end, m.at);
    for (const i of this.inputs) end = Math.max(end, i.at);
    return end;
  }

  /** Before a rewind: the marks of the run so far stay known. */
  remember(world) {
    this.known = this.marks(world);
  }

  /** A reader's input on `world` now; the inputs and marks of a rewound future are dropped. */
  record(world, input) {
    const at = world.now();
    world.script = [];
    this.inputs = this.inputs.filter((i) => i.at <= at);
    this.known = this.known.filter((m) => m.at <= at);
    this.inputs.push({ at, ...input });
  }

  /** The inputs as a World's script, for a replay. */
  script() {
    return this.inputs.map((i) => ({ ...i }));
  }
}

/** Encodes a moment for the URL's hash (after "lesson-N~"). */
export function encodeMoment(state) {
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function decodeMoment(s) {
  try {
    const bin = atob(s.replaceAll('-', '+').replaceAll('_', '/'));
    const state = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
    if (typeof state !== 'object' || state === null || !Number.isFinite(state.t)) return null;
    return state;
  } catch {
    return null;
  }
}

export class RewindBar {
  /** view: { seek(ms), marks(), moment(), now(), end() } */
  constructor(el, view) {
    this.el = el;
    this.view = view;
    this.scrub = h('input', {
      id: 'scrub',
      type: 'range',
      min: '0',
      max: '1000',
      step: '10',
      value: '0',
      'aria-valuetext': '0.00 s',
      oninput: () => this.#label(Number(this.scrub.value)),
      onchange: () => this.view.seek(Number(this.scrub.value)),
    });
    this.out = h('output', { for: 'scrub', class: 'scrub-out' }, '0.00 s');
    this.kind = h(
      'select',
      { id: 'jump-kind', 'aria-label': 'Jump to' },
      h('option', { value: '' }, 'ack, crash or redelivery'),
      h('option', { value: 'ack' }, 'ack'),
      h('option', { value: 'crash' }, 'crash'),
      h('option', { value: 'redelivery' }, 'redelivery'),
    );
    this.prev = h('button', { type: 'button', class: 'jump-prev', onclick: () => this.#jump(-1) }, '‹ Previous');
    this.next = h('button', { type: 'button', class: 'jump-next', onclick: () => this.#jump(1) }, 'Next ›');
    this.link = h('input', {
      id: 'moment-link',
      type: 'text',
      readonly: true,
      placeholder: ' ',
      'aria-label': 'Link to this moment',
    });
    this.share = h(
      'button',
      { type: 'button', class: 'secondary moment', onclick: () => this.#share() },
      'Link to this moment',
    );
    el.replaceChildren(
      h('label', { for: 'scrub', class: 'scrub-label' }, 'Rewind'),
      this.scrub,
      this.out,
      this.prev,
      this.kind,
      this.next,
      this.share,
      this.link,
    );
    el.hidden = false;
    this.dragging = false;
    this.scrub.addEventListener('pointerdown', () => (this.dragging = true));
    this.scrub.addEventListener('pointerup', () => (this.dragging = false));
  }

  #label(ms) {
    const s = seconds(ms);
    text(this.out, s);
    this.scrub.setAttribute('aria-valuetext', s);
  }

  /** Follows the lesson's clock; called a few times a second. */
  update() {
    if (this.dragging || document.activeElement === this.scrub) return;
    const now = this.view.now();
    const end = Math.max(now, this.view.end());
    this.scrub.max = String(Math.ceil(end / 10) * 10);
    this.scrub.value = String(Math.round(now / 10) * 10);
    this.#label(now);
  }

  #jump(dir) {
    const kind = this.kind.value;
    const now = this.view.now();
    const marks = this.view.marks().filter((m) => !kind || m.kind === kind);
    const eps = 0.5;
    let best = null;
    for (const m of marks) {
      if (
        dir < 0
          ? m.at < now - eps && (best === null || m.at > best.at)
          : m.at > now + eps && (best === null || m.at < best.at)
      )
        best = m;
    }
    if (best) this.view.seek(best.at);
    else this.view.say(`No ${kind || 'ack, crash or redelivery'} ${dir < 0 ? 'before' : 'after'} ${seconds(now)} yet.`);
  }

  #share() {
    const url = new URL(location.href);
    url.hash = this.view.moment();
    this.link.value = url.href;
    this.link.select();
  }

  dispose() {
    this.el.hidden = true;
    this.el.replaceChildren();
  }
}
