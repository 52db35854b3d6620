/* test_guard_pii_card.c: credit_card's window pre-check (pii.c, card_may_match) applies the
 * validator's issuer and Luhn tests before PCRE2, so it answers for findings, not for every
 * match of the pattern: the pii rules must find exactly the same with it as without it.  Texts:
 * test numbers of every issuer and length, with and without ' ' and '-' groups, one digit off
 * (Luhn fails), phone and order numbers of 12 to 20 digits, numbers after letters, dots and
 * dashes, runs longer than 19 digits, at the text's start and end; 3,000 random texts of digit
 * groups and separators; and the PII texts of ../shared/data when they are there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"

typedef struct {
  kl_guard_policy *p;
  guard_db *with, *without;
  const guard_rule *card;
} card_ref;

static void card_open(card_ref *g) {
  memset(g, 0, sizeof *g);
  kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "card", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  g->p = kl_guard_policy_build(&pc, &err);
  assert_non_null(g->p);
  const guard_scanner *s;
  assert_int_equal(guard_policy_scanners(g->p, &s), 1);
  const guard_rule **rp = calloc(s->nrules, sizeof *rp);
  const guard_rule_source **sp = calloc(s->nrules, sizeof *sp);
  guard_hs_hint *h2 = calloc(s->nrules, sizeof *h2);
  const guard_hs_hint **hp = calloc(s->nrules, sizeof *hp), **hp2 = calloc(s->nrules, sizeof *hp2);
  assert_true(rp && sp && h2 && hp && hp2);
  for (size_t i = 0; i < s->nrules; i++) {
    rp[i] = &s->rules[i];
    sp[i] = s->sources && s->sources[i].source ? &s->sources[i] : NULL;
    hp[i] = &s->hints[i];
    h2[i] = s->hints[i];
    if (!strcmp(s->rules[i].name, "credit_card")) {
      assert_non_null(h2[i].may_match);  /* the pre-check under test */
      h2[i].may_match = NULL;
      g->card = &s->rules[i];
    }
    hp2[i] = &h2[i];
  }
  assert_non_null(g->card);
  g->with = guard_db_build_sourced(rp, hp, sp, NULL, s->nrules, &err);
  g->without = guard_db_build_sourced(rp, hp2, sp, NULL, s->nrules, &err);
  assert_non_null(g->with);
  assert_non_null(g->without);
  free(rp);
  free(sp);
  free(h2);
  free(hp);
  free(hp2);
}

static void card_close(card_ref *g) {
  guard_db_free(g->with);
  guard_db_free(g->without);
  kl_guard_policy_free(g->p);
}

/* The same hits both ways; returns credit_card's. */
static size_t same_hits(const card_ref *g, const char *t, size_t len) {
  guard_db_hits x = {0}, y = {0};
  kl_err err = {0};
  assert_true(guard_db_scan(g->with, t, len, &x, &err));
  assert_true(guard_db_scan(g->without, t, len, &y, &err));
  if (x.n != y.n) fail_msg("text \"%.*s\": %zu hits with the pre-check, %zu without", (int)len, t, x.n, y.n);
  size_t cards = 0;
  for (size_t i = 0; i < x.n; i++) {
    assert_ptr_equal(x.v[i].rule, y.v[i].rule);
    assert_int_equal(x.v[i].start, y.v[i].start);
    assert_int_equal(x.v[i].end, y.v[i].end);
    cards += x.v[i].rule == g->card;
  }
  guard_db_hits_free(&x);
  guard_db_hits_free(&y);
  return cards;
}

static void test_card_texts(void **state) {
  (void)state;
  card_ref g;
  card_open(&g);
  static const char *const texts[] = {
    "Visa 4111 1111 1111 1111, 4111-1111-1111-1111, 4111111111111111 and 4222222222222 (13 digits)",
    "Amex 378282246310005 / 3782 822463 10005; MC 5555 5555 5555 4444, 2223003122003222; Discover 6011111111111117",
    "JCB 3530111333300000, 3566002020360505; Diners 30569309025904, 38520000023237; UnionPay 6200000000000005",
    "Maestro 6759649826438453, 6799990100000000019 and 0604 1234 5678 9012 3; Visa 19: 4111111111111111113",
    "one off: 4111 1111 1111 1112, 378282246310006, 5555555555554445",
    "call +44 20 7946 0958 or +49 30 1234 5678 90, order 2024-000-123-456-789, ref 1234 5678 9012 3456 7890",
    "x4111111111111111 a.4111111111111111 b-4111111111111111 _4111111111111111 4111111111111111x 4111111111111111-1",
    "41111111111111111111111 (23 digits) 4111  1111 1111 1111 (two spaces) 4111 1111-1111 1111 (mixed)",
    "4111111111111111", "4111 1111 1111 1111", "text ends 5555 5555 5555 444", "12345678901 2345678901234567890",
  };
  size_t cards = 0;
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) cards += same_hits(&g, texts[i], strlen(texts[i]));
  assert_true(cards >= 15);
  card_close(&g);
}

static void test_card_random(void **state) {
  (void)state;
  card_ref g;
  card_open(&g);
  static const char *const bits[] = {"4111", "1111", "5555", "4444", "3782", "8224", "6310", "005", "0", "1", "2",
                                     "7", "9", " ", " ", "-", "-", ".", "x", "+", "\n", "6011", "35", "0604",
                                     "4111 1111 1111 1111", "378282246310005", "5555-5555-5555-4444", "6011111111111117"};
  uint64_t r = 99;
  char text[200];
  size_t cards = 0;
  for (int it = 0; it < 3000; it++) {
    size_t n = 0;
    r = r * 6364136223846793005u + 1442695040888963407u;
    size_t len = 20 + (r >> 40) % 150;
    while (n + 4 < len) {
      r = r * 6364136223846793005u + 1442695040888963407u;
      const char *b = bits[(r >> 33) % (sizeof bits / sizeof *bits)];
      memcpy(text + n, b, strlen(b));
      n += strlen(b);
    }
    cards += same_hits(&g, text, n);
  }
  assert_true(cards > 100);
  card_close(&g);
}

static void test_card_pii_texts(void **state) {
  (void)state;
  kl_buf all = KL_BUF_INIT;
  if (kl_buf_read_path(&all, KEEL_SOURCE_DIR "/../shared/data/pii/synth_dataset_v2.json", 0) != 0) {
    kl_buf_free(&all);
    skip();
  }
  card_ref g;
  card_open(&g);
  cJSON *arr = cJSON_ParseWithLength(all.data, all.len);
  const cJSON *it;
  size_t cards = 0;
  cJSON_ArrayForEach(it, arr) {
    const cJSON *t = cJSON_GetObjectItem(it, "full_text");
    if (cJSON_IsString(t)) cards += same_hits(&g, t->valuestring, strlen(t->valuestring));
  }
  assert_true(cards > 10);
  cJSON_Delete(arr);
  kl_buf_free(&all);
  card_close(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_card_texts),
    cmocka_unit_test(test_card_random),
    cmocka_unit_test(test_card_pii_texts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
