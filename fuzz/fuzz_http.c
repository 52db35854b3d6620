/* fuzz_http.c: the HTTP request parser (kl_hp) on arbitrary bytes split at arbitrary
 * points, with small limits so the 413/431 paths are reached too.
 *
 * Input layout: byte 0 picks the limits, byte 1 seeds the split sizes, the rest is the
 * stream.  Every parsed request is checked against the parser's own promises (limits,
 * NUL-terminated body, lower-case header names) and the query helper is run on it. */
#include "net/http_internal.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_req(const kl_http_req *req, const kl_hp *hp) {
  if (req->body_len > hp->max_body_bytes) abort();
  if (req->body[req->body_len] != 0) abort();
  if (hp->head_bytes > hp->max_header_bytes) abort();
  if (!req->method || !req->target || !req->path || !req->query) abort();
  for (size_t i = 0; i < req->nheaders; i++) {
    for (const char *s = req->headers[i].name; *s; s++)
      if (isupper((unsigned char)*s)) abort();
    const char *v = req->headers[i].value;
    size_t vl = strlen(v);
    if (vl && (v[0] == ' ' || v[vl - 1] == ' ')) abort();
  }
  (void)kl_http_header_get(req, "content-type");
  (void)kl_http_query_get(req, "a");
  (void)kl_http_query_get(req, "model");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t max_head = 64 + (size_t)(data[0] & 0x0f) * 64;
  size_t max_body = (size_t)(data[0] >> 4) * 16;
  uint32_t seed = data[1] * 2654435761u + 1;
  data += 2;
  size -= 2;

  kl_hp hp;
  kl_hp_init(&hp, max_head, max_body);
  kl_arena *arena = kl_arena_new(0);
  kl_http_req req;
  memset(&req, 0, sizeof req);
  req.arena = arena;
  kl_hp_begin(&hp, &req);

  size_t off = 0;
  int guard = 0;
  while (off < size && guard++ < 100000) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 17;
    if ((seed >> 8) % 4 == 0) n = size - off;
    if (n > size - off) n = size - off;
    size_t used = 0;
    kl_hp_ev ev = kl_hp_feed(&hp, (const char *)data + off, n, &used);
    if (used > n) abort();
    off += used;
    if (ev == KL_HP_ERR) {
      if (hp.err_status != 400 && hp.err_status != 413 && hp.err_status != 431) abort();
      break;
    }
    if (ev == KL_HP_MORE && used != n) abort();
    if (ev == KL_HP_MSG) {
      check_req(&req, &hp);
      bool keep = hp.keep_alive;
      kl_arena_reset(arena);
      memset(&req, 0, sizeof req);
      req.arena = arena;
      kl_hp_begin(&hp, &req);
      if (!keep) break;
    }
  }
  kl_hp_free(&hp);
  kl_arena_free(arena);
  return 0;
}
