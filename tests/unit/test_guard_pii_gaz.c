/* test_guard_pii_gaz.c: window sources (guard_window_source) must not change what is found.
 *
 * The gazetteer chunk rules take their match ends from a trie walk (pii_ner_gaz.c) instead of
 * Hyperscan: it must report exactly the ends Hyperscan reports for the chunks' literal
 * alternations (which stay in the hints), on edge cases (UTF-8 capitals, entries at the text's
 * start and end, across the 16- and 32-byte blocks of the SIMD pass, inside longer words,
 * multi-word entries; the nrp rule's words, which share the trie) and on random texts made of
 * the entries themselves.  And the engine must give the same hits whether a rule's windows
 * come from Hyperscan or from a source, reported as ends or as explicit windows, in any order
 * and with repeats. */
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
#include "guard/pii_ner.h"
#include "guard_test_source.h"

/* The chunk rules of a pii policy, compiled as Hyperscan ran them before (id = slot). */
typedef struct {
  kl_guard_policy *p;
  hs_database_t *db;
  hs_scratch_t *s;
  char **entries;  /* every entry, unescaped from the chunks */
  size_t nentries;
} gaz_ref;

static void add_entries(gaz_ref *g, const char *chunk) {
  const char *p = chunk + 3;  /* "(?:" */
  char buf[256];
  size_t n = 0;
  for (; *p; p++) {
    if (*p == '\\') { buf[n++] = *++p; continue; }
    if (*p == '|' || *p == ')') {
      g->entries = realloc(g->entries, (g->nentries + 1) * sizeof *g->entries);
      g->entries[g->nentries++] = strndup(buf, n);
      n = 0;
      continue;
    }
    buf[n++] = *p;
  }
}

static void ref_open(gaz_ref *g) {
  memset(g, 0, sizeof *g);
  kl_err err = {0};
  g->p = kl_guard_policy_new("gaz", NULL, &err);
  assert_non_null(g->p);
  const guard_scanner *sc;
  assert_int_equal(guard_policy_scanners(g->p, &sc), 1);
  const char *exprs[256];
  unsigned ids[256], flags[256], n = 0;
  for (size_t i = 0; i < sc->nrules; i++) {
    const guard_rule_source *src = sc->sources ? &sc->sources[i] : NULL;
    if (!src || src->source != &ner_gaz_source) continue;
    const guard_hs_hint *h = &sc->hints[i];  /* the chunk: what Hyperscan ran before */
    assert_true(n < 256);
    assert_non_null(h->re);
    exprs[n] = h->re;
    ids[n] = src->slot;
    flags[n++] = 0;
    add_entries(g, h->re);
  }
  assert_true(n >= 30);  /* person_first_name alone has about 30 chunks */
  hs_compile_error_t *ce = NULL;
  assert_int_equal(hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &g->db, &ce), HS_SUCCESS);
  assert_int_equal(hs_alloc_scratch(g->db, &g->s), HS_SUCCESS);
}

static void ref_close(gaz_ref *g) {
  hs_free_scratch(g->s);
  hs_free_database(g->db);
  for (size_t i = 0; i < g->nentries; i++) free(g->entries[i]);
  free(g->entries);
  kl_guard_policy_free(g->p);
}

static size_t check_text(const gaz_ref *g, const char *t, size_t len) {
  return source_vs_hs(g->db, g->s, &ner_gaz_source, t, len, NULL, 0);
}

static void test_gaz_edges(void **state) {
  (void)state;
  gaz_ref g;
  ref_open(&g);
  static const char *const texts[] = {
    "", "A", "Anna", "anna", "ANNA", "Annabelle met Ann and Anna", "McDonald O'Brien-Smith",
    "Élodie from Österreich and Åland, Ísland, Éire, Česko, İzmir, Ürümqi", "\xC3", "Ann\xC3", "\xC3\x89",
    "New York City and New Jersey, the United States of America, Guinea-Bissau", "Côte d'Ivoire",
    "x Georgia", "Georgia", "Reading Paris Hilton Jordan", "Straße Köln café naïve 日本語 🎉",
    /* the nrp rule's words share the trie: overlapping entries, plurals, inside words */
    "Americans, Afro-American, Slovakian and Slovak, Greenlandic Greenlander, Argentinian Argentine",
    "LatinoSikhThai", "Thai", "Jewish Welsh Zimbabwean", "anti-British", "Danish.Dutch",
  };
  size_t total = 0;
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) total += check_text(&g, texts[i], strlen(texts[i]));
  assert_true(total > 20);
  /* entries at every offset of the SIMD blocks, at the text's end and cut short */
  char buf[256];
  for (size_t pad = 0; pad < 70; pad++) {
    static const char *const words[] = {"Anna", "Élodie", "New York", "Åland", "Christopher", "Georgia", "Luxembourgish"};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
      size_t wl = strlen(words[w]);
      memset(buf, pad % 3 ? 'x' : ' ', pad);
      memcpy(buf + pad, words[w], wl);
      for (size_t cut = 0; cut <= wl; cut++) check_text(&g, buf, pad + cut);
      memcpy(buf + pad + wl, " and more text after it.", 24);
      check_text(&g, buf, pad + wl + 24);
    }
  }
  ref_close(&g);
}

static void test_gaz_random(void **state) {
  (void)state;
  gaz_ref g;
  ref_open(&g);
  assert_true(g.nentries > 2000);
  static const char *const filler[] = {" ", "  ", ", ", ". ", "\n", "-", "'", "x", "Mc", "the ", "É", "\xC3", "\xC4",
                                       "ü", "日", "Q", "Zz"};
  uint64_t r = 0x9e3779b97f4a7c15u;
  char text[1200];
  size_t total = 0;
  for (int it = 0; it < 400; it++) {
    size_t n = 0;
    while (n < 1000) {
      r = r * 6364136223846793005u + 1442695040888963407u;
      const char *w = (r >> 60) < 9 ? g.entries[(r >> 20) % g.nentries] : filler[(r >> 8) % (sizeof filler / sizeof *filler)];
      size_t wl = strlen(w);
      if ((r >> 40) % 7 == 0 && wl > 1) wl = 1 + (r >> 44) % (wl - 1);  /* a prefix of it */
      memcpy(text + n, w, wl);
      n += wl;
    }
    total += check_text(&g, text, n - (r >> 50) % 7);
  }
  assert_true(total > 10000);
  ref_close(&g);
}

/* ---- the engine: the same hits whatever feeds a rule's windows ---- */
static const guard_rule digit_rule = {"PHONE", "groups", "\\d{3}-\\d{2,4}", "(?<![\\w-])", "(?![\\w])", 0, 16, 0.5,
                                      NULL, NULL, NULL, NULL, NULL};

/* Explicit windows: [s, s + 1) at each run start, reported backwards and twice. */
static void starts_scan(const char *t, size_t len, guard_source_report_fn report, void *ctx) {
  for (size_t i = len; i-- > 0;)
    if (t[i] >= '0' && t[i] <= '9' && (i == 0 || t[i - 1] < '0' || t[i - 1] > '9')) {
      report(ctx, 0, i, i + 1);
      report(ctx, 0, i, i + 1);
    }
}

/* Ends as Hyperscan would report them for "\d{3}-\d{2}" (lead 6), forwards. */
static void ends_scan(const char *t, size_t len, guard_source_report_fn report, void *ctx) {
  for (size_t i = 0; i + 6 <= len; i++) {
    bool ok = t[i + 3] == '-';
    for (size_t k = 0; k < 6; k++)
      if (k != 3) ok = ok && t[i + k] >= '0' && t[i + k] <= '9';
    if (ok) report(ctx, 0, GUARD_SOURCE_LEAD, i + 6);
  }
}

static const guard_window_source starts_src = {starts_scan}, ends_src = {ends_scan};

static size_t scan(const guard_db *d, const char *t, size_t n, char *out, size_t cap) {
  guard_db_hits h = {0};
  kl_err err = {0};
  assert_true(guard_db_scan(d, t, n, &h, &err));
  size_t k = 0;
  out[0] = 0;
  for (size_t i = 0; i < h.n && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%zu %zu;", h.v[i].start, h.v[i].end);
  size_t nh = h.n;
  guard_db_hits_free(&h);
  return nh;
}

static void test_sources_change_nothing(void **state) {
  (void)state;
  const guard_rule *rp[1] = {&digit_rule};
  const guard_hs_hint lead6 = {NULL, 6, NULL};
  const guard_hs_hint *h[1] = {&lead6};
  const guard_rule_source starts = {&starts_src, 0}, ends_at = {&ends_src, 0};
  const guard_rule_source *s2[1] = {&starts}, *s3[1] = {&ends_at};
  kl_err err = {0};
  guard_db *a = guard_db_build(rp, h, NULL, 1, &err), *b = guard_db_build_sourced(rp, NULL, s2, NULL, 1, &err),
           *c = guard_db_build_sourced(rp, h, s3, NULL, 1, &err);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  static const char alpha[] = "012-345 678- 9- x";
  uint64_t r = 42;
  char text[300], oa[4096], ob[4096], oc[4096];
  size_t total = 0;
  for (int it = 0; it < 3000; it++) {
    size_t n = 0;
    r = r * 6364136223846793005u + 1442695040888963407u;
    size_t len = (r >> 33) % sizeof text;
    while (n < len) {
      r = r * 6364136223846793005u + 1442695040888963407u;
      text[n++] = alpha[(r >> 40) % (sizeof alpha - 1)];
    }
    size_t na = scan(a, text, n, oa, sizeof oa), nb = scan(b, text, n, ob, sizeof ob), nc = scan(c, text, n, oc, sizeof oc);
    if (na != nb || strcmp(oa, ob) || na != nc || strcmp(oa, oc))
      fail_msg("text %.*s:\n hyperscan %s\n starts %s\n ends %s", (int)n, text, oa, ob, oc);
    total += na;
  }
  assert_true(total > 300);
  assert_int_equal(scan(b, "call 555-1234 or 12-345, 555-12", 31, oa, sizeof oa), 2);
  assert_string_equal(oa, "5 13;25 31;");
  guard_db_free(a);
  guard_db_free(b);
  guard_db_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_gaz_edges), cmocka_unit_test(test_gaz_random),
                                     cmocka_unit_test(test_sources_change_nothing)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
