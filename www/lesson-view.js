// Runs one lesson: its text, its controls, its live world and the "what you
// should see" checks, which read the outcome from the engine's events.

import { h, text } from './dom.js';
import { World } from './sim/world.js';

const CHECK_EVERY = 150; // ms

export class LessonView {
  /** deps: { warren, dom: { title, text, controls, see }, onworld(world) } */
  constructor(lesson, deps) {
    this.lesson = lesson;
    this.deps = deps;
    this.settings = { ...(lesson.defaults ?? {}) };
    this.ctx = null;
    this.lastCheck = 0;
    this.status = h('p', { class: 'action-status', role: 'status' });
  }

  async mount() {
    const { dom } = this.deps;
    const l = this.lesson;
    text(dom.title, `${l.number}. ${l.title}`);
    dom.text.innerHTML = l.text;
    this.#buildControls();
    await this.reset();
  }

  /** A fresh broker and fresh actors, keeping the reader's settings. */
  async reset() {
    this.ctx?.world.dispose();
    const world = new World(this.deps.warren, this.lesson.world?.(this.settings) ?? {});
    const ctx = {
      world,
      settings: this.settings,
      state: {},
      view: this,
      reset: () => this.reset(),
    };
    this.ctx = ctx;
    await world.start();
    await this.lesson.setup(ctx);
    for (const a of world.actors) await a.attach();
    if (this.ctx !== ctx) return; // reset again meanwhile
    await ctx.afterAttach?.();
    text(this.status, '');
    // Tells anyone watching the page (a test, a script) that the new broker is up.
    document.documentElement.dataset.resets = String(Number(document.documentElement.dataset.resets ?? 0) + 1);
    this.#buildChecks();
    this.deps.onworld(world, this.lesson.code(ctx), this.lesson.counters ?? []);
    this.render(performance.now(), true);
  }

  #buildControls() {
    const box = this.deps.dom.controls;
    const items = [];
    this.dynamic = [];
    for (const spec of this.lesson.controls) items.push(this.#control(spec));
    items.push(
      h(
        'div',
        { class: 'row reset-row' },
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            dataset: { action: 'reset' },
            onclick: () => this.#run(() => this.reset(), 'Reset'),
          },
          'Reset the lesson',
        ),
      ),
    );
    box.replaceChildren(...items, this.status);
  }

  #control(spec) {
    const id = `ctl-${this.lesson.slug}-${spec.id}`;
    const set = (v) => {
      this.settings[spec.id] = v;
      this.deps.oncode?.(this.lesson.code(this.ctx));
      if (spec.change) this.#run(() => spec.change(this.ctx, v), spec.label);
      else this.#run(() => this.reset(), spec.label);
    };
    if (spec.group) {
      const children = spec.group.map((s) => this.#control(s));
      return h(
        'div',
        { class: 'row', role: 'group', 'aria-label': spec.group.label ?? spec.label ?? 'actions' },
        ...children,
      );
    }
    if (spec.button) {
      const b = h(
        'button',
        {
          type: 'button',
          id,
          class: spec.kind ?? '',
          dataset: { action: spec.id },
          onclick: () => this.#run(() => spec.run(this.ctx), spec.button),
        },
        spec.button,
      );
      if (spec.enabled) this.dynamic.push(() => (b.disabled = !spec.enabled(this.ctx)));
      return b;
    }
    if (spec.choice) {
      const name = id;
      return h(
        'fieldset',
        { class: 'choice' },
        h('legend', {}, spec.choice),
        ...spec.options.map(([value, label]) =>
          h(
            'label',
            {},
            h('input', {
              type: 'radio',
              name,
              value,
              checked: this.settings[spec.id] === value,
              dataset: { setting: spec.id },
              onchange: () => set(value),
            }),
            ` ${label}`,
          ),
        ),
      );
    }
    if (spec.number) {
      const input = h('input', {
        id,
        type: 'number',
        min: spec.min,
        max: spec.max,
        step: spec.step ?? 1,
        value: this.settings[spec.id],
        dataset: { setting: spec.id },
      });
      input.addEventListener('change', () => {
        const v = Math.min(spec.max, Math.max(spec.min, Number(input.value) || spec.min));
        input.value = v;
        set(v);
      });
      return h(
        'div',
        { class: 'field' },
        h('label', { for: id, html: spec.number }),
        input,
        spec.unit ? h('span', { class: 'unit' }, spec.unit) : null,
      );
    }
    if (spec.toggle) {
      const input = h('input', {
        id,
        type: 'checkbox',
        checked: Boolean(this.settings[spec.id]),
        dataset: { setting: spec.id },
        onchange: () => set(input.checked),
      });
      return h('div', { class: 'field toggle' }, input, h('label', { for: id, html: spec.toggle }));
    }
    if (spec.panel) {
      const body = h('div', { class: 'panel-body', 'aria-live': spec.live ? 'polite' : null });
      let last = '';
      this.dynamic.push(() => {
        const html = spec.render(this.ctx);
        if (html !== last) body.innerHTML = last = html;
      });
      return h('section', { class: 'lesson-panel', dataset: { panel: spec.id } }, h('h4', {}, spec.panel), body);
    }
    throw new Error(`unknown control ${JSON.stringify(spec)}`);
  }

  /** Runs an action; an error (an AMQP error from the broker, say) is shown, not thrown. */
  async #run(fn, what) {
    try {
      await fn();
    } catch (e) {
      text(this.status, `${what}: ${e.message}`);
    }
  }

  #buildChecks() {
    const list = this.deps.dom.see;
    this.checks = this.lesson.checks(this.ctx).map((c) => {
      const mark = h('span', { class: 'mark', 'aria-hidden': 'true' }, '○');
      const state = h('span', { class: 'visually-hidden' }, 'not yet: ');
      // A check's words may follow the settings (lesson 6's disk write time): a function is asked again.
      const words = typeof c.text === 'function' ? c.text() : c.text;
      const body = h('span', { html: words });
      const li = h('li', { dataset: { ok: 'false' } }, mark, state, body);
      return { ...c, li, mark, state, body, words };
    });
    list.replaceChildren(...this.checks.map((c) => c.li));
  }

  /** Updates the panels, buttons and checks; called every frame, works a few times a second. */
  render(now, force = false) {
    if (!this.ctx || (!force && now - this.lastCheck < CHECK_EVERY)) return;
    this.lastCheck = now;
    for (const d of this.dynamic) d();
    for (const c of this.checks ?? []) {
      if (typeof c.text === 'function') {
        const words = c.text();
        if (words !== c.words) c.body.innerHTML = c.words = words;
      }
      // Seen once is seen: a check stays ticked until the lesson is reset.
      if (c.li.dataset.ok === 'true') continue;
      let ok = false;
      try {
        ok = Boolean(c.ok(this.ctx));
      } catch {
        ok = false;
      }
      if (!ok) continue;
      c.li.dataset.ok = String(ok);
      text(c.mark, ok ? '✓' : '○');
      text(c.state, ok ? 'seen: ' : 'not yet: ');
    }
  }

  dispose() {
    this.ctx?.world.dispose();
    this.ctx = null;
  }
}
