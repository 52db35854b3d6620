// chart.js: small SVG time-series charts (lines, or stacked bars) drawn by hand.
//
// A chart is a fixed viewBox scaled to its container's width; values get native tooltips
// (<title>), so hovering needs no script.  Series colours come from a fixed palette by
// series order, which the dashboard keeps stable per model.

import { h, svg } from './dom.js';

const W = 560;
const H = 220;
const M = { l: 60, r: 12, t: 12, b: 30 };
export const PALETTE = ['#2f6fde', '#e0752d', '#2a9d6a', '#c43d5a', '#8a5cd1', '#b59a14', '#1b9aaa', '#7a7a7a'];

// 0 .. a round number >= max, in about 4 steps.
function niceTicks(max) {
  if (!(max > 0)) return [0, 1];
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(v);
  return ticks;
}

const pad = (n) => String(n).padStart(2, '0');
function timeLabel(ms, bucket) {
  const d = new Date(ms);
  if (bucket === 'day') return `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (bucket === 'hour') return d.getHours() ? `${pad(d.getHours())}:00` : `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// opts: {title, series: [{name, color, dashed, points: [[ms, value]]}], fmt, bucket, bars,
//        grid: every bucket start of the range (empty buckets stay visible as gaps),
//        zeroText: shown instead of a flat chart when every value is 0}
export function timeChart(opts) {
  const { series, fmt = String, bucket = 'hour', bars = false } = opts;
  const seen = series.flatMap((s) => s.points.map((p) => p[0]));
  const times = [...new Set([...(opts.grid || []), ...seen])].sort((a, b) => a - b);
  const box = h('figure', { class: 'chart' }, h('figcaption', null, opts.title));
  let max = 0;
  if (bars) {
    for (const t of times) max = Math.max(max, series.reduce((a, s) => a + (s.points.find((p) => p[0] === t)?.[1] || 0), 0));
  } else {
    for (const s of series) for (const p of s.points) max = Math.max(max, p[1] || 0);
  }
  if (!seen.length || (!max && opts.zeroText)) {
    box.append(h('div', { class: 'chart-empty muted' }, seen.length ? opts.zeroText : 'No data in this range.'));
    return box;
  }
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] || 1;
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const t0 = times[0];
  const t1 = times[times.length - 1];
  const slot = pw / times.length;
  const index = new Map(times.map((t, i) => [t, i]));
  const x = bars || t1 === t0 ? (t) => M.l + slot * (index.get(t) + 0.5) : (t) => M.l + ((t - t0) / (t1 - t0)) * pw;
  const y = (v) => M.t + ph - (v / top) * ph;
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img', 'aria-label': opts.title });
  for (const v of ticks) {
    g.append(svg('line', { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), class: 'grid-line' }),
      svg('text', { x: M.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, fmt(v)));
  }
  const every = Math.max(1, Math.ceil(times.length / 6));
  times.forEach((t, i) => {
    if (i % every) return;
    g.append(svg('text', { x: x(t), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, timeLabel(t, bucket)));
  });
  if (bars) {
    const bw = Math.max(1.5, Math.min(slot * 0.7, 48));
    for (const t of times) {
      let acc = 0;
      for (const s of series) {
        const v = s.points.find((p) => p[0] === t)?.[1] || 0;
        if (!v) continue;
        g.append(svg('rect', { x: x(t) - bw / 2, y: y(acc + v), width: bw, height: y(acc) - y(acc + v), fill: s.color },
          svg('title', null, `${s.name} · ${new Date(t).toLocaleString()}: ${fmt(v)}`)));
        acc += v;
      }
    }
  } else {
    for (const s of series) {
      const pts = s.points.filter((p) => p[1] !== null && p[1] !== undefined).sort((a, b) => a[0] - b[0]);
      if (pts.length > 1) {
        g.append(svg('polyline', {
          points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '),
          fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dashed ? '5 4' : null,
        }));
      }
      for (const p of pts) {
        g.append(svg('circle', { cx: x(p[0]), cy: y(p[1]), r: pts.length > 40 ? 1.5 : 3, fill: s.color },
          svg('title', null, `${s.name} · ${new Date(p[0]).toLocaleString()}: ${fmt(p[1])}`)));
      }
    }
  }
  box.append(g, h('div', { class: 'legend' }, series.map((s) =>
    h('span', null, h('i', { class: ['swatch', s.dashed && 'dashed'], style: { borderColor: s.color, background: s.dashed ? 'transparent' : s.color } }), s.name))));
  return box;
}
