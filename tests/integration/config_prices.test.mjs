// Prices from the config file, end to end: a call through the gateway is recorded with the
// cost the config says (docs/configuration.md, "Where a call's cost comes from").  The parser
// has its own tests (test_gateway_config.c); gcov showed that no test ever started a gateway
// with `prices:` or a deployment's `price:`, so the step that turns them into the price
// table keel prices with (gateway.c) had never run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKeel, chat, waitTraces, getJSON } from './lib.mjs';

let keel;

before(async () => {
  keel = await startKeel({
    config: `
prices:
  - {model: my-finetune, input: 0.5, output: 1.5}
  - {model: my-finetune, input: 0.4, output: 1.2, effective_from: 2026-01-01}
  - {model: not-yet, input: 9, output: 9, effective_from: 2099-01-01}
  - {model: by-public-name, input: 3, output: 4}
models:
  - {name: my-finetune, provider: mock}
  - {name: own-price, provider: mock, price: {input: 2.5, output: 10}}
  - {name: by-public-name, provider: mock, price: [{input: 7, output: 7, effective_from: 2099-01-01}]}
  - {name: not-yet, provider: mock}
`,
  });
});

after(async () => {
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
});

// The generation of one call to `model`, and the usage the client was told.
async function generationOf(model) {
  const user = `u-${model}`;
  const r = await chat(keel.url, { model, messages: [{ role: 'user', content: `price me, ${model}` }] }, { 'x-keel-user': user });
  assert.equal(r.status, 200, r.text);
  const list = await waitTraces(keel.url, `?user_id=${user}`);
  const d = await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`);
  return { o: d.json.observations.find((x) => x.type === 'GENERATION'), usage: r.json.usage, row: list.data[0] };
}

const near = (a, b) => Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b);

test('a prices: entry prices its model, the newest entry in effect winning', async () => {
  const { o, usage, row } = await generationOf('my-finetune');
  const want = usage.prompt_tokens * 0.4e-6 + usage.completion_tokens * 1.2e-6;  // the 2026-01-01 entry
  assert.ok(near(o.cost_usd, want), `${o.cost_usd} != ${want}`);
  assert.equal(o.cost.source, 'config');
  assert.ok(near(row.cost_usd, want), 'the trace row sums it');
});

test('a deployment\'s own price: wins over the table', async () => {
  const { o, usage } = await generationOf('own-price');
  assert.ok(near(o.cost_usd, usage.prompt_tokens * 2.5e-6 + usage.completion_tokens * 10e-6), String(o.cost_usd));
  assert.equal(o.cost.source, 'config');
});

test('a deployment price not yet in effect falls through to the prices: entry for its name', async () => {
  const { o, usage } = await generationOf('by-public-name');
  assert.ok(near(o.cost_usd, usage.prompt_tokens * 3e-6 + usage.completion_tokens * 4e-6), String(o.cost_usd));
});

test('a model whose only price is in the future has no cost: null, never 0', async () => {
  const { o } = await generationOf('not-yet');
  assert.equal(o.cost_usd, null);
});
