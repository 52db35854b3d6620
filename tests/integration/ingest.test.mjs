// Trace ingestion from other SDKs, with the REAL clients: Langfuse's JS SDK (v3, which posts
// /api/public/ingestion batches) and the OpenTelemetry OTLP/HTTP exporters (protobuf and
// JSON+gzip).  Everything is read back through keel's own API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { Langfuse } from 'langfuse';
import { trace as otTrace, context as otContext, SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { startKeel, getJSON, rawExchange, KEEL_BIN, pgEnv } from './lib.mjs';

const ADMIN = 'admin-secret-for-ingest-tests';
let keel, key, other;

function createKey(dataDir, project) {
  return new Promise((resolve, reject) => {
    const args = ['keys', 'create', '--data-dir', dataDir, '--json', ...(project ? ['--project', project] : [])];
    execFile(KEEL_BIN, args, { env: { ...process.env, ...pgEnv(dataDir) } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
  });
}
const basic = (k) => `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}`;
const asKey = (k = key) => ({ authorization: basic(k) });

// Polls keel's read API until pred(json) holds (ingested records are written asynchronously).
async function waitFor(path, pred, headers = asKey()) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await getJSON(`${keel.url}${path}`, headers);
    if (r.status === 200 && pred(r.json)) return r.json;
    if (Date.now() > deadline) throw new Error(`${path} never matched: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

before(async () => {
  keel = await startKeel({ env: { KEEL_ADMIN_KEY: ADMIN } });
  key = await createKey(keel.dataDir); // beside the running server, as an operator would
  other = await createKey(keel.dataDir, 'other-team');
});
after(async () => {
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
});

test('keys create prints a Langfuse-style pair once; the secret is not stored', async () => {
  assert.match(key.public_key, /^pk-lf-[0-9a-f-]{36}$/);
  assert.match(key.secret_key, /^sk-lf-[0-9a-f-]{36}$/);
  assert.equal(key.project, 'default');
  assert.equal(other.project, 'other-team');
  assert.notEqual(key.secret_key, other.secret_key);
});

test('the Langfuse SDK: traces, spans, generations, events and scores land in keel', async () => {
  const posted = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, opts) => {
    if (String(url).endsWith('/api/public/ingestion')) posted.push(opts.body);
    return realFetch(url, opts);
  };
  const lf = new Langfuse({ publicKey: key.public_key, secretKey: key.secret_key, baseUrl: keel.url, flushAt: 1000, flushInterval: 60000 });
  let t, span, gen, ev;
  try {
    t = lf.trace({ name: 'support-chat', userId: 'user-7', sessionId: 'sess-lf', tags: ['prod', 'eu'], metadata: { tier: 'gold' },
      input: { question: 'where is my order?' }, release: 'r-1.4', version: 'v9' });
    span = t.span({ name: 'retrieval', input: { query: 'order' } });
    span.end({ output: { docs: 3 } });
    gen = span.generation({ name: 'answer', model: 'gpt-4o-mini', modelParameters: { temperature: 0.1 },
      input: [{ role: 'user', content: 'where is my order?' }] });
    gen.end({ output: { role: 'assistant', content: 'on its way' },
      usageDetails: { input: 40, output: 12, cache_read_input_tokens: 8 }, costDetails: { input: 0.0004, output: 0.0006 } });
    ev = t.event({ name: 'pii-check', level: 'WARNING', statusMessage: 'email found' });
    t.update({ output: { answer: 'on its way' } });
    t.score({ name: 'helpfulness', value: 0.75, comment: 'ok' });
    lf.score({ traceId: t.id, observationId: gen.id, name: 'correct', value: 1, dataType: 'BOOLEAN' });
    lf.score({ traceId: t.id, name: 'tone', value: 'friendly', dataType: 'CATEGORICAL' });
    await lf.flushAsync();
    await lf.shutdownAsync();
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.ok(posted.length >= 1, 'the SDK posted to /api/public/ingestion');

  const d = await waitFor(`/api/v1/traces/${t.id}`, (j) => j.observations.length === 3 && j.scores.length === 3);
  assert.equal(d.name, 'support-chat');
  assert.equal(d.user_id, 'user-7');
  assert.equal(d.session_id, 'sess-lf');
  assert.deepEqual(d.tags, ['prod', 'eu']);
  assert.equal(d.release, 'r-1.4');
  assert.equal(d.version, 'v9');
  assert.deepEqual(d.metadata, { tier: 'gold' });
  assert.deepEqual(d.input, { question: 'where is my order?' });
  assert.deepEqual(d.output, { answer: 'on its way' }, 'trace.update() (a second trace-create) upserted');
  assert.equal(d.model, 'gpt-4o-mini');
  const byId = Object.fromEntries(d.observations.map((o) => [o.id, o]));
  const s = byId[span.id], g = byId[gen.id], e = byId[ev.id];
  assert.equal(s.type, 'SPAN');
  assert.equal(s.parent_id, null);
  assert.deepEqual(s.output, { docs: 3 }, 'span.end() (an update) merged into the create');
  assert.ok(s.end_ns >= s.start_ns);
  assert.equal(g.type, 'GENERATION');
  assert.equal(g.parent_id, span.id, 'nested generation keeps its parent');
  assert.equal(g.model, 'gpt-4o-mini');
  assert.deepEqual(g.model_params, { temperature: 0.1 });
  assert.deepEqual(g.output, { role: 'assistant', content: 'on its way' });
  assert.equal(g.usage_input, 40);
  assert.equal(g.usage_input_cached, 8);
  assert.equal(g.usage_output, 12);
  assert.ok(Math.abs(g.cost_usd - 0.001) < 1e-12, `cost ${g.cost_usd}`);
  assert.equal(e.type, 'EVENT');
  assert.equal(e.level, 'WARNING');
  assert.equal(e.status_message, 'email found');
  for (const o of d.observations) {
    assert.equal(o.trace_id, t.id);
    assert.equal(o.user_id, 'user-7', 'trace fields are copied onto every observation');
    assert.equal(o.session_id, 'sess-lf');
  }
  assert.equal(d.input_tokens, 48);
  assert.equal(d.output_tokens, 12);
  const sc = Object.fromEntries(d.scores.map((x) => [x.name, x]));
  assert.equal(sc.helpfulness.value, 0.75);
  assert.equal(sc.helpfulness.data_type, 'NUMERIC');
  assert.equal(sc.helpfulness.comment, 'ok');
  assert.equal(sc.correct.data_type, 'BOOLEAN');
  assert.equal(sc.correct.value, 1);
  assert.equal(sc.correct.observation_id, gen.id);
  assert.equal(sc.tone.data_type, 'CATEGORICAL');
  assert.equal(sc.tone.string_value, 'friendly');
  assert.equal(sc.tone.source, 'API');
  const one = await getJSON(`${keel.url}/api/v1/observations/${gen.id}`, asKey());
  assert.equal(one.status, 200);
  assert.equal(one.json.parent_id, span.id);
  const score = await getJSON(`${keel.url}/api/v1/scores/${sc.tone.id}`, asKey());
  assert.equal(score.json.trace_id, t.id);

  // the SDK's own batches sent again (what it does on a retry): nothing doubles
  for (const body of posted) {
    const r = await fetch(`${keel.url}/api/public/ingestion`, { method: 'POST', headers: { ...asKey(), 'content-type': 'application/json' }, body });
    assert.equal(r.status, 207);
    const j = await r.json();
    assert.equal(j.errors.length, 0, JSON.stringify(j.errors));
  }
  const again = await waitFor(`/api/v1/traces/${t.id}`, () => true);
  await new Promise((res) => setTimeout(res, 300)); // let the writer take the resent batch
  const after = await waitFor(`/api/v1/traces/${t.id}`, () => true);
  for (const x of [again, after]) {
    assert.equal(x.observation_count, 3);
    assert.equal(x.observations.length, 3);
    assert.equal(x.scores.length, 3);
    assert.equal(x.input_tokens, 48);
    assert.ok(Math.abs(x.cost_usd - 0.001) < 1e-12);
    assert.deepEqual(x.observations.find((o) => o.id === span.id).output, { docs: 3 });
  }

  // another project's key sees none of it
  assert.equal((await getJSON(`${keel.url}/api/v1/traces/${t.id}`, asKey(other))).status, 404);
  assert.equal((await getJSON(`${keel.url}/api/v1/scores/${sc.tone.id}`, asKey(other))).status, 404);
  // the admin key reads project "default" (or the one named by X-Keel-Project)
  assert.equal((await getJSON(`${keel.url}/api/v1/traces/${t.id}`, { authorization: `Bearer ${ADMIN}` })).status, 200);
  assert.equal((await getJSON(`${keel.url}/api/v1/traces/${t.id}`, { authorization: `Bearer ${ADMIN}`, 'x-keel-project': 'other-team' })).status, 404);
});

test('an update sent before its create (in an earlier request) merges with it', async () => {
  const tid = 'order-trace-1', oid = 'order-gen-1';
  const post = (batch) => fetch(`${keel.url}/api/public/ingestion`, {
    method: 'POST', headers: { ...asKey(), 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
  const upd = { id: 'env-u1', type: 'generation-update', timestamp: '2026-01-01T00:00:02.000Z',
    body: { id: oid, traceId: tid, endTime: '2026-01-01T00:00:02.000Z', output: 'done', usageDetails: { input: 7, output: 3 } } };
  const cre = { id: 'env-c1', type: 'generation-create', timestamp: '2026-01-01T00:00:01.000Z',
    body: { id: oid, traceId: tid, name: 'gen', model: 'm-1', startTime: '2026-01-01T00:00:01.000Z', input: 'question', output: 'partial' } };
  let r = await post([upd]);
  assert.equal(r.status, 207);
  await waitFor(`/api/v1/traces/${tid}`, (j) => j.observations.length === 1);
  r = await post([cre]);
  assert.equal((await r.json()).successes.length, 1);
  const d = await waitFor(`/api/v1/traces/${tid}`, (j) => j.observations[0].name === 'gen');
  const o = d.observations[0];
  assert.equal(o.type, 'GENERATION');
  assert.equal(o.input, 'question');
  assert.equal(o.output, 'done', 'the update wins over the create whatever arrived first');
  assert.equal(o.usage_input, 7);
  assert.equal(o.start_time, '2026-01-01T00:00:01.000Z');
  assert.equal(o.end_time, '2026-01-01T00:00:02.000Z');
  assert.equal(d.observation_count, 1);
  // replaying both, in either order, changes nothing
  await post([upd, cre]);
  await post([cre]);
  await new Promise((res) => setTimeout(res, 300));
  const again = await waitFor(`/api/v1/traces/${tid}`, () => true);
  assert.deepEqual(again.observations[0], o);

  // an update that names no trace finds its observation by id
  r = await post([{ id: 'env-u2', type: 'span-update', timestamp: '2026-01-01T00:00:03.000Z', body: { id: oid, statusMessage: 'late note' } }]);
  assert.equal((await r.json()).successes.length, 1);
  await waitFor(`/api/v1/observations/${oid}`, (j) => j.status_message === 'late note');
});

test('Langfuse ingestion: per-event errors in a 207, bad bodies 400, no credentials 401', async () => {
  const r = await fetch(`${keel.url}/api/public/ingestion`, {
    method: 'POST', headers: { ...asKey(), 'content-type': 'application/json' },
    body: JSON.stringify({ batch: [
      { id: 'ok-1', type: 'span-create', timestamp: '2026-01-01T00:00:00.000Z', body: { id: 'sp-ok', traceId: 'tr-mixed', name: 'fine' } },
      { id: 'bad-1', type: 'no-such-type', timestamp: '2026-01-01T00:00:00.000Z', body: {} },
      { id: 'bad-2', type: 'score-create', timestamp: '2026-01-01T00:00:00.000Z', body: { name: 'x', value: 1 } },
    ] }),
  });
  assert.equal(r.status, 207);
  const j = await r.json();
  assert.deepEqual(j.successes.map((s) => s.id), ['ok-1']);
  assert.deepEqual(j.errors.map((e) => [e.id, e.status]), [['bad-1', 400], ['bad-2', 400]]);
  const bad = await fetch(`${keel.url}/api/public/ingestion`, { method: 'POST', headers: asKey(), body: '{"nobatch":1}' });
  assert.equal(bad.status, 400);
  await bad.text();
  for (const headers of [{}, { authorization: basic({ ...key, secret_key: 'sk-lf-wrong' }) }, { authorization: 'Basic !!!' }, { authorization: 'Bearer nope' }]) {
    const u = await fetch(`${keel.url}/api/public/ingestion`, { method: 'POST', headers, body: '{"batch":[]}' });
    assert.equal(u.status, 401);
    await u.text();
  }
  const get = await fetch(`${keel.url}/api/public/ingestion`, asKey());
  assert.equal(get.status, 405);
  await get.text();
  // anonymous reads are refused when an admin key is configured
  assert.equal((await getJSON(`${keel.url}/api/v1/traces/tr-mixed`)).status, 401);
});

async function otelSpans(exporter) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'ingest-it', 'langfuse.environment': 'staging' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('ingest-it', '1.0.0');
  const root = tracer.startSpan('invoke_agent planner', { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'user.id': 'otel-user', 'session.id': 'otel-sess' } });
  const ctx = otTrace.setSpan(otContext.active(), root);
  const chat = tracer.startSpan('chat gpt-4o', {
    kind: SpanKind.CLIENT,
    attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 20, 'gen_ai.usage.cache_read.input_tokens': 30 },
  }, ctx);
  chat.addEvent('first-token');
  chat.end();
  const tool = tracer.startSpan('execute_tool lookup', { attributes: { 'gen_ai.operation.name': 'execute_tool' } }, ctx);
  tool.setStatus({ code: 2, message: 'tool failed' });
  tool.end();
  root.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { traceId: root.spanContext().traceId, root: root.spanContext().spanId, chat: chat.spanContext().spanId, tool: tool.spanContext().spanId };
}

function checkOtelTrace(d, ids) {
  assert.equal(d.observations.length, 3);
  const by = Object.fromEntries(d.observations.map((o) => [o.id, o]));
  assert.equal(by[ids.root].type, 'AGENT');
  assert.equal(by[ids.root].parent_id, null);
  assert.equal(by[ids.chat].type, 'GENERATION');
  assert.equal(by[ids.chat].parent_id, ids.root);
  assert.equal(by[ids.chat].model, 'gpt-4o');
  assert.equal(by[ids.chat].usage_input, 70, 'OTel input includes cached reads: stored without them');
  assert.equal(by[ids.chat].usage_input_cached, 30);
  assert.equal(by[ids.chat].usage_output, 20);
  assert.equal(by[ids.tool].type, 'TOOL');
  assert.equal(by[ids.tool].parent_id, ids.root);
  assert.equal(by[ids.tool].level, 'ERROR');
  assert.equal(d.user_id, 'otel-user');
  assert.equal(d.session_id, 'otel-sess');
  assert.equal(d.input_tokens, 100);
  assert.equal(d.status, 'error');
}

test('the OTLP protobuf exporter: spans, parents, GenAI usage', async () => {
  const ids = await otelSpans(new ProtoExporter({ url: `${keel.url}/v1/traces`, headers: asKey() }));
  const d = await waitFor(`/api/v1/traces/${ids.traceId}`, (j) => j.observations.length === 3);
  checkOtelTrace(d, ids);
});

test('the OTLP JSON exporter with gzip (chunked, no Content-Length) on Langfuse\'s OTel path', async () => {
  const ids = await otelSpans(new JsonExporter({ url: `${keel.url}/api/public/otel/v1/traces`, headers: asKey(), compression: 'gzip' }));
  const d = await waitFor(`/api/v1/traces/${ids.traceId}`, (j) => j.observations.length === 3);
  checkOtelTrace(d, ids);
});

test('OTLP replies: partial success, 400, 413, 415, 401, chunked upload', async () => {
  const span = (traceId, spanId) => ({ traceId, spanId, name: 's', kind: 1, startTimeUnixNano: '1767225600000000000', endTimeUnixNano: '1767225601000000000' });
  const body = { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'x' }, spans: [
    span('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'), span('00000000000000000000000000000000', 'b7ad6b7169203332')] }] }] };
  const post = (b, headers = {}) => fetch(`${keel.url}/v1/traces`, { method: 'POST', headers: { ...asKey(), 'content-type': 'application/json', ...headers }, body: b });
  let r = await post(JSON.stringify(body));
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(String(j.partialSuccess.rejectedSpans), '1');
  assert.ok(j.partialSuccess.errorMessage.length > 0);
  await waitFor('/api/v1/traces/0af7651916cd43dd8448eb211c80319c', (d) => d.observations.length === 1);
  r = await post('{"resourceSpans": [');
  assert.equal(r.status, 400);
  assert.equal((await r.json()).code, 3);
  r = await post(Buffer.from([0x0a, 0xff]), { 'content-type': 'application/x-protobuf' });
  assert.equal(r.status, 400);
  assert.match(r.headers.get('content-type'), /protobuf/);
  await r.arrayBuffer();
  r = await post('{}', { 'content-type': 'text/plain' });
  assert.equal(r.status, 415);
  await r.text();
  r = await post(gzipSync(Buffer.alloc(6 * 1024 * 1024, 0x20)), { 'content-encoding': 'gzip' });
  assert.equal(r.status, 413, 'the decompressed size is capped');
  await r.text();
  r = await post('not gzip at all', { 'content-encoding': 'gzip' });
  assert.equal(r.status, 400);
  await r.text();
  r = await fetch(`${keel.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(r.status, 401);
  await r.text();
  // a hand-made chunked request (no Content-Length), in two chunks
  const payload = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span('1af7651916cd43dd8448eb211c80319c', 'c7ad6b7169203331')] }] }] });
  const half = payload.length >> 1;
  const chunk = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const raw = await rawExchange(keel.port, [
    `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: ${basic(key)}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
    chunk(payload.slice(0, half)), 20, chunk(payload.slice(half)), '0\r\n\r\n']);
  assert.match(raw.data, /^HTTP\/1\.1 200/);
  await waitFor('/api/v1/traces/1af7651916cd43dd8448eb211c80319c', (d) => d.observations.length === 1);
});

test('ingestion limits: a plain body over 5 MiB is 413 on both paths, an unknown Content-Encoding 415', async () => {
  // between the server's 8 MiB request limit and ingestion's 5 MiB one (gcov: never reached)
  const pad = 'x'.repeat(6 * 1024 * 1024);
  const otlp = await fetch(`${keel.url}/v1/traces`, { method: 'POST', headers: { ...asKey(), 'content-type': 'application/json' },
    body: JSON.stringify({ resourceSpans: [], pad }) });
  assert.equal(otlp.status, 413);
  assert.match((await otlp.json()).message, /5 MiB/);
  const lf = await fetch(`${keel.url}/api/public/ingestion`, { method: 'POST', headers: { ...asKey(), 'content-type': 'application/json' },
    body: JSON.stringify({ batch: [], pad }) });
  assert.equal(lf.status, 413);
  await lf.text();
  const br = await fetch(`${keel.url}/api/public/ingestion`, { method: 'POST',
    headers: { ...asKey(), 'content-type': 'application/json', 'content-encoding': 'br' }, body: '{"batch":[]}' });
  assert.equal(br.status, 415);
  await br.text();
  const ok = await fetch(`${keel.url}/api/public/ingestion`, { method: 'POST', headers: { ...asKey(), 'content-type': 'application/json' },
    body: JSON.stringify({ batch: [] }) });
  assert.ok(ok.status < 300, 'and the next request is served');
  await ok.text();
});
