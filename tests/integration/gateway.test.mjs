// The gateway on its embedded defaults (built-in mock provider): endpoints, tracing, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKeel, chat, chatStream, getJSON, waitTraces, rawExchange } from './lib.mjs';

let keel;
before(async () => { keel = await startKeel(); });
after(async () => { assert.equal(await keel.stop(), 0, `keel exited cleanly (no leak, no crash):\n${keel.log.text.slice(-3000)}`); keel.cleanup(); });

const msgs = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is the capital of France?' }];

test('health, models and metrics', async () => {
  const h = await getJSON(`${keel.url}/health`);
  assert.equal(h.status, 200);
  assert.equal(h.json.status, 'ok');
  const m = await getJSON(`${keel.url}/v1/models`);
  assert.equal(m.status, 200);
  assert.equal(m.json.object, 'list');
  assert.ok(m.json.data.some((x) => x.id === 'mock' && x.object === 'model'));
  const res = await fetch(`${keel.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/plain/);
  const text = await res.text();
  assert.match(text, /# TYPE keel_requests_total counter/);
  assert.match(text, /keel_trace_queue_depth \d+/);
});

test('non-streaming chat is answered and traced with usage, cost and latency', async () => {
  const r = await chat(keel.url, { model: 'mock', messages: msgs, temperature: 0.2 },
    { 'x-keel-user': 'alice', 'x-keel-session': 'sess-1', 'x-keel-tags': 'prod, eu', 'x-keel-metadata': '{"feature":"faq"}' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.json.choices[0].message.role, 'assistant');
  assert.ok(r.json.choices[0].message.content.length > 0);
  assert.ok(r.json.usage.prompt_tokens > 0 && r.json.usage.completion_tokens > 0);
  // deterministic: the same request gets the same answer
  const again = await chat(keel.url, { model: 'mock', messages: msgs, temperature: 0.2 });
  assert.equal(again.json.choices[0].message.content, r.json.choices[0].message.content);

  const list = await waitTraces(keel.url, '?user_id=alice');
  assert.equal(list.data.length, 1);
  const t = list.data[0];
  for (const k of ['id', 'timestamp', 'name', 'user_id', 'session_id', 'model', 'input_tokens', 'output_tokens', 'cost_usd', 'latency_ms', 'status'])
    assert.ok(k in t, `list row has ${k}`);
  assert.equal(t.user_id, 'alice');
  assert.equal(t.session_id, 'sess-1');
  assert.equal(t.model, 'mock');
  assert.equal(t.status, 'ok');
  assert.equal(t.input_tokens, r.json.usage.prompt_tokens);
  assert.equal(t.output_tokens, r.json.usage.completion_tokens);
  assert.match(t.id, /^[0-9a-f]{32}$/);

  const d = await getJSON(`${keel.url}/api/v1/traces/${t.id}`);
  assert.equal(d.status, 200);
  assert.equal(d.json.observations.length, 1);
  const o = d.json.observations[0];
  assert.equal(o.type, 'GENERATION');
  assert.match(o.id, /^[0-9a-f]{16}$/);
  assert.equal(o.provider, 'mock');
  assert.deepEqual(o.input, msgs);
  assert.equal(o.output.content, r.json.choices[0].message.content);
  assert.equal(o.finish_reason, 'stop');
  assert.equal(o.usage.input, r.json.usage.prompt_tokens);
  assert.equal(o.usage.output, r.json.usage.completion_tokens);
  assert.deepEqual(d.json.tags ?? o.tags, ['prod', 'eu']);
  assert.equal((d.json.metadata ?? o.metadata).feature, 'faq');
  assert.ok(o.latency_ms >= 0);
});

test('streaming chat relays chunks, hides the usage chunk it asked for, and traces the assembled answer', async () => {
  const body = { model: 'mock', messages: [{ role: 'user', content: 'stream me a few words please' }] };
  const s = await chatStream(keel.url, body, { 'x-keel-user': 'streamer' });
  assert.equal(s.status, 200);
  assert.match(s.headers.get('content-type'), /text\/event-stream/);
  assert.equal(s.events.at(-1), '[DONE]');
  const chunks = s.events.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.length >= 3, 'several chunks');
  assert.ok(chunks.every((c) => c.choices.length > 0), 'no usage-only chunk leaked to a client that did not ask');
  const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
  const whole = await chat(keel.url, body);
  assert.equal(text, whole.json.choices[0].message.content, 'streamed text equals the non-streamed answer');

  const list = await waitTraces(keel.url, '?user_id=streamer');
  const d = await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`);
  const o = d.json.observations[0];
  assert.equal(o.output.content, text);
  assert.equal(o.usage.output, whole.json.usage.completion_tokens, 'usage recorded for a stream');
  assert.ok(o.ttft_ms !== null && o.ttft_ms >= 0);

  const withUsage = await chatStream(keel.url, { ...body, stream_options: { include_usage: true } });
  const last = JSON.parse(withUsage.events.at(-2));
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, whole.json.usage.completion_tokens);
});

test('tools, tool_calls and unknown fields pass through', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
  const r = await chat(keel.url, { model: 'mock', messages: [{ role: 'user', content: 'weather in Paris?' }], tools, some_future_field: { x: 1 } });
  assert.equal(r.status, 200, r.text);
  const tc = r.json.choices[0].message.tool_calls;
  assert.equal(tc[0].function.name, 'get_weather');
  assert.equal(JSON.parse(tc[0].function.arguments).city, 'mock');
  assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
});

test('errors come in OpenAI format with the right status', async () => {
  const cases = [
    [await chat(keel.url, '{"model": "mock", "messages": ['), 400],
    [await chat(keel.url, '{"messages": [{"role":"user","content":"x"}]}'), 400],
    [await chat(keel.url, { model: 'mock', messages: [] }), 400],
    [await chat(keel.url, { model: 'mock', messages: [{ role: 'wizard', content: 'x' }] }), 400],
    [await chat(keel.url, { model: 'mock', messages: msgs, stream: 'yes' }), 400],
    [await chat(keel.url, { model: 'no-such-model', messages: msgs }), 404],
  ];
  for (const [r, status] of cases) {
    assert.equal(r.status, status, r.text);
    assert.equal(typeof r.json.error.message, 'string');
    assert.ok(r.json.error.message.length > 0);
    assert.ok('type' in r.json.error && 'param' in r.json.error && 'code' in r.json.error);
  }
  assert.equal(cases[5][0].json.error.code, 'model_not_found');
  // invalid UTF-8
  const bad = await fetch(`${keel.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: Buffer.concat([Buffer.from('{"model":"mock","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]),
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /UTF-8/);
  // method and route
  const get = await fetch(`${keel.url}/v1/chat/completions`);
  assert.equal(get.status, 405);
  await get.text();
  const nf = await fetch(`${keel.url}/v2/nothing`);
  assert.equal(nf.status, 404);
  assert.equal((await nf.json()).error.code, 'not_found');
  // the server keeps serving
  assert.equal((await getJSON(`${keel.url}/health`)).status, 200);
});

test('a body over the limit gets 413 and the server keeps serving', async () => {
  const big = 'x'.repeat(9 * 1024 * 1024);
  const r = await rawExchange(keel.port, [
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`,
  ]);
  assert.match(r.data, /^HTTP\/1\.1 413/);
  assert.equal((await getJSON(`${keel.url}/health`)).status, 200);
});

test('garbage on the socket gets 400, keep-alive serves several requests on one connection', async () => {
  const g = await rawExchange(keel.port, ['THIS IS NOT HTTP\r\n\r\n']);
  assert.match(g.data, /^HTTP\/1\.1 400/);
  const two = await rawExchange(keel.port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
  assert.equal((two.data.match(/HTTP\/1\.1 200/g) || []).length, 2);
});

test('trace list filters and paginates', async () => {
  for (let i = 0; i < 5; i++) await chat(keel.url, { model: 'mock', messages: [{ role: 'user', content: `page item ${i}` }] }, { 'x-keel-session': 'paging' });
  await waitTraces(keel.url, '?session_id=paging', (d) => d.length === 5);
  const seen = new Set();
  let cursor = '';
  for (let page = 0; page < 5; page++) {
    const r = await getJSON(`${keel.url}/api/v1/traces?session_id=paging&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(r.status, 200);
    for (const t of r.json.data) { assert.ok(!seen.has(t.id)); seen.add(t.id); }
    if (!r.json.next_cursor) break;
    cursor = r.json.next_cursor;
  }
  assert.equal(seen.size, 5);
  assert.equal((await getJSON(`${keel.url}/api/v1/traces?limit=0`)).status, 400);
  assert.equal((await getJSON(`${keel.url}/api/v1/traces?cursor=%%%bad`)).status, 400);
  assert.equal((await getJSON(`${keel.url}/api/v1/traces?model=mock&from=2000-01-01T00:00:00Z`)).status, 200);
  assert.equal((await getJSON(`${keel.url}/api/v1/traces/0123456789abcdef0123456789abcdef`)).status, 404);
});

test('traceparent continues the caller\'s trace', async () => {
  const tid = '4bf92f3577b34da6a3ce929d0e0e4736';
  const r = await chat(keel.url, { model: 'mock', messages: msgs }, { traceparent: `00-${tid}-00f067aa0ba902b7-01` });
  assert.equal(r.status, 200);
  let d;
  for (let i = 0; i < 100; i++) {
    d = await getJSON(`${keel.url}/api/v1/traces/${tid}`);
    if (d.status === 200) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(d.status, 200);
  assert.equal(d.json.observations[0].parent_id, '00f067aa0ba902b7');
});
