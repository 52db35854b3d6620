/* fuzz_guard_db_ws.c: the whitespace variants (db_ws.c).  The input is a text: for each level
 * at or above the one guard_ws_level_of gives it, Hyperscan must report the same ends for forms
 * of every whitespace shape as given and as guard_ws_form rewrites them for that level; and
 * guard_ws_form must handle the input read as an expression (no crash, no leak). */
#include <hs/hs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"
#include "fuzz_ends.h"

static hs_database_t *g_d0, *g_dv[GUARD_WS_NVARIANTS];
static hs_scratch_t *g_s;

static void init(void) {
  static const char *const forms[] = {
    "a\\s+b", "a\\s*b", "a\\s?b", "a\\sb", "b\\s+\\s*a", "(?:a\\s+)?b\\s+x", "a[ \\t]+b", "x[ \\t]*a", "\\s+a", "b\\s",
    "a\\s\\sb", "(?:a|b)\\s+(?:x\\s+){0,2}b", "a\\W+b", "a.\\s+b", "\\s*x\\s*", "x[^\\s.]+\\s+a", "y\\s+z",
  };
  enum { N = sizeof forms / sizeof *forms };
  unsigned ids[N], flags[N];
  for (unsigned i = 0; i < N; i++) {
    ids[i] = i;
    flags[i] = i % 2 ? HS_FLAG_CASELESS : (i % 3 ? HS_FLAG_UTF8 | HS_FLAG_UCP : 0);
  }
  hs_compile_error_t *ce = NULL;
  if (hs_compile_multi(forms, flags, ids, N, HS_MODE_BLOCK, NULL, &g_d0, &ce) != HS_SUCCESS) abort();
  if (hs_alloc_scratch(g_d0, &g_s) != HS_SUCCESS) abort();
  for (int v = 0; v < GUARD_WS_NVARIANTS; v++) {
    const char *rew[N];
    char *own[N];
    for (unsigned i = 0; i < N; i++) {
      own[i] = guard_ws_form(forms[i], (guard_ws_level)v);
      rew[i] = own[i] ? own[i] : forms[i];
    }
    if (hs_compile_multi(rew, flags, ids, N, HS_MODE_BLOCK, NULL, &g_dv[v], &ce) != HS_SUCCESS) abort();
    if (hs_alloc_scratch(g_dv[v], &g_s) != HS_SUCCESS) abort();
    for (unsigned i = 0; i < N; i++) free(own[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_d0) init();
  char *re = malloc(size + 1);
  if (!re) abort();
  memcpy(re, data, size);
  re[size] = 0;
  free(guard_ws_form(re, GUARD_WS_SPACE));
  free(guard_ws_form(re, GUARD_WS_LINES));
  free(re);
  const char *t = size ? (const char *)data : "";
  guard_ws_level lv = guard_ws_level_of(t, size);
  if (lv == GUARD_WS_ANY) return 0;
  static ends a, b;
  a.n = 0;
  if (hs_scan(g_d0, t, (unsigned)size, 0, g_s, hs_report, &a) != HS_SUCCESS) return 0;  /* UTF-8 errors */
  if (ends_full(&a)) return 0;
  for (int v = lv; v < GUARD_WS_NVARIANTS; v++) {
    b.n = 0;
    if (hs_scan(g_dv[v], t, (unsigned)size, 0, g_s, hs_report, &b) != HS_SUCCESS || !ends_same(&a, &b)) abort();
  }
  return 0;
}
