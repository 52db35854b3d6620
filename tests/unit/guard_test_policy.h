/* guard_test_policy.h: one guard policy and one arena for a test file's whole group, and
 * scan(), which the PII test files share.  Include after cmocka.h; the file's group setup
 * calls policy_setup with a name and its options (NULL: the default policy), teardown is
 * policy_teardown. */
#ifndef KL_GUARD_TEST_POLICY_H
#define KL_GUARD_TEST_POLICY_H

#include <string.h>

#include "guard/kl_guard.h"

static kl_guard_policy *pol;
static kl_arena *arena;

static int policy_setup(const char *name, const kl_guard_opts *o) {
  kl_err err = {0};
  pol = kl_guard_policy_new(name, o, &err);
  arena = kl_arena_new(4096);
  return pol ? 0 : -1;
}

static int policy_teardown(void **state) {
  (void)state;
  kl_guard_policy_free(pol);
  kl_arena_free(arena);
  return 0;
}

/* the findings of text under pol, in arena; asserts the scan did not fail */
static long scan(const char *text, kl_guard_finding **f) {
  kl_err err = {0};
  long n = kl_guard_scan(pol, text, strlen(text), arena, f, &err);
  assert_true(n >= 0);
  return n;
}

#endif
