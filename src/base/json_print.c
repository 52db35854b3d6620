/* json_print.c: cJSON_PrintUnformatted's exact bytes, written where keel wants them.
 *
 * Why not cJSON's printer: every traced chat call prints the request's messages and the
 * answer's message into the trace, and the model parameters key by key.  cJSON prints into a
 * malloc'd buffer of its own, grown by realloc, which keel then copied into the request arena
 * and freed: the two prints of a plain chat call cost 6.8k instructions on the event loop, of
 * ~50.6k per call (bench/callgrind_calls.sh); written here, 2.3k.  The bytes go straight
 * into the kl_buf or the arena, integers are printed without printf, and a string is checked
 * sixteen bytes at a time and copied whole when it has nothing to escape (nearly always).
 *
 * The output is cJSON 1.7.15's, byte for byte (tests/unit/test_base_json_print.c and
 * fuzz/fuzz_json_print.c compare the two):
 *  - numbers: NaN and infinities are null; otherwise printf's "%1.15g", unless reading that
 *    back is not within one relative DBL_EPSILON of the value, then "%1.17g".  cJSON 1.7.15
 *    does not look at valueint (-0.0 prints "-0").  An integral |v| < 1e15 other than zero
 *    is exactly its digits in "%1.15g" and reads back exactly, so it skips printf;
 *  - strings: " \ and the control bytes \b \f \n \r \t escaped as such, other bytes below
 *    0x20 as \u00xx (lowercase hex), every other byte as it is (cJSON does not check UTF-8);
 *    a NULL valuestring, or a NULL member name, prints "";
 *  - raw nodes print their text as it is; a raw node without text, an invalid node (type 0)
 *    or a type that is no single kind makes the whole print fail (cJSON returns NULL).
 * keel never calls setlocale, so printf's decimal point is '.', which cJSON would substitute. */
#include "base/kl_base.h"

#include <cjson/cJSON.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <float.h>
#include <math.h> /* isnan, isinf: macros, no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A writer over either a kl_buf or an arena string that grows by doubling. */
typedef struct jw {
  char *p;
  size_t len, cap; /* cap excludes the byte kept for the NUL */
  kl_buf *buf;     /* writing into a kl_buf, or else ... */
  kl_arena *arena; /* ... into an arena string (earlier copies die with the arena) */
} jw;

static void jw_grow(jw *w, size_t n) {
  if (w->buf) {
    w->buf->len = w->len;
    kl_buf_reserve(w->buf, n);
    w->p = w->buf->data;
    w->cap = w->buf->cap - 1;
    return;
  }
  size_t cap = w->cap * 2;
  if (cap < w->len + n) cap = w->len + n;
  char *p = kl_arena_alloc(w->arena, cap + 1);
  memcpy(p, w->p, w->len);
  w->p = p;
  w->cap = cap;
}

static inline char *jw_room(jw *w, size_t n) {
  if (w->cap - w->len < n) jw_grow(w, n);
  return w->p + w->len;
}

static inline void jw_put(jw *w, const char *s, size_t n) {
  memcpy(jw_room(w, n), s, n);
  w->len += n;
}

static inline void jw_c(jw *w, char c) {
  *jw_room(w, 1) = c;
  w->len++;
}

/* 1 for the bytes a JSON string cannot hold as they are: control bytes, '"' and '\\' */
static const unsigned char escaped[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* Whether any of the 8 bytes in x needs escaping: one below 0x20 (NUL included), '"' or '\\'.
 * The classic bit tricks for "has a byte less than n" and "has a zero byte" are exact as
 * yes/no answers, which is all this needs. */
static inline bool any_escaped8(uint64_t x) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
  return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

static void put_escape(jw *w, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  char e[6] = {'\\', 0};
  size_t n = 2;
  switch (c) {
    case '"': e[1] = '"'; break;
    case '\\': e[1] = '\\'; break;
    case '\b': e[1] = 'b'; break;
    case '\f': e[1] = 'f'; break;
    case '\n': e[1] = 'n'; break;
    case '\r': e[1] = 'r'; break;
    case '\t': e[1] = 't'; break;
    default:
      memcpy(e + 1, "u00", 3);
      e[4] = hex[c >> 4];
      e[5] = hex[c & 15];
      n = 6;
  }
  jw_put(w, e, n);
}

/* Sixteen bytes at a time with SSE2, then eight, then one (kl_base.h).  kl_buf_json_str stops
 * at bytes >= 0x80 too (ascii), to check their UTF-8; this printer copies them as cJSON does. */
size_t kl_json_plain_len(const char *s, size_t n, bool ascii) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
#ifdef __SSE2__
  const __m128i ctl = _mm_set1_epi8(0x1f), quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  for (; n - i >= 16; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    /* bytes <= 0x1f (unsigned: min(v, 0x1f) == v), '"' and '\\'; the high bit: bytes >= 0x80 */
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v),
                               _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    unsigned mask = (unsigned)_mm_movemask_epi8(hit) | (ascii ? (unsigned)_mm_movemask_epi8(v) : 0);
    if (mask) return i + (size_t)__builtin_ctz(mask);
  }
#endif
  const uint64_t high = ascii ? 0x8080808080808080ULL : 0;
  for (; n - i >= 8; i += 8) {
    uint64_t x;
    memcpy(&x, p + i, 8);
    if (any_escaped8(x) || (x & high)) break;
  }
  for (; i < n; i++)
    if (escaped[p[i]] || (ascii && p[i] >= 0x80)) return i;
  return n;
}

/* Plain runs are copied whole; a string with nothing to escape (nearly all) is one copy. */
static void put_string(jw *w, const char *s) {
  if (!s) {
    jw_put(w, "\"\"", 2);
    return;
  }
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s), i = kl_json_plain_len(s, n, false);
  char *o = jw_room(w, i + 2);
  o[0] = '"';
  memcpy(o + 1, s, i);
  if (i == n) {
    o[i + 1] = '"';
    w->len += i + 2;
    return;
  }
  w->len += i + 1;
  while (i < n) {
    put_escape(w, p[i++]);
    size_t run = kl_json_plain_len(s + i, n - i, false);
    jw_put(w, s + i, run);
    i += run;
  }
  jw_c(w, '"');
}

static void put_i64(jw *w, int64_t v) {
  char tmp[24], *p = kl_i64_digits(tmp + sizeof tmp, v);
  jw_put(w, p, (size_t)(tmp + sizeof tmp - p));
}

/* cJSON's test whether "%1.15g" read back is the value: equal within one relative epsilon */
static bool reads_back(double a, double b) {
  double fa = a < 0 ? -a : a, fb = b < 0 ? -b : b, d = a - b;
  double m = fa > fb ? fa : fb;
  return (d < 0 ? -d : d) <= m * DBL_EPSILON;
}

static void put_number(jw *w, double d) {
  if (isnan(d) || isinf(d)) {
    jw_put(w, "null", 4);
    return;
  }
  if (d > -1e15 && d < 1e15 && d != 0 && (double)(int64_t)d == d) {
    put_i64(w, (int64_t)d);
    return;
  }
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%1.15g", d);
  if (!reads_back(strtod(tmp, NULL), d)) n = snprintf(tmp, sizeof tmp, "%1.17g", d);
  jw_put(w, tmp, (size_t)n);
}

static bool put_value(jw *w, const cJSON *j) {
  switch (j->type & 0xFF) {
    case cJSON_NULL: jw_put(w, "null", 4); return true;
    case cJSON_False: jw_put(w, "false", 5); return true;
    case cJSON_True: jw_put(w, "true", 4); return true;
    case cJSON_Number: put_number(w, j->valuedouble); return true;
    case cJSON_String: put_string(w, j->valuestring); return true;
    case cJSON_Raw:
      if (!j->valuestring) return false;
      jw_put(w, j->valuestring, strlen(j->valuestring));
      return true;
    case cJSON_Array:
      jw_c(w, '[');
      for (const cJSON *c = j->child; c; c = c->next) {
        if (!put_value(w, c)) return false;
        if (c->next) jw_c(w, ',');
      }
      jw_c(w, ']');
      return true;
    case cJSON_Object:
      jw_c(w, '{');
      for (const cJSON *c = j->child; c; c = c->next) {
        put_string(w, c->string);
        jw_c(w, ':');
        if (!put_value(w, c)) return false;
        if (c->next) jw_c(w, ',');
      }
      jw_c(w, '}');
      return true;
    default: return false;
  }
}

bool kl_json_write(kl_buf *out, const cJSON *j) {
  jw w = {out->data, out->len, out->cap ? out->cap - 1 : 0, out, NULL};
  size_t start = out->len;
  bool ok = j && put_value(&w, j);
  /* the writer may have reallocated: the buffer's pointer and capacity are already current */
  out->len = ok ? w.len : start;
  if (out->data) out->data[out->len] = 0;
  return ok;
}

char *kl_json_print_arena(kl_arena *a, const cJSON *j) {
  if (!j) return NULL;
  jw w = {kl_arena_alloc(a, 257), 0, 256, NULL, a};
  if (!put_value(&w, j)) return NULL;
  w.p[w.len] = 0;
  return w.p;
}
