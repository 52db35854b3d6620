/* mock_test_util.h: shared by the mock planner unit tests: a header table for the planners'
 * header getter, one arena per test, and the planner-independent helpers.  A test defines
 * MOCK_PLANNER (kl_mock_chat, kl_mock_messages, ...) before including this file. */
#ifndef KL_MOCK_TEST_UTIL_H
#define KL_MOCK_TEST_UTIL_H

#include <string.h>

#include "llm/kl_llm.h"

typedef struct hdrs { const char *kv[16]; } hdrs;

static const char *get_hdr(void *ud, const char *name) {
  hdrs *h = ud;
  for (int i = 0; h && h->kv[i]; i += 2)
    if (strcmp(h->kv[i], name) == 0) return h->kv[i + 1];
  return NULL;
}

static kl_arena *A;
static int setup(void **s) { (void)s; A = kl_arena_new(1 << 16); return 0; }
static int teardown(void **s) { (void)s; kl_arena_free(A); return 0; }

static kl_mock_plan plan(const char *body, hdrs *h) {
  kl_mock_plan p;
  MOCK_PLANNER(A, body, strlen(body), get_hdr, h, NULL, &p);
  return p;
}

/* Parses a non-streamed plan's body as JSON. */
static cJSON *body_json(const kl_mock_plan *p) {
  assert_false(p->stream);
  assert_non_null(p->body);
  cJSON *j = cJSON_ParseWithLength(p->body, p->body_len);
  if (!j) fail_msg("not JSON: %.*s", (int)p->body_len, p->body);
  return j;
}

#endif
