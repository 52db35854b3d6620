// Langfuse's v5 JS SDK (@langfuse/tracing + @langfuse/otel): OpenTelemetry spans with
// langfuse.* attributes, exported as OTLP/JSON to /api/public/otel/v1/traces with the
// project's Basic credentials, exactly as an app instrumented for Langfuse Cloud sends them.
// Read back through keel's own API: types, parents, trace attributes propagated to every
// span, usage and cost, levels.  The capture in ../shared/research/captures is the fixture
// of the unit tests; this is the proof with the real library.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { context as otContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { startActiveObservation, propagateAttributes, setLangfuseTracerProvider } from '@langfuse/tracing';
import { startKeel, getJSON, KEEL_BIN, pgEnv } from './lib.mjs';

let keel, key;

function createKey(dataDir) {
  return new Promise((resolve, reject) => {
    execFile(KEEL_BIN, ['keys', 'create', '--data-dir', dataDir, '--json'], { env: { ...process.env, ...pgEnv(dataDir) } },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
  });
}
const basic = (k) => `Basic ${Buffer.from(`${k.public_key}:${k.secret_key}`).toString('base64')}`;

async function waitFor(path, pred) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await getJSON(`${keel.url}${path}`, { authorization: basic(key) });
    if (r.status === 200 && pred(r.json)) return r.json;
    if (Date.now() > deadline) throw new Error(`${path} never matched: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

before(async () => {
  keel = await startKeel({ env: { KEEL_ADMIN_KEY: 'admin-for-langfuse-otel' } });
  key = await createKey(keel.dataDir);
  otContext.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
after(async () => {
  otContext.disable();
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
});

test('@langfuse/tracing + @langfuse/otel: an agent run lands in keel as one trace', async () => {
  const processor = new LangfuseSpanProcessor({
    publicKey: key.public_key, secretKey: key.secret_key, baseUrl: keel.url,
    exportMode: 'immediate', environment: 'staging', release: 'r-5.11',
  });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  setLangfuseTracerProvider(provider);
  const ids = {};
  try {
    await propagateAttributes({ userId: 'lf5-user', sessionId: 'lf5-sess', traceName: 'support-agent', tags: ['v5', 'otel'] },
      () => startActiveObservation('chat-request', async (root) => {
        root.update({ input: { question: 'where is my parcel?' } });
        const ret = root.startObservation('retrieval', { input: { query: 'parcel' } }, { asType: 'retriever' });
        ret.update({ output: { docs: 2 } }).end();
        const gen = root.startObservation('llm-call', {
          model: 'gpt-4o-mini', modelParameters: { temperature: 0.2 },
          input: [{ role: 'user', content: 'where is my parcel?' }],
        }, { asType: 'generation' });
        gen.update({
          output: { role: 'assistant', content: 'on its way' },
          usageDetails: { input: 50, output: 10 }, costDetails: { input: 0.0005, output: 0.0001 },
        }).end();
        const tool = root.startObservation('lookup-order', { input: { id: 7 } }, { asType: 'tool' });
        tool.update({ output: { status: 'shipped' } }).end();
        const rail = root.startObservation('pii-guardrail', { level: 'WARNING', statusMessage: 'email found' }, { asType: 'guardrail' });
        rail.end();
        root.update({ output: { answer: 'on its way' } });
        Object.assign(ids, { trace: root.traceId, root: root.id, ret: ret.id, gen: gen.id, tool: tool.id, rail: rail.id });
      }, { asType: 'agent' }));
    await processor.forceFlush(); // the exporter rejects on any non-2xx answer
  } finally {
    await provider.shutdown();
  }

  const d = await waitFor(`/api/v1/traces/${ids.trace}`, (j) => j.observations.length === 5);
  const by = Object.fromEntries(d.observations.map((o) => [o.id, o]));
  assert.equal(by[ids.root].type, 'AGENT');
  assert.equal(by[ids.root].parent_id, null);
  assert.equal(by[ids.ret].type, 'RETRIEVER');
  assert.equal(by[ids.gen].type, 'GENERATION');
  assert.equal(by[ids.tool].type, 'TOOL');
  assert.equal(by[ids.rail].type, 'GUARDRAIL');
  for (const k of ['ret', 'gen', 'tool', 'rail']) assert.equal(by[ids[k]].parent_id, ids.root, `${k} is the agent's child`);
  assert.equal(by[ids.gen].model, 'gpt-4o-mini');
  assert.equal(by[ids.gen].usage_input, 50);
  assert.equal(by[ids.gen].usage_output, 10);
  assert.ok(Math.abs(by[ids.gen].cost_usd - 0.0006) < 1e-12, `cost from costDetails: ${by[ids.gen].cost_usd}`);
  assert.deepEqual(by[ids.gen].output, { role: 'assistant', content: 'on its way' });
  assert.deepEqual(by[ids.tool].input, { id: 7 });
  assert.equal(by[ids.rail].level, 'WARNING');
  assert.equal(by[ids.rail].status_message, 'email found');
  assert.equal(d.name, 'support-agent');
  assert.equal(d.user_id, 'lf5-user');
  assert.equal(d.session_id, 'lf5-sess');
  assert.deepEqual(d.tags, ['v5', 'otel']);
  assert.equal(d.environment, 'staging');
  assert.equal(d.release, 'r-5.11');
  assert.equal(d.input_tokens, 50);
  assert.equal(d.output_tokens, 10);

  // the session and user views see it too
  const s = await waitFor('/api/v1/sessions/lf5-sess', (j) => j.traces && j.traces.length === 1);
  assert.equal(s.traces[0].id, ids.trace);
  const u = await waitFor('/api/v1/users/lf5-user', (j) => j.trace_count === 1);
  assert.equal(u.traces[0].id, ids.trace);
});

test('@langfuse/otel with wrong credentials is refused (401), nothing is stored', async () => {
  const processor = new LangfuseSpanProcessor({ publicKey: key.public_key, secretKey: 'sk-lf-wrong', baseUrl: keel.url, exportMode: 'immediate' });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  setLangfuseTracerProvider(provider);
  let traceId;
  try {
    await startActiveObservation('refused', async (root) => { traceId = root.traceId; });
    await assert.rejects(processor.forceFlush(), (e) => e.code === 401 && /invalid credentials/.test(e.data));
  } finally {
    await provider.shutdown().catch(() => {});
  }
  const r = await getJSON(`${keel.url}/api/v1/traces/${traceId}`, { authorization: basic(key) });
  assert.equal(r.status, 404);
});
