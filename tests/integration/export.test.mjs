// OTLP export (keel issue 5): keel configured with `export.otlp` sends its own traces to a
// collector.  The collector here is a node HTTP server that records what it gets; JSON bodies
// are parsed as is, protobuf ones with the small reader below (field numbers from the OTLP
// protos), so the test needs no npm package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { startKeel, chat, waitTraces } from './lib.mjs';

function startCollector() {
  const reqs = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      reqs.push({ path: req.url, headers: req.headers, body });
      const json = (req.headers['content-type'] || '').includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
      for (const w of waiters.splice(0)) w();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/v1/traces`,
    reqs,
    // resolves once pred(reqs) holds (20 s at most)
    async until(pred) {
      const deadline = Date.now() + 20000;
      while (!pred(reqs)) {
        if (Date.now() > deadline) throw new Error(`collector: condition not met; ${reqs.length} requests`);
        await new Promise((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    },
    close: () => new Promise((r) => server.close(r)),
  })));
}

// ---- a minimal protobuf reader for ExportTraceServiceRequest ----
function fields(buf) {
  const out = [];
  let p = 0;
  const varint = () => {
    let v = 0n, s = 0n;
    for (;;) {
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << s;
      if (!(b & 0x80)) return v;
      s += 7n;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const f = key >> 3, wt = key & 7;
    if (wt === 0) out.push([f, varint()]);
    else if (wt === 1) { out.push([f, buf.subarray(p, p + 8)]); p += 8; }
    else if (wt === 2) { const n = Number(varint()); out.push([f, buf.subarray(p, p + n)]); p += n; }
    else if (wt === 5) { out.push([f, buf.subarray(p, p + 4)]); p += 4; }
    else throw new Error(`wire type ${wt}`);
  }
  return out;
}
function anyValue(buf) {
  for (const [f, v] of fields(buf)) {
    if (f === 1) return v.toString('utf8');
    if (f === 2) return v !== 0n;
    if (f === 3) return Number(BigInt.asIntN(64, v));
    if (f === 4) return v.readDoubleLE(0);
    if (f === 5) return fields(v).filter(([g]) => g === 1).map(([, x]) => anyValue(x));
  }
  return null;
}
function kv(buf) {
  let key = '', value = null;
  for (const [f, v] of fields(buf)) { if (f === 1) key = v.toString('utf8'); if (f === 2) value = anyValue(v); }
  return [key, value];
}
function decodePb(buf) {
  const spans = [];
  for (const [f1, rs] of fields(buf)) {
    if (f1 !== 1) continue;
    for (const [f2, ss] of fields(rs)) {
      if (f2 !== 2) continue;
      for (const [f3, sp] of fields(ss)) {
        if (f3 !== 2) continue;
        const s = { attributes: {} };
        for (const [f, v] of fields(sp)) {
          if (f === 1) s.traceId = v.toString('hex');
          else if (f === 2) s.spanId = v.toString('hex');
          else if (f === 5) s.name = v.toString('utf8');
          else if (f === 6) s.kind = Number(v);
          else if (f === 7) s.start = v.readBigUInt64LE(0);
          else if (f === 8) s.end = v.readBigUInt64LE(0);
          else if (f === 9) { const [k, x] = kv(v); s.attributes[k] = x; }
        }
        spans.push(s);
      }
    }
  }
  return spans;
}
// JSON spans in the same shape as decodePb's
function decodeJson(buf) {
  const val = (v) => ('stringValue' in v ? v.stringValue : 'intValue' in v ? Number(v.intValue)
    : 'doubleValue' in v ? v.doubleValue : 'boolValue' in v ? v.boolValue
    : 'arrayValue' in v ? v.arrayValue.values.map(val) : null);
  const j = JSON.parse(buf.toString('utf8'));
  return j.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({
    traceId: s.traceId, spanId: s.spanId, name: s.name, kind: s.kind, start: BigInt(s.startTimeUnixNano),
    end: BigInt(s.endTimeUnixNano), status: s.status, resource: rs.resource,
    attributes: Object.fromEntries(s.attributes.map((a) => [a.key, val(a.value)])),
  }))));
}
const spansOf = (reqs) => reqs.flatMap((r) => (r.headers['content-type'].includes('json') ? decodeJson(r.body) : decodePb(r.body)));

const msgs = [{ role: 'user', content: 'What is the capital of France?' }];

function config(col, extra = '') {
  return `export:\n  otlp:\n    endpoint: ${col.url}\n    headers: {Authorization: "Basic cGs6c2s="}\n${extra}`;
}

test('a chat call reaches the collector as one GenAI span (http/json)', async () => {
  const col = await startCollector();
  const keel = await startKeel({ config: config(col, '    protocol: http/json\n    flush_interval_ms: 100\n') });
  try {
    const r = await chat(keel.url, { model: 'mock', messages: msgs, temperature: 0.3, max_tokens: 50 },
      { 'x-keel-user': 'alice', 'x-keel-session': 's-1', 'x-keel-tags': 'prod,eu' });
    assert.equal(r.status, 200, r.text);
    await col.until((reqs) => spansOf(reqs).length >= 1);
    const req = col.reqs[0];
    assert.equal(req.path, '/v1/traces');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers.authorization, 'Basic cGs6c2s=');
    const spans = spansOf(col.reqs);
    assert.equal(spans.length, 1);
    const s = spans[0];
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.match(s.spanId, /^[0-9a-f]{16}$/);
    assert.equal(s.kind, 3);
    assert.equal(s.name, 'chat mock');
    assert.ok(s.end >= s.start && s.start > 1600000000000000000n);
    assert.ok(s.resource.attributes.some((a) => a.key === 'service.name' && a.value.stringValue === 'keel'));
    const a = s.attributes;
    assert.equal(a['gen_ai.operation.name'], 'chat');
    assert.equal(a['gen_ai.provider.name'], 'mock');
    assert.equal(a['gen_ai.request.model'], 'mock');
    assert.equal(a['gen_ai.request.temperature'], 0.3);
    assert.equal(a['gen_ai.request.max_tokens'], 50);
    assert.equal(a['gen_ai.usage.input_tokens'], r.json.usage.prompt_tokens);
    assert.equal(a['gen_ai.usage.output_tokens'], r.json.usage.completion_tokens);
    assert.deepEqual(a['gen_ai.response.finish_reasons'], [r.json.choices[0].finish_reason]);
    assert.equal(a['langfuse.observation.type'], 'GENERATION');
    assert.equal(a['user.id'], 'alice');
    assert.equal(a['session.id'], 's-1');
    assert.deepEqual(a['langfuse.trace.tags'], ['prod', 'eu']);
    assert.deepEqual(JSON.parse(a['gen_ai.input.messages']), msgs);
    assert.equal(JSON.parse(a['gen_ai.output.messages']).content, r.json.choices[0].message.content);
    assert.equal(a['http.response.status_code'], 200);
    // the same trace, same ids, is in keel's own store
    const list = await waitTraces(keel.url, '?user_id=alice');
    assert.equal(list.data[0].id, s.traceId);
    const t = await (await fetch(`${keel.url}/api/v1/traces/${s.traceId}`)).json();
    assert.equal(t.observations[0].id, s.spanId);
  } finally {
    assert.equal(await keel.stop(), 0, keel.log.text.slice(-3000));
    keel.cleanup();
    await col.close();
  }
});

test('protobuf export, content capture off, flushed at shutdown', async () => {
  const col = await startCollector();
  // a 10-minute timer: only the shutdown flush can deliver the span
  const keel = await startKeel({ config: config(col, '    flush_interval_ms: 600000\n    capture_content: false\n') });
  let stopped = false;
  try {
    const r = await chat(keel.url, { model: 'mock', messages: msgs });
    assert.equal(r.status, 200, r.text);
    const bad = await chat(keel.url, { model: 'mock', messages: msgs }, { 'x-mock-fault': 'status=500' });
    assert.ok(bad.status >= 500, bad.text);
    assert.equal(col.reqs.length, 0);
    assert.equal(await keel.stop(), 0, keel.log.text.slice(-3000));
    stopped = true;
    const spans = spansOf(col.reqs);
    assert.equal(col.reqs[0].headers['content-type'], 'application/x-protobuf');
    assert.equal(spans.length, 2);
    const ok = spans.find((s) => s.attributes['http.response.status_code'] === 200);
    const err = spans.find((s) => s.attributes['http.response.status_code'] === bad.status);
    assert.ok(ok && err, JSON.stringify(spans.map((s) => s.attributes), (k, v) => (typeof v === 'bigint' ? String(v) : v)));
    assert.equal(ok.name, 'chat mock');
    assert.equal(ok.kind, 3);
    assert.equal(ok.attributes['gen_ai.usage.output_tokens'], r.json.usage.completion_tokens);
    assert.equal(ok.attributes['gen_ai.input.messages'], undefined); // capture_content: false
    assert.equal(err.attributes['error.type'], String(bad.status));
    assert.equal(err.attributes['langfuse.observation.type'], 'GENERATION');
  } finally {
    if (!stopped) await keel.stop();
    keel.cleanup();
    await col.close();
  }
});

test('a dead collector neither slows calls nor holds up shutdown', async () => {
  const col = await startCollector();
  const url = col.url;
  await col.close(); // nobody listens there now
  const keel = await startKeel({
    config: `export:\n  otlp:\n    endpoint: ${url}\n    flush_interval_ms: 50\n    shutdown_timeout_ms: 500\n`,
  });
  for (let i = 0; i < 5; i++) {
    const r = await chat(keel.url, { model: 'mock', messages: msgs });
    assert.equal(r.status, 200, r.text);
  }
  const t0 = Date.now();
  assert.equal(await keel.stop(), 0, keel.log.text.slice(-3000));
  assert.ok(Date.now() - t0 < 10000, 'shutdown bounded');
  assert.match(keel.log.text, /otlp export to/);
  keel.cleanup();
});

test('a 429 with an HTTP-date Retry-After is waited for; a protobuf partialSuccess counts its spans as dropped', async () => {
  // gcov: neither the date form of Retry-After nor the protobuf partialSuccess reply had run
  const seen = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(Date.now());
      if (seen.length === 1) {  // 3 s ahead: the computed backoff (250-500 ms) would be far earlier
        res.writeHead(429, { 'retry-after': new Date(Date.now() + 3000).toUTCString() });
        return res.end();
      }
      // ExportTraceServiceResponse{partial_success: {rejected_spans: 1, error_message: "bad"}}
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(Buffer.from([0x0a, 0x07, 0x08, 0x01, 0x12, 0x03, 0x62, 0x61, 0x64]));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const keel = await startKeel({
    config: `export:\n  otlp:\n    endpoint: http://127.0.0.1:${server.address().port}/v1/traces\n    flush_interval_ms: 50\n`,
  });
  try {
    const r = await chat(keel.url, { model: 'mock', messages: msgs });
    assert.equal(r.status, 200, r.text);
    const deadline = Date.now() + 15000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.equal(seen.length, 2, 'retried once');
    assert.ok(seen[1] - seen[0] >= 1500, `retried after ${seen[1] - seen[0]} ms`);
    for (let i = 0; i < 50 && !/rejected spans/.test(keel.log.text); i++) await new Promise((res) => setTimeout(res, 50));
    assert.match(keel.log.text, /collector rejected spans \(partialSuccess\); 1 spans dropped/);
  } finally {
    assert.equal(await keel.stop(), 0, keel.log.text.slice(-3000));
    keel.cleanup();
    await new Promise((r) => server.close(r));
  }
});
