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
/* The same with options: GUARD_DB_NO_WS builds no whitespace variants (db_ws.c), for a set that
 * seldom scans a text (a scanner's rescans of decoded text): each variant costs a compile. */
enum { GUARD_DB_NO_WS = 1 };
guard_db *guard_db_build_opts(const guard_rule *const *rules, const guard_hs_hint *const *hints,
                              const guard_rule_source *const *sources, const unsigned *owner, size_t n, unsigned opts,
                              kl_err *err);
void guard_db_free(guard_db *d);
size_t guard_db_nrules(const guard_db *d);
/* Appends the confirmed hits in text to out (reset it yourself); of a GUARD_RE_FIRST_HIT rule,
 * only its first.  false with err set. */
bool guard_db_scan(const guard_db *d, const char *text, size_t len, guard_db_hits *out, kl_err *err);
void guard_db_hits_free(guard_db_hits *h);

/* The PCRE2 pattern that confirms rule r's windows, pre(?:re)post with its flags (the tests
 * check hand-written matchers, guard_find_fn, against it).  NULL with err set. */
struct pcre2_real_code_8;
struct pcre2_real_code_8 *guard_rule_pcre(const guard_rule *r, kl_err *err);

struct hs_database;
/* db_cache.c: compiles exprs[0..n) with flags and ids into *out through the on-disk cache.  An
 * expression Hyperscan rejects is retried in PREFILTER mode, then replaced by a pattern that
 * matches every byte (flags and exprs change accordingly).  false with err set. */
bool guard_hs_compile(const char **exprs, unsigned *flags, const unsigned *ids, size_t n, struct hs_database **out,
                      kl_err *err);

/* db_ws.c: the whitespace variants of the Hyperscan forms.  A text's level is the first whose
 * condition it meets: SPACE, every run of whitespace is one ' '; LINES, every run is " ", "\n"
 * or "\n\n"; ANY, anything else.  guard_ws_form rewrites a form's whitespace tokens to match,
 * on texts of level v, exactly what they match there (malloc'd; NULL when nothing changes), and
 * a set scans such texts with a database of the rewritten forms, from a length on where that
 * pays (Hyperscan alone over MT-Bench's first bytes, forms as given / LINES / SPACE: 80 bytes
 * 3.8k / 4.0k / 3.8k instructions, 160 bytes 9.4k / 10.6k / 8.9k, 320 bytes 16.6k / 15.2k /
 * 13.0k). */
typedef enum { GUARD_WS_SPACE, GUARD_WS_LINES, GUARD_WS_ANY, GUARD_WS_NVARIANTS = GUARD_WS_ANY } guard_ws_level;
#define GUARD_WS_MIN_SPACE 128  /* shorter texts use the forms as given */
#define GUARD_WS_MIN_LINES 256
char *guard_ws_form(const char *re, guard_ws_level v);
guard_ws_level guard_ws_level_of(const char *text, size_t len);
/* Tests only: true makes every scan use the forms as given. */
extern bool guard_ws_off;

/* What check.c needs of a policy (guard.c keeps the struct private). */
size_t guard_policy_scanners(const kl_guard_policy *p, const guard_scanner **out);
const guard_db *guard_policy_stage_db(const kl_guard_policy *p, kl_guard_stage st);
/* A number no other policy built by this process has (memo.c keys on it, not on the pointer,
 * which a later policy may reuse). */
uint64_t guard_policy_serial(const kl_guard_policy *p);

#endif
