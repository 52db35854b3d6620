/* test_guard_secrets_vault.c: vault-service-token's window source (secrets.c, vault_scan) must
 * report exactly the ends Hyperscan reports for the rule's search form, which stays in its
 * hint ("s\.[a-zA-Z0-9]{24}|hvs\.[\w-]{90}"): at the text's start and end, across the 32-byte
 * steps of the SSE2 pass, with runs one byte short, "hvs." tokens whose first 24 bytes are or
 * are not all letters and digits, and on random texts made of such pieces.  Then the scanner's
 * findings with the source are those with Hyperscan running the form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"
#include "guard_test_source.h"

typedef struct {
  kl_guard_policy *p;
  const guard_scanner *s;
  size_t rule;  /* vault-service-token's index in s */
  const guard_window_source *src;
  hs_database_t *db;
  hs_scratch_t *scratch;
} vault_ref;

static void vault_open(vault_ref *v) {
  memset(v, 0, sizeof *v);
  kl_guard_scanner_cfg sc = {.kind = "secrets"};
  kl_guard_policy_cfg pc = {.name = "vault", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  v->p = kl_guard_policy_build(&pc, &err);
  assert_non_null(v->p);
  assert_int_equal(guard_policy_scanners(v->p, &v->s), 1);
  for (size_t i = 0; i < v->s->nrules; i++)
    if (!strcmp(v->s->rules[i].name, "vault-service-token")) v->rule = i, v->src = v->s->sources[i].source;
  assert_non_null(v->src);
  const char *form = v->s->hints[v->rule].re;
  assert_string_equal(form, "s\\.[a-zA-Z0-9]{24}|hvs\\.[\\w-]{90}");
  const unsigned id = 0, flags = 0;
  hs_compile_error_t *ce = NULL;
  assert_int_equal(hs_compile_multi(&form, &flags, &id, 1, HS_MODE_BLOCK, NULL, &v->db, &ce), HS_SUCCESS);
  assert_int_equal(hs_alloc_scratch(v->db, &v->scratch), HS_SUCCESS);
}

static void vault_close(vault_ref *v) {
  hs_free_scratch(v->scratch);
  hs_free_database(v->db);
  kl_guard_policy_free(v->p);
}

#define A24 "AbCdEfGhIjKlMnOpQrStUvWx"
#define W90 "CAESIJlWh7Xq3zTnY9bPpK2mR8vL4cF6dS1aE0wQ5uH7jN3gEh4KHGh2cy5aTWx0b1ZwRlFjN0hVYmNkZWZnaGlqa2"
#define M24 "q8Zr3Kd9Lm2Vb7Nx4Tp6Wy1J" /* letters and digits: the rule's allow-list lets letters alone pass */

static void test_vault_edges(void **state) {
  (void)state;
  vault_ref v;
  vault_open(&v);
  static const char *const texts[] = {
    "", "s.", "s." A24, "xs." A24 "!", "s." A24 "Z", "s.AbCdEfGhIjKlMnOpQrStUvW", "as.,s." A24 "\ns.", "hvs." W90,
    "hvs." W90 "_-", "hvs.-" W90, "hvs.CAESIJlWh7Xq3zTnY9bPpK2m_R8vL4cF6dS1aE0wQ5uH7jN3gEh4KHGh2cy5aTWx0b1ZwRlFjN0hVYmNkZWZn",
    "vs." W90, "hs." A24, "sentences.\nplurals. items.\ts.", "S." A24, "s.." A24, "s." A24 A24 A24, ".s." A24,
  };
  size_t total = 0;
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
    total += source_vs_hs(v.db, v.scratch, v.src, texts[i], strlen(texts[i]), NULL, 0);
  assert_true(total >= 10);
  /* every offset of the SSE2 pass's 32-byte steps, the text cut at every length */
  char buf[256];
  for (size_t pad = 0; pad < 70; pad++) {
    static const char *const words[] = {"s." A24, "hvs." W90};
    for (size_t w = 0; w < 2; w++) {
      size_t wl = strlen(words[w]);
      memset(buf, pad % 3 ? 's' : '.', pad);
      memcpy(buf + pad, words[w], wl);
      for (size_t cut = 0; cut <= wl; cut += w ? 7 : 1) source_vs_hs(v.db, v.scratch, v.src, buf, pad + cut, NULL, 0);
      memcpy(buf + pad + wl, " and more.", 10);
      total += source_vs_hs(v.db, v.scratch, v.src, buf, pad + wl + 10, NULL, 0);
    }
  }
  assert_true(total > 150);
  vault_close(&v);
}

static void test_vault_random(void **state) {
  (void)state;
  vault_ref v;
  vault_open(&v);
  static const char *const bits[] = {"s.", "hvs.", ".", "s", "h", "v", A24, "AbCd", "0123456789", W90, "_", "-", " ",
                                     "\n", "x.y", "é", "s.AbCdEfGhIjKlMnOpQrStUvW", "==", "hvs.x"};
  uint64_t r = 7;
  char text[700];
  size_t total = 0;
  for (int it = 0; it < 3000; it++)
    total += source_vs_hs(v.db, v.scratch, v.src, text, source_random_text(bits, sizeof bits / sizeof *bits, &r, text), NULL,
                          0);
  assert_true(total > 1000);
  vault_close(&v);
}

/* The secrets scanner finds the same with the source as with Hyperscan running the form. */
static void test_vault_same_hits(void **state) {
  (void)state;
  vault_ref v;
  vault_open(&v);
  static const char *const texts[] = {
    ("token=\"s." M24 "\" and VAULT_TOKEN=hvs." W90 "\n"), ("plurals. s." M24 "; x.s." M24 " s." A24 "\n"),
    ("(s." M24 ")"), ("hvs." W90 W90), "nothing here. at all.", ("s." M24),
  };
  assert_true(source_same_hits_in(v.s, v.src, texts, sizeof texts / sizeof *texts) >= 4);
  vault_close(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vault_edges),
    cmocka_unit_test(test_vault_random),
    cmocka_unit_test(test_vault_same_hits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
