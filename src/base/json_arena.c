/* json_arena.c: a read-only cJSON tree built in an arena, for the gateway's hot path.
 *
 * Every non-streamed answer is parsed once to read its usage, finish reason and message.
 * With cJSON that is one malloc per node, per string and per number, and as many frees in
 * cJSON_Delete: about 30k instructions for a 450-byte chat.completion, a quarter of the
 * gateway loop's CPU per call.  This parser builds the same tree (same node types, order,
 * keys, valuestring, valuedouble via strtod and saturated valueint, child->prev pointing to
 * the last sibling) with every node and string in the caller's arena, so reading it is
 * exactly reading a cJSON tree, and printing it with cJSON_Print* gives the same bytes.
 *
 * It handles plain JSON only and says so by returning NULL for anything else: \u escapes,
 * raw control bytes in strings, whitespace other than space/tab/CR/LF, a BOM, nesting over
 * 64, numbers over 63 characters, invalid UTF-8 and every syntax error.  The caller then
 * parses with kl_json_parse (cJSON), which decides what such input means and words the
 * error, so accepting or rejecting a body never depends on which parser ran.  The grammar it
 * accepts is RFC 8259's, a subset of what cJSON accepts.
 *
 * What a node costs is what matters (a chat answer has ~25): the position travels in a
 * register, not through the parser struct; nodes and short strings are cut from a bump region
 * taken from the arena a few KiB at a time instead of one kl_arena_calloc each; strings under
 * 16 bytes are copied with one 16-byte load and store; values and plain strings are parsed
 * inline in the member loop; and UTF-8 is checked only in strings that hold a byte >= 0x80
 * (seen by the same 16-byte scan that finds the closing quote), since outside strings such a
 * byte is a syntax error anyway.  That took the event loop's two parses of a plain chat call
 * (request and answer) from ~10.7k to ~6.7k instructions (bench/callgrind_calls.sh).
 *
 * The tree must never reach cJSON_Delete or any cJSON function that adds, replaces or
 * detaches items: none of its memory came from cJSON's allocator. */
#include "base/kl_base.h"

#include <cjson/cJSON.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_NUMBER 63
#define REGION_MIN 512
#define REGION_MAX 8192

typedef struct {
  kl_arena *a;
  const char *end;
  char *cur, *lim; /* the bump region nodes and strings are cut from */
  int depth;
} jp;

/* A new region sized for what is left of the input (a node or string per ~8-20 input bytes:
 * four bytes per input byte covers ordinary JSON; a short region is simply refilled). */
__attribute__((noinline)) static void refill(jp *j, const char *p, size_t need) {
  size_t size = (size_t)(j->end - p) * 4 + 256;
  if (size < REGION_MIN) size = REGION_MIN;
  if (size > REGION_MAX) size = REGION_MAX;
  if (size < need) size = need;
  j->cur = kl_arena_alloc(j->a, size);
  j->lim = j->cur + size;
}

/* n bytes, a multiple of 8 and at most REGION_MIN, 8-aligned (regions are 16-aligned). */
static inline char *take(jp *j, const char *p, size_t n) {
  if ((size_t)(j->lim - j->cur) < n) refill(j, p, n);
  char *r = j->cur;
  j->cur += n;
  return r;
}

static inline cJSON *node(jp *j, const char *p) {
  cJSON *it = (cJSON *)(void *)take(j, p, sizeof(cJSON));
  *it = (cJSON){0};
  return it;
}

static inline const char *ws(const char *p, const char *end) {
  while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

/* The first '"', '\\' or control byte at or after q (end if none); *high gets a nonzero bit
 * when a byte >= 0x80 was passed.  Message texts are most of an answer's bytes; sixteen at a
 * time, with SSE2 (every x86-64), they cost a third of the byte loop's instructions. */
static inline __attribute__((always_inline)) const char *plain_run(const char *q, const char *end, unsigned *high) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
  while (end - q >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                               _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v)); /* v <= 0x1f */
    unsigned mask = (unsigned)_mm_movemask_epi8(hit), hi = (unsigned)_mm_movemask_epi8(v);
    if (mask) {
      *high |= hi & (mask ^ (mask - 1)); /* the bytes up to the hit (its own bit is clear) */
      return q + __builtin_ctz(mask);
    }
    *high |= hi;
    q += 16;
  }
#endif
  for (; q < end; q++) {
    unsigned char c = (unsigned char)*q;
    if (c == '"' || c == '\\' || c < 0x20) break;
    *high |= c & 0x80;
  }
  return q;
}

/* n < 16 bytes from s to o, which has 16 bytes of room: one load and store when the input
 * has 16 bytes left (what follows the string lands in o's spare room, unread). */
static inline void copy_short(char *o, const char *s, size_t n, const char *end) {
#ifdef __SSE2__
  if (end - s >= 16) {
    _mm_storeu_si128((__m128i *)(void *)o, _mm_loadu_si128((const __m128i *)(const void *)s));
    return;
  }
#endif
  memcpy(o, s, n);
}

/* The string's bytes s[0..q) with esc escapes in them, into the arena as text. */
static inline __attribute__((always_inline)) char *str_copy(jp *j, const char *s, const char *q, size_t esc) {
  size_t n = (size_t)(q - s) - esc;
  char *o;
  if (n < 16) { /* keys and most values */
    o = take(j, q, 16);
    if (!esc) copy_short(o, s, n, j->end);
  } else {
    o = n < REGION_MIN / 2 ? take(j, q, (n + 8) & ~(size_t)7) : kl_arena_alloc(j->a, n + 1);
    if (!esc) memcpy(o, s, n);
  }
  if (esc) {
    char *w = o;
    for (const char *r = s; r < q; r++) {
      if (*r != '\\') {
        *w++ = *r;
        continue;
      }
      switch (*++r) {
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        default: *w++ = *r; break; /* " \ / */
      }
    }
  }
  o[n] = 0;
  return o;
}

/* str's general case: escapes, and every string that is not plain JSON (NULL). */
__attribute__((noinline)) static const char *str_escaped(jp *j, const char *p, char **out) {
  const char *s = p + 1, *q = s, *end = j->end;
  size_t esc = 0;
  unsigned high = 0;
  for (;; q++) {
    q = plain_run(q, end, &high);
    if (q >= end) return NULL;
    char c = *q;
    if (c == '"') break;
    if (c != '\\') return NULL; /* a raw control byte */
    if (++q >= end) return NULL;
    switch (*q) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': esc++; break;
      default: return NULL; /* \u and invalid escapes */
    }
  }
  /* escapes are ASCII, so checking the raw bytes is checking the whole document's */
  if (high && !kl_utf8_valid(s, (size_t)(q - s))) return NULL;
  *out = str_copy(j, s, q, esc);
  return q + 1;
}

/* A string at its opening quote p: *out gets the text, the result is the position after the
 * closing quote; NULL when it needs the general parser.  The common case (no escape) is kept
 * apart so that it needs few registers. */
static inline __attribute__((always_inline)) const char *str(jp *j, const char *p, char **out) {
  const char *s = p + 1, *end = j->end;
  unsigned high = 0;
  const char *q = plain_run(s, end, &high);
  if (q >= end || *q != '"') return str_escaped(j, p, out);
  if (high && !kl_utf8_valid(s, (size_t)(q - s))) return NULL;
  *out = str_copy(j, s, q, 0);
  return q + 1;
}

static const char *digits(const char *p, const char *end) {
  while (p < end && *p >= '0' && *p <= '9') p++;
  return p;
}

static const char *number(const char *p, const char *end, cJSON *item) {
  const char *s = p;
  bool neg = p < end && *p == '-';
  if (neg) p++;
  if (p < end && *p == '0') {
    p++;
  } else {
    const char *d = digits(p, end);
    if (d == p) return NULL;
    p = d;
  }
  /* Integers of up to 15 digits (token counts, indexes, timestamps) are exact in a double,
   * so summing their digits gives strtod's answer bit for bit at a tenth of its cost. */
  const char *ds = s + neg;
  if ((p >= end || (*p != '.' && *p != 'e' && *p != 'E')) && p - ds <= 15) {
    int64_t v = 0;
    for (const char *q = ds; q < p; q++) v = v * 10 + (*q - '0');
    double d = neg ? (v ? -(double)v : -0.0) : (double)v;
    item->type = cJSON_Number;
    item->valuedouble = d;
    item->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    return p;
  }
  if (p < end && *p == '.') {
    const char *d = digits(p + 1, end);
    if (d == p + 1) return NULL;
    p = d;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    const char *d = digits(p, end);
    if (d == p) return NULL;
    p = d;
  }
  size_t n = (size_t)(p - s);
  if (n > MAX_NUMBER) return NULL;
  char buf[MAX_NUMBER + 1];
  memcpy(buf, s, n);
  buf[n] = 0;
  /* strtod on the number's text, saturated valueint: what cJSON 1.7 does (C locale) */
  double d = strtod(buf, NULL);
  item->type = cJSON_Number;
  item->valuedouble = d;
  if (d >= INT_MAX) item->valueint = INT_MAX;
  else if (d <= (double)INT_MIN) item->valueint = INT_MIN;
  else item->valueint = (int)d;
  return p;
}

static const char *lit(const char *p, const char *end, const char *w, size_t n) {
  if ((size_t)(end - p) < n || memcmp(p, w, n) != 0) return NULL;
  return p + n;
}

static const char *items(jp *j, const char *p, cJSON *parent, bool object);

/* One value at p into item; inlined into items, so a member costs no call of its own. */
static inline __attribute__((always_inline)) const char *value(jp *j, const char *p, cJSON *item) {
  const char *end = j->end;
  if (p >= end) return NULL;
  switch (*p) {
    case '{': item->type = cJSON_Object; return items(j, p + 1, item, true);
    case '[': item->type = cJSON_Array; return items(j, p + 1, item, false);
    case '"': item->type = cJSON_String; return str(j, p, &item->valuestring);
    case 't': item->type = cJSON_True; item->valueint = 1; return lit(p, end, "true", 4);
    case 'f': item->type = cJSON_False; return lit(p, end, "false", 5);
    case 'n': item->type = cJSON_NULL; return lit(p, end, "null", 4);
    default: return number(p, end, item);
  }
}

/* Members of an object or elements of an array, after the opening bracket. */
static const char *items(jp *j, const char *p, cJSON *parent, bool object) {
  const char *end = j->end;
  char close = object ? '}' : ']';
  if (++j->depth > MAX_DEPTH) return NULL;
  p = ws(p, end);
  if (p < end && *p == close) {
    j->depth--;
    return p + 1;
  }
  cJSON *head = NULL, *last = NULL;
  for (;;) {
    cJSON *it = node(j, p);
    if (object) {
      if (p >= end || *p != '"' || !(p = str(j, p, &it->string))) return NULL;
      p = ws(p, end);
      if (p >= end || *p != ':') return NULL;
      p = ws(p + 1, end);
    }
    if (!(p = value(j, p, it))) return NULL;
    if (!head) {
      head = it;
    } else {
      last->next = it;
      it->prev = last;
    }
    last = it;
    p = ws(p, end);
    if (p >= end) return NULL;
    if (*p == close) break;
    if (*p != ',') return NULL;
    p = ws(p + 1, end);
  }
  head->prev = last; /* as cJSON 1.7.15 links it */
  parent->child = head;
  j->depth--;
  return p + 1;
}

cJSON *kl_json_parse_arena(kl_arena *a, const char *s, size_t n) {
  if (!s || n == 0) return NULL;
  jp j = {.a = a, .end = s + n};
  const char *p = ws(s, j.end);
  refill(&j, p, 0);
  cJSON *root = node(&j, p);
  if (!(p = value(&j, p, root))) return NULL;
  return ws(p, j.end) == j.end ? root : NULL;
}
