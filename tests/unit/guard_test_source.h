/* guard_test_source.h: a window source (guard_window_source) against Hyperscan running the
 * forms it stands in for, which the source test files share.  Include after cmocka.h.
 *  - source_ref_open compiles, as Hyperscan ran them, the forms (hints) of the rules a default
 *    pii policy gives to a source (id = slot).
 *  - source_vs_hs scans a text both ways and fails the test unless the (slot, end) reports are
 *    the same set; it returns how many there were and counts them per slot in seen[] (slots
 *    past nseen are not counted).
 *  - source_random_text strings random pieces of bits[] into text (room for 700 bytes) and
 *    returns its length, 520-600 bytes, so that texts end anywhere;
 *  - source_same_hits checks that the policy finds, on each text, the same hits when those
 *    rules take their windows from the source as when Hyperscan runs their forms, and returns
 *    how many hits the source's rules had; source_same_hits_in does it for any scanner's rules. */
#ifndef KL_GUARD_TEST_SOURCE_H
#define KL_GUARD_TEST_SOURCE_H

#include <hs/hs.h>
#include <stdlib.h>

#include "guard/db.h"
#include "guard/guard_int.h"

typedef struct { unsigned slot; size_t end; } slot_end;
typedef struct { slot_end *v; size_t n, cap; } ends;

static inline void ends_push(ends *e, unsigned slot, size_t end) {
  if (e->n == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 256;
    e->v = realloc(e->v, e->cap * sizeof *e->v);
    assert_non_null(e->v);
  }
  e->v[e->n++] = (slot_end){slot, end};
}

static inline int cmp_slot_end(const void *a, const void *b) {
  const slot_end *x = a, *y = b;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static inline void ends_norm(ends *e) {  /* sorted, without repeats */
  if (e->n) qsort(e->v, e->n, sizeof *e->v, cmp_slot_end);
  size_t k = 0;
  for (size_t i = 0; i < e->n; i++)
    if (!k || cmp_slot_end(&e->v[k - 1], &e->v[i])) e->v[k++] = e->v[i];
  e->n = k;
}

static inline void source_report(void *ctx, unsigned slot, size_t start, size_t end) {
  assert_true(start == GUARD_SOURCE_LEAD);  /* Hyperscan-like ends */
  ends_push(ctx, slot, end);
}

static inline int hs_report(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx) {
  (void)from; (void)flags;
  ends_push(ctx, id, (size_t)to);
  return 0;
}

static inline size_t source_vs_hs(const hs_database_t *db, hs_scratch_t *s, const guard_window_source *src, const char *t,
                           size_t len, size_t *seen, size_t nseen) {
  ends a = {0}, b = {0};
  assert_int_equal(hs_scan(db, len ? t : "", (unsigned)len, 0, s, hs_report, &a), HS_SUCCESS);
  src->scan(t, len, source_report, &b);
  ends_norm(&a);
  ends_norm(&b);
  if (a.n != b.n) fail_msg("text \"%.*s\": hyperscan %zu ends, source %zu", (int)len, t, a.n, b.n);
  for (size_t i = 0; i < a.n; i++) {
    if (cmp_slot_end(&a.v[i], &b.v[i]))
      fail_msg("text \"%.*s\": end %zu slot %u vs end %zu slot %u", (int)len, t, a.v[i].end, a.v[i].slot, b.v[i].end,
               b.v[i].slot);
    if (a.v[i].slot < nseen) seen[a.v[i].slot]++;
  }
  size_t n = a.n;
  free(a.v);
  free(b.v);
  return n;
}

typedef struct {
  kl_guard_policy *p;
  const guard_scanner *s;  /* the policy's pii scanner */
  hs_database_t *db;
  hs_scratch_t *scratch;
  size_t n;                /* rules given to the source */
} source_ref;

static inline size_t source_random_text(const char *const *bits, size_t nbits, uint64_t *r, char *text) {
  size_t n = 0;
  while (n < 600) {
    *r = *r * 6364136223846793005u + 1442695040888963407u;
    const char *w = bits[(*r >> 33) % nbits];
    size_t wl = strlen(w);
    assert_true(wl <= 90);
    memcpy(text + n, w, wl);
    n += wl;
  }
  return n - (*r >> 50) % 80;
}

static inline void source_ref_open(source_ref *g, const guard_window_source *src) {
  memset(g, 0, sizeof *g);
  static const kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "sourced", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  g->p = kl_guard_policy_build(&pc, &err);
  assert_non_null(g->p);
  assert_int_equal(guard_policy_scanners(g->p, &g->s), 1);
  const guard_scanner *s = g->s;
  const char *exprs[32];
  unsigned ids[32], flags[32];
  for (size_t i = 0; i < s->nrules; i++) {
    if (!s->sources || s->sources[i].source != src) continue;
    assert_true(g->n < 32);
    assert_non_null(s->hints[i].re);  /* the form: what Hyperscan ran */
    exprs[g->n] = s->hints[i].re;
    ids[g->n] = s->sources[i].slot;
    flags[g->n++] = s->rules[i].flags & GUARD_RE_CASELESS ? HS_FLAG_CASELESS : 0;
  }
  hs_compile_error_t *ce = NULL;
  assert_int_equal(hs_compile_multi(exprs, flags, ids, (unsigned)g->n, HS_MODE_BLOCK, NULL, &g->db, &ce), HS_SUCCESS);
  assert_int_equal(hs_alloc_scratch(g->db, &g->scratch), HS_SUCCESS);
}

static inline void source_ref_close(source_ref *g) {
  hs_free_scratch(g->scratch);
  hs_free_database(g->db);
  kl_guard_policy_free(g->p);
}

/* Whether the source's rules include one named `name`. */
static inline bool source_ref_has(const source_ref *g, const guard_window_source *src, const char *name) {
  for (size_t i = 0; i < g->s->nrules; i++)
    if (g->s->sources && g->s->sources[i].source == src && !strcmp(g->s->rules[i].name, name)) return true;
  return false;
}

/* The same for the rules of scanner s (any kind). */
static inline size_t source_same_hits_in(const guard_scanner *s, const guard_window_source *src, const char *const *texts,
                                         size_t ntexts) {
  const guard_rule **rp = calloc(s->nrules, sizeof *rp);
  const guard_hs_hint **hp = calloc(s->nrules, sizeof *hp);
  const guard_rule_source **sp = calloc(s->nrules, sizeof *sp);
  assert_true(rp && hp && sp);
  for (size_t i = 0; i < s->nrules; i++) {
    rp[i] = &s->rules[i];
    hp[i] = &s->hints[i];
    sp[i] = s->sources && s->sources[i].source != src ? &s->sources[i] : NULL;
  }
  kl_err err = {0};
  guard_db *hs = guard_db_build_sourced(rp, hp, sp, NULL, s->nrules, &err);
  assert_non_null(hs);
  for (size_t i = 0; i < s->nrules; i++) sp[i] = s->sources ? &s->sources[i] : NULL;
  guard_db *sourced = guard_db_build_sourced(rp, hp, sp, NULL, s->nrules, &err);
  assert_non_null(sourced);
  size_t found = 0;
  for (size_t c = 0; c < ntexts; c++) {
    guard_db_hits x = {0}, y = {0};
    assert_true(guard_db_scan(hs, texts[c], strlen(texts[c]), &x, &err));
    assert_true(guard_db_scan(sourced, texts[c], strlen(texts[c]), &y, &err));
    assert_int_equal(x.n, y.n);
    for (size_t i = 0; i < x.n; i++) {
      assert_ptr_equal(x.v[i].rule, y.v[i].rule);
      assert_int_equal(x.v[i].start, y.v[i].start);
      assert_int_equal(x.v[i].end, y.v[i].end);
      size_t r = (size_t)(x.v[i].rule - s->rules);
      found += r < s->nrules && s->sources && s->sources[r].source == src;
    }
    guard_db_hits_free(&x);
    guard_db_hits_free(&y);
  }
  guard_db_free(hs);
  guard_db_free(sourced);
  free(rp);
  free(hp);
  free(sp);
  return found;
}

static inline size_t source_same_hits(const guard_window_source *src, const char *const *texts, size_t ntexts) {
  source_ref g;
  source_ref_open(&g, src);
  size_t found = source_same_hits_in(g.s, src, texts, ntexts);
  source_ref_close(&g);
  return found;
}

#endif
