/* fuzz_guard_scanners.c: arbitrary bytes through one policy with every small scanner kind
 * (banned, topics, invisible, token_limit, regex incl. must_match, canary, refusal, urls),
 * checked as the input and as the output.  The first 6 bytes double as the canary, so leaks
 * are found too.
 * Invariants: findings lie inside the text, start <= end, sorted by start, scores in [0, 1],
 * every finding has a type, rule and scanner, and the verdict is the strongest action. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

static kl_guard_policy *pol;

static kl_guard_policy *build(void) {
  static const char *banned[] = {"bomb", "Straße", "a.b", "\xff\xfe"};
  static const char *topics[] = {"weapons: gun, explosive device", "travel: über, 炸弹"};
  static const char *re[] = {"x+y", "(?<=a)b{2,}", "(?i)secret-\\d+"};
  static const char *must[] = {"^\\{", "\\}$"};
  static const char *urls[] = {"example.com", "*.trusted.org", "[::1]"};
  kl_guard_scanner_cfg sc[2 * 10];
  size_t n = 0;
  for (int st = 0; st < 2; st++) {
    kl_guard_stage stage = st ? KL_GUARD_OUTPUT : KL_GUARD_INPUT;
    sc[n++] = (kl_guard_scanner_cfg){.kind = "banned", .stage = stage, .list = banned, .nlist = 4};
    sc[n++] = (kl_guard_scanner_cfg){.kind = "topics", .stage = stage, .list = topics, .nlist = 2};
    sc[n++] = (kl_guard_scanner_cfg){.kind = "invisible", .stage = stage, .threshold = 0.3};
    sc[n++] = (kl_guard_scanner_cfg){.kind = "token_limit", .stage = stage, .limit = 40};
    sc[n++] = (kl_guard_scanner_cfg){.kind = "regex", .stage = stage, .list = re, .nlist = 3};
    sc[n++] = (kl_guard_scanner_cfg){.kind = "regex", .name = "json", .stage = stage, .list = must, .nlist = 2,
                                     .must_match = true};
  }
  sc[n++] = (kl_guard_scanner_cfg){.kind = "canary", .stage = KL_GUARD_OUTPUT};
  sc[n++] = (kl_guard_scanner_cfg){.kind = "refusal", .stage = KL_GUARD_OUTPUT, .threshold = 0.3};
  sc[n++] = (kl_guard_scanner_cfg){.kind = "urls", .stage = KL_GUARD_OUTPUT, .list = urls, .nlist = 3};
  kl_guard_policy_cfg pc = {.name = "fuzz", .scanners = sc, .nscanners = n};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) abort();
  return p;
}

static void check(const uint8_t *data, size_t size, kl_guard_stage st, const char *canary, kl_arena *a) {
  kl_guard_text in = {.text = (const char *)data, .len = size, .stage = st, .canary = canary};
  kl_guard_result r;
  kl_err err = {0};
  if (kl_guard_check(pol, &in, a, &r, &err) < 0) abort();
  kl_guard_action strongest = KL_GUARD_ALLOW;
  for (size_t i = 0; i < r.n; i++) {
    const kl_guard_finding *f = &r.findings[i];
    if (f->start > f->end || f->end > size) abort();
    if (i && f->start < r.findings[i - 1].start) abort();
    if (!(f->score >= 0 && f->score <= 1)) abort();
    if (!f->type || !f->rule || !f->scanner) abort();
    if (f->action > strongest) strongest = f->action;
  }
  if (r.action != strongest) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!pol) pol = build();
  kl_arena *a = kl_arena_new(4096);
  char canary[7] = {0};
  if (size >= 6) {
    memcpy(canary, data, 6);
    if (memchr(canary, 0, 6)) canary[0] = 0;
  }
  check(data, size, KL_GUARD_INPUT, NULL, a);
  check(data, size, KL_GUARD_OUTPUT, canary[0] ? canary : NULL, a);
  kl_arena_free(a);
  return 0;
}
