/* fuzz_guard_injection.c: arbitrary bytes through a policy with only the injection scanner, and
 * through each of its decoders (normalise.c).
 * Invariants: at most one finding per type, inside the text, on a code point boundary at its
 * start (the end too when the text is valid UTF-8), score in [threshold, 1]; every decoder's
 * output is NUL-terminated at its length and no longer than its bound; the scanner agrees
 * with itself on a second run (no state leaks between checks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/injection_int.h"

static kl_guard_policy *pol;

static bool boundary(const uint8_t *d, size_t n, size_t off) { return off == n || (d[off] & 0xC0) != 0x80; }

static void out_ok(char *s, size_t len, size_t bound) {
  if (!s) return;
  if (len > bound || s[len] != 0) abort();
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!pol) {
    kl_err err = {0};
    kl_guard_scanner_cfg sc = {.kind = "injection", .stage = KL_GUARD_INPUT};
    kl_guard_policy_cfg pc = {.name = "fuzz", .scanners = &sc, .nscanners = 1};
    pol = kl_guard_policy_build(&pc, &err);
    if (!pol) abort();
  }
  const char *t = (const char *)data;
  kl_arena *a = kl_arena_new(4096);
  kl_err err = {0};
  kl_guard_text in = {.text = t, .len = size, .stage = KL_GUARD_INPUT};
  kl_guard_result r, r2;
  if (kl_guard_check(pol, &in, a, &r, &err) != 0) abort();
  bool valid = kl_utf8_valid(t, size);
  for (size_t i = 0; i < r.n; i++) {
    const kl_guard_finding *f = &r.findings[i];
    if (f->start >= f->end || f->end > size) abort();
    if (!boundary(data, size, f->start) || (valid && !boundary(data, size, f->end))) abort();
    if (!(f->score >= 0.5 && f->score <= 1)) abort();
    if (strcmp(f->type, "PROMPT_INJECTION") && strcmp(f->type, "JAILBREAK")) abort();
  }
  if (r.n > 2) abort();
  if (kl_guard_check(pol, &in, a, &r2, &err) != 0 || r2.n != r.n) abort();
  for (size_t i = 0; i < r.n; i++)
    if (r2.findings[i].start != r.findings[i].start || r2.findings[i].score != r.findings[i].score) abort();
  kl_arena_free(a);

  size_t n = 0;
  out_ok(guard_norm_fold(t, size, &n), n, size);
  out_ok(guard_norm_tags(t, size, 1, &n), n, size / 4);
  out_ok(guard_norm_base64(t, size, &n), n, size);
  out_ok(guard_norm_hex(t, size, &n), n, size / 2);
  out_ok(guard_norm_percent(t, size, &n), n, size);
  out_ok(guard_norm_rot13(t, size, &n), n, size);
  out_ok(guard_norm_reverse(t, size, &n), n, size);
  out_ok(guard_norm_leet(t, size, &n), n, size);
  out_ok(guard_norm_quoted_join(t, size, ' ', &n), n, size);
  out_ok(guard_norm_acrostic(t, size, &n), n, size);
  (void)guard_norm_is_text(t, size);
  return 0;
}
