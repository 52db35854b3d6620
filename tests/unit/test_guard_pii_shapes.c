/* test_guard_pii_shapes.c: the shapes window source (pii_shapes.c) must report exactly the
 * ends Hyperscan reports for person_pair's and btc_base58's search forms, which stay in their
 * hints: on edge cases (blank runs, tabs, two-byte capitals and their bad continuations, a
 * '1' or '3' at the text's start, after letters, digits and punctuation, base58 runs cut short
 * or broken by 0 O I l, candidates across the 64-byte blocks of the SIMD pass and in its
 * byte-by-byte tail) and on random texts drawn from the bytes that matter.  Then a policy
 * whose rules take their windows from the source finds what the same rules find when
 * Hyperscan runs their forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"
#include "guard/pii_ner.h"
#include "guard_test_source.h"

/* The shaped rules' forms of a pii policy, compiled as Hyperscan ran them (id = slot). */
typedef struct {
  kl_guard_policy *p;
  hs_database_t *db;
  hs_scratch_t *s;
} shapes_ref;

static void ref_open(shapes_ref *g) {
  memset(g, 0, sizeof *g);
  static const kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "shapes", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  g->p = kl_guard_policy_build(&pc, &err);
  assert_non_null(g->p);
  const guard_scanner *s;
  assert_int_equal(guard_policy_scanners(g->p, &s), 1);
  const char *exprs[4];
  unsigned ids[4], flags[4], n = 0;
  bool pair = false, btc = false;
  for (size_t i = 0; i < s->nrules; i++) {
    const guard_rule_source *src = s->sources ? &s->sources[i] : NULL;
    if (!src || src->source != &guard_pii_shapes_source) continue;
    assert_true(n < 4);
    assert_non_null(s->hints[i].re);  /* the form: what Hyperscan ran */
    exprs[n] = s->hints[i].re;
    ids[n] = src->slot;
    flags[n++] = 0;
    pair = pair || !strcmp(s->rules[i].name, "person_pair");
    btc = btc || !strcmp(s->rules[i].name, "btc_base58");
  }
  assert_true(pair && btc && n == 2);
  hs_compile_error_t *ce = NULL;
  assert_int_equal(hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &g->db, &ce), HS_SUCCESS);
  assert_int_equal(hs_alloc_scratch(g->db, &g->s), HS_SUCCESS);
}

static void ref_close(shapes_ref *g) {
  hs_free_scratch(g->s);
  hs_free_database(g->db);
  kl_guard_policy_free(g->p);
}

static size_t seen[2];  /* ends per slot, over the texts checked */

static size_t check_text(const shapes_ref *g, const char *t, size_t len) {
  return source_vs_hs(g->db, g->s, &guard_pii_shapes_source, t, len, seen, 2);
}

#define BTC "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"

static void test_shapes_edges(void **state) {
  (void)state;
  shapes_ref g;
  ref_open(&g);
  static const char *const texts[] = {
    "", "A", " A", "a A", "a  \t A", "a\tB", ". C", "& D", "' E", "- F", "x\n G", "1 H", "( I", "a \xC3\x89", "a \xC3\x9F",
    "a \xC3", "a \xC4\x80", "a \xC7\xBF", "a \xC4\x41", "a \xCE\x86", "a \xCE\xAB", "a \xCE\xAC", "a \xD0\x80", "a \xD0\xAF",
    "a \xD0\xB0", "a \xC8\x80", "\xC3\xA9 Zo", "\x80 Q", "\xBF R", "\xC0 S", "Anna Maria Rossi, Dr. No, Jean-Luc Picard",
    BTC, " " BTC, "x" BTC, "9" BTC, "-" BTC, "\xC3\xA9" BTC, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "1BoatSLRHtKNngkdXEeobR76b5", "1BoatSLRHtKNngkdXEeobR76b", "1BoatSLRHtKNngkdXEeobR76bO", "1BoatSLRHtKNngkdXEeobR76b0",
    "1BoatSLRHtKNngkdXEeobR76bl", "1BoatSLRHtKNngkdXEeobR76bI", "11111111111111111111111111111111", "3 13 31 1 3",
    "Call me on +39 06 6982 1234, or 1 + 1. Then Bob Smith", "Grüße aus Köln, café naïve Straße — 日本語 🎉 Ärger Öl",
  };
  size_t total = 0;
  seen[0] = seen[1] = 0;
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) total += check_text(&g, texts[i], strlen(texts[i]));
  assert_true(total > 20 && seen[0] > 10 && seen[1] >= 5);
  /* candidates at every offset of the 64-byte blocks, in the tail and cut short */
  char buf[256];
  static const char *const pieces[] = {"x \xC3\x89lodie", "ab\t\tZ", ". Q", (" " BTC), BTC,
                                       "a,3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"};
  for (size_t pad = 0; pad < 140; pad++) {
    for (size_t w = 0; w < sizeof pieces / sizeof *pieces; w++) {
      size_t wl = strlen(pieces[w]);
      memset(buf, pad % 3 ? 'x' : (pad % 2 ? ' ' : '\t'), pad);
      memcpy(buf + pad, pieces[w], wl);
      for (size_t cut = 0; cut <= wl; cut++) check_text(&g, buf, pad + cut);
      memcpy(buf + pad + wl, " and More text after it.", 24);
      check_text(&g, buf, pad + wl + 24);
    }
  }
  ref_close(&g);
}

static void test_shapes_random(void **state) {
  (void)state;
  shapes_ref g;
  ref_open(&g);
  static const char *const bits[] = {" ", "  ", "\t", "a", "z", "A", "Q", "1", "3", "0", "O", "l", "I", "9", ".", "&", "'",
                                     "-", ",", "\n", "\xC3\x89", "\xC3\xA9", "\xC3", "\xC4\x80", "\xCE\x86", "\xD0\x90",
                                     "\x80", "\xBF", "Ab", "1Boat", "SLRHtKNngkdXEeobR76b53"};
  uint64_t r = 0x9e3779b97f4a7c15u;
  char text[700];
  size_t total = 0;
  seen[0] = seen[1] = 0;
  for (int it = 0; it < 2000; it++) {
    size_t n = 0;
    while (n < 600) {
      r = r * 6364136223846793005u + 1442695040888963407u;
      const char *w = bits[(r >> 33) % (sizeof bits / sizeof *bits)];
      size_t wl = strlen(w);
      memcpy(text + n, w, wl);
      n += wl;
    }
    total += check_text(&g, text, n - (r >> 50) % 80);
  }
  assert_true(total > 10000);  /* 12,992: 12,415 person_pair ends, 577 btc_base58 ones */
  assert_true(seen[1] > 200);
  ref_close(&g);
}

/* A policy whose two rules take their windows from the source finds what the same policy finds
 * with Hyperscan running their forms. */
static void test_shapes_same_hits(void **state) {
  (void)state;
  static const kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "t", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *pol = kl_guard_policy_build(&pc, &err);
  assert_non_null(pol);
  const guard_scanner *s;
  assert_int_equal(guard_policy_scanners(pol, &s), 1);
  const guard_rule **rp = calloc(s->nrules, sizeof *rp);
  const guard_hs_hint **hp = calloc(s->nrules, sizeof *hp);
  const guard_rule_source **sp = calloc(s->nrules, sizeof *sp);
  assert_true(rp && hp && sp);
  for (size_t i = 0; i < s->nrules; i++) {
    rp[i] = &s->rules[i];
    hp[i] = &s->hints[i];
    sp[i] = s->sources && s->sources[i].source != &guard_pii_shapes_source ? &s->sources[i] : NULL;
  }
  guard_db *hs = guard_db_build_sourced(rp, hp, sp, NULL, s->nrules, &err);
  assert_non_null(hs);
  for (size_t i = 0; i < s->nrules; i++) sp[i] = s->sources ? &s->sources[i] : NULL;
  guard_db *src = guard_db_build_sourced(rp, hp, sp, NULL, s->nrules, &err);
  assert_non_null(src);
  static const char *const texts[] = {
    "Please send it to Maria Rossi or to Dr. John Smith. Donate to " BTC " or 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy.",
    "met Jean-Luc Picard and \xC3\x89lodie Durand in Paris; Zoë Ärger, Олег Петров", "Anna\t Maria", "nothing here at all",
  };
  size_t found = 0;
  for (size_t c = 0; c < sizeof texts / sizeof *texts; c++) {
    guard_db_hits x = {0}, y = {0};
    assert_true(guard_db_scan(hs, texts[c], strlen(texts[c]), &x, &err));
    assert_true(guard_db_scan(src, texts[c], strlen(texts[c]), &y, &err));
    assert_int_equal(x.n, y.n);
    for (size_t i = 0; i < x.n; i++) {
      assert_ptr_equal(x.v[i].rule, y.v[i].rule);
      assert_int_equal(x.v[i].start, y.v[i].start);
      assert_int_equal(x.v[i].end, y.v[i].end);
      found += !strcmp(x.v[i].rule->name, "person_pair") || !strcmp(x.v[i].rule->name, "btc_base58");
    }
    guard_db_hits_free(&x);
    guard_db_hits_free(&y);
  }
  assert_true(found >= 3);
  guard_db_free(hs);
  guard_db_free(src);
  free(rp);
  free(hp);
  free(sp);
  kl_guard_policy_free(pol);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_shapes_edges),
    cmocka_unit_test(test_shapes_random),
    cmocka_unit_test(test_shapes_same_hits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
