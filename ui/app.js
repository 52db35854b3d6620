// app.js: boots keel's dashboard: login, routes, navigation and the keyboard.
//
// No framework and no build step: ES modules served as they are written.  Each route
// renders into #view from scratch; a render generation number (alive()) lets slow fetches
// and live-tail timers of a view the user already left notice it and drop their results,
// instead of aborting requests.

import { h, clear } from './dom.js';
import { get, getKey, setKey, setUnauthorizedHandler } from './api.js';
import { route, fallback, start, resolve, back, parse } from './router.js';
import { nav } from './list.js';
import { tracesView } from './traces.js';
import { traceView } from './trace.js';
import { groupListView, groupView } from './groups.js';
import { dashboardView } from './dashboard.js';

const view = document.getElementById('view');
const shell = document.getElementById('shell');
const login = document.getElementById('login');
const loginForm = document.getElementById('login-form');
const loginMsg = document.getElementById('login-msg');
const logoutBtn = document.getElementById('logout');
const authNote = document.getElementById('auth-note');

let gen = 0;
let started = false;

// Wraps a view: fresh container, a liveness check, the nav highlight.
function mount(fn) {
  return (params, query) => {
    const mine = ++gen;
    const alive = () => mine === gen && !login.classList.contains('open');
    clear(view);
    nav.reset();
    const section = parse().path.split('/')[1] || 'traces';
    for (const a of document.querySelectorAll('.nav a')) {
      if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `keel · ${section}`;
    fn(view, params, query, alive);
  };
}

route('/traces', mount(tracesView));
route('/traces/:id', mount(traceView));
route('/sessions', mount(groupListView('sessions')));
route('/sessions/:id', mount(groupView('sessions')));
route('/users', mount(groupListView('users')));
route('/users/:id', mount(groupView('users')));
route('/dashboard', mount(dashboardView));
fallback(mount((v) => v.append(h('div', { class: 'state' }, h('p', { class: 'state-title' }, 'No such page.'),
  h('a', { href: '#/traces' }, 'Go to traces')))));

// ---- login ----

function showLogin(message) {
  gen++; // views in flight drop their results
  login.classList.add('open');
  shell.hidden = true;
  loginMsg.textContent = message || '';
  const input = loginForm.elements.key;
  input.value = '';
  input.focus();
}

function showApp(usingKey) {
  login.classList.remove('open');
  shell.hidden = false;
  logoutBtn.hidden = !usingKey;
  authNote.textContent = usingKey ? '' : 'local · no admin key';
  if (!started) {
    started = true;
    start();
  } else {
    resolve();
  }
}

setUnauthorizedHandler(() => showLogin('The admin key was refused (it may have changed). Sign in again.'));

loginForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = loginForm.elements.key.value.trim();
  if (!key) {
    loginMsg.textContent = 'Enter the admin key (KEEL_ADMIN_KEY or admin_key in the config).';
    return;
  }
  loginMsg.textContent = 'Checking…';
  try {
    await get('traces', { limit: 1 }, { key, quiet401: true });
  } catch (err) {
    loginMsg.textContent = err.status === 401 ? 'That key was refused.' : `keel answered: ${err.message}`;
    return;
  }
  setKey(key);
  showApp(true);
});

logoutBtn.addEventListener('click', () => {
  setKey(null);
  showLogin('Signed out.');
});

// ---- keyboard ----

const help = document.getElementById('help');
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || login.classList.contains('open')) return;
  const t = e.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
  if (typing) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  switch (e.key) {
  case 'j':
    nav.move(1);
    break;
  case 'k':
    nav.move(-1);
    break;
  case 'Enter':
    if (t instanceof HTMLAnchorElement || t instanceof HTMLButtonElement || t.tagName === 'SUMMARY') return;
    if (nav.open()) e.preventDefault();
    break;
  case 'Escape':
    if (!help.hidden) help.hidden = true;
    else back();
    break;
  case '/': {
    const s = view.querySelector('input[type=search]');
    if (s) {
      e.preventDefault();
      s.focus();
    }
    break;
  }
  case '?':
    help.hidden = !help.hidden;
    break;
  default:
  }
});
document.getElementById('help-close').addEventListener('click', () => { help.hidden = true; });

// ---- boot: does this keel need a key, and is the stored one still good? ----

(async () => {
  const key = getKey();
  try {
    await get('traces', { limit: 1 }, { quiet401: true });
    showApp(!!key);
  } catch (err) {
    if (err.status === 401) {
      setKey(null);
      showLogin(key ? 'The stored admin key was refused. Sign in again.' : '');
    } else {
      showApp(!!key); // keel is down or broken: the views say so
    }
  }
})();
