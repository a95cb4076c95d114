// Runs one lesson: its text, its controls, its live world and the "what you
// should see" checks, which read the outcome from the engine's events.

import { comparisonFor } from './compare/scenarios.js';
import { h, text } from './dom.js';
import { RewindBar, RunLog, encodeMoment } from './rewind.js';
import { World } from './sim/world.js';

const CHECK_EVERY = 150; // ms

export class LessonView {
  /**
   * deps: { warren, dom: { title, text, controls, see, rewind }, onworld(world), pause() }
   * moment: a moment to restore (from a link): { t, s: settings, in: inputs, t0 }
   */
  constructor(lesson, deps, moment = null) {
    this.lesson = lesson;
    this.deps = deps;
    this.settings = { ...(lesson.defaults ?? {}), ...(moment?.s ?? {}) };
    this.ctx = null;
    this.lastCheck = 0;
    this.status = h('p', { class: 'action-status', role: 'status' });
    /** the reader's inputs since the last reset ([{ at, b: button } | { at, set, v }]) and the marks seen */
    this.log = new RunLog(moment?.in ?? []);
    this.t0 = moment?.t0 ?? null;
    this.restore = moment;
  }

  async mount() {
    const { dom } = this.deps;
    const l = this.lesson;
    text(dom.title, `${l.number}. ${l.title}`);
    dom.text.innerHTML = l.text;
    this.#buildControls();
    this.#compareLink();
    if (dom.rewind) this.rewind = new RewindBar(dom.rewind, this);
    if (this.restore) await this.seek(this.restore.t);
    else await this.reset();
  }

  // ---- rewind and replay ---------------------------------------------------------

  now() {
    return this.ctx ? this.ctx.world.now() : 0;
  }

  /** The latest moment known: the last input or mark of the runs so far. */
  end() {
    return this.log.end(this.ctx?.world);
  }

  marks() {
    return this.log.marks(this.ctx?.world);
  }

  say(words) {
    text(this.status, words);
  }

  /** The hash of a link to this moment. */
  moment() {
    const t = Math.round(this.now() * 1000) / 1000;
    return `lesson-${this.lesson.number}~${encodeMoment({ t, s: this.settings, in: this.log.inputs, t0: this.t0 })}`;
  }

  /**
   * Goes to page time `t` (ms): the lesson is built afresh with the same seed and
   * start, and the reader's inputs are replayed on its clock up to `t`; those
   * after `t` stay scheduled, so playing on replays them too. Time stays paused.
   */
  async seek(t) {
    this.deps.pause?.();
    this.log.remember(this.ctx?.world);
    const ctx = await this.reset({ replay: true });
    if (!ctx) return;
    await ctx.world.advanceTo(ctx.world.t0 + t);
    // What the last timer set off finishes, as before a frame.
    await new Promise((r) => setTimeout(r, 0));
    if (this.ctx !== ctx) return;
    ctx.world.applyAll();
    document.documentElement.dataset.moment = String(t);
    this.render(performance.now(), true);
  }

  /** A reader's input: recorded with its page time; inputs scheduled after it (a rewound future) are dropped. */
  #input(input) {
    if (this.ctx) this.log.record(this.ctx.world, input);
  }

  /** Runs one recorded input again, as the reader did: without waiting for what it starts. */
  async #replay(input) {
    const spec = this.specs.get(input.b ?? input.set);
    if (!spec) return;
    const ctx = this.ctx;
    if (input.b !== undefined) this.#run(() => spec.run(ctx), spec.button);
    else {
      this.settings[input.set] = input.v;
      const el = document.getElementById(`ctl-${this.lesson.slug}-${input.set}`);
      if (el?.type === 'checkbox') el.checked = Boolean(input.v);
      else if (el) el.value = input.v;
      this.#run(() => spec.change(ctx, input.v), spec.number ?? spec.toggle);
    }
    // A click is followed by at least a turn of the event loop before the next frame.
    await new Promise((r) => setTimeout(r, 0));
  }

  /** A fresh broker and fresh actors, keeping the reader's settings; `replay`: keeping the inputs and start too. */
  async reset({ replay = false } = {}) {
    if (!replay) {
      this.log.clear();
      this.t0 = null;
    }
    this.ctx?.world.dispose();
    const options = { seed: this.lesson.number, exact: true, ...(this.lesson.world?.(this.settings) ?? {}) };
    if (this.t0 !== null) options.t0 = this.t0;
    const world = new World(this.deps.warren, options);
    this.t0 = world.t0;
    world.onInput = (input) => this.#replay(input);
    if (replay) world.script = this.log.script();
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
    if (this.ctx !== ctx) return null; // reset again meanwhile
    await ctx.afterAttach?.();
    text(this.status, '');
    if (this.verdict && !replay) {
      // A new run: no guess yet.
      this.guess = this.predicted = null;
      text(this.verdict, '');
      delete this.verdict.dataset.verdict;
      for (const b of this.deps.dom.controls.querySelectorAll('[data-predict]'))
        b.setAttribute('aria-pressed', 'false');
    }
    // Tells anyone watching the page (a test, a script) that the new broker is up.
    document.documentElement.dataset.resets = String(Number(document.documentElement.dataset.resets ?? 0) + 1);
    this.#buildChecks();
    this.deps.onworld(world, this.lesson.code(ctx), this.lesson.counters ?? []);
    this.render(performance.now(), true);
    return ctx;
  }

  /** A link to the side-by-side comparison that is this lesson's point, if there is one. */
  #compareLink() {
    const c = comparisonFor(this.lesson.number);
    if (!c) return;
    this.deps.dom.controls.append(
      h(
        'p',
        { class: 'compare-link' },
        h('a', { href: `#compare-${c.id}` }, `Compare side by side: ${c.title.toLowerCase()}`),
      ),
    );
  }

  #buildControls() {
    const box = this.deps.dom.controls;
    const items = [];
    this.dynamic = [];
    /** control id -> spec, for replaying inputs */
    this.specs = new Map();
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
    const predicting = this.#predictable(this.lesson.controls);
    if (predicting) items.push(this.#predictBox(predicting));
    box.replaceChildren(...items, this.status);
  }

  /** The first control with a prediction to make, in groups too. */
  #predictable(specs) {
    for (const s of specs) {
      if (s.predict) return s;
      const inner = s.group && this.#predictable(s.group);
      if (inner) return inner;
    }
    return null;
  }

  #control(spec) {
    const id = `ctl-${this.lesson.slug}-${spec.id}`;
    if (spec.id) this.specs.set(spec.id, spec);
    const set = (v) => {
      this.settings[spec.id] = v;
      this.deps.oncode?.(this.lesson.code(this.ctx));
      if (spec.change) this.#input({ set: spec.id, v });
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
          onclick: () => {
            if (spec.predict) this.#arm(spec);
            this.#input({ b: spec.id });
            this.#run(() => spec.run(this.ctx), spec.button);
          },
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

  /**
   * Predict, then see: before a key moment (a crash) the reader may say what will
   * happen; when the moment comes, the verdict is read from the engine's outcome.
   */
  #predictBox(spec) {
    const p = spec.predict;
    const choices = p.options.map(([value, label]) =>
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-pressed': 'false',
          dataset: { predict: value },
          onclick: () => {
            this.guess = { spec, value, ctx: this.ctx };
            for (const c of choices)
              c.setAttribute('aria-pressed', String(c === choices[p.options.findIndex(([v]) => v === value)]));
            text(this.verdict, `Your guess: ${label.toLowerCase()}. Now press “${spec.button}”.`);
            this.verdict.dataset.verdict = 'guessed';
          },
        },
        label,
      ),
    );
    this.verdict = h('p', { class: 'verdict', role: 'status' });
    return h(
      'section',
      { class: 'predict', 'aria-label': 'Predict, then see' },
      h('p', { class: 'question' }, h('strong', {}, 'Predict: '), p.question),
      h('div', { class: 'row' }, ...choices),
      this.verdict,
    );
  }

  #arm(spec) {
    const g = this.guess;
    if (!g || g.spec !== spec || g.ctx !== this.ctx) return;
    this.guess = null;
    this.predicted = g;
    text(this.verdict, 'Watch…');
    this.verdict.dataset.verdict = 'waiting';
  }

  #judge() {
    const p = this.predicted;
    if (!p || p.ctx !== this.ctx) return;
    const outcome = p.spec.predict.outcome(this.ctx);
    if (outcome == null) return;
    this.predicted = null;
    const right = outcome === p.value;
    const label = Object.fromEntries(p.spec.predict.options)[outcome] ?? outcome;
    // why: words per outcome, or a function of what the engine did (numbers that differ run to run).
    const why = p.spec.predict.why;
    const reason = typeof why === 'function' ? why(this.ctx, outcome) : why[outcome];
    text(this.verdict, `${right ? 'Right' : 'Not this time'}: ${label.toLowerCase()}. ${reason ?? ''}`);
    this.verdict.dataset.verdict = right ? 'right' : 'wrong';
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
    this.rewind?.update();
    this.#judge();
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
    this.rewind?.dispose();
    this.ctx?.world.dispose();
    this.ctx = null;
  }
}
