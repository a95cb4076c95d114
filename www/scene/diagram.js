// The static part of the scene: a box per producer, exchange, queue and
// consumer, and the links between them. Drawn again only when the topology
// or the scene's width changes; `update` refreshes the words in the boxes.

import { centre, NARROW, port } from './layout.js';
import { setText, svgEl } from './svg.js';

export function drawDiagram(group, topology, lay) {
  group.replaceChildren();
  const links = svgEl('g', { class: 'links' }, group);
  const nodes = svgEl('g', { class: 'nodes' }, group);
  const seen = new Set();
  for (const l of topology.links) {
    const key = `${l.from}>${l.to}`;
    const a = lay.nodes.get(l.from);
    const b = lay.nodes.get(l.to);
    if (!a || !b || seen.has(key)) continue;
    seen.add(key);
    drawLink(links, a, b, l, lay);
  }
  const texts = new Map();
  const box = (id, cls, title, extra) => {
    const b = lay.nodes.get(id);
    if (!b) return;
    const g = svgEl('g', { class: `node ${cls}`, 'data-node': id }, nodes);
    if (cls === 'exchange') {
      const s = 10;
      const pts = [
        [b.x + s, b.y],
        [b.x + b.w - s, b.y],
        [b.x + b.w, b.y + b.h / 2],
        [b.x + b.w - s, b.y + b.h],
        [b.x + s, b.y + b.h],
        [b.x, b.y + b.h / 2],
      ];
      svgEl('polygon', { points: pts.map((p) => p.join(',')).join(' ') }, g);
    } else {
      svgEl('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: cls === 'queue' ? 4 : 10 }, g);
    }
    const t = { g };
    const center = cls === 'exchange';
    const tx = center ? b.x + b.w / 2 : b.x + 10;
    const anchor = center ? 'middle' : 'start';
    t.title = svgEl(
      'text',
      { x: tx, y: b.y + (center ? b.h / 2 - 3 : 17), class: 'title', 'text-anchor': anchor },
      g,
      fit(title, b.w, 7.5),
    );
    t.sub = svgEl('text', { x: tx, y: b.y + (center ? b.h / 2 + 13 : 32), class: 'sub', 'text-anchor': anchor }, g, '');
    if (cls.startsWith('queue') && b.w < NARROW) {
      t.right = svgEl('text', { x: b.x + 10, y: b.y + 47, class: 'count' }, g, '');
    } else if (cls.startsWith('queue') || cls === 'consumer') {
      t.right = svgEl('text', { x: b.x + b.w - 8, y: b.y + 17, class: 'count', 'text-anchor': 'end' }, g, '');
    }
    if (cls === 'consumer' || cls === 'producer')
      t.status = svgEl('text', { x: tx, y: b.y + 47, class: 'status' }, g, '');
    t.more = svgEl('text', { x: b.x + b.w - 8, y: b.y + b.h - 12, class: 'more', 'text-anchor': 'end' }, g, '');
    t.width = b.w;
    Object.assign(t, extra);
    texts.set(id, t);
  };
  for (const p of topology.producers) box(`p:${p.key}`, 'producer', p.label, { item: p });
  for (const x of topology.exchanges) box(`x:${x.name}`, 'exchange', x.label, { item: x });
  for (const q of topology.queues)
    box(`q:${q.name}`, topology.dead.has(q.name) ? 'queue dead' : 'queue', q.label, { item: q });
  for (const c of topology.consumers) box(`c:${c.key}`, 'consumer', c.label, { item: c });
  for (const [id, t] of texts) {
    if (id.startsWith('x:')) setText(t.sub, t.item.type);
    if (id.startsWith('q:')) setText(t.sub, fit(t.item.sub, t.width, 6.2));
  }
  return texts;
}

/** Shortens text to what fits in `width` px at about `perChar` px a character. */
export function fit(text, width, perChar) {
  const max = Math.floor((width - 14) / perChar);
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

/** Whether the straight way from p to q runs through a box other than a and b. */
function blocked(lay, a, b, p, q) {
  for (const box of lay.nodes.values()) {
    if (box === a || box === b) continue;
    for (let i = 1; i < 8; i++) {
      const x = p.x + ((q.x - p.x) * i) / 8;
      const y = p.y + ((q.y - p.y) * i) / 8;
      if (x > box.x && x < box.x + box.w && y > box.y && y < box.y + box.h) return true;
    }
  }
  return false;
}

function drawLink(parent, a, b, l, lay) {
  const vertical = lay.vertical;
  let d;
  let detour = null;
  const backwards = vertical ? b.y < a.y : b.x < a.x;
  if (backwards) {
    // A dead-letter link runs back to an exchange: loop round below (or beside) the boxes.
    if (vertical) {
      // From the queue's side up into the bottom of the exchange, which sits a row higher.
      const right = b.x > a.x;
      const p = { x: right ? a.x + a.w : a.x, y: a.y + a.h / 2 };
      const q = { x: b.x + b.w * (right ? 0.25 : 0.75), y: b.y + b.h };
      d = `M${p.x},${p.y} C${p.x + (right ? 20 : -20)},${p.y} ${q.x},${q.y + 30} ${q.x},${q.y}`;
    } else {
      // From the queue's left side down into the top of the exchange, which sits lower and to the left.
      const p = { x: a.x, y: a.y + a.h * 0.7 };
      const q = { x: b.x + b.w / 2, y: b.y };
      d = `M${p.x},${p.y} C${p.x - 40},${p.y} ${q.x},${q.y - 40} ${q.x},${q.y}`;
    }
  } else if (vertical && blocked(lay, a, b, port(a, 'out', true), port(b, 'in', true))) {
    // Boxes stacked in between: go round them along the right edge.
    const p = { x: a.x + a.w, y: a.y + a.h / 2 };
    const q = { x: b.x + b.w, y: b.y + b.h / 2 };
    const gx = lay.width - 8;
    d = `M${p.x},${p.y} L${gx},${p.y} L${gx},${q.y} L${q.x + 1},${q.y}`;
    detour = true;
  } else {
    const p = port(a, 'out', vertical);
    const q = port(b, 'in', vertical);
    d = vertical
      ? `M${p.x},${p.y} C${p.x},${(p.y + q.y) / 2} ${q.x},${(p.y + q.y) / 2} ${q.x},${q.y}`
      : `M${p.x},${p.y} C${(p.x + q.x) / 2},${p.y} ${(p.x + q.x) / 2},${q.y} ${q.x},${q.y}`;
  }
  svgEl(
    'path',
    {
      d,
      class: l.dashed ? 'link dashed' : 'link',
      'marker-end': `url(#${parent.ownerSVGElement?.dataset.arrow ?? 'arrow'})`,
    },
    parent,
  );
  // A detour's label would sit in the gutter; the link's ends say enough.
  if (l.label && !detour) {
    const ca = centre(a);
    const cb = centre(b);
    const mx = backwards
      ? vertical
        ? (ca.x + cb.x) / 2
        : (a.x + cb.x) / 2
      : (port(a, 'out', vertical).x + port(b, 'in', vertical).x) / 2;
    const my = backwards
      ? vertical
        ? (ca.y + cb.y) / 2
        : (a.y + a.h * 0.7 + b.y) / 2
      : (port(a, 'out', vertical).y + port(b, 'in', vertical).y) / 2;
    svgEl(
      'text',
      { x: mx + (vertical ? 6 : 0), y: my - 4, class: 'link-label', 'text-anchor': vertical ? 'start' : 'middle' },
      parent,
      l.label,
    );
  }
}
