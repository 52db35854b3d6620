// keel on PostgreSQL while the server goes away and comes back: calls are still answered, what
// the writer could not commit is spilled to disk, and once the server is back the writer
// reconnects and every trace arrives (docs/ARCHITECTURE.md: what survives).  gcov showed no
// test ever ran the PostgreSQL writer's reconnect (pg_write.c) or its error mapping (pg.c's
// kl_pg_err): the shared test server never goes down.  This file starts a server of its own
// with scripts/pg-test.sh, so the other PostgreSQL tests are not disturbed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { startKeel, chat, getJSON } from './lib.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const PG_SH = `${ROOT}scripts/pg-test.sh`;
const binDir = (() => {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const v = readdirSync(base).sort((a, b) => Number(b) - Number(a)).find((d) => existsSync(`${base}/${d}/bin/pg_ctl`));
  return v ? `${base}/${v}/bin` : null;
})();
// the pg/ variant of the suite would run the very same thing again: once is enough
const skip = !binDir ? 'no PostgreSQL server binaries' : process.env.KEEL_TEST_PG_URL ? 'runs in the SQLite pass' : false;

const dir = `/tmp/keel-pg-restart-${process.pid}`;
let keel, url;

function pgCtl(...args) {
  const cmd = [`${binDir}/pg_ctl`, '-D', `${dir}/data`, '-w', '-t', '60', ...args];
  if (process.getuid() === 0) execFileSync('runuser', ['-u', 'postgres', '--', ...cmd], { stdio: 'ignore' });
  else execFileSync(cmd[0], cmd.slice(1), { stdio: 'ignore' });
}

before(async () => {
  if (skip) return;
  execFileSync('bash', [PG_SH, 'start', dir], { stdio: 'ignore' });
  url = execFileSync('cat', [`${dir}/url`]).toString().trim();
  keel = await startKeel({ env: { KEEL_STORE_URL: url } });
});

after(async () => {
  if (skip) return;
  if (keel) {
    assert.equal(await keel.stop(), 0, `keel exited cleanly:\n${keel.log.text.slice(-3000)}`);
    keel.cleanup();
  }
  execFileSync('bash', [PG_SH, 'stop', dir], { stdio: 'ignore' });
});

async function tracesOf(user) {
  const r = await getJSON(`${keel.url}/api/v1/traces?user_id=${user}&limit=100`);
  return r.status === 200 ? r.json.data.length : -1;
}

async function calls(user, n) {
  for (let i = 0; i < n; i++) {
    const r = await chat(keel.url, { model: 'mock', messages: [{ role: 'user', content: `call ${i}` }] }, { 'x-keel-user': user });
    assert.equal(r.status, 200, r.text);
  }
}

async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`${what}\n${keel.log.text.slice(-3000)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

test('PostgreSQL stopped and started again: calls are answered throughout, every trace arrives', { skip }, async () => {
  await calls('u-before', 5);
  await until(async () => (await tracesOf('u-before')) === 5, 15000, 'the first traces never arrived');

  pgCtl('-m', 'fast', 'stop');
  await calls('u-down', 5);  // the gateway does not wait for the store
  await new Promise((res) => setTimeout(res, 1500));  // the writer's batch fails and is spilled
  assert.equal(await tracesOf('u-down'), -1, 'reads fail while the server is down');

  pgCtl('restart');  // started again with the options it was started with (postmaster.opts)
  await until(async () => (await tracesOf('u-down')) === 5, 60000, 'the traces of the down time never arrived');
  assert.equal(await tracesOf('u-before'), 5);
  await calls('u-after', 3);
  await until(async () => (await tracesOf('u-after')) === 3, 15000, 'traces after the restart never arrived');
});
