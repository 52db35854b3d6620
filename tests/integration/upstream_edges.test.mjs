// keel in front of upstreams that misbehave in ways `keel mock-upstream` does not: an error
// event in the middle of a stream (or as its first event), a stream answered without
// text/event-stream, an error status with an HTML body, a 429 whose Retry-After comes with a
// body that is no error object, a body over keel's 64 MiB limit, one stream event over the
// 4 MiB event limit; and upstreams slow to read a large request, or gone in the middle of it.  Found with a coverage build: gcov over gateway/call.c and chat.c after the
// whole suite showed these paths never ran.  The upstream is a small HTTP server of this file's
// own; what it does is chosen by the upstream model name.  The official openai SDK reads the
// mid-stream error as the error it is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { startKeel, chat, chatStream, waitTraces } from './lib.mjs';

let keel, up;

const chunk = (model, delta, finish = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model,
    choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const UPSTREAM_ERROR = { error: { message: 'the model is overloaded, try again', type: 'server_error', code: 'overloaded' } };

function serve(req, res, model) {
  const sse = () => res.writeHead(200, { 'content-type': 'text/event-stream' });
  switch (model) {
    case 'error-mid':  // some text, then an error event, then the end of the stream
      sse();
      res.write(chunk(model, { role: 'assistant', content: '' }));
      res.write(chunk(model, { content: 'Hello, ' }));
      res.write(chunk(model, { content: 'and then' }));
      res.end(`data: ${JSON.stringify(UPSTREAM_ERROR)}\n\n`);
      return;
    case 'error-first':
      sse();
      res.end(`data: ${JSON.stringify(UPSTREAM_ERROR)}\n\n`);
      return;
    case 'not-sse':  // a streaming request answered with one JSON body
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [] }));
      return;
    case 'html-503':
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>');
      return;
    case 'plain-429':
      res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '11' });
      res.end('slow down');
      return;
    case 'huge-body': {  // 65 MiB of a JSON string: over keel's 64 MiB
      res.writeHead(200, { 'content-type': 'application/json' });
      const mib = 'x'.repeat(1 << 20);
      res.write('{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"');
      let left = 65;
      const more = () => {
        while (left > 0) {
          left--;
          if (!res.write(mib)) return res.once('drain', more);
        }
        res.end('"}}]}');
      };
      res.on('error', () => {});
      more();
      return;
    }
    case 'slow-read':  // the body was read slowly (see the server): say how much arrived
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model,
        choices: [{ index: 0, message: { role: 'assistant', content: `got ${req.bodyBytes} bytes` }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
      return;
    case 'huge-event':  // one SSE event of 5 MiB: over keel's 4 MiB
      sse();
      res.on('error', () => {});
      res.write(chunk(model, { role: 'assistant', content: '' }));
      res.end(chunk(model, { content: 'y'.repeat(5 << 20) }));
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

before(async () => {
  const server = http.createServer((req, res) => {
    // a request body over 1 MiB is read slowly (paused 300 ms after its first bytes), or, with
    // x-drop-after-head, not at all: the socket is destroyed
    if (req.headers['x-drop-after-head']) return req.socket.destroy();
    const parts = [];
    let n = 0, paused = false;
    req.on('data', (d) => {
      parts.push(d);
      n += d.length;
      if (!paused && Number(req.headers['content-length']) > 1 << 20) {
        paused = true;
        req.pause();
        setTimeout(() => req.resume(), 300);
      }
    });
    req.on('end', () => {
      req.bodyBytes = n;
      serve(req, res, JSON.parse(Buffer.concat(parts).toString()).model);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  up = { server, url: `http://127.0.0.1:${server.address().port}` };
  const models = ['error-mid', 'error-first', 'not-sse', 'html-503', 'plain-429', 'huge-body', 'huge-event', 'slow-read']
    .map((m) => `  - {name: ${m}, provider: openai, model: ${m}, base_url: "${up.url}/v1", api_key: sk-up-secret-0123456789}`)
    .join('\n');
  keel = await startKeel({
    config: `
limits: {max_body_bytes: 16777216}
guardrails:
  policies:
    - {name: out, scanners: [{kind: banned, stage: output, list: [nothing-to-see]}]}
models:
${models}
  - {name: railed, provider: mock, guardrails: out}
  - {name: dropper, provider: openai, model: dropper, base_url: "${up.url}/v1", api_key: sk-up-secret-0123456789,
     forward_headers: [x-drop-after-head]}
`,
  });
});

after(async () => {
  assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  keel.cleanup();
  up.server.close();
});

const user = [{ role: 'user', content: 'hi' }];

test('an error event mid-stream reaches the client as the upstream sent it, then keel ends the stream', async () => {
  const s = await chatStream(keel.url, { model: 'error-mid', messages: user }, { 'x-keel-user': 'u-error-mid' });
  assert.equal(s.status, 200);
  assert.notEqual(s.events.at(-1), '[DONE]');
  const events = s.events.map((e) => JSON.parse(e));
  const text = events.map((e) => e.choices?.[0]?.delta?.content || '').join('');
  assert.equal(text, 'Hello, and then');
  const errs = events.filter((e) => e.error);
  assert.deepEqual(errs[0], UPSTREAM_ERROR, 'the upstream\'s own event first');
  assert.ok(errs.length >= 1 && errs.at(-1).error.message, 'the stream ends on an error');
  const list = await waitTraces(keel.url, '?user_id=u-error-mid');
  assert.equal(list.data[0].status, 'error');

  // the official client sees text, then throws on the error event
  const client = new OpenAI({ baseURL: `${keel.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  let got = '';
  await assert.rejects(async () => {
    const stream = await client.chat.completions.create({ model: 'error-mid', messages: user, stream: true });
    for await (const c of stream) got += c.choices?.[0]?.delta?.content || '';
  }, (e) => /overloaded/.test(e.message));
  assert.equal(got, 'Hello, and then');
});

test('an error event as the first event: the client still gets it, and no [DONE]', async () => {
  const s = await chatStream(keel.url, { model: 'error-first', messages: user });
  assert.equal(s.status, 200);
  assert.notEqual(s.events.at(-1), '[DONE]');
  assert.deepEqual(JSON.parse(s.events[0]), UPSTREAM_ERROR);
});

test('a stream answered without text/event-stream is a 502, not a 200 with nothing in it', async () => {
  const s = await chatStream(keel.url, { model: 'not-sse', messages: user });
  assert.equal(s.status, 502);
  assert.equal(JSON.parse(s.raw).error.code, 'upstream_invalid_stream');
});

test('an error status with an HTML body keeps its status and gets keel\'s own error body', async () => {
  const r = await chat(keel.url, { model: 'html-503', messages: user });
  assert.equal(r.status, 503);
  assert.equal(r.json.error.code, 'upstream_status');
  assert.match(r.json.error.message, /HTTP 503/);
});

test('a 429 with a plain-text body still passes its Retry-After on', async () => {
  const r = await chat(keel.url, { model: 'plain-429', messages: user });
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '11');
  assert.equal(r.json.error.code, 'upstream_status');
});

test('an upstream body over 64 MiB is refused with a 502 and keel keeps serving', async () => {
  const r = await chat(keel.url, { model: 'huge-body', messages: user });
  assert.equal(r.status, 502);
  assert.match(r.json.error.message, /too large/);
  const ok = await chat(keel.url, { model: 'railed', messages: user });
  assert.equal(ok.status, 200);
});

test('a stream event over 4 MiB ends the stream with an error event, and keel keeps serving', async () => {
  const s = await chatStream(keel.url, { model: 'huge-event', messages: user });
  assert.equal(s.status, 200, 'the role chunk went out first');
  assert.notEqual(s.events.at(-1), '[DONE]');
  assert.match(JSON.parse(s.events.at(-1)).error.message, /too large/);
  assert.ok(s.raw.length < 1 << 20, 'nothing of the huge event reached the client');
  const ok = await chat(keel.url, { model: 'railed', messages: user });
  assert.equal(ok.status, 200);
});

test('n > 1 on a streamed call through output rails is refused: only one choice can be filtered', async () => {
  const s = await chatStream(keel.url, { model: 'railed', messages: user, n: 2 });
  assert.equal(s.status, 400);
  assert.equal(JSON.parse(s.raw).error.param, 'n');
  const whole = await chat(keel.url, { model: 'railed', messages: user, n: 2 });
  assert.equal(whole.status, 200, 'without a stream every choice is checked');
});

test('a 10 MiB request to an upstream that reads it slowly arrives whole (the write is queued)', async () => {
  const big = 'lorem ipsum dolor sit amet '.repeat(12 << 15);  // ~10 MiB of text
  const body = JSON.stringify({ model: 'slow-read', messages: [{ role: 'user', content: big }] });
  const r = await chat(keel.url, body);
  assert.equal(r.status, 200, r.text.slice(0, 300));
  const sent = Number(/got (\d+) bytes/.exec(r.json.choices[0].message.content)[1]);
  assert.ok(sent > big.length, `the upstream got ${sent} bytes`);
  const again = await chat(keel.url, { model: 'slow-read', messages: user });  // the connection is reusable
  assert.equal(again.status, 200);
});

test('an upstream that drops the connection while keel writes a large request: 502, and keel keeps serving', async () => {
  const big = 'x'.repeat(10 << 20);
  const r = await chat(keel.url, { model: 'dropper', messages: [{ role: 'user', content: big }] }, { 'x-drop-after-head': '1' });
  assert.equal(r.status, 502, r.text.slice(0, 300));
  assert.match(r.json.error.code, /upstream_(reset|error)/);
  const ok = await chat(keel.url, { model: 'railed', messages: user });
  assert.equal(ok.status, 200);
});
