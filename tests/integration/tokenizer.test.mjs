// tokenizer.test.mjs: keel's token counts must equal OpenAI's tiktoken's exactly.
// A few thousand strings are generated deterministically (seeded PRNG) across the kinds of
// text that stress the split regex and the merges: ASCII prose, punctuation, numbers,
// whitespace mixes, code, JSON, CJK, emoji sequences, accented Latin with combining marks,
// other scripts, contractions in odd cases, long runs, and random code points.  npm tiktoken
// 1.0.22 (the package the embedded rank files come from) counts them in this process; the
// real keel binary encodes them through one `keel tokens --ids` process per encoding, and
// the token ids (so the counts too) must be identical.
// U+0000 is left out: keel's JSON reader (cJSON) ends strings at NUL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { KEEL_BIN } from './lib.mjs';

const require = createRequire(import.meta.url);
const { get_encoding } = require('tiktoken');

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(20240611);
const int = (n) => Math.floor(rnd() * n);
const pick = (a) => a[int(a.length)];
const range = (lo, hi) => String.fromCodePoint(lo + int(hi - lo + 1));
const times = (n, f) => Array.from({ length: n }, f).join('');

const WORDS = ('the quick brown fox jumps over lazy dog Hello World API token model gateway keel latency ' +
  'streaming usage JSON function return const let import export async await HTTP request response ' +
  'naïve café über straße résumé coöperate Ünïcödé ÆØÅ').split(' ');
const PUNCT = [...'.,;:!?()[]{}<>"\'`~@#$%^&*-_=+/\\|'];
const SPACES = [' ', '  ', '\t', '\n', '\r\n', '\n\n', ' \n', '   ', '\u00a0', '\u3000', '\u2003', '\u0085', '\u180e', '\u2028', '\u000b', '\f'];
const CONTR = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "'ſ", "'\u212a"];

const gens = {
  prose: () => times(1 + int(30), () => pick(WORDS) + (rnd() < 0.2 ? pick(PUNCT) : '') + (rnd() < 0.9 ? ' ' : pick(SPACES))),
  punct: () => times(1 + int(40), () => (rnd() < 0.5 ? pick(PUNCT) : pick(PUNCT).repeat(1 + int(5))) + (rnd() < 0.3 ? pick(SPACES) : '')),
  numbers: () => times(1 + int(12), () => pick([String(int(1e9)), (rnd() * 1e4).toFixed(int(6)), '-' + int(1000), String(int(10)).repeat(1 + int(20)), '1e' + int(99), '٣٤٥', '१२३', 'Ⅻ', '½']) + pick([' ', ',', '', '.', '\n'])),
  whitespace: () => times(1 + int(20), () => (rnd() < 0.6 ? pick(SPACES) : pick(WORDS)) + (rnd() < 0.4 ? pick(SPACES).repeat(int(6)) : '')),
  code: () => times(1 + int(8), () => pick(['def f(x):\n    return x**2\n', 'for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}\n', 'const x = await fetch(`/v1/chat`);\n', '#include <stdio.h>\n', '  if (err) { return -1; }  // fail\n', 'SELECT id, name FROM users WHERE id = $1;\n', '<div class="x">&nbsp;</div>\r\n', 'x => x.map(y => y*2)', '    \n\n    pass'])),
  json: () => JSON.stringify({ id: 'chatcmpl-' + int(1e9), n: int(1e6), f: rnd(), s: pick(WORDS), arr: [int(9), pick(WORDS), null, true], nested: { k: pick(WORDS) + ' ' + pick(WORDS) } }, null, rnd() < 0.5 ? 2 : 0),
  cjk: () => times(1 + int(40), () => pick([() => range(0x4e00, 0x9fff), () => range(0x3041, 0x3096), () => range(0x30a1, 0x30fa), () => range(0xac00, 0xd7a3), () => pick(['。', '，', '、', '「', '」', ' ', '！'])])()),
  emoji: () => times(1 + int(15), () => pick([() => range(0x1f600, 0x1f64f), () => range(0x1f300, 0x1f5ff), () => range(0x1f680, 0x1f6c5), () => '👨\u200d👩\u200d👧\u200d👦', () => '👍' + range(0x1f3fb, 0x1f3ff), () => '❤\ufe0f', () => '🇫🇷', () => ' ', () => pick(WORDS)])()),
  accented: () => times(1 + int(30), () => (rnd() < 0.5 ? range(0xc0, 0x24f) : range(0x61, 0x7a)) + (rnd() < 0.2 ? range(0x300, 0x36f) : '') + (rnd() < 0.15 ? ' ' : '')),
  scripts: () => times(1 + int(30), () => pick([() => range(0x410, 0x44f), () => range(0x391, 0x3c9), () => range(0x627, 0x64a), () => range(0x5d0, 0x5ea), () => range(0x905, 0x939) + (rnd() < 0.3 ? range(0x93e, 0x94c) : ''), () => range(0xe01, 0xe30), () => ' ', () => pick(WORDS)])()),
  contractions: () => times(1 + int(10), () => pick(WORDS) + pick(CONTR) + pick([' ', '', '.', "'"])) ,
  mixed: () => times(1 + int(20), () => [...gens[pick(['prose', 'numbers', 'cjk', 'emoji', 'accented', 'scripts', 'punct'])]()].slice(0, 12).join('')),
  runs: () => pick(['a', ' ', '\n', '!', '7', 'é', '你', '🎉', 'ab', ' \t', 'Z', '-', '=', '\u00a0']).repeat(1 + int(rnd() < 0.2 ? 3000 : 200)) + (rnd() < 0.5 ? pick(WORDS) : ''),
  random: () => times(1 + int(25), () => {
    for (;;) {
      const cp = rnd() < 0.7 ? 1 + int(0xffff) : 0x10000 + int(0x100000);
      if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
    }
  }),
};

const N_PER_KIND = 250;
const inputs = [];
for (const kind of Object.keys(gens)) for (let i = 0; i < N_PER_KIND; i++) inputs.push({ kind, text: gens[kind]() });

function keelIds(encoding, texts) {
  return new Promise((resolve, reject) => {
    const proc = spawn(KEEL_BIN, ['tokens', '--ids', '--encoding', encoding], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`keel tokens exited ${code}: ${err}`));
      resolve(out.split('\n').slice(0, -1));
    });
    proc.stdin.end(texts.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
  });
}

const cps = (s) => [...s].map((c) => 'U+' + c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')).join(' ');

for (const encoding of ['o200k_base', 'cl100k_base']) {
  test(`keel tokens == tiktoken (${encoding}, ${inputs.length} strings)`, async () => {
    const enc = get_encoding(encoding);
    const want = inputs.map(({ text }) => Array.from(enc.encode_ordinary(text)).join(' '));
    enc.free();
    const got = await keelIds(encoding, inputs.map((x) => x.text));
    assert.equal(got.length, inputs.length, 'one line per input');
    const bad = [];
    for (let i = 0; i < inputs.length; i++) if (got[i] !== want[i]) bad.push(i);
    const ntok = (line) => (line ? line.split(' ').length : 0);
    for (const i of bad.slice(0, 5)) {
      const t = inputs[i].text;
      console.log(`mismatch [${inputs[i].kind}] keel=${ntok(got[i])} tokens, tiktoken=${ntok(want[i])} ${JSON.stringify(t.slice(0, 80))}\n  ${cps(t.slice(0, 40))}`);
    }
    const badCounts = bad.filter((i) => ntok(got[i]) !== ntok(want[i])).length;
    assert.equal(bad.length, 0, `${bad.length} of ${inputs.length} encodings differ (${badCounts} in their counts)`);
    // a cheap sanity check that the corpus is not trivial
    assert.ok(want.reduce((a, w) => a + ntok(w), 0) > inputs.length * 5);
  });
}

test('keel tokens: chat messages by the recipe, and bad lines', async () => {
  const enc = get_encoding('o200k_base');
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', name: 'ann', content: 'Hi there! 你好' }];
  let want = 3;
  for (const m of messages) {
    want += 3;
    for (const [k, v] of Object.entries(m)) want += enc.encode(v).length + (k === 'name' ? 1 : 0);
  }
  enc.free();
  const proc = spawn(KEEL_BIN, ['tokens'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  const code = await new Promise((resolve) => {
    proc.on('close', resolve);
    proc.stdin.end(JSON.stringify({ messages }) + '\nnot json\n{"text":"hello"}\n');
  });
  assert.deepEqual(out.trim().split('\n').map(Number), [want, -1, 1]);
  assert.equal(code, 1);
});
