/* guard_int.h: what the guard engine (guard.c) and the scanners (pii.c) share.
 *
 * A rule is one regular expression plus an optional validator.  The same expression feeds
 * Hyperscan (to find match ends in one pass over the text) and PCRE2 (to recover the span,
 * with the boundary lookarounds `pre`/`post` that Hyperscan cannot run).  max_len bounds a
 * match's length: it sizes the window PCRE2 re-matches around each Hyperscan hit. */
#ifndef KL_GUARD_INT_H
#define KL_GUARD_INT_H

#include "guard/kl_guard.h"

/* Confirms the candidate text[start, *end); may shorten *end (IBAN) and adjust *score. */
typedef bool (*guard_validate_fn)(const char *text, size_t len, size_t start, size_t *end,
                                  double *score);

typedef struct guard_rule {
  kl_guard_type type;
  const char *name;
  const char *re;        /* core expression: ASCII only, no lookarounds (Hyperscan + PCRE2) */
  const char *pre, *post; /* PCRE2-only boundary assertions around the core */
  bool caseless;
  unsigned max_len;
  double score;
  guard_validate_fn validate;
} guard_rule;

extern const guard_rule guard_pii_rules[];
extern const size_t guard_pii_nrules;

/* Context words of a type (lowercase, NULL-terminated list). */
const char *const *guard_context_words(kl_guard_type t);

/* The policy's HMAC key (guard.c keeps the struct private). */
const uint8_t *guard_policy_key(const kl_guard_policy *p, size_t *len);

#endif
