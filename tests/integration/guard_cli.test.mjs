// `keel guard scan` through the real binary: JSON lines in, one verdict line out per input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { KEEL_BIN } from './lib.mjs';

function scan(lines) {
  const r = spawnSync(KEEL_BIN, ['guard', 'scan'], { input: lines.join('\n') + '\n', encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

test('findings carry Presidio entity names and byte offsets; redaction uses typed placeholders', () => {
  const text = 'café owner: jane.doe@example.com, card 4111 1111 1111 1111, again jane.doe@example.com';
  const [r] = scan([JSON.stringify({ id: 'x1', text })]);
  assert.equal(r.id, 'x1');
  assert.equal(r.action, 'redact');
  const bytes = Buffer.from(text, 'utf8');
  const types = r.findings.map((f) => f.type);
  assert.deepEqual(types, ['EMAIL_ADDRESS', 'CREDIT_CARD', 'EMAIL_ADDRESS']);
  for (const f of r.findings) {
    const v = bytes.subarray(f.start, f.end).toString('utf8');
    assert.ok(f.type !== 'EMAIL_ADDRESS' || v === 'jane.doe@example.com', `offsets are bytes: ${v}`);
    assert.ok(f.score > 0 && f.score <= 1);
    assert.equal(f.scanner, 'pii');
  }
  assert.equal(r.redacted, 'café owner: <EMAIL_ADDRESS_1>, card <CREDIT_CARD_1>, again <EMAIL_ADDRESS_1>');
});

test('clean text is allowed; plain text lines are accepted; invalid checksums are not PII', () => {
  const out = scan([
    JSON.stringify({ id: 1, text: 'release 1.2.3.4.5 shipped, order 1234-5678, ratio 3/4' }),
    'card 4111 1111 1111 1112 fails Luhn, IBAN DE89 3704 0044 0532 0130 01 fails mod-97',
    'my SSN is 078-05-1120',
  ]);
  assert.equal(out[0].action, 'allow');
  assert.deepEqual(out[0].findings, []);
  assert.deepEqual(out[1].findings, []);
  assert.equal(out[2].findings[0].type, 'US_SSN');
  // names, places and dates are PII too in the default policy
  const [n] = scan([JSON.stringify({ id: 'n', text: 'Dr. Maria Rossi moved to Berlin on 2024-05-01.' })]);
  assert.deepEqual(n.findings.map((f) => f.type), ['PERSON', 'LOCATION', 'DATE_TIME']);
});

test('--config/--policy/--stage: a policy from keel.yaml; unknown policies and stages are usage errors', async () => {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'keel-guard-'));
  const cfg = join(dir, 'keel.yaml');
  writeFileSync(cfg, `guardrails:
  policies:
    - name: words
      scanners:
        - {kind: banned, list: [project falcon]}
        - {kind: pii, action: flag, types: [EMAIL_ADDRESS]}
        - {kind: refusal, stage: output}
models: [{name: m, provider: mock}]
`);
  const run = (args, input) => spawnSync(KEEL_BIN, ['guard', 'scan', ...args], { input, encoding: 'utf8', timeout: 30000 });
  let r = run(['--config', cfg, '--policy', 'words'], 'about Project Falcon\nmail a.b@example.com\nfine\n');
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(out.map((o) => o.action), ['block', 'allow', 'allow']);
  assert.equal(out[0].findings[0].type, 'BANNED_SUBSTRING');
  assert.deepEqual([out[0].findings[0].start, out[0].findings[0].end], [6, 20]);
  assert.equal(out[1].findings[0].type, 'EMAIL_ADDRESS');  // flagged: reported, not rewritten
  assert.equal(out[1].redacted, 'mail a.b@example.com');
  r = run(['--config', cfg, '--policy', 'words', '--stage', 'output'], "I'm sorry, but I can't help with that.\n");
  assert.equal(JSON.parse(r.stdout).findings[0].type, 'REFUSAL');
  r = run(['--config', cfg, '--policy', 'nope'], 'x\n');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no such policy/);
  r = run(['--stage', 'sideways'], 'x\n');
  assert.equal(r.status, 2);
});
