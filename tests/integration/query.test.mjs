// The query API (issue 5) against a real keel: traces made through the gateway (mock models)
// and through Langfuse ingestion, then every endpoint and filter of the contract, scores
// POST/GET, sessions and users, metrics with group_by and buckets, 400s naming the
// parameter, and project scoping (another project's key sees nothing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startKeel, getJSON, chat, chatStream, KEEL_BIN, pgEnv } from './lib.mjs';

const ADMIN = 'admin-secret-for-query-tests';
const admin = { authorization: `Bearer ${ADMIN}` };
let keel, key, other;

function createKey(dataDir, project) {
  return new Promise((resolve, reject) => {
    const args = ['keys', 'create', '--data-dir', dataDir, '--json', ...(project ? ['--project', project] : [])];
    execFile(KEEL_BIN, args, { env: { ...process.env, ...pgEnv(dataDir) } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
  });
}
const basic = (k) => ({ authorization: `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}` });
const api = (path, headers = admin) => getJSON(`${keel.url}/api/v1${path}`, headers);
async function waitFor(path, pred, headers = admin) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await api(path, headers);
    if (r.status === 200 && pred(r.json)) return r.json;
    if (Date.now() > deadline) throw new Error(`${path} never matched: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
// every page of a list, following next_cursor
async function all(path, limit = 2) {
  const rows = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200, r.text);
    rows.push(...r.json.data);
    if (!r.json.next_cursor) return rows;
    cursor = r.json.next_cursor;
  }
  throw new Error('too many pages');
}

const H = (user, session, tags, extra = {}) => ({ 'x-keel-user': user, 'x-keel-session': session, 'x-keel-tags': tags, ...extra });
const ask = (text) => ({ model: 'mock', messages: [{ role: 'user', content: text }] });
let t0;

before(async () => {
  keel = await startKeel({ env: { KEEL_ADMIN_KEY: ADMIN }, config: 'trace: {fulltext: true}\n' });
  key = await createKey(keel.dataDir);
  other = await createKey(keel.dataDir, 'other-team');
  t0 = new Date(Date.now() - 5000).toISOString(); // before everything below (the Langfuse generation starts 1.5 s back)
  // gateway: 6 calls; alice in s-1 (3: one failing, one slow, one streamed), bob in s-2 (2), carol alone
  let r = await chat(keel.url, ask('where is my parcel'), H('alice', 's-1', 'prod,eu', { 'x-keel-trace-name': 'support' }));
  assert.equal(r.status, 200, r.text);
  r = await chat(keel.url, ask('refund please'), H('alice', 's-1', 'prod', { 'x-keel-trace-name': 'support', 'x-mock-fault': 'status=500' }));
  assert.equal(r.status, 500);
  r = await chat(keel.url, ask('slow question about invoices'), H('alice', 's-1', 'prod,eu', { 'x-keel-trace-name': 'billing', 'x-mock-latency-ms': '300' }));
  assert.equal(r.status, 200);
  const s = await chatStream(keel.url, ask('stream me a poem'), H('bob', 's-2', 'beta', { 'x-keel-trace-name': 'poet', 'x-mock-chunks': '4', 'x-mock-chunk-delay-ms': '20' }));
  assert.equal(s.status, 200);
  await chat(keel.url, ask('another poem'), H('bob', 's-2', 'beta', { 'x-keel-trace-name': 'poet' }));
  await chat(keel.url, ask('hello'), { 'x-keel-user': 'carol' });
  // Langfuse ingestion into project "default": a trace with a generation (model lf-model) and a warning event
  const batch = [
    { id: 'e1', type: 'trace-create', timestamp: new Date().toISOString(),
      body: { id: 'lf-trace-1', name: 'lf-agent', userId: 'dave', sessionId: 's-lf', tags: ['lf', 'prod'] } },
    { id: 'e2', type: 'generation-create', timestamp: new Date().toISOString(),
      body: { id: 'lf-gen-1', traceId: 'lf-trace-1', name: 'answer', model: 'lf-model', startTime: new Date(Date.now() - 1500).toISOString(),
        endTime: new Date().toISOString(), input: 'what about the zeppelin schedule', output: 'it departs at noon',
        usageDetails: { input: 30, output: 10 }, costDetails: { total: 0.25 } } },
    { id: 'e3', type: 'event-create', timestamp: new Date().toISOString(),
      body: { id: 'lf-ev-1', traceId: 'lf-trace-1', name: 'guard', level: 'WARNING', startTime: new Date().toISOString() } },
  ];
  const ing = await fetch(`${keel.url}/api/public/ingestion`, { method: 'POST', headers: { ...basic(key), 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
  assert.equal(ing.status, 207);
  await waitFor('/traces', (j) => j.data.length === 7 && j.data.some((t) => t.id === 'lf-trace-1' && t.observation_count === 2));
});
after(async () => {
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
});

test('traces: the row shape, every filter, cursor pages, the live tail', async () => {
  const list = (await api('/traces')).json;
  const keys = ['id', 'timestamp', 'name', 'user_id', 'session_id', 'tags', 'model', 'input_tokens', 'output_tokens', 'cost_usd',
    'latency_ms', 'status', 'observation_count', 'level'];
  for (const t of list.data) assert.deepEqual(Object.keys(t).sort(), [...keys].sort());
  const ids = (rows) => rows.map((t) => t.id);
  const count = async (q) => (await all(`/traces?${q}`)).length;
  assert.equal(await count('user_id=alice'), 3);
  assert.equal(await count('session_id=s-2'), 2);
  assert.equal(await count('model=mock'), 6);
  assert.equal(await count('model=lf-model'), 1);
  assert.equal(await count('name=support'), 2);
  assert.equal(await count('tags=prod'), 4); // 3 of alice's + the Langfuse trace
  assert.equal(await count('tags=prod,eu'), 2);
  assert.equal(await count('tags=eu,beta'), 0);
  assert.equal(await count('status=error'), 1);
  assert.equal(await count('status=ok'), 6);
  assert.equal(await count('level=ERROR'), 1);
  assert.equal(await count('level=WARNING'), 1);
  assert.equal(await count('min_cost=0.2'), 1);
  assert.equal(await count('min_cost=0.2&max_cost=0.3'), 1);
  assert.equal(await count('min_latency_ms=250'), 2); // the 300 ms call and the 1.5 s generation
  assert.equal(await count('max_latency_ms=250&user_id=alice'), 2);
  assert.equal(await count('q=parcel'), 1);
  assert.equal(await count('q=zeppelin'), 1);
  assert.equal(await count('q=noon%20zeppelin'), 1);
  assert.equal(await count('q=zeppelin%20parcel'), 0);
  assert.equal(await count(`from=${encodeURIComponent(t0)}&to=${Date.now() + 60000}`), 7);
  assert.equal(await count(`to=${encodeURIComponent(t0)}`), 0);
  const err = (await all('/traces?status=error'))[0];
  assert.equal(err.level, 'ERROR');
  assert.equal(err.user_id, 'alice');
  const lf = (await all('/traces?user_id=dave'))[0];
  assert.deepEqual(lf.tags, ['lf', 'prod']);
  assert.equal(lf.level, 'WARNING');
  assert.equal(lf.cost_usd, 0.25);
  // pages of 2 give the same rows as one page, newest first, no repeats
  const paged = await all('/traces', 2);
  assert.deepEqual(ids(paged), ids(list.data));
  assert.equal(new Set(ids(paged)).size, 7);
  for (let i = 1; i < paged.length; i++) assert.ok(paged[i - 1].timestamp >= paged[i].timestamp);
  // live tail: after the 3rd oldest, oldest first
  const oldest = [...list.data].reverse();
  const tail = (await api(`/traces?since=${encodeURIComponent(oldest[2].timestamp)}`)).json.data;
  assert.ok(tail.length >= 3 && tail.length <= 4, `tail of ${tail.length}`);
  for (let i = 1; i < tail.length; i++) assert.ok(tail[i - 1].timestamp <= tail[i].timestamp);
  assert.ok(tail.every((t) => t.timestamp > oldest[2].timestamp));
  // one trace: its observations and scores
  const d = (await api(`/traces/lf-trace-1`)).json;
  assert.equal(d.observations.length, 2);
  assert.ok(Array.isArray(d.scores));
});

test('observations: shape, filters, full text, by id', async () => {
  const keys = ['id', 'trace_id', 'parent_id', 'type', 'name', 'start', 'end', 'model', 'level', 'status_message', 'input_tokens',
    'output_tokens', 'cost_usd', 'latency_ms', 'ttft_ms'];
  const rows = await all('/observations', 3);
  assert.equal(rows.length, 8);
  for (const o of rows) assert.deepEqual(Object.keys(o).sort(), [...keys].sort());
  const count = async (q) => (await all(`/observations?${q}`)).length;
  assert.equal(await count('type=GENERATION'), 7);
  assert.equal(await count('type=event'), 1);
  assert.equal(await count('trace_id=lf-trace-1'), 2);
  assert.equal(await count('user_id=bob'), 2);
  assert.equal(await count('session_id=s-1&model=mock'), 3);
  assert.equal(await count('name=answer'), 1);
  assert.equal(await count('level=ERROR'), 1);
  assert.equal(await count('min_cost=0.1'), 1);
  assert.equal(await count('min_latency_ms=1000'), 1);
  assert.equal(await count('q=poem'), 2);
  assert.equal(await count('q=zeppelin&type=GENERATION'), 1);
  const streamed = (await all('/observations?q=stream'))[0];
  assert.ok(streamed.ttft_ms !== null && streamed.ttft_ms >= 0, 'the streamed call has a time to first token');
  // by id: keel's own (with and without trace_id) and an ingested one
  let r = await api(`/observations/${streamed.id}?trace_id=${streamed.trace_id}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.id, streamed.id);
  r = await api(`/observations/${streamed.id}`);
  assert.equal(r.status, 200);
  assert.equal((await api('/observations/lf-gen-1')).json.model, 'lf-model');
  assert.equal((await api('/observations/nope')).status, 404);
});

test('scores: POST then GET with filters; bad bodies are 400s naming the field', async () => {
  const lf = 'lf-trace-1';
  const post = (body, headers = admin) => fetch(`${keel.url}/api/v1/scores`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let r = await post({ trace_id: lf, name: 'helpfulness', value: 0.8, data_type: 'NUMERIC', comment: 'good' });
  assert.equal(r.status, 201);
  const { id } = await r.json();
  assert.ok(id);
  r = await post({ trace_id: lf, observation_id: 'lf-gen-1', name: 'correct', value: true, data_type: 'BOOLEAN', source: 'eval' });
  assert.equal(r.status, 201);
  r = await post({ session_id: 's-1', name: 'tone', string_value: 'friendly', data_type: 'CATEGORICAL', source: 'annotation', id: 'my-score-1' });
  assert.deepEqual(await r.json(), { id: 'my-score-1' });
  // visible at once (the POST waits for the commit)
  const list = (await api('/scores')).json.data;
  assert.equal(list.length, 3);
  assert.equal(list[0].id, 'my-score-1');
  const one = (await api(`/scores/${id}`)).json;
  assert.equal(one.value, 0.8);
  assert.equal(one.comment, 'good');
  assert.equal(one.source, 'API');
  const count = async (q) => (await all(`/scores?${q}`, 1)).length;
  assert.equal(await count(`trace_id=${lf}`), 2);
  assert.equal(await count('observation_id=lf-gen-1'), 1);
  assert.equal(await count('session_id=s-1'), 1);
  assert.equal(await count('name=correct'), 1);
  assert.equal(await count('source=eval'), 1);
  assert.equal(await count('data_type=CATEGORICAL'), 1);
  assert.equal(await count(`from=${encodeURIComponent(t0)}`), 3);
  assert.equal((await api(`/traces/${lf}`)).json.scores.length, 2);
  for (const [body, param] of [
    [{ trace_id: lf, value: 1 }, 'name'],
    [{ name: 'x', value: 1 }, 'trace_id'],
    [{ trace_id: lf, name: 'x', value: 'high', data_type: 'NUMERIC' }, 'value'],
    [{ trace_id: lf, name: 'x', value: 2, data_type: 'BOOLEAN' }, 'value'],
    [{ trace_id: lf, name: 'x', data_type: 'TEXT' }, 'string_value'],
    [{ trace_id: lf, name: 'x', value: 1, data_type: 'FLOAT' }, 'data_type'],
    [{ trace_id: lf, name: 'x', value: 1, source: 'robot' }, 'source'],
    [{ trace_id: 'x'.repeat(65), name: 'x', value: 1 }, 'trace_id'],
  ]) {
    r = await post(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal((await r.json()).error.param, param, JSON.stringify(body));
  }
  r = await fetch(`${keel.url}/api/v1/scores`, { method: 'POST', headers: admin, body: 'not json' });
  assert.equal(r.status, 400);
  assert.equal((await api('/scores?source=robot')).json.error.param, 'source');
  assert.equal((await fetch(`${keel.url}/api/v1/scores`, { method: 'PUT', headers: admin })).status, 405);
});

test('sessions and users: aggregates, details, pagination', async () => {
  const sessions = await all('/sessions', 1);
  assert.deepEqual(sessions.map((s) => s.id).sort(), ['s-1', 's-2', 's-lf']);
  const s1 = sessions.find((s) => s.id === 's-1');
  assert.deepEqual(Object.keys(s1).sort(), ['cost_usd', 'errors', 'first_seen', 'id', 'input_tokens', 'last_seen', 'latency_ms_total',
    'output_tokens', 'traces', 'user_ids'].sort());
  assert.equal(s1.traces, 3);
  assert.equal(s1.errors, 1);
  assert.deepEqual(s1.user_ids, ['alice']);
  assert.ok(s1.latency_ms_total >= 250);
  assert.ok(s1.first_seen <= s1.last_seen);
  for (let i = 1; i < sessions.length; i++) assert.ok(sessions[i - 1].last_seen >= sessions[i].last_seen);
  assert.deepEqual((await all('/sessions?user_id=bob')).map((s) => s.id), ['s-2']);
  const d = (await api('/sessions/s-1')).json;
  assert.equal(d.traces.length, 3);
  for (let i = 1; i < 3; i++) assert.ok(d.traces[i - 1].timestamp <= d.traces[i].timestamp, 'oldest first');
  assert.equal((await api('/sessions/nope')).status, 404);
  const users = await all('/users', 2);
  assert.deepEqual(users.map((u) => u.id).sort(), ['alice', 'bob', 'carol', 'dave']);
  const alice = users.find((u) => u.id === 'alice');
  assert.deepEqual(Object.keys(alice).sort(), ['cost_usd', 'errors', 'first_seen', 'id', 'input_tokens', 'last_seen', 'output_tokens',
    'sessions', 'traces'].sort());
  assert.equal(alice.traces, 3);
  assert.equal(alice.sessions, 1);
  assert.equal(alice.errors, 1);
  const u = (await api('/users/dave')).json;
  assert.equal(u.traces.length, 1);
  assert.equal(u.traces[0].id, 'lf-trace-1');
  assert.equal((await api('/users/nobody')).status, 404);
  assert.equal((await api(`/sessions?from=${Date.now() + 3600000}`)).json.data.length, 0);
});

test('metrics: group_by, buckets, percentiles', async () => {
  const byModel = (await api('/metrics?group_by=model')).json.data;
  assert.deepEqual(byModel.map((m) => m.group), ['lf-model', 'mock']);
  const mock = byModel[1];
  assert.equal(mock.bucket, null);
  assert.equal(mock.requests, 6);
  assert.equal(mock.errors, 1);
  assert.ok(Math.abs(mock.error_rate - 1 / 6) < 1e-9);
  assert.ok(mock.latency_p99_ms >= 250, `p99 ${mock.latency_p99_ms}`);
  assert.ok(mock.latency_p50_ms <= mock.latency_p95_ms && mock.latency_p95_ms <= mock.latency_p99_ms);
  assert.ok(mock.ttft_p50_ms !== null);
  for (const k of ['bucket', 'group', 'requests', 'errors', 'error_rate', 'input_tokens', 'output_tokens', 'cost_usd', 'latency_p50_ms',
    'latency_p95_ms', 'latency_p99_ms', 'ttft_p50_ms', 'ttft_p95_ms', 'ttft_p99_ms']) assert.ok(k in mock, k);
  const hourly = (await api('/metrics?group_by=none&bucket=hour')).json.data;
  assert.ok(hourly.length >= 1 && hourly.length <= 2);
  assert.match(hourly[0].bucket, /^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/);
  assert.equal(hourly.reduce((a, m) => a + m.requests, 0), 7);
  const byTag = (await api('/metrics?group_by=tag&bucket=day')).json.data;
  const tag = (t) => byTag.filter((m) => m.group === t).reduce((a, m) => a + m.requests, 0);
  assert.equal(tag('prod'), 4);
  assert.equal(tag('beta'), 2);
  assert.equal(tag(null), 1);
  const byUser = (await api('/metrics?group_by=user&type=GENERATION')).json.data;
  assert.equal(byUser.find((m) => m.group === 'alice').requests, 3);
  const byName = (await api('/metrics?group_by=name')).json.data;
  assert.ok(byName.some((m) => m.group === 'answer'));
  assert.equal((await api('/metrics?type=EVENT')).json.data[0].requests, 1);
  assert.equal((await api(`/metrics?from=${Date.now() + 3600000}`)).json.data.length, 0);
});

test('bad parameters are 400s that name the parameter', async () => {
  for (const [q, param] of [
    ['/traces?limit=0', 'limit'], ['/traces?limit=1001', 'limit'], ['/traces?from=yesterday', 'from'], ['/traces?status=meh', 'status'],
    ['/traces?level=LOUD', 'level'], ['/traces?min_cost=-1', 'min_cost'], ['/traces?max_latency_ms=abc', 'max_latency_ms'],
    ['/traces?cursor=%25%25bad', 'cursor'], ['/traces?since=never', 'since'], ['/observations?type=BLOB', 'type'],
    ['/observations?cursor=!!', 'cursor'], ['/observations?min_latency_ms=x', 'min_latency_ms'], ['/scores?data_type=FLOAT', 'data_type'],
    ['/sessions?limit=abc', 'limit'], ['/users?to=later', 'to'], ['/metrics?group_by=color', 'group_by'], ['/metrics?bucket=week', 'bucket'],
  ]) {
    const r = await api(q);
    assert.equal(r.status, 400, q);
    assert.equal(r.json.error.param, param, q);
    assert.equal(r.json.error.type, 'invalid_request_error');
  }
});

test('scoping: another project sees nothing; no credentials is 401', async () => {
  const o = basic(other);
  for (const p of ['/traces', '/observations', '/scores', '/sessions', '/users']) {
    const r = await api(p, o);
    assert.equal(r.status, 200, p);
    assert.deepEqual(r.json.data, [], p);
    assert.equal(r.json.next_cursor, null);
  }
  assert.deepEqual((await api('/metrics', o)).json.data, []);
  assert.equal((await api('/traces?q=zeppelin', o)).json.data.length, 0);
  assert.equal((await api('/traces/lf-trace-1', o)).status, 404);
  assert.equal((await api('/sessions/s-1', o)).status, 404);
  assert.equal((await api('/users/alice', o)).status, 404);
  // the project's own key sees its traces
  assert.equal((await api('/traces?user_id=dave', basic(key))).json.data.length, 1);
  // a score posted with the other key lands in the other project
  const r = await fetch(`${keel.url}/api/v1/scores`, { method: 'POST', headers: { ...o, 'content-type': 'application/json' },
    body: JSON.stringify({ trace_id: 'lf-trace-1', name: 'mine', value: 1 }) });
  assert.equal(r.status, 201);
  assert.equal((await api('/scores?name=mine', o)).json.data.length, 1);
  assert.equal((await api('/scores?name=mine')).json.data.length, 0);
  for (const p of ['/traces', '/observations', '/scores', '/sessions', '/users/alice', '/metrics'])
    assert.equal((await api(p, {})).status, 401, p);
});
