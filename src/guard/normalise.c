/* normalise.c: derived texts for the injection scanner (prefix guard_norm_).
 *
 * Attackers hide an instruction from keyword filters by encoding it (base64, hex, %XX, ROT13,
 * reversed text, leetspeak, acrostics), by splitting it into quoted pieces, by interleaving
 * invisible characters, by smuggling it in Unicode tag characters, or by swapping Latin letters
 * for Cyrillic/Greek/fullwidth/mathematical look-alikes.  Rather than write every phrase rule in
 * every disguise, the scanner undoes the disguise here and rescans the result with its own
 * rules.  Each function is a single linear pass that only runs when a cheap trigger rule saw
 * the disguise, so ordinary text never pays for it.  Input may be any bytes: invalid UTF-8
 * decodes as U+FFFD one byte at a time, so no function reads past n. */
#include "guard/injection_int.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static char *xmalloc(size_t n) {
  char *p = malloc(n ? n : 1);
  if (!p) abort();
  return p;
}

/* Decodes one code point at s[i] (i < n); *cl gets its byte length.  Invalid: U+FFFD, 1. */
static uint32_t u8dec(const char *s, size_t n, size_t i, size_t *cl) {
  const unsigned char *p = (const unsigned char *)s + i;
  size_t left = n - i;
  *cl = 1;
  if (p[0] < 0x80) return p[0];
  if (p[0] >= 0xC2 && p[0] < 0xE0 && left >= 2 && (p[1] & 0xC0) == 0x80) {
    *cl = 2;
    return ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (p[0] >= 0xE0 && p[0] < 0xF0 && left >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
    uint32_t c = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    if (c < 0x800 || (c >= 0xD800 && c < 0xE000)) return 0xFFFD;
    *cl = 3;
    return c;
  }
  if (p[0] >= 0xF0 && p[0] < 0xF5 && left >= 4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
      (p[3] & 0xC0) == 0x80) {
    uint32_t c = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
                 (p[3] & 0x3F);
    if (c < 0x10000 || c > 0x10FFFF) return 0xFFFD;
    *cl = 4;
    return c;
  }
  return 0xFFFD;
}

/* Invisible format characters an attacker can interleave without changing the rendering. */
static bool is_invisible(uint32_t c) {
  return c == 0x00AD || c == 0x034F || c == 0x061C || c == 0x180E || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xE0000 && c <= 0xE007F);
}

/* The ASCII letter a Cyrillic or Greek code point is usually mistaken for, or 0. */
static char confusable(uint32_t c) {
  static const struct { uint16_t cp; char a; } map[] = {
    /* Greek */
    {0x0391, 'A'}, {0x0392, 'B'}, {0x0395, 'E'}, {0x0396, 'Z'}, {0x0397, 'H'}, {0x0399, 'I'}, {0x039A, 'K'},
    {0x039C, 'M'}, {0x039D, 'N'}, {0x039F, 'O'}, {0x03A1, 'P'}, {0x03A4, 'T'}, {0x03A5, 'Y'}, {0x03A7, 'X'},
    {0x03B1, 'a'}, {0x03B5, 'e'}, {0x03B9, 'i'}, {0x03BA, 'k'}, {0x03BD, 'v'}, {0x03BF, 'o'}, {0x03C1, 'p'},
    {0x03C4, 't'}, {0x03C5, 'u'}, {0x03C7, 'x'},
    /* Cyrillic */
    {0x0405, 'S'}, {0x0406, 'I'}, {0x0408, 'J'}, {0x0410, 'A'}, {0x0412, 'B'}, {0x0415, 'E'}, {0x041A, 'K'},
    {0x041C, 'M'}, {0x041D, 'H'}, {0x041E, 'O'}, {0x0420, 'P'}, {0x0421, 'C'}, {0x0422, 'T'}, {0x0423, 'Y'},
    {0x0425, 'X'}, {0x0430, 'a'}, {0x0435, 'e'}, {0x043E, 'o'}, {0x0440, 'p'}, {0x0441, 'c'}, {0x0443, 'y'},
    {0x0445, 'x'}, {0x0455, 's'}, {0x0456, 'i'}, {0x0458, 'j'}, {0x04BB, 'h'}, {0x0501, 'd'}, {0x051B, 'q'},
    {0x051D, 'w'},
  };
  size_t lo = 0, hi = sizeof map / sizeof map[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (map[mid].cp == c) return map[mid].a;
    if (map[mid].cp < c) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

/* Fullwidth and mathematical alphanumerics to ASCII, or 0. */
static char wide_or_math(uint32_t c) {
  if (c >= 0xFF01 && c <= 0xFF5E) return (char)(c - 0xFEE0);
  if (c >= 0x1D400 && c <= 0x1D6A3) {  /* 13 styles of A-Z a-z (the holes are rare symbols) */
    uint32_t k = (c - 0x1D400) % 52;
    return (char)(k < 26 ? 'A' + k : 'a' + (k - 26));
  }
  if (c >= 0x1D7CE && c <= 0x1D7FF) return (char)('0' + (c - 0x1D7CE) % 10);
  return 0;
}

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_spacer(char c) { return c == ' ' || c == '.' || c == '-' || c == '_' || c == '*' || c == '|' || c == '/'; }

/* Joins runs of >= 4 single letters separated by one spacer ("i g n o r e", "i.g.n.o.r.e");
 * a double gap inside such a run stays a word break.  In place; returns the new length. */
static size_t join_spaced(char *t, size_t n) {
  size_t w = 0, i = 0;
  while (i < n) {
    /* a run starts at a letter not preceded by a letter and followed by spacer + letter */
    bool start = is_alpha(t[i]) && (i == 0 || !is_alpha(t[i - 1])) && i + 2 < n && is_spacer(t[i + 1]) &&
                 is_alpha(t[i + 2]) && (i + 3 >= n || !is_alpha(t[i + 3]));
    if (!start) { t[w++] = t[i++]; continue; }
    size_t j = i, letters = 0;
    for (;;) {  /* t[j] is a single letter */
      letters++;
      if (j + 2 < n && is_spacer(t[j + 1]) && is_alpha(t[j + 2]) && (j + 3 >= n || !is_alpha(t[j + 3]))) j += 2;
      else if (j + 3 < n && is_spacer(t[j + 1]) && is_spacer(t[j + 2]) && is_alpha(t[j + 3]) &&
               (j + 4 >= n || !is_alpha(t[j + 4])))
        j += 3;
      else { j++; break; }
    }
    if (letters < 4) { t[w++] = t[i++]; continue; }
    for (size_t k = i; k < j; k++) {
      if (is_alpha(t[k])) t[w++] = t[k];
      else if (k + 1 < j && is_spacer(t[k + 1])) { t[w++] = ' '; k++; }
    }
    i = j;
  }
  return w;
}

char *guard_norm_fold(const char *s, size_t n, size_t *out_len) {
  char *o = xmalloc(n + 1);
  size_t w = 0;
  for (size_t i = 0; i < n;) {
    size_t cl;
    uint32_t c = u8dec(s, n, i, &cl);
    char a;
    if (c < 0x80) o[w++] = (char)c;
    else if (is_invisible(c)) { /* dropped */ }
    else if ((a = confusable(c)) || (a = wide_or_math(c))) o[w++] = a;
    else if (c == 0x3000 || c == 0x00A0) o[w++] = ' ';
    else { memcpy(o + w, s + i, cl); w += cl; }
    i += cl;
  }
  w = join_spaced(o, w);
  o[w] = 0;
  *out_len = w;
  return o;
}

char *guard_norm_tags(const char *s, size_t n, size_t min_chars, size_t *out_len) {
  char *o = xmalloc(n / 4 + 2);
  size_t w = 0;
  bool flag = false;  /* inside 🏴 + tag letters + cancel tag: a subdivision flag */
  for (size_t i = 0; i < n;) {
    size_t cl;
    uint32_t c = u8dec(s, n, i, &cl);
    i += cl;
    if (c == 0x1F3F4) { flag = true; continue; }
    if (c >= 0xE0000 && c <= 0xE007F) {
      if (c == 0xE007F) flag = false;
      else if (!flag && c >= 0xE0020 && c <= 0xE007E) o[w++] = (char)(c - 0xE0000);
      continue;
    }
    flag = false;
  }
  if (w < min_chars) { free(o); return NULL; }
  o[w] = 0;
  *out_len = w;
  return o;
}

char *guard_norm_base64(const char *s, size_t n, size_t *out_len) {
  char *o = xmalloc(kl_base64_max(n));
  ptrdiff_t w = kl_base64_decode(s, n, (unsigned char *)o);
  if (w < 8) { /* not base64, or too short to hide an instruction */
    free(o);
    return NULL;
  }
  *out_len = (size_t)w;
  return o;
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *guard_norm_hex(const char *s, size_t n, size_t *out_len) {
  if (n < 16 || n % 2) return NULL;
  char *o = xmalloc(n / 2 + 1);
  for (size_t i = 0; i < n; i += 2) {
    int h = hexval((unsigned char)s[i]), l = hexval((unsigned char)s[i + 1]);
    if (h < 0 || l < 0) { free(o); return NULL; }
    o[i / 2] = (char)(h << 4 | l);
  }
  o[n / 2] = 0;
  *out_len = n / 2;
  return o;
}

char *guard_norm_percent(const char *s, size_t n, size_t *out_len) {
  char *o = xmalloc(n + 1);
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    int h, l;
    if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
        (l = hexval((unsigned char)s[i + 2])) >= 0) {
      o[w++] = (char)(h << 4 | l);
      i += 2;
    } else o[w++] = s[i] == '+' ? ' ' : s[i];
  }
  o[w] = 0;
  *out_len = w;
  return o;
}

char *guard_norm_rot13(const char *s, size_t n, size_t *out_len) {
  char *o = xmalloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = (char)('a' + (c - 'a' + 13) % 26);
    else if (c >= 'A' && c <= 'Z') c = (char)('A' + (c - 'A' + 13) % 26);
    o[i] = c;
  }
  o[n] = 0;
  *out_len = n;
  return o;
}

char *guard_norm_reverse(const char *s, size_t n, size_t *out_len) {
  char *o = xmalloc(n + 1);
  size_t w = n;
  for (size_t i = 0; i < n;) {
    size_t cl;
    (void)u8dec(s, n, i, &cl);
    w -= cl;
    memcpy(o + w, s + i, cl);
    i += cl;
  }
  o[n] = 0;
  *out_len = n;
  return o;
}

static char leet(char c) {
  switch (c) {
  case '0': return 'o';
  case '1': case '!': case '|': return 'i';
  case '3': return 'e';
  case '4': case '@': return 'a';
  case '5': case '$': return 's';
  case '7': case '+': return 't';
  case '8': return 'b';
  case '9': return 'g';
  }
  return 0;
}

char *guard_norm_leet(const char *s, size_t n, size_t *out_len) {
  char *o = xmalloc(n + 1);
  memcpy(o, s, n);
  for (size_t i = 0; i < n;) {
    /* a word: letters, digits and leet symbols; fold it only if it has a letter and a digit */
    size_t j = i;
    bool letter = false, sym = false;
    while (j < n && (is_alpha(s[j]) || leet(s[j]))) {
      if (is_alpha(s[j])) letter = true;
      else sym = true;
      j++;
    }
    if (j == i) { i++; continue; }
    if (letter && sym)
      for (size_t k = i; k < j; k++)
        if (!is_alpha(s[k])) o[k] = leet(s[k]);
    i = j;
  }
  o[n] = 0;
  *out_len = n;
  return o;
}

/* Opening quote at s[i] (its byte length in *ol) and the closing sequence to look for (its
 * byte length in *cl): " ' ` and the pairs «» “” ‘’ „“.  A switch on the first byte
 * rather than a memcmp per pair: the join calls this for every byte a quote can open with. */
static const char *quote_open(const char *s, size_t n, size_t i, size_t *ol, size_t *cl) {
  const unsigned char *u = (const unsigned char *)s + i;
  size_t left = n - i;
  *ol = *cl = 1;
  switch (u[0]) {
    case '"': return "\"";
    case '`': return "`";
    case '\'': return i > 0 && is_alpha(s[i - 1]) ? NULL : "'";  /* don't, it's */
    case 0xC2:
      if (left < 2 || u[1] != 0xAB) return NULL;
      *ol = *cl = 2;
      return "\xC2\xBB";
    case 0xE2:
      if (left < 3 || u[1] != 0x80) return NULL;
      *ol = *cl = 3;
      if (u[2] == 0x9C) return "\xE2\x80\x9D";
      if (u[2] == 0x98) return "\xE2\x80\x99";
      if (u[2] == 0x9E) return "\xE2\x80\x9C";
      return NULL;
    default: return NULL;
  }
}

/* The bytes a quote can open with (quote_open). */
static const unsigned char may_open_quote[256] = {['"'] = 1, ['\''] = 1, ['`'] = 1, [0xC2] = 1, [0xE2] = 1};

/* The first byte at or after i a quote can open with, or n.  Quotes are sparse in text, so
 * SSE2 (every x86-64) tests 16 bytes at a time. */
static size_t next_quote_byte(const char *s, size_t i, size_t n) {
#ifdef __SSE2__
  const __m128i dq = _mm_set1_epi8('"'), sq = _mm_set1_epi8('\''), bq = _mm_set1_epi8('`');
  const __m128i c2 = _mm_set1_epi8((char)0xC2), e2 = _mm_set1_epi8((char)0xE2);
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, sq)),
                               _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, bq), _mm_cmpeq_epi8(x, c2)),
                                            _mm_cmpeq_epi8(x, e2)));
    unsigned mask = (unsigned)_mm_movemask_epi8(hit);
    if (mask) return i + (size_t)__builtin_ctz(mask);
  }
#endif
  while (i < n && !may_open_quote[(unsigned char)s[i]]) i++;
  return i;
}

/* The first byte in s[i..end) that is a or b, or end.  Sixteen bytes at a time (SSE2): a
 * quoted piece is often longer than a call to memchr costs. */
static size_t next_of_two(const char *s, size_t i, size_t end, char a, char b) {
#ifdef __SSE2__
  const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);
  for (; i + 16 <= end; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)));
    if (mask) return i + (size_t)__builtin_ctz(mask);
  }
#endif
  while (i < end && s[i] != a && s[i] != b) i++;
  return i;
}

/* Where the quote opened before `start` closes: the first `close` (cl bytes) at most 200 bytes
 * after start, on the same line and inside s[0..n); n if there is none.  One scan for the
 * newline and the closing quote's first byte together, bounded by the limit: the byte loop
 * with a strlen and memcmp per byte that also ran on past the limit was most of the join's
 * instructions (bench_guard's 4 KiB sample, per join: 36.3k -> 17.8k). */
static size_t closing_quote(const char *s, size_t n, size_t start, const char *close, size_t cl) {
  if (start + cl > n) return n;
  size_t end = (start + 200 < n - cl ? start + 200 : n - cl) + 1; /* past the last place the close may start */
  for (size_t j = start; (j = next_of_two(s, j, end, close[0], '\n')) < end; j++) {
    if (s[j] == '\n') return n;
    if (cl == 1 || !memcmp(s + j + 1, close + 1, cl - 1)) return j;
  }
  return n;
}

/* One pass for both joins: the pieces are the same, only the separator differs (o1 may be
 * NULL).  The scan skips to the next byte a quote can open with. */
static void quoted_join(const char *s, size_t n, char sep0, char *o0, size_t *w0, char sep1, char *o1, size_t *w1) {
  size_t a0 = 0, a1 = 0;
  for (size_t i = 0; i < n;) {
    if ((i = next_quote_byte(s, i, n)) == n) break;
    size_t ol, cl;
    const char *close = quote_open(s, n, i, &ol, &cl);
    if (!close) { i++; continue; }
    size_t j = closing_quote(s, n, i + ol, close, cl);
    if (j == n) { i += ol; continue; }
    /* the inner text, with padding spaces next to the quotes trimmed */
    size_t a = i + ol, b = j;
    while (a < b && s[a] == ' ') a++;
    while (b > a && s[b - 1] == ' ') b--;
    if (a0 && sep0) o0[a0++] = sep0;
    memcpy(o0 + a0, s + a, b - a);
    a0 += b - a;
    if (o1) {
      if (a1 && sep1) o1[a1++] = sep1;
      memcpy(o1 + a1, s + a, b - a);
      a1 += b - a;
    }
    i = j + cl;
  }
  o0[a0] = 0;
  *w0 = a0;
  if (o1) {
    o1[a1] = 0;
    *w1 = a1;
  }
}

char *guard_norm_quoted_join(const char *s, size_t n, char sep, size_t *out_len) {
  char *o = xmalloc(n + 1);
  quoted_join(s, n, sep, o, out_len, 0, NULL, NULL);
  return o;
}

void guard_norm_quoted_join2(const char *s, size_t n, char sep0, char **out0, size_t *len0, char sep1, char **out1,
                             size_t *len1) {
  *out0 = xmalloc(n + 1);
  *out1 = xmalloc(n + 1);
  quoted_join(s, n, sep0, *out0, len0, sep1, *out1, len1);
}

char *guard_norm_acrostic(const char *s, size_t n, size_t *out_len) {
  char *o = xmalloc(n + 1);
  size_t w = 0;
  for (size_t i = 0; i < n;) {
    size_t e = i;
    while (e < n && s[e] != '\n') e++;
    size_t k = i;
    while (k < e && (s[k] == ' ' || s[k] == '\t' || s[k] == '-' || s[k] == '*')) k++;
    if (k == e || e - k > 30) {  /* blank or long lines (the request itself) separate words */
      if (w && o[w - 1] != ' ') o[w++] = ' ';
    } else if (is_alpha(s[k])) {
      o[w++] = s[k];
    }
    i = e + 1;
  }
  o[w] = 0;
  *out_len = w;
  return o;
}

bool guard_norm_is_text(const char *s, size_t n) {
  if (!n || !kl_utf8_valid(s, n)) return false;
  size_t bad = 0, letters = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') bad++;
    if (is_alpha((char)c) || c >= 0x80) letters++;
  }
  return bad * 20 <= n && letters * 2 >= n;
}

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
#define SV4(c) SV_CLASS(c), SV_CLASS((c) + 1), SV_CLASS((c) + 2), SV_CLASS((c) + 3)
#define SV16(c) SV4(c), SV4((c) + 4), SV4((c) + 8), SV4((c) + 12)
#define SV64(c) SV16(c), SV16((c) + 16), SV16((c) + 32), SV16((c) + 48)
static const unsigned char sv_class[256] = {SV64(0), SV64(64), SV64(128), SV64(192)};

static void mark(size_t *cnt, size_t *a, size_t *b, size_t s, size_t e) {
  if (!(*cnt)++) *a = s;
  if (e > *b) *b = e;
}

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

/* The survey works run by run where it can: a run of letters, a run of spaces and punctuation
 * (SV_INERT: after the first such byte the state stays as it is) is one step each, and so is a
 * CJK character, a run of digits and a Latin-1 or Latin Extended character; base64 symbols, '%'
 * and other non-ASCII go byte by byte.  Measured (instructions per byte, old -> new):
 * bench_guard's sample 35 -> 19, plain chat 32 -> 18; digit runs, two-byte characters and the
 * punctuation after a word in the same step: 84.0k -> 71.7k per call on that sample. */
void guard_norm_survey(const char *s, size_t n, guard_norm_marks *m) {
  *m = (guard_norm_marks){0};
  const unsigned char *u = (const unsigned char *)s;
  survey v = {.u = u, .n = n, .m = m, .last_single = (size_t)-1};
  for (size_t i = 0; i < n;) {
    unsigned char c = u[i];
    unsigned k = sv_class[c];
    if (k & SV_ALPHA) {  /* a run of letters: base64, word letters, maybe a single letter */
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
      if (j - i == 1) {  /* single letters separated by one or two spacers */
        size_t gap = v.last_single == (size_t)-1 ? 0 : i - v.last_single - 1;
        bool joined = gap >= 1 && gap <= 2 && (sv_class[u[i - 1]] & SV_SPACER) && (sv_class[u[i - gap]] & SV_SPACER);
        if (joined) v.streak++;
        else { v.streak = 1; v.streak_a = i; }
        v.last_single = i;
        if (v.streak == 4) mark(&m->spaced, &m->spaced_a, &m->spaced_b, v.streak_a, i + 1);
        else if (v.streak > 4) m->spaced_b = i + 1;
      }
      /* a space or punctuation usually follows: one step instead of another trip round the loop */
      i = j < n && (sv_class[u[j]] & SV_INERT) ? survey_skip_inert(&v, j) : j;
      continue;
    }
    if (k & SV_INERT) {
      i = survey_skip_inert(&v, i);
      continue;
    }
    if (k & SV_DIGIT) {  /* a run of digits: base64 and word bytes, leet symbols but 2 and 6 */
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
    if (c == '%' && i + 2 < n && hexval(u[i + 1]) >= 0 && hexval(u[i + 2]) >= 0)
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
    uint32_t cp = u8dec(s, n, i, &cl);
    bool next_latin = i + cl < n && is_alpha((char)u[i + cl]), prev_latin = i > 0 && is_alpha((char)u[i - 1]);
    /* fullwidth punctuation is ordinary CJK typography; fullwidth letters and digits are not */
    char wm = cp >= 0xFF01 ? wide_or_math(cp) : 0;
    bool wide_alnum = wm && ((wm >= '0' && wm <= '9') || is_alpha(wm));
    /* the look-alike table is only searched next to a Latin letter (and holds nothing past U+051D) */
    if (((next_latin || prev_latin) && cp <= 0x51D && confusable(cp)) || wide_alnum)
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
