/* fuzz_guard_validated.c: the window pre-checks that apply a validator before PCRE2 (pii.c:
 * credit_card's card_may_match, phone_national's nat_may_match), which fuzz_guard_prechecks
 * cannot hold to "every match of the pattern".  Invariant: the pii rules find exactly the same
 * hits with each pre-check as without it (guard_test_validated.h).  Each input is also tried as
 * digits: every byte mapped into "0123456789 .-()" with a few others kept, so that the
 * groups, separators and lookarounds these rules care about come up at once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/guard_test_validated.h"

static validated_ref g_ref[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[] = {"credit_card", "phone_national"};
  if (!g_ref[0].rule)
    for (int i = 0; i < 2; i++)
      if (!validated_open(&g_ref[i], names[i])) abort();
  if (size > 512) return 0;
  static const char digitish[] = "0123456789012345678901234567890123456789 .-() .-() ,:/+x_a\n";
  char *raw = malloc(size ? size : 1), *dig = malloc(size ? size : 1);  /* exact: ASan sees overreads */
  if (!raw || !dig) abort();
  for (size_t i = 0; i < size; i++) {
    raw[i] = (char)data[i];
    dig[i] = digitish[data[i] % (sizeof digitish - 1)];
  }
  char why[512];
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < 2; k++) {
      const char *t = k ? dig : raw;
      if (validated_diff(&g_ref[i], t, size, why, sizeof why) < 0) {
        fprintf(stderr, "%s: %s, text \"%.*s\"\n", names[i], why, (int)size, t);
        abort();
      }
    }
  free(raw);
  free(dig);
  return 0;
}
