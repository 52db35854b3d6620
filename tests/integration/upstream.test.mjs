// keel in front of `keel mock-upstream` (provider openai over real HTTP): every fault mode.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKeel, startMock, chat, chatStream, getJSON, waitTraces } from './lib.mjs';

let mock, keel;
const KEY = 'sk-test-secret-key-0123456789abcdef';
before(async () => {
  mock = await startMock(['--chunk-delay-ms', '2']);
  keel = await startKeel({
    config: `
listen: 127.0.0.1:0
models:
  - name: up
    provider: openai
    model: gpt-4o-mini
    base_url: ${mock.url}/v1
    forward_headers: ["x-mock-*"]
    api_key: \${TEST_UPSTREAM_KEY}
    timeout_ms: 1500
  - name: up-ttft
    provider: openai
    model: gpt-4o-mini
    base_url: ${mock.url}/v1
    forward_headers: ["x-mock-*"]
    api_key: \${TEST_UPSTREAM_KEY}
    first_token_timeout_ms: 300
  - name: claude-compat
    provider: anthropic
    model: claude-haiku-4-5
    base_url: ${mock.url}
    forward_headers: ["x-mock-*"]
    api_key: \${TEST_UPSTREAM_KEY}
  - name: up-plain
    provider: openai
    model: gpt-4o-mini
    base_url: ${mock.url}/v1
    api_key: \${TEST_UPSTREAM_KEY}
  - name: dead
    provider: openai
    model: gpt-4o-mini
    base_url: http://127.0.0.1:1/v1
    connect_timeout_ms: 500
`,
    env: { TEST_UPSTREAM_KEY: KEY },
  });
});
after(async () => {
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
  assert.equal(await mock.stop(), 0, `mock exited cleanly:\n${mock.log.text.slice(-3000)}`);
});

const body = { model: 'up', messages: [{ role: 'user', content: 'hello upstream, say something' }] };

test('non-streaming call through a real HTTP upstream, priced with the upstream model', async () => {
  const r = await chat(keel.url, body, { 'x-keel-user': 'u-ok' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'chat.completion');
  const list = await waitTraces(keel.url, '?user_id=u-ok');
  const t = list.data[0];
  assert.ok(t.cost_usd > 0, 'gpt-4o-mini is priced');
  const d = await getJSON(`${keel.url}/api/v1/traces/${t.id}`);
  const o = d.json.observations[0];
  assert.equal(o.upstream_model, 'gpt-4o-mini');
  assert.equal(o.provider, 'openai');
  // cost = 0.15/M input + 0.6/M output for gpt-4o-mini
  const expect = r.json.usage.prompt_tokens * 0.15e-6 + r.json.usage.completion_tokens * 0.6e-6;
  assert.ok(Math.abs(o.cost_usd - expect) < 1e-12, `${o.cost_usd} vs ${expect}`);
  assert.ok(!JSON.stringify(d.json).includes(KEY), 'the provider key is never stored');
});

test('cached and reasoning buckets are stored without overlap and priced per bucket', async () => {
  const r = await chat(keel.url, body, { 'x-keel-user': 'u-cache', 'x-mock-cached-tokens': '4', 'x-mock-reasoning-tokens': '7' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.prompt_tokens_details.cached_tokens, 4);
  const list = await waitTraces(keel.url, '?user_id=u-cache');
  const o = (await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`)).json.observations[0];
  assert.equal(o.usage.input_cached, 4);
  assert.equal(o.usage.input, r.json.usage.prompt_tokens - 4);
  assert.equal(o.usage.output_reasoning, 7);
  assert.equal(o.usage.output, r.json.usage.completion_tokens - 7);
  const expect = (r.json.usage.prompt_tokens - 4) * 0.15e-6 + 4 * 0.075e-6 + r.json.usage.completion_tokens * 0.6e-6;
  assert.ok(Math.abs(o.cost_usd - expect) < 1e-12, `${o.cost_usd} vs ${expect}`);
});

test('streaming through a real upstream: usage requested upstream, hidden from the client, recorded', async () => {
  const s = await chatStream(keel.url, body, { 'x-keel-user': 'u-stream' });
  assert.equal(s.status, 200);
  assert.equal(s.events.at(-1), '[DONE]');
  assert.ok(s.events.slice(0, -1).every((e) => JSON.parse(e).choices.length > 0));
  const list = await waitTraces(keel.url, '?user_id=u-stream');
  assert.ok(list.data[0].output_tokens > 0, 'streamed usage is not dropped');
  assert.ok(list.data[0].cost_usd > 0);
});

test('an anthropic deployment answers through the OpenAI-compatible endpoint, priced as Claude', async () => {
  const r = await chat(keel.url, { ...body, model: 'claude-compat' }, { 'x-keel-user': 'u-claude' });
  assert.equal(r.status, 200, r.text);
  const list = await waitTraces(keel.url, '?user_id=u-claude');
  const o = (await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`)).json.observations[0];
  assert.equal(o.provider, 'anthropic');
  assert.equal(o.upstream_model, 'claude-haiku-4-5');
  // claude-haiku-4-5: $1/M input, $5/M output
  const expect = r.json.usage.prompt_tokens * 1e-6 + r.json.usage.completion_tokens * 5e-6;
  assert.ok(Math.abs(o.cost_usd - expect) < 1e-12, `${o.cost_usd} vs ${expect}`);
});

test('upstream error statuses are relayed, never 200', async () => {
  const r500 = await chat(keel.url, body, { 'x-mock-fault': 'status=500', 'x-keel-user': 'u-500' });
  assert.equal(r500.status, 500);
  assert.ok(r500.json.error.message);
  const r429 = await chat(keel.url, body, { 'x-mock-fault': '429', 'x-mock-retry-after': '7' });
  assert.equal(r429.status, 429);
  assert.equal(r429.headers.get('retry-after'), '7');
  const list = await waitTraces(keel.url, '?user_id=u-500');
  assert.equal(list.data[0].status, 'error');
});

test('client headers reach the upstream only when the deployment forwards them', async () => {
  // up-plain has no forward_headers: the fault header stays at keel, the mock answers normally
  const r = await chat(keel.url, { ...body, model: 'up-plain' }, { 'x-mock-fault': 'status=500' });
  assert.equal(r.status, 200);
  const f = await chat(keel.url, body, { 'x-mock-fault': 'status=503' }); // up forwards x-mock-*
  assert.equal(f.status, 503);
});

test('upstream hang -> 504 after the deployment timeout', async () => {
  const r = await chat(keel.url, body, { 'x-mock-fault': 'hang' });
  assert.equal(r.status, 504);
  assert.equal(r.json.error.code, 'upstream_timeout');
});

test('a streamed call to a hanging upstream -> 504 before any byte is sent', async () => {
  const s = await chatStream(keel.url, body, { 'x-mock-fault': 'hang' });
  assert.equal(s.status, 504);
  assert.equal(JSON.parse(s.raw).error.code, 'upstream_timeout');
});

test('time to first token timeout -> 504', async () => {
  const r = await chat(keel.url, { ...body, model: 'up-ttft' }, { 'x-mock-latency-ms': '2000' });
  assert.equal(r.status, 504);
});

test('connection refused -> 502', async () => {
  const r = await chat(keel.url, { ...body, model: 'dead' });
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'upstream_unreachable');
});

test('reset before answering -> 502; malformed JSON -> 502', async () => {
  const reset = await chat(keel.url, body, { 'x-mock-fault': 'reset' });
  assert.equal(reset.status, 502);
  const bad = await chat(keel.url, body, { 'x-mock-fault': 'malformed' });
  assert.equal(bad.status, 502);
  assert.equal(bad.json.error.code, 'upstream_invalid_response');
});

test('stream faults end with an error event and no [DONE]', async () => {
  for (const fault of ['reset', 'truncate', 'malformed']) {
    const s = await chatStream(keel.url, body, { 'x-mock-fault': fault, 'x-keel-user': `u-s-${fault}` });
    assert.equal(s.status, 200, fault);
    assert.notEqual(s.events.at(-1), '[DONE]', fault);
    const last = JSON.parse(s.events.at(-1));
    assert.ok(last.error && last.error.message, `${fault}: error event`);
    const list = await waitTraces(keel.url, `?user_id=u-s-${fault}`);
    assert.equal(list.data[0].status, 'error', fault);
  }
});

test('a client that disconnects cancels its upstream call and the call is traced', async () => {
  const ac = new AbortController();
  const p = fetch(`${keel.url}/v1/chat/completions`, {
    method: 'POST', signal: ac.signal,
    headers: { 'content-type': 'application/json', 'x-mock-latency-ms': '1000', 'x-keel-user': 'u-gone' },
    body: JSON.stringify(body),
  }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 200));
  ac.abort();
  await p;
  const list = await waitTraces(keel.url, '?user_id=u-gone');
  assert.equal(list.data[0].status, 'error');
  const d = await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`);
  assert.match(d.json.observations[0].status_message, /client disconnected/);
  const m = await (await fetch(`${keel.url}/metrics`)).text();
  assert.match(m, /keel_inflight_requests 0/);
});
