// pg_shared.test.mjs: two keel instances on ONE PostgreSQL database serve the same data.
// What A writes (gateway calls, a Langfuse batch) B's query API returns, and the reverse;
// Langfuse events of one trace split between A and B, sent concurrently, come out as one
// trace with the right aggregates.  PostgreSQL only: skipped unless KEEL_TEST_PG_URL is set
// (ctest runs it as pg/pg_shared, against the server scripts/pg-test.sh starts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startKeel, chat, getJSON, KEEL_BIN, PG_URL, pgCreateDb, pgDropDb } from './lib.mjs';

const skip = PG_URL ? false : 'needs PostgreSQL (KEEL_TEST_PG_URL; ctest runs it as pg/pg_shared)';
const ADMIN = 'admin-secret-for-pg-shared';
const admin = { authorization: `Bearer ${ADMIN}` };
let a, b, db, key;

const basic = (k) => ({ authorization: `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}` });
const api = (k, path) => getJSON(`${k.url}/api/v1${path}`, admin);
async function waitFor(k, path, pred) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const r = await api(k, path);
    if (r.status === 200 && pred(r.json)) return r.json;
    if (Date.now() > deadline) throw new Error(`${path} never matched on ${k.url}: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
const ingest = (k, batch) => fetch(`${k.url}/api/public/ingestion`, {
  method: 'POST', headers: { ...basic(key), 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });

before(async () => {
  if (skip) return;
  db = pgCreateDb();
  const env = { KEEL_ADMIN_KEY: ADMIN, KEEL_STORE_URL: db };
  a = await startKeel({ env });
  b = await startKeel({ env });
  key = JSON.parse(execFileSync(KEEL_BIN, ['keys', 'create', '--data-dir', a.dataDir, '--json'],
    { env: { ...process.env, KEEL_STORE_URL: db } }).toString());
});
after(async () => {
  if (skip) return;
  for (const k of [a, b]) {
    assert.equal(await k.stop(), 0, `keel exited cleanly:\n${k.log.text.slice(-3000)}`);
    k.cleanup();
  }
  pgDropDb(db);
});

test('what one instance writes, the other reads', { skip }, async () => {
  let r = await chat(a.url, { model: 'mock', messages: [{ role: 'user', content: 'hi from A' }] }, { 'x-keel-user': 'user-a' });
  assert.equal(r.status, 200, r.text);
  r = await chat(b.url, { model: 'mock', messages: [{ role: 'user', content: 'hi from B' }] }, { 'x-keel-user': 'user-b' });
  assert.equal(r.status, 200, r.text);
  const viaB = await waitFor(b, '/traces?user_id=user-a', (j) => j.data.length === 1);
  const viaA = await waitFor(a, '/traces?user_id=user-b', (j) => j.data.length === 1);
  assert.equal(viaB.data[0].model, 'mock');
  assert.equal(viaA.data[0].observation_count, 1);
  // the full trace, through the other instance
  const t = await waitFor(b, `/traces/${viaB.data[0].id}`, (j) => j.observations.length === 1);
  assert.equal(t.user_id, 'user-a');

  // a Langfuse batch through B (authenticated by a key created beside A), read through A
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  r = await ingest(b, [
    { id: 'x1', type: 'trace-create', timestamp: iso(now), body: { id: 'lf-b', name: 'from-b', userId: 'lf-user' } },
    { id: 'x2', type: 'generation-create', timestamp: iso(now),
      body: { id: 'lf-b-g', traceId: 'lf-b', name: 'g', model: 'lf-model', startTime: iso(now - 500), endTime: iso(now),
        usageDetails: { input: 5, output: 7 } } },
  ]);
  assert.equal(r.status, 207);
  const lf = await waitFor(a, '/traces/lf-b', (j) => j.observations.length === 1);
  assert.equal(lf.name, 'from-b');
  assert.equal(lf.user_id, 'lf-user');
  assert.equal(lf.model, 'lf-model');
  assert.equal(lf.input_tokens, 5);
  assert.equal(lf.output_tokens, 7);
});

test('both instances writing one trace at once: the aggregates add up', { skip }, async () => {
  const N = 40, start = Date.parse('2026-03-01T10:00:00.000Z');
  const iso = (ms) => new Date(ms).toISOString();
  const ev = (i, type, body) => ({ id: `sh-${type}-${i}`, type, timestamp: iso(start + i), body });
  // creates of N generations, then their updates (usage, end, one error), split between A and B
  const creates = [], updates = [];
  for (let i = 0; i < N; i++) {
    creates.push(ev(i, 'generation-create', { id: `g${i}`, traceId: 'shared-1', name: `gen-${i}`, model: i === 3 ? 'first' : 'later',
      startTime: iso(start + (i === 3 ? 0 : 1000 + i)) }));
    updates.push(ev(i, 'generation-update', { id: `g${i}`, traceId: 'shared-1', endTime: iso(start + 5000 + i),
      usageDetails: { input: i + 1, output: 2 }, ...(i === 17 ? { level: 'ERROR', statusMessage: 'boom' } : {}) }));
  }
  const trace = ev(0, 'trace-create', { id: 'shared-1', name: 'shared', userId: 'u-shared', sessionId: 's-shared', tags: ['x'] });
  const sends = [];
  for (let i = 0; i < N; i += 4) {
    const k = (i / 4) % 2 ? a : b;
    sends.push(ingest(k, creates.slice(i, i + 4)));
    sends.push(ingest(k === a ? b : a, updates.slice(i, i + 4))); // an update may beat its create
  }
  sends.push(ingest(a, [trace]));
  for (const r of await Promise.all(sends)) assert.equal(r.status, 207);

  const expectIn = (N * (N + 1)) / 2;
  for (const k of [a, b]) {
    const t = await waitFor(k, '/traces/shared-1', (j) => j.observation_count === N && j.input_tokens === expectIn &&
      j.observations.every((o) => o.end_time));
    assert.equal(t.name, 'shared');
    assert.equal(t.user_id, 'u-shared');
    assert.equal(t.session_id, 's-shared');
    assert.deepEqual(t.tags, ['x']);
    assert.equal(t.output_tokens, 2 * N);
    assert.equal(t.status, 'error');
    assert.equal(t.level, 'ERROR');
    assert.equal(t.model, 'first', 'the first generation (by start) names the model');
    assert.equal(t.timestamp, iso(start));
    assert.equal(t.latency_ms, 5000 + N - 1);
    assert.equal(t.observations.length, N);
    for (const o of t.observations) assert.equal(o.user_id, 'u-shared', 'the trace record reached every observation');
  }
  // the list rows of both instances agree
  const la = (await api(a, '/traces?user_id=u-shared')).json.data, lb = (await api(b, '/traces?user_id=u-shared')).json.data;
  assert.deepEqual(la, lb);
  assert.equal(la.length, 1);
});
