// trace.js: one trace: its observations as a tree with a timing waterfall, and the selected
// observation in full (conversation, usage, cost, timing, guardrail findings, scores).
//
// The tree comes from parent links; an observation whose parent is not in the trace is
// shown as a root rather than hidden (partial ingestion happens).  Opening a trace selects
// the first error, else the first generation: at 2 AM that is what one came for.  The
// selection is kept in the URL (?obs=) with replaceState, so it survives a reload without
// re-fetching.

import { h, clear, fill, fmtInt, fmtMs, fmtCost, fmtTime, timeCell, badge, statusBadge, levelBadge, kv, loading, errorState, empty } from './dom.js';
import { get } from './api.js';
import { ioBlock } from './chat.js';
import { jsonView } from './json.js';

const TYPE_CLASS = { GENERATION: 'gen', SPAN: 'span', EVENT: 'event', GUARDRAIL: 'guard', TOOL: 'tool', EMBEDDING: 'gen',
  AGENT: 'span', CHAIN: 'span', RETRIEVER: 'tool', EVALUATOR: 'event' };

const VERDICT_KIND = { allow: 'ok', pass: 'ok', flag: 'warn', redact: 'warn', mask: 'warn', restore: 'warn', reask: 'warn', block: 'error', error: 'error' };

// Depth-first order of the observations with their depth; children by start time.
export function flattenTree(obs) {
  const byId = new Map(obs.map((o) => [o.id, o]));
  const kids = new Map();
  const roots = [];
  for (const o of obs) {
    if (o.parent_id && byId.has(o.parent_id) && o.parent_id !== o.id) {
      if (!kids.has(o.parent_id)) kids.set(o.parent_id, []);
      kids.get(o.parent_id).push(o);
    } else roots.push(o);
  }
  const byStart = (a, b) => (a.start_ns || 0) - (b.start_ns || 0);
  const out = [];
  const seen = new Set();
  const walk = (o, depth) => {
    if (seen.has(o.id)) return; // a parent cycle: show each once
    seen.add(o.id);
    out.push({ o, depth });
    for (const c of (kids.get(o.id) || []).sort(byStart)) walk(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) walk(r, 0);
  for (const o of obs) if (!seen.has(o.id)) walk(o, 0);
  return out;
}

function guardOutput(o) {
  const out = typeof o.output === 'string' ? (() => { try { return JSON.parse(o.output); } catch { return null; } })() : o.output;
  return out && typeof out === 'object' ? out : null;
}

function verdictBadge(o) {
  const g = guardOutput(o);
  if (!g || !g.verdict) return null;
  return badge(g.verdict, VERDICT_KIND[g.verdict] || 'muted');
}

// ---- waterfall ----

function waterfall(rows, onSelect) {
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const { o } of rows) {
    if (o.start_ns) t0 = Math.min(t0, o.start_ns);
    t1 = Math.max(t1, o.end_ns || o.start_ns || -Infinity);
  }
  const span = t1 > t0 ? t1 - t0 : 1;
  const spanMs = span / 1e6;
  const axis = h('div', { class: 'wf-axis' }, [0, 0.25, 0.5, 0.75, 1].map((f) =>
    h('span', { style: { left: `${f * 100}%` } }, fmtMs(spanMs * f))));
  const list = h('div', { class: 'wf', role: 'listbox', 'aria-label': 'Observations' });
  for (const { o, depth } of rows) {
    const s = o.start_ns ? o.start_ns - t0 : 0;
    const e = o.end_ns ? o.end_ns - t0 : s;
    const bar = h('div', {
      class: ['wf-bar', `t-${TYPE_CLASS[o.type] || 'span'}`, o.level === 'ERROR' && 'is-error', !o.end_ns && 'open'],
      style: { left: `${(s / span) * 100}%`, width: `${Math.max(((e - s) / span) * 100, 0.4)}%` },
    });
    if (o.completion_start_ns && o.end_ns && o.completion_start_ns > o.start_ns) {
      const f = (o.completion_start_ns - o.start_ns) / Math.max(o.end_ns - o.start_ns, 1);
      bar.append(h('div', { class: 'wf-ttft', title: `first token after ${fmtMs(o.ttft_ms)}`, style: { left: `${Math.min(f, 1) * 100}%` } }));
    }
    const row = h('div', {
      class: 'wf-row', role: 'option', tabindex: '-1', dataset: { navItem: '', navSelect: '', obs: o.id },
      title: `${o.type} ${o.name || ''}: ${fmtMs(o.latency_ms)}${o.status_message ? ` — ${o.status_message}` : ''}`,
    },
    h('div', { class: 'wf-label', style: { paddingLeft: `${0.4 + depth * 1.1}rem` } },
      badge(o.type || '?', TYPE_CLASS[o.type] || 'span'), ' ',
      h('span', { class: 'wf-name' }, o.name || o.id), ' ',
      o.type === 'GUARDRAIL' ? verdictBadge(o) || levelBadge(o.level) : levelBadge(o.level)), // the verdict says more than the level
    h('div', { class: 'wf-track' }, bar),
    h('div', { class: 'wf-dur num' }, fmtMs(o.latency_ms ?? (e - s) / 1e6)));
    row.addEventListener('click', () => onSelect(o.id));
    list.append(row);
  }
  return h('div', { class: 'wf-wrap' }, h('div', { class: 'wf-head' }, h('div', null, 'Observation'), axis, h('div', { class: 'num' }, 'Duration')), list);
}

// ---- one observation ----

function findingsTable(g) {
  const f = Array.isArray(g.findings) ? g.findings : [];
  if (!f.length) return h('p', { class: 'muted' }, 'No findings.');
  return h('table', { class: 'grid compact findings' },
    h('thead', null, h('tr', null, ['Scanner', 'Type', 'Rule', 'Action', 'Offsets', 'Score', 'Where'].map((t) => h('th', null, t)))),
    h('tbody', null, f.map((x) => h('tr', null,
      h('td', null, x.scanner || '—'), h('td', { class: 'mono' }, x.type || '—'), h('td', { class: 'mono' }, x.rule || '—'),
      h('td', null, x.action ? badge(x.action, VERDICT_KIND[x.action] || 'muted') : '—'),
      h('td', { class: 'mono' }, x.start !== undefined ? `${x.start}–${x.end}` : '—'),
      h('td', { class: 'num' }, x.score !== undefined ? String(x.score) : '—'),
      h('td', { class: 'mono' }, x.part || '—')))));
}

function guardSection(o) {
  const g = guardOutput(o);
  if (!g) return null;
  const m = o.metadata || {};
  return h('section', { class: 'guard' }, h('h3', null, 'Guardrail verdict'),
    h('div', { class: 'verdict' }, verdictBadge(o) || badge('unknown', 'muted'),
      m.policy ? h('span', null, ` policy ${m.policy}`) : null, m.stage ? h('span', { class: 'muted' }, ` · ${m.stage} stage`) : null,
      g.latency_us !== undefined ? h('span', { class: 'muted' }, ` · ${g.latency_us} µs`) : null),
    findingsTable(g));
}

function usageSection(o) {
  const u = o.usage && typeof o.usage === 'object' ? o.usage : null;
  if (!u) return null;
  const cost = o.cost && typeof o.cost === 'object' ? o.cost : {};
  const rows = Object.entries(u).filter(([k, v]) => typeof v === 'number' && k !== 'total' && (v || k === 'input' || k === 'output'));
  if (!rows.some(([, v]) => v) && !(o.cost_usd > 0)) return null; // nothing was used (a refused call, a span)
  return h('section', null, h('h3', null, 'Usage', o.usage_estimated ? h('span', { class: 'badge badge-warn' }, 'estimated') : null),
    h('table', { class: 'grid compact usage' },
      h('thead', null, h('tr', null, h('th', null, 'Bucket'), h('th', { class: 'num' }, 'Tokens'), h('th', { class: 'num' }, 'Cost'))),
      h('tbody', null, rows.map(([k, v]) => h('tr', null, h('td', { class: 'mono' }, k), h('td', { class: 'num' }, fmtInt(v)),
        h('td', { class: 'num' }, typeof cost[k] === 'number' ? fmtCost(cost[k]) : '')))),
      h('tfoot', null, h('tr', null, h('td', null, 'total'), h('td', { class: 'num' }, fmtInt(u.total ?? rows.reduce((a, [, v]) => a + v, 0))),
        h('td', { class: 'num' }, fmtCost(o.cost_usd))))));
}

function scoresTable(scores) {
  if (!scores || !scores.length) return null;
  return h('section', null, h('h3', null, 'Scores'),
    h('table', { class: 'grid compact' },
      h('thead', null, h('tr', null, ['Name', 'Value', 'Type', 'Source', 'Comment'].map((t) => h('th', null, t)))),
      h('tbody', null, scores.map((s) => h('tr', null, h('td', null, s.name),
        h('td', { class: 'mono' }, s.string_value ?? (s.value === null || s.value === undefined ? '—' : String(s.value))),
        h('td', null, s.data_type || ''), h('td', null, s.source || ''), h('td', null, s.comment || ''))))));
}

function obsDetail(o, scores) {
  const err = o.level === 'ERROR' || (o.http_status && o.http_status >= 400);
  return h('div', { class: 'obs-detail' },
    h('h2', null, badge(o.type || '?', TYPE_CLASS[o.type] || 'span'), ' ', o.name || o.id, ' ', levelBadge(o.level)),
    o.status_message ? h('div', { class: ['callout', err ? 'callout-error' : 'callout-warn'], role: err ? 'alert' : null },
      h('strong', null, err ? 'Error' : 'Status'), ' ', o.status_message) : null,
    kv([
      ['Observation', h('span', { class: 'mono' }, o.id)],
      ['Start', o.start_time ? fmtTime(o.start_time) : null],
      ['Latency', fmtMs(o.latency_ms)],
      ['Time to first token', o.ttft_ms !== null && o.ttft_ms !== undefined ? fmtMs(o.ttft_ms) : null],
      ['Model', o.model ? h('span', { class: 'mono' }, o.upstream_model && o.upstream_model !== o.model ? `${o.model} → ${o.upstream_model}` : o.model) : null],
      ['Provider', o.provider],
      ['HTTP status', o.http_status ? String(o.http_status) : null],
      ['Finish reason', o.finish_reason],
      ['Cost', o.cost_usd !== null && o.cost_usd !== undefined ? fmtCost(o.cost_usd) : null],
      ['Prompt', o.prompt_name ? `${o.prompt_name} v${o.prompt_version}` : null],
      ['Version', o.version],
    ]),
    o.type === 'GUARDRAIL' ? guardSection(o) : null,
    usageSection(o),
    o.model_params && Object.keys(o.model_params).length ? h('section', null, h('h3', null, 'Parameters'), jsonView(o.model_params, 1)) : null,
    ioBlock('Input', o.input),
    o.type === 'GUARDRAIL' ? null : ioBlock('Output', o.output),
    o.metadata && Object.keys(o.metadata).length ? h('section', null, h('h3', null, 'Metadata'), jsonView(o.metadata, 1)) : null,
    scoresTable(scores));
}

// ---- the page ----

function header(t) {
  const link = (kind, id) => (id ? h('a', { href: `#/${kind}/${encodeURIComponent(id)}`, class: 'mono' }, id) : null);
  return h('div', { class: 'trace-head' },
    h('div', { class: 'page-head' }, h('h1', null, t.name || 'Trace'), statusBadge(t.status),
      h('span', { class: 'muted mono', title: 'trace id' }, t.id)),
    h('div', { class: 'stats' },
      stat('Time', timeCell(t.timestamp)), stat('Latency', fmtMs(t.latency_ms)),
      stat('Tokens', `${fmtInt(t.input_tokens)} → ${fmtInt(t.output_tokens)}`), stat('Cost', fmtCost(t.cost_usd)),
      stat('Model', t.model || '—'), stat('Observations', fmtInt(t.observation_count ?? (t.observations || []).length))),
    kv([['User', link('users', t.user_id)], ['Session', link('sessions', t.session_id)],
      ['Tags', t.tags && t.tags.length ? t.tags.map((x) => badge(x, 'tag')) : null],
      ['Environment', t.environment], ['Release', t.release]]));
}

function stat(label, value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value));
}

function pickDefault(rows) {
  return (rows.find((r) => r.o.level === 'ERROR' && r.o.type !== 'GUARDRAIL') || rows.find((r) => r.o.level === 'ERROR') ||
    rows.find((r) => r.o.type === 'GENERATION') || rows[0])?.o.id;
}

export async function traceView(view, params, query, alive) {
  view.append(loading());
  let t;
  try {
    t = await get(`traces/${encodeURIComponent(params.id)}`);
  } catch (e) {
    if (!alive()) return;
    fill(view, h('a', { href: '#/traces', class: 'back' }, '← Traces'),
      e.status === 404 && !e.missingRoute ? empty('No such trace.', `Nothing is stored under id ${params.id} (yet: traces are written within a second).`)
        : errorState(e, () => { clear(view); traceView(view, params, query, alive); }));
    return;
  }
  if (!alive()) return;
  const obs = t.observations || [];
  const rows = flattenTree(obs);
  const scores = t.scores || [];
  const errors = obs.filter((o) => o.level === 'ERROR' && o.status_message);
  const detail = h('div', { class: 'pane-detail' });
  const byId = new Map(obs.map((o) => [o.id, o]));
  let selRow = null;
  const select = (id) => {
    const o = byId.get(id);
    if (!o) return;
    // touch two rows, not all of them: j held down on a 3000-observation trace stays smooth
    const row = view.querySelector(`.wf-row[data-obs="${CSS.escape(id)}"]`);
    for (const r of view.querySelectorAll('.wf-row.sel')) if (r !== row) r.classList.remove('sel');
    if (selRow && selRow !== row) selRow.setAttribute('aria-selected', 'false');
    if (row) {
      row.classList.add('sel');
      row.setAttribute('aria-selected', 'true');
    }
    selRow = row;
    detail.replaceChildren(obsDetail(o, scores.filter((s) => s.observation_id === id)));
    const q = new URLSearchParams(query);
    q.set('obs', id);
    history.replaceState(history.state, '', `#/traces/${encodeURIComponent(t.id)}?${q}`);
  };
  fill(view,
    h('a', { href: '#/traces', class: 'back', title: 'Esc' }, '← Traces'),
    header(t),
    errors.length ? h('div', { class: 'callout callout-error', role: 'alert' }, h('strong', null, 'Failed: '),
      errors[0].status_message, errors.length > 1 ? h('span', { class: 'muted' }, ` (+${errors.length - 1} more)`) : null) : null,
    obs.length ? h('div', { class: 'split' }, h('div', { class: 'pane-tree' }, waterfall(rows, select)), detail)
      : empty('This trace has no observations.'),
    scoresTable(scores.filter((s) => !s.observation_id)),
    t.input !== null && t.input !== undefined ? ioBlock('Trace input', t.input) : null,
    t.output !== null && t.output !== undefined ? ioBlock('Trace output', t.output) : null,
    t.metadata && Object.keys(t.metadata).length ? h('section', null, h('h3', null, 'Trace metadata'), jsonView(t.metadata, 1)) : null);
  if (rows.length) select(query.get('obs') && obs.some((o) => o.id === query.get('obs')) ? query.get('obs') : pickDefault(rows));
}
