// tokenizer.mjs: keel's tokenizer vs npm tiktoken (Rust compiled to WASM) on the same text.
//
//   node bench/tokenizer.mjs [path/to/bench_tokenizer]   (default build/bench_tokenizer)
//
// Generates a deterministic ~2 MB corpus of realistic mixed text (English prose, code, JSON,
// CJK, emoji, accented Latin, numbers), writes it to a temp file, runs bench_tokenizer on it
// (a release build gives the meaningful number), then times tiktoken's encode_ordinary on
// the same ~2 KB messages in this process, and prints both and the ratio per encoding.
// Needs tests/node_modules (cd tests && npm ci).
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { get_encoding } = require('tiktoken');
const bench = process.argv[2] || new URL('../build/bench_tokenizer', import.meta.url).pathname;

let seed = 42;
const rnd = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rnd() * a.length)];
const WORDS = ('the of and to in is that it for was on are with as be at by this from have or an they which ' +
  'you one all were her she there would their we him been has when who will more no if out so said what ' +
  'gateway latency request response streaming tokens model provider configuration observability').split(' ');
const sentence = () => {
  const w = Array.from({ length: 6 + Math.floor(rnd() * 14) }, () => pick(WORDS));
  w[0] = w[0][0].toUpperCase() + w[0].slice(1);
  return w.join(' ') + pick(['.', '.', '.', '?', '!', ',']) + ' ';
};
const blocks = [
  () => Array.from({ length: 3 + Math.floor(rnd() * 5) }, sentence).join('') + '\n\n',
  () => 'function f' + Math.floor(rnd() * 100) + '(x, y) {\n  const z = x * ' + Math.floor(rnd() * 1000) + ' + y;\n  if (z > 0) return z;\n  return -1; // negative\n}\n\n',
  () => JSON.stringify({ id: 'chatcmpl-' + Math.floor(rnd() * 1e9), model: 'gpt-4o', usage: { prompt_tokens: Math.floor(rnd() * 1e4), completion_tokens: Math.floor(rnd() * 1e3) }, choices: [{ message: { role: 'assistant', content: sentence() } }] }) + '\n',
  () => '日本語の文章は、トークン数が多くなりがちです。中文文本的分词方式也不同。한국어 문장도 있습니다。\n',
  () => 'Émojis 🎉👍🏽🚀 and accents — café, naïve, Straße, Ångström, São Paulo. Prices: $1,234.56 on 2024-06-11.\n',
];
let corpus = '';
while (corpus.length < 2_000_000) corpus += pick(blocks)();
const bytes = Buffer.byteLength(corpus);

const dir = mkdtempSync(join(tmpdir(), 'kl-tokbench-'));
const file = join(dir, 'corpus.txt');
writeFileSync(file, corpus);
const keelOut = execFileSync(bench, [file, '2'], { encoding: 'utf8' });
rmSync(dir, { recursive: true, force: true });
const keel = {};
for (const line of keelOut.trim().split('\n')) {
  const [enc, ...kv] = line.split(' ');
  keel[enc] = Object.fromEntries(kv.map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
}

// the same ~2 KB messages, cut at newlines, as bench_tokenizer.c does (it cuts by bytes;
// close enough for throughput)
const msgs = [];
for (let off = 0; off < corpus.length;) {
  let end = Math.min(off + 2048, corpus.length);
  while (end < corpus.length && corpus[end - 1] !== '\n') end++;
  msgs.push(corpus.slice(off, end));
  off = end;
}
console.log(`corpus: ${(bytes / 1e6).toFixed(2)} MB in ${msgs.length} messages`);
for (const name of ['o200k_base', 'cl100k_base']) {
  let t0 = performance.now();
  const enc = get_encoding(name);
  const loadMs = performance.now() - t0;
  let tokens = 0, passes = 0;
  t0 = performance.now();
  do {
    for (const m of msgs) tokens += enc.encode_ordinary(m).length;
    passes++;
  } while (performance.now() - t0 < 2000);
  const s = (performance.now() - t0) / 1000;
  enc.free();
  const tk = { mb_s: (bytes * passes) / s / 1e6, tokens_s: tokens / s };
  const k = keel[name];
  console.log(`${name}: keel ${k.mb_s.toFixed(2)} MB/s ${(k.tokens_s / 1e6).toFixed(2)} M tok/s (load ${k.load_ms} ms) | ` +
    `tiktoken(wasm) ${tk.mb_s.toFixed(2)} MB/s ${(tk.tokens_s / 1e6).toFixed(2)} M tok/s (load ${loadMs.toFixed(1)} ms) | ` +
    `keel/tiktoken ${(k.mb_s / tk.mb_s).toFixed(2)}x`);
}
