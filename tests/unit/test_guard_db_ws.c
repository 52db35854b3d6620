/* test_guard_db_ws.c: the whitespace variants of the Hyperscan forms (db_ws.c).
 *  - guard_ws_form rewrites each token shape as documented for each level and leaves the rest
 *    alone;
 *  - guard_ws_level_of agrees with a byte loop written from the definitions, on edge cases at
 *    every offset of its 64-byte blocks and on random texts;
 *  - on random texts of each level, Hyperscan reports exactly the same ends for forms of every
 *    shape as given and as rewritten for that level or a higher one (the variants' one promise),
 *    and the rewriting for a lower level does differ on some (so those must not use it);
 *  - the default policy finds the same with and without the variants on the injection set,
 *    Giskard's attacks (each repeated to the length where scans use the variant) and random
 *    plain texts of attack phrases. */
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

static void check_forms(guard_ws_level v, const char *const (*cases)[2], size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *got = guard_ws_form(cases[i][0], v);
    if (!cases[i][1]) {
      if (got) fail_msg("%s: rewritten to %s", cases[i][0], got);
    } else if (!got || strcmp(got, cases[i][1])) {
      fail_msg("%s: %s, want %s", cases[i][0], got ? got : "(unchanged)", cases[i][1]);
    }
    free(got);
  }
}

static void test_forms(void **state) {
  (void)state;
  static const char *const lines[][2] = {
    {"act\\s+as", "act(?:[ \\n]|\\n\\n)as"},
    {"a\\s*b", "a(?:(?:[ \\n]|\\n\\n))?b"},
    {"a\\s?b", "a(?:[ \\n])?b"},
    {"a\\sb", "a[ \\n]b"},
    {"a[ \\t]+b[ \\t]*c[ \\t]?d[ \\t]e", "a b(?: )?c(?: )?d e"},
    {"a\\s{2,}b", NULL},            /* counted: left */
    {"a\\s+?b\\s*+c", NULL},        /* lazy, possessive: left */
    {"[\\s'\"]{0,3}x", NULL},       /* inside a class: left */
    {"[^\\s.,]+\\s+y", "[^\\s.,]+(?:[ \\n]|\\n\\n)y"},
    {"[]\\s]\\s", "[]\\s][ \\n]"},  /* ']' first in a class */
    {"[^]\\s]\\s", "[^]\\s][ \\n]"},
    {"[[:alnum:]\\s]\\s", "[[:alnum:]\\s][ \\n]"},  /* a POSIX class inside a class */
    {"\\\\s", NULL},                /* an escaped backslash, then 's' */
    {"\\S+\\d", NULL},
    {"\\Qa\\s\\E\\s", NULL},        /* quoting: the whole form is left */
    {"(?x) a \\s b", NULL},
    {"(?:x\\s+)?y\\s", "(?:x(?:[ \\n]|\\n\\n))?y[ \\n]"},
    {"plain", NULL},
  };
  static const char *const space[][2] = {
    {"act\\s+as", "act as"}, {"a\\s*b", "a(?: )?b"}, {"a\\s?b", "a(?: )?b"}, {"a\\sb", "a b"},
    {"a[ \\t]+b", "a b"}, {"a\\s{2,}b", NULL}, {"[^\\s.,]+\\s+y", "[^\\s.,]+ y"}, {"plain", NULL},
  };
  check_forms(GUARD_WS_LINES, lines, sizeof lines / sizeof *lines);
  check_forms(GUARD_WS_SPACE, space, sizeof space / sizeof *space);
  assert_null(guard_ws_form("a\\sb", GUARD_WS_ANY));
}

/* The definition, byte by byte: every maximal run of whitespace is " ", "\n" or "\n\n". */
static size_t uspace_len(const unsigned char *t, size_t n, size_t i) {
  static const char *const u[] = {
    "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE1\xA0\x8E", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82",
    "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89",
    "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80",
  };
  for (size_t k = 0; k < sizeof u / sizeof *u; k++) {
    size_t l = strlen(u[k]);
    if (i + l <= n && !memcmp(t + i, u[k], l)) return l;
  }
  return 0;
}

static guard_ws_level level_ref(const char *s, size_t n) {
  const unsigned char *t = (const unsigned char *)s;
  guard_ws_level lv = GUARD_WS_SPACE;
  for (size_t i = 0; i < n;) {
    bool ascii = t[i] == ' ' || (t[i] >= '\t' && t[i] <= '\r');
    if (!ascii && !uspace_len(t, n, i)) {
      i++;
      continue;
    }
    size_t j = i, chars = 0;
    bool only_nl = true, only_sp = true;
    while (j < n) {
      size_t l = t[j] == ' ' || (t[j] >= '\t' && t[j] <= '\r') ? 1 : uspace_len(t, n, j);
      if (!l) break;
      only_nl = only_nl && t[j] == '\n';
      only_sp = only_sp && t[j] == ' ';
      j += l;
      chars++;
    }
    if (!((chars == 1 && (only_sp || only_nl)) || (chars == 2 && only_nl))) return GUARD_WS_ANY;
    if (only_nl) lv = GUARD_WS_LINES;
    i = j;
  }
  return lv;
}

static const char *const ws_bits[] = {" ", " ", "\n", "\n\n", "\t", "\r", "\v", "\f", "a", "bc", "x", ".", "\xC2\xA0",
                                      "\xC2\x85", "\xE2\x80\x83", "\xE2\x80\x99", "\xE2\x80\x94", "\xE3\x80\x80",
                                      "\xE3\x80\x81", "\xE1\x9A\x80", "\xE2\x81\x9F", "\xC2\xA9", "\xC2", "\xE2\x80",
                                      /* rare bytes that are not whitespace: a C0 control, é, 日, の */
                                      "\x01", "\xC3\xA9", "\xE6\x97\xA5", "\xE3\x81\xAE"};

static uint64_t rng = 0x9e3779b97f4a7c15u;
static size_t pick(size_t n) {
  rng = rng * 6364136223846793005u + 1442695040888963407u;
  return (size_t)(rng >> 33) % n;
}

static void test_levels(void **state) {
  (void)state;
  char buf[300];
  static const char *const edges[] = {"", " ", "\n", "\n\n", "\n\n\n", "  ", " \n", "\n ", "a b\nc\n\nd", "a\tb",
                                      "a\r\nb", ("a\xC2\xA0" "b"), "\xE2\x80\x99", "x \xE2\x80\x83", "\xE3\x80\x80",
                                      "\x01 \x02", ("caf\xC3\xA9 " "\xE3\x81\xAE\n\n"), "\x7F\x80 \xFF"};
  size_t plain = 0, space = 0, checked = 0;
  for (size_t pad = 0; pad < 140; pad++)
    for (size_t e = 0; e < sizeof edges / sizeof *edges; e++) {
      memset(buf, pad % 2 ? 'w' : '.', pad);
      size_t l = strlen(edges[e]);
      memcpy(buf + pad, edges[e], l);
      for (size_t tail = 0; tail < 3; tail++) {
        buf[pad + l + tail] = 'z';
        size_t n = pad + l + tail;
        if (guard_ws_level_of(buf, n) != level_ref(buf, n)) fail_msg("edge %zu at %zu (+%zu): disagree", e, pad, tail);
        plain += level_ref(buf, n) != GUARD_WS_ANY;
        checked++;
      }
    }
  for (int it = 0; it < 20000; it++) {
    size_t n = 0, parts = 1 + pick(60);
    for (size_t k = 0; k < parts && n < 250; k++) {
      size_t nb = sizeof ws_bits / sizeof *ws_bits;
      const char *w = ws_bits[pick(nb) % (it % 3 ? 12 : nb)];  /* two texts in three: ASCII only */
      size_t l = strlen(w);
      memcpy(buf + n, w, l);
      n += l;
    }
    if (guard_ws_level_of(buf, n) != level_ref(buf, n))
      fail_msg("random text %d: disagree on \"%.*s\"", it, (int)n, buf);
    plain += level_ref(buf, n) != GUARD_WS_ANY;
    space += level_ref(buf, n) == GUARD_WS_SPACE;
    checked++;
  }
  assert_true(plain > checked / 20 && plain < checked && space > 100 && space < plain);
}

/* Hyperscan's ends for forms of every shape, as given and as rewritten for each level, on
 * texts of that level (a SPACE text is a LINES text too). */
static ends scan_ends(const hs_database_t *db, hs_scratch_t *s, const char *t, size_t n) {
  ends e = {0};
  assert_int_equal(hs_scan(db, t, (unsigned)n, 0, s, hs_report, &e), HS_SUCCESS);
  ends_norm(&e);
  return e;
}

static bool same_ends(const ends *a, const ends *b) {
  bool same = a->n == b->n;
  for (size_t k = 0; same && k < a->n; k++) same = !cmp_slot_end(&a->v[k], &b->v[k]);
  return same;
}

static void test_same_ends(void **state) {
  (void)state;
  static const char *const forms[] = {
    "a\\s+b", "a\\s*b", "a\\s?b", "a\\sb", "b\\s+\\s*a", "(?:a\\s+)?b\\s+x", "a[ \\t]+b", "x[ \\t]*a", "\\s+a", "b\\s",
    "a\\s\\sb", "(?:a|b)\\s+(?:x\\s+){0,2}b", "a\\W+b", "a.\\s+b", "\\s*x\\s*", "x[^\\s.]+\\s+a",
  };
  enum { NF = sizeof forms / sizeof *forms };
  const char *rew[GUARD_WS_NVARIANTS][NF];
  char *own[GUARD_WS_NVARIANTS][NF];
  unsigned ids[NF], flags[NF];
  hs_database_t *d0 = NULL, *dv[GUARD_WS_NVARIANTS] = {NULL};
  hs_compile_error_t *ce = NULL;
  hs_scratch_t *s = NULL;
  for (size_t i = 0; i < NF; i++) {
    ids[i] = (unsigned)i;
    flags[i] = i % 2 ? HS_FLAG_CASELESS : 0;
  }
  assert_int_equal(hs_compile_multi(forms, flags, ids, NF, HS_MODE_BLOCK, NULL, &d0, &ce), HS_SUCCESS);
  assert_int_equal(hs_alloc_scratch(d0, &s), HS_SUCCESS);
  for (int v = 0; v < GUARD_WS_NVARIANTS; v++) {
    for (size_t i = 0; i < NF; i++) {
      own[v][i] = guard_ws_form(forms[i], (guard_ws_level)v);
      rew[v][i] = own[v][i] ? own[v][i] : forms[i];
    }
    assert_int_equal(hs_compile_multi(rew[v], flags, ids, NF, HS_MODE_BLOCK, NULL, &dv[v], &ce), HS_SUCCESS);
    assert_int_equal(hs_alloc_scratch(dv[v], &s), HS_SUCCESS);
  }
  static const char *const bits[] = {"a", "b", "x", "A", ".", ",", " ", " ", " ", "\n", "\n\n", "ab", "\t", "  "};
  char buf[300];
  size_t total = 0, of_level[3] = {0}, other = 0;
  for (int it = 0; it < 20000; it++) {
    size_t n = 0, parts = 1 + pick(50), nb = sizeof bits / sizeof *bits;
    /* a text in three without newlines, tabs and double spaces, one without tabs and doubles */
    size_t lim = it % 3 == 0 ? nb - 5 : it % 3 == 1 ? nb - 2 : nb;
    for (size_t k = 0; k < parts; k++) {
      const char *w = bits[pick(lim)];
      memcpy(buf + n, w, strlen(w));
      n += strlen(w);
    }
    guard_ws_level lv = guard_ws_level_of(buf, n);
    ends e0 = scan_ends(d0, s, buf, n);
    for (int v = 0; v < GUARD_WS_NVARIANTS; v++) {
      ends e1 = scan_ends(dv[v], s, buf, n);
      if (lv <= (guard_ws_level)v && !same_ends(&e0, &e1))
        fail_msg("level %d text \"%.*s\": %zu ends as given, %zu rewritten for level %d", lv, (int)n, buf, e0.n, e1.n,
                 v);
      other += lv > (guard_ws_level)v && !same_ends(&e0, &e1);  /* such texts must not use it */
      free(e1.v);
    }
    total += lv != GUARD_WS_ANY ? e0.n : 0;
    of_level[lv]++;
    free(e0.v);
  }
  print_message("texts of each level %zu / %zu / %zu, %zu ends the same; %zu scans where a variant of a lower level"
                " differs\n", of_level[0], of_level[1], of_level[2], total, other);
  assert_true(of_level[0] > 1000 && of_level[1] > 500 && total > 10000 && other > 100);
  hs_free_scratch(s);
  hs_free_database(d0);
  for (int v = 0; v < GUARD_WS_NVARIANTS; v++) {
    hs_free_database(dv[v]);
    for (size_t i = 0; i < NF; i++) free(own[v][i]);
  }
}

/* The default policy with and without the variants, on texts of each level. */
static size_t varied[GUARD_WS_NVARIANTS];  /* texts a variant scanned, by level */

static size_t same_hits(const guard_db *db, const char *t, size_t n) {
  kl_err err = {0};
  guard_ws_level lv = guard_ws_level_of(t, n);
  varied[GUARD_WS_SPACE] += lv == GUARD_WS_SPACE && n >= GUARD_WS_MIN_SPACE;
  varied[GUARD_WS_LINES] += lv == GUARD_WS_LINES && n >= GUARD_WS_MIN_LINES;
  guard_db_hits a = {0}, b = {0};
  guard_ws_off = true;
  assert_true(guard_db_scan(db, t, n, &a, &err));
  guard_ws_off = false;
  assert_true(guard_db_scan(db, t, n, &b, &err));
  if (a.n != b.n) fail_msg("\"%.*s\": %zu hits with the forms as given, %zu with the variant", (int)n, t, a.n, b.n);
  for (size_t i = 0; i < a.n; i++)
    if (a.v[i].rule != b.v[i].rule || a.v[i].start != b.v[i].start || a.v[i].end != b.v[i].end)
      fail_msg("\"%.*s\": hit %zu differs (%s)", (int)n, t, i, a.v[i].rule->name);
  size_t k = a.n;
  guard_db_hits_free(&a);
  guard_db_hits_free(&b);
  return k;
}

/* A text made plain: each run of whitespace becomes one space, or a newline if it held one. */
static size_t make_plain(char *t, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    if (t[i] == ' ' || (t[i] >= '\t' && t[i] <= '\r')) {
      bool nl = false;
      while (i < n && (t[i] == ' ' || (t[i] >= '\t' && t[i] <= '\r'))) nl = nl || t[i++] == '\n';
      t[k++] = nl ? '\n' : ' ';
    } else {
      t[k++] = t[i++];
    }
  }
  return k;
}

static void test_policy(void **state) {
  (void)state;
  static const kl_guard_scanner_cfg sc[] = {{.kind = "pii"}, {.kind = "secrets"}, {.kind = "injection"}};
  kl_guard_policy_cfg pc = {.name = "ws", .scanners = sc, .nscanners = 3};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  assert_non_null(p);
  const guard_db *db = guard_policy_stage_db(p, KL_GUARD_INPUT);
  size_t texts = 0, hits = 0;
  char path[1024], line[65536];
  const char *files[] = {"tests/data/injection/labelled.jsonl", "/work/shared/data/injection/prompt_injections.csv"};
  for (int f = 0; f < 2; f++) {
    snprintf(path, sizeof path, f ? "%s" : KEEL_SOURCE_DIR "/%s", files[f]);
    FILE *fp = fopen(path, "r");
    if (!fp) {
      print_message("skipped: %s not found\n", path);
      continue;
    }
    while (fgets(line, sizeof line, fp)) {
      size_t n = make_plain(line, strlen(line));
      while (n && (line[n - 1] == '\n' || line[n - 1] == ' ')) n--;
      size_t lead = 0;
      while (lead < n && (line[lead] == '\n' || line[lead] == ' ')) lead++;
      memmove(line, line + lead, n - lead);
      n -= lead;
      size_t one = n;
      while (n && n < GUARD_WS_MIN_LINES && n + one + 1 < sizeof line) {  /* long enough for the variants */
        line[n++] = ' ';
        memmove(line + n, line, one);
        n += one;
      }
      bool u8 = memchr(line, 0xC2, n) || memchr(line, 0xE1, n) || memchr(line, 0xE2, n) || memchr(line, 0xE3, n);
      assert_true(guard_ws_level_of(line, n) != GUARD_WS_ANY || u8);  /* only Unicode whitespace is left */
      hits += same_hits(db, line, n);
      texts++;
    }
    fclose(fp);
  }
  static const char *const words[] = {"ignore", "all", "previous", "instructions", "you", "are", "now", "DAN", "act",
                                      "as", "reveal", "your", "system", "prompt", "my", "email", "is", "a@b.de", "call",
                                      "+39 06 6982 1234", "the", "text", "above", "developer", "mode", "no", "rules",
                                      "apply", "\n", "\n\n", "Maria", "Rossi", "lives", "in", "Rome"};
  for (int it = 0; it < 3000; it++) {
    size_t n = 0, parts = 40 + pick(60);
    for (size_t k = 0; k < parts; k++) {
      const char *w = words[pick(sizeof words / sizeof *words)];
      size_t l = strlen(w);
      if (n && line[n - 1] != '\n' && w[0] != '\n') line[n++] = ' ';
      memcpy(line + n, w, l);
      n += l;
    }
    if (guard_ws_level_of(line, n) == GUARD_WS_ANY) continue;  /* "\n\n" then "\n": three in a row */
    hits += same_hits(db, line, n);
    texts++;
  }
  print_message("%zu texts (%zu scanned with the SPACE variant, %zu with LINES), %zu hits, the same with and without"
                " them\n", texts, varied[0], varied[1], hits);
  assert_true(texts > 2500 && varied[0] > 400 && varied[1] > 1500 && hits > 1000);
  kl_guard_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_forms),
    cmocka_unit_test(test_levels),
    cmocka_unit_test(test_same_ends),
    cmocka_unit_test(test_policy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
