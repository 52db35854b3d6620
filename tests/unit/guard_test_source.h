/* guard_test_source.h: a window source (guard_window_source) against Hyperscan running the
 * forms it stands in for, which the source test files share.  Include after cmocka.h.
 * source_vs_hs scans a text both ways and fails the test unless the (slot, end) reports are the
 * same set; it returns how many there were and counts them per slot in seen[] (slots past
 * nseen are not counted). */
#ifndef KL_GUARD_TEST_SOURCE_H
#define KL_GUARD_TEST_SOURCE_H

#include <hs/hs.h>
#include <stdlib.h>

#include "guard/guard_int.h"

typedef struct { unsigned slot; size_t end; } slot_end;
typedef struct { slot_end *v; size_t n, cap; } ends;

static void ends_push(ends *e, unsigned slot, size_t end) {
  if (e->n == e->cap) {
    e->cap = e->cap ? e->cap * 2 : 256;
    e->v = realloc(e->v, e->cap * sizeof *e->v);
    assert_non_null(e->v);
  }
  e->v[e->n++] = (slot_end){slot, end};
}

static int cmp_slot_end(const void *a, const void *b) {
  const slot_end *x = a, *y = b;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static void ends_norm(ends *e) {  /* sorted, without repeats */
  if (e->n) qsort(e->v, e->n, sizeof *e->v, cmp_slot_end);
  size_t k = 0;
  for (size_t i = 0; i < e->n; i++)
    if (!k || cmp_slot_end(&e->v[k - 1], &e->v[i])) e->v[k++] = e->v[i];
  e->n = k;
}

static void source_report(void *ctx, unsigned slot, size_t start, size_t end) {
  assert_true(start == GUARD_SOURCE_LEAD);  /* Hyperscan-like ends */
  ends_push(ctx, slot, end);
}

static int hs_report(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx) {
  (void)from; (void)flags;
  ends_push(ctx, id, (size_t)to);
  return 0;
}

static size_t source_vs_hs(const hs_database_t *db, hs_scratch_t *s, const guard_window_source *src, const char *t,
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

#endif
