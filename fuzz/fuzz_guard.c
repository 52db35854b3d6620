/* fuzz_guard.c: arbitrary bytes through the default guard policy, scan then redact.
 * Invariants: findings lie inside the text, sorted, never overlap, scores in [0, 1]; in valid
 * UTF-8 start and end are code point boundaries (in invalid UTF-8 a stray continuation byte
 * may follow a finding, so only the finding's own first byte is checked); redaction never
 * reads or writes out of bounds and leaves a text without findings unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

static kl_guard_policy *pol;

static bool boundary(const uint8_t *d, size_t n, size_t off) { return off == n || (d[off] & 0xC0) != 0x80; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!pol) {
    kl_err err = {0};
    pol = kl_guard_policy_new("default", NULL, &err);
    if (!pol) abort();
  }
  kl_arena *a = kl_arena_new(4096);
  kl_err err = {0};
  kl_guard_finding *f = NULL;
  long n = kl_guard_scan(pol, (const char *)data, size, a, &f, &err);
  if (n < 0) abort();
  bool valid = kl_utf8_valid((const char *)data, size);
  for (long i = 0; i < n; i++) {
    if (f[i].start >= f[i].end || f[i].end > size) abort();
    if (i && f[i].start < f[i - 1].end) abort();
    if (!boundary(data, size, f[i].start) || (valid && !boundary(data, size, f[i].end))) abort();
    if (!(f[i].score >= 0 && f[i].score <= 1)) abort();
  }
  for (int act = KL_GUARD_REDACT; act <= KL_GUARD_BLOCK; act++) {
    size_t len = 0;
    char *out = kl_guard_apply(pol, (const char *)data, size, f, (size_t)n, (kl_guard_action)act, a, &len);
    if (out[len] != 0) abort();
    if (n == 0 && (len != size || memcmp(out, data, size))) abort();
  }
  kl_arena_free(a);
  return 0;
}
