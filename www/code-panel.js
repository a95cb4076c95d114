// The same scenario as code: amqp-client.js (JavaScript) and pika (Python),
// as tabs following the WAI-ARIA tabs pattern (arrow keys move between them).

import { h, text } from './dom.js';

const TABS = [
  ['js', 'amqp-client.js'],
  ['py', 'pika'],
];

export class CodePanel {
  constructor(el) {
    this.el = el;
    this.current = 'js';
    this.code = { js: '', py: '' };
    this.tabs = TABS.map(([key, label]) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `code-tab-${key}`,
          'aria-controls': 'code-body',
          onclick: () => this.select(key),
          onkeydown: (e) => this.#keys(e),
        },
        label,
      ),
    );
    this.pre = h('pre', { id: 'code-body', role: 'tabpanel', tabindex: '0' }, h('code'));
    /** (js) => ...: opens the amqp-client.js program in the live-code editor (`live`, where the JS shown is another client's) */
    this.onedit = null;
    el.replaceChildren(
      h(
        'div',
        { class: 'panel-head' },
        h('h3', { id: 'code-title' }, 'The same in code'),
        h('div', { role: 'tablist', 'aria-label': 'Client library' }, ...this.tabs),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            id: 'code-edit',
            onclick: () => this.onedit?.(this.code.live ?? this.code.js),
          },
          'Edit and run',
        ),
      ),
      this.pre,
    );
    this.select('js');
  }

  #keys(e) {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    const i = TABS.findIndex(([k]) => k === this.current);
    const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length][0];
    this.select(next);
    this.tabs.find((t) => t.id === `code-tab-${next}`).focus();
  }

  select(key) {
    this.current = key;
    for (const t of this.tabs) {
      const on = t.id === `code-tab-${key}`;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
    }
    this.pre.setAttribute('aria-labelledby', `code-tab-${key}`);
    text(this.pre.firstChild, this.code[key]);
  }

  /** code: { js, py } */
  show(code) {
    this.code = code;
    text(this.pre.firstChild, code[this.current]);
  }
}
