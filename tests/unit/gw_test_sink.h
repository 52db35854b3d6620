/* gw_test_sink.h: shared by the gateway unit tests: a fake reply sink that records what the
 * gateway answered, and a fixed header table for the gateway's header getter. */
#ifndef KL_GW_TEST_SINK_H
#define KL_GW_TEST_SINK_H

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/kl_gateway.h"

typedef struct sink {
  int status;
  bool streamed, completed;
  int completions;
  kl_buf body;
  char retry_after[16];
} sink;

static void s_respond(void *ud, int status, const char *ct, const kl_http_header *extra, size_t n, const char *body,
                      size_t len) {
  sink *s = ud;
  (void)ct;
  s->status = status;
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(extra[i].name, "retry-after")) snprintf(s->retry_after, sizeof s->retry_after, "%s", extra[i].value);
  kl_buf_append(&s->body, body, len);
  s->completed = true;
  s->completions++;
}
static int s_begin(void *ud, int status, const char *ct, const kl_http_header *extra, size_t n) {
  sink *s = ud;
  (void)ct, (void)extra, (void)n;
  s->status = status;
  s->streamed = true;
  return 0;
}
static int s_write(void *ud, const char *data, size_t len) {
  kl_buf_append(&((sink *)ud)->body, data, len);
  return 0;
}
static void s_end(void *ud) {
  sink *s = ud;
  s->completed = true;
  s->completions++;
}

typedef struct { const char *k[4], *v[4]; int n; } hdrs;
static const char *hget(void *ud, const char *name) {
  hdrs *h = ud;
  for (int i = 0; h && i < h->n; i++)
    if (!strcmp(h->k[i], name)) return h->v[i];
  return NULL;
}

#endif
