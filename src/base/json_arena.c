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

typedef struct {
  kl_arena *a;
  const char *p, *end;
  int depth;
} jp;

static void ws(jp *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

/* The first '"', '\\' or control byte at or after q (end if none).  Message texts are most
 * of an answer's bytes; sixteen at a time, with SSE2 (every x86-64), they cost a third of
 * the byte loop's instructions. */
static const char *plain_run(const char *q, const char *end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
  while (end - q >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                               _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v)); /* v <= 0x1f */
    int mask = _mm_movemask_epi8(hit);
    if (mask) return q + __builtin_ctz((unsigned)mask);
    q += 16;
  }
#endif
  while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
  return q;
}

/* A string starting at the opening quote; NULL when it needs the general parser. */
static char *str(jp *j) {
  const char *s = ++j->p, *q = s;
  size_t esc = 0;
  for (;; q++) {
    q = plain_run(q, j->end);
    if (q >= j->end) return NULL;
    unsigned char c = (unsigned char)*q;
    if (c == '"') break;
    if (c < 0x20) return NULL;
    if (c == '\\') {
      if (++q >= j->end) return NULL;
      switch (*q) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': esc++; break;
        default: return NULL; /* \u and invalid escapes */
      }
    }
  }
  size_t n = (size_t)(q - s) - esc;
  char *out = kl_arena_alloc(j->a, n + 1);
  if (!esc) {
    memcpy(out, s, n);
  } else {
    char *o = out;
    for (const char *r = s; r < q; r++) {
      if (*r != '\\') {
        *o++ = *r;
        continue;
      }
      switch (*++r) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        default: *o++ = *r; break; /* " \ / */
      }
    }
  }
  out[n] = 0;
  j->p = q + 1;
  return out;
}

static bool digits(jp *j) {
  const char *s = j->p;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  return j->p > s;
}

static bool number(jp *j, cJSON *item) {
  const char *s = j->p;
  bool neg = j->p < j->end && *j->p == '-';
  if (neg) j->p++;
  if (j->p < j->end && *j->p == '0') j->p++;
  else if (!digits(j)) return false;
  /* Integers of up to 15 digits (token counts, indexes, timestamps) are exact in a double,
   * so summing their digits gives strtod's answer bit for bit at a tenth of its cost. */
  const char *ds = s + neg;
  if ((j->p >= j->end || (*j->p != '.' && *j->p != 'e' && *j->p != 'E')) && j->p - ds <= 15) {
    int64_t v = 0;
    for (const char *q = ds; q < j->p; q++) v = v * 10 + (*q - '0');
    double d = neg ? (v ? -(double)v : -0.0) : (double)v;
    item->type = cJSON_Number;
    item->valuedouble = d;
    item->valueint = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    return true;
  }
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (!digits(j)) return false;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (!digits(j)) return false;
  }
  size_t n = (size_t)(j->p - s);
  if (n > MAX_NUMBER) return false;
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
  return true;
}

static bool lit(jp *j, const char *w, size_t n) {
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) return false;
  j->p += n;
  return true;
}

static bool value(jp *j, cJSON *item);

/* Members of an object or elements of an array, after the opening bracket. */
static bool items(jp *j, cJSON *parent, bool object) {
  char close = object ? '}' : ']';
  if (++j->depth > MAX_DEPTH) return false;
  ws(j);
  if (j->p < j->end && *j->p == close) {
    j->p++;
    j->depth--;
    return true;
  }
  cJSON *head = NULL, *last = NULL;
  for (;;) {
    cJSON *it = kl_arena_calloc(j->a, sizeof *it);
    if (object) {
      if (j->p >= j->end || *j->p != '"' || !(it->string = str(j))) return false;
      ws(j);
      if (j->p >= j->end || *j->p != ':') return false;
      j->p++;
      ws(j);
    }
    if (!value(j, it)) return false;
    if (!head) {
      head = it;
    } else {
      last->next = it;
      it->prev = last;
    }
    last = it;
    ws(j);
    if (j->p >= j->end) return false;
    if (*j->p == close) break;
    if (*j->p != ',') return false;
    j->p++;
    ws(j);
  }
  j->p++;
  head->prev = last; /* as cJSON 1.7.15 links it */
  parent->child = head;
  j->depth--;
  return true;
}

static bool value(jp *j, cJSON *item) {
  if (j->p >= j->end) return false;
  switch (*j->p) {
    case '{': j->p++; item->type = cJSON_Object; return items(j, item, true);
    case '[': j->p++; item->type = cJSON_Array; return items(j, item, false);
    case '"': item->type = cJSON_String; return (item->valuestring = str(j)) != NULL;
    case 't': item->type = cJSON_True; item->valueint = 1; return lit(j, "true", 4);
    case 'f': item->type = cJSON_False; return lit(j, "false", 5);
    case 'n': item->type = cJSON_NULL; return lit(j, "null", 4);
    default: return number(j, item);
  }
}

cJSON *kl_json_parse_arena(kl_arena *a, const char *s, size_t n) {
  if (!s || n == 0 || !kl_utf8_valid(s, n)) return NULL;
  jp j = {.a = a, .p = s, .end = s + n};
  ws(&j);
  cJSON *root = kl_arena_calloc(a, sizeof *root);
  if (!value(&j, root)) return NULL;
  ws(&j);
  return j.p == j.end ? root : NULL;
}
