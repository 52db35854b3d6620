/* kl_guard.h: guardrails, the whole public API of the guard pillar (prefix kl_guard_).
 *
 * A policy is built once from a set of scanners and is then immutable: any number of threads
 * may scan with it at once.  Building compiles every pattern of every enabled scanner into ONE
 * Hyperscan database, so a scan is one pass over the text whatever the number of rules.
 * Hyperscan reports only match ends (start-of-match tracking is too costly for large rule
 * sets), so each hit marks a small window that PCRE2 (JIT) re-matches to find the exact span
 * with its boundary assertions; a validator (Luhn, mod-97, SSN rules, inet_pton, base58check,
 * bech32, digit counts) then confirms it.  Context words near a finding raise its score.
 *
 * Layer: above llm, beside trace.  Knows nothing of HTTP or the gateway.
 * Offsets are byte offsets into the UTF-8 text, always on code point boundaries. */
#ifndef KL_GUARD_H
#define KL_GUARD_H

#include "base/kl_base.h"

/* PII entity types (Presidio's names); a policy enables a set of them. */
typedef enum {
  KL_GUARD_EMAIL_ADDRESS = 0,
  KL_GUARD_PHONE_NUMBER,
  KL_GUARD_CREDIT_CARD,
  KL_GUARD_IBAN_CODE,
  KL_GUARD_US_SSN,
  KL_GUARD_IP_ADDRESS,
  KL_GUARD_MAC_ADDRESS,
  KL_GUARD_CRYPTO,
  KL_GUARD_NTYPES
} kl_guard_type;

#define KL_GUARD_ALL_PII ((1u << KL_GUARD_NTYPES) - 1)

/* What to do with a text that has findings. */
typedef enum {
  KL_GUARD_REDACT = 0,  /* typed numbered placeholders: <EMAIL_ADDRESS_1> */
  KL_GUARD_MASK,        /* '*' per character; cards keep their last 4 digits */
  KL_GUARD_HASH,        /* 16 hex chars of HMAC-SHA256(policy key, value) */
  KL_GUARD_BLOCK        /* the caller refuses the text; kl_guard_apply redacts like REDACT */
} kl_guard_action;

typedef struct kl_guard_opts {
  unsigned types;            /* bit set of (1u << kl_guard_type); 0 means KL_GUARD_ALL_PII */
  kl_guard_action action;
  double min_score;          /* findings scoring below are dropped (0 keeps all) */
  const uint8_t *hash_key;   /* HMAC key for KL_GUARD_HASH; NULL: 32 random bytes per policy */
  size_t hash_key_len;
} kl_guard_opts;

typedef struct kl_guard_finding {
  const char *scanner;  /* "pii" (static string) */
  const char *type;     /* "EMAIL_ADDRESS", ... (static string) */
  const char *rule;     /* name of the rule that matched (static string) */
  size_t start, end;    /* byte offsets, [start, end) */
  double score;         /* in [0, 1] */
} kl_guard_finding;

typedef struct kl_guard_policy kl_guard_policy;

/* The default policy's threshold: shapes plain numbers also take (two bare digit groups, bare
 * 9-digit SSNs) score below it unless a context word ("phone", "ssn", ...) is near. */
#define KL_GUARD_DEFAULT_MIN_SCORE 0.3

/* Builds a policy (opts may be NULL: all PII types, REDACT, KL_GUARD_DEFAULT_MIN_SCORE).  NULL with err set on failure. */
kl_guard_policy *kl_guard_policy_new(const char *name, const kl_guard_opts *opts, kl_err *err);
void kl_guard_policy_free(kl_guard_policy *p);
const char *kl_guard_policy_name(const kl_guard_policy *p);
kl_guard_action kl_guard_policy_action(const kl_guard_policy *p);
const char *kl_guard_action_name(kl_guard_action a);  /* "redact", "mask", "hash", "block" */
const char *kl_guard_type_name(kl_guard_type t);

/* Scans text[0..len) (any bytes; invalid UTF-8 is tolerated).  Findings are sorted by start,
 * never overlap (overlaps of one type are merged, of different types the higher score wins),
 * and live in the arena.  Returns the number of findings, or -1 with err set. */
long kl_guard_scan(const kl_guard_policy *p, const char *text, size_t len, kl_arena *a,
                   kl_guard_finding **out, kl_err *err);

/* Rewrites the text with the findings (as returned by kl_guard_scan) replaced per action.
 * The result is NUL-terminated, allocated in the arena; *out_len gets its length. */
char *kl_guard_apply(const kl_guard_policy *p, const char *text, size_t len,
                     const kl_guard_finding *f, size_t nf, kl_guard_action action, kl_arena *a,
                     size_t *out_len);

#endif
