/* fuzz_guard_pii_shapes.c: the shapes window source (pii_shapes.c) against Hyperscan running
 * the forms it stands in for (person_pair's and btc_base58's, taken from a pii policy's hints).
 * Invariant: the same ends for the same slots, as sets. */
#include <hs/hs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"
#include "guard/pii_ner.h"

typedef struct { size_t n, v[4096]; } ends;  /* slot << 32 | end; more than that: ignored input */

static void src_report(void *ctx, unsigned slot, size_t start, size_t end) {
  ends *e = ctx;
  if (start != GUARD_SOURCE_LEAD) abort();
  if (e->n < 4096) e->v[e->n++] = (size_t)slot << 32 | end;
}

static int hs_report(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx) {
  (void)from; (void)flags;
  ends *e = ctx;
  if (e->n < 4096) e->v[e->n++] = (size_t)id << 32 | (size_t)to;
  return 0;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

static hs_database_t *g_db;
static hs_scratch_t *g_s;

static void init(void) {
  static const kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "f", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) abort();
  const guard_scanner *s;
  guard_policy_scanners(p, &s);
  const char *exprs[4];
  unsigned ids[4], flags[4] = {0, 0, 0, 0}, n = 0;
  for (size_t i = 0; i < s->nrules && n < 4; i++)
    if (s->sources && s->sources[i].source == &guard_pii_shapes_source) {
      exprs[n] = s->hints[i].re;
      ids[n++] = s->sources[i].slot;
    }
  hs_compile_error_t *ce = NULL;
  if (n != 2 || hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &g_db, &ce) != HS_SUCCESS) abort();
  if (hs_alloc_scratch(g_db, &g_s) != HS_SUCCESS) abort();
  kl_guard_policy_free(p);  /* the forms were copied into the database */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_db) init();
  static ends a, b;
  a.n = b.n = 0;
  if (hs_scan(g_db, size ? (const char *)data : "", (unsigned)size, 0, g_s, hs_report, &a) != HS_SUCCESS) abort();
  guard_pii_shapes_source.scan((const char *)data, size, src_report, &b);
  if (a.n >= 4096 || b.n >= 4096) return 0;
  qsort(a.v, a.n, sizeof *a.v, cmp_size);
  qsort(b.v, b.n, sizeof *b.v, cmp_size);
  if (a.n != b.n || memcmp(a.v, b.v, a.n * sizeof *a.v) != 0) abort();
  return 0;
}
