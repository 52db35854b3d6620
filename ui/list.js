// list.js: tables of rows, "load more" pagination and j/k/Enter keyboard navigation.
//
// Any element marked data-nav-item inside the view is a stop for j/k; Enter opens its
// data-href (or clicks it).  Rows are real links too, so middle-click and copy-link work.

import { h, clear, errorState, empty, loading } from './dom.js';

// columns: [{title, cell: (row) => node|string, cls}]; href: (row) => '#/...'
export function table(columns, href) {
  const tbody = h('tbody');
  const el = h('table', { class: 'grid' },
    h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.cls }, c.title)))),
    tbody);
  function row(r) {
    const link = href ? href(r) : null;
    const tr = h('tr', { dataset: link ? { navItem: '', href: link } : { navItem: '' } },
      columns.map((c, i) => {
        const v = c.cell(r);
        // the first cell holds the link: keyboard focus and middle-click land on it
        return h('td', { class: c.cls }, i === 0 && link ? h('a', { href: link }, v) : v);
      }));
    if (link) tr.addEventListener('click', (e) => {
      if (e.target.closest('a') || e.ctrlKey || e.metaKey || window.getSelection().toString()) return;
      location.hash = link;
    });
    return tr;
  }
  return {
    el,
    tbody,
    add(rows, atTop = false) {
      const frag = document.createDocumentFragment();
      for (const r of rows) frag.append(row(r));
      if (atTop) tbody.prepend(frag);
      else tbody.append(frag);
    },
    get size() { return tbody.children.length; },
  };
}

// A paged list: fetchPage(cursor) -> {data, next_cursor}.  Renders into `into`, with a
// "Load more" button while there is a next cursor.  Returns the table (live tail adds rows).
export function pagedTable(into, { columns, href, fetchPage, emptyTitle, emptyHint, isCurrent }) {
  const t = table(columns, href);
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load more');
  const status = h('div');
  let cursor = null;
  async function load(first) {
    more.disabled = true;
    if (first) status.replaceChildren(loading());
    let page;
    try {
      page = await fetchPage(cursor);
    } catch (e) {
      if (isCurrent && !isCurrent()) return;
      status.replaceChildren(errorState(e, () => load(first)));
      more.disabled = false;
      return;
    }
    if (isCurrent && !isCurrent()) return;
    clear(status);
    t.add(page.data || []);
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    more.disabled = false;
    if (t.size === 0) status.replaceChildren(empty(emptyTitle || 'Nothing here yet.', emptyHint));
    t.el.hidden = t.size === 0;
    if (first) nav.reset();
  }
  more.addEventListener('click', () => load(false));
  t.el.hidden = true;
  into.append(h('div', { class: 'scroll' }, t.el), status, more);
  load(true);
  return t;
}

// ---- keyboard navigation ----

function items() {
  return [...document.querySelectorAll('#view [data-nav-item]')].filter((e) => !e.closest('[hidden]'));
}

export const nav = {
  index: -1,
  reset() {
    this.index = -1;
  },
  move(delta) {
    const list = items();
    if (!list.length) return;
    const old = list.findIndex((e) => e.classList.contains('sel'));
    let i = old < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, old + delta));
    if (old >= 0) list[old].classList.remove('sel');
    list[i].classList.add('sel');
    list[i].scrollIntoView({ block: 'nearest' });
    this.index = i;
    if (list[i].dataset.navSelect !== undefined) list[i].click(); // trees select as you move
  },
  open() {
    const cur = items().find((e) => e.classList.contains('sel'));
    if (!cur) return false;
    if (cur.dataset.href) location.hash = cur.dataset.href;
    else cur.click();
    return true;
  },
};
