/* fuzz_guard_secrets.c: arbitrary bytes through a secrets-only policy (the gitleaks rules).
 * Each input is checked as is and wrapped as an assignment value (`api_token = "<input>"`), so
 * the fuzzer reaches the keyword / entropy / allow-list paths of the "keyword = value" rules
 * without having to invent the keyword first.  Invariants: findings are SECRETs with a rule id,
 * inside the text, non-empty, sorted, non-overlapping, scores in [0, 1]; the verdict is BLOCK
 * exactly when there is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

static kl_guard_policy *pol;

static void check(const char *text, size_t len, kl_arena *a) {
  kl_err err = {0};
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_INPUT};
  kl_guard_result res;
  if (kl_guard_check(pol, &in, a, &res, &err) < 0) abort();
  for (size_t i = 0; i < res.n; i++) {
    const kl_guard_finding *f = &res.findings[i];
    if (strcmp(f->type, "SECRET") || !f->rule || !*f->rule) abort();
    if (f->start >= f->end || f->end > len) abort();
    if (i && f->start < res.findings[i - 1].end) abort();
    if (!(f->score >= 0 && f->score <= 1)) abort();
  }
  if ((res.n > 0) != (res.action == KL_GUARD_BLOCK)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!pol) {
    kl_err err = {0};
    kl_guard_scanner_cfg sc = {.kind = "secrets", .stage = KL_GUARD_INPUT};
    kl_guard_policy_cfg pc = {.name = "fuzz", .scanners = &sc, .nscanners = 1};
    pol = kl_guard_policy_build(&pc, &err);
    if (!pol) abort();
  }
  kl_arena *a = kl_arena_new(4096);
  check((const char *)data, size, a);
  static const char head[] = "api_token = \"", tail[] = "\"\n";
  char *w = malloc(sizeof head + size + sizeof tail);
  if (!w) abort();
  memcpy(w, head, sizeof head - 1);
  memcpy(w + sizeof head - 1, data, size);
  memcpy(w + sizeof head - 1 + size, tail, sizeof tail - 1);
  check(w, sizeof head - 1 + size + sizeof tail - 1, a);
  free(w);
  kl_arena_free(a);
  return 0;
}
