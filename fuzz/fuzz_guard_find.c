/* fuzz_guard_find.c: the hand-written matchers of pii_find.c (ipv4, time, date_iso, email,
 * phone_intl, us_ssn, credit_card, street_generic, the gazetteer's capitalised words) against
 * PCRE2 running the rules' patterns as db.c compiles them (guard_rule_pcre).  The first three bytes pick the start
 * offset, the offset limit and the subject length; the rest is the text.  Invariant, per
 * matcher: both find no match, or the same start and end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard/db.h"
#include "guard/guard_int.h"

enum { NM = 13 };  /* ipv4, time, date_iso, email, phone_intl, us_ssn, credit_card, street_generic,
                      person_first_name, four location lists */
static const guard_rule *g_rule[NM];
static pcre2_code *g_re[NM];
static pcre2_match_data *g_md;
static pcre2_match_context *g_mc;
static kl_guard_policy *g_p;

static void init(void) {
  static const kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "f", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  g_p = kl_guard_policy_build(&pc, &err);  /* kept: the rules live in it */
  const guard_scanner *s;
  if (!g_p || guard_policy_scanners(g_p, &s) != 1) abort();
  size_t n = 0;
  for (size_t i = 0; i < s->nrules; i++) {  /* one rule of each name (the gazetteer's are many) */
    const guard_rule *r = &s->rules[i];
    bool seen = false;
    for (size_t k = 0; k < n; k++) seen = seen || !strcmp(g_rule[k]->name, r->name);
    if (!r->find || seen) continue;
    if (n == NM || !(g_re[n] = guard_rule_pcre(r, &err))) abort();
    g_rule[n++] = r;
  }
  if (n != NM) abort();
  g_md = pcre2_match_data_create(8, NULL);
  g_mc = pcre2_match_context_create(NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_md) init();
  if (size < 3) return 0;
  const char *t = (const char *)data + 3;
  size_t len = size - 3;
  size_t off = data[0] % (len + 1), limit = off + data[1] % 32, slen = off + data[2] % (len - off + 1);
  for (int k = 0; k < NM; k++) {
    pcre2_set_offset_limit(g_mc, limit);
    int rc = pcre2_match(g_re[k], (PCRE2_SPTR)t, slen, off, slen < len ? PCRE2_NOTEOL : 0, g_md, g_mc);
    size_t ms, me;
    bool got = g_rule[k]->find(t, slen, off, limit, &ms, &me);
    if ((rc >= 0) != got) abort();
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(g_md);
    if (got && (ov[0] != ms || ov[1] != me)) abort();
  }
  return 0;
}
