/* test_guard_cache.c: the Hyperscan compile cache (guard/db.c): a second build of the same
 * rules loads the serialised databases (the forms and their two whitespace variants, db_ws.c), scans
 * the same, and a corrupt or unwritable cache only costs a compile.  Two rule sets with the same
 * expressions under other rule ids never share a database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard/kl_guard.h"

static char dir[64];

static int cache_files(char (*paths)[512], int max) {
  DIR *d = opendir(dir);
  int k = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (!strncmp(e->d_name, "hs-", 3)) {
      if (k < max) snprintf(paths[k], sizeof paths[k], "%s/%.100s", dir, e->d_name);
      k++;
    }
  if (d) closedir(d);
  return k;
}

static long findings(const char *text) {
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_new("c", NULL, &err);
  if (!p) fail_msg("%s", err.msg);
  kl_arena *a = kl_arena_new(4096);
  kl_guard_finding *f;
  long n = kl_guard_scan(p, text, strlen(text), a, &f, &err);
  kl_arena_free(a);
  kl_guard_policy_free(p);
  return n;
}

static void test_cache(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/keel-hs-cache-%d", (int)getpid());
  setenv("KEEL_CACHE_DIR", dir, 1);
  const char *text = "mail a@b.example, card 4111 1111 1111 1111, ip 10.1.2.3";
  assert_int_equal(findings(text), 3);  /* compiles, writes the cache (the directory is created) */
  char paths[3][512];
  assert_int_equal(cache_files(paths, 3), 3);  /* the forms and their two whitespace variants */
  assert_int_equal(findings(text), 3);  /* loads them */
  assert_int_equal(cache_files(NULL, 0), 3);
  for (int k = 0; k < 3; k++) {  /* corrupt one: the build compiles it again and rewrites it */
    FILE *f = fopen(paths[k], "r+b");
    assert_non_null(f);
    fputs("garbage garbage garbage", f);
    fclose(f);
    assert_int_equal(findings(text), 3);
    assert_int_equal(findings("nothing here\nat all"), 0);
  }
  for (int k = 0; k < 3; k++) unlink(paths[k]);
  rmdir(dir);
  setenv("KEEL_CACHE_DIR", "/proc/no-such-dir/keel", 1);  /* unwritable: still works */
  assert_int_equal(findings(text), 3);
  setenv("KEEL_CACHE_DIR", "off", 1);
  assert_int_equal(findings(text), 3);
  unsetenv("KEEL_CACHE_DIR");
}

/* The findings of a policy of `n` pii scanners (their types) over text: "TYPE@start-end,...". */
static void scan_with(const unsigned *types, size_t n, const char *text, char *out, size_t cap) {
  kl_guard_scanner_cfg sc[4] = {0};
  for (size_t i = 0; i < n; i++) sc[i] = (kl_guard_scanner_cfg){.kind = "pii", .types = types[i]};
  kl_guard_policy_cfg cfg = {.name = "ids", .scanners = sc, .nscanners = n};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&cfg, &err);
  if (!p) fail_msg("%s", err.msg);
  kl_arena *a = kl_arena_new(4096);
  kl_guard_finding *f;
  long k = kl_guard_scan(p, text, strlen(text), a, &f, &err);
  assert_true(k >= 0);
  size_t w = 0;
  out[0] = 0;
  for (long i = 0; i < k; i++)
    w += (size_t)snprintf(out + w, cap - w, "%s%s@%zu-%zu", i ? "," : "", f[i].type, f[i].start, f[i].end);
  kl_arena_free(a);
  kl_guard_policy_free(p);
}

/* A rule is a Hyperscan expression id'd by its place among the stage's rules, and rules found
 * without Hyperscan (credit_card's digit forms: pii_digits.c) take places too.  So the stage
 * of "card, then email" and that of "email" hold the same one expression (email's form) under
 * ids 1 and 0.  With ids out of the cache key the second build loaded the first's database:
 * its matches went to the other rule (here: no email found), or past the end of the rule
 * arrays (the gateway crashed under ASan, found by tests/integration/guardrails_edges). */
static void test_cache_ids(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/keel-hs-cache-ids-%d", (int)getpid());
  setenv("KEEL_CACHE_DIR", dir, 1);
  const char *text = "write to john.doe@example.com or call";
  const unsigned email = 1u << KL_GUARD_EMAIL_ADDRESS, card = 1u << KL_GUARD_CREDIT_CARD;
  char got[256];
  for (int round = 0; round < 2; round++) {  /* compiled, then both loaded */
    scan_with((unsigned[]){email}, 1, text, got, sizeof got);
    assert_string_equal(got, "EMAIL_ADDRESS@9-29");
    scan_with((unsigned[]){card, email}, 2, text, got, sizeof got);
    assert_string_equal(got, "EMAIL_ADDRESS@9-29");
  }
  char paths[8][512];
  int n = cache_files(paths, 8);
  assert_true(n >= 2 && n <= 8);  /* one database each, not one for both */
  for (int k = 0; k < n; k++) unlink(paths[k]);
  rmdir(dir);
  unsetenv("KEEL_CACHE_DIR");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_cache), cmocka_unit_test(test_cache_ids)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
