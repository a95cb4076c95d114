// A tiny DOM builder: h('button', { class: 'x', onclick }, 'text', child).

export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'html') e.innerHTML = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

/** Sets text only when it changed, editing its text node in place (a new node is laid out afresh). */
export function text(e, t) {
  const node = e.firstChild;
  if (node && node === e.lastChild && node.nodeType === Node.TEXT_NODE) {
    if (node.data !== t) node.data = t;
  } else if (e.textContent !== t) e.textContent = t;
}

export const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
