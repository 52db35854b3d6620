// The official `openai` npm client against keel: the proof that real clients work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startKeel, startMock, getJSON, waitTraces } from './lib.mjs';

let mock, keel, client;
before(async () => {
  mock = await startMock();
  keel = await startKeel({
    config: `
listen: 127.0.0.1:0
models:
  - name: mock
    provider: mock
  - name: gpt-4o-mini
    provider: openai
    base_url: ${mock.url}/v1
    forward_headers: ["x-mock-*"]
    api_key: sk-upstream-test-key-abcdef
`,
  });
  client = new OpenAI({ baseURL: `${keel.url}/v1`, apiKey: 'unused-by-keel', maxRetries: 0 });
});
after(async () => {
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
  assert.equal(await mock.stop(), 0, `mock exited cleanly:\n${mock.log.text.slice(-3000)}`);
});

async function traceOf(user) {
  const list = await waitTraces(keel.url, `?user_id=${user}`);
  return (await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`)).json;
}

for (const model of ['mock', 'gpt-4o-mini']) {
  test(`${model}: chat.completions.create`, async () => {
    const r = await client.chat.completions.create({
      model, user: `sdk-${model}`, messages: [{ role: 'user', content: 'Say hello to the SDK' }],
    });
    assert.equal(r.object, 'chat.completion');
    assert.ok(r.choices[0].message.content.length > 0);
    const t = await traceOf(`sdk-${model}`);
    const o = t.observations[0];
    assert.equal(o.output.content, r.choices[0].message.content);
    assert.equal(o.usage.input + o.usage.input_cached, r.usage.prompt_tokens);
    assert.equal(o.usage.output + o.usage.output_reasoning, r.usage.completion_tokens);
  });

  test(`${model}: streaming with the SDK's async iterator`, async () => {
    const stream = await client.chat.completions.create({
      model, user: `sdk-stream-${model}`, stream: true, messages: [{ role: 'user', content: 'Stream a short sentence' }],
    });
    let text = '';
    let n = 0;
    for await (const chunk of stream) {
      n++;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.ok(n >= 3);
    assert.ok(text.length > 0);
    const t = await traceOf(`sdk-stream-${model}`);
    assert.equal(t.observations[0].output.content, text);
    assert.ok(t.observations[0].usage.output > 0);
  });

  test(`${model}: a tool call and its result`, async () => {
    const tools = [{ type: 'function', function: { name: 'lookup_order', description: 'find an order', parameters: { type: 'object', properties: { order_id: { type: 'string' }, verbose: { type: 'boolean' } }, required: ['order_id'] } } }];
    const messages = [{ role: 'user', content: 'Where is order 42?' }];
    const r = await client.chat.completions.create({ model, messages, tools, user: `sdk-tool-${model}` });
    const call = r.choices[0].message.tool_calls[0];
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'lookup_order');
    const args = JSON.parse(call.function.arguments);
    assert.equal(typeof args.order_id, 'string');
    messages.push(r.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"status":"shipped"}' });
    const r2 = await client.chat.completions.create({ model, messages, tools });
    assert.equal(r2.choices[0].finish_reason, 'stop');
    assert.ok(r2.choices[0].message.content.length > 0);
    const t = await traceOf(`sdk-tool-${model}`);
    assert.equal(t.observations[0].output.tool_calls[0].function.name, 'lookup_order');
  });
}

test('errors surface as the SDK\'s typed errors', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && /nope/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'mock', messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-mock-fault': '429' } }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429);
  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'gpt-4o-mini'));
});
