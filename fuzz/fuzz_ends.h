/* fuzz_ends.h: the (id, end) reports of a Hyperscan scan or a window source, which the fuzz
 * targets comparing the two collect, sort and compare.  Inputs that give more than FUZZ_ENDS
 * reports are ignored by the targets (ends_full). */
#ifndef KL_FUZZ_ENDS_H
#define KL_FUZZ_ENDS_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ENDS 4096
typedef struct { size_t n, v[FUZZ_ENDS]; } ends;  /* id << 32 | end */

static inline void ends_add(ends *e, unsigned id, size_t end) {
  if (e->n < FUZZ_ENDS) e->v[e->n++] = (size_t)id << 32 | end;
}

static inline int hs_report(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx) {
  (void)from; (void)flags;
  ends_add(ctx, id, (size_t)to);
  return 0;
}

static inline bool ends_full(const ends *e) { return e->n >= FUZZ_ENDS; }

static inline int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* Whether a and b hold the same reports, in any order (both are sorted). */
static inline bool ends_same(ends *a, ends *b) {
  qsort(a->v, a->n, sizeof *a->v, cmp_size);
  qsort(b->v, b->n, sizeof *b->v, cmp_size);
  return a->n == b->n && !memcmp(a->v, b->v, a->n * sizeof *a->v);
}

#endif
