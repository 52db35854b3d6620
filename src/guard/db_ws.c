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

/* Masks of 64 bytes at u (bit b: byte b): ' ', '\n', and whether any byte is rare: below 14
 * but not '\n' (tab, VT, FF, CR and C0 controls), or 0x80 and up (one signed compare finds both;
 * the lead bytes of Unicode whitespace are among them). */
typedef struct { uint64_t sp, nl; bool rare; } ws_masks;

static void ws_classify(const unsigned char *u, ws_masks *m) {
#ifdef __SSE2__
  const __m128i sp = _mm_set1_epi8(' '), lf = _mm_set1_epi8('\n'), lim = _mm_set1_epi8(14);
  __m128i rare = _mm_setzero_si128();
  uint64_t s = 0, n = 0;
  for (int k = 0; k < 64; k += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + k)), isnl = _mm_cmpeq_epi8(x, lf);
    s |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sp)) << k;
    n |= (uint64_t)(unsigned)_mm_movemask_epi8(isnl) << k;
    rare = _mm_or_si128(rare, _mm_andnot_si128(isnl, _mm_cmplt_epi8(x, lim)));
  }
  *m = (ws_masks){s, n, _mm_movemask_epi8(rare) != 0};
#else
  *m = (ws_masks){0, 0, false};
  for (int k = 0; k < 64; k++) {
    m->sp |= (uint64_t)(u[k] == ' ') << k;
    m->nl |= (uint64_t)(u[k] == '\n') << k;
    m->rare = m->rare || (u[k] < 14 && u[k] != '\n') || u[k] >= 0x80;
  }
#endif
}

/* Whether a block with rare bytes (its 64 bytes at u, the text's from i) holds whitespace other
 * than ' ' and '\n': a tab, VT, FF or CR, or a lead byte (C2, E1, E2, E3: checked one by one; E2
 * also leads curly quotes and dashes) that starts Unicode whitespace. */
static bool other_space(const unsigned char *t, size_t len, size_t i, const unsigned char *u) {
  uint64_t ctl = 0, lead = 0;
#ifdef __SSE2__
  const __m128i cbase = _mm_set1_epi8((char)('\t' + 128)), clim = _mm_set1_epi8(-128 + 5), lf = _mm_set1_epi8('\n'),
                c2 = _mm_set1_epi8((char)0xC2), ebase = _mm_set1_epi8((char)(0xE1 + 128)), elim = _mm_set1_epi8(-128 + 3);
  for (int k = 0; k < 64; k += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + k));
    __m128i c = _mm_andnot_si128(_mm_cmpeq_epi8(x, lf), _mm_cmplt_epi8(_mm_sub_epi8(x, cbase), clim));
    __m128i l = _mm_or_si128(_mm_cmpeq_epi8(x, c2), _mm_cmplt_epi8(_mm_sub_epi8(x, ebase), elim));
    ctl |= (uint64_t)(unsigned)_mm_movemask_epi8(c) << k;
    lead |= (uint64_t)(unsigned)_mm_movemask_epi8(l) << k;
  }
#else
  for (int k = 0; k < 64; k++) {
    ctl |= (uint64_t)(u[k] >= '\t' && u[k] <= '\r' && u[k] != '\n') << k;
    lead |= (uint64_t)(u[k] == 0xC2 || (u[k] >= 0xE1 && u[k] <= 0xE3)) << k;
  }
#endif
  if (ctl) return true;
  for (; lead; lead &= lead - 1)
    if (unicode_space(t, len, i + (size_t)__builtin_ctzll(lead))) return true;
  return false;
}

/* 64 bytes at a time.  Most blocks of text hold no two whitespace bytes in a row and no rare
 * byte: two masks and one compare are all they cost.  (Four masks of every block, as before,
 * cost 11.0k instructions on MT-Bench's 4 KiB, where every block is looked at; this 6.8k.) */
guard_ws_level guard_ws_level_of(const char *text, size_t len) {
  const unsigned char *t = (const unsigned char *)text;
  guard_ws_level lv = GUARD_WS_SPACE;
  uint64_t psp = 0, pnl = 0;  /* the previous block's masks */
  for (size_t i = 0; i < len; i += 64) {
    ws_masks m;
    unsigned char pad[64];
    const unsigned char *u = guard_block64(t, len, i, pad, 'x');
    ws_classify(u, &m);
    if (m.rare && other_space(t, len, i, u)) return GUARD_WS_ANY;
    uint64_t ws = m.sp | m.nl, ws1 = ws << 1 | (psp | pnl) >> 63;  /* ws1: the byte before is whitespace */
    if (ws & ws1) {  /* a run of two or more */
      uint64_t sp1 = m.sp << 1 | psp >> 63, nl1 = m.nl << 1 | pnl >> 63, nl2 = m.nl << 2 | pnl >> 62;
      if ((m.sp & ws1) || (ws & sp1)) return GUARD_WS_ANY;  /* a space in it */
      if (m.nl & nl1 & nl2) return GUARD_WS_ANY;            /* "\n\n\n" */
    }
    if (m.nl) lv = GUARD_WS_LINES;
    psp = m.sp;
    pnl = m.nl;
  }
  return lv;
}
