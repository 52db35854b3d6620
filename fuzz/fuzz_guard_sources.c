/* fuzz_guard_sources.c: the hand-written window sources against Hyperscan running the forms
 * they stand in for, taken from a policy's hints: the pii scanner's shapes source (pii_shapes.c:
 * person_pair, btc_base58) and digits source (pii_digits.c: phones, card, IBAN, SSN, IPv4, MAC,
 * house number, dates, time), and the secrets scanner's vault-service-token pass (secrets.c).
 * Invariant, per source: the same ends for the same slots, as sets. */
#include <hs/hs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"
#include "guard/pii_ner.h"
#include "fuzz_ends.h"

static void src_report(void *ctx, unsigned slot, size_t start, size_t end) {
  if (start != GUARD_SOURCE_LEAD) abort();
  ends_add(ctx, slot, end);
}

static const guard_window_source *g_src[3] = {&guard_pii_shapes_source, &guard_pii_digits_source, NULL};
static hs_database_t *g_db[3];
static hs_scratch_t *g_s;

/* Source k's rules in scanner s: their forms, compiled as Hyperscan ran them (id = slot). */
static void compile_forms(const guard_scanner *s, int k, unsigned want) {
  const char *exprs[16];
  unsigned ids[16], flags[16], n = 0;
  for (size_t i = 0; i < s->nrules && n < 16; i++) {
    const guard_window_source *src = s->sources ? s->sources[i].source : NULL;
    /* the vault pass is static in secrets.c: known by its rule */
    if (!src || (g_src[k] ? src != g_src[k] : strcmp(s->rules[i].name, "vault-service-token") != 0)) continue;
    g_src[k] = src;
    exprs[n] = s->hints[i].re;
    ids[n] = s->sources[i].slot;
    flags[n++] = s->rules[i].flags & GUARD_RE_CASELESS ? HS_FLAG_CASELESS : 0;
  }
  hs_compile_error_t *ce = NULL;
  if (n != want || hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &g_db[k], &ce) != HS_SUCCESS) abort();
  if (hs_alloc_scratch(g_db[k], &g_s) != HS_SUCCESS) abort();  /* grows to fit them all */
}

static void init(void) {
  static const kl_guard_scanner_cfg sc[] = {{.kind = "pii"}, {.kind = "secrets"}};
  kl_guard_policy_cfg pc = {.name = "f", .scanners = sc, .nscanners = 2};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) abort();
  const guard_scanner *s;
  if (guard_policy_scanners(p, &s) != 2) abort();
  compile_forms(&s[0], 0, 2);
  compile_forms(&s[0], 1, 11);
  compile_forms(&s[1], 2, 1);
  kl_guard_policy_free(p);  /* the forms were copied into the databases; the sources are static */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_db[0]) init();
  static ends a, b;
  for (int k = 0; k < 3; k++) {
    a.n = b.n = 0;
    if (hs_scan(g_db[k], size ? (const char *)data : "", (unsigned)size, 0, g_s, hs_report, &a) != HS_SUCCESS) abort();
    g_src[k]->scan((const char *)data, size, src_report, &b);
    if (ends_full(&a) || ends_full(&b)) continue;
    if (!ends_same(&a, &b)) abort();
  }
  return 0;
}
