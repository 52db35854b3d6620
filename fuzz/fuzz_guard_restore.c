/* fuzz_guard_restore.c: anonymise-and-restore and the classifier answer parser.
 *
 * Input: text NUL classifier-answer.  The text goes through a PII policy with the restore
 * action; invariants: every value the vault holds appears in the text, restoring the
 * anonymised text gives the original back exactly (placeholders cannot collide with text
 * that was already there only if the text had no '<' — checked then), and restore never
 * reads or writes out of bounds.  The second part is fed to kl_guard_classifier_verdict,
 * which must return a score in [0, 1] or an error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

static kl_guard_policy *pol;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kl_err err = {0};
  if (!pol) {
    kl_guard_scanner_cfg sc = {.kind = "pii", .action = KL_GUARD_RESTORE, .threshold = 1e-9};
    kl_guard_policy_cfg pc = {.name = "r", .scanners = &sc, .nscanners = 1};
    if (!(pol = kl_guard_policy_build(&pc, &err))) abort();
  }
  const uint8_t *nul = memchr(data, 0, size);
  size_t tlen = nul ? (size_t)(nul - data) : size;
  const char *text = (const char *)data;
  kl_arena *a = kl_arena_new(4096);
  kl_guard_text in = {.text = text, .len = tlen, .stage = KL_GUARD_INPUT};
  kl_guard_result r;
  if (kl_guard_check(pol, &in, a, &r, &err) != 0) abort();
  kl_guard_vault v = {0};
  size_t alen = 0, blen = 0;
  char *anon = kl_guard_anonymise(pol, text, tlen, r.findings, r.n, &v, a, &alen);
  for (size_t i = 0; i < v.n; i++)
    if (!memmem(text, tlen, v.value[i], v.value_len[i])) abort();
  char *back = kl_guard_restore(&v, anon, alen, a, &blen);
  if (!memchr(text, '<', tlen) && (blen != tlen || memcmp(back, text, tlen))) abort();
  if (nul) {
    kl_guard_scanner_cfg cc = {.kind = "classifier", .url = "http://x"};
    double score = -1;
    const char *label = NULL;
    size_t rest = size - tlen - 1;
    if (kl_guard_classifier_verdict(&cc, (const char *)nul + 1, rest, &score, &label, a, &err) == 0 &&
        (!(score >= 0 && score <= 1) || !label))
      abort();
  }
  kl_arena_free(a);
  return 0;
}
