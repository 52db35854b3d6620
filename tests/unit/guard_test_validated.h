/* guard_test_validated.h: the pii rules with and without one rule's window pre-check, for the
 * pre-checks that apply a validator before PCRE2 (pii.c: credit_card's card_may_match,
 * phone_national's nat_may_match).  Those answer for findings, not for every match of the
 * pattern, so their property is "the same hits either way"; test_guard_pii_prechecks and
 * fuzz_guard_validated share this.  Plain C (no cmocka): errors are return values.
 *  - validated_open builds the two databases of a default pii policy's rules, the second with
 *    the pre-check of every rule named `name` left out (person_first_name is one rule per
 *    gazetteer chunk); false when the policy has no such rule or it has no pre-check;
 *  - validated_diff scans a text with both and returns the rule's hits, -1 when the hits
 *    differ (what differs is written to why), or VALIDATED_SKIP when either side has a hit of
 *    the rule longer than its max_len.  The engine never looks for matches longer than that
 *    (a window reaches max_len back from an end), but where windows of the rule overlap, PCRE2
 *    can run into one, as it did without person_pair's check for "GarcíaGarcía...Our García"
 *    (a first word of 52 bytes), and such a match then hides the hits it overlaps: which ones
 *    a text holds depends on the windows, which is what the pre-check changes. */
#ifndef KL_GUARD_TEST_VALIDATED_H
#define KL_GUARD_TEST_VALIDATED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"

typedef struct {
  kl_guard_policy *p;
  guard_db *with, *without;
  const guard_rule *rule;  /* a rule whose pre-check is under test (by name: all of them) */
} validated_ref;

static inline void validated_close(validated_ref *g) {
  guard_db_free(g->with);
  guard_db_free(g->without);
  kl_guard_policy_free(g->p);
  memset(g, 0, sizeof *g);
}

static inline bool validated_open(validated_ref *g, const char *name) {
  memset(g, 0, sizeof *g);
  kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "validated", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  const guard_scanner *s;
  if (!(g->p = kl_guard_policy_build(&pc, &err)) || guard_policy_scanners(g->p, &s) != 1) return false;
  size_t n = s->nrules;
  const guard_rule **rp = calloc(n, sizeof *rp);
  const guard_rule_source **sp = calloc(n, sizeof *sp);
  guard_hs_hint *h2 = calloc(n, sizeof *h2);
  const guard_hs_hint **hp = calloc(n, sizeof *hp), **hp2 = calloc(n, sizeof *hp2);
  if (!rp || !sp || !h2 || !hp || !hp2) abort();
  for (size_t i = 0; i < n; i++) {
    rp[i] = &s->rules[i];
    sp[i] = s->sources && s->sources[i].source ? &s->sources[i] : NULL;
    hp[i] = &s->hints[i];
    h2[i] = s->hints[i];
    if (!strcmp(s->rules[i].name, name) && h2[i].may_match) {
      h2[i].may_match = NULL;
      g->rule = &s->rules[i];
    }
    hp2[i] = &h2[i];
  }
  if (g->rule) {
    g->with = guard_db_build_sourced(rp, hp, sp, NULL, n, &err);
    g->without = guard_db_build_sourced(rp, hp2, sp, NULL, n, &err);
  }
  free(rp);
  free(sp);
  free(h2);
  free(hp);
  free(hp2);
  if (g->rule && g->with && g->without) return true;
  validated_close(g);
  return false;
}

#define VALIDATED_SKIP (-2)

static inline long validated_diff(const validated_ref *g, const char *t, size_t len, char *why, size_t whylen) {
  guard_db_hits x = {0}, y = {0};
  kl_err err = {0};
  long found = 0;
  if (!guard_db_scan(g->with, t, len, &x, &err) || !guard_db_scan(g->without, t, len, &y, &err)) {
    snprintf(why, whylen, "scan failed: %s", err.msg);
    found = -1;
  }
  for (size_t i = 0; found >= 0 && i < x.n + y.n; i++) {
    const guard_hit *h = i < x.n ? &x.v[i] : &y.v[i - x.n];
    if (!strcmp(h->rule->name, g->rule->name) && h->end - h->start > h->rule->max_len) found = VALIDATED_SKIP;
  }
  if (found >= 0 && x.n != y.n) {
    snprintf(why, whylen, "%zu hits with the pre-check, %zu without", x.n, y.n);
    found = -1;
  }
  for (size_t i = 0; found >= 0 && i < x.n; i++) {
    if (x.v[i].rule != y.v[i].rule || x.v[i].start != y.v[i].start || x.v[i].end != y.v[i].end) {
      snprintf(why, whylen, "hit %zu: %s [%zu, %zu) with the pre-check, %s [%zu, %zu) without", i, x.v[i].rule->name,
               x.v[i].start, x.v[i].end, y.v[i].rule->name, y.v[i].start, y.v[i].end);
      found = -1;
    } else {
      found += !strcmp(x.v[i].rule->name, g->rule->name);
    }
  }
  guard_db_hits_free(&x);
  guard_db_hits_free(&y);
  return found;
}

#endif
