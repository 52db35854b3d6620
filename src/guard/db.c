/* db.c: a compiled rule set: one Hyperscan database over many rules, plus PCRE2 to confirm.
 *
 * Scan = one Hyperscan pass that only records, per rule, windows [end - lead, end] around
 * match ends (lead = max_len, or a rule's hint: see guard_scanner_hs_hint; no start-of-match
 * tracking: HS_FLAG_SOM_LEFTMOST makes large rule sets too big); then PCRE2 (JIT) re-matches
 * each merged window with the rule's boundary lookarounds to find exact spans, validators
 * confirm and context words boost.  PCRE2 runs with an offset limit at the window's end, so a
 * window without a match costs its own bytes, not the max_len after it.  Windows bound
 * PCRE2's work, so the cost stays linear in the text.  A rule Hyperscan rejects is compiled in
 * PREFILTER mode: PCRE2 confirms anyway.  A hint's may_match looks at the bytes before a
 * Hyperscan end before a window opens (person_pair, email: most ends hold no possible start),
 * and a window holds a match when PCRE2 started it there (pcre2_get_startchar: a \K in `post`
 * moves ov[0] past a search form's end).  A rule whose scanner only asks whether it hit
 * (GUARD_RE_FIRST_HIT, guard_int.h) stops confirming at its first hit.
 *
 * Rules that Hyperscan runs badly (the pii gazetteer: thousands of short literals) may take
 * their match ends from a window source instead (guard_window_source): a hand-written pre-pass
 * run before the Hyperscan pass, which leaves those rules out.  Its reports are buffered, put
 * in end order (as Hyperscan reports) and fed to the same on_match, so the windows, and
 * everything after them, are those Hyperscan would have given (a report may also name its
 * window outright: then it opens as it is).
 *
 * A scan allocates nothing in the common case: hs_scratch is not shareable between threads,
 * so the set keeps a small mutex-guarded pool of per-scan states (scratch clone, PCRE2 match
 * data and context, window vector, per-rule window index), and scans never block each other
 * for longer than a list pop.
 *
 * A policy has one set per stage (every scanner of the stage in one pass) and, for scanners
 * that rescan derived text (decoded base64...), one set of their own rules. */
#include "guard/db.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <hs/hs.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A rule's context words, prepared once at build (context_boost runs for most confirmed hits):
 * the words of letters only, grouped by length (compared to runs of letters of that length),
 * and the others ("e-mail", "social security"), searched for in a lowercased copy. */
#define CTX_MAXLEN 72  /* the longest run of letters that fits in the 48 + 24 bytes looked at */
typedef struct ctx_words {
  const char **w;                       /* letter words by length, then the others */
  unsigned bylen[CTX_MAXLEN + 2];       /* letter words of length L: w[bylen[L], bylen[L + 1]) */
  unsigned char minlen, maxlen;         /* of the letter words (minlen > maxlen: none) */
  uint64_t seen;                        /* bit ctx_hash(w) of every letter word w: most runs of
                                           letters match none, and one test tells */
  size_t nother, *otherlen;             /* the others: w[bylen[CTX_MAXLEN + 1] ...] */
} ctx_words;

/* A run of letters' bit in ctx_words.seen: its length and first two letters (lower case). */
static inline unsigned ctx_hash(const char *w, size_t l) {
  unsigned c0 = (unsigned)(w[0] | 0x20), c1 = l > 1 ? (unsigned)(w[1] | 0x20) : 0;
  return (unsigned)(l * 7 + c0 * 3 + c1) & 63;
}

/* A confirmation window of one rule: PCRE2 looks for matches starting in [start, end]. */
/* A rule's windows form a chain (next, prev) in start order, none overlapping (open_window). */
typedef struct { unsigned rule, next, prev; size_t start, end; } window;
#define NO_WINDOW 0xffffffffu

/* Everything one scan needs, pooled (see the top). */
typedef struct scan_state {
  hs_scratch_t *s;
  pcre2_match_data *md;
  pcre2_match_context *mc;
  window *w;
  size_t wcap;
  unsigned *first, *last;  /* per rule: its first and latest window, NO_WINDOW if none */
  unsigned *active;        /* the rules that have windows, in order of their first window */
  struct src_end { uint32_t end, start, rule; } *pend;  /* window sources' reports (start
                                                          GUARD_SOURCE_LEAD: per rule) */
  size_t npend, pendcap;
  struct scan_state *next;
} scan_state;

struct guard_db {
  size_t nrules;
  const guard_rule **rules;
  unsigned *owner;  /* per rule: the caller's tag (scanner index) */
  unsigned *lead;   /* per rule: how far before a Hyperscan match end its match may start */
  const char **hs_re;  /* per rule: what Hyperscan runs (the rule's re or its hint's) */
  guard_may_match_fn *may_match;  /* per rule: its hint's pre-check, or NULL */
  /* window sources (guard_window_source): each with, per slot, the first rule it feeds, and
   * per rule the next rule of the same source and slot */
  struct db_source {
    const guard_window_source *src;
    unsigned nslots, *first;
  } *src;
  size_t nsrc;
  unsigned *src_next;
  bool *sourced;    /* per rule: fed by a source, not in the Hyperscan database */
  size_t nsrc_rules;  /* rules fed by a source */
  pcre2_code **pcre;
  bool *jit;        /* per rule: JIT-compiled (then pcre2_jit_match, without the interpreter's checks) */
  ctx_words **ctx;  /* per rule: its context words prepared (NULL: none) */
  hs_database_t *db;
  hs_database_t *db_ws[GUARD_WS_NVARIANTS];  /* the forms rewritten per whitespace level (db_ws.c);
                                                NULL: no form changes */
  hs_scratch_t *proto;
  pthread_mutex_t mu;
  scan_state *pool;
};

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) abort();
  return p;
}

static ctx_words *ctx_prepare(const char *const *words) {
  size_t n = 0;
  while (words[n]) n++;
  ctx_words *c = xcalloc(1, sizeof *c);
  c->w = xcalloc(n, sizeof *c->w);
  c->otherlen = xcalloc(n, sizeof *c->otherlen);
  c->minlen = CTX_MAXLEN + 1;
  size_t k = 0;
  for (size_t l = 0; l <= CTX_MAXLEN; l++) {  /* letter words of length l (empty words: never) */
    c->bylen[l] = (unsigned)k;
    for (size_t i = 0; i < n && l; i++) {
      size_t wl = strlen(words[i]);
      bool letters = true;
      for (size_t q = 0; q < wl; q++) letters = letters && guard_is_letter((unsigned char)words[i][q]);
      if (wl != l || !letters) continue;
      c->w[k++] = words[i];
      c->seen |= (uint64_t)1 << ctx_hash(words[i], l);
      if (l < c->minlen) c->minlen = (unsigned char)l;
      if (l > c->maxlen) c->maxlen = (unsigned char)l;
    }
  }
  c->bylen[CTX_MAXLEN + 1] = (unsigned)k;
  for (size_t i = 0; i < n; i++) {  /* the rest: words with other bytes */
    size_t wl = strlen(words[i]);
    bool letters = true;
    for (size_t q = 0; q < wl; q++) letters = letters && guard_is_letter((unsigned char)words[i][q]);
    if (!wl || letters) continue;  /* (letters only and longer than any run: never found) */
    c->otherlen[c->nother++] = wl;
    c->w[k++] = words[i];
  }
  return c;
}

static void ctx_free(ctx_words *c) {
  if (!c) return;
  free(c->w);
  free(c->otherlen);
  free(c);
}

pcre2_code *guard_rule_pcre(const guard_rule *r, kl_err *err) {
  const char *pre = r->pre ? r->pre : "", *post = r->post ? r->post : "";
  size_t n = strlen(pre) + strlen(r->re) + strlen(post) + 8;
  char *pat = xcalloc(n, 1);
  snprintf(pat, n, "%s(?:%s)%s", pre, r->re, post);
  uint32_t opts = PCRE2_USE_OFFSET_LIMIT;
  if (r->flags & GUARD_RE_CASELESS) opts |= PCRE2_CASELESS;
  if (r->flags & GUARD_RE_UTF8) opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (r->flags & GUARD_RE_DOTALL) opts |= PCRE2_DOTALL;
  if (r->flags & GUARD_RE_MULTILINE) opts |= PCRE2_MULTILINE;
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
  free(pat);
  if (!c) {
    PCRE2_UCHAR msg[128];
    pcre2_get_error_message(ec, msg, sizeof msg);
    kl_err_set(err, 400, "guard: rule %s: %s at offset %zu", r->name, (char *)msg, (size_t)eo);
  }
  return c;
}

static bool compile_pcre(guard_db *d, size_t i, kl_err *err) {
  d->pcre[i] = guard_rule_pcre(d->rules[i], err);
  if (!d->pcre[i]) return false;
  /* else the interpreter; a rule matched by hand (find) never runs it, so it is not JIT-compiled
   * (the gazetteer's rules are one per chunk) */
  d->jit[i] = !d->rules[i]->find && pcre2_jit_compile(d->pcre[i], PCRE2_JIT_COMPLETE) == 0;
  return true;
}

static unsigned hs_flags(const guard_rule *r) {
  unsigned f = 0;
  if (r->flags & GUARD_RE_CASELESS) f |= HS_FLAG_CASELESS;
  if (r->flags & GUARD_RE_UTF8) f |= HS_FLAG_UTF8 | HS_FLAG_UCP;
  if (r->flags & GUARD_RE_DOTALL) f |= HS_FLAG_DOTALL;
  if (r->flags & GUARD_RE_MULTILINE) f |= HS_FLAG_MULTILINE;
  if (r->flags & GUARD_RE_PREFILTER) f |= HS_FLAG_PREFILTER;
  return f;
}

typedef struct {
  const char **exprs;
  unsigned *flags;
  const unsigned *ids;
  size_t n;
  hs_database_t *db;
  bool ok;
} compile_job;

static void *compile_job_run(void *arg) {
  compile_job *j = arg;
  kl_err err = {0};
  j->ok = guard_hs_compile(j->exprs, j->flags, j->ids, j->n, &j->db, &err);
  return NULL;
}

/* The database of the rules' forms, and (with `variants`) one per whitespace level if some form
 * changes (db_ws.c; one that fails to compile is left out: its texts then use the forms as
 * given).  The variants compile in threads of their own, beside the forms: a cold start pays
 * their CPU but on two cores little of their wall time. */
static bool compile_hs(guard_db *d, bool variants, kl_err *err) {
  const char **exprs = xcalloc(d->nrules, sizeof *exprs);
  unsigned *flags = xcalloc(d->nrules, sizeof *flags), *ids = xcalloc(d->nrules, sizeof *ids);
  size_t n = 0;
  for (size_t i = 0; i < d->nrules; i++) {
    if (d->sourced[i]) continue;  /* a window source finds its ends */
    exprs[n] = d->hs_re[i];
    flags[n] = hs_flags(d->rules[i]);
    ids[n++] = (unsigned)i;
  }
  compile_job job[GUARD_WS_NVARIANTS] = {{0}};
  pthread_t th[GUARD_WS_NVARIANTS];
  bool started[GUARD_WS_NVARIANTS] = {false};
  char **own = xcalloc(GUARD_WS_NVARIANTS * n, sizeof *own);  /* the rewritten forms */
  for (int v = 0; variants && v < GUARD_WS_NVARIANTS; v++) {
    char **o = own + (size_t)v * n;
    job[v] = (compile_job){xcalloc(n, sizeof(char *)), xcalloc(n, sizeof(unsigned)), ids, n, NULL, false};
    bool changed = false;
    for (size_t k = 0; k < n; k++) {
      o[k] = guard_ws_form(exprs[k], (guard_ws_level)v);
      job[v].exprs[k] = o[k] ? o[k] : exprs[k];
      job[v].flags[k] = flags[k];
      changed = changed || o[k];
    }
    if (!changed) continue;
    started[v] = pthread_create(&th[v], NULL, compile_job_run, &job[v]) == 0;
    if (!started[v]) compile_job_run(&job[v]);
  }
  bool ok = guard_hs_compile(exprs, flags, ids, n, &d->db, err);
  for (int v = 0; v < GUARD_WS_NVARIANTS; v++) {
    if (started[v]) pthread_join(th[v], NULL);
    if (job[v].ok && ok) d->db_ws[v] = job[v].db;
    else hs_free_database(job[v].db);
    free(job[v].exprs);
    free(job[v].flags);
  }
  for (size_t k = 0; k < GUARD_WS_NVARIANTS * n; k++) free(own[k]);
  free(own);
  free(exprs);
  free(flags);
  free(ids);
  /* one scratch fits every database of the set */
  for (int v = -1; ok && v < GUARD_WS_NVARIANTS; v++) {
    hs_database_t *db = v < 0 ? d->db : d->db_ws[v];
    if (db && hs_alloc_scratch(db, &d->proto) != HS_SUCCESS) {
      kl_err_set(err, 500, "guard: hyperscan: cannot allocate scratch");
      ok = false;
    }
  }
  return ok;
}

/* GUARD_LEAD_PREFIX: the longest match of the prefix form, as Hyperscan measures it (capped by
 * max_len; max_len if Hyperscan cannot say or the form is unbounded). */
static unsigned prefix_lead(const char *form, const guard_rule *r) {
  hs_expr_info_t *info = NULL;
  hs_compile_error_t *ce = NULL;
  unsigned lead = r->max_len;
  if (hs_expression_info(form, hs_flags(r), &info, &ce) == HS_SUCCESS && info) {
    if (info->max_width < lead) lead = info->max_width;
  } else {
    hs_free_compile_error(ce);
  }
  free(info);
  return lead;
}

/* Rule i takes its ends from src's reports of slot: chained after the slot's other rules. */
static void add_source_rule(guard_db *d, size_t i, const guard_window_source *src, unsigned slot) {
  size_t k = 0;
  while (k < d->nsrc && d->src[k].src != src) k++;
  if (k == d->nsrc) d->src[d->nsrc++] = (struct db_source){src, 0, NULL};
  struct db_source *ds = &d->src[k];
  if (slot >= ds->nslots) {
    ds->first = realloc(ds->first, (slot + 1) * sizeof *ds->first);
    if (!ds->first) abort();
    for (unsigned q = ds->nslots; q <= slot; q++) ds->first[q] = NO_WINDOW;
    ds->nslots = slot + 1;
  }
  unsigned *at = &ds->first[slot];  /* append: rule order within a slot */
  while (*at != NO_WINDOW) at = &d->src_next[*at];
  *at = (unsigned)i;
  d->src_next[i] = NO_WINDOW;
  d->sourced[i] = true;
  d->nsrc_rules++;
}

guard_db *guard_db_build(const guard_rule *const *rules, const guard_hs_hint *const *hints, const unsigned *owner,
                         size_t n, kl_err *err) {
  return guard_db_build_sourced(rules, hints, NULL, owner, n, err);
}

guard_db *guard_db_build_sourced(const guard_rule *const *rules, const guard_hs_hint *const *hints,
                                 const guard_rule_source *const *sources, const unsigned *owner, size_t n, kl_err *err) {
  return guard_db_build_opts(rules, hints, sources, owner, n, 0, err);
}

guard_db *guard_db_build_opts(const guard_rule *const *rules, const guard_hs_hint *const *hints,
                              const guard_rule_source *const *sources, const unsigned *owner, size_t n, unsigned opts,
                              kl_err *err) {
  guard_db *d = xcalloc(1, sizeof *d);
  pthread_mutex_init(&d->mu, NULL);
  d->nrules = n;
  d->rules = xcalloc(n, sizeof *d->rules);
  d->owner = xcalloc(n, sizeof *d->owner);
  d->lead = xcalloc(n, sizeof *d->lead);
  d->hs_re = xcalloc(n, sizeof *d->hs_re);
  d->may_match = xcalloc(n, sizeof *d->may_match);
  d->pcre = xcalloc(n, sizeof *d->pcre);
  d->jit = xcalloc(n, sizeof *d->jit);
  d->ctx = xcalloc(n, sizeof *d->ctx);
  d->src_next = xcalloc(n, sizeof *d->src_next);
  d->sourced = xcalloc(n, sizeof *d->sourced);
  d->src = xcalloc(n, sizeof *d->src);
  for (size_t i = 0; i < n; i++) {
    const guard_hs_hint *h = hints ? hints[i] : NULL;
    d->rules[i] = rules[i];
    d->owner[i] = owner ? owner[i] : 0;
    d->hs_re[i] = h && h->re ? h->re : rules[i]->re;
    d->lead[i] = h && h->lead ? h->lead : rules[i]->max_len;
    if (d->lead[i] == GUARD_LEAD_PREFIX) d->lead[i] = prefix_lead(d->hs_re[i], rules[i]);
    d->may_match[i] = h ? h->may_match : NULL;
    if (rules[i]->context) d->ctx[i] = ctx_prepare(rules[i]->context);
    const guard_rule_source *src = sources ? sources[i] : NULL;
    if (src && src->source) add_source_rule(d, i, src->source, src->slot);
  }
  for (size_t i = 0; i < n; i++)
    if (!compile_pcre(d, i, err)) goto fail;
  if (n > d->nsrc_rules && !compile_hs(d, !(opts & GUARD_DB_NO_WS), err)) goto fail;
  return d;
fail:
  guard_db_free(d);
  return NULL;
}

static void state_free(scan_state *st) {
  hs_free_scratch(st->s);
  pcre2_match_data_free(st->md);
  pcre2_match_context_free(st->mc);
  free(st->w);
  free(st->first);
  free(st->last);
  free(st->active);
  free(st->pend);
  free(st);
}

void guard_db_free(guard_db *d) {
  if (!d) return;
  for (scan_state *n = d->pool, *next; n; n = next) {
    next = n->next;
    state_free(n);
  }
  hs_free_scratch(d->proto);
  hs_free_database(d->db);
  for (int v = 0; v < GUARD_WS_NVARIANTS; v++) hs_free_database(d->db_ws[v]);
  for (size_t i = 0; i < d->nrules; i++) pcre2_code_free(d->pcre[i]);
  free(d->pcre);
  free(d->jit);
  for (size_t i = 0; i < d->nrules; i++) ctx_free(d->ctx[i]);
  free(d->ctx);
  free(d->rules);
  free(d->owner);
  free(d->lead);
  free(d->hs_re);
  free(d->may_match);
  for (size_t k = 0; k < d->nsrc; k++) free(d->src[k].first);
  free(d->src);
  free(d->src_next);
  free(d->sourced);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

size_t guard_db_nrules(const guard_db *d) { return d ? d->nrules : 0; }

/* ---- scan ---- */
bool guard_ws_off = false;

typedef struct {
  const guard_db *d;
  scan_state *st;
  const char *text;
  size_t len;
  size_t nw, nactive;
} scan_ctx;

/* Opens (or extends) a window of rule id: starts in [start, end).  A rule's chain stays in
 * start order with no two windows overlapping, so confirmation walks it once with no sort: a
 * window that overlaps the latest extends it, and one that reaches back (a may_match or a
 * window source may move a start back past the latest window's) swallows the windows it now
 * overlaps.  The starts PCRE2 tries are the same union as with the windows kept apart and
 * sorted (on the Presidio texts 119 windows were qsorted per check, ~36k instructions). */
static inline __attribute__((always_inline)) void open_window(scan_ctx *c, unsigned id, size_t start, size_t end) {
  scan_state *st = c->st;
  unsigned li = st->last[id];
  if (li != NO_WINDOW) {
    window *l = &st->w[li];
    if (start <= l->end) {  /* overlaps the rule's latest window: extend it */
      if (end > l->end) l->end = end;
      if (start < l->start) {
        l->start = start;
        /* reaching back: merge into the windows before while they overlap */
        while (l->prev != NO_WINDOW && st->w[l->prev].end >= l->start) {
          window *p = &st->w[l->prev];
          if (l->start < p->start) p->start = l->start;
          if (l->end > p->end) p->end = l->end;
          p->next = NO_WINDOW;
          st->last[id] = l->prev;
          l = p;
        }
      }
      return;
    }
  }
  if (c->nw == st->wcap) {
    st->wcap = st->wcap ? st->wcap * 2 : 64;
    st->w = realloc(st->w, st->wcap * sizeof *st->w);
    if (!st->w) abort();
  }
  unsigned k = (unsigned)c->nw++;
  st->w[k] = (window){id, NO_WINDOW, li, start, end};
  if (li != NO_WINDOW) st->w[li].next = k;
  else st->first[id] = k, st->active[c->nactive++] = id;
  st->last[id] = k;
}

/* A Hyperscan match end of rule id: a window of the lead before it. */
static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *vctx) {
  (void)from; (void)flags;
  scan_ctx *c = vctx;
  size_t lead = c->d->lead[id], end = (size_t)to, start = end > lead ? end - lead : 0;
  /* no window where the rule's pre-check sees no possible start (it may also move the start) */
  if (c->d->may_match[id] && !c->d->may_match[id](c->text, c->len, end, &start)) return 0;
  open_window(c, id, start, end);
  return 0;
}

/* ---- window sources ---- */
typedef struct {
  scan_ctx *c;
  const struct db_source *ds;
  uint32_t last;  /* the latest end reported */
  bool unordered;
} src_ctx;

static void src_report(void *vctx, unsigned slot, size_t start, size_t end) {
  src_ctx *x = vctx;
  if (slot >= x->ds->nslots || x->ds->first[slot] == NO_WINDOW || end > x->c->len) return;
  if (start != GUARD_SOURCE_LEAD && start > end) return;
  scan_state *st = x->c->st;
  if (st->npend == st->pendcap) {
    st->pendcap = st->pendcap ? st->pendcap * 2 : 256;
    st->pend = realloc(st->pend, st->pendcap * sizeof *st->pend);
    if (!st->pend) abort();
  }
  st->pend[st->npend++] =
      (struct src_end){(uint32_t)end, start == GUARD_SOURCE_LEAD ? UINT32_MAX : (uint32_t)start, x->ds->first[slot]};
  if (end < x->last) x->unordered = true;
  x->last = (uint32_t)end;
}

static int cmp_src_end(const void *a, const void *b) {
  const struct src_end *x = a, *y = b;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Sorts a source's reports by cmp_src_end.  They come nearly in order (the digits pass reports
 * a run's ends slot by slot, the gazetteer a name's ends from each start), so an insertion sort
 * does it in about one pass; past a budget of moves (a text built to scramble them) qsort does
 * the rest.  On the Presidio texts qsort took 24k instructions per 4 KiB. */
static void sort_reports(struct src_end *v, size_t n) {
  size_t budget = 8 * n + 64;
  for (size_t i = 1; i < n; i++) {
    struct src_end x = v[i];
    size_t j = i;
    while (j > 0 && cmp_src_end(&v[j - 1], &x) > 0) {
      v[j] = v[j - 1];
      j--;
      if (!--budget) {
        v[j] = x;
        qsort(v, n, sizeof *v, cmp_src_end);
        return;
      }
    }
    v[j] = x;
  }
}

/* Runs every window source and feeds its reports, in Hyperscan's order (by end), to each rule
 * of the slot: an end alone goes through on_match, so the windows come out as if Hyperscan
 * had reported them (a repeated end only extends a window to where it already reaches); a
 * window with its start opens as it is (the source's own check stands for may_match). */
static void run_sources(scan_ctx *c) {
  scan_state *st = c->st;
  for (size_t k = 0; k < c->d->nsrc; k++) {
    src_ctx x = {.c = c, .ds = &c->d->src[k]};
    st->npend = 0;
    x.ds->src->scan(c->text, c->len, src_report, &x);
    if (x.unordered) sort_reports(st->pend, st->npend);
    for (size_t i = 0; i < st->npend; i++) {
      const struct src_end *e = &st->pend[i];
      for (unsigned r = e->rule; r != NO_WINDOW; r = c->d->src_next[r])
        if (e->start == UINT32_MAX) on_match(r, 0, e->end, 0, c);
        else open_window(c, r, e->start, e->end);
    }
  }
}

static int cmp_unsigned(const void *a, const void *b) {
  unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
  return x < y ? -1 : x > y;
}

static bool has_word(const char *lw, size_t n, const char *w, size_t wl) {
  for (const char *q = lw; (q = memmem(q, n - (size_t)(q - lw), w, wl)); q++) {
    size_t i = (size_t)(q - lw);
    if ((i == 0 || !guard_is_letter((unsigned char)lw[i - 1])) &&
        (i + wl >= n || !guard_is_letter((unsigned char)lw[i + wl])))
      return true;
  }
  return false;
}

/* The letters among t[i, i + n) (n <= 64) as a bit mask: bit k for t[i + k]. */
static uint64_t alpha_mask(const char *t, size_t len, size_t i, size_t n) {
  uint64_t m = 0;
#ifdef __SSE2__
  size_t blocks = (n + 15) / 16;
  char buf[64];
  const char *p = t + i;
  if (i + blocks * 16 > len) {  /* the last block would read past the text: copy (zeros are no letters) */
    memset(buf, 0, sizeof buf);
    memcpy(buf, p, n);
    p = buf;
  }
  for (size_t b = 0; b < blocks; b++) m |= (uint64_t)guard_letters16(p + 16 * b) << (16 * b);
  if (n < 64) m &= ((uint64_t)1 << n) - 1;
#else
  for (size_t k = 0; k < n; k++) m |= (uint64_t)guard_is_letter((unsigned char)t[i + k]) << k;
#endif
  return m;
}

/* Presidio-like context: a keyword in the 48 bytes before or 24 after adds 0.35, ignoring
 * ASCII case; a keyword must not touch a letter on either side, nor span the finding.  A
 * keyword of letters only is found exactly when it equals one of the maximal runs of letters
 * of the two sides, so the sides are split into runs once (a bit mask of their letters, taken
 * 16 bytes at a time) and each run compared to the keywords of its length (ctx_prepare grouped
 * them); other keywords ("e-mail") are searched for in a lowercased copy. */
static double context_boost(const char *t, size_t len, size_t s, size_t e, const ctx_words *cw) {
  size_t bs = s > 48 ? s - 48 : 0, ae = e + 24 < len ? e + 24 : len;
  if (cw->minlen <= cw->maxlen)
    for (int side = 0; side < 2; side++) {
      size_t from = side ? e : bs, n = side ? ae - e : s - bs;
      uint64_t m = n ? alpha_mask(t, len, from, n) : 0;  /* n <= 48 */
      while (m) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        unsigned l = (unsigned)__builtin_ctzll(~(m >> i));  /* bits from n on are 0: a run ends */
        m &= ~(uint64_t)0 << (i + l);
        const char *run = t + from + i;
        if (l < cw->minlen || l > cw->maxlen || !(cw->seen >> ctx_hash(run, l) & 1)) continue;
        for (unsigned k = cw->bylen[l]; k < cw->bylen[l + 1]; k++) {
          const char *w = cw->w[k];
          size_t q = 0;
          while (q < l && (char)(run[q] | 0x20) == w[q]) q++;  /* letters: | 0x20 lowercases */
          if (q == l) return 0.35;
        }
      }
    }
  if (cw->nother) {
    char lw[48 + 1 + 24];  /* both sides lowercased, split by a NUL */
    size_t n = 0;
    for (size_t i = bs; i < s; i++) lw[n++] = (char)tolower((unsigned char)t[i]);
    lw[n++] = 0;
    for (size_t i = e; i < ae; i++) lw[n++] = (char)tolower((unsigned char)t[i]);
    for (size_t k = 0; k < cw->nother; k++)
      if (has_word(lw, n, cw->w[cw->bylen[CTX_MAXLEN + 1] + k], cw->otherlen[k])) return 0.35;
  }
  return 0;
}

static void hits_push(guard_db_hits *h, guard_hit x, unsigned owner) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    if (h->a) {  /* arena memory cannot grow in place: copy (the old block dies with the arena) */
      guard_hit *v = kl_arena_alloc(h->a, cap * sizeof *v);
      unsigned *o = kl_arena_alloc(h->a, cap * sizeof *o);
      if (h->n) {
        memcpy(v, h->v, h->n * sizeof *v);
        memcpy(o, h->owner, h->n * sizeof *o);
      }
      h->v = v;
      h->owner = o;
    } else {
      h->v = realloc(h->v, cap * sizeof *h->v);
      h->owner = realloc(h->owner, cap * sizeof *h->owner);
      if (!h->v || !h->owner) abort();
    }
    h->cap = cap;
  }
  h->owner[h->n] = owner;
  h->v[h->n++] = x;
}

/* Confirms one window; true when its rule needs no more (a GUARD_RE_FIRST_HIT rule's first hit). */
static bool confirm_window(const guard_db *d, const window *w, size_t *scanned, const char *text, size_t len,
                           scan_state *st, guard_db_hits *out) {
  const guard_rule *r = d->rules[w->rule];
  /* the subject stops a little after the longest match that can start in the window */
  size_t slen = w->end + r->max_len + 16 < len ? w->end + r->max_len + 16 : len;
  size_t off = w->start > *scanned ? w->start : *scanned;
  /* Starts lie in [w->start, w->end): every match holds a non-empty Hyperscan match that ends
   * in its window, after the match's start (a start at w->end would hold an end past it, which
   * would have extended this window).  So no call at w->end, where a window's last accepted
   * match usually leaves off. */
  if (!w->end) return false;
  pcre2_set_offset_limit(st->mc, w->end - 1);  /* no start past the window */
  while (off < w->end && off <= slen) {
    size_t ms, me;
    if (r->find) {  /* the same match, by hand */
      if (!r->find(text, slen, off, w->end - 1, &ms, &me)) break;
    } else {
      /* a subject cut short must not let `$` match at the cut */
      uint32_t opts = slen < len ? PCRE2_NOTEOL : 0;
      int rc = d->jit[w->rule] ? pcre2_jit_match(d->pcre[w->rule], (PCRE2_SPTR)text, slen, off, opts, st->md, st->mc)
                               : pcre2_match(d->pcre[w->rule], (PCRE2_SPTR)text, slen, off, opts, st->md, st->mc);
      if (rc < 0) break;
      PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
      ms = ov[0];
      me = ov[1];
      /* the match must start in the window: where PCRE2 started it, which a \K in `post` puts
       * before ms (a search form may end before the \K: guard_re_search_form) */
      if (pcre2_get_startchar(st->md) >= w->end) break;
    }
    double score = r->score;
    /* a rejected candidate may hide a valid one starting inside it (the lookbehinds keep
     * this from restarting mid-token); an accepted one is skipped whole */
    if (me <= ms || (r->validate && !r->validate(text, len, ms, &me, &score)) ||
        (r->validate_rule && !r->validate_rule(r, text, len, ms, &me, &score))) {
      off = *scanned = ms + 1;
      continue;
    }
    off = *scanned = me;
    if (score < 1 && d->ctx[w->rule]) score += context_boost(text, len, ms, me, d->ctx[w->rule]);
    if (score > 1) score = 1;
    hits_push(out, (guard_hit){r, ms, me, score}, d->owner[w->rule]);
    if (r->flags & GUARD_RE_FIRST_HIT) return true;
  }
  return false;
}

static scan_state *take_state(guard_db *d) {
  pthread_mutex_lock(&d->mu);
  scan_state *st = d->pool;
  if (st) d->pool = st->next;
  pthread_mutex_unlock(&d->mu);
  if (st) return st;
  st = xcalloc(1, sizeof *st);
  if (d->proto && hs_clone_scratch(d->proto, &st->s) != HS_SUCCESS) abort();  /* out of memory */
  st->md = pcre2_match_data_create(8, NULL);
  st->mc = pcre2_match_context_create(NULL);
  if (!st->md || !st->mc) abort();
  st->first = xcalloc(d->nrules, sizeof *st->first);
  st->last = xcalloc(d->nrules, sizeof *st->last);
  st->active = xcalloc(d->nrules, sizeof *st->active);
  for (size_t i = 0; i < d->nrules; i++) st->first[i] = st->last[i] = NO_WINDOW;
  return st;
}

static void give_state(guard_db *d, scan_state *st) {
  pthread_mutex_lock(&d->mu);
  st->next = d->pool;
  d->pool = st;
  pthread_mutex_unlock(&d->mu);
}

/* The database for this text: the variant of its whitespace level (db_ws.c: the same ends), or
 * of LINES for a SPACE text without a SPACE variant, from the length on where it pays; else the
 * forms as given. */
static const hs_database_t *pick_db(const guard_db *d, const char *text, size_t len) {
  if (guard_ws_off || len < GUARD_WS_MIN_SPACE || (!d->db_ws[GUARD_WS_SPACE] && !d->db_ws[GUARD_WS_LINES]))
    return d->db;
  guard_ws_level lv = guard_ws_level_of(text, len);
  if (lv == GUARD_WS_SPACE && d->db_ws[GUARD_WS_SPACE]) return d->db_ws[GUARD_WS_SPACE];
  if (lv <= GUARD_WS_LINES && len >= GUARD_WS_MIN_LINES && d->db_ws[GUARD_WS_LINES]) return d->db_ws[GUARD_WS_LINES];
  return d->db;
}

/* The rules that have windows, into rule order.  They come in the order of their first window,
 * a few dozen of them: an insertion sort does that in a few hundred instructions, where qsort
 * (a merge sort through a function pointer) took 5.6k per check on the Presidio texts; qsort
 * keeps a long list (a policy of many rules on a text that wakes them all) from costing n^2. */
static void sort_active(unsigned *v, size_t n) {
  if (n > 96) {
    qsort(v, n, sizeof *v, cmp_unsigned);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    unsigned x = v[i];
    size_t j = i;
    for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

bool guard_db_scan(const guard_db *cd, const char *text, size_t len, guard_db_hits *out, kl_err *err) {
  if (!cd || !cd->nrules) return true;
  if (len > 0xffffffffu) {
    kl_err_set(err, 413, "guard: text too large to scan (%zu bytes)", len);
    return false;
  }
  guard_db *d = (guard_db *)cd;  /* only the state pool mutates, under its mutex */
  scan_state *st = take_state(d);
  static const char empty[1] = "";
  if (!len) text = empty;
  scan_ctx c = {.d = d, .st = st, .text = text, .len = len};
  if (d->nsrc) run_sources(&c);
  hs_error_t rc = d->db ? hs_scan(pick_db(d, text, len), text, (unsigned)len, 0, st->s, on_match, &c) : HS_SUCCESS;
  if (rc == HS_SUCCESS && c.nw) {
    /* each rule's windows are chained in order: walk the rules in rule order */
    sort_active(st->active, c.nactive);
    for (size_t a = 0; a < c.nactive; a++) {
      size_t scanned = 0;
      for (unsigned k = st->first[st->active[a]]; k != NO_WINDOW; k = st->w[k].next)
        if (confirm_window(d, &st->w[k], &scanned, text, len, st, out)) break;
    }
  }
  for (size_t a = 0; a < c.nactive; a++) st->first[st->active[a]] = st->last[st->active[a]] = NO_WINDOW;
  give_state(d, st);
  if (rc != HS_SUCCESS) {
    kl_err_set(err, 500, "guard: hyperscan scan failed (%d)", (int)rc);
    return false;
  }
  return true;
}

void guard_db_hits_free(guard_db_hits *h) {
  if (!h->a) {
    free(h->v);
    free(h->owner);
  }
  *h = (guard_db_hits){0};
}
