/* fuzz_guard_db_ws.c: the whitespace variant (db_ws.c).  The input is a text: when
 * guard_ws_plain calls it plain, Hyperscan must report the same ends for forms of every
 * whitespace shape as given and as guard_ws_form rewrites them; and guard_ws_form must handle
 * the input read as an expression (no crash, no leak). */
#include <hs/hs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"

typedef struct { size_t n, v[2048]; } ends;

static int on_end(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx) {
  (void)from; (void)flags;
  ends *e = ctx;
  if (e->n < 2048) e->v[e->n++] = (size_t)id << 32 | (size_t)to;
  return 0;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

static hs_database_t *g_d0, *g_d1;
static hs_scratch_t *g_s;

static void init(void) {
  static const char *const forms[] = {
    "a\\s+b", "a\\s*b", "a\\s?b", "a\\sb", "b\\s+\\s*a", "(?:a\\s+)?b\\s+x", "a[ \\t]+b", "x[ \\t]*a", "\\s+a", "b\\s",
    "a\\s\\sb", "(?:a|b)\\s+(?:x\\s+){0,2}b", "a\\W+b", "a.\\s+b", "\\s*x\\s*", "x[^\\s.]+\\s+a", "y\\s+z",
  };
  enum { N = sizeof forms / sizeof *forms };
  const char *rew[N];
  char *own[N];
  unsigned ids[N], flags[N];
  for (unsigned i = 0; i < N; i++) {
    own[i] = guard_ws_form(forms[i]);
    rew[i] = own[i] ? own[i] : forms[i];
    ids[i] = i;
    flags[i] = i % 2 ? HS_FLAG_CASELESS : (i % 3 ? HS_FLAG_UTF8 | HS_FLAG_UCP : 0);
  }
  hs_compile_error_t *ce = NULL;
  if (hs_compile_multi(forms, flags, ids, N, HS_MODE_BLOCK, NULL, &g_d0, &ce) != HS_SUCCESS) abort();
  if (hs_compile_multi(rew, flags, ids, N, HS_MODE_BLOCK, NULL, &g_d1, &ce) != HS_SUCCESS) abort();
  if (hs_alloc_scratch(g_d0, &g_s) != HS_SUCCESS || hs_alloc_scratch(g_d1, &g_s) != HS_SUCCESS) abort();
  for (unsigned i = 0; i < N; i++) free(own[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_d0) init();
  char *re = malloc(size + 1);
  if (!re) abort();
  memcpy(re, data, size);
  re[size] = 0;
  free(guard_ws_form(re));
  free(re);
  const char *t = size ? (const char *)data : "";
  if (!guard_ws_plain(t, size)) return 0;
  static ends a, b;
  a.n = b.n = 0;
  if (hs_scan(g_d0, t, (unsigned)size, 0, g_s, on_end, &a) != HS_SUCCESS) return 0;  /* UTF-8 errors */
  if (hs_scan(g_d1, t, (unsigned)size, 0, g_s, on_end, &b) != HS_SUCCESS) return 0;
  if (a.n >= 2048 || b.n >= 2048) return 0;
  qsort(a.v, a.n, sizeof *a.v, cmp_size);
  qsort(b.v, b.n, sizeof *b.v, cmp_size);
  if (a.n != b.n || memcmp(a.v, b.v, a.n * sizeof *a.v) != 0) abort();
  return 0;
}
