/* test_guard_pii_forms.c: the Hyperscan search forms and window pre-checks of the pii rules
 * (guard_re_search_form, person_pair's form, email's may_match) and of the secrets rules given
 * one (sec_forms in secrets.c).  Pre-checks that apply a validator (person_pair's, as
 * credit_card's and phone_national's) answer for findings, not for every match of the pattern:
 * test_guard_pii_prechecks holds them, and here their rule's form is checked without them.
 *
 * A form is only a speed hint if every match of its rule holds a match of the form that ends
 * inside it, no further from the rule's start than the rule's lead, and if the pre-check accepts
 * that end with a window start at or before the rule's start: then the confirmation window still
 * holds the match and findings do not change.  These tests check exactly that for every match of
 * each rule's whole pattern (pre, core, post: a superset of what validators confirm) over texts
 * written here, the labelled injection set and, when the shared data is there, the PII texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard/db.h"
#include "guard_test_pcre.h"

/* The rules whose hints are forms or pre-checks checked here (the gazetteer chunks are lists of
 * names that only the validator ties to their rule: their property is not a pattern one). */
static const char *const checked[] = {
  "email", "person_title", "person_intro", "person_pair", "person_greeting", "location_context", "org_legal",
  "org_suffix", "street_suffix", "street_prefix", "street_glued", "street_generic", "po_box", "date_words", "time",
  "year_context",
  "date_numeric",
};

static const char *const written[] = {
  "Name:    Abby M. Laidlaw\nMy name is  John F. Kennedy, sincerely,\tMary; hi   Tom, thanks,  Ann. Dear Dr. Who",
  "Mr. Smith and MRS Jones; Prof  Xavier met Jean-Luc Picard and José García, d'Artagnan Smith, O'Neil Ávila",
  /* the phrase rules' blanks before the capital: runs of \s, tabs, UTF-8 capitals */
  "my name is \n John; Dear\t\tMary, hi \t\u00c9lodie, named\r\n\f\vAnn, located in \t\u00d6rebro, hello \tworld",
  "She lives in  Paris, moved here from Rome, we're in Berlin; I am in Köln, born in 1984, since  2001, year of 1999",
  "Acme Widgets Inc. and Foo & Bar  LLC, Big Bank Group, Alpha Labs, Jones Co., the Co-op",
  "12 Main Street, 4  Elm St. Apt 3, Via Roma 12, Rue de Rivoli 5, 221B Baker Street, 1600 Pennsylvania Avenue",
  /* street_generic: number, capitalised words, number (the shared PII texts are not always there) */
  "Deliver to 1200 Harbor Road 14b, or 77 Quinta Avenida Norte 3, then  450 Hill\t12 and 9876 Oak Lane Way 2.",
  /* house numbers of 2 and 6 digits, tabs and runs of blanks before the name, and the bytes
   * before the number that \b and ANB refuse */
  "Ship to 123456 Elm Road 7, 12\tMain Street 4, 34 \t Oak Lane 2, 1234567 Big Road 3, x12 Main Road 4, 1.12 Main Road 4",
  /* street_glued: UTF-8 capitals and letters, the '.', tabs, 1-5 digits, a house number of 1-6
   * digits before (and one of 7), a word broken by a byte outside the classes, no capital */
  ("Hauptstra\u00dfe 5, 12 Bahnhofstrasse. 17a, \u00c5keforsv\u00e4gen\t 123, 1234567 Ringvej 9, Andr\u00e1ssy\t"
   "utca 60, \u0141\u0105kowa-Gasse 3, x-Allee 12, die weg 12345, 123456 Kirchgasse 1, \u00dcbergasse 4 "
   "M\u00fcllerstra\u00dfe 123456 Domplatz\t\t7b Marktgasse 12345 \u041f\u0443\u0448\u043a\u0438\u043dgasse 5"),
  /* po_box: every branch, with the blanks and dots it allows */
  ("P.O. Box 123, PO Box 5, P O Box 77, P.O.Box 8, Post Office Box 9, PSC 1234, Box 56, CMR 467 Box 89, "
   "Unit 2050\t Box 4190, Unit 7, Box 3, USNS Comfort, USNV Hope, USS Nimitz, USCGC Eagle, APO AE 09012, "
   "FPO AP 96601, DPO AA 34001, xPO Box 1"),
  /* street_prefix: up to two numbers before, particles and capitals after, dotted and UTF-8 words */
  ("12 14 Rue de la Paix 3, 5 Via  Roma, Avda. Diagonal 640, 123456 Pra\u00e7a do Com\u00e9rcio 1, All\u00e9e des "
   "Ch\u00eanes, 7\tCalle\t\tMayor 5, xRue Blanche, rue lepic, Via van Gogh, ul. \u0141\u0105kowa 7, Calle y Sol 3, "
   "Rua e Lima, Via la Rocca"),
  "On March 3rd, 2024 at 10:30 a.m. or 3 PM, 12:30:45, 14th of February 2023, Sept. 9, 1999, 7pm",
  /* date_words: the day before the month (digits or 1st-4th, blanks, "of"), the day or year after
   * it ('.', tabs), and months that are no match ("May I", "Marketing 5") */
  ("the 1st  of\tMay, 3rd Jan, 22nd Dec. and 4 July; 5\tJune. Dec 25 or Dec.\t25, May 2024, Sept 2001, "
   "Nov. 11th, May I ask, Marketing 5, 12 of March"),
  "+39 06 6982 1234, (030) 1234 5678, 2024-03-18, 10.20.30.40, 1183-22, x(12) 345-678 (37) 788-063, _12 34 ",
  /* date_numeric: both shapes, every separator, 2- and 4-digit years, a time after, the bytes its
   * lookarounds refuse before and after, runs of the wrong length */
  ("3/18/2024, 18.03.24 12:30, 1-2-2024\t9:05:01 pm, 2024/3/18, 2024/03/18 07:00, 12/31/99x 1/2/3 12/31/999 "
   "12/31/20245 123/1/24 1/123/24 2024/1/123 2024-3-18 a1/2/24 .1/2/24 1/2/24.5 1/2/24-1 1/2/24: 1/2/24/ 2024/3/8 1/2/24"),
  "fb 123456789012345|abcdefghij_klmnopqrs-tuvwxyz012 x 1234567890123456%ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789;",
  /* vault-service-token: both branches, mixed case, at the text's end and after punctuation */
  ("vault s.AbCdEfGhIjKlMnOpQrStUvWx and token=\"s.0123456789abcdefghijklmn\" hvs."
   "CAESIJlWh7Xq3zTnY9bPpK2mR8vL4cF6dS1aE0wQ5uH7jN3gEh4KHGh2cy5aTWx0b1ZwRlFjN0hVYmNkZWZnaGlqa2xtbm9w_-z "
   "(s.ZZZZZZZZZZZZZZZZZZZZZZZZ)\ns.a1b2c3d4e5f6g7h8i9j0k1l2"),
  /* generic-api-key: every operator, gaps of 0 and 20 bytes, quotes, the longest prefix of
   * operator bytes and blanks before the value, values of 10 bytes and of the second shape */
  ("api_key = \"AKIAIOSFODNN7EXAMPLEkey\" password:hunter2hunter2 TOKEN=abcdefghij auth_token => 'sk-proj-abcdefghijkl' "
   "secret ::= 0123456789abcdef; key?=abcdefghijkl; Credential||x.y.z.w.v.u; creds, `a1b2c3d4e5f6g7h8` "
   "passwd:::=\t\n \"'`=0123456789 apikey_for_the_prod_cluster_v2 \"\t:abcdefghijklmnop secret>aGVsbG8gd29ybGQ+/x== "
   "token: \"12\", key points, and the authors' access, \"prompt_tokens\":12,\"completion_tokens\":34 "
   "monkey=abcdefghijk xAPIx = 'zzzzzzzzzzzzzz' Api-Key:\nQWERTYUIOPASDFGH "
   /* the pre-check's edges: 20 tail bytes and 3 quotes, then ":::=" and 5 separators */
   "token_abcdefghijklmnopqrs\"\"':::= \t\"'`ABCDEFGHIJ token_abcdefghijklmnopqrs\"\"'=========ABCDEFGHIJ "),
  ("maria.rossi@example.it, a.b@c.de, x@y, user+tag@sub.example.co.uk, very.long.local.part.that.keeps.going.on.and"
   ".on.and.on.for.ever.and.ever@example.com, @nolocal.com, bad..dots@example.com"),
};

static unsigned lead_of(const guard_rule *r, const guard_hs_hint *h) {
  if (!h->lead) return r->max_len;
  if (h->lead != GUARD_LEAD_PREFIX) return h->lead;
  hs_expr_info_t *info = NULL;
  hs_compile_error_t *ce = NULL;
  assert_int_equal(hs_expression_info(h->re, r->flags & GUARD_RE_CASELESS ? HS_FLAG_CASELESS : 0, &info, &ce),
                   HS_SUCCESS);
  unsigned lead = info->max_width < r->max_len ? info->max_width : r->max_len;
  free(info);
  return lead;
}

/* Every match of the rule in t (at every start) holds a form match [fs, fe) with s <= fs,
 * fe <= e, fe - s <= lead, and the pre-check accepts fe with a window start <= s. */
static size_t check_text(const guard_rule *r, const guard_hs_hint *h, pcre2_code *rule, pcre2_code *form, unsigned lead,
                         const char *t, size_t len, pcre2_match_data *md) {
  size_t seen = 0;
  for (size_t off = 0; off <= len;) {
    if (pcre2_match(rule, (PCRE2_SPTR)t, len, off, 0, md, NULL) < 0) break;
    size_t s = pcre2_get_startchar(md), e = pcre2_get_ovector_pointer(md)[1];
    seen++;
    bool found = false;
    for (size_t fe = s + 1; fe <= e && fe - s <= lead && !found; fe++) {
      if (pcre2_match(form, (PCRE2_SPTR)t, fe, s, PCRE2_ENDANCHORED, md, NULL) < 0) continue;
      size_t start = fe > lead ? fe - lead : 0;
      found = !h->may_match || (h->may_match(t, len, fe, &start) && start <= s);
    }
    if (!found) fprintf(stderr, "form of %s misses \"%.*s\"\n", r->name, (int)(e - s), t + s);
    assert_true(found);
    off = s + 1;
  }
  return seen;
}

static void check_rule(const guard_rule *r, const guard_hs_hint *h, const kl_buf *texts, size_t ntexts) {
  pcre2_code *rule = guard_test_compile(r->pre, r->re, r->post, r->flags);
  pcre2_code *form = guard_test_compile(NULL, h->re ? h->re : r->re, NULL, r->flags);  /* what Hyperscan runs */
  pcre2_match_data *md = pcre2_match_data_create(16, NULL);
  unsigned lead = lead_of(r, h);
  assert_true(lead > 0 && lead <= r->max_len);
  size_t seen = 0;
  for (size_t i = 0; i < ntexts; i++) seen += check_text(r, h, rule, form, lead, texts[i].data, texts[i].len, md);
  if (!seen) fprintf(stderr, "no match of %s in the texts\n", r->name);
  assert_true(seen > 0);  /* the texts exercise every rule */
  pcre2_match_data_free(md);
  pcre2_code_free(rule);
  pcre2_code_free(form);
}

static kl_buf *load_texts(size_t *n);

static void check_scanner(const char *kind, const char *const *names, size_t nnames) {
  size_t n;
  kl_buf *texts = load_texts(&n);
  kl_guard_scanner_cfg c = {.kind = kind};
  kl_guard_policy_cfg pc = {.name = "forms", .scanners = &c, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  assert_non_null(p);
  const guard_scanner *sc;
  assert_int_equal(guard_policy_scanners(p, &sc), 1);
  for (size_t k = 0; k < nnames; k++) {
    bool met = false;
    for (size_t i = 0; i < sc->nrules; i++) {
      if (strcmp(sc->rules[i].name, names[k])) continue;
      met = true;
      assert_non_null(sc->hints);
      guard_hs_hint h = sc->hints[i];
      assert_true(h.re || h.may_match);  /* each checked rule has a form or a pre-check */
      if (!strcmp(names[k], "person_pair")) {
        assert_non_null(h.may_match);  /* a validating one: see the top */
        h.may_match = NULL;
      }
      check_rule(&sc->rules[i], &h, texts, n);
    }
    if (!met) fprintf(stderr, "no rule %s\n", names[k]);
    assert_true(met);
  }
  kl_guard_policy_free(p);
  for (size_t i = 0; i < n; i++) kl_buf_free(&texts[i]);
  free(texts);
}

static void add_json_texts(kl_buf **v, size_t *n, const char *path, bool lines, const char *field) {
  kl_buf all = KL_BUF_INIT;
  if (kl_buf_read_path(&all, path, 0) != 0) {
    kl_buf_free(&all);
    return;
  }
  cJSON *arr = lines ? cJSON_CreateArray() : cJSON_ParseWithLength(all.data, all.len);
  for (char *q = all.data, *e; lines && q && q < all.data + all.len; q = e + 1) {
    e = memchr(q, '\n', (size_t)(all.data + all.len - q));
    if (!e) e = all.data + all.len;
    cJSON *j = cJSON_ParseWithLength(q, (size_t)(e - q));
    if (j) cJSON_AddItemToArray(arr, j);
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    const cJSON *t = cJSON_GetObjectItem(it, field);
    if (!cJSON_IsString(t)) continue;
    *v = realloc(*v, (*n + 1) * sizeof **v);
    assert_non_null(*v);
    (*v)[*n] = (kl_buf)KL_BUF_INIT;
    kl_buf_puts(&(*v)[(*n)++], t->valuestring);
  }
  cJSON_Delete(arr);
  kl_buf_free(&all);
}

static kl_buf *load_texts(size_t *np) {
  kl_buf *texts = NULL;
  size_t n = 0;
  for (size_t i = 0; i < sizeof written / sizeof written[0]; i++) {
    texts = realloc(texts, (n + 1) * sizeof *texts);
    assert_non_null(texts);
    texts[n] = (kl_buf)KL_BUF_INIT;
    kl_buf_puts(&texts[n++], written[i]);
  }
  add_json_texts(&texts, &n, KEEL_SOURCE_DIR "/tests/data/injection/labelled.jsonl", true, "text");
  add_json_texts(&texts, &n, KEEL_SOURCE_DIR "/../shared/data/pii/synth_dataset_v2.json", false, "full_text");
  *np = n;
  return texts;
}

static void test_forms_cover_their_rules(void **st) {
  (void)st;
  check_scanner("pii", checked, sizeof checked / sizeof checked[0]);
}

static void test_secret_forms_cover_their_rules(void **st) {
  (void)st;
  static const char *const names[] = {"facebook-access-token", "vault-service-token", "generic-api-key"};
  check_scanner("secrets", names, 3);
}

/* guard_re_search_form cuts only a leading \b and a leading or trailing blank run. */
static void test_search_form_shapes(void **st) {
  (void)st;
  kl_guard_scanner_cfg c = {.kind = "banned", .list = (const char *const[]){"x"}, .nlist = 1};
  kl_guard_policy_cfg pc = {.name = "f", .scanners = &c, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  assert_non_null(p);
  const guard_scanner *sc;
  guard_policy_scanners(p, &sc);
  guard_scanner *s = (guard_scanner *)sc;
  static const char *const cases[][2] = {
    {"\\b(?:a|b)[ \\t]+", "(?:a|b)[ \\t]"},
    {"\\bname is\\s+", "name is\\s"},
    {"[ \\t]+(?:Inc|Ltd)\\b\\.?", "[ \\t](?:Inc|Ltd)\\b\\.?"},
    {"\\b(?:Rue|Via)[ \\t]+", "(?:Rue|Via)[ \\t]"},
    {"\\b\\d{2,6}[ \\t]+[A-Z]", "\\d{2,6}[ \\t]+[A-Z]"},
    {"abc", NULL},
    {"[ \\t]+?x", NULL},          /* lazy run: left alone */
    {"a\\\\[ \\t]+", NULL},      /* a backslash before the run: left alone (conservative) */
    {"[ \\t]+", NULL},            /* nothing but the run */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *f = guard_re_search_form(s, cases[i][0]);
    if (!cases[i][1]) {
      assert_null(f);
    } else {
      assert_non_null(f);
      assert_string_equal(f, cases[i][1]);
    }
  }
  kl_guard_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_forms_cover_their_rules),
    cmocka_unit_test(test_secret_forms_cover_their_rules),
    cmocka_unit_test(test_search_form_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
