// Where each node of the diagram goes, in CSS pixels of the scene's width:
// four columns (producers, exchanges, queues, consumers) on a wide screen,
// four rows on a narrow one.

export const TOKEN = 26; // token size
export const GAP = 12; // between token slots: room for a "tag 12" label above each
const PAD = 10;
const GUTTER = 16;
/** Queue boxes narrower than this put their counts on a line of their own. */
export const NARROW = 240;

/** Boxes keyed by node id ("p:…", "x:…", "q:…", "c:…"): { x, y, w, h, kind }. */
export function layout(topology, width) {
  return width < 620 ? rows(topology, width) : columns(topology, width);
}

function columns(t, W) {
  const nodes = new Map();
  const px = PAD;
  const pw = Math.min(150, W * 0.15);
  const xw = Math.min(120, W * 0.13);
  const xx = W * 0.205;
  const qx = W * 0.375;
  const qw = W * 0.3;
  const cx = W * 0.72;
  const cw = W - cx - PAD;
  const sizes = { p: 62, x: 56, q: qw < NARROW ? 98 : 84, c: 96 };
  const counts = [t.producers.length, t.exchanges.length, t.queues.length, t.consumers.length];
  const tallest = Math.max(...counts.map((n, i) => n * (Object.values(sizes)[i] + 26)));
  const H = Math.max(170, tallest + 30);
  const place = (items, id, x, w, h) => {
    const step = H / Math.max(1, items.length);
    items.forEach((it, i) => {
      nodes.set(id(it), { x, y: step * i + (step - h) / 2 + 8, w, h, kind: id(it)[0] });
    });
  };
  place(t.producers, (p) => `p:${p.key}`, px, pw, sizes.p);
  place(t.exchanges, (x) => `x:${x.name}`, xx, xw, sizes.x);
  place(t.queues, (q) => `q:${q.name}`, qx, qw, sizes.q);
  place(t.consumers, (c) => `c:${c.key}`, cx, cw, sizes.c);
  return { nodes, width: W, height: H + 16, vertical: false };
}

function rows(t, width) {
  const nodes = new Map();
  // A gutter on the right for links that go round stacked boxes.
  const W = width - GUTTER;
  // Boxes narrower than these wrap onto another row.
  const minWidth = { p: 150, x: 110, q: 165, c: 165 };
  const perRow = (kind, n) => Math.max(1, Math.min(n, Math.floor((W - PAD) / (minWidth[kind] + PAD))));
  const qw = (W - PAD * (perRow('q', t.queues.length) + 1)) / perRow('q', Math.max(1, t.queues.length));
  const heights = { p: 62, x: 50, q: qw < NARROW ? 98 : 84, c: 96 };
  let y = 8;
  const place = (items, id, kind) => {
    if (!items.length) return;
    const n = perRow(kind, items.length);
    const w = (W - PAD * (n + 1)) / n;
    const h = heights[kind];
    items.forEach((it, i) => {
      const row = Math.floor(i / n);
      nodes.set(id(it), { x: PAD + (i % n) * (w + PAD), y: y + row * (h + 18), w, h, kind });
    });
    y += Math.ceil(items.length / n) * (h + 18) + 26;
  };
  place(t.producers, (p) => `p:${p.key}`, 'p');
  place(t.exchanges, (x) => `x:${x.name}`, 'x');
  place(t.queues, (q) => `q:${q.name}`, 'q');
  place(t.consumers, (c) => `c:${c.key}`, 'c');
  return { nodes, width, height: y - 20, vertical: true };
}

/** How many tokens fit in a box's slot row (one slot is kept for "+n more"). */
export function slotsIn(box) {
  return Math.max(1, Math.floor((box.w - 2 * PAD + GAP) / (TOKEN + GAP)));
}

/** The centre of slot `i` of a box; its slot row sits in the lower part. */
export function slotAt(box, i) {
  return { x: box.x + PAD + TOKEN / 2 + i * (TOKEN + GAP), y: box.y + box.h - TOKEN / 2 - 8 };
}

/** Where a link leaves or enters a box. */
export function port(box, side, vertical) {
  if (vertical) return side === 'out' ? { x: box.x + box.w / 2, y: box.y + box.h } : { x: box.x + box.w / 2, y: box.y };
  return side === 'out' ? { x: box.x + box.w, y: box.y + box.h / 2 } : { x: box.x, y: box.y + box.h / 2 };
}

export function centre(box) {
  return { x: box.x + box.w / 2, y: box.y + box.h / 2 };
}
