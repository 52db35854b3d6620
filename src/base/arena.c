/* arena.c: a bump allocator for one request.
 *
 * A request allocates many small strings (header copies, JSON fragments) that all
 * die together when the response is done.  Chunks are chained; an allocation that
 * does not fit opens a new chunk of at least double the previous size, so a request
 * needs O(log n) mallocs.  Oversized allocations get a chunk of their own. */
#include "base/kl_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
  struct chunk *next;
  size_t cap;
  size_t used;
  _Alignas(16) unsigned char data[];
} chunk;

struct kl_arena {
  chunk *head;   /* current chunk (newest) */
  chunk *first;  /* kept across kl_arena_reset */
  size_t total;
};

static chunk *chunk_new(size_t cap) {
  chunk *c = malloc(sizeof(chunk) + cap);
  if (!c) {
    fprintf(stderr, "keel: out of memory (arena chunk of %zu bytes)\n", cap);
    abort();
  }
  c->next = NULL;
  c->cap = cap;
  c->used = 0;
  return c;
}

kl_arena *kl_arena_new(size_t first_chunk) {
  kl_arena *a = calloc(1, sizeof *a);
  if (!a) abort();
  a->first = a->head = chunk_new(first_chunk ? first_chunk : 4096);
  return a;
}

void kl_arena_free(kl_arena *a) {
  if (!a) return;
  chunk *c = a->head;
  while (c) {
    chunk *n = c->next;
    free(c);
    c = n;
  }
  free(a);
}

void kl_arena_reset(kl_arena *a) {
  chunk *c = a->head;
  while (c && c != a->first) {
    chunk *n = c->next;
    free(c);
    c = n;
  }
  a->head = a->first;
  a->first->used = 0;
  a->first->next = NULL;
  a->total = 0;
}

void *kl_arena_alloc(kl_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  chunk *c = a->head;
  if (c->cap - c->used < n) {
    size_t cap = c->cap * 2;
    if (cap < n) cap = n;
    chunk *nc = chunk_new(cap);
    nc->next = a->head;
    a->head = nc;
    c = nc;
  }
  void *p = c->data + c->used;
  c->used += n;
  a->total += n;
  return p;
}

void *kl_arena_calloc(kl_arena *a, size_t n) {
  void *p = kl_arena_alloc(a, n);
  memset(p, 0, n);
  return p;
}

char *kl_arena_strndup(kl_arena *a, const char *s, size_t n) {
  if (!s) return NULL;
  char *p = kl_arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *kl_arena_strdup(kl_arena *a, const char *s) {
  return s ? kl_arena_strndup(a, s, strlen(s)) : NULL;
}

void *kl_arena_grow(kl_arena *a, void *v, size_t n, size_t *cap, size_t elem, size_t first) {
  if (n < *cap) return v;
  size_t nc = *cap ? *cap * 2 : first;
  void *nv = kl_arena_alloc(a, nc * elem);
  if (n) memcpy(nv, v, n * elem);
  *cap = nc;
  return nv;
}

void *kl_arena_reserve(kl_arena *a, void *v, size_t used, size_t *cap, size_t need, size_t first) {
  if (need <= *cap) return v;
  size_t nc = *cap ? *cap * 2 : first;
  if (nc < need) nc = need;
  void *nv = kl_arena_alloc(a, nc);
  if (used) memcpy(nv, v, used);
  *cap = nc;
  return nv;
}

/* URLs and header lines on every gateway call: ~1.3k instructions through vsnprintf, ~100 here. */
char *kl_arena_concat(kl_arena *a, const char *x, const char *y) {
  if (!x) x = "";
  if (!y) y = "";
  size_t nx = strlen(x), ny = strlen(y);
  char *p = kl_arena_alloc(a, nx + ny + 1);
  memcpy(p, x, nx);
  memcpy(p + nx, y, ny + 1);
  return p;
}

char *kl_arena_sprintf(kl_arena *a, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = kl_arena_alloc(a, (size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return p;
}

size_t kl_arena_used(const kl_arena *a) { return a->total; }
