/* guard_test_validated.h: the pii rules with and without one rule's window pre-check, for the
 * pre-checks that apply a validator before PCRE2 (pii.c: credit_card's card_may_match,
 * phone_national's nat_may_match; pii_ner.c: person_pair's pair_may_match, person_first_name's
 * first_may_match).  Those answer for findings, not for every match of the pattern, so their
 * property is "the same hits either way"; test_guard_pii_prechecks and fuzz_guard_validated
 * share this.  Include after <pcre2.h> (PCRE2_CODE_UNIT_WIDTH 8) and an assert_non_null (cmocka's
 * or the fuzz target's).  Errors are return values.
 *  - validated_open builds the two databases of a default pii policy's rules, the second with
 *    the pre-check of every rule named `name` left out (person_first_name is one rule per
 *    gazetteer chunk); false when the policy has no such rule or it has no pre-check;
 *  - validated_diff scans a text with both and returns the rule's hits, -1 when the hits
 *    differ (what differs is written to why), or VALIDATED_SKIP for a text whose only
 *    differences are the engine's accidents, below.
 *
 * The engine's contract: a match starts at most the hint's lead before the end of the first
 * match of the rule's search form inside it (the window of that end holds its start).  Where
 * windows of the rule overlap, PCRE2 can also run into a match that starts further back, as it
 * did without person_pair's check for "GarcíaGarcía...Our García" (a first word of 52 bytes),
 * and that match then hides the hits it overlaps: which of those a text holds depends on the
 * windows, which is what a pre-check changes, and the rule's hits after it can pair up
 * differently ("John John John" groups of three, shifted).  So a hit found on one side only is
 * excused when it starts further than the lead from its first form end, or overlaps or follows
 * such a hit of its rule; any other difference is a lost or invented finding. */
#ifndef KL_GUARD_TEST_VALIDATED_H
#define KL_GUARD_TEST_VALIDATED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/db.h"
#include "guard_test_pcre.h"

typedef struct {
  const guard_rule *rule;
  pcre2_code *form;  /* the rule's search form, as Hyperscan ran it */
  unsigned lead;
} validated_form;

typedef struct {
  kl_guard_policy *p;
  guard_db *with, *without;
  const guard_rule *rule;  /* a rule whose pre-check is under test (by name: all of them) */
  validated_form *forms;   /* of every rule of that name */
  size_t nforms;
  pcre2_match_data *md;
} validated_ref;

static inline void validated_close(validated_ref *g) {
  guard_db_free(g->with);
  guard_db_free(g->without);
  kl_guard_policy_free(g->p);
  for (size_t i = 0; i < g->nforms; i++) pcre2_code_free(g->forms[i].form);
  free(g->forms);
  pcre2_match_data_free(g->md);
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
  g->forms = calloc(n, sizeof *g->forms);
  g->md = pcre2_match_data_create(4, NULL);
  if (!rp || !sp || !h2 || !hp || !hp2 || !g->forms || !g->md) abort();
  for (size_t i = 0; i < n; i++) {
    const guard_rule *r = &s->rules[i];
    rp[i] = r;
    sp[i] = s->sources && s->sources[i].source ? &s->sources[i] : NULL;
    hp[i] = &s->hints[i];
    h2[i] = s->hints[i];
    if (!strcmp(r->name, name) && h2[i].may_match) {
      h2[i].may_match = NULL;
      g->rule = r;
      unsigned lead = h2[i].lead && h2[i].lead != GUARD_LEAD_PREFIX ? h2[i].lead : r->max_len;
      g->forms[g->nforms++] =
          (validated_form){r, guard_test_compile(NULL, h2[i].re ? h2[i].re : r->re, NULL, r->flags), lead};
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

static inline bool validated_has(const guard_db_hits *h, const guard_hit *x) {
  for (size_t i = 0; i < h->n; i++)
    if (h->v[i].rule == x->rule && h->v[i].start == x->start && h->v[i].end == x->end) return true;
  return false;
}

/* A hit of the rule that no window of its own holds: it starts further than the lead from the
 * end of the first form match after its start (or no form match is there at all). */
static inline bool validated_accident(const validated_ref *g, const char *t, size_t len, const guard_hit *x) {
  for (size_t i = 0; i < g->nforms; i++) {
    if (g->forms[i].rule != x->rule) continue;
    if (pcre2_match(g->forms[i].form, (PCRE2_SPTR)t, len, x->start, 0, g->md, NULL) < 0) return true;
    return pcre2_get_ovector_pointer(g->md)[1] - x->start > g->forms[i].lead;
  }
  return false;  /* another rule's hit: its windows did not change */
}

static inline long validated_diff(const validated_ref *g, const char *t, size_t len, char *why, size_t whylen) {
  guard_db_hits x = {0}, y = {0};
  const guard_db_hits *side[2] = {&x, &y};
  static const char *const side_name[2] = {"with the pre-check only", "without it only"};
  kl_err err = {0};
  long found = 0;
  if (!guard_db_scan(g->with, t, len, &x, &err) || !guard_db_scan(g->without, t, len, &y, &err)) {
    snprintf(why, whylen, "scan failed: %s", err.msg);
    found = -1;
  }
  /* the hits on one side only: the accidents, then whether each other one overlaps an accident */
  size_t accidents = 0, lost = 0;
  const guard_hit *first_lost = NULL;
  int lost_side = 0;
  for (int pass = 0; found >= 0 && pass < 2; pass++)
    for (int k = 0; k < 2; k++)
      for (size_t i = 0; i < side[k]->n; i++) {
        const guard_hit *h = &side[k]->v[i];
        if (validated_has(side[!k], h)) continue;
        bool acc = validated_accident(g, t, len, h);
        if (pass == 0) {
          accidents += acc;
          continue;
        }
        if (acc) continue;
        bool hidden = false;  /* overlaps or follows an accident of the same rule, on either side */
        for (int q = 0; q < 2 && !hidden; q++)
          for (size_t j = 0; j < side[q]->n && !hidden; j++) {
            const guard_hit *a = &side[q]->v[j];
            hidden = a->rule == h->rule && a->start < h->end && !validated_has(side[!q], a) &&
                     validated_accident(g, t, len, a);
          }
        if (!hidden && !lost++) first_lost = h, lost_side = k;
      }
  if (found >= 0 && lost) {
    snprintf(why, whylen, "%zu hits differ, first %s [%zu, %zu) found %s (%zu hits with, %zu without)", lost,
             first_lost->rule->name, first_lost->start, first_lost->end, side_name[lost_side], x.n, y.n);
    found = -1;
  } else if (found >= 0 && accidents) {
    found = VALIDATED_SKIP;
  }
  for (size_t i = 0; found >= 0 && i < x.n; i++) found += !strcmp(x.v[i].rule->name, g->rule->name);
  guard_db_hits_free(&x);
  guard_db_hits_free(&y);
  return found;
}

#endif
