/* test_guard_cache.c: the Hyperscan compile cache (guard/db.c): a second build of the same
 * rules loads the serialised databases (the forms and their two whitespace variants, db_ws.c), scans
 * the same, and a corrupt or unwritable cache only costs a compile. */
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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_cache)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
