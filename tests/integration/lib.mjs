// lib.mjs: starts the real keel binary (and its mock upstream) for integration tests.
// Every server listens on 127.0.0.1 port 0; the port is read from the log line it prints,
// which also tells us it is ready.  Each keel gets a fresh data dir under the OS temp dir.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

// PostgreSQL (ctest's pg/ tests set KEEL_TEST_PG_URL): each data dir gets a database of its
// own, created here with psql, and keel is pointed at it with KEEL_STORE_URL, so a restart on
// the same data dir finds its data again and no two tests share one.
export const PG_URL = process.env.KEEL_TEST_PG_URL || '';
const pgDbs = new Map(); // dataDir -> database url
let pgSeq = 0;
function psql(url, sql) {
  execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}
function dbUrl(name) {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}
// A new empty database; returns its url.
export function pgCreateDb() {
  const name = `keel_t_${process.pid}_${pgSeq++}`;
  psql(PG_URL, `CREATE DATABASE ${name}`);
  return dbUrl(name);
}
export function pgDropDb(url) {
  const name = new URL(url).pathname.slice(1);
  try { psql(PG_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* the cluster goes anyway */ }
}
// The environment that points keel (serve, keys create) at dataDir's database; {} on SQLite.
export function pgEnv(dataDir) {
  if (!PG_URL) return {};
  if (!pgDbs.has(dataDir)) pgDbs.set(dataDir, pgCreateDb());
  return { KEEL_STORE_URL: pgDbs.get(dataDir) };
}

export const KEEL_BIN = process.env.KEEL_BIN || new URL('../../build/keel', import.meta.url).pathname;

function waitForListen(proc, pattern, what) {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 20s:\n${log}`)), 20000);
    const onData = (d) => {
      log += d.toString();
      const m = log.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before listening:\n${log}`));
    });
  });
}

function collect(proc) {
  const out = { text: '' };
  proc.stderr.on('data', (d) => { out.text += d.toString(); });
  return out;
}

export async function startMock(args = []) {
  const proc = spawn(KEEL_BIN, ['mock-upstream', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = collect(proc);
  const port = await waitForListen(proc, /mock upstream listening on http:\/\/127\.0\.0\.1:(\d+)/, 'mock-upstream');
  return {
    port, url: `http://127.0.0.1:${port}`, proc, log,
    async stop() { return stopProc(proc); },
  };
}

export function stopProc(proc, signal = 'SIGTERM') {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    proc.once('exit', (code, sig) => resolve(code ?? sig));
    proc.kill(signal);
  });
}

// opts: { config: yaml text (written to a temp file), env: {...}, args: [...], dataDir }
export async function startKeel(opts = {}) {
  const dataDir = opts.dataDir || mkdtempSync(join(tmpdir(), 'keel-it-'));
  const args = ['serve', '--listen', opts.listen || '127.0.0.1:0', '--data-dir', dataDir];
  let cfgPath = null;
  if (opts.config) {
    cfgPath = join(dataDir, '..', `keel-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(cfgPath, opts.config);
    args.push('--config', cfgPath);
  }
  args.push(...(opts.args || []));
  const env = { ...process.env, ...pgEnv(dataDir), ...(opts.env || {}) };
  if (!opts.env || !('OPENAI_API_KEY' in opts.env)) delete env.OPENAI_API_KEY;
  if (!opts.env || !('ANTHROPIC_API_KEY' in opts.env)) delete env.ANTHROPIC_API_KEY;
  if (!opts.env || !('KEEL_ADMIN_KEY' in opts.env)) delete env.KEEL_ADMIN_KEY;
  const proc = spawn(KEEL_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const log = collect(proc);
  const port = await waitForListen(proc, /keel listening on http:\/\/[^\s]*:(\d+)/, 'keel');
  const url = `http://127.0.0.1:${port}`;
  return {
    port, url, proc, log, dataDir,
    async stop(signal = 'SIGTERM') {
      const code = await stopProc(proc, signal);
      if (cfgPath) rmSync(cfgPath, { force: true });
      return code;
    },
    cleanup() {
      rmSync(dataDir, { recursive: true, force: true });
      if (pgDbs.has(dataDir) && !(opts.env && opts.env.KEEL_STORE_URL)) pgDropDb(pgDbs.get(dataDir));
      pgDbs.delete(dataDir);
    },
  };
}

// Runs keel and returns {code, stderr} (for start-up failures).
export function runKeel(args, env = {}) {
  return new Promise((resolve) => {
    const dd = args.indexOf('--data-dir');
    const e = { ...process.env, ...(dd >= 0 ? pgEnv(args[dd + 1]) : {}), ...env };
    delete e.KEEL_ADMIN_KEY;
    Object.assign(e, env);
    const proc = spawn(KEEL_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], env: e });
    let err = '';
    proc.stderr.on('data', (d) => { err += d.toString(); });
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    proc.on('exit', (code) => { clearTimeout(t); resolve({ code, stderr: err }); });
  });
}

export async function chat(base, body, headers = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

// Reads an SSE response completely; returns {status, events: [data strings], raw}.
export async function chatStream(base, body, headers = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  let raw = '';
  let error = null;
  try {
    const dec = new TextDecoder();
    for await (const chunk of res.body) raw += dec.decode(chunk, { stream: true });
  } catch (e) { error = e; }
  const events = raw.split(/\n\n/).map((b) => b.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')).filter((x) => x.length);
  return { status: res.status, headers: res.headers, raw, events, error };
}

export async function getJSON(url, headers = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

// Polls the trace list until `pred(list)` holds (traces are written asynchronously, in ms).
export async function waitTraces(base, query = '', pred = (d) => d.length > 0, headers = {}) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await getJSON(`${base}/api/v1/traces${query}`, headers);
    if (r.status === 200 && pred(r.json.data)) return r.json;
    if (Date.now() > deadline) throw new Error(`traces never matched: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

// One gateway call's trace, by the trace id it was given (x-keel-trace-id), once its generation
// (or embedding) is stored; read again a moment later for the guardrail rows of the same call.
export async function callTrace(base, id) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await getJSON(`${base}/api/v1/traces/${id}`);
    if (r.status === 200 && r.json.observations.some((o) => (o.type === 'GENERATION' || o.type === 'EMBEDDING'))) {
      await new Promise((res) => setTimeout(res, 100));
      return (await getJSON(`${base}/api/v1/traces/${id}`)).json;
    }
    if (Date.now() > deadline) throw new Error(`trace ${id} never appeared: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

// A raw TCP exchange: sends `parts` (with optional pauses), returns everything received until close or timeout.
export function rawExchange(port, parts, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    const t = setTimeout(() => { sock.destroy(); resolve({ data, closed }); }, timeoutMs);
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; clearTimeout(t); resolve({ data, closed }); });
    (async () => {
      for (const p of parts) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!sock.destroyed) sock.write(p);
      }
    })();
  });
}
