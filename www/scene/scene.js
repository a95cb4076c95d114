// The live diagram: boxes from the topology, tokens from the model. A source
// supplies both (a World on this page, or a server's event stream) plus the
// words for each box.

import { drawDiagram, fit } from './diagram.js';
import { layout, slotAt, slotsIn } from './layout.js';
import { GLYPHS } from './glyphs.js';
import { setText, svgEl } from './svg.js';
import { TokenLayer } from './tokens.js';
import { topologyKey } from './topology.js';

let scenes = 0; // each scene's arrow marker gets its own id: two scenes can share a page (compare)

const FADE_MS = 1400; // how long a finished message stays visible (real time)
const TOPOLOGY_EVERY = 400; // ms between topology checks

export class Scene {
  constructor(svg, caption) {
    this.svg = svg;
    this.caption = caption;
    const defs = svgEl('defs', {}, svg);
    const marker = svgEl(
      'marker',
      {
        id: `arrow-${++scenes}`,
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: 'auto-start-reverse',
      },
      defs,
    );
    svgEl('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }, marker);
    svg.dataset.arrow = marker.id;
    this.diagram = svgEl('g', { class: 'diagram' }, svg);
    this.tokens = new TokenLayer(svgEl('g', { class: 'tokens' }, svg));
    this.source = null;
    this.onselect = null;
    this.width = 0;
    this.lastTopology = -Infinity;
    this.drawn = -1;
    this.lastCaption = 0;
    svg.addEventListener('click', (e) => {
      const g = e.target.closest('[data-msg]');
      if (g) this.onselect?.(Number(g.dataset.msg));
    });
    new ResizeObserver(() => {
      this.width = Math.round(svg.parentElement.clientWidth);
      this.key = '';
    }).observe(svg.parentElement);
  }

  /** Shows another source: { model, topology(), describe(id, item), selected }. */
  show(source) {
    this.source = source;
    this.key = '';
    this.lastTopology = -Infinity;
    this.tokens.draw([], null);
  }

  /** Redraws what changed; called every animation frame. */
  render(now = performance.now()) {
    const src = this.source;
    if (!src || !this.width) return;
    if (this.key === '' || src.dirty || now - this.lastTopology > TOPOLOGY_EVERY) {
      src.dirty = false;
      this.lastTopology = now;
      const t = src.topology();
      const key = `${topologyKey(t)}|${this.width}`;
      if (key !== this.key) {
        this.key = key;
        this.topology = t;
        this.lay = layout(t, this.width);
        this.svg.setAttribute('viewBox', `0 0 ${this.lay.width} ${this.lay.height}`);
        this.svg.setAttribute('height', this.lay.height);
        this.texts = drawDiagram(this.diagram, t, this.lay);
        this.drawn = -1;
      } else {
        this.topology = t;
      }
    }
    const model = src.model;
    const finals = model.finals;
    const fadingNow = finals.length && now - finals[finals.length - 1].realAt < FADE_MS + 100;
    if (model.version === this.drawn && !fadingNow && src.selected === this.selected && !this.tokens.entering.length)
      return;
    this.drawn = model.version;
    this.selected = src.selected;
    this.#drawTokens(now);
    this.#describe(now);
  }

  #drawTokens(now) {
    const { model } = this.source;
    const { nodes } = this.lay;
    const wanted = [];
    const entryOf = new Map(); // queue -> where its messages come from
    for (const l of this.topology.links) {
      if (l.to.startsWith('q:') && !entryOf.has(l.to) && nodes.has(l.from)) entryOf.set(l.to, nodes.get(l.from));
    }
    for (const q of this.topology.queues) {
      const id = `q:${q.name}`;
      const box = nodes.get(id);
      const mq = model.queues.get(q.name);
      const ready = mq ? mq.ready.size : 0;
      const texts = this.texts.get(id);
      // The broker's counts, kept from its events: unacked is what it waits an ack for.
      const unacked = model.unackedIn(q.name);
      setText(texts.right, `${ready} ready · ${unacked} unacked`);
      texts.g.dataset.ready = ready;
      texts.g.dataset.unacked = unacked;
      const n = slotsIn(box);
      const from = entryOf.get(id);
      let i = 0;
      if (mq) {
        for (const c of mq.ready) {
          if (i >= n - (ready > n ? 1 : 0)) break;
          wanted.push({
            copy: c,
            ...slotAt(box, i++),
            from: from && { x: from.x + from.w / 2, y: from.y + from.h / 2 },
          });
        }
      }
      setText(texts.more, ready > i ? `+${ready - i}` : '');
    }
    for (const c of this.topology.consumers) {
      const id = `c:${c.key}`;
      const box = nodes.get(id);
      const texts = this.texts.get(id);
      const held = c.holder ? model.holders.get(c.holder) : null;
      const count = held ? held.size : 0;
      const n = slotsIn(box);
      const qbox = nodes.get(`q:${c.queue}`);
      const shown = [];
      if (held) {
        for (const copy of held) {
          if (shown.length >= n - (count > n ? 1 : 0)) break;
          shown.push(copy);
        }
      }
      // A token keeps its slot while its message stays: when the oldest is acked
      // the rest do not all slide along (at a high rate that is every frame, each
      // slide a transition to restyle), and the newcomer takes the free slot.
      const slots = shown.map(() => null);
      const taken = new Set();
      shown.forEach((copy, k) => {
        const at = this.tokens.target(copy.key);
        if (!at) return;
        for (let j = 0; j < shown.length; j++) {
          const p = slotAt(box, j);
          if (!taken.has(j) && p.x === at.x && p.y === at.y) {
            taken.add(j);
            slots[k] = p;
            break;
          }
        }
      });
      let free = 0;
      shown.forEach((copy, k) => {
        if (!slots[k]) {
          while (taken.has(free)) free++;
          taken.add(free);
          slots[k] = slotAt(box, free);
        }
        wanted.push({ copy, ...slots[k], from: qbox && { x: qbox.x + qbox.w - 14, y: qbox.y + qbox.h - 21 } });
      });
      setText(texts.more, count > shown.length ? `+${count - shown.length}` : '');
    }
    for (const f of model.finals) {
      if (now - f.realAt > FADE_MS) continue;
      const c = f.copy;
      let at = this.tokens.at(c.key);
      if (!at && c.queue === null) {
        const x = nodes.get(`x:${c.exchange}`);
        if (x) at = { x: x.x + x.w / 2, y: x.y + x.h + 16 };
      }
      if (at) wanted.push({ copy: c, x: at.x, y: at.y, fading: true });
    }
    this.tokens.draw(wanted, this.source.selected);
  }

  /** Words in the boxes, and the text summary read out instead of the picture. */
  #describe(now) {
    const src = this.source;
    for (const [id, t] of this.texts) {
      if (id[0] !== 'p' && id[0] !== 'c') continue;
      const d = src.describe(id, t.item);
      if (!d) continue;
      if (d.sub !== undefined) setText(t.sub, fit(d.sub, t.width, 6.2));
      if (d.status !== undefined) setText(t.status, fit(d.status, t.width, 6.2));
      if (d.right !== undefined && t.right) setText(t.right, d.right);
      t.g.classList.toggle('down', Boolean(d.down));
      if (d.data) Object.assign(t.g.dataset, d.data);
    }
    if (now - this.lastCaption < 250) return;
    this.lastCaption = now;
    const parts = [];
    for (const q of this.topology.queues) {
      const t = this.texts.get(`q:${q.name}`);
      parts.push(`Queue ${q.name}: ${t.right.textContent}.`);
    }
    for (const c of this.topology.consumers) {
      const held = c.holder ? [...(src.model.holders.get(c.holder) ?? [])] : [];
      const what = held
        .slice(0, 5)
        .map((m) => `message ${m.msg} ${GLYPHS[m.state]?.words ?? m.state}${m.redelivered ? ' (redelivered)' : ''}`);
      parts.push(
        `${c.label} (${this.texts.get(`c:${c.key}`).status.textContent}): ${what.length ? what.join('; ') : 'holds nothing'}.`,
      );
    }
    setText(this.caption, parts.join(' '));
  }
}
