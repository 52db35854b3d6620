/* guard_int.h: what the guard engine (guard.c, check.c) and the scanners share.
 *
 * A policy is a list of scanner instances.  A scanner kind (pii.c, secrets.c, injection.c, ...)
 * is a small vtable: `init` reads the instance's config and adds rules; `finish` turns the
 * confirmed matches of its rules into findings (or looks at the whole text itself: json,
 * token_limit).  The engine compiles the rules of every scanner of a stage into ONE Hyperscan
 * database, scans once, and hands each scanner its own confirmed matches.
 *
 * A rule is one regular expression plus an optional validator.  The same expression feeds
 * Hyperscan (to find match ends in one pass over the text) and PCRE2 (to recover the span,
 * with the boundary lookarounds `pre`/`post` that Hyperscan cannot run).  max_len bounds a
 * match's length: it sizes the window PCRE2 re-matches around each Hyperscan hit. */
#ifndef KL_GUARD_INT_H
#define KL_GUARD_INT_H

#include "guard/kl_guard.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Confirms the candidate text[start, *end); may shorten *end (IBAN) and adjust *score.
 * `rule` is the rule being confirmed (its `data` carries scanner-specific parameters). */
struct guard_rule;
typedef bool (*guard_validate_fn)(const char *text, size_t len, size_t start, size_t *end, double *score);
/* An exact stand-in for a rule's PCRE2 pattern (pre(?:re)post with its flags), for a rule
 * confirmed so often that the call is the cost (pii_find.c): the match pcre2_match reports on
 * the subject text[0..slen) from start offset off with offset limit `limit` (its start in
 * [off, limit]; lookbehinds may read before off).  true with *ms, *me. */
typedef bool (*guard_find_fn)(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me);
typedef bool (*guard_validate_rule_fn)(const struct guard_rule *rule, const char *text, size_t len, size_t start,
                                       size_t *end, double *score);

enum {
  GUARD_RE_CASELESS = 1,  /* Hyperscan HS_FLAG_CASELESS, PCRE2_CASELESS */
  GUARD_RE_UTF8 = 2,      /* non-ASCII expression: HS_FLAG_UTF8|HS_FLAG_UCP, PCRE2_UTF|PCRE2_UCP */
  GUARD_RE_DOTALL = 4,    /* HS_FLAG_DOTALL, PCRE2_DOTALL */
  GUARD_RE_MULTILINE = 8, /* HS_FLAG_MULTILINE, PCRE2_MULTILINE */
  GUARD_RE_PREFILTER = 16, /* Hyperscan runs a simplified superset (HS_FLAG_PREFILTER): big
                              alternations of phrases compile in a fraction of the time, and
                              PCRE2 confirms every candidate anyway */
  GUARD_RE_FIRST_HIT = 32, /* the scanner only asks whether the rule has a confirmed hit in a
                              text, never where or how many (injection's rescan triggers):
                              PCRE2 confirms its windows only until the first, so a scan
                              yields exactly its leftmost hit and the rest cost nothing */
  GUARD_RE_LATER = 64,     /* not in the stage's Hyperscan pass: the scanner asks for the
                              rule's hits with guard_scanner_later, and only when what the pass
                              found makes them matter (injection's pair objects and meta
                              words: ~30% of its pass over real chat prompts) */
};

typedef struct guard_rule {
  const char *type;        /* finding type: "EMAIL_ADDRESS", "SECRET", "PROMPT_INJECTION", ... */
  const char *name;        /* rule id */
  const char *re;          /* core expression (Hyperscan + PCRE2); no lookarounds, no backrefs */
  const char *pre, *post;  /* PCRE2-only boundary assertions around the core ("" or NULL: none) */
  unsigned flags;          /* GUARD_RE_* */
  unsigned max_len;        /* longest match: sizes the PCRE2 window */
  double score;
  guard_validate_fn validate;          /* may be NULL */
  guard_validate_rule_fn validate_rule;  /* may be NULL; run after validate */
  const char *const *context;  /* lowercase context words that add 0.35 when near; NULL-terminated or NULL */
  const void *data;        /* scanner-owned parameters (secret group, entropy, ...) */
  guard_find_fn find;      /* may be NULL: PCRE2 confirms */
} guard_rule;

/* A confirmed match of one rule. */
typedef struct guard_hit {
  const guard_rule *rule;
  size_t start, end;
  double score;
} guard_hit;

/* Findings being collected by a check (malloc'd vector; the engine copies them to the arena). */
typedef struct guard_out {
  kl_guard_finding *v;
  size_t n, cap;
} guard_out;

/* A 256-entry byte table built by the compiler: GUARD_BYTE_TABLE(F) is the initializer
 * {F(0), F(1), ..., F(255)} for a macro F of one byte value (a class test or a set of class
 * bits), so a hot loop does one lookup per byte instead of a chain of comparisons. */
#define GUARD_BYTE4_(F, c) F(c), F((c) + 1), F((c) + 2), F((c) + 3)
#define GUARD_BYTE16_(F, c) \
  GUARD_BYTE4_(F, c), GUARD_BYTE4_(F, (c) + 4), GUARD_BYTE4_(F, (c) + 8), GUARD_BYTE4_(F, (c) + 12)
#define GUARD_BYTE64_(F, c) \
  GUARD_BYTE16_(F, c), GUARD_BYTE16_(F, (c) + 16), GUARD_BYTE16_(F, (c) + 32), GUARD_BYTE16_(F, (c) + 48)
#define GUARD_BYTE_TABLE(F) {GUARD_BYTE64_(F, 0), GUARD_BYTE64_(F, 64), GUARD_BYTE64_(F, 128), GUARD_BYTE64_(F, 192)}

/* ASCII classes for the hand-written passes, pre-checks and validators: <ctype.h>'s isdigit()
 * and isalnum() cost a call (__ctype_b_loc) per byte, and answer the same in the C locale, which
 * keel never changes. */
static inline bool guard_is_digit(unsigned char c) { return (unsigned char)(c - '0') < 10; }
static inline bool guard_is_letter(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26; }
static inline bool guard_is_alnum(unsigned char c) { return guard_is_digit(c) || guard_is_letter(c); }
static inline bool guard_is_blank(unsigned char c) { return c == ' ' || c == '\t'; }  /* [ \t] */
#ifdef __SSE2__
/* guard_is_letter for the 16 bytes at p: bit k for p[k]. */
static inline unsigned guard_letters16(const void *p) {
  __m128i v = _mm_sub_epi8(_mm_or_si128(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
  return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(25)), v));
}
#endif

/* The 64 bytes at t[i] for a SIMD pass of 64-byte blocks: the text itself, or for its last
 * bytes a copy in pad filled out with `fill`, a byte in none of the pass's classes. */
static inline const unsigned char *guard_block64(const unsigned char *t, size_t len, size_t i, unsigned char pad[64],
                                                 unsigned char fill) {
  if (i + 64 <= len) return t + i;
  memset(pad, fill, 64);
  memcpy(pad, t + i, len - i);
  return pad;
}

/* A hint lead meaning: every match of the rule starts where the hs_re match inside it starts
 * (hs_re is a prefix form: guard_re_search_form without a leading run, no consuming `pre`), so
 * the lead is hs_re's longest match, which the engine asks Hyperscan for (capped by max_len). */
#define GUARD_LEAD_PREFIX 0xffffffffu

typedef bool (*guard_may_match_fn)(const char *text, size_t len, size_t end, size_t *start);

/* A window source: a hand-written pre-pass that stands in for Hyperscan for a group of rules
 * that Hyperscan runs badly (the pii gazetteer's thousands of short literals).  The engine calls
 * `scan` once per scan of a database holding any of the group's rules, before the Hyperscan
 * pass; it calls report(ctx, slot, start, end) for each candidate, where `slot` names a member
 * of the group (the source's own numbering, given to guard_scanner_hs_source), and every
 * report of a slot opens (or extends) a confirmation window of each rule given that slot:
 *  - start == GUARD_SOURCE_LEAD: `end` is a match end as Hyperscan would report it: the window
 *    is [end - lead, end] (the hint's lead and may_match apply), exactly as from Hyperscan;
 *  - otherwise: PCRE2 looks for matches starting in [start, end) (no may_match).
 * Confirmation, validators and context words are unchanged.  Reports may come in any order and
 * repeat; the engine orders them by end as Hyperscan would.  A source must cover, for each slot,
 * every start of a match of its rules (an end-only report covers [end - lead, end)), as a
 * hint's hs_re must.  Then a rule's confirmed hits are the same whatever the windows (as long
 * as max_len bounds its matches): PCRE2 takes the leftmost match from where the last hit
 * ended, and the windows only skip starts where no match begins.  `scan` must be thread-safe
 * and keep no memory. */
#define GUARD_SOURCE_LEAD ((size_t)-1)
typedef void (*guard_source_report_fn)(void *ctx, unsigned slot, size_t start, size_t end);
typedef struct guard_window_source {
  void (*scan)(const char *text, size_t len, guard_source_report_fn report, void *ctx);
} guard_window_source;

/* A speed hint for one rule (guard_scanner_hs_hint). */
typedef struct guard_hs_hint {
  const char *re;  /* what Hyperscan runs instead of the rule's re (NULL: re itself) */
  unsigned lead;   /* a match of the rule starts at most this many bytes before the end of
                      the hs_re match inside it (0: max_len; GUARD_LEAD_PREFIX: see below) */
  /* NULL, or a cheap look at the bytes before a Hyperscan match end of hs_re: false only if no
   * match of the rule can hold an hs_re match ending there (then no window is opened); it may
   * raise *start (end - lead on entry) to the first byte where such a match can start */
  guard_may_match_fn may_match;
} guard_hs_hint;

/* The window source that finds a rule's windows instead of Hyperscan (the rule is then left
 * out of the Hyperscan database), and the rule's slot in it (guard_scanner_hs_source). */
typedef struct guard_rule_source {
  const guard_window_source *source;  /* NULL: Hyperscan */
  unsigned slot;
} guard_rule_source;

typedef struct guard_scanner guard_scanner;

typedef struct guard_kind {
  const char *kind;
  unsigned stages;          /* bit set of (1u << kl_guard_stage) the kind may run at */
  kl_guard_action action;   /* default action */
  double threshold;         /* default threshold */
  bool whole_text;          /* judges a whole text: skipped on kl_guard_text.partial windows */
  bool rewrites;            /* findings are values that redact/mask/hash/restore replace (pii,
                               secrets); other kinds' findings are verdicts, never rewritten */
  /* Reads cfg into s (s->state, rules via guard_scanner_add_rule).  false with err set. */
  bool (*init)(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err);
  /* Turns this scanner's confirmed matches (sorted by start) into findings with
   * guard_out_push.  NULL: every hit scoring >= threshold becomes a finding. */
  void (*finish)(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                 kl_arena *a, guard_out *out);
  void (*free)(guard_scanner *s);  /* frees s->state; may be NULL */
} guard_kind;

struct guard_scanner {
  const guard_kind *kind;
  const kl_guard_policy *policy;
  char *name;
  kl_guard_stage stage;
  kl_guard_action action;
  double threshold;
  kl_guard_scanner_cfg cfg;  /* a deep copy (strings and list owned by the policy) */
  guard_rule *rules;         /* rules added by init (owned; their strings are the scanner's) */
  size_t nrules, cap;
  void *state;
  /* Optional private Hyperscan database of this scanner's rules alone, for scanners that
   * rescan derived text (decoded base64, normalised homoglyphs): set by init with
   * guard_scanner_want_own_db, built by the engine, used through guard_scanner_rescan. */
  bool want_own_db;
  void *own_db;
  void *later_db;            /* the GUARD_RE_LATER rules (NULL: none), for guard_scanner_later */
  guard_hs_hint *hints;      /* parallel to rules, NULL until a hint is given */
  guard_rule_source *sources;  /* parallel to rules, NULL until a source is given */
};

/* Adds a copy of r (r's strings are NOT copied: keep them static or in guard_scanner_strdup
 * memory).  Returns the copy. */
guard_rule *guard_scanner_add_rule(guard_scanner *s, const guard_rule *r);
/* A string owned by the scanner (freed with the policy). */
char *guard_scanner_strdup(guard_scanner *s, const char *str, size_t len);
void guard_scanner_want_own_db(guard_scanner *s);
/* Optional speed hint for rule r (as returned by guard_scanner_add_rule): Hyperscan runs the
 * looser hs_re (static or scanner memory; NULL: r->re) instead of r->re, and PCRE2 still
 * confirms r exactly.  Every match of r must contain a match of hs_re that ends at most
 * `lead` bytes after r's match starts (0: max_len); PCRE2 then only looks at [end - lead, end]
 * for starts.  A short, literal-led hs_re makes the Hyperscan pass cheaper; a small lead
 * makes confirmation cheaper (with hs_re NULL: the longest shortest-prefix of a match that
 * the core expression matches, since Hyperscan reports every match end). */
void guard_scanner_hs_hint(guard_scanner *s, const guard_rule *r, const char *hs_re, unsigned lead);
/* The usual search form of an ASCII expression (NULL if it is the expression itself): without
 * a leading \b, and with a leading or trailing run of blanks ("[ \t]+", "\s+") cut to one.  Every
 * match of re contains a match of the form that ends inside it, at most as far from the match's
 * start as re's own shortest match, so any lead that fits re fits the form.  Hyperscan then runs
 * a literal-led automaton instead of a word-boundary or blank-run one (the pii phrase rules'
 * Hyperscan pass over a 40-byte text: 5.6k -> 3.5k instructions; test_guard_pii_forms checks
 * the property on real texts). */
const char *guard_re_search_form(guard_scanner *s, const char *re);
/* Adds a may_match pre-check to rule r's hint (see guard_hs_hint). */
void guard_scanner_hs_check(guard_scanner *s, const guard_rule *r, guard_may_match_fn may_match);
/* Takes rule r out of the Hyperscan database: its windows come from src's reports of `slot`
 * (see guard_window_source), with the lead of its hint (guard_scanner_hs_hint; 0: max_len).
 * Several rules may share a slot (two scanners of one stage with the same source). */
void guard_scanner_hs_source(guard_scanner *s, const guard_rule *r, const guard_window_source *src, unsigned slot);
/* Scans derived text with this scanner's own rules: confirmed hits (malloc'd; free()), count. */
size_t guard_scanner_rescan(const guard_scanner *s, const char *text, size_t len, guard_hit **hits);
/* The hits of this scanner's GUARD_RE_LATER rules in the text the stage's pass saw: what that
 * pass would have found for them, in the engine's order (by rule, then by start; malloc'd,
 * free()), count.  0 with none, or on a scan error. */
size_t guard_scanner_later(const guard_scanner *s, const char *text, size_t len, guard_hit **hits);
/* Tests only: policies built while it is true keep their GUARD_RE_LATER rules in the stage's
 * pass (and build no later database), the reference a deferring scanner must match. */
extern bool guard_later_in_stage;

/* Adds a finding of scanner s (dropped when score < s->threshold; clamped to 1). */
void guard_out_push(guard_out *o, const guard_scanner *s, const char *type, const char *rule, size_t start,
                    size_t end, double score);

/* A regular expression matching the literal string (escaped); in scanner memory. */
char *guard_re_literal(guard_scanner *s, const char *lit, size_t len);

/* secrets.c: where a PEM private-key header with no END line after it starts in t, or
 * SIZE_MAX (kl_guard_result.hold_from, for stream windows). */
size_t guard_secrets_open_key(const char *t, size_t len);

/* The scanner kinds. */
extern const guard_kind guard_kind_pii, guard_kind_secrets, guard_kind_injection, guard_kind_banned,
    guard_kind_topics, guard_kind_invisible, guard_kind_token_limit, guard_kind_regex, guard_kind_canary,
    guard_kind_json, guard_kind_refusal, guard_kind_urls, guard_kind_classifier;

/* PII (pii.c) */
typedef struct guard_pii_rule {
  kl_guard_type type;
  guard_rule rule;
} guard_pii_rule;
extern const guard_pii_rule guard_pii_rules[];
extern const size_t guard_pii_nrules;
const char *const *guard_context_words(kl_guard_type t);

/* The policy's HMAC key; whether the scanner that produced a finding rewrites (by name). */
bool guard_policy_rewrites(const kl_guard_policy *p, const char *scanner_name);
const uint8_t *guard_policy_key(const kl_guard_policy *p, size_t *len);

/* UTF-8 (text.c): the code point at / before byte i (*n = its length; invalid bytes decode
 * as U+FFFD of length 1); whether a code point is a letter or digit of any script. */
uint32_t guard_utf8_next(const char *t, size_t len, size_t i, size_t *n);
uint32_t guard_utf8_prev(const char *t, size_t i, size_t *n);
bool guard_cp_is_word(uint32_t c);
/* A fresh canary token: 128 random bits as 32 lowercase hex chars (output.c). */
void guard_canary_make(char out[33]);

/* Shannon entropy in bits per byte of s[0..n). */
double guard_entropy(const char *s, size_t n);

#endif
