/* normalise.c: derived texts for the injection scanner (prefix guard_norm_).
 *
 * Attackers hide an instruction from keyword filters by encoding it (base64, hex, %XX, ROT13,
 * reversed text, leetspeak, acrostics), by splitting it into quoted pieces, by interleaving
 * invisible characters, by smuggling it in Unicode tag characters, or by swapping Latin letters
 * for Cyrillic/Greek/fullwidth/mathematical look-alikes.  Rather than write every phrase rule in
 * every disguise, the scanner undoes the disguise here and rescans the result with its own
 * rules.  Each function is a single linear pass that only runs when a cheap trigger rule saw
 * the disguise, so ordinary text never pays for it.  Input may be any bytes: invalid UTF-8
 * decodes as U+FFFD one byte at a time, so no function reads past n.  Which disguises a text
 * shows is the survey's job (normalise_survey.c). */
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
uint32_t guard_norm_u8dec(const char *s, size_t n, size_t i, size_t *cl) {
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
char guard_norm_confusable(uint32_t c) {
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
char guard_norm_wide_or_math(uint32_t c) {
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
    uint32_t c = guard_norm_u8dec(s, n, i, &cl);
    char a;
    if (c < 0x80) o[w++] = (char)c;
    else if (is_invisible(c)) { /* dropped */ }
    else if ((a = guard_norm_confusable(c)) || (a = guard_norm_wide_or_math(c))) o[w++] = a;
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
    uint32_t c = guard_norm_u8dec(s, n, i, &cl);
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

int guard_norm_hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *guard_norm_hex(const char *s, size_t n, size_t *out_len) {
  if (n < 16 || n % 2) return NULL;
  char *o = xmalloc(n / 2 + 1);
  for (size_t i = 0; i < n; i += 2) {
    int h = guard_norm_hexval((unsigned char)s[i]), l = guard_norm_hexval((unsigned char)s[i + 1]);
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
    if (s[i] == '%' && i + 2 < n && (h = guard_norm_hexval((unsigned char)s[i + 1])) >= 0 &&
        (l = guard_norm_hexval((unsigned char)s[i + 2])) >= 0) {
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
    (void)guard_norm_u8dec(s, n, i, &cl);
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
