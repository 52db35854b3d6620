// The web dashboard, end to end: the real keel (admin key, mock models, a guardrail policy)
// serves ui/ at /, and Debian's chromium, driven headless by playwright-core, signs in, lists
// and filters traces, opens the failing one (tree, waterfall, error), a tool call and a
// guardrail verdict, follows the live tail, and opens the dashboard.  Any console error,
// page error, failed request or HTTP error answer fails the test, except the 401s that the
// login steps provoke on purpose.
//
// Skips (saying why) only when chromium cannot be started.  KEEL_CHROMIUM overrides the
// browser path; KEEL_UI_SCREENSHOTS=<dir> saves screenshots of the main pages there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startKeel, chat, chatStream, getJSON, waitTraces } from './lib.mjs';

const ADMIN = 'ui-test-admin-key';
const AUTH = { authorization: `Bearer ${ADMIN}` };
const SHOTS = process.env.KEEL_UI_SCREENSHOTS || '';

// ---- the browser (top level, so the tests can be skipped with the reason) ----
let chromium = null;
let browser = null;
let skip = false;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  skip = `playwright-core is not installed (npm install in tests/): ${e.message}`;
}
const exe = process.env.KEEL_CHROMIUM || ['/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser']
  .find((p) => existsSync(p));
if (!skip && !exe) skip = 'no chromium found (apt-get install chromium, or set KEEL_CHROMIUM)';
if (!skip) {
  try {
    browser = await chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30000 });
  } catch (e) {
    skip = `chromium (${exe}) could not start headless: ${e.message.split('\n')[0]}`;
  }
}
if (skip) console.log(`# SKIP ui.test.mjs: ${skip}`);

let keel;
before(async () => {
  keel = await startKeel({
    env: { KEEL_ADMIN_KEY: ADMIN },
    config: `
trace: {fulltext: true}
guardrails:
  policies:
    - name: rails
      scanners:
        - {kind: pii, action: block, types: [CREDIT_CARD]}
        - {kind: pii, action: flag, types: [EMAIL_ADDRESS]}
models:
  - {name: m-main, provider: mock}
  - {name: m-flaky, provider: mock}
  - {name: m-guard, provider: mock, guardrails: rails}
`,
  });
});

after(async () => {
  await browser?.close();
  if (keel) {
    const code = await keel.stop();
    keel.cleanup();
    assert.equal(code, 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
  }
});

const user = (content) => [{ role: 'user', content }];

test('assets: CSP, nosniff, cache headers, gzip, 304, 404 and 405', async () => {
  const res = await fetch(`${keel.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const html = await res.text();
  assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|style=/, 'no inline script or style');
  const m = html.match(/\/ui\/([0-9a-f]{12})\/app\.js/);
  assert.ok(m, 'index.html names the versioned app.js');
  const build = m[1];

  const js = await fetch(`${keel.url}/ui/${build}/app.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.equal(js.headers.get('content-encoding'), 'gzip');
  assert.match(js.headers.get('cache-control'), /immutable/);
  assert.match(await js.text(), /import /, 'fetch inflated the gzip body into the module');
  const etag = js.headers.get('etag');
  const again = await fetch(`${keel.url}/ui/${build}/app.js`, { headers: { 'accept-encoding': 'gzip', 'if-none-match': etag } });
  assert.equal(again.status, 304);

  const plain = await fetch(`${keel.url}/ui/${build}/style.css`, { headers: { 'accept-encoding': 'identity' } });
  assert.equal(plain.headers.get('content-encoding'), null);
  // q-values (gcov: the parameter parsing had never run): q=0 in any spelling refuses gzip
  for (const [ae, gz] of [['gzip;q=0', false], ['gzip; q=0.000', false], ['br, gzip;q=0.5', true], ['gzip;q=0.001', true],
    ['*', true], ['*;q=0', false], ['identity;q=1, *;q=0', false], ['*;q=0, gzip', true]]) {
    const r = await fetch(`${keel.url}/ui/${build}/app.js`, { headers: { 'accept-encoding': ae } });
    assert.equal(r.headers.get('content-encoding'), gz ? 'gzip' : null, ae);
    await r.arrayBuffer();
  }
  assert.match(plain.headers.get('content-type'), /^text\/css/);
  const stale = await fetch(`${keel.url}/ui/000000000000/app.js`);
  assert.equal(stale.status, 200);
  assert.equal(stale.headers.get('cache-control'), 'no-cache', 'another build\'s prefix is never cached for long');
  assert.equal((await fetch(`${keel.url}/ui/${build}/nope.js`)).status, 404);
  assert.equal((await fetch(`${keel.url}/ui/../src/api/ui.c`)).status, 404);
  assert.equal((await fetch(`${keel.url}/`, { method: 'POST', body: 'x' })).status, 405);
});

test('browser: sign in, list, filter, the failing trace, tool call, guardrail, live tail, dashboard', { skip, timeout: 90000 }, async (t) => {
  // traces of every kind
  const tagged = await chat(keel.url, { model: 'm-main', messages: user('What is the capital of France?') },
    { ...AUTH, 'x-keel-user': 'alice', 'x-keel-session': 'sess-ui', 'x-keel-tags': 'prod,eu' });
  assert.equal(tagged.status, 200, tagged.text);
  const failing = await chat(keel.url, { model: 'm-flaky', messages: user('this call fails') }, { ...AUTH, 'x-mock-fault': 'status=500' });
  assert.equal(failing.status, 500);
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const tool = await chat(keel.url, { model: 'm-main', messages: user('Weather in Paris?'), tools }, AUTH);
  assert.equal(tool.json.choices[0].finish_reason, 'tool_calls');
  const stream = await chatStream(keel.url, { model: 'm-flaky', messages: user('stream this answer') }, AUTH);
  assert.equal(stream.status, 200);
  const blocked = await chat(keel.url, { model: 'm-guard', messages: user('my card is 4111 1111 1111 1111') }, AUTH);
  assert.equal(blocked.status, 400);
  await waitTraces(keel.url, '', (d) => d.length >= 5, AUTH);

  // what this keel serves beyond /api/v1/traces (the query API may be newer than this test)
  const has = async (path) => (await getJSON(`${keel.url}/api/v1/${path}`, AUTH)).status === 200;
  const hasMetrics = await has('metrics?bucket=hour&group_by=model');
  const hasSessions = await has('sessions');
  const statusFilter = (await getJSON(`${keel.url}/api/v1/traces?status=error`, AUTH)).json?.data?.every((r) => r.status === 'error');
  for (const [what, ok] of [['/api/v1/metrics', hasMetrics], ['/api/v1/sessions', hasSessions], ['status filter', statusFilter]])
    if (!ok) t.diagnostic(`${what} not served by this keel yet: that part of the UI is not exercised`);

  const problems = [];
  let allow401 = true;
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (allow401 && /status of 401/.test(m.text())) return;
    problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() < 400) return;
    if (r.status() === 401 && allow401) return;
    problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
  const shot = async (name) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  };
  const rows = '#view table.grid tbody tr';
  const hash = () => page.evaluate(() => location.hash);

  try {
    // ---- login: a wrong key is refused, the right one opens the app ----
    await page.goto(`${keel.url}/`);
    await page.waitForSelector('#login.open input[name=key]');
    await page.fill('input[name=key]', 'wrong-key');
    await page.press('input[name=key]', 'Enter');
    await page.waitForFunction(() => /refused/.test(document.getElementById('login-msg').textContent));
    await page.fill('input[name=key]', ADMIN);
    await page.press('input[name=key]', 'Enter');
    await page.waitForSelector('#shell:not([hidden])');
    allow401 = false;

    // ---- the list ----
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length >= 5, rows);
    assert.equal(await page.locator(`${rows} >> text=alice`).count(), 1, 'the user column');
    assert.ok(await page.locator(`${rows} .badge-error`).count() >= 2, 'failing and blocked calls are marked');
    await shot('traces');

    // ---- filter by model (typed, Enter) ----
    await page.fill('input[name=model]', 'm-flaky');
    await page.press('input[name=model]', 'Enter');
    await page.waitForFunction((sel) => {
      const r = [...document.querySelectorAll(sel)];
      return r.length === 2 && r.every((tr) => tr.children[2].textContent === 'm-flaky');
    }, rows);
    assert.match(await hash(), /model=m-flaky/);

    // ---- and by status=error ----
    await page.selectOption('select[name=status]', 'error');
    await page.waitForFunction(() => /status=error/.test(location.hash));
    if (statusFilter) {
      await page.waitForFunction((sel) => {
        const r = [...document.querySelectorAll(sel)];
        return r.length === 1 && r[0].querySelector('.badge-error');
      }, rows);
    }
    await page.waitForSelector(`${rows} .badge-error`);

    // ---- open the failing trace with the keyboard: j selects, Enter opens ----
    await page.locator('#view h1').click(); // focus out of the form
    const errorRow = statusFilter ? 0 : await page.evaluate((sel) => [...document.querySelectorAll(sel)].findIndex((tr) => tr.querySelector('.badge-error')), rows);
    for (let i = 0; i <= errorRow; i++) await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /^#\/traces\/[0-9a-f]{32}/.test(location.hash));
    await page.waitForSelector('.wf-row');
    const banner = await page.textContent('.callout-error');
    assert.match(banner, /500/, `the error is shown: ${banner}`);
    assert.equal(await page.locator('.wf-row').count(), 1);
    assert.match(await page.textContent('.wf-row'), /GENERATION/);
    const bar = await page.locator('.wf-bar').boundingBox();
    assert.ok(bar && bar.width > 1 && bar.height > 1, 'the waterfall bar is drawn');
    assert.match(await page.textContent('.obs-detail'), /this call fails/, 'the input is shown as a chat');
    await shot('trace-error');

    // ---- Esc goes back to the filtered list ----
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => /^#\/traces\?.*model=m-flaky/.test(location.hash));
    await page.waitForSelector(rows);

    // ---- the tool call ----
    await page.click('.filters button.ghost'); // Clear
    await page.waitForFunction(() => location.hash === '#/traces');
    const toolId = (await waitTraces(keel.url, '?model=m-main', (d) => d.length >= 2, AUTH)).data[0].id;
    await page.goto(`${keel.url}/#/traces/${toolId}`);
    await page.waitForSelector('.tool-call');
    assert.match(await page.textContent('.obs-detail'), /get_weather/);
    assert.match(await page.textContent('.obs-detail'), /Weather in Paris\?/);
    assert.match(await page.textContent('.obs-detail .usage'), /input/);
    await shot('trace-tool');

    // ---- the guardrail: tree of two, verdict badge, findings with offsets ----
    const guardId = (await waitTraces(keel.url, '?model=m-guard', (d) => d.length >= 1, AUTH)).data[0].id;
    await page.goto(`${keel.url}/#/traces/${guardId}`);
    await page.waitForFunction(() => document.querySelectorAll('.wf-row').length === 2);
    assert.match(await page.textContent('.wf-row:nth-child(2)'), /GUARDRAIL.*block/);
    await page.click('.wf-row:nth-child(2)');
    await page.waitForSelector('.findings');
    const findings = await page.textContent('.findings');
    assert.match(findings, /CREDIT_CARD/);
    assert.match(findings, /\d+–\d+/, 'offsets');
    assert.ok(!findings.includes('4111'), 'no secret value in the findings');
    await shot('trace-guardrail');

    // ---- live tail: a new call shows up without a reload ----
    await page.goto(`${keel.url}/#/traces`);
    await page.waitForSelector(rows);
    const before = await page.locator(rows).count();
    await page.click('button.toggle');
    await page.waitForSelector('button.toggle.on');
    const fresh = await chat(keel.url, { model: 'm-main', messages: user('a live one') }, { ...AUTH, 'x-keel-user': 'live-user' });
    assert.equal(fresh.status, 200);
    await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length === n + 1, [rows, before], { timeout: 8000 });
    assert.match(await page.textContent(`${rows}:first-child`), /live-user/, 'new rows go on top');
    await page.click('button.toggle');

    // ---- sessions and users ----
    if (hasSessions) {
      await page.goto(`${keel.url}/#/sessions/sess-ui`);
      await page.waitForSelector(rows);
      assert.match(await page.textContent('#view'), /alice/);
      await shot('session');
    }

    // ---- the dashboard ----
    if (hasMetrics) {
      await page.click('.nav a[data-section=dashboard]');
      await page.waitForFunction(() => document.querySelectorAll('figure.chart').length === 5);
      assert.ok(await page.locator('figure.chart svg').count() >= 4, 'charts are drawn (cost may be empty: mock has no price)');
      assert.ok(await page.locator('figure.chart svg rect').count() >= 1, 'bars are drawn');
      assert.match(await page.textContent('#view .stats'), /Requests/);
      await shot('dashboard');
    }

    // ---- a refused key brings the login back; sign out ----
    allow401 = true;
    await page.evaluate(() => sessionStorage.setItem('keel.adminKey', 'revoked'));
    await page.reload();
    await page.waitForSelector('#login.open');
    assert.match(await page.textContent('#login-msg'), /refused/);
    await page.fill('input[name=key]', ADMIN);
    await page.press('input[name=key]', 'Enter');
    await page.waitForSelector('#shell:not([hidden])');
    allow401 = false;
    await page.click('#logout');
    await page.waitForSelector('#login.open');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('keel.adminKey')), null);
  } catch (e) {
    await shot('failure').catch(() => {});
    e.message += `\n  at ${await hash().catch(() => '?')}; browser problems so far: ${JSON.stringify(problems)}`;
    throw e;
  } finally {
    await ctx.close();
  }
  assert.deepEqual(problems, [], 'no console error, page error, failed request or HTTP error');
});
