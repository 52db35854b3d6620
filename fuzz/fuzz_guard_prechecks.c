/* fuzz_guard_prechecks.c: the window pre-checks (guard_scanner_hs_check) that stand for their
 * rule's whole pattern, as test_guard_pii_forms checks them on fixed texts: email's,
 * date_numeric's, date_words', street_generic's, street_glued's and street_prefix's (which also
 * move the window's start), generic-api-key's, and the phrase rules' (person_title, person_intro,
 * person_greeting, location_context).
 * Invariant: every match of the rule (PCRE2 over pre, re and post, at every start) holds a match
 * of its search form that ends inside it no further than the lead from its start, and the
 * pre-check accepts that end with a window start at or before the match's; otherwise a finding
 * could be lost.  Matches longer than the rule's max_len are left out: the engine never looks
 * for them.  (Pre-checks that also apply a validator's test, as ipv6's, answer for findings,
 * not for every match of the pattern: the scanners' own tests hold them, and
 * fuzz_guard_validated those of credit_card, phone_national and person_pair.)  Each input is
 * also tried after "api_token = " so that generic-api-key's value paths are reached at once. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"
#include "guard/kl_guard.h"
#define assert_non_null(x) \
  do {                     \
    if (!(x)) abort();     \
  } while (0)
#include "../tests/unit/guard_test_pcre.h"  /* the rule as the engine compiles it for PCRE2 */

typedef struct {
  const guard_rule *r;
  guard_may_match_fn check;
  pcre2_code *rule, *form;
  unsigned lead;
} checked;

static checked g_c[64];
static size_t g_n;
static kl_guard_policy *g_p;
static pcre2_match_data *g_md;

static unsigned lead_of(const guard_rule *r, const guard_hs_hint *h) {
  if (!h->lead) return r->max_len;
  if (h->lead != GUARD_LEAD_PREFIX) return h->lead;
  hs_expr_info_t *info = NULL;
  hs_compile_error_t *ce = NULL;
  if (hs_expression_info(h->re, r->flags & GUARD_RE_CASELESS ? HS_FLAG_CASELESS : 0, &info, &ce) != HS_SUCCESS) abort();
  unsigned lead = info->max_width < r->max_len ? info->max_width : r->max_len;
  free(info);
  return lead;
}

static void init(void) {
  static const kl_guard_scanner_cfg sc[] = {{.kind = "pii"}, {.kind = "secrets"}};
  static const char *const names[] = {"email",           "generic-api-key",  "date_numeric", "date_words",
                                      "street_generic",  "street_glued",     "street_prefix", "person_title",
                                      "person_intro",    "person_greeting",  "location_context"};
  kl_guard_policy_cfg pc = {.name = "f", .scanners = sc, .nscanners = 2};
  kl_err err = {0};
  g_p = kl_guard_policy_build(&pc, &err);
  if (!g_p) abort();
  const guard_scanner *s;
  size_t ns = guard_policy_scanners(g_p, &s);
  for (size_t k = 0; k < ns; k++)
    for (size_t i = 0; i < s[k].nrules; i++) {
      const guard_hs_hint *h = s[k].hints ? &s[k].hints[i] : NULL;
      bool named = false;
      for (size_t q = 0; q < sizeof names / sizeof names[0]; q++) named = named || !strcmp(s[k].rules[i].name, names[q]);
      if (!h || !h->may_match || !named) continue;
      if (g_n == sizeof g_c / sizeof g_c[0]) abort();
      const guard_rule *r = &s[k].rules[i];
      g_c[g_n++] = (checked){r, h->may_match, guard_test_compile(r->pre, r->re, r->post, r->flags),
                             guard_test_compile(NULL, h->re ? h->re : r->re, NULL, r->flags), lead_of(r, h)};
    }
  if (g_n != 11) abort();  /* each of them, once */
  g_md = pcre2_match_data_create(16, NULL);
}

static void check(const checked *c, const char *t, size_t len) {
  for (size_t off = 0; off <= len;) {
    if (pcre2_match(c->rule, (PCRE2_SPTR)t, len, off, 0, g_md, NULL) < 0) return;
    size_t s = pcre2_get_startchar(g_md), e = pcre2_get_ovector_pointer(g_md)[1];
    off = s + 1;
    if (e - s > c->r->max_len) continue;  /* longer than the rule's longest match: never looked for */
    bool found = false;
    for (size_t fe = s + 1; fe <= e && fe - s <= c->lead && !found; fe++) {
      if (pcre2_match(c->form, (PCRE2_SPTR)t, fe, s, PCRE2_ENDANCHORED, g_md, NULL) < 0) continue;
      size_t start = fe > c->lead ? fe - c->lead : 0;
      found = c->check(t, len, fe, &start) && start <= s;
    }
    if (!found) {
      fprintf(stderr, "%s: no window holds the match \"%.*s\" at %zu\n", c->r->name, (int)(e - s), t + s, s);
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_p) init();
  if (size > 256) return 0;  /* every start of every rule: keep inputs short */
  static const char head[] = "api_token = ";
  char *raw = malloc(size ? size : 1), *wrapped = malloc(sizeof head - 1 + size);  /* exact: ASan sees overreads */
  if (!raw || !wrapped) abort();
  if (size) memcpy(raw, data, size);
  memcpy(wrapped, head, sizeof head - 1);
  if (size) memcpy(wrapped + sizeof head - 1, data, size);
  for (size_t i = 0; i < g_n; i++) {
    check(&g_c[i], raw, size);
    check(&g_c[i], wrapped, size + sizeof head - 1);
  }
  free(raw);
  free(wrapped);
  return 0;
}
