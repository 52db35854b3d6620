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
  /* named entities (pii_ner.c): gazetteers, capitalisation and context words */
  KL_GUARD_PERSON,
  KL_GUARD_LOCATION,        /* countries, states, cities (Presidio's LOCATION; GPE in data sets) */
  KL_GUARD_STREET_ADDRESS,  /* street, house number, unit, PO box, the lines of an address block */
  KL_GUARD_DATE_TIME,
  KL_GUARD_NRP,             /* nationality, religious or political group */
  KL_GUARD_ORGANIZATION,    /* names with a legal-form suffix (Inc., LLC, GmbH, ...) */
  KL_GUARD_NTYPES
} kl_guard_type;

#define KL_GUARD_ALL_PII ((1u << KL_GUARD_NTYPES) - 1)
/* The pattern-and-checksum types (email .. crypto): the set before the named entities. */
#define KL_GUARD_STRUCTURED_PII ((1u << KL_GUARD_PERSON) - 1)

/* What to do with a text that has findings, weakest first: a check's verdict is the strongest
 * action among its findings. */
typedef enum {
  KL_GUARD_ALLOW = 0,   /* nothing found (a verdict only) */
  KL_GUARD_FLAG,        /* record the finding, change nothing */
  KL_GUARD_REDACT,      /* typed numbered placeholders: <EMAIL_ADDRESS_1> */
  KL_GUARD_MASK,        /* '*' per character; cards keep their last 4 digits */
  KL_GUARD_HASH,        /* 16 hex chars of HMAC-SHA256(policy key, value) */
  KL_GUARD_RESTORE,     /* anonymise-and-restore: placeholders go upstream, the caller puts the
                           values back into the answer (kl_guard_restore) */
  KL_GUARD_REASK,       /* output format failures: the caller asks the upstream once more */
  KL_GUARD_BLOCK        /* the caller refuses the text; kl_guard_apply redacts like REDACT */
} kl_guard_action;

/* When a scanner runs.  DURING scanners read the input like INPUT ones, but the gateway starts
 * the upstream call without waiting for them and holds the answer until they pass. */
typedef enum { KL_GUARD_INPUT = 0, KL_GUARD_DURING, KL_GUARD_OUTPUT } kl_guard_stage;

/* PII-only policy options (kl_guard_policy_new). */
typedef struct kl_guard_opts {
  unsigned types;            /* bit set of (1u << kl_guard_type); 0 means KL_GUARD_ALL_PII */
  kl_guard_action action;    /* 0 (ALLOW) means REDACT */
  double min_score;          /* findings scoring below are dropped (0 keeps all) */
  const uint8_t *hash_key;   /* HMAC key for KL_GUARD_HASH; NULL: 32 random bytes per policy */
  size_t hash_key_len;
} kl_guard_opts;

/* One scanner of a policy.  kind is one of kl_guard_kinds():
 *   pii          PII entities (types: bit set, 0 = all)             input, output
 *   secrets      the gitleaks rules: keywords, entropy, allow-lists  input, output
 *   injection    prompt injection and jailbreak (PROMPT_INJECTION, JAILBREAK)
 *   banned       banned substrings (list), case-insensitive          input, output
 *   topics       banned topics: list of "topic: word, word, ..."     input, output
 *   invisible    invisible / tag / bidi-control Unicode characters   input, output
 *   token_limit  more than `limit` tokens (cl100k/o200k estimate)    input
 *   regex        list of PCRE2 patterns that must NOT match (or, with `must_match`, must)
 *   canary       the request's canary token seen in the output       output
 *   json         output must be valid JSON (and match the request's JSON Schema if any)
 *   refusal      the model refused ("I can't help with that")        output
 *   urls         URLs whose host is not in the allow-list (list)     output
 *   classifier   HTTP model server (url, timeout_ms, fail_open): run by the gateway
 * Strings are copied: the config need not outlive the policy. */
typedef struct kl_guard_scanner_cfg {
  const char *kind;
  const char *name;             /* instance name in findings; NULL: the kind */
  kl_guard_stage stage;
  kl_guard_action action;       /* 0 (ALLOW): the kind's default (block for most, redact for pii) */
  double threshold;             /* findings scoring below are dropped; 0: the kind's default */
  unsigned types;               /* pii: bit set of kl_guard_type, 0 = all */
  const char *const *list;      /* banned, topics, regex, urls: their entries */
  size_t nlist;
  long limit;                   /* token_limit */
  bool must_match;              /* regex */
  const char *url;              /* classifier: POST {"text": ...} -> {"label","score"} */
  long timeout_ms;              /* classifier */
  bool fail_open;               /* classifier: allow when the server fails (default: block) */
} kl_guard_scanner_cfg;

typedef struct kl_guard_policy_cfg {
  const char *name;
  const kl_guard_scanner_cfg *scanners;
  size_t nscanners;
  const uint8_t *hash_key;      /* HMAC key for hashing; NULL: 32 random bytes */
  size_t hash_key_len;
} kl_guard_policy_cfg;

typedef struct kl_guard_finding {
  const char *scanner;  /* scanner instance name ("pii", "secrets", ...; lives with the policy) */
  const char *type;     /* "EMAIL_ADDRESS", "SECRET", "PROMPT_INJECTION", ... */
  const char *rule;     /* the rule that matched ("credit_card", gitleaks id, ...) */
  size_t start, end;    /* byte offsets, [start, end); a whole-text finding is [0, len) */
  double score;         /* in [0, 1] */
  kl_guard_action action;  /* its scanner's action */
} kl_guard_finding;

typedef struct kl_guard_policy kl_guard_policy;

/* The default policy's PII threshold: shapes plain numbers also take (two bare digit groups, bare
 * 9-digit SSNs) score below it unless a context word ("phone", "ssn", ...) is near. */
#define KL_GUARD_DEFAULT_MIN_SCORE 0.3

/* NULL-terminated list of scanner kinds. */
const char *const *kl_guard_kinds(void);

/* Builds a policy from its scanners.  NULL with err set (naming the scanner) on failure. */
kl_guard_policy *kl_guard_policy_build(const kl_guard_policy_cfg *cfg, kl_err *err);
/* The default policy: input pii (redact), secrets (block), injection (block); output pii, secrets. */
kl_guard_policy *kl_guard_policy_default(const char *name, kl_err *err);
/* A policy of one input PII scanner (opts may be NULL: all types, REDACT, default threshold). */
kl_guard_policy *kl_guard_policy_new(const char *name, const kl_guard_opts *opts, kl_err *err);
void kl_guard_policy_free(kl_guard_policy *p);
const char *kl_guard_policy_name(const kl_guard_policy *p);
/* The action of the policy's first scanner (PII-only policies: their action). */
kl_guard_action kl_guard_policy_action(const kl_guard_policy *p);
/* Whether any scanner runs at this stage (the gateway skips stages with none). */
bool kl_guard_policy_has_stage(const kl_guard_policy *p, kl_guard_stage st);
/* The classifier scanners of a stage (run by the gateway: guard knows no event loop). */
size_t kl_guard_policy_classifiers(const kl_guard_policy *p, kl_guard_stage st, const kl_guard_scanner_cfg **out,
                                   size_t max);
/* A classifier's answer -> the probability that the text is unsafe (benign labels such as
 * SAFE/BENIGN/LABEL_0 count as 1 - score) and the label.  0, or -1 with err (not JSON, no label). */
int kl_guard_classifier_verdict(const kl_guard_scanner_cfg *cfg, const char *body, size_t n, double *score,
                                const char **label, kl_arena *a, kl_err *err);
/* A response_format JSON schema keel can validate against: 0, or -1 with err (400, naming the
 * place in the schema).  The gateway refuses a request with a bad schema before calling. */
int kl_guard_schema_check(const char *schema, size_t len, kl_err *err);
/* Why an answer fails the json scanner, in words for the model (reask), or NULL if it passes. */
const char *kl_guard_json_problem(const char *text, size_t len, const char *schema, size_t schema_len, kl_arena *a);
const char *kl_guard_action_name(kl_guard_action a);  /* "allow", "flag", "redact", ... */
bool kl_guard_action_parse(const char *s, kl_guard_action *out);
const char *kl_guard_stage_name(kl_guard_stage s);    /* "input", "during", "output" */
const char *kl_guard_type_name(kl_guard_type t);

/* What one check looks at.  Per-request context for the output scanners rides along. */
typedef struct kl_guard_text {
  const char *text;
  size_t len;
  kl_guard_stage stage;
  const char *json_schema;   /* output json: the request's response_format schema (JSON), or NULL */
  size_t json_schema_len;
  const char *canary;        /* output canary: this request's token, or NULL */
  bool expect_json;          /* output json: the request asked for JSON (json_object or a schema);
                                the json scanner passes texts of requests that did not */
  bool partial;              /* a window of a longer text (streams): scanners that judge a whole
                                text (json, token_limit, refusal, regex must_match) skip it */
} kl_guard_text;

typedef struct kl_guard_result {
  kl_guard_finding *findings;  /* sorted by start, non-overlapping per scanner (arena) */
  size_t n;
  kl_guard_action action;      /* strongest action among the findings; ALLOW if none */
  const kl_guard_finding *blocker;  /* the finding that decided a BLOCK or REASK verdict */
  double us;                   /* time the check took, in microseconds */
  bool memo_hit;               /* kl_guard_check_memo: answered from the memo */
  /* partial checks (stream windows): hold, and the offset from which the text must not be
   * released yet, because an entity that starts there may still be completed by text to come
   * and is longer than a window (a PEM private key whose END line has not come) */
  bool hold;
  size_t hold_from;
} kl_guard_result;

/* Runs every scanner of in->stage (except classifiers) over the text.  0, or -1 with err set. */
int kl_guard_check(const kl_guard_policy *p, const kl_guard_text *in, kl_arena *a, kl_guard_result *out,
                   kl_err *err);

/* A memory of checked texts (memo.c), for texts that come back (system prompts, earlier
 * turns): kl_guard_check_memo answers such a text without checking it again, with exactly the
 * result kl_guard_check would give (its findings copied into the arena).  Only checks that
 * depend on the text alone are remembered (no canary, no json_schema, not partial), and no
 * text with an anonymise-and-restore finding; a text is kept on its second sighting, byte for
 * byte (at most max_bytes in all, findings included; 0: 4 MiB).  One memo per thread: it takes
 * no lock.  A NULL memo: kl_guard_check_memo is kl_guard_check. */
typedef struct kl_guard_memo kl_guard_memo;
typedef struct kl_guard_memo_stats {
  uint64_t hits, misses, admitted, evictions;
  size_t bytes;  /* text bytes kept */
} kl_guard_memo_stats;
kl_guard_memo *kl_guard_memo_new(size_t max_bytes);
void kl_guard_memo_free(kl_guard_memo *m);
int kl_guard_check_memo(const kl_guard_policy *p, kl_guard_memo *m, const kl_guard_text *in, kl_arena *a,
                        kl_guard_result *out, kl_err *err);
kl_guard_memo_stats kl_guard_memo_stats_get(const kl_guard_memo *m);

/* Scans text[0..len) with the policy's INPUT scanners (any bytes; invalid UTF-8 is tolerated).
 * Findings are sorted by start and never overlap (overlaps of one type are merged, of different
 * types the higher score wins); they live in the arena.  The number of findings, or -1 with err. */
long kl_guard_scan(const kl_guard_policy *p, const char *text, size_t len, kl_arena *a,
                   kl_guard_finding **out, kl_err *err);

/* Rewrites the text with the findings replaced per action (only findings of scanners whose
 * findings are values: pii, secrets).  kl_guard_apply uses `action` for every such finding
 * (ALLOW: each finding's own); kl_guard_anonymise uses each finding's own action and, for
 * KL_GUARD_RESTORE, adds placeholder -> value to *vault (zero it before the first text of a
 * request; numbering continues across the texts added to one vault, so <EMAIL_ADDRESS_1> means
 * one value in the whole request).  Results are NUL-terminated, in the arena; *out_len gets
 * the length.  The vault is arena memory and is never written anywhere else. */
typedef struct kl_guard_vault {
  const char **placeholder, **value, **type;
  size_t *value_len;
  size_t n, cap;
} kl_guard_vault;
char *kl_guard_apply(const kl_guard_policy *p, const char *text, size_t len,
                     const kl_guard_finding *f, size_t nf, kl_guard_action action, kl_arena *a,
                     size_t *out_len);
char *kl_guard_anonymise(const kl_guard_policy *p, const char *text, size_t len, const kl_guard_finding *f,
                         size_t nf, kl_guard_vault *vault, kl_arena *a, size_t *out_len);
/* Puts the vault's values back in place of their placeholders. */
char *kl_guard_restore(const kl_guard_vault *vault, const char *text, size_t len, kl_arena *a, size_t *out_len);

#endif
