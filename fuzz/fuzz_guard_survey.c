/* fuzz_guard_survey.c: the injection scanner's disguise survey (guard_norm_survey, normalise.c)
 * with and without its 64-byte fast path (guard_norm_survey_slow turns it off).
 * Invariant: the marks are the same, every field; the runs-only survey gives the same runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard/injection_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *t = (const char *)data;
  guard_norm_marks fast, slow, runs;
  guard_norm_survey_slow = true;
  guard_norm_survey(t, size, &slow);
  guard_norm_survey_slow = false;
  guard_norm_survey(t, size, &fast);
  if (memcmp(&fast, &slow, sizeof fast) != 0) abort();
  guard_norm_runs(t, size, &runs);
  if (runs.nrun != fast.nrun || memcmp(runs.run, fast.run, sizeof runs.run[0] * runs.nrun) != 0) abort();
  return 0;
}
