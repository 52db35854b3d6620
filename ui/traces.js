// traces.js: the trace list, its filters and the live tail.
//
// Filters live in the URL (#/traces?model=x&status=error): a filtered view can be pasted into
// an incident channel, and Esc from a trace returns to exactly this list.  The list pages
// with keel's cursors; the live tail polls `since` the newest row every 2 s and puts new
// rows on top (deduplicated by id, so an older keel that ignores `since` does no harm).

import { h, fmtInt, fmtMs, fmtCost, timeCell, statusBadge, levelBadge, badge, shortId } from './dom.js';
import { get, models } from './api.js';
import { pagedTable } from './list.js';
import { replace } from './router.js';

export const RANGES = [['15m', '15 min', 9e5], ['1h', '1 hour', 3.6e6], ['24h', '24 hours', 8.64e7],
  ['7d', '7 days', 6.048e8], ['30d', '30 days', 2.592e9], ['all', 'all time', 0]];

export function rangeFrom(key) {
  const r = RANGES.find((x) => x[0] === key);
  return r && r[2] ? new Date(Date.now() - r[2]).toISOString() : undefined;
}

const FILTERS = ['user_id', 'session_id', 'model', 'name', 'tags', 'status', 'level', 'min_cost', 'max_cost',
  'min_latency_ms', 'max_latency_ms', 'q'];

// The API parameters of the URL's filters.
function apiParams(query) {
  const p = {};
  for (const k of FILTERS) if (query.get(k)) p[k] = query.get(k);
  const from = rangeFrom(query.get('range') || 'all');
  if (from) p.from = from;
  return p;
}

const link = (path, text) => (text ? h('a', { href: path, class: 'mono' }, shortId(text)) : '—');

// Columns shared by every list of traces (sessions and users show the same rows).
export const TRACE_COLUMNS = [
  { title: 'Time', cell: (t) => timeCell(t.timestamp), cls: 'nowrap' },
  { title: 'Name', cell: (t) => t.name || '—' },
  { title: 'Model', cell: (t) => (t.model ? h('span', { class: 'mono' }, t.model) : '—') },
  { title: 'User', cell: (t) => link(`#/users/${encodeURIComponent(t.user_id)}`, t.user_id) },
  { title: 'Session', cell: (t) => link(`#/sessions/${encodeURIComponent(t.session_id)}`, t.session_id) },
  { title: 'Tags', cell: (t) => (t.tags || []).map((x) => badge(x, 'tag')) },
  { title: 'Tokens', cell: (t) => `${fmtInt(t.input_tokens)} → ${fmtInt(t.output_tokens)}`, cls: 'num' },
  { title: 'Cost', cell: (t) => fmtCost(t.cost_usd), cls: 'num' },
  { title: 'Latency', cell: (t) => fmtMs(t.latency_ms), cls: 'num' },
  { title: 'Status', cell: (t) => [statusBadge(t.status), ' ', levelBadge(t.level === 'ERROR' ? null : t.level)] },
];

export const traceHref = (t) => `#/traces/${encodeURIComponent(t.id)}`;

function field(label, name, value, attrs = {}) {
  return h('label', { class: 'field' }, h('span', null, label),
    h('input', { name, value: value || '', autocomplete: 'off', spellcheck: 'false', ...attrs }));
}

function select(label, name, value, options) {
  return h('label', { class: 'field' }, h('span', null, label),
    h('select', { name }, options.map(([v, t]) => h('option', { value: v, selected: v === (value || '') }, t))));
}

function filterForm(query, onApply) {
  const q = (k) => query.get(k) || '';
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Trace filters' },
    h('div', { class: 'filters-row' },
      field('Search', 'q', q('q'), { type: 'search', placeholder: 'text in inputs and outputs', class: 'wide' }),
      select('Time', 'range', q('range') || 'all', RANGES.map(([k, t]) => [k, t])),
      field('Model', 'model', q('model'), { list: 'model-list' }),
      select('Status', 'status', q('status'), [['', 'any'], ['ok', 'ok'], ['error', 'error']]),
      select('Level', 'level', q('level'), [['', 'any'], ['ERROR', 'ERROR'], ['WARNING', 'WARNING'], ['DEFAULT', 'DEFAULT'], ['DEBUG', 'DEBUG']]),
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      h('button', { type: 'button', class: 'ghost', onclick: () => onApply({}) }, 'Clear')),
    h('details', { class: 'more-filters', open: FILTERS.slice(0, 4).concat(FILTERS.slice(7, 11)).some((k) => q(k) && k !== 'model') },
      h('summary', null, 'More filters'),
      h('div', { class: 'filters-row' },
        field('User', 'user_id', q('user_id')),
        field('Session', 'session_id', q('session_id')),
        field('Name', 'name', q('name')),
        field('Tags (all of)', 'tags', q('tags'), { placeholder: 'a,b' }),
        field('Cost ≥ $', 'min_cost', q('min_cost'), { inputmode: 'decimal', class: 'narrow' }),
        field('Cost ≤ $', 'max_cost', q('max_cost'), { inputmode: 'decimal', class: 'narrow' }),
        field('Latency ≥ ms', 'min_latency_ms', q('min_latency_ms'), { inputmode: 'numeric', class: 'narrow' }),
        field('Latency ≤ ms', 'max_latency_ms', q('max_latency_ms'), { inputmode: 'numeric', class: 'narrow' }))),
    h('datalist', { id: 'model-list' }));
  const values = () => {
    const out = {};
    for (const [k, v] of new FormData(form).entries()) if (String(v).trim()) out[k] = String(v).trim();
    if (out.range === 'all') delete out.range;
    return out;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onApply(values());
  });
  for (const s of form.querySelectorAll('select')) s.addEventListener('change', () => onApply(values()));
  models().then((ms) => form.querySelector('#model-list').replaceChildren(...ms.map((m) => h('option', { value: m }))));
  return form;
}

export function tracesView(view, params, query, alive) {
  const live = query.get('live') === '1';
  const apply = (f) => replace('/traces', live ? { ...f, live: '1' } : f);
  const current = Object.fromEntries(query.entries());
  const toggle = h('button', {
    type: 'button', class: ['toggle', live && 'on'], 'aria-pressed': live ? 'true' : 'false',
    title: 'Poll for new traces every 2 s',
    onclick: () => {
      const next = { ...current };
      if (live) delete next.live;
      else next.live = '1';
      replace('/traces', next);
    },
  }, live ? '● Live' : '○ Live');
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  view.append(h('div', { class: 'page-head' }, h('h1', null, 'Traces'), count, toggle), filterForm(query, apply));

  const p = apiParams(query);
  const seen = new Set();
  let newest = null;
  const note = (rows) => {
    for (const r of rows) {
      seen.add(r.id);
      if (!newest || r.timestamp > newest) newest = r.timestamp;
    }
  };
  const t = pagedTable(view, {
    columns: TRACE_COLUMNS,
    href: traceHref,
    isCurrent: alive,
    emptyTitle: query.toString() && query.toString() !== 'live=1' ? 'No trace matches these filters.' : 'No traces yet.',
    emptyHint: 'Send a request through keel (POST /v1/chat/completions) and it shows up here.',
    fetchPage: async (cursor) => {
      const page = await get('traces', { ...p, limit: 50, cursor });
      note(page.data || []);
      count.textContent = `${seen.size}${page.next_cursor ? '+' : ''} shown`;
      return page;
    },
  });
  if (!live) return;

  // A trace is stamped with its start but written when it ends, so a 20 s call lands long
  // after faster ones stamped later: each poll looks LOOKBACK back from the newest row and
  // drops what it has seen.  A full page (a busy keel) is followed from its last row.
  const LOOKBACK = 30000;
  const tick = async () => {
    if (!alive()) return;
    try {
      let since = new Date((newest ? Date.parse(newest) : Date.now()) - LOOKBACK).toISOString();
      const got = [];
      for (let i = 0; i < 5; i++) {
        const page = await get('traces', { ...p, since, limit: 1000 });
        const data = page.data || [];
        got.push(...data);
        if (data.length < 1000) break;
        since = data.reduce((m, r) => (r.timestamp > m ? r.timestamp : m), since);
      }
      if (!alive()) return;
      const ids = new Set();
      const fresh = got.filter((r) => !seen.has(r.id) && !ids.has(r.id) && ids.add(r.id));
      fresh.sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1));
      if (fresh.length) {
        note(fresh);
        t.add(fresh.reverse(), true);
        t.el.hidden = false;
        view.querySelector('.state-empty')?.remove();
        count.textContent = `${seen.size} shown`;
      }
    } catch (e) {
      if (e.status === 401) return; // the login form is back; stop
      count.textContent = `live tail: ${e.message}`;
    }
    if (alive()) setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}
