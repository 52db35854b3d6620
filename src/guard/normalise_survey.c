/* normalise_survey.c: the survey, one pass over a text for the disguises that are character
 * classes (base64 and hex runs, %XX escapes, leetspeak clusters, letter spacing, look-alike and
 * fullwidth letters), and guard_norm_runs, its base64 runs alone.  The injection scanner surveys
 * every text it sees, so this is its hottest loop; the transforms the survey's marks trigger
 * (decode, fold, join) are in normalise.c.  Both files share the UTF-8 decoder and the look-alike
 * tables through injection_int.h. */
#include "guard/injection_int.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- the survey: one pass for the disguises that are character classes ---- */

/* Byte classes for the survey, one table lookup instead of a chain of comparisons per test
 * (the survey runs over every text the scanner sees, so it is the scanner's hottest loop). */
enum {
  SV_B64 = 1,    /* [A-Za-z0-9+/_-]: base64 (either alphabet) and hex */
  SV_ALPHA = 2,  /* ASCII letter */
  SV_LSYM = 4,   /* a leet symbol inside words: 0 1 3 4 5 7 8 9 @ $ */
  SV_WORD = 8,   /* letter, digit or leet symbol: part of a word for the leet count */
  SV_LEET = 16,  /* anything leet() maps, ! | + included */
  SV_SPACER = 32, /* what letter spacing uses: space . - _ * | / */
  SV_INERT = 64,  /* ASCII that is none of base64, word or '%': between words it changes nothing */
  SV_DIGIT = 128  /* 0-9 */
};
#define SV_IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define SV_IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define SV_IS_LEET(c) \
  (((c) >= '0' && (c) <= '9' && (c) != '2' && (c) != '6') || (c) == '!' || (c) == '|' || (c) == '@' || (c) == '$' || \
   (c) == '+')
#define SV_IS_LSYM(c) (SV_IS_LEET(c) && (c) != '!' && (c) != '|' && (c) != '+')
#define SV_IS_SPACER(c) \
  ((c) == ' ' || (c) == '.' || (c) == '-' || (c) == '_' || (c) == '*' || (c) == '|' || (c) == '/')
#define SV_CLASS(c)                                                                                             \
  ((SV_IS_ALPHA(c) || SV_IS_DIGIT(c) || (c) == '+' || (c) == '/' || (c) == '-' || (c) == '_' ? SV_B64 : 0) |     \
   (SV_IS_ALPHA(c) ? SV_ALPHA : 0) | (SV_IS_LSYM(c) ? SV_LSYM : 0) |                                             \
   (SV_IS_ALPHA(c) || SV_IS_LSYM(c) || SV_IS_DIGIT(c) ? SV_WORD : 0) | (SV_IS_LEET(c) ? SV_LEET : 0) |           \
   (SV_IS_SPACER(c) ? SV_SPACER : 0) |                                                                         \
   ((c) < 0x80 && (c) != '%' && !(SV_IS_ALPHA(c) || SV_IS_DIGIT(c) || SV_IS_LSYM(c) || (c) == '+' || (c) == '/' ||  \
                                  (c) == '-' || (c) == '_')                                                       \
        ? SV_INERT                                                                                              \
        : 0) |                                                                                                  \
   (SV_IS_DIGIT(c) ? SV_DIGIT : 0))
static const unsigned char sv_class[256] = GUARD_BYTE_TABLE(SV_CLASS);

static void mark(size_t *cnt, size_t *a, size_t *b, size_t s, size_t e) {
  if (!(*cnt)++) *a = s;
  if (e > *b) *b = e;
}

/* survey_block's masks of 64 bytes (bit b for byte b): ASCII letters; digits; "end", bytes a
 * span may end with (some SV_INERT ones: controls, space, ! " # & ' ( ) *, and the second byte of
 * a two-byte character below U+0380); "ok", every byte but @ $ %, and non-ASCII but those two-byte
 * characters (survey_block takes out the digits next to a letter).  The byte loop treats such a
 * character (a lead 0xC2-0xCD, then a continuation byte) as it does a space: it ends the base64
 * run and the word, and is no look-alike (the table starts at U+0391); a pair cut by the 64
 * bytes' end is not ok. */
typedef struct sv_masks { uint64_t alpha, digit, end, ok; } sv_masks;

/* The survey's state between bytes. */
typedef struct survey {
  const unsigned char *u;
  size_t n;
  guard_norm_marks *m;
  size_t run;                         /* current base64 run */
  size_t w0, letters, leets;          /* current word (letters, digits, @ $) */
  bool in_word, leet_adj;
  size_t streak, streak_a, last_single; /* letter spacing */
  size_t cl_n, cl_a, cl_b;            /* the current cluster of leet words (gaps < 24 bytes) */
  size_t blk;                         /* survey_block's masks of the aligned 64-byte block blk */
  sv_masks mk[2];                     /* and the next, in mk[blk & 1] and the other */
  size_t retry;                       /* survey_block fails before this byte: don't try it */
} survey;

/* Keeps the run of base64 bytes [a, i) if it is one: [A-Za-z0-9+/_-]{24,}, then its '='
 * padding (guard_norm_survey and guard_norm_runs). */
static inline void keep_run(guard_norm_marks *m, const unsigned char *u, size_t n, size_t a, size_t i) {
  if (i - a < 24 || m->nrun >= GUARD_NORM_MAX_RUNS) return;
  size_t e = i;
  while (e < n && e - i < 2 && u[e] == '=') e++;
  m->run[m->nrun][0] = a;
  m->run[m->nrun++][1] = e;
}

/* A byte that is not base64 at i ends the current run. */
static inline void survey_end_run(survey *v, size_t i) {
  keep_run(v->m, v->u, v->n, i - v->run, i);
  v->run = 0;
}

/* A byte that is no word byte at i ends the current word: a leet word joins the cluster. */
static inline void survey_end_word(survey *v, size_t i) {
  if (!v->in_word) return;
  v->in_word = false;
  if (v->letters && v->leets && v->leet_adj && i - v->w0 <= 20) {
    if (v->cl_n && v->w0 - v->cl_b < 24) v->cl_n++;
    else { v->cl_n = 1; v->cl_a = v->w0; }
    v->cl_b = i;
    if (v->cl_n > v->m->leet) { v->m->leet = v->cl_n; v->m->leet_a = v->cl_a; v->m->leet_b = v->cl_b; }
  }
}

static inline void survey_start_word(survey *v, size_t i) {
  v->in_word = true;
  v->w0 = i;
  v->letters = v->leets = 0;
  v->leet_adj = false;
}

/* Spaces and punctuation (SV_INERT) at i end the run and the word, then change nothing: the
 * index past them. */
static inline size_t survey_skip_inert(survey *v, size_t i) {
  survey_end_run(v, i);
  survey_end_word(v, i);
  do i++;
  while (i < v->n && (sv_class[v->u[i]] & SV_INERT));
  return i;
}

/* The end of the run of ASCII letters starting at or after j (u[j..) all letters up to it).
 * Sixteen bytes at a time where they are there: a prose word is mostly one load and compare
 * instead of a table lookup per letter (this loop was a quarter of the survey's instructions;
 * the survey of bench/guard_rails.sh's 4 KiB prompt: 64.5k -> 55.9k). */
static inline size_t alpha_run_end(const unsigned char *u, size_t j, size_t n) {
#ifdef __SSE2__
  /* (c | 0x20) - ('a' + 128), as a signed byte, is below -128 + 26 exactly for A-Z and a-z */
  const __m128i low = _mm_set1_epi8(0x20), base = _mm_set1_epi8((char)('a' + 128)),
                lim = _mm_set1_epi8((char)(-128 + 26));
  while (j + 16 <= n) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + j));
    __m128i is = _mm_cmplt_epi8(_mm_sub_epi8(_mm_or_si128(x, low), base), lim);
    unsigned other = ~(unsigned)_mm_movemask_epi8(is) & 0xFFFFu;
    if (other) return j + (size_t)__builtin_ctz(other);
    j += 16;
  }
#endif
  while (j < n && (sv_class[u[j]] & SV_ALPHA)) j++;
  return j;
}

/* A single letter at i: the letter-spacing streak (single letters one or two spacers apart). */
static inline void survey_single(survey *v, size_t i) {
  const unsigned char *u = v->u;
  size_t gap = v->last_single == (size_t)-1 ? 0 : i - v->last_single - 1;
  bool joined = gap >= 1 && gap <= 2 && (sv_class[u[i - 1]] & SV_SPACER) && (sv_class[u[i - gap]] & SV_SPACER);
  if (joined) v->streak++;
  else { v->streak = 1; v->streak_a = i; }
  v->last_single = i;
  if (v->streak == 4) mark(&v->m->spaced, &v->m->spaced_a, &v->m->spaced_b, v->streak_a, i + 1);
  else if (v->streak > 4) v->m->spaced_b = i + 1;
}

bool guard_norm_survey_slow = false;

#ifdef __SSE2__
/* The two-byte characters below U+0380 among the 64 bytes at p: ok, and ended by their second
 * byte.  As signed bytes, a lead 0xC2-0xCD is in (-63, -50), a continuation below -64.  Out of
 * line: ASCII text never needs it. */
static __attribute__((noinline)) void sv_pairs(const unsigned char *p, sv_masks *m) {
  const __m128i c1 = _mm_set1_epi8((char)0xC1), ce = _mm_set1_epi8((char)0xCE), c0 = _mm_set1_epi8((char)0xC0);
  uint64_t lead = 0, cont = 0;
  for (int k = 0; k < 64; k += 16) {
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
    lead |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, c1), _mm_cmplt_epi8(x, ce))) << k;
    cont |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(x, c0)) << k;
  }
  uint64_t pair = lead & cont >> 1;
  m->end &= ~pair;
  m->ok |= pair | pair << 1;
}
#endif

/* The masks of the 64 bytes at p. */
static inline void sv_classify(const unsigned char *p, sv_masks *m) {
#ifdef __SSE2__
  /* (c | 0x20) - ('a' + 128), as a signed byte, is below -128 + 26 exactly for letters; so is
   * c - ('0' + 128) below -128 + 10 for digits; c | 1 is '%' for $ and %; non-ASCII is negative
   * (so "end" too, but never ok: survey_block only looks at ends before the first other byte) */
  const __m128i low = _mm_set1_epi8(0x20), abase = _mm_set1_epi8((char)('a' + 128)), alim = _mm_set1_epi8(-128 + 26),
                dbase = _mm_set1_epi8((char)('0' + 128)), dlim = _mm_set1_epi8(-128 + 10), one = _mm_set1_epi8(1),
                pct = _mm_set1_epi8('%'), at = _mm_set1_epi8('@'), plus = _mm_set1_epi8('+');
  uint64_t alpha = 0, digit = 0, end = 0, other = 0;
  __m128i high = _mm_setzero_si128();
  for (int k = 0; k < 64; k += 16) {
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
    __m128i a = _mm_cmplt_epi8(_mm_sub_epi8(_mm_or_si128(x, low), abase), alim);
    __m128i d = _mm_cmplt_epi8(_mm_sub_epi8(x, dbase), dlim);
    __m128i o = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(x, one), pct), x), _mm_cmpeq_epi8(x, at));
    __m128i e = _mm_cmplt_epi8(x, plus);
    alpha |= (uint64_t)(unsigned)_mm_movemask_epi8(a) << k;
    digit |= (uint64_t)(unsigned)_mm_movemask_epi8(d) << k;
    end |= (uint64_t)(unsigned)_mm_movemask_epi8(e) << k;
    other |= (uint64_t)(unsigned)_mm_movemask_epi8(o) << k;
    high = _mm_or_si128(high, x);
  }
  *m = (sv_masks){alpha, digit, end, ~other};
  if (_mm_movemask_epi8(high)) sv_pairs(p, m);
#else
  *m = (sv_masks){0, 0, 0, ~(uint64_t)0};
  for (int b = 0; b < 64; b++) {
    unsigned char c = p[b];
    m->alpha |= (uint64_t)((sv_class[c] & SV_ALPHA) != 0) << b;
    m->digit |= (uint64_t)SV_IS_DIGIT(c) << b;
    m->end |= (uint64_t)(c < '+') << b;
    m->ok &= ~((uint64_t)(c >= 0x80 || c == '@' || c == '$' || c == '%') << b);
  }
  for (int b = 0; b < 63; b++)
    if (p[b] >= 0xC2 && p[b] <= 0xCD && p[b + 1] >= 0x80 && p[b + 1] <= 0xBF) {
      m->end &= ~((uint64_t)1 << b);
      m->ok |= (uint64_t)3 << b;
    }
#endif
}

/* The masks of bytes [64 blk, 64 blk + 64) into m; past n: none set (no byte is ok). */
static void sv_block_masks(const unsigned char *u, size_t n, size_t blk, sv_masks *m) {
  size_t at = blk * 64;
  if (at + 64 <= n) {
    sv_classify(u + at, m);
  } else if (at >= n) {
    *m = (sv_masks){0, 0, 0, 0};
  } else if (n >= 64) {  /* the last 64 bytes of the text, shifted down to start at `at` */
    sv_classify(u + n - 64, m);
    unsigned sh = (unsigned)(at + 64 - n);
    *m = (sv_masks){m->alpha >> sh, m->digit >> sh, m->end >> sh, m->ok >> sh};
  } else {  /* a short text: copied and padded with a non-ASCII byte that is no continuation */
    unsigned char pad[64];
    memset(pad, 0xFF, sizeof pad);
    memcpy(pad, u, n);
    sv_classify(pad, m);
  }
}

/* Bit b: bits b..b+23 of x all set (2, 4, 8, 16, then 24 in a row). */
static inline uint64_t sv_run24(uint64_t x) {
  x &= x >> 1, x &= x >> 2, x &= x >> 4, x &= x >> 8;
  return x & x >> 8;
}

/* The 64 bits from bit o of lo, then hi's. */
static inline uint64_t sv_from(uint64_t lo, uint64_t hi, unsigned o) { return (lo >> o) | (hi << 1 << (63 - o)); }

/* The survey's fast path, at i entered with no word and no base64 run open (so u[i - 1] is no
 * base64 byte).  "ok" bytes (letters, digits with no letter on either side, + / - _, spaces,
 * punctuation) change only base64 runs (letters, digits and + / - _, >= 24) and the
 * letter-spacing streak: no word of them holds both a letter and a leet symbol (a word is a run
 * of letters, digits, @ and $; a run of digits next to no letter is a word of digits alone, which
 * is no leetspeak), and any SV_INERT byte closes the run and the word.  So up to the last end
 * byte before the first other one in the next 64 (or before a stretch of 24 with no end byte:
 * maybe a run, the byte loop's), the survey is bit operations on masks, and goes on from there
 * until an other byte or the text's end.  Returns the bytes taken (0: none), the state left as
 * the byte loop would leave it.  Masks are made once per aligned 64-byte block, two blocks at a
 * time. */
static size_t survey_block(survey *v, size_t i) {
  const size_t start = i;
  for (;;) {
    size_t blk = i / 64;
    if (blk != v->blk) {
      if (blk != v->blk + 1) sv_block_masks(v->u, v->n, blk, &v->mk[blk & 1]);
      sv_block_masks(v->u, v->n, blk + 1, &v->mk[(blk + 1) & 1]);
      v->blk = blk;
    }
    const sv_masks *c = &v->mk[blk & 1], *x = &v->mk[(blk + 1) & 1];
    unsigned o = (unsigned)(i % 64);
    uint64_t alpha_all = sv_from(c->alpha, x->alpha, o), digit = sv_from(c->digit, x->digit, o);
    /* a digit next to a letter is other (bit 63's right neighbour is not seen: a run of digits
     * reaching it is never taken, no end byte follows it in these 64) */
    uint64_t ok = sv_from(c->ok, x->ok, o) & ~(digit & (alpha_all << 1 | alpha_all >> 1));
    uint64_t ends = sv_from(c->end, x->end, o);
    uint64_t stop = ~ok & (ok + 1);                         /* the first other byte (0: none) */
    uint64_t long_run = sv_run24(ok & ~ends & (stop - 1));  /* maybe a base64 run: the byte loop's */
    if (long_run) stop = long_run & -long_run;
    /* no end byte after the last end before `stop` up to `stop`: any try in there fails */
    if (stop) v->retry = i + (size_t)__builtin_ctzll(stop);
    uint64_t end = ends & (stop - 1);
    if (!end) break;
    size_t q = 64 - (size_t)__builtin_clzll(end);  /* past the last end byte */
    uint64_t alpha = alpha_all & (q == 64 ? ~(uint64_t)0 : ((uint64_t)1 << q) - 1);
    uint64_t one = alpha & ~(alpha << 1) & ~(alpha >> 1);
    if (one) {
      /* single letters: only one at most three bytes after the one before can join the streak */
      size_t first = i + (size_t)__builtin_ctzll(one);
      if (!(one & (one << 2 | one << 3)) && (v->last_single == (size_t)-1 || first - v->last_single > 3)) {
        v->streak = 1;
        v->streak_a = v->last_single = i + 63 - (size_t)__builtin_clzll(one);
      } else {
        for (; one; one &= one - 1) survey_single(v, i + (size_t)__builtin_ctzll(one));
      }
    }
    i += q;
    if (stop || i >= v->n) break;
  }
  return i - start;
}

/* The survey works run by run where it can: a run of letters, a run of spaces and punctuation
 * (SV_INERT: after the first such byte the state stays as it is) is one step each, and so is a
 * CJK character, a run of digits and a Latin-1 or Latin Extended character; base64 symbols, '%'
 * and other non-ASCII go byte by byte (instructions per byte: bench_guard's sample 35 -> 19,
 * plain chat 32 -> 18).  At a word break survey_block takes up to 64 bytes of letters and
 * punctuation a step (callgrind, per 4 KiB: prose 44.3k -> 22.9k, MT-Bench prompts 34.1k -> 20.6k,
 * PII text 41.1k -> 33.2k; bench_guard's sample, dense in digits, code and JSON, 57.1k -> 63.3k). */
void guard_norm_survey(const char *s, size_t n, guard_norm_marks *m) {
  *m = (guard_norm_marks){0};
  const unsigned char *u = (const unsigned char *)s;
  survey v = {.u = u, .n = n, .m = m, .last_single = (size_t)-1, .blk = (size_t)-2};
  for (size_t i = 0; i < n;) {
    unsigned char c = u[i];
    unsigned k = sv_class[c];
    if (k & SV_ALPHA) {  /* a run of letters: base64, word letters, maybe a single letter */
      size_t q;
      if (!v.in_word && !v.run && i >= v.retry && !guard_norm_survey_slow && (q = survey_block(&v, i))) {
        i += q;
        continue;
      }
      size_t j = alpha_run_end(u, i + 1, n);
      /* a word of 2 to 23 letters after a word break, then spaces or punctuation: the state
       * ends as it began (no leetspeak word, no base64 run, no single letter), so it is one
       * step without touching it (per call: bench_guard's sample 62.7k -> 56.8k, prose 50.8k
       * -> 41.9k instructions) */
      if (!v.in_word && !v.run && j - i >= 2 && j - i < 24 && j < n && (sv_class[u[j]] & SV_INERT)) {
        do j++;
        while (j < n && (sv_class[u[j]] & SV_INERT));
        i = j;
        continue;
      }
      v.run += j - i;
      if (!v.in_word) survey_start_word(&v, i);
      else if (sv_class[u[i - 1]] & SV_LEET) v.leet_adj = true;
      v.letters += j - i;
      if (j - i == 1) survey_single(&v, i);
      /* a space or punctuation usually follows: one step instead of another trip round the loop */
      i = j < n && (sv_class[u[j]] & SV_INERT) ? survey_skip_inert(&v, j) : j;
      continue;
    }
    if (k & SV_INERT) {
      i = survey_skip_inert(&v, i);
      continue;
    }
    if (k & SV_DIGIT) {  /* a run of digits: base64 and word bytes, leet symbols but 2 and 6 */
      size_t q;
      if (!v.in_word && !v.run && i >= v.retry && !guard_norm_survey_slow && (q = survey_block(&v, i))) {
        i += q;
        continue;
      }
      if (!v.in_word) survey_start_word(&v, i);
      else if ((k & SV_LSYM) && (sv_class[u[i - 1]] & SV_ALPHA)) v.leet_adj = true;  /* in a word: i > w0 */
      size_t j = i;
      do v.leets += (sv_class[u[j]] & SV_LSYM) != 0;
      while (++j < n && (sv_class[u[j]] & SV_DIGIT));
      v.run += j - i;
      i = j;
      continue;
    }
    if (k & SV_B64) v.run++;
    else survey_end_run(&v, i);
    if (k & SV_WORD) {  /* @ $ (digits are taken above): leetspeak inside words */
      if (!v.in_word) survey_start_word(&v, i);
      if (k & SV_LSYM) {
        v.leets++;
        if (i > v.w0 && (sv_class[u[i - 1]] & SV_ALPHA)) v.leet_adj = true;
      }
    } else survey_end_word(&v, i);
    /* %XX */
    if (c == '%' && i + 2 < n && guard_norm_hexval(u[i + 1]) >= 0 && guard_norm_hexval(u[i + 2]) >= 0)
      mark(&m->pct, &m->pct_a, &m->pct_b, i, i + 3);
    if (c < 0x80) { i++; continue; }
    /* two-byte characters below U+0380 (Latin-1 and Latin Extended letters, accents) are no
     * look-alike either: the table starts at U+0391 */
    if (c <= 0xCD && c >= 0xC2 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
      i += 2;
      continue;
    }
    /* three-byte characters from U+1000 to U+EFFF (CJK, Indic, ...) can be no look-alike: the
     * table ends at U+051D and fullwidth letters start at U+FF01 (0xED: surrogates, decoded below) */
    if (c >= 0xE1 && c <= 0xEE && c != 0xED && i + 2 < n && (u[i + 1] & 0xC0) == 0x80 && (u[i + 2] & 0xC0) == 0x80) {
      i += 3;
      continue;
    }
    /* look-alikes: Cyrillic/Greek next to a Latin letter, or fullwidth/mathematical letters */
    size_t cl;
    uint32_t cp = guard_norm_u8dec(s, n, i, &cl);
    bool next_latin = i + cl < n && SV_IS_ALPHA((char)u[i + cl]), prev_latin = i > 0 && SV_IS_ALPHA((char)u[i - 1]);
    /* fullwidth punctuation is ordinary CJK typography; fullwidth letters and digits are not */
    char wm = cp >= 0xFF01 ? guard_norm_wide_or_math(cp) : 0;
    bool wide_alnum = wm && ((wm >= '0' && wm <= '9') || SV_IS_ALPHA(wm));
    /* the look-alike table is only searched next to a Latin letter (and holds nothing past U+051D) */
    if (((next_latin || prev_latin) && cp <= 0x51D && guard_norm_confusable(cp)) || wide_alnum)
      mark(&m->homo, &m->homo_a, &m->homo_b, i, i + cl);
    i += cl;
  }
  survey_end_run(&v, n);
  survey_end_word(&v, n);
}

/* The end of the run of base64 bytes (SV_B64: letters, digits, + / - _) at or after j: sixteen
 * bytes at a time, as alpha_run_end (joined quoted pieces are long runs of them). */
static inline size_t b64_run_end(const unsigned char *u, size_t j, size_t n) {
#ifdef __SSE2__
  const __m128i low = _mm_set1_epi8(0x20), abase = _mm_set1_epi8((char)('a' + 128)),
                alim = _mm_set1_epi8((char)(-128 + 26)), dbase = _mm_set1_epi8((char)('0' + 128)),
                dlim = _mm_set1_epi8((char)(-128 + 10));
  while (j + 16 <= n) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + j));
    __m128i is = _mm_or_si128(_mm_cmplt_epi8(_mm_sub_epi8(_mm_or_si128(x, low), abase), alim),
                              _mm_cmplt_epi8(_mm_sub_epi8(x, dbase), dlim));
    is = _mm_or_si128(is, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('+')), _mm_cmpeq_epi8(x, _mm_set1_epi8('/'))));
    is = _mm_or_si128(is, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')), _mm_cmpeq_epi8(x, _mm_set1_epi8('_'))));
    unsigned other = ~(unsigned)_mm_movemask_epi8(is) & 0xFFFFu;
    if (other) return j + (size_t)__builtin_ctz(other);
    j += 16;
  }
#endif
  while (j < n && (sv_class[u[j]] & SV_B64)) j++;
  return j;
}

/* The runs alone: text rescanned at depth > 0 only decodes base64 and hex runs (injection.c),
 * so the rest of the survey's state is not kept.  Same runs as guard_norm_survey's, whose run
 * is exactly a maximal stretch of SV_B64 bytes (every other byte ends it).  The two ~520-byte
 * joins of bench_guard's sample: ~4.4k -> 2.6k instructions each. */
void guard_norm_runs(const char *s, size_t n, guard_norm_marks *m) {
  *m = (guard_norm_marks){0};
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n && m->nrun < GUARD_NORM_MAX_RUNS;) {
    while (i < n && !(sv_class[u[i]] & SV_B64)) i++;
    if (i == n) break;
    size_t a = i;
    i = b64_run_end(u, i + 1, n);
    keep_run(m, u, n, a, i);
  }
}
