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

#include "guard/pii_ner.h"
#include "guard_test_source.h"

static source_ref g;  /* person_pair's and btc_base58's forms */

static void ref_open(void) {
  source_ref_open(&g, &guard_pii_shapes_source);
  assert_true(g.n == 2 && source_ref_has(&g, &guard_pii_shapes_source, "person_pair") &&
              source_ref_has(&g, &guard_pii_shapes_source, "btc_base58"));
}

static size_t seen[2];  /* ends per slot, over the texts checked */

static size_t check_text(const char *t, size_t len) {
  return source_vs_hs(g.db, g.scratch, &guard_pii_shapes_source, t, len, seen, 2);
}

#define BTC "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"

static void test_shapes_edges(void **state) {
  (void)state;
  ref_open();
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
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) total += check_text(texts[i], strlen(texts[i]));
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
      for (size_t cut = 0; cut <= wl; cut++) check_text(buf, pad + cut);
      memcpy(buf + pad + wl, " and More text after it.", 24);
      check_text(buf, pad + wl + 24);
    }
  }
  source_ref_close(&g);
}

static void test_shapes_random(void **state) {
  (void)state;
  ref_open();
  static const char *const bits[] = {" ", "  ", "\t", "a", "z", "A", "Q", "1", "3", "0", "O", "l", "I", "9", ".", "&", "'",
                                     "-", ",", "\n", "\xC3\x89", "\xC3\xA9", "\xC3", "\xC4\x80", "\xCE\x86", "\xD0\x90",
                                     "\x80", "\xBF", "Ab", "1Boat", "SLRHtKNngkdXEeobR76b53"};
  uint64_t r = 0x9e3779b97f4a7c15u;
  char text[700];
  size_t total = 0;
  seen[0] = seen[1] = 0;
  for (int it = 0; it < 2000; it++) {
    total += check_text(text, source_random_text(bits, sizeof bits / sizeof *bits, &r, text));
  }
  assert_true(total > 10000);  /* 12,992: 12,415 person_pair ends, 577 btc_base58 ones */
  assert_true(seen[1] > 200);
  source_ref_close(&g);
}

/* A policy whose two rules take their windows from the source finds what the same policy finds
 * with Hyperscan running their forms. */
static void test_shapes_same_hits(void **state) {
  (void)state;
  static const char *const texts[] = {
    "Please send it to Maria Rossi or to Dr. John Smith. Donate to " BTC " or 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy.",
    "met Jean-Luc Picard and \xC3\x89lodie Durand in Paris; Zoë Ärger, Олег Петров", "Anna\t Maria", "nothing here at all",
  };
  assert_true(source_same_hits(&guard_pii_shapes_source, texts, sizeof texts / sizeof *texts) >= 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_shapes_edges),
    cmocka_unit_test(test_shapes_random),
    cmocka_unit_test(test_shapes_same_hits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
