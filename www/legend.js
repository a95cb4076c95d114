// The legend under the scene: each token state drawn as in the scene, with words.

import { h } from './dom.js';
import { BADGES, GLYPHS } from './scene/glyphs.js';

const SHOWN = [
  'ready',
  'delivered',
  'processing',
  'processed',
  'acked',
  'lost',
  'dead-lettered',
  'expired',
  'refused',
  'unroutable',
];
const NS = 'http://www.w3.org/2000/svg';

function icon(state, badge) {
  const g = GLYPHS[state];
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '-16 -16 36 32');
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('legend-icon');
  const rx = g.shape === 'round' ? 13 : 4;
  const transform = g.shape === 'diamond' ? ' transform="rotate(45) scale(0.82)"' : '';
  svg.innerHTML =
    `<g class="tok s-${state} shape-${g.shape}"><rect class="body" x="-13" y="-13" width="26" height="26" rx="${rx}"${transform}/>` +
    `<text class="tid" y="4" text-anchor="middle">7</text><text class="tmark" x="14" y="15" text-anchor="middle">${g.mark}</text>` +
    (badge
      ? `<g class="badge" transform="translate(12,-12)"><circle r="7"/><text y="3.5" text-anchor="middle">${badge}</text></g>`
      : '') +
    '</g>';
  return svg;
}

export function legend() {
  const items = SHOWN.map((s) => h('li', {}, icon(s), GLYPHS[s].words));
  items.push(h('li', {}, icon('ready', BADGES.redelivered.mark), BADGES.redelivered.words));
  items.push(h('li', {}, icon('ready', BADGES.dead.mark), BADGES.dead.words));
  items.push(
    h(
      'li',
      {},
      h('span', { class: 'legend-tag' }, '✓conf / …conf'),
      'above a token: its publisher has (or has not yet) got the confirm',
    ),
  );
  items.push(
    h(
      'li',
      {},
      h('span', { class: 'legend-tag' }, 'tag 3'),
      'above a token: its delivery tag on the consumer’s channel',
    ),
  );
  return [h('details', {}, h('summary', {}, 'What the tokens mean'), h('ul', {}, ...items))];
}
