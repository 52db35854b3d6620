// json.js: a collapsible JSON viewer on <details>/<summary>.
//
// Nodes below the first levels are built only when opened, so a 5 MB tool result does not
// cost 5 MB of DOM before anyone looks at it.  Long strings are cut with a "show all" toggle.

import { h } from './dom.js';

const LONG = 2000;

function scalar(v) {
  if (v === null) return h('span', { class: 'j-null' }, 'null');
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return h('span', { class: 'j-num' }, String(v));
  if (typeof v === 'boolean') return h('span', { class: 'j-bool' }, String(v));
  return h('span', null, String(v));
}

function str(s) {
  if (s.length <= LONG) return h('span', { class: 'j-str' }, JSON.stringify(s));
  const el = h('span', { class: 'j-str' }, JSON.stringify(s.slice(0, LONG)).slice(0, -1), '…"');
  const more = h('button', { type: 'button', class: 'link' }, `show all ${s.length} characters`);
  more.addEventListener('click', () => {
    el.textContent = JSON.stringify(s);
    more.remove();
  });
  return h('span', null, el, ' ', more);
}

function summary(v) {
  if (Array.isArray(v)) return `[${v.length}]`;
  const keys = Object.keys(v);
  const shown = keys.slice(0, 4).join(', ');
  return `{${shown}${keys.length > 4 ? ', …' : ''}}`;
}

function node(key, v, depth, openDepth) {
  const label = key === null ? null : h('span', { class: 'j-key' }, `${key}: `);
  if (v === null || typeof v !== 'object') return h('div', { class: 'j-row' }, label, scalar(v));
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  if (!entries.length) return h('div', { class: 'j-row' }, label, h('span', { class: 'j-punct' }, Array.isArray(v) ? '[]' : '{}'));
  const body = h('div', { class: 'j-body' });
  const det = h('details', { class: 'j-node' }, h('summary', null, label, h('span', { class: 'j-punct' }, summary(v))), body);
  let built = false;
  const fill = () => {
    if (built) return;
    built = true;
    for (const [k, x] of entries) body.append(node(k, x, depth + 1, openDepth));
  };
  if (depth < openDepth) {
    fill();
    det.open = true;
  } else {
    det.addEventListener('toggle', fill);
  }
  return det;
}

// A viewer for any JSON value; the first `openDepth` levels start open.
export function jsonView(value, openDepth = 2) {
  return h('div', { class: 'json mono' }, node(null, value, 0, openDepth));
}

// Strings holding JSON (tool arguments, stored payloads) are shown as JSON.
export function maybeParse(v) {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  if (!(s.startsWith('{') || s.startsWith('['))) return v;
  try {
    return JSON.parse(s);
  } catch {
    return v;
  }
}
