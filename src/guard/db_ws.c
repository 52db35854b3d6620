/* db_ws.c: the whitespace variants of a rule set's Hyperscan forms (db.c), and which texts
 * may use them.
 *
 * Why: rows of phrases ("act\s+as", "you\s+are\s+now") give Hyperscan one short, common word
 * per branch to look for ("act", "you", "now"), because \s+ splits the phrase; its literal
 * matcher then wakes at every such word of a chat prompt.  Written with the whitespace a text
 * really has ("act as") the phrase is one long, rare literal.  Measured on the default
 * policy's input database (Hyperscan alone, per 4 KiB): MT-Bench questions on one line 187k ->
 * 147k instructions with the SPACE forms, MT-Bench questions one per line 185k -> 159k and
 * plain prose 116k -> 84k with the LINES forms.
 *
 * Exactness: a variant is used only on a text of its level, where it matches exactly what the
 * forms match:
 *   GUARD_WS_SPACE  every run of whitespace in the text is one ' ' (one line);
 *   GUARD_WS_LINES  every run is " ", "\n" or "\n\n" (words, lines and paragraphs);
 * where whitespace is every character \s can match, ASCII or Unicode (UCP: U+0085, U+00A0,
 * U+1680, U+180E, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000).  On such a text a
 * whitespace token of a form can only match what the runs hold, so it is rewritten to exactly
 * that: with SPACE, \s and \s+ to a space; with LINES, \s to [ \n] and \s+ to one of " ",
 * "\n", "\n\n"; \s? and \s* to those made optional; [ \t] (no tab can occur) to a space.
 * Tokens inside classes, counted, lazy or possessive repeats and everything else are left as
 * they are: they match the same either way.  So on a text of its level a variant reports the
 * very ends the forms report, and the windows and findings are the same.  (A form Hyperscan
 * can only run in PREFILTER mode, as written or rewritten, reports ends of a superset of its
 * matches; the windows then differ but still hold every match, so the findings are still the
 * same.)  test_guard_db_ws checks every token shape, the level test against a byte loop, and
 * scans of texts of each level with and without the variants.  Forms with \Q...\E or (?x)
 * are left whole. */
#include "guard/db.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* What \s and \s+ can match on a text of each level: runs of one ' '; runs of " ", "\n", "\n\n". */
static const char *const k_one[GUARD_WS_NVARIANTS] = {" ", "[ \\n]"};
static const char *const k_run[GUARD_WS_NVARIANTS] = {" ", "(?:[ \\n]|\\n\\n)"};

char *guard_ws_form(const char *re, guard_ws_level v) {
  if ((unsigned)v >= GUARD_WS_NVARIANTS || strstr(re, "\\Q") || strstr(re, "(?x")) return NULL;
  kl_buf out = KL_BUF_INIT;
  size_t len = strlen(re);
  bool changed = false, in_class = false;
  for (size_t i = 0; i < len;) {
    char c = re[i];
    if (in_class) {  /* copied as it is: escapes pairwise, [:name:] whole, ']' ends it */
      size_t k = c == '\\' && i + 1 < len ? 2 : 1;
      const char *posix = c == '[' && re[i + 1] == ':' ? strstr(re + i + 2, ":]") : NULL;
      if (posix) k = (size_t)(posix + 2 - (re + i)), c = 0;
      if (c == ']') in_class = false;
      kl_buf_append(&out, re + i, k);
      i += k;
      continue;
    }
    bool blank_class = !strncmp(re + i, "[ \\t]", 5), ws = !strncmp(re + i, "\\s", 2);
    if (blank_class || ws) {
      size_t t = i + (blank_class ? 5 : 2);
      char q = t < len ? re[t] : 0;
      /* a lazy or possessive quantifier after the token changes nothing we rewrite to, but
       * keep it simple: leave such tokens (and counted repeats) alone */
      char q2 = q && t + 1 < len ? re[t + 1] : 0;
      if (q == '{' || ((q == '+' || q == '*' || q == '?') && (q2 == '?' || q2 == '+'))) {
        kl_buf_append(&out, re + i, t - i);
        i = t;
        continue;
      }
      const char *one = blank_class ? " " : k_one[v], *run = blank_class ? " " : k_run[v];
      if (q == '+') kl_buf_puts(&out, run), t++;
      else if (q == '*') kl_buf_puts(&out, "(?:"), kl_buf_puts(&out, run), kl_buf_puts(&out, ")?"), t++;
      else if (q == '?') kl_buf_puts(&out, "(?:"), kl_buf_puts(&out, one), kl_buf_puts(&out, ")?"), t++;
      else kl_buf_puts(&out, one);
      changed = true;
      i = t;
      continue;
    }
    if (c == '\\' && i + 1 < len) {
      kl_buf_append(&out, re + i, 2);
      i += 2;
      continue;
    }
    if (c == '[') {  /* a class: "[]...]" and "[^]...]" hold a literal ']' first */
      in_class = true;
      size_t k = 1;
      if (i + k < len && re[i + k] == '^') k++;
      if (i + k < len && re[i + k] == ']') k++;
      kl_buf_append(&out, re + i, k);
      i += k;
      continue;
    }
    kl_buf_append(&out, re + i, 1);
    i++;
  }
  if (!changed) {
    kl_buf_free(&out);
    return NULL;
  }
  return kl_buf_steal(&out);
}

/* Whether the bytes at t[i] start a whitespace character other than the ASCII ones: U+0085
 * and U+00A0 (C2 85, C2 A0), U+1680 (E1 9A 80), U+180E (E1 A0 8E), U+2000-200A, U+2028,
 * U+2029, U+202F (E2 80 80-8A, A8, A9, AF), U+205F (E2 81 9F), U+3000 (E3 80 80). */
static bool unicode_space(const unsigned char *t, size_t len, size_t i) {
  unsigned char a = t[i], b = i + 1 < len ? t[i + 1] : 0, c = i + 2 < len ? t[i + 2] : 0;
  switch (a) {
  case 0xC2: return b == 0x85 || b == 0xA0;
  case 0xE1: return (b == 0x9A && c == 0x80) || (b == 0xA0 && c == 0x8E);
  case 0xE2: return (b == 0x80 && ((c >= 0x80 && c <= 0x8A) || c == 0xA8 || c == 0xA9 || c == 0xAF)) ||
                    (b == 0x81 && c == 0x9F);
  case 0xE3: return b == 0x80 && c == 0x80;
  default: return false;
  }
}

/* Masks of 64 bytes at u (bit b: byte b): ' ', '\n', the other ASCII whitespace (tab, VT, FF,
 * CR), and the lead bytes of Unicode whitespace (C2, E1, E2, E3: checked one by one; E2 also
 * leads curly quotes and dashes). */
typedef struct { uint64_t sp, nl, ctl, lead; } ws_masks;

static void ws_classify(const unsigned char *u, ws_masks *m) {
#ifdef __SSE2__
  const __m128i sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n'), cbase = _mm_set1_epi8((char)('\t' + 128)),
                clim = _mm_set1_epi8(-128 + 5), c2 = _mm_set1_epi8((char)0xC2),
                ebase = _mm_set1_epi8((char)(0xE1 + 128)), elim = _mm_set1_epi8(-128 + 3);
  uint64_t s = 0, n = 0, c = 0, l = 0;
  for (int k = 0; k < 64; k += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + k));
    __m128i isnl = _mm_cmpeq_epi8(x, nl);
    s |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sp)) << k;
    n |= (uint64_t)(unsigned)_mm_movemask_epi8(isnl) << k;
    __m128i ctl = _mm_andnot_si128(isnl, _mm_cmplt_epi8(_mm_sub_epi8(x, cbase), clim));
    c |= (uint64_t)(unsigned)_mm_movemask_epi8(ctl) << k;
    __m128i lead = _mm_or_si128(_mm_cmpeq_epi8(x, c2), _mm_cmplt_epi8(_mm_sub_epi8(x, ebase), elim));
    l |= (uint64_t)(unsigned)_mm_movemask_epi8(lead) << k;
  }
  *m = (ws_masks){s, n, c, l};
#else
  *m = (ws_masks){0, 0, 0, 0};
  for (int k = 0; k < 64; k++) {
    unsigned char x = u[k];
    m->sp |= (uint64_t)(x == ' ') << k;
    m->nl |= (uint64_t)(x == '\n') << k;
    m->ctl |= (uint64_t)(x >= '\t' && x <= '\r' && x != '\n') << k;
    m->lead |= (uint64_t)(x == 0xC2 || (x >= 0xE1 && x <= 0xE3)) << k;
  }
#endif
}

/* 64 bytes at a time: any tab, VT, FF, CR or Unicode whitespace, a space next to any
 * whitespace, or a third newline in a row, and the text is ANY; a newline makes it LINES. */
guard_ws_level guard_ws_level_of(const char *text, size_t len) {
  const unsigned char *t = (const unsigned char *)text;
  guard_ws_level lv = GUARD_WS_SPACE;
  uint64_t prev_sp = 0, prev_nl = 0;  /* the previous block's masks */
  for (size_t i = 0; i < len; i += 64) {
    ws_masks m;
    unsigned char pad[64];
    ws_classify(guard_block64(t, len, i, pad, 'x'), &m);
    if (m.ctl) return GUARD_WS_ANY;
    for (uint64_t l = m.lead; l; l &= l - 1)
      if (unicode_space(t, len, i + (size_t)__builtin_ctzll(l))) return GUARD_WS_ANY;
    uint64_t ws = m.sp | m.nl, ws_before = ws << 1 | (prev_sp | prev_nl) >> 63, sp_before = m.sp << 1 | prev_sp >> 63;
    if ((m.sp & ws_before) || (ws & sp_before)) return GUARD_WS_ANY;  /* a space in a run of two or more */
    if (m.nl & (m.nl << 1 | prev_nl >> 63) & (m.nl << 2 | prev_nl >> 62)) return GUARD_WS_ANY;  /* "\n\n\n" */
    if (m.nl) lv = GUARD_WS_LINES;
    prev_sp = m.sp;
    prev_nl = m.nl;
  }
  return lv;
}
