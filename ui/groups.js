// groups.js: sessions and users, the two ways traces are grouped: a list of each, and a
// page for one (its aggregates, then its traces: a session's in conversation order, a
// user's latest first).

import { h, clear, fill, fmtInt, fmtMs, fmtCost, timeCell, badge, shortId, loading, errorState, empty } from './dom.js';
import { get } from './api.js';
import { pagedTable, table } from './list.js';
import { TRACE_COLUMNS, traceHref, RANGES, rangeFrom } from './traces.js';
import { replace } from './router.js';

const errs = (n) => (n ? badge(fmtInt(n), 'error') : '0');
// A group page's "traces" is the list of rows; the count may then be in trace_count.
const count = (g) => (typeof g.traces === 'number' ? g.traces : g.trace_count ?? (g.traces || []).length);

const KINDS = {
  sessions: {
    title: 'Sessions',
    one: 'Session',
    columns: [
      { title: 'Session', cell: (s) => h('span', { class: 'mono' }, shortId(s.id)) },
      { title: 'First seen', cell: (s) => timeCell(s.first_seen), cls: 'nowrap' },
      { title: 'Last seen', cell: (s) => timeCell(s.last_seen), cls: 'nowrap' },
      { title: 'Users', cell: (s) => (s.user_ids || []).join(', ') || '—' },
      { title: 'Traces', cell: (s) => fmtInt(s.traces), cls: 'num' },
      { title: 'Tokens', cell: (s) => `${fmtInt(s.input_tokens)} → ${fmtInt(s.output_tokens)}`, cls: 'num' },
      { title: 'Cost', cell: (s) => fmtCost(s.cost_usd), cls: 'num' },
      { title: 'Errors', cell: (s) => errs(s.errors), cls: 'num' },
    ],
    stats: (s) => [['Traces', fmtInt(count(s))], ['First seen', timeCell(s.first_seen)], ['Last seen', timeCell(s.last_seen)],
      ['Tokens', `${fmtInt(s.input_tokens)} → ${fmtInt(s.output_tokens)}`], ['Cost', fmtCost(s.cost_usd)],
      ['Total latency', fmtMs(s.latency_ms_total)], ['Errors', errs(s.errors)],
      ['Users', (s.user_ids || []).map((u) => h('a', { href: `#/users/${encodeURIComponent(u)}`, class: 'mono' }, u, ' '))]],
    tracesNote: 'in conversation order, oldest first',
    emptyHint: 'Traces join a session through the x-keel-session header (or an SDK\'s session id).',
  },
  users: {
    title: 'Users',
    one: 'User',
    columns: [
      { title: 'User', cell: (u) => h('span', { class: 'mono' }, u.id) },
      { title: 'First seen', cell: (u) => timeCell(u.first_seen), cls: 'nowrap' },
      { title: 'Last seen', cell: (u) => timeCell(u.last_seen), cls: 'nowrap' },
      { title: 'Traces', cell: (u) => fmtInt(u.traces), cls: 'num' },
      { title: 'Sessions', cell: (u) => fmtInt(u.sessions), cls: 'num' },
      { title: 'Tokens', cell: (u) => `${fmtInt(u.input_tokens)} → ${fmtInt(u.output_tokens)}`, cls: 'num' },
      { title: 'Cost', cell: (u) => fmtCost(u.cost_usd), cls: 'num' },
      { title: 'Errors', cell: (u) => errs(u.errors), cls: 'num' },
    ],
    stats: (u) => [['Traces', fmtInt(count(u))], ['Sessions', fmtInt(u.sessions)], ['First seen', timeCell(u.first_seen)],
      ['Last seen', timeCell(u.last_seen)], ['Tokens', `${fmtInt(u.input_tokens)} → ${fmtInt(u.output_tokens)}`],
      ['Cost', fmtCost(u.cost_usd)], ['Errors', errs(u.errors)]],
    tracesNote: 'latest 100',
    emptyHint: 'Traces name their user through the x-keel-user header (or an SDK\'s user id).',
  },
};

export function groupListView(kind) {
  const k = KINDS[kind];
  return (view, params, query, alive) => {
    const range = query.get('range') || 'all';
    const rangeSel = h('select', { 'aria-label': 'Time range' },
      RANGES.map(([v, t]) => h('option', { value: v, selected: v === range }, t)));
    rangeSel.addEventListener('change', () => replace(`/${kind}`, rangeSel.value === 'all' ? {} : { range: rangeSel.value }));
    view.append(h('div', { class: 'page-head' }, h('h1', null, k.title), h('label', { class: 'field inline' }, h('span', null, 'Active in'), rangeSel)));
    pagedTable(view, {
      columns: k.columns,
      href: (r) => `#/${kind}/${encodeURIComponent(r.id)}`,
      isCurrent: alive,
      emptyTitle: `No ${kind} in this time range.`,
      emptyHint: k.emptyHint,
      fetchPage: (cursor) => get(kind, { from: rangeFrom(range), limit: 50, cursor }),
    });
  };
}

export function groupView(kind) {
  const k = KINDS[kind];
  const load = async (view, params, query, alive) => {
    view.append(loading());
    let g;
    try {
      g = await get(`${kind}/${encodeURIComponent(params.id)}`);
    } catch (e) {
      if (!alive()) return;
      fill(view, h('a', { href: `#/${kind}`, class: 'back' }, `← ${k.title}`),
        e.status === 404 && !e.missingRoute ? empty(`No such ${k.one.toLowerCase()}.`)
          : errorState(e, () => { clear(view); load(view, params, query, alive); }));
      return;
    }
    if (!alive()) return;
    const traces = g.traces || [];
    const t = table(TRACE_COLUMNS, traceHref);
    t.add(traces);
    fill(view,
      h('a', { href: `#/${kind}`, class: 'back', title: 'Esc' }, `← ${k.title}`),
      h('div', { class: 'page-head' }, h('h1', null, `${k.one} `, h('span', { class: 'mono' }, g.id || params.id))),
      h('div', { class: 'stats' }, k.stats(g).map(([l, v]) => h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, l), h('div', { class: 'stat-value' }, v)))),
      h('h2', null, 'Traces ', h('span', { class: 'muted' }, `(${k.tracesNote})`)),
      traces.length ? h('div', { class: 'scroll' }, t.el) : empty('No traces.'));
  };
  return load;
}
