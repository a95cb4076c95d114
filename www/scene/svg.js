// Small helpers for building SVG.

const NS = 'http://www.w3.org/2000/svg';

export function svgEl(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  parent?.appendChild(e);
  return e;
}

/**
 * Sets text only when it changed: most frames change nothing. A change edits
 * the text node in place; replacing it (textContent) would take the old node
 * out of the layout tree and build a new one.
 */
export function setText(e, text) {
  const node = e.firstChild;
  if (node && node === e.lastChild && node.nodeType === Node.TEXT_NODE) {
    if (node.data !== text) node.data = text;
  } else if (!node) {
    // Kept even when empty, so the next text is an edit too.
    e.appendChild(document.createTextNode(text));
  } else if (e.textContent !== text) e.textContent = text;
}
