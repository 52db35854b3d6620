/* tokenizer.c: counting tokens exactly as OpenAI's tiktoken does (o200k_base, cl100k_base),
 * for when an upstream reports no usage (a stream cut short, an upstream that never sends it).
 *
 * The algorithm is tiktoken's: the text is split into pieces by the encoding's regex (PCRE2,
 * JIT, UTF + UCP; it accepts tiktoken's patterns unchanged and splits identically); a piece
 * that is itself a token costs one lookup; otherwise its bytes are merged pairwise, always
 * merging the adjacent pair whose concatenation has the lowest rank (leftmost on ties), until
 * no adjacent pair is a token.  tiktoken does that merge with a quadratic scan, which is the
 * fastest for the short pieces of real text; a piece longer than SCAN_MAX (a long run of one
 * letter, a base64 blob) would make it O(n^2), so those use a binary heap of candidate pairs
 * with lazy invalidation, which makes exactly the same choices in O(n log n).
 *
 * Invalid UTF-8: tiktoken only ever sees Unicode strings, so bytes are first decoded the way
 * a lossy decoder would, each invalid byte becoming U+FFFD, and that text is tokenized.  (The
 * regex engine must never see invalid UTF-8 with PCRE2_NO_UTF_CHECK.)
 *
 * Thread safety: the tokenizer is immutable; each call owns its match data and scratch, so
 * any number of threads may count at once without locks. */
#include "llm/tokenizer_int.h"

#include <stdlib.h>

#define SCAN_MAX 256

/* ---- merging ---- */

static void emit(uint32_t *out, size_t cap, size_t i, uint32_t rank) {
  if (out && i < cap) out[i] = rank;
}

size_t kl_tok_merge_scan(const kl_tokenizer *t, const uint8_t *p, size_t n, uint32_t *out, size_t cap) {
  struct part {
    uint32_t start, rank;
  } stack_parts[SCAN_MAX + 1], *parts = stack_parts;
  if (n > SCAN_MAX) parts = malloc((n + 1) * sizeof *parts);
  if (!parts) abort();
  size_t np = n + 1;
  for (size_t i = 0; i < n; i++) {
    parts[i].start = (uint32_t)i;
    parts[i].rank = i + 1 < n ? kl_tok_rank(t, p + i, 2) : UINT32_MAX;
  }
  parts[n].start = (uint32_t)n;
  parts[n].rank = UINT32_MAX;
  for (;;) {
    uint32_t min = UINT32_MAX;
    size_t mi = 0;
    for (size_t i = 0; i + 1 < np; i++)
      if (parts[i].rank < min) min = parts[i].rank, mi = i;
    if (min == UINT32_MAX) break;
    /* parts[mi+1] disappears: re-rank the pairs that now start at mi and mi-1. */
    parts[mi].rank = mi + 3 < np ? kl_tok_rank(t, p + parts[mi].start, parts[mi + 3].start - parts[mi].start)
                                 : UINT32_MAX;
    if (mi > 0)
      parts[mi - 1].rank = kl_tok_rank(t, p + parts[mi - 1].start, parts[mi + 2].start - parts[mi - 1].start);
    memmove(&parts[mi + 1], &parts[mi + 2], (np - mi - 2) * sizeof *parts);
    np--;
  }
  size_t count = np - 1;
  if (out)
    for (size_t i = 0; i < count; i++)
      emit(out, cap, i, kl_tok_rank(t, p + parts[i].start, parts[i + 1].start - parts[i].start));
  if (parts != stack_parts) free(parts);
  return count;
}

typedef struct {
  uint32_t rank, pos, end;
} heap_ent;

static bool ent_less(const heap_ent *a, const heap_ent *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(heap_ent *h, size_t *n, heap_ent e) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (!ent_less(&e, &h[up])) break;
    h[i] = h[up];
    i = up;
  }
  h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, size_t *n) {
  heap_ent top = h[0], last = h[--*n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= *n) break;
    if (c + 1 < *n && ent_less(&h[c + 1], &h[c])) c++;
    if (!ent_less(&h[c], &last)) break;
    h[i] = h[c];
    i = c;
  }
  if (*n) h[i] = last;
  return top;
}

/* Nodes are identified by their start offset, which never changes while they live:
 * next[i] is the start of the following node (n at the end), prev[i] the previous one. */
size_t kl_tok_merge_heap(const kl_tokenizer *t, const uint8_t *p, size_t n, uint32_t *out, size_t cap) {
  const uint32_t NONE = UINT32_MAX;
  uint32_t *next = malloc(n * sizeof *next), *prev = malloc(n * sizeof *prev);
  heap_ent *heap = malloc(3 * n * sizeof *heap); /* n initial pairs + at most 2 per merge */
  if (!next || !prev || !heap) abort();
  size_t hn = 0;
  for (uint32_t i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i ? i - 1 : NONE;
    if (i + 1 < n) {
      uint32_t r = kl_tok_rank(t, p + i, 2);
      if (r != UINT32_MAX) heap_push(heap, &hn, (heap_ent){r, i, i + 2});
    }
  }
  size_t count = n;
  while (hn) {
    heap_ent e = heap_pop(heap, &hn);
    uint32_t i = e.pos, j = next[i];
    /* stale unless node i still lives and its pair still ends where it did when pushed */
    if (j == NONE || j >= n || (next[j] < n ? next[j] : (uint32_t)n) != e.end) continue;
    uint32_t k = next[j];
    next[i] = k;
    if (k < n) prev[k] = i;
    next[j] = NONE;
    count--;
    if (k < n) {
      uint32_t end = next[k], r = kl_tok_rank(t, p + i, end - i);
      if (r != UINT32_MAX) heap_push(heap, &hn, (heap_ent){r, i, end});
    }
    if (prev[i] != NONE) {
      uint32_t a = prev[i], r = kl_tok_rank(t, p + a, k - a);
      if (r != UINT32_MAX) heap_push(heap, &hn, (heap_ent){r, a, k});
    }
  }
  if (out) {
    size_t o = 0;
    for (uint32_t i = 0; i < n; i = next[i]) emit(out, cap, o++, kl_tok_rank(t, p + i, next[i] - i));
  }
  free(next);
  free(prev);
  free(heap);
  return count;
}

static size_t encode_piece(const kl_tokenizer *t, const uint8_t *p, size_t n, uint32_t *out, size_t cap) {
  uint32_t r = kl_tok_rank(t, p, n);
  if (r != UINT32_MAX) {
    emit(out, cap, 0, r);
    return 1;
  }
  if (n <= SCAN_MAX) return kl_tok_merge_scan(t, p, n, out, cap);
  return kl_tok_merge_heap(t, p, n, out, cap);
}

/* Encodes a piece whose first token is the count-th of the text. */
static size_t piece_at(const kl_tokenizer *t, const uint8_t *p, size_t n, uint32_t *out, size_t cap, size_t count) {
  if (out && count < cap) return encode_piece(t, p, n, out + count, cap - count);
  return encode_piece(t, p, n, NULL, 0);
}

/* ---- UTF-8 ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 if the byte at s does not start one. */
static size_t utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

/* Returns text unchanged if it is valid UTF-8, else a malloc'd copy (*fixed, caller frees)
 * in which every byte that does not belong to a valid sequence is U+FFFD. */
static const uint8_t *utf8_fix(const uint8_t *s, size_t n, size_t *out_len, uint8_t **fixed) {
  size_t i = 0, l;
  while (i < n && (l = utf8_len(s + i, n - i))) i += l;
  *fixed = NULL;
  *out_len = n;
  if (i == n) return s;
  uint8_t *f = malloc(n * 3 + 1), *o = f;
  if (!f) abort();
  memcpy(o, s, i);
  o += i;
  while (i < n) {
    if ((l = utf8_len(s + i, n - i))) {
      memcpy(o, s + i, l);
      o += l;
      i += l;
    } else {
      *o++ = 0xEF, *o++ = 0xBF, *o++ = 0xBD;
      i++;
    }
  }
  *fixed = f;
  *out_len = (size_t)(o - f);
  return f;
}

/* ---- splitting ---- */

size_t kl_tokenizer_encode(const kl_tokenizer *t, const char *text, size_t len, uint32_t *out, size_t cap) {
  if (!t || !text || !len) return 0;
  uint8_t *fixed;
  size_t n;
  const uint8_t *s = utf8_fix((const uint8_t *)text, len, &n, &fixed);
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  if (!md) abort();
  size_t count = 0, off = 0;
  while (off < n) {
    int rc = pcre2_match(t->re, s, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
        rc == PCRE2_ERROR_NOMEMORY)
      rc = pcre2_match(t->re, s, n, off, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
    if (rc < 0) {
      /* No match (cannot happen: every character matches some alternative) or the engine
       * gave up: count what is left as bytes so the caller still gets an upper bound. */
      if (rc != PCRE2_ERROR_NOMATCH) kl_warn("tokenizer %s: regex error %d at %zu", t->name, rc, off);
      if (rc != PCRE2_ERROR_NOMATCH) count += piece_at(t, s + off, n - off, out, cap, count);
      break;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t a = ov[0], b = ov[1];
    if (b <= a) { /* an empty match cannot happen with these patterns; step over a character */
      off = a + 1;
      while (off < n && (s[off] & 0xC0) == 0x80) off++;
      continue;
    }
    count += piece_at(t, s + a, b - a, out, cap, count);
    off = b;
  }
  pcre2_match_data_free(md);
  free(fixed);
  return count;
}

size_t kl_tokenizer_count(const kl_tokenizer *t, const char *text, size_t len) {
  return kl_tokenizer_encode(t, text, len, NULL, 0);
}

/* ---- chat messages ---- */

static int64_t count_str(const kl_tokenizer *t, const cJSON *j) {
  return cJSON_IsString(j) && j->valuestring ? (int64_t)kl_tokenizer_count(t, j->valuestring, strlen(j->valuestring)) : 0;
}

/* OpenAI's published recipe (openai-cookbook "How to count tokens with tiktoken", for
 * gpt-3.5-turbo-0613 and later, gpt-4*, gpt-4o*): every message costs 3 tokens plus the
 * tokens of each of its string values (role, content, name, ...), a name costs 1 more, and
 * the reply is primed with 3.  Beyond the recipe: array content counts the text of its
 * parts ("text", "refusal"; images and audio are not counted), tool_calls count each
 * function's name and arguments. */
int64_t kl_tokenizer_count_chat(const kl_tokenizer *t, const cJSON *messages) {
  if (!t || !cJSON_IsArray(messages)) return -1;
  int64_t n = 3;
  const cJSON *m;
  cJSON_ArrayForEach(m, messages) {
    n += 3;
    const cJSON *f;
    cJSON_ArrayForEach(f, m) {
      if (cJSON_IsString(f)) {
        n += count_str(t, f);
        if (f->string && !strcmp(f->string, "name")) n += 1;
      } else if (cJSON_IsArray(f) && f->string && !strcmp(f->string, "content")) {
        const cJSON *part;
        cJSON_ArrayForEach(part, f) {
          n += count_str(t, cJSON_GetObjectItemCaseSensitive(part, "text"));
          n += count_str(t, cJSON_GetObjectItemCaseSensitive(part, "refusal"));
        }
      } else if (cJSON_IsArray(f) && f->string && !strcmp(f->string, "tool_calls")) {
        const cJSON *call;
        cJSON_ArrayForEach(call, f) {
          const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
          n += count_str(t, cJSON_GetObjectItemCaseSensitive(fn, "name"));
          n += count_str(t, cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
        }
      }
    }
  }
  return n;
}
