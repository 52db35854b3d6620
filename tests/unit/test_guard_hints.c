/* test_guard_hints.c: the rule-set engine's speed paths must not change what it finds.
 *
 * Hyperscan speed hints (a looser expression and/or a shorter window lead), the PCRE2 offset
 * limit and the pooled scan state are pure optimisations: the same rules with and without
 * hints must give identical confirmed hits on every text, scan after scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"

/* Rules shaped like the PII ones: lookarounds PCRE2 runs, a validator that rejects some. */
static bool v_even_digits(const char *t, size_t len, size_t s, size_t *e, double *score) {
  (void)len; (void)score;
  size_t d = 0;
  for (size_t i = s; i < *e; i++) d += t[i] >= '0' && t[i] <= '9';
  return d % 2 == 0;
}

static const guard_rule rules[] = {
  {"EMAIL", "email", "[a-z0-9.]{1,20}@(?:[a-z0-9-]{1,10}\\.){1,3}[a-z]{2,6}", "(?<![a-z0-9.])", "(?![a-z0-9-])", 0, 64,
   1.0, NULL, NULL, NULL, NULL, NULL},
  {"PHONE", "groups", "\\(?\\d{2,5}\\)?(?:[ .-]\\d{2,8}){1,5}", "(?<![\\w.-])", "(?![\\w]|-\\d)", 0, 60, 0.5,
   v_even_digits, NULL, NULL, NULL, NULL},
  {"PHONE", "intl", "\\+[1-9]\\d{0,2}(?:[ .-]?\\d{1,5}){1,6}", "(?<![\\w+])", "(?![\\w-])", 0, 40, 0.7, NULL, NULL,
   NULL, NULL, NULL},
  {"IP", "v6", "(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}", "(?<![\\w:])", "(?![\\w:])", 0, 40, 0.6, NULL, NULL, NULL,
   NULL, NULL},
};
#define NRULES (sizeof rules / sizeof rules[0])

static const guard_hs_hint hints[NRULES] = {
  {"[a-z0-9.]@[a-z0-9-]", 22, NULL},  /* the local part is <= 20 bytes */
  {NULL, 10, NULL},                   /* "(12345) 67": the shortest prefix the expression matches */
  {"\\+[1-9][ .\\d-]", 3, NULL},
  {":[0-9a-f]{0,4}:", 10, NULL},
};

static size_t scan(const guard_db *d, const char *t, size_t n, char *out, size_t cap) {
  guard_db_hits h = {0};
  kl_err err = {0};
  assert_true(guard_db_scan(d, t, n, &h, &err));
  size_t k = 0;
  for (size_t i = 0; i < h.n; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s %zu %zu %.2f;", h.v[i].rule->name, h.v[i].start, h.v[i].end,
                          h.v[i].score);
  size_t nh = h.n;
  guard_db_hits_free(&h);
  return nh;
}

static void test_hints_change_nothing(void **state) {
  (void)state;
  const guard_rule *rp[NRULES];
  const guard_hs_hint *hp[NRULES];
  for (size_t i = 0; i < NRULES; i++) rp[i] = &rules[i], hp[i] = &hints[i];
  kl_err err = {0};
  guard_db *plain = guard_db_build(rp, NULL, NULL, NRULES, &err), *fast = guard_db_build(rp, hp, NULL, NRULES, &err);
  assert_non_null(plain);
  assert_non_null(fast);
  static const char alpha[] = "0123456789 -.()+:@abcdef.xyz";
  static const char *const frags[] = {"ann.lee@mail.example.com ", "+44 20 7946 0958", "(030) 1234 5678",
                                      "fe80::1", "2001:db8::8a2e:370:7334", "12:30:45", "a@b", "::"};
  char text[600], a[8192], b[8192];
  uint64_t r = 42;
  size_t total = 0;
  for (int it = 0; it < 3000; it++) {
    size_t n = 0, want = 20 + it % 500;
    while (n < want) {
      r ^= r << 13, r ^= r >> 7, r ^= r << 17;
      if (r % 7 == 0) {
        const char *f = frags[(r >> 8) % (sizeof frags / sizeof *frags)];
        size_t l = strlen(f);
        if (n + l >= sizeof text) break;
        memcpy(text + n, f, l);
        n += l;
      } else {
        text[n++] = alpha[(r >> 8) % (sizeof alpha - 1)];
      }
    }
    size_t na = scan(plain, text, n, a, sizeof a), nb = scan(fast, text, n, b, sizeof b);
    if (na != nb || strcmp(a, b)) fail_msg("text %.*s:\n plain %s\n fast  %s", (int)n, text, a, b);
    total += na;
  }
  assert_true(total > 1000);  /* the texts do hold matches of every kind */
  /* and a known text, twice (the pooled state is reset between scans) */
  const char *t = "mail ann.lee@mail.example.com or call +44 20 7946 0958, host fe80::1";
  for (int k = 0; k < 2; k++) {
    assert_int_equal(scan(fast, t, strlen(t), a, sizeof a), 4);
    /* "44 20 7946 0958" is also groups of 10 digits (even: the validator keeps it) */
    assert_string_equal(a, "email 5 29 1.00;groups 39 54 0.50;intl 38 54 0.70;v6 61 68 0.60;");
  }
  guard_db_free(plain);
  guard_db_free(fast);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_hints_change_nothing)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
