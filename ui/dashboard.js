// dashboard.js: cost, tokens, requests, errors and latency over time, by model
// (GET /api/v1/metrics).  The bucket follows the range so a chart has tens of points, not
// thousands; totals come from the same endpoint without buckets.

import { h, clear, fill, fmtInt, fmtMs, fmtCost, loading, errorState, empty } from './dom.js';
import { get } from './api.js';
import { timeChart, PALETTE } from './chart.js';
import { replace } from './router.js';

const RANGES = [['1h', '1 hour', 3.6e6, 'minute'], ['6h', '6 hours', 2.16e7, 'hour'], ['24h', '24 hours', 8.64e7, 'hour'],
  ['7d', '7 days', 6.048e8, 'hour'], ['30d', '30 days', 2.592e9, 'day']];

function stat(label, value, kind) {
  return h('div', { class: ['stat', kind && `stat-${kind}`] }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value));
}

function compact(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(v * 100) / 100);
}

// rows of one metric -> series per model
function seriesOf(rows, models, metric, extra = {}) {
  return models.map((m, i) => ({
    name: extra.suffix ? `${m} ${extra.suffix}` : m,
    color: PALETTE[i % PALETTE.length],
    dashed: extra.dashed,
    points: rows.filter((r) => (r.group ?? '(none)') === m && r.bucket).map((r) => [Date.parse(r.bucket), metric(r)]),
  }));
}

export async function dashboardView(view, params, query, alive) {
  const key = query.get('range') || '24h';
  const range = RANGES.find((r) => r[0] === key) || RANGES[2];
  const sel = h('select', { 'aria-label': 'Time range' }, RANGES.map(([v, t]) => h('option', { value: v, selected: v === range[0] }, t)));
  sel.addEventListener('change', () => replace('/dashboard', { range: sel.value }));
  const body = h('div', null, loading());
  view.append(h('div', { class: 'page-head' }, h('h1', null, 'Dashboard'), h('label', { class: 'field inline' }, h('span', null, 'Last'), sel)), body);

  const from = new Date(Date.now() - range[2]).toISOString();
  const bucket = range[3];
  let series;
  let totals;
  try {
    [series, totals] = await Promise.all([
      get('metrics', { from, group_by: 'model', bucket }),
      get('metrics', { from, group_by: 'none', bucket: 'none' }),
    ]);
  } catch (e) {
    if (!alive()) return;
    body.replaceChildren(errorState(e, () => { clear(view); dashboardView(view, params, query, alive); }));
    return;
  }
  if (!alive()) return;
  const rows = series.data || [];
  const tot = (totals.data || [])[0];
  if (!rows.length || !tot || !tot.requests) {
    body.replaceChildren(empty('No LLM calls in this range.', 'Requests through keel show up here within seconds.'));
    return;
  }
  const models = [...new Set(rows.map((r) => r.group ?? '(none)'))].sort();
  // every bucket of the range, so quiet periods show as gaps rather than vanish
  const step = { minute: 6e4, hour: 3.6e6, day: 8.64e7 }[bucket];
  const grid = [];
  for (let t = Math.floor(Date.parse(from) / step) * step; t <= Date.now(); t += step) grid.push(t);
  const money = (v) => (v === 0 ? '$0' : v < 0.01 ? `$${v.toPrecision(2)}` : `$${v.toFixed(v < 10 ? 2 : 0)}`);
  fill(body,
    h('div', { class: 'stats' },
      stat('Requests', fmtInt(tot.requests)),
      stat('Errors', `${fmtInt(tot.errors)} (${((tot.error_rate || 0) * 100).toFixed(1)}%)`, tot.errors ? 'error' : null),
      stat('Tokens', `${compact(tot.input_tokens || 0)} → ${compact(tot.output_tokens || 0)}`),
      stat('Cost', fmtCost(tot.cost_usd)),
      stat('Latency p50', fmtMs(tot.latency_p50_ms)),
      stat('Latency p95', fmtMs(tot.latency_p95_ms)),
      tot.ttft_p50_ms !== null && tot.ttft_p50_ms !== undefined ? stat('TTFT p50', fmtMs(tot.ttft_p50_ms)) : null),
    h('div', { class: 'charts' },
      timeChart({ title: 'Requests', bucket, grid, bars: true, fmt: compact, series: seriesOf(rows, models, (r) => r.requests) }),
      timeChart({ title: 'Errors', bucket, grid, bars: true, fmt: compact, series: seriesOf(rows, models, (r) => r.errors) }),
      timeChart({ title: 'Cost (USD)', bucket, grid, bars: true, fmt: money, series: seriesOf(rows, models, (r) => r.cost_usd || 0),
        zeroText: 'No cost recorded: keel has no price for these models (the config\'s prices: or a model\'s price:).' }),
      timeChart({ title: 'Tokens (input + output)', bucket, grid, bars: true, fmt: compact,
        series: seriesOf(rows, models, (r) => (r.input_tokens || 0) + (r.output_tokens || 0)) }),
      timeChart({ title: 'Latency p50 (solid) and p95 (dashed)', bucket, grid, fmt: fmtMs,
        series: [...seriesOf(rows, models, (r) => r.latency_p50_ms, { suffix: 'p50' }),
          ...seriesOf(rows, models, (r) => r.latency_p95_ms, { suffix: 'p95', dashed: true })] })),
    h('h2', null, 'By model'),
    modelTable(rows, models));
}

function modelTable(rows, models) {
  const sum = (m, f) => rows.filter((r) => (r.group ?? '(none)') === m).reduce((a, r) => a + (f(r) || 0), 0);
  return h('div', { class: 'scroll' }, h('table', { class: 'grid' },
    h('thead', null, h('tr', null, ['Model', 'Requests', 'Errors', 'Input tokens', 'Output tokens', 'Cost'].map((t, i) => h('th', { class: i ? 'num' : null }, t)))),
    h('tbody', null, models.map((m, i) => h('tr', null,
      h('td', null, h('i', { class: 'swatch', style: { background: PALETTE[i % PALETTE.length], borderColor: PALETTE[i % PALETTE.length] } }),
        h('a', { href: `#/traces?model=${encodeURIComponent(m)}`, class: 'mono' }, m)),
      h('td', { class: 'num' }, fmtInt(sum(m, (r) => r.requests))),
      h('td', { class: 'num' }, fmtInt(sum(m, (r) => r.errors))),
      h('td', { class: 'num' }, fmtInt(sum(m, (r) => r.input_tokens))),
      h('td', { class: 'num' }, fmtInt(sum(m, (r) => r.output_tokens))),
      h('td', { class: 'num' }, fmtCost(sum(m, (r) => r.cost_usd))))))));
}
