// /v1/embeddings, /v1/responses and /v1/messages through the real binary, with the official
// `openai` and `@anthropic-ai/sdk` clients, against `keel mock-upstream` (openai and anthropic
// deployments over real HTTP) and the in-process mock.  Every test checks the answer AND the
// stored trace (observation type, usage buckets, cost).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startKeel, startMock, getJSON, waitTraces, chatStream } from './lib.mjs';

let mock, keel, oai, anth;
before(async () => {
  mock = await startMock();
  keel = await startKeel({
    config: `
listen: 127.0.0.1:0
models:
  - name: mock
    provider: mock
  - name: emb
    provider: openai
    model: text-embedding-3-small
    base_url: ${mock.url}/v1
    forward_headers: ["x-mock-*"]
    api_key: sk-upstream-test-key-abcdef
  - name: gpt
    provider: openai
    model: gpt-4o-mini
    base_url: ${mock.url}/v1
    forward_headers: ["x-mock-*"]
    api_key: sk-upstream-test-key-abcdef
  - name: claude
    provider: anthropic
    model: claude-haiku-4-5
    base_url: ${mock.url}
    forward_headers: ["x-mock-*"]
    api_key: sk-ant-upstream-test-key-abcdef
  - name: claude-via-chat
    provider: openai
    model: claude-haiku-4-5
    base_url: ${mock.url}/v1
    forward_headers: ["x-mock-*"]
`,
  });
  oai = new OpenAI({ baseURL: `${keel.url}/v1`, apiKey: 'unused-by-keel', maxRetries: 0 });
  anth = new Anthropic({ baseURL: keel.url, apiKey: 'unused-by-keel', maxRetries: 0 });
});
after(async () => {
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
  assert.equal(await mock.stop(), 0, `mock exited cleanly:\n${mock.log.text.slice(-3000)}`);
});

async function obsOf(user) {
  const list = await waitTraces(keel.url, `?user_id=${user}`);
  const t = (await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`)).json;
  assert.equal(t.observations.length, 1);
  return t.observations[0];
}
const near = (a, b) => Math.abs(a - b) < 1e-12;
const u = (user, extra = {}) => ({ headers: { 'x-keel-user': user, ...extra } });

// ---------------- embeddings ----------------

for (const model of ['emb', 'mock']) {
  test(`${model}: embeddings.create, traced as EMBEDDING without the vectors`, async () => {
    const user = `it-emb-${model}`;
    const r = await oai.embeddings.create({ model, input: ['the cat sat on the mat', 'dogs run fast'], dimensions: 32 }, u(user));
    assert.equal(r.data.length, 2);
    assert.equal(r.data[0].embedding.length, 32);
    const o = await obsOf(user);
    assert.equal(o.type, 'EMBEDDING');
    assert.equal(o.usage.input, r.usage.prompt_tokens);
    assert.equal(o.usage.output, 0);
    assert.deepEqual(o.output, { count: 2, dimensions: 32 });
    assert.ok(JSON.stringify(o.input).includes('the cat sat on the mat'));
    if (model === 'emb') assert.ok(near(o.cost_usd, r.usage.prompt_tokens * 0.02e-6), `${o.cost_usd}`);
  });
}

test('embeddings: the SDK default (base64) is decoded by the client; 400 and 404 are OpenAI errors', async () => {
  const r = await oai.embeddings.create({ model: 'emb', input: 'hello' }, u('it-emb-b64'));
  assert.ok(r.data[0].embedding.length > 0);
  const o = await obsOf('it-emb-b64');
  assert.equal(o.output.dimensions, r.data[0].embedding.length);
  await assert.rejects(oai.embeddings.create({ model: 'emb', input: [] }), (e) => e.status === 400 && /empty/.test(e.message));
  await assert.rejects(oai.embeddings.create({ model: 'claude', input: 'x' }), (e) => e.status === 400 && /anthropic/.test(e.message));
  await assert.rejects(oai.embeddings.create({ model: 'nope', input: 'x' }), (e) => e.status === 404);
});

// ---------------- responses ----------------

for (const model of ['gpt', 'mock']) {
  test(`${model}: responses.create, usage split into keel's buckets`, async () => {
    const user = `it-resp-${model}`;
    const r = await oai.responses.create({ model, instructions: 'be brief', input: 'tell me about otters' },
      u(user, { 'x-mock-cached-tokens': '4', 'x-mock-reasoning-tokens': '6' }));
    assert.equal(r.object, 'response');
    assert.ok(r.output_text.length > 0);
    const o = await obsOf(user);
    assert.equal(o.type, 'GENERATION');
    assert.equal(o.usage.input, r.usage.input_tokens - 4);
    assert.equal(o.usage.input_cached, 4);
    assert.equal(o.usage.output, r.usage.output_tokens - 6);
    assert.equal(o.usage.output_reasoning, 6);
    assert.deepEqual(o.output, r.output);
    assert.equal(o.input.instructions, 'be brief');
    if (model === 'gpt') {
      const expect = (r.usage.input_tokens - 4) * 0.15e-6 + 4 * 0.075e-6 + r.usage.output_tokens * 0.6e-6;
      assert.ok(near(o.cost_usd, expect), `${o.cost_usd} vs ${expect}`);
    }
  });

  test(`${model}: responses.create stream, relayed event by event`, async () => {
    const user = `it-resp-stream-${model}`;
    const stream = await oai.responses.create({ model, input: 'stream about rivers', stream: true }, u(user));
    const types = [];
    let text = '';
    let final = null;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') final = ev.response;
    }
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.ok(text.length > 0);
    const o = await obsOf(user);
    assert.equal(o.level, 'DEFAULT');
    assert.equal(o.usage.input, final.usage.input_tokens);
    assert.equal(o.usage.output, final.usage.output_tokens);
    assert.equal(o.output[0].content[0].text, text);
  });
}

test('responses: a stream cut short ends with an error event and an ERROR trace', async () => {
  const res = await fetch(`${keel.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mock-fault': 'truncate', 'x-keel-user': 'it-resp-trunc' },
    body: JSON.stringify({ model: 'gpt', input: 'some words to stream here', stream: true }),
  });
  const raw = await res.text();
  assert.match(raw, /event: error\ndata: \{"type":"error"/);
  assert.doesNotMatch(raw, /event: response\.completed/);
  const o = await obsOf('it-resp-trunc');
  assert.equal(o.level, 'ERROR');
});

// ---------------- messages ----------------

const CLAUDE_PRICE = { input: 1e-6, cached: 0.1e-6, write: 1.25e-6, output: 5e-6 };
for (const model of ['claude', 'claude-via-chat', 'mock']) {
  test(`${model}: messages.create (Anthropic SDK)`, async () => {
    const user = `it-msg-${model}`;
    const r = await anth.messages.create({
      model, max_tokens: 200, system: 'be kind', messages: [{ role: 'user', content: 'hello from the anthropic sdk' }],
    }, u(user, { 'x-mock-cached-tokens': '3' }));
    assert.equal(r.type, 'message');
    assert.equal(r.stop_reason, 'end_turn');
    assert.ok(r.content[0].text.length > 0);
    assert.equal(r.usage.cache_read_input_tokens, 3);
    const o = await obsOf(user);
    assert.equal(o.name, 'messages');
    assert.equal(o.usage.input, r.usage.input_tokens);
    assert.equal(o.usage.input_cached, 3);
    assert.equal(o.usage.output, r.usage.output_tokens);
    assert.equal(o.output.content[0].text, r.content[0].text);
    if (model !== 'mock') {
      const expect = r.usage.input_tokens * CLAUDE_PRICE.input + 3 * CLAUDE_PRICE.cached + r.usage.output_tokens * CLAUDE_PRICE.output;
      assert.ok(near(o.cost_usd, expect), `${o.cost_usd} vs ${expect}`);
    }
  });

  test(`${model}: messages.stream (Anthropic SDK)`, async () => {
    const user = `it-msg-stream-${model}`;
    const stream = anth.messages.stream({
      model, max_tokens: 200, messages: [{ role: 'user', content: 'stream a sentence please' }],
    }, u(user));
    let text = '';
    stream.on('text', (t) => { text += t; });
    const m = await stream.finalMessage();
    assert.equal(m.content[0].text, text);
    assert.ok(text.length > 0);
    const o = await obsOf(user);
    assert.equal(o.level, 'DEFAULT');
    assert.equal(o.output.content[0].text, text);
    assert.equal(o.usage.output, m.usage.output_tokens);
    assert.ok(o.usage.input > 0);
    if (model !== 'mock') assert.ok(o.cost_usd > 0);
  });

  test(`${model}: a tool-use turn (Anthropic SDK)`, async () => {
    const tools = [{ name: 'get_weather', description: 'weather for a city',
      input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
    const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const r1 = await anth.messages.create({ model, max_tokens: 200, tools, messages }, u(`it-tool1-${model}`));
    assert.equal(r1.stop_reason, 'tool_use');
    const call = r1.content.find((b) => b.type === 'tool_use');
    assert.equal(call.name, 'get_weather');
    assert.equal(typeof call.input.city, 'string');
    const o1 = await obsOf(`it-tool1-${model}`);
    assert.equal(o1.finish_reason, 'tool_use');
    assert.ok(o1.output.content.some((b) => b.type === 'tool_use' && b.name === 'get_weather'));
    const r2 = await anth.messages.create({
      model, max_tokens: 200, tools,
      messages: [...messages, { role: 'assistant', content: r1.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny, 21C' }] }],
    }, u(`it-tool2-${model}`));
    assert.equal(r2.stop_reason, 'end_turn');
    assert.ok(r2.content[0].text.length > 0);
    const o2 = await obsOf(`it-tool2-${model}`);
    assert.ok(JSON.stringify(o2.input).includes('sunny, 21C'));
  });
}

test('messages: errors come in Anthropic\'s format with the upstream status', async () => {
  for (const model of ['claude', 'claude-via-chat']) {
    await assert.rejects(
      anth.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }, u('it-msg-err', { 'x-mock-fault': '429', 'x-mock-retry-after': '1' })),
      (e) => e.status === 429 && e.error?.type === 'error' && e.error?.error?.type === 'rate_limit_error');
  }
  await assert.rejects(anth.messages.create({ model: 'nope', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.error?.error?.type === 'not_found_error');
});

// ---------------- chat completions on an anthropic deployment (native Messages) ----------------

test('chat completions on an anthropic deployment: answer and stream translated from Messages', async () => {
  const r = await oai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi claude' }] }, u('it-chat-claude'));
  assert.equal(r.object, 'chat.completion');
  assert.ok(r.choices[0].message.content.length > 0);
  const o = await obsOf('it-chat-claude');
  assert.equal(o.provider, 'anthropic');
  assert.equal(o.usage.input + o.usage.input_cached, r.usage.prompt_tokens);
  assert.ok(near(o.cost_usd, r.usage.prompt_tokens * 1e-6 + r.usage.completion_tokens * 5e-6));

  const s = await chatStream(keel.url, { model: 'claude', messages: [{ role: 'user', content: 'stream please claude' }] },
    { 'x-keel-user': 'it-chat-claude-stream' });
  assert.equal(s.status, 200);
  assert.equal(s.events.at(-1), '[DONE]');
  const chunks = s.events.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  assert.ok(chunks.every((c) => c.choices.length > 0), 'the usage chunk keel asked for is not relayed');
  const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
  const os = await obsOf('it-chat-claude-stream');
  assert.equal(os.output.content, text);
  assert.ok(os.usage.output > 0 && !os.usage_estimated);

  // a field Anthropic cannot express is a 400 naming it
  await assert.rejects(oai.chat.completions.create({ model: 'claude', n: 2, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 400 && /\bn\b/.test(e.message));
});
