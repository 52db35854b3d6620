/* fuzz_openai.c: the OpenAI wire-format code on hostile bytes.  Every input goes through
 * request parsing (+ upstream body and params on success), response parsing, the stream
 * assembler (input split into lines, each line one event's data; the choice 0 it reports is
 * checked against cJSON's own lookups) and the mock (with control headers taken from the
 * first line when it looks like "fault;chunks;max"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"

typedef struct fz_hdrs { char fault[32], chunks[16], cached[16]; } fz_hdrs;

static const char *fz_hdr(void *ud, const char *name) {
  fz_hdrs *h = ud;
  if (strcmp(name, "x-mock-fault") == 0) return h->fault;
  if (strcmp(name, "x-mock-chunks") == 0) return h->chunks;
  if (strcmp(name, "x-mock-cached-tokens") == 0) return h->cached;
  return NULL;
}

static bool same_node(const cJSON *a, const cJSON *b) {
  if (!a || !b) return !a && !b;
  if ((a->type & 0xFF) != (b->type & 0xFF)) return false;
  return !cJSON_IsString(a) || strcmp(a->valuestring, b->valuestring) == 0;
}

/* The assembler's choice 0 (found in one walk per object, kl_json_fields) must be what cJSON's
 * own lookups find in cJSON's own tree of the same chunk. */
static void check_choice0(const kl_chat_stream *st, kl_chunk_kind k, const char *d, size_t n) {
  const kl_chunk_choice *c0 = kl_chat_stream_choice0(st);
  cJSON *j = k == KL_CHUNK_CONTENT || k == KL_CHUNK_USAGE_ONLY ? cJSON_ParseWithLength(d, n) : NULL;
  const cJSON *ch = NULL, *delta = NULL, *content = NULL, *fr = NULL;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "choices")) {
    if (!cJSON_IsObject(c) || kl_json_int_of(cJSON_GetObjectItemCaseSensitive(c, "index"), 0) != 0) continue;
    ch = c;
    delta = cJSON_GetObjectItemCaseSensitive(c, "delta");
    content = cJSON_IsObject(delta) ? cJSON_GetObjectItemCaseSensitive(delta, "content") : NULL;
    fr = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");
    break;
  }
  if (j || (k != KL_CHUNK_CONTENT && k != KL_CHUNK_USAGE_ONLY)) {  /* j: cJSON parses what keel took */
    if (!same_node(c0->choice, ch) || !same_node(c0->delta, delta) || !same_node(c0->content, content) ||
        !same_node(c0->finish_reason, fr))
      abort();
  }
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  kl_arena *a = kl_arena_new(4096);

  kl_chat_req r;
  kl_err err;
  /* the arena tree must answer exactly as cJSON's own tree */
  kl_chat_req o;
  kl_err oerr;
  int rc = kl_chat_req_parse(a, s, size, &r, &err), orc = kl_chat_req_parse(NULL, s, size, &o, &oerr);
  if (rc != orc || (rc != 0 && strcmp(err.msg, oerr.msg) != 0)) abort();
  if (rc == 0) {
    size_t n, on;
    char *u = kl_chat_req_upstream_body(&r, "upstream-model", &n), *ou = kl_chat_req_upstream_body(&o, "upstream-model", &on);
    if (n != on || memcmp(u, ou, n) != 0 || strcmp(r.model, o.model) != 0 || r.stream != o.stream) abort();
    free(u);
    free(ou);
    kl_buf b = KL_BUF_INIT;
    kl_chat_req_params_json(&r, &b);
    kl_buf_free(&b);
    kl_chat_req_free(&r);
    kl_chat_req_free(&o);
  }

  kl_chat_result res;
  kl_chat_resp_parse(a, s, size, &res, &err);

  kl_chat_stream *st = kl_chat_stream_new();
  size_t start = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i == size || s[i] == '\n') {
      kl_chunk_kind k = kl_chat_stream_feed(st, s + start, i - start);
      size_t b = start, e = i;  /* the event's data as the feed trims it */
      while (b < e && (s[b] == ' ' || s[b] == '\t')) b++;
      while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\r' || s[e - 1] == '\n')) e--;
      check_choice0(st, k, s + b, e - b);
      start = i + 1;
    }
  }
  kl_chat_stream_result(st, a, &res);
  kl_chat_stream_free(st);

  /* the mock: headers from a first line "fault;chunks;cached", body the rest */
  static const char *const faults[] = {"", "reset", "malformed", "truncate", "429", "status=500", "hang", "bogus"};
  fz_hdrs h = {{0}, {0}, {0}};
  const char *body = s;
  size_t blen = size;
  if (size > 2 && s[0] == '#') {
    snprintf(h.fault, sizeof h.fault, "%s", faults[(uint8_t)s[1] % 8]);
    snprintf(h.chunks, sizeof h.chunks, "%u", (unsigned)(uint8_t)s[2] % 50);
    snprintf(h.cached, sizeof h.cached, "%u", (unsigned)(uint8_t)s[1] * 7);
    body = s + 3;
    blen = size - 3;
  }
  kl_mock_plan p;
  kl_mock_chat(a, body, blen, fz_hdr, &h, NULL, &p);
  if (p.stream) {
    /* the mock's own stream must always be assemblable */
    st = kl_chat_stream_new();
    for (size_t i = 0; i < p.nchunks; i++) {
      size_t n = strlen(p.chunks[i]);
      if (n < 8 || strncmp(p.chunks[i], "data: ", 6) != 0) abort();
      kl_chat_stream_feed(st, p.chunks[i] + 6, n - 8);
    }
    kl_chat_stream_result(st, a, &res);
    kl_chat_stream_free(st);
  } else if (p.fault == KL_MOCK_OK && p.status == 200) {
    if (kl_chat_resp_parse(a, p.body, p.body_len, &res, &err) != 0) abort();
  }
  kl_arena_free(a);
  return 0;
}
