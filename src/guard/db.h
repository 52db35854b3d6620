/* db.h: a compiled rule set (db.c): one Hyperscan database + PCRE2 confirmation.
 * Internal to the guard pillar. */
#ifndef KL_GUARD_DB_H
#define KL_GUARD_DB_H

#include "guard/guard_int.h"

typedef struct guard_db guard_db;

/* Confirmed hits of a scan, grouped by rule (in rule order), each rule's sorted by start;
 * owner[i] is the tag given at build time to hit i's rule. */
typedef struct guard_db_hits {
  guard_hit *v;
  unsigned *owner;
  size_t n, cap;
  kl_arena *a;  /* set: the vectors live in this arena (nothing to free); NULL: malloc'd */
} guard_db_hits;

/* Compiles rules[0..n) (kept by pointer: they must outlive the set) with their speed hints
 * (hints may be NULL, and so may each of its entries).  NULL with err set. */
guard_db *guard_db_build(const guard_rule *const *rules, const guard_hs_hint *const *hints, const unsigned *owner,
                         size_t n, kl_err *err);
/* The same, where sources[i] (sources and each entry may be NULL) names the window source
 * that finds rule i's windows instead of Hyperscan (guard_window_source, guard_int.h). */
guard_db *guard_db_build_sourced(const guard_rule *const *rules, const guard_hs_hint *const *hints,
                                 const guard_rule_source *const *sources, const unsigned *owner, size_t n, kl_err *err);
void guard_db_free(guard_db *d);
size_t guard_db_nrules(const guard_db *d);
/* Appends the confirmed hits in text to out (reset it yourself); of a GUARD_RE_FIRST_HIT rule,
 * only its first.  false with err set. */
bool guard_db_scan(const guard_db *d, const char *text, size_t len, guard_db_hits *out, kl_err *err);
void guard_db_hits_free(guard_db_hits *h);

/* db_ws.c: the whitespace variant of the Hyperscan forms.  A text is plain when every run of
 * whitespace in it is " ", "\n" or "\n\n"; guard_ws_form rewrites a form's whitespace tokens
 * to match, on plain texts, exactly what they match there (malloc'd; NULL when nothing
 * changes), and a set scans plain texts with a database of the rewritten forms. */
char *guard_ws_form(const char *re);
bool guard_ws_plain(const char *text, size_t len);
#define GUARD_WS_MIN_LEN 256  /* shorter texts always use the forms as given */
/* Tests only: true makes every scan use the forms as given. */
extern bool guard_ws_off;

/* What check.c needs of a policy (guard.c keeps the struct private). */
size_t guard_policy_scanners(const kl_guard_policy *p, const guard_scanner **out);
const guard_db *guard_policy_stage_db(const kl_guard_policy *p, kl_guard_stage st);
/* A number no other policy built by this process has (memo.c keys on it, not on the pointer,
 * which a later policy may reuse). */
uint64_t guard_policy_serial(const kl_guard_policy *p);

#endif
