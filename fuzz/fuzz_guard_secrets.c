/* fuzz_guard_secrets.c: arbitrary bytes through a secrets-only policy (the gitleaks rules).
 * Each input is checked as is and wrapped as an assignment value (`api_token = "<input>"`), so
 * the fuzzer reaches the keyword / entropy / allow-list paths of the "keyword = value" rules
 * without having to invent the keyword first.  Invariants: findings are SECRETs with a rule id,
 * inside the text, non-empty, sorted, non-overlapping, scores in [0, 1]; the verdict is BLOCK
 * exactly when there is a finding.  Checked as a stream window too (partial), the open private
 * key it reports (hold_from) must be the one PCRE2 finds with the private-key rule's own header
 * and END patterns: the first header with no END 64 bytes or more after it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static kl_guard_policy *pol;
static pcre2_code *header_re, *end_re;
static pcre2_match_data *md;

static pcre2_code *compile(const char *re) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
  if (!c) abort();
  return c;
}

/* The reference: where the first private-key header with no END line after it starts. */
static size_t open_key_ref(const char *t, size_t len) {
  for (size_t from = 0; from <= len;) {
    if (pcre2_match(header_re, (PCRE2_SPTR)t, len, from, 0, md, NULL) < 0) return SIZE_MAX;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    if (end + 64 > len || pcre2_match(end_re, (PCRE2_SPTR)t, len, end + 64, 0, md, NULL) < 0) return start;
    from = start + 1;
  }
  return SIZE_MAX;
}

static void check_window(const char *text, size_t len, kl_arena *a) {
  kl_err err = {0};
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_INPUT, .partial = true};
  kl_guard_result res;
  if (kl_guard_check(pol, &in, a, &res, &err) < 0) abort();
  size_t want = open_key_ref(text, len);
  if (res.hold != (want != SIZE_MAX) || (res.hold && res.hold_from != want)) abort();
}

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
  if (!header_re) {
    header_re = compile("(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----");
    end_re = compile("(?i)KEY(?: BLOCK)?-----");
    md = pcre2_match_data_create(4, NULL);
  }
  kl_arena *a = kl_arena_new(4096);
  check((const char *)data, size, a);
  check_window((const char *)data, size, a);
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
