// dom.js: the dashboard's whole "framework": an element builder and the formatters.
//
// Everything shown comes from traces, i.e. from arbitrary user and model text, so nothing is
// ever put into innerHTML: h() sets text through textContent and attributes one by one.
// Inline style attributes are refused by the Content-Security-Policy; styles are classes, or
// CSSOM properties (el.style.x = ...), which the policy allows.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k in el && !(el instanceof SVGElement) && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  if (children === undefined || children === null || children === false) return;
  if (Array.isArray(children)) {
    for (const c of children) append(el, c);
    return;
  }
  el.append(children instanceof Node ? children : document.createTextNode(String(children)));
}

// h('div', {class: 'x', onclick: fn}, 'text', child, [more])
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replaces el's children; null/false children are skipped (Element.append would print "null").
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// ---- formatting ----

const intFmt = new Intl.NumberFormat('en-US');

export function fmtInt(n) {
  return n === null || n === undefined ? '—' : intFmt.format(n);
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtCost(usd) {
  if (usd === null || usd === undefined || usd < 0) return '—';
  if (usd === 0) return '$0';
  if (usd < 0.01) return `$${usd.toPrecision(3)}`;
  return `$${usd.toFixed(usd < 100 ? 4 : 2)}`;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Local time, to the ms: what an engineer compares with their own logs.
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtAgo(iso) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function timeCell(iso) {
  return h('time', { datetime: iso || '', title: iso ? `${iso} (${fmtAgo(iso)})` : '' }, fmtTime(iso));
}

export function shortId(id) {
  return id && id.length > 14 ? `${id.slice(0, 12)}…` : id || '—';
}

// ---- shared bits of views ----

export function badge(text, kind) {
  return h('span', { class: ['badge', kind && `badge-${kind}`] }, text);
}

export function statusBadge(status) {
  return badge(status || 'ok', status === 'error' ? 'error' : 'ok');
}

export function levelBadge(level) {
  if (!level || level === 'DEFAULT') return null;
  return badge(level, { ERROR: 'error', WARNING: 'warn', DEBUG: 'muted' }[level] || 'muted');
}

export function empty(title, hint) {
  return h('div', { class: 'state state-empty' }, h('p', { class: 'state-title' }, title), hint && h('p', null, hint));
}

export function errorState(err, retry) {
  const msg = err && err.message ? err.message : String(err);
  let hint = null;
  if (err && err.status === 404 && err.missingRoute) hint = 'This keel does not serve this endpoint yet: it needs a newer build.';
  else if (err && err.status === 0) hint = 'keel did not answer: is it running?';
  return h('div', { class: 'state state-error', role: 'alert' },
    h('p', { class: 'state-title' }, err && err.status ? `Error ${err.status}` : 'Error'),
    h('p', { class: 'mono' }, msg),
    hint && h('p', null, hint),
    retry && h('button', { type: 'button', onclick: retry }, 'Retry'));
}

export function loading() {
  return h('div', { class: 'state state-loading' }, 'Loading…');
}

export function kv(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === '') continue;
    dl.append(h('dt', null, k), h('dd', null, v));
  }
  return dl;
}
