// Small helpers for building SVG.

const NS = 'http://www.w3.org/2000/svg';

export function svgEl(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  parent?.appendChild(e);
  return e;
}

/** Sets text only when it changed: most frames change nothing. */
export function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}
