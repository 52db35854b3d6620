// api.js: every call to keel's /api/v1 goes through here.
//
// The admin key lives in sessionStorage (gone when the tab closes, never in a cookie, so no
// CSRF surface) and is sent as a Bearer token.  A 401 drops the key and tells the app to
// show the login form again.  keel without an admin key only listens on loopback and
// answers /api/ without credentials: then no key is needed at all.

const KEY = 'keel.adminKey';
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
    // keel answers an unknown route with code "not_found" (a missing endpoint, not a missing record)
    this.missingRoute = status === 404 && body && body.error && body.error.code === 'not_found';
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY);
}

export function setKey(k) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
}

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// Query string of the non-empty entries of params.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

// GET /api/v1/<path>; resolves to the parsed JSON, rejects with ApiError.
// opts.key overrides the stored key (the login form tries a key before keeping it);
// opts.quiet401 skips the unauthorized handler (ditto).
export async function get(path, params, opts = {}) {
  const headers = { accept: 'application/json' };
  const key = opts.key !== undefined ? opts.key : getKey();
  if (key) headers.authorization = `Bearer ${key}`;
  let res;
  try {
    // credentials 'omit': keel's 401 names Basic auth, and with credentials the browser would
    // answer it with its own login dialog instead of letting us show ours
    res = await fetch(`/api/v1/${path}${qs(params)}`, { headers, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, `network error: ${e.message}`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (res.ok) return body;
  const msg = (body && body.error && body.error.message) || text.slice(0, 300) || res.statusText;
  const err = new ApiError(res.status, msg, body);
  if (res.status === 401 && !opts.quiet401) {
    setKey(null);
    onUnauthorized(err);
  }
  throw err;
}

// The models keel routes (GET /v1/models, public): for the model filter's suggestions.
export async function models() {
  try {
    const res = await fetch('/v1/models', { headers: { accept: 'application/json' } });
    if (!res.ok) return [];
    const j = await res.json();
    return (j.data || []).map((m) => m.id).sort();
  } catch {
    return [];
  }
}
