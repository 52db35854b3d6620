// ingest_http.mjs (driven by ingest_http.sh): POSTs N OTLP/JSON exports of 512 GenAI spans (random W3C trace ids, 4 spans a
// trace, ~1 KB each like bench_ingest's) to a running keel, C at a time; then waits until the
// spans are all in SQLite (polls count(*) with python's sqlite3) and prints both rates.
//   node ingest_http.mjs URL PUBLIC SECRET DB_PATH [N=120] [C=4]
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
const [url, pk, sk, db, N = '120', C = '4'] = process.argv.slice(2);
const n = +N, conc = +C, per = 512;
const hex = (b) => randomBytes(b).toString('hex');
function body() {
  const spans = [];
  let trace;
  const t0 = BigInt(Date.now()) * 1000000n;
  for (let i = 0; i < per; i++) {
    if (i % 4 === 0) trace = hex(16);
    const st = t0 + BigInt(i) * 20000n;
    spans.push({ traceId: trace, spanId: hex(8), name: 'chat gpt-4o-mini', kind: 3,
      startTimeUnixNano: String(st), endTimeUnixNano: String(st + 500000000n),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o-mini' } },
        { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
        { key: 'gen_ai.usage.output_tokens', value: { intValue: '30' } },
        { key: 'user.id', value: { stringValue: 'user-1' } },
        { key: 'gen_ai.input.messages', value: { stringValue: JSON.stringify([{ role: 'user', content: String(i).padStart(500, '0') }]) } }],
      status: { code: 1 } });
  }
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] },
    scopeSpans: [{ scope: { name: 'bench', version: '1' }, spans }] }] });
}
const bodies = Array.from({ length: n }, body);
const auth = 'Basic ' + Buffer.from(`${pk}:${sk}`).toString('base64');
const count = () => +execFileSync('python3', ['-c', `import sqlite3;print(sqlite3.connect('file:${db}?mode=ro',uri=True).execute('select count(*) from observations').fetchone()[0])`]).toString();
const before = count();
const t0 = performance.now();
let next = 0;
async function worker() {
  while (next < n) {
    const b = bodies[next++];
    const r = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: b });
    if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
  }
}
await Promise.all(Array.from({ length: conc }, worker));
const t1 = performance.now();
const total = n * per;
while (count() - before < total) await new Promise((r) => setTimeout(r, 100));
const t2 = performance.now();
console.log(`${total} spans: accepted ${(total / (t1 - t0) * 1000).toFixed(0)} spans/s, in SQLite ${(total / (t2 - t0) * 1000).toFixed(0)} spans/s end to end (${((t2 - t0) / 1000).toFixed(1)} s)`);
