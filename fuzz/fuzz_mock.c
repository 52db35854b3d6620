/* fuzz_mock.c: the mock's Messages, Embeddings and Responses planners on hostile bytes.
 * A first line "#FC" picks control headers (F: the fault, C: x-mock-chunks and the usage
 * headers); the rest is the body.  Beyond "no crash, no leak, no UB", the plans must be
 * well-formed: a successful non-streamed body is JSON, every streamed chunk is
 * "event: NAME\ndata: JSON\n\n" (JSON valid except the one malformed event), and an Anthropic
 * stream goes through the library's assembler. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/anthropic.h"

typedef struct fz_hdrs { char fault[32], n[16]; } fz_hdrs;

static const char *fz_hdr(void *ud, const char *name) {
  fz_hdrs *h = ud;
  if (strcmp(name, "x-mock-fault") == 0) return h->fault;
  if (strcmp(name, "x-mock-chunks") == 0 || strcmp(name, "x-mock-cached-tokens") == 0 ||
      strcmp(name, "x-mock-cache-read-tokens") == 0 || strcmp(name, "x-mock-cache-write-tokens") == 0 ||
      strcmp(name, "x-mock-reasoning-tokens") == 0)
    return h->n;
  return NULL;
}

static void check(const kl_mock_plan *p, bool anthropic) {
  if (p->fault == KL_MOCK_HANG) return;
  if (!p->stream) {
    if (p->fault == KL_MOCK_OK || p->fault == KL_MOCK_STATUS) {
      cJSON *j = cJSON_ParseWithLength(p->body, p->body_len);
      if (!j) abort();
      cJSON_Delete(j);
    }
    return;
  }
  kl_anth_stream *as = anthropic ? kl_anth_stream_new() : NULL;
  size_t invalid = 0;
  for (size_t i = 0; i < p->nchunks; i++) {
    const char *c = p->chunks[i];
    size_t n = strlen(c);
    const char *nl = strchr(c, '\n');
    if (strncmp(c, "event: ", 7) != 0 || !nl || strncmp(nl + 1, "data: ", 6) != 0 || n < 2 || strcmp(c + n - 2, "\n\n"))
      abort();
    const char *d = nl + 7;
    size_t dl = (size_t)(c + n - 2 - d);
    if (memchr(d, '\n', dl)) abort();
    cJSON *j = cJSON_ParseWithLength(d, dl);
    if (!j) invalid++;
    cJSON_Delete(j);
    if (as) {
      char ev[48];
      snprintf(ev, sizeof ev, "%.*s", (int)(nl - c - 7), c + 7);
      kl_anth_stream_feed(as, ev, d, dl);
    }
  }
  if (invalid != (p->fault == KL_MOCK_MALFORMED ? 1u : 0u)) abort();
  if (as) {
    if (kl_anth_stream_saw_stop(as) != (p->fault != KL_MOCK_TRUNCATE)) abort();
    cJSON_Delete(kl_anth_stream_message(as));
    kl_anth_stream_free(as);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const faults[] = {"", "reset", "malformed", "truncate", "429", "status=529", "hang", "bogus"};
  const char *s = (const char *)data;
  fz_hdrs h = {{0}, {0}};
  if (size > 2 && s[0] == '#') {
    snprintf(h.fault, sizeof h.fault, "%s", faults[(uint8_t)s[1] % 8]);
    snprintf(h.n, sizeof h.n, "%u", (unsigned)(uint8_t)s[2] % 50);
    s += 3;
    size -= 3;
  }
  kl_arena *a = kl_arena_new(4096);
  kl_mock_plan p;
  kl_mock_messages(a, s, size, fz_hdr, &h, NULL, &p);
  check(&p, true);
  kl_mock_responses(a, s, size, fz_hdr, &h, NULL, &p);
  check(&p, false);
  kl_mock_embeddings(a, s, size, fz_hdr, &h, NULL, &p);
  check(&p, false);
  kl_arena_free(a);
  return 0;
}
