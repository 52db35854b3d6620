/* injection_int.h: what the injection scanner's three files share (injection.c scores,
 * injection_phrases.c holds the phrase tables, normalise.c decodes and folds derived text).
 * Private to the injection scanner: nothing outside src/guard/injection*.c and normalise.c
 * (and their unit tests) should include it. */
#ifndef GUARD_INJECTION_INT_H
#define GUARD_INJECTION_INT_H

#include "guard/guard_int.h"

/* What a phrase rule contributes.  Strong phrases are a verdict on their own; the other
 * classes are weak cues that only count in combination (see injection.c). */
typedef enum {
  INJ_STRONG = 0, /* a signal by itself (score = weight) */
  INJ_WEAK,       /* a signal by itself but below any sane threshold (noisy-OR with others) */
  INJ_VERB,       /* "ignore", "disregard", "forget", "bypass", ...: override verbs */
  INJ_REFQ,       /* the model's rules, qualified: "your instructions", "all previous rules" */
  INJ_REF,        /* a bare rule noun: "rules", "instructions" */
  INJ_REVEAL,     /* "print", "reveal", "repeat", "show me", ...: disclosure verbs */
  INJ_TARGET,     /* what extraction wants: "your system prompt", "the text above" */
  INJ_OWN,        /* the user's own earlier request: "I gave", "my last message" */
  INJ_META,       /* talking ABOUT attacks: "prompt injection", "red team", "phishing", "e.g." */
  INJ_TRIG_ROT13, /* "rot13" mentioned: rescan the text rotated */
  INJ_TRIG_REV,   /* "reversed"/"backwards" mentioned: rescan the text reversed */
  INJ_TRIG_ACRO,  /* "first letter of each line": rescan the acrostic */
  INJ_TRIG_SPLIT, /* "a + b", "piece 1", "join them": rescan the quoted pieces joined */
  INJ_TRIG_TAG,   /* Unicode tag characters U+E0000..U+E007F */
  INJ_TRIG_ZW     /* zero-width and other invisible format characters */
} inj_class;

typedef struct inj_phrase {
  inj_class cls;
  const char *signal;   /* rule id in findings: "instruction_override", "dan", ... */
  bool jailbreak;       /* type JAILBREAK (else PROMPT_INJECTION) */
  const char *re;
  unsigned flags;       /* GUARD_RE_* */
  unsigned max_len;
  double weight;
} inj_phrase;

extern const inj_phrase guard_inj_phrases[];
extern const size_t guard_inj_nphrases;

/* A cheaper expression for the Hyperscan pass of the row whose re starts with `re_start`
 * (guard_scanner_hs_hint): every match of the row must contain a match of `hs` that ends inside it. */
typedef struct inj_hs_form {
  const char *re_start;
  const char *hs;
} inj_hs_form;
extern const inj_hs_form guard_inj_hs_forms[];
extern const size_t guard_inj_nhs_forms;
/* The window pre-check of a row (injection_checks.c), or NULL: the split trigger's, and those of
 * the forms that leave leading words or the tail to PCRE2 (while the row still has that form). */
guard_may_match_fn guard_inj_check_of(const inj_phrase *p);

/* ---- normalise.c: derived texts (all return a malloc'd NUL-terminated string or NULL, and its
 * length in *out_len; they never read past n and accept any bytes) ---- */

/* Folds look-alikes to ASCII (Cyrillic/Greek confusables, fullwidth and mathematical
 * alphanumerics), drops invisible format characters (zero-width, word joiner, BOM, soft
 * hyphen, invisible operators, tag characters) and joins l e t t e r - s p a c e d runs. */
char *guard_norm_fold(const char *s, size_t n, size_t *out_len);
/* The ASCII hidden in Unicode tag characters (U+E0020..U+E007E), in order; NULL if fewer
 * than min_chars (England/Scotland/Wales flag sequences after U+1F3F4 are skipped). */
char *guard_norm_tags(const char *s, size_t n, size_t min_chars, size_t *out_len);
/* Base64 (standard or URL alphabet, padding optional) decoding of s[0..n); NULL if it is not
 * base64 or decodes to fewer than 8 bytes. */
char *guard_norm_base64(const char *s, size_t n, size_t *out_len);
/* Hex pairs; NULL unless n is even, >= 16 and all hex digits. */
char *guard_norm_hex(const char *s, size_t n, size_t *out_len);
/* %XX escapes and '+' decoded. */
char *guard_norm_percent(const char *s, size_t n, size_t *out_len);
/* ROT13 of ASCII letters. */
char *guard_norm_rot13(const char *s, size_t n, size_t *out_len);
/* The text reversed code point by code point. */
char *guard_norm_reverse(const char *s, size_t n, size_t *out_len);
/* Leetspeak folded inside words that mix letters and digits: 0->o 1->i 3->e 4->a 5->s 7->t
 * @->a $->s. */
char *guard_norm_leet(const char *s, size_t n, size_t *out_len);
/* The contents of quoted pieces ("..", '..', «..», “..”) joined with sep (0: nothing). */
char *guard_norm_quoted_join(const char *s, size_t n, char sep, size_t *out_len);
/* Both joins at once, with sep0 and with sep1 (one pass: the pieces are the same). */
void guard_norm_quoted_join2(const char *s, size_t n, char sep0, char **out0, size_t *len0, char sep1, char **out1,
                             size_t *len1);
/* The first letter of each short line (<= 30 bytes); blank and long lines become spaces. */
char *guard_norm_acrostic(const char *s, size_t n, size_t *out_len);
/* Disguises that are character classes rather than phrases (base64 runs, %XX, leetspeak,
 * letter spacing, look-alike letters) cost Hyperscan more than a plain byte loop, so one
 * survey pass finds them.  Spans are [a, b) byte offsets; counts saturate. */
#define GUARD_NORM_MAX_RUNS 16
typedef struct guard_norm_marks {
  size_t run[GUARD_NORM_MAX_RUNS][2]; /* base64/hex runs of >= 24 characters (with '=' padding) */
  size_t nrun;
  size_t pct, pct_a, pct_b;           /* %XX escapes */
  size_t leet, leet_a, leet_b;        /* the densest cluster of words mixing letters with 0 1 3 4 5 7 @ $ */
  size_t spaced, spaced_a, spaced_b;  /* l e t t e r - s p a c e d runs of >= 4 */
  size_t homo, homo_a, homo_b;        /* look-alikes next to Latin letters; fullwidth/math letters */
} guard_norm_marks;
void guard_norm_survey(const char *s, size_t n, guard_norm_marks *m);
/* Tests only: true turns off the survey's 64-byte fast path (survey_block), the byte loop it
 * must match mark for mark. */
extern bool guard_norm_survey_slow;
/* Only the survey's base64/hex runs (run, nrun; the rest zero), the same as its. */
void guard_norm_runs(const char *s, size_t n, guard_norm_marks *m);

/* Shared by normalise.c and normalise_survey.c: one code point decoded at s[i] (i < n; *cl its
 * byte length; invalid: U+FFFD and 1), the ASCII letter a Cyrillic or Greek code point passes for
 * (or 0), fullwidth and mathematical alphanumerics' ASCII (or 0), a hex digit's value (or -1). */
uint32_t guard_norm_u8dec(const char *s, size_t n, size_t i, size_t *cl);
char guard_norm_confusable(uint32_t c);
char guard_norm_wide_or_math(uint32_t c);
int guard_norm_hexval(unsigned char c);

/* Whether s[0..n) looks like text: valid UTF-8, few control bytes. */
bool guard_norm_is_text(const char *s, size_t n);

#endif
