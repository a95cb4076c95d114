// The counters bar: totals computed from engine events (and, for "lost", from
// what the simulated consumers know; see lesson 1).

import { h, text } from './dom.js';

const MAIN = [
  ['published', 'published'],
  ['confirmed', 'confirmed'],
  ['delivered', 'delivered'],
  ['redelivered', 'redelivered'],
  ['acked', 'acked'],
  ['lost', 'lost'],
  ['deadLettered', 'dead-lettered'],
];

/** Counters a lesson may add: key -> label. */
export const EXTRA = {
  publishNacked: 'nacked to publisher',
  returned: 'returned',
  refused: 'refused by queue',
  expired: 'expired',
  dropped: 'dropped',
  nacked: 'nacked',
  rejected: 'rejected',
  requeued: 'requeued',
  processed: 'processed',
};

export class Counters {
  constructor(el) {
    this.el = el;
    this.cells = new Map();
  }

  /** Lays out the seven main counters plus `extra` (keys of EXTRA). */
  show(extra = []) {
    this.cells.clear();
    const items = [...MAIN, ...extra.map((k) => [k, EXTRA[k]])].map(([key, label]) => {
      const n = h('span', { class: 'n' }, '0');
      this.cells.set(key, n);
      return h('div', { class: `counter c-${key}`, dataset: { counter: key } }, n, h('span', { class: 'name' }, label));
    });
    this.el.replaceChildren(...items);
  }

  update(counters) {
    for (const [key, n] of this.cells) text(n, String(counters[key] ?? 0));
  }
}
