/* test_guard_apply.c: redact / mask / hash, policy options, and concurrent scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "guard/kl_guard.h"

static char *run(kl_guard_policy *p, const char *text, kl_guard_action act, kl_arena *a) {
  kl_err err = {0};
  kl_guard_finding *f;
  long n = kl_guard_scan(p, text, strlen(text), a, &f, &err);
  assert_true(n >= 0);
  size_t len = 0;
  char *out = kl_guard_apply(p, text, strlen(text), f, (size_t)n, act, a, &len);
  assert_int_equal(len, strlen(out));
  return out;
}

static void test_redact_numbering(void **state) {
  (void)state;
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_new(NULL, NULL, &err);
  assert_non_null(p);
  kl_arena *a = kl_arena_new(1024);
  char *out = run(p, "a@x.io wrote to b@y.io, then a@x.io again; ip 10.0.0.1", KL_GUARD_REDACT, a);
  assert_string_equal(out, "<EMAIL_ADDRESS_1> wrote to <EMAIL_ADDRESS_2>, then <EMAIL_ADDRESS_1> again; ip <IP_ADDRESS_1>");
  assert_string_equal(run(p, "nothing here", KL_GUARD_REDACT, a), "nothing here");
  assert_string_equal(run(p, "", KL_GUARD_REDACT, a), "");
  kl_arena_free(a);
  kl_guard_policy_free(p);
}

static void test_mask(void **state) {
  (void)state;
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_new("m", NULL, &err);
  kl_arena *a = kl_arena_new(1024);
  assert_string_equal(run(p, "card 4111-1111-1111-1234 ok", KL_GUARD_MASK, a), "card 4111-1111-1111-1234 ok");  /* Luhn fails */
  assert_string_equal(run(p, "card 4111-1111-1111-1111 ok", KL_GUARD_MASK, a), "card ************1111 ok");
  assert_string_equal(run(p, "mail a@b.io.", KL_GUARD_MASK, a), "mail ******.");
  kl_arena_free(a);
  kl_guard_policy_free(p);
}

static void test_hash(void **state) {
  (void)state;
  kl_err err = {0};
  const uint8_t key[] = "0123456789abcdef";
  kl_guard_opts o = {.hash_key = key, .hash_key_len = 16};
  kl_guard_policy *p1 = kl_guard_policy_new("h1", &o, &err), *p2 = kl_guard_policy_new("h2", &o, &err);
  kl_guard_policy *p3 = kl_guard_policy_new("h3", NULL, &err);  /* random key */
  kl_arena *a = kl_arena_new(1024);
  const char *t = "mail a@b.io and a@b.io and c@d.io";
  char *h1 = run(p1, t, KL_GUARD_HASH, a), *h2 = run(p2, t, KL_GUARD_HASH, a), *h3 = run(p3, t, KL_GUARD_HASH, a);
  assert_string_equal(h1, h2);
  assert_string_not_equal(h1, h3);
  char x[17], y[17], z[17];
  assert_int_equal(sscanf(h1, "mail %16s and %16s and %16s", x, y, z), 3);
  assert_string_equal(x, y);
  assert_string_not_equal(x, z);
  assert_int_equal(strspn(x, "0123456789abcdef"), 16);
  kl_arena_free(a);
  kl_guard_policy_free(p1);
  kl_guard_policy_free(p2);
  kl_guard_policy_free(p3);
}

/* Rewrites write into a buffer sized for the worst case (apply.c): replacements longer than
 * their values, one per byte, each of the shapes. */
static void test_rewrite_growth(void **state) {
  (void)state;
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_new("g", NULL, &err);
  assert_non_null(p);
  kl_arena *a = kl_arena_new(64);
  const char *t = "abcdefghijklmnopqrstuvwxyz";
  kl_guard_finding f[26];
  for (size_t i = 0; i < 26; i++)
    f[i] = (kl_guard_finding){"pii", "X", "r", i, i + 1, 1.0, KL_GUARD_REDACT};
  char want[512];
  size_t wn = 0;
  for (int i = 1; i <= 26; i++) wn += (size_t)snprintf(want + wn, sizeof want - wn, "<X_%d>", i);
  size_t len = 0;
  char *out = kl_guard_apply(p, t, 26, f, 26, KL_GUARD_REDACT, a, &len);
  assert_string_equal(out, want);
  assert_int_equal(len, wn);
  out = kl_guard_apply(p, t, 26, f, 26, KL_GUARD_HASH, a, &len);
  assert_int_equal(len, 26 * 16);
  assert_int_equal(strspn(out, "0123456789abcdef"), 26 * 16);
  /* the same value, the same placeholder; text around and between the findings kept */
  const char *u = "[a] [a] [\xc3\xa9\xc3\xa9] end";
  kl_guard_finding g[3] = {{"pii", "X", "r", 1, 2, 1.0, KL_GUARD_REDACT},
                           {"pii", "X", "r", 5, 6, 1.0, KL_GUARD_REDACT},
                           {"pii", "LONGER_TYPE", "r", 9, 13, 1.0, KL_GUARD_REDACT}};
  assert_string_equal(kl_guard_apply(p, u, strlen(u), g, 3, KL_GUARD_REDACT, a, &len), "[<X_1>] [<X_1>] [<LONGER_TYPE_1>] end");
  assert_string_equal(kl_guard_apply(p, u, strlen(u), g, 3, KL_GUARD_MASK, a, &len), "[*] [*] [**] end");
  assert_int_equal(len, strlen("[*] [*] [**] end"));
  for (int i = 0; i < 3; i++) g[i].action = KL_GUARD_RESTORE;
  kl_guard_vault v = {0};
  char *anon = kl_guard_anonymise(p, u, strlen(u), g, 3, &v, a, &len);
  assert_string_equal(anon, "[<X_1>] [<X_1>] [<LONGER_TYPE_1>] end");
  assert_int_equal(len, strlen(anon));
  assert_int_equal(v.n, 2);
  size_t rl = 0;
  assert_string_equal(kl_guard_restore(&v, anon, len, a, &rl), u);
  kl_arena_free(a);
  kl_guard_policy_free(p);
}

static void test_policy_opts(void **state) {
  (void)state;
  kl_err err = {0};
  kl_guard_opts o = {.types = 1u << KL_GUARD_CREDIT_CARD, .action = KL_GUARD_BLOCK};
  kl_guard_policy *p = kl_guard_policy_new("cards", &o, &err);
  assert_non_null(p);
  assert_string_equal(kl_guard_policy_name(p), "cards");
  assert_int_equal(kl_guard_policy_action(p), KL_GUARD_BLOCK);
  assert_string_equal(kl_guard_action_name(KL_GUARD_BLOCK), "block");
  kl_arena *a = kl_arena_new(1024);
  assert_string_equal(run(p, "a@b.io 4111111111111111", KL_GUARD_BLOCK, a), "a@b.io <CREDIT_CARD_1>");
  kl_guard_policy_free(p);
  /* min_score 0: weak shapes are reported too */
  kl_guard_opts all = {.min_score = 0};
  p = kl_guard_policy_new("all", &all, &err);
  assert_string_equal(run(p, "ref 3536 1659", KL_GUARD_REDACT, a), "ref <PHONE_NUMBER_1>");
  kl_guard_policy_free(p);
  kl_arena_free(a);
}

/* Four threads scan with one policy; each must see exactly the single-threaded result. */
typedef struct { kl_guard_policy *p; const char *text; const char *want; int bad; } job;

static void *worker(void *arg) {
  job *j = arg;
  kl_arena *a = kl_arena_new(4096);
  for (int i = 0; i < 300; i++) {
    kl_err err = {0};
    kl_guard_finding *f;
    long n = kl_guard_scan(j->p, j->text, strlen(j->text), a, &f, &err);
    char *out = kl_guard_apply(j->p, j->text, strlen(j->text), f, n < 0 ? 0 : (size_t)n, KL_GUARD_REDACT, a, NULL);
    if (n < 0 || strcmp(out, j->want)) j->bad++;
    kl_arena_reset(a);
  }
  kl_arena_free(a);
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  kl_err err = {0};
  kl_guard_opts so = {.types = KL_GUARD_STRUCTURED_PII, .min_score = KL_GUARD_DEFAULT_MIN_SCORE};
  kl_guard_policy *p = kl_guard_policy_new(NULL, &so, &err);  /* "Jane" would be a PERSON */
  const char *text = "Jane (jane@corp.com, 415-555-2671) paid with 5555 5555 5555 4444 from 2001:db8::1; "
                     "IBAN DE89370400440532013000, SSN 078-05-1120.";
  kl_arena *a = kl_arena_new(4096);
  char *want = run(p, text, KL_GUARD_REDACT, a);
  assert_string_equal(want, "Jane (<EMAIL_ADDRESS_1>, <PHONE_NUMBER_1>) paid with <CREDIT_CARD_1> from <IP_ADDRESS_1>; "
                            "IBAN <IBAN_CODE_1>, SSN <US_SSN_1>.");
  pthread_t th[4];
  job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (job){p, text, want, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(jobs[i].bad, 0);
  }
  kl_arena_free(a);
  kl_guard_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_redact_numbering), cmocka_unit_test(test_mask),    cmocka_unit_test(test_hash),
    cmocka_unit_test(test_rewrite_growth), cmocka_unit_test(test_policy_opts),      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
