// Compare: one scenario on two brokers side by side, the same seed, start and
// inputs, differing in one setting, running in step on the page's clock. Each
// side's scene and counters are drawn from its own World (its own engine's
// events and snapshot), and so is its wire lane: the frames that crossed on
// that side's engine, at the shared clock's times, a click selecting the
// message on that side. The table on top lists where the two sides differ.

import { Counters } from '../counters.js';
import { h, text } from '../dom.js';
import { Scene } from '../scene/scene.js';
import { LiveSource } from '../sim/live-source.js';
import { World } from '../sim/world.js';
import { WireLane } from '../wire/lane.js';
import { PairFeed } from './pair-feed.js';
import { COMPARISONS } from './scenarios.js';

const SEED = 11;
const COUNTER_NAMES = {
  published: 'published',
  confirmed: 'confirmed',
  delivered: 'delivered',
  redelivered: 'redelivered',
  acked: 'acked',
  lost: 'lost',
  rejected: 'rejected',
  dropped: 'dropped',
};

export class CompareView {
  /** deps: { warren, dom, onfeed(feed) }; `hash`: "compare" or "compare-<id>". */
  constructor(deps, hash) {
    this.deps = deps;
    this.spec = COMPARISONS.find((c) => `compare-${c.id}` === hash) ?? COMPARISONS[0];
    this.sides = [];
  }

  async mount() {
    const { dom } = this.deps;
    const spec = this.spec;
    text(dom.title, `Compare: ${spec.title}`);
    const picker = h(
      'select',
      {
        id: 'compare-pick',
        onchange: () => (location.hash = `compare-${picker.value}`),
      },
      ...COMPARISONS.map((c) => h('option', { value: c.id, selected: c === spec }, `${c.title} (lesson ${c.lesson})`)),
    );
    dom.text.replaceChildren(
      h(
        'p',
        {},
        'Two brokers in this tab, the same seed and the same inputs, differing only in ',
        h('strong', {}, spec.setting),
        '. Both run on one clock: what you press happens on both sides at the same moment.',
      ),
      h('p', { html: spec.text }),
      h('p', {}, h('a', { href: `#lesson-${spec.lesson}` }, `Back to lesson ${spec.lesson}`)),
    );
    this.buttons = spec.actions.map((a) =>
      h(
        'button',
        { type: 'button', class: a.kind ?? '', dataset: { action: a.id }, onclick: () => this.#act(a) },
        a.label,
      ),
    );
    dom.controls.replaceChildren(
      h('div', { class: 'field' }, h('label', { for: 'compare-pick' }, 'Compare'), picker),
      h(
        'div',
        { class: 'row' },
        ...this.buttons,
        h('button', { type: 'button', class: 'secondary', onclick: () => this.#start() }, 'Start over'),
      ),
    );
    this.table = h('table', { class: 'compare-diff' });
    this.stage = h(
      'div',
      { class: 'compare-stage', role: 'group', 'aria-label': 'The two brokers side by side' },
      this.table,
      h('div', { class: 'compare-sides' }),
    );
    document.getElementById('time-controls').after(this.stage);
    await this.#start();
  }

  async #start() {
    this.#disposeSides();
    const spec = this.spec;
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    this.sides = [];
    const box = this.stage.querySelector('.compare-sides');
    box.replaceChildren();
    for (const [value, label] of spec.values) {
      const world = new World(this.deps.warren, { seed: SEED, t0, exact: true, ...(spec.world?.() ?? {}) });
      await world.start();
      const ctx = { world, ...(await spec.setup(world, value)) };
      for (const a of world.actors) await a.attach();
      const source = new LiveSource(world);
      source.name = (key) => world.channels.get(key)?.label ?? `channel ${key}`;
      const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      const caption = h('figcaption', { class: 'scene-summary' });
      const counters = h('div', { class: 'counters' });
      const id = `wire-${this.sides.length ? 'right' : 'left'}`;
      const wireEl = h('section', { class: 'wire', id, 'aria-labelledby': `${id}-title` });
      const el = h(
        'section',
        { class: 'compare-side', dataset: { value: String(value) }, 'aria-label': label },
        h('h3', {}, label),
        counters,
        h('figure', { class: 'scene' }, svg, caption),
        wireEl,
      );
      box.append(el);
      svg.setAttribute('role', 'img');
      const scene = new Scene(svg, caption);
      scene.show(source);
      scene.onselect = (id) => (world.selected = id);
      const c = new Counters(counters);
      c.show(spec.counters ?? []);
      const wire = new WireLane(wireEl, { id, heading: 'h4' });
      wire.show(source);
      wire.onselect = (msg) => (world.selected = msg);
      this.sides.push({ value, label, world, ctx, source, scene, counters: c, wire, el });
    }
    this.feed = new PairFeed(this.sides.map((s) => s.world));
    this.deps.onfeed(this.feed);
    // For scripts and tests that hold each side to its own engine.
    window.warrenPage = {
      compare: this.spec.id,
      sides: this.sides.map((s) => ({ world: s.world, el: s.el, snapshot: () => s.world.snapshot() })),
      feed: this.feed,
    };
  }

  #act(a) {
    this.feed.input((world, i) => a.run(this.sides[i].ctx));
  }

  render(now) {
    for (const s of this.sides) {
      s.scene.render(now);
      s.counters.update(s.world.model.counters);
    }
    for (const [i, a] of this.spec.actions.entries()) {
      const b = this.buttons[i];
      const on = !a.enabled || this.sides.every((s) => a.enabled(s.ctx));
      if (b.disabled === on) b.disabled = !on;
    }
    this.#diff();
  }

  /** Each counter the two sides disagree on, the expected ones marked. */
  #diff() {
    const [a, b] = this.sides.map((s) => s.world.model.counters);
    if (!a || !b) return;
    const rows = Object.keys(COUNTER_NAMES).filter((k) => a[k] !== b[k]);
    const key = rows.map((k) => `${k}:${a[k]}:${b[k]}`).join('|');
    if (key === this.diffKey) return;
    this.diffKey = key;
    const [l, r] = this.sides.map((s) => s.label);
    this.table.replaceChildren(
      h('caption', {}, rows.length ? 'Where the two brokers differ' : 'No difference yet: use the buttons'),
      h('tr', {}, h('th', { scope: 'col' }, 'counter'), h('th', { scope: 'col' }, l), h('th', { scope: 'col' }, r)),
      ...rows.map((k) =>
        h(
          'tr',
          { dataset: { counter: k }, class: this.spec.differs.includes(k) ? 'point' : '' },
          h('th', { scope: 'row' }, COUNTER_NAMES[k]),
          h('td', {}, String(a[k])),
          h('td', {}, String(b[k])),
        ),
      ),
    );
  }

  #disposeSides() {
    for (const s of this.sides) {
      s.wire.dispose();
      s.world.dispose();
    }
    this.sides = [];
  }

  dispose() {
    this.#disposeSides();
    this.stage?.remove();
  }
}
