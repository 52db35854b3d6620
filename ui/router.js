// router.js: a hash router in a few lines.
//
// Routes live in the fragment (#/traces/abc?model=x) so keel serves one index.html for
// everything, links can be copied into a bug report, and the back button works without
// any server-side fallback.  A route is a pattern like '/traces/:id'; the view gets the
// decoded params and the query as a URLSearchParams.

const routes = [];
let notFound = null;
let current = null;
let depth = 0; // how many in-app navigations are behind us (Esc goes back through them)

export function route(pattern, view) {
  const names = [];
  const re = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}$`);
  routes.push({ re, names, view });
}

export function fallback(view) {
  notFound = view;
}

export function parse(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/traces';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, query };
}

export function href(path, query) {
  const s = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v != null)).toString() : '';
  return `#${path}${s ? `?${s}` : ''}`;
}

export function go(path, query) {
  const target = href(path, query);
  if (target === location.hash) resolve();
  else location.hash = target;
}

// Replaces the current entry (filters typed into a list must not pile up history).
export function replace(path, query) {
  history.replaceState({ depth }, '', href(path, query));
  resolve();
}

// Esc: back where we came from inside the app, else up one level.
export function back() {
  if (depth > 0) {
    history.back();
    return;
  }
  const { path } = parse();
  const parent = path.replace(/\/[^/]+$/, '');
  go(parent && parent !== path ? parent : '/traces');
}

export function currentRoute() {
  return current;
}

export function resolve() {
  const { path, query } = parse();
  for (const r of routes) {
    const m = path.match(r.re);
    if (!m) continue;
    const params = {};
    r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
    current = { path, query, params, view: r.view };
    r.view(params, query);
    return;
  }
  current = { path, query, params: {}, view: notFound };
  if (notFound) notFound(path);
}

export function start() {
  window.addEventListener('hashchange', () => {
    // a new entry (not Back) moves us one deeper; Back pops one
    if (history.state && history.state.depth !== undefined) depth = history.state.depth;
    else {
      depth += 1;
      history.replaceState({ depth }, '', location.hash);
    }
    resolve();
  });
  history.replaceState({ depth: 0 }, '', location.hash || '#/traces');
  resolve();
}
