/* gw_test_sink.h: shared by the gateway unit tests: a fake reply sink that records what the
 * gateway answered, a fixed header table for the gateway's header getter, and a fixture (a
 * gateway over a temp-dir store with one loop) that runs calls and reads back their trace. */
#ifndef KL_GW_TEST_SINK_H
#define KL_GW_TEST_SINK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway/kl_gateway.h"
#include "store_test_pg.h"

typedef struct sink {
  int status;
  bool streamed, completed;
  int completions;
  int writes;  /* stream_write calls */
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
  ((sink *)ud)->writes++;
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

typedef struct fixture {
  char dir[64];
  kl_config *cfg;
  kl_store *store;
  kl_gateway *gw;
  uv_loop_t loop;
  kl_gw_worker *w;
} fixture;

/* A gateway over a fresh store in a temp dir, configured by `yaml`, with one worker loop. */
static int gw_setup(void **state, const char *yaml) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/keel-test-gw-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  kl_err e = {0};
  f->cfg = kl_config_parse(yaml, strlen(yaml), "test.yaml", &e);
  if (!f->cfg) fail_msg("config: %s", e.msg);
  kl_store_opts so = {.data_dir = f->dir};
  kl_test_store_opts(&so);
  f->store = kl_store_open(&so, &e);
  assert_non_null(f->store);
  f->gw = kl_gateway_new(f->cfg, f->store, &e);
  assert_non_null(f->gw);
  uv_loop_init(&f->loop);
  f->w = kl_gw_worker_new(f->gw, &f->loop, &e);
  assert_non_null(f->w);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  kl_gw_worker_free(f->w);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  kl_gateway_free(f->gw);
  kl_store_close(f->store);
  kl_config_free(f->cfg);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

typedef kl_gw_call *(*entry_fn)(const kl_gw_request *, const kl_gw_reply *);

static kl_gw_call *start(fixture *f, entry_fn fn, kl_arena *a, const char *body, hdrs *h, sink *s) {
  kl_gw_request r = {.arena = a, .worker = f->w, .body = body, .body_len = strlen(body), .header = hget,
                     .header_ud = h, .start_unix_ns = kl_now_ns(), .start_mono_ns = kl_mono_ns()};
  kl_gw_reply reply = {s, s_respond, s_begin, s_write, s_end};
  return fn(&r, &reply);
}

/* Runs one call to completion; the caller frees s->body. */
static void run_call(fixture *f, entry_fn fn, const char *body, hdrs *h, sink *s) {
  kl_arena *a = kl_arena_new(0);
  start(f, fn, a, body, h, s);
  while (!s->completed) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(s->completions, 1);
  kl_buf_putc(&s->body, 0);
  s->body.len--;
  kl_arena_free(a);
  assert_int_equal(kl_gw_worker_active(f->w), 0);
}

/* The only observation of the newest trace of `user`. */
static cJSON *last_observation(fixture *f, const char *user) {
  kl_store_flush(f->store);
  kl_trace_filter tf = {.user_id = user, .limit = 10};
  kl_buf out = KL_BUF_INIT;
  kl_err e = {0};
  assert_int_equal(kl_store_list_traces(f->store, &tf, &out, &e), 0);
  cJSON *l = cJSON_Parse(out.data);
  cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(l, "data"), 0);
  if (!row) fail_msg("no trace for %s", user);
  kl_buf d = KL_BUF_INIT;
  assert_int_equal(kl_store_get_trace(f->store, NULL, kl_json_str(row, "id"), &d, &e), 0);
  cJSON *t = cJSON_Parse(d.data);
  cJSON *obs = cJSON_GetObjectItem(t, "observations");
  assert_int_equal(cJSON_GetArraySize(obs), 1);
  cJSON *o = cJSON_Duplicate(cJSON_GetArrayItem(obs, 0), 1);
  cJSON_Delete(t);
  cJSON_Delete(l);
  kl_buf_free(&out);
  kl_buf_free(&d);
  return o;
}

#endif
