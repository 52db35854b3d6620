// Process-level behaviour: auth, start-up refusals, config errors, slow clients, graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKeel, runKeel, chat, getJSON, rawExchange, waitTraces } from './lib.mjs';

test('with an admin key, /api needs it as a Bearer token; secrets never reach the trace', async () => {
  const keel = await startKeel({ env: { KEEL_ADMIN_KEY: 'admin-key-for-tests-123' } });
  try {
    assert.equal((await getJSON(`${keel.url}/api/v1/traces`)).status, 401);
    assert.equal((await getJSON(`${keel.url}/api/v1/traces`, { authorization: 'Bearer wrong' })).status, 401);
    const auth = { authorization: 'Bearer admin-key-for-tests-123' };
    // a prompt that carries the admin key and an Authorization-looking value
    const r = await chat(keel.url, { model: 'mock', messages: [{ role: 'user', content: 'my key is admin-key-for-tests-123 and Bearer sk-abcdefghijklmnop' }] }, { 'x-keel-user': 'sec' });
    assert.equal(r.status, 200);
    const list = await waitTraces(keel.url, '?user_id=sec', (d) => d.length > 0, auth);
    const d = await getJSON(`${keel.url}/api/v1/traces/${list.data[0].id}`, auth);
    const s = JSON.stringify(d.json);
    assert.ok(!s.includes('admin-key-for-tests-123'));
    assert.ok(!s.includes('sk-abcdefghijklmnop'));
    assert.match(s, /REDACTED/);
    // the OpenAI endpoints stay open
    assert.equal((await getJSON(`${keel.url}/v1/models`)).status, 200);
  } finally { assert.equal(await keel.stop(), 0, keel.log.text.slice(-3000)); keel.cleanup(); }
});

test('without an admin key keel refuses to listen beyond loopback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-it-'));
  const r = await runKeel(['serve', '--listen', '0.0.0.0:0', '--data-dir', dir]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /admin key/);
  rmSync(dir, { recursive: true, force: true });
});

test('a bad config names the file, line and problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-it-'));
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'listen: 127.0.0.1:4000\nmodels:\n  - name: x\n    provider: nope\n');
  const r = await runKeel(['serve', '--config', f, '--data-dir', dir]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /bad\.yaml:4/);
  assert.match(r.stderr, /provider/);
  rmSync(dir, { recursive: true, force: true });
});

test('a slow client that never finishes its headers gets 408 and is disconnected', async () => {
  const keel = await startKeel({
    config: 'listen: 127.0.0.1:0\nlimits:\n  header_timeout_ms: 300\n  body_timeout_ms: 300\nmodels:\n  - name: mock\n    provider: mock\n',
  });
  try {
    const r = await rawExchange(keel.port, ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'], { timeoutMs: 3000 });
    assert.match(r.data, /^HTTP\/1\.1 408/);
    assert.ok(r.closed);
    const b = await rawExchange(keel.port, ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"model"'], { timeoutMs: 3000 });
    assert.match(b.data, /^HTTP\/1\.1 408/);
    assert.equal((await getJSON(`${keel.url}/health`)).status, 200);
  } finally { assert.equal(await keel.stop(), 0, keel.log.text.slice(-3000)); keel.cleanup(); }
});

test('SIGTERM finishes in-flight calls and flushes every trace', async () => {
  const keel = await startKeel({ config: 'listen: 127.0.0.1:0\nmock:\n  latency_ms: 300\nmodels:\n  - name: mock\n    provider: mock\n' });
  const N = 20;
  const calls = [];
  for (let i = 0; i < N; i++) calls.push(chat(keel.url, { model: 'mock', messages: [{ role: 'user', content: `flush ${i}` }] }, { 'x-keel-session': 'flush' }));
  await new Promise((r) => setTimeout(r, 100));
  const code = keel.stop('SIGTERM');
  const results = await Promise.all(calls);
  assert.ok(results.every((r) => r.status === 200), 'in-flight calls completed');
  assert.equal(await code, 0);
  const again = await startKeel({ dataDir: keel.dataDir });
  try {
    const list = await getJSON(`${again.url}/api/v1/traces?session_id=flush&limit=100`);
    assert.equal(list.json.data.length, N);
  } finally { assert.equal(await again.stop(), 0, again.log.text.slice(-3000)); again.cleanup(); }
});

test('kill -9 keeps every trace the writer committed; the next start serves them', async () => {
  const keel = await startKeel();
  for (let i = 0; i < 10; i++) await chat(keel.url, { model: 'mock', messages: [{ role: 'user', content: `crash ${i}` }] }, { 'x-keel-session': 'crash' });
  await waitTraces(keel.url, '?session_id=crash', (d) => d.length === 10);
  await keel.stop('SIGKILL');
  const again = await startKeel({ dataDir: keel.dataDir });
  try {
    const list = await getJSON(`${again.url}/api/v1/traces?session_id=crash&limit=100`);
    assert.equal(list.json.data.length, 10);
  } finally { assert.equal(await again.stop(), 0, again.log.text.slice(-3000)); again.cleanup(); }
});
