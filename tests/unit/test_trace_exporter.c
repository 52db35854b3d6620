/* test_trace_exporter.c: the OTLP exporter (trace/exporter.c) against an in-test collector:
 * keel's own HTTP server on 127.0.0.1:0 in a thread, answering from a script (status,
 * Retry-After, optionally blocking until released) and recording every request, whose body
 * is decoded with kl_ingest_otlp_pb/json.  Covers batching by size and by time, headers,
 * retries (503 + Retry-After honoured, backoff), giving up (attempts exhausted, 400 at once,
 * connection refused), the bounded drop-oldest queue, partialSuccess, flush on free with its
 * deadline, gzip, and the tracer hook.  Waits are polls with generous limits; the only timing
 * assertion is a lower bound (a Retry-After of 1 s cannot be retried sooner). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef KEEL_HAVE_ZLIB
#include <zlib.h>
#endif

#include "net/kl_net.h"
#include "trace/kl_export.h"
#include "trace/kl_ingest.h"
#include "trace/kl_trace.h"

/* ---------------- the collector ---------------- */

#define MAXREQ 64
typedef struct answer {
  int status;
  const char *retry_after;
  const char *body;
  bool block; /* hold the reply until col.release */
} answer;

typedef struct collector {
  kl_http_server *s;
  uv_thread_t th;
  int port;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  answer script[MAXREQ]; /* answer for request i; status 0 = 200 */
  int nreq;
  char *bodies[MAXREQ];
  size_t lens[MAXREQ];
  char ctype[MAXREQ][64], cenc[MAXREQ][32], auth[MAXREQ][64];
  int64_t at_ms[MAXREQ];
  bool release;
} collector;

static collector col;

static void handler(kl_http_req *req) {
  pthread_mutex_lock(&col.mu);
  int i = col.nreq < MAXREQ ? col.nreq++ : MAXREQ - 1;
  free(col.bodies[i]);
  col.bodies[i] = malloc(req->body_len + 1);
  memcpy(col.bodies[i], req->body, req->body_len);
  col.lens[i] = req->body_len;
  const char *h;
  snprintf(col.ctype[i], 64, "%s", (h = kl_http_header_get(req, "content-type")) ? h : "");
  snprintf(col.cenc[i], 32, "%s", (h = kl_http_header_get(req, "content-encoding")) ? h : "");
  snprintf(col.auth[i], 64, "%s", (h = kl_http_header_get(req, "authorization")) ? h : "");
  col.at_ms[i] = kl_mono_ns() / 1000000;
  answer a = col.script[i];
  pthread_cond_broadcast(&col.cv);
  while (a.block && !col.release) pthread_cond_wait(&col.cv, &col.mu);
  pthread_mutex_unlock(&col.mu);
  kl_http_header extra[1] = {{"Retry-After", a.retry_after}};
  const char *body = a.body ? a.body : "{}";
  kl_http_respond_ex(req, a.status ? a.status : 200, "application/json", extra, a.retry_after ? 1 : 0, body,
                     strlen(body));
}

static void run_thread(void *arg) {
  (void)arg;
  kl_http_server_run(col.s);
}

static int setup(void **st) {
  (void)st;
  memset(&col, 0, sizeof col);
  pthread_mutex_init(&col.mu, NULL);
  pthread_cond_init(&col.cv, NULL);
  kl_http_server_opts o;
  memset(&o, 0, sizeof o);
  o.host = "127.0.0.1";
  o.workers = 1;
  o.handler = handler;
  o.shutdown_timeout_ms = 2000;
  kl_err err;
  col.s = kl_http_server_new(&o, &err);
  if (!col.s) fail_msg("collector: %s", err.msg);
  col.port = kl_http_server_port(col.s);
  uv_thread_create(&col.th, run_thread, NULL);
  return 0;
}

static int teardown(void **st) {
  (void)st;
  pthread_mutex_lock(&col.mu);
  col.release = true;
  pthread_cond_broadcast(&col.cv);
  pthread_mutex_unlock(&col.mu);
  kl_http_server_stop(col.s);
  uv_thread_join(&col.th);
  kl_http_server_free(col.s);
  for (int i = 0; i < MAXREQ; i++) free(col.bodies[i]);
  pthread_mutex_destroy(&col.mu);
  pthread_cond_destroy(&col.cv);
  return 0;
}

static void release(void) {
  pthread_mutex_lock(&col.mu);
  col.release = true;
  pthread_cond_broadcast(&col.cv);
  pthread_mutex_unlock(&col.mu);
}

/* Waits (10 s at most) until the collector has seen n requests. */
static void wait_requests(int n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 10;
  pthread_mutex_lock(&col.mu);
  while (col.nreq < n && pthread_cond_timedwait(&col.cv, &col.mu, &ts) == 0) {}
  int got = col.nreq;
  pthread_mutex_unlock(&col.mu);
  if (got < n) fail_msg("collector saw %d requests, expected %d", got, n);
}

static int nreq(void) {
  pthread_mutex_lock(&col.mu);
  int n = col.nreq;
  pthread_mutex_unlock(&col.mu);
  return n;
}

static char url[128];
static kl_exporter_opts base_opts(void) {
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", col.port);
  kl_exporter_opts o;
  memset(&o, 0, sizeof o);
  o.endpoint = url;
  o.flush_interval_ms = 600000; /* only size, flush and free send, unless a test says so */
  o.backoff_initial_ms = 5;
  o.backoff_max_ms = 50;
  return o;
}

static kl_exporter *start(const kl_exporter_opts *o) {
  kl_err err;
  kl_err_clear(&err);
  kl_exporter *e = kl_exporter_new(o, &err);
  if (!e) fail_msg("exporter: %s", err.msg);
  return e;
}

static void obs_n(kl_obs *o, int i) {
  memset(o, 0, sizeof *o);
  snprintf(o->id, sizeof o->id, "%016x", 0x1000 + i);
  snprintf(o->trace_id, sizeof o->trace_id, "%032x", 0xabc);
  o->type = KL_OBS_GENERATION;
  o->name = "chat.completions";
  o->model = "mock";
  o->provider = "mock";
  o->start_ns = 1764184176000000000LL + i;
  o->end_ns = o->start_ns + 1000;
  o->usage_input = 10;
  o->usage_output = i;
  o->cost_usd = -1;
}

static void submit_range(kl_exporter *e, int from, int to) {
  for (int i = from; i < to; i++) {
    kl_obs o;
    obs_n(&o, i);
    kl_exporter_submit(e, &o);
  }
}

/* Decodes request i; returns its spans' output-token counts (= the i of obs_n) in order. */
static size_t request_spans(int i, kl_export_protocol p, int *ids, size_t max) {
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request req;
  kl_err err;
  pthread_mutex_lock(&col.mu);
  const char *body = col.bodies[i];
  size_t len = col.lens[i];
  kl_buf inflated = KL_BUF_INIT;
#ifdef KEEL_HAVE_ZLIB
  if (!strcmp(col.cenc[i], "gzip")) {
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    kl_buf_reserve(&inflated, 1 << 20);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)inflated.data;
    z.avail_out = (uInt)inflated.cap - 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    inflated.len = z.total_out;
    inflateEnd(&z);
    body = inflated.data;
    len = inflated.len;
  }
#endif
  int rc = p == KL_EXPORT_JSON ? kl_ingest_otlp_json(body, len, a, &req, &err) : kl_ingest_otlp_pb(body, len, a, &req, &err);
  pthread_mutex_unlock(&col.mu);
  if (rc) fail_msg("request %d: %s", i, err.msg);
  size_t n = req.nspans;
  for (size_t k = 0; k < n && k < max; k++) {
    const kl_otlp_value *v = kl_otlp_attr(&req.spans[k].attrs, "gen_ai.usage.output_tokens");
    ids[k] = v ? (int)v->i : -1;
  }
  kl_buf_free(&inflated);
  kl_arena_free(a);
  return n;
}

/* ---------------- tests ---------------- */

static void test_batches_by_size_then_flush(void **st) {
  (void)st;
  kl_exporter_opts o = base_opts();
  o.batch_max = 10;
  const char *hdrs[] = {"Authorization: Basic cGs6c2s="};
  o.headers = hdrs;
  o.nheaders = 1;
  kl_exporter *e = start(&o);
  submit_range(e, 0, 25);
  wait_requests(2); /* two full batches go at once, without the (10 min) timer */
  assert_int_equal(kl_exporter_flush(e, 10000), 0); /* the partial one on request */
  assert_int_equal(nreq(), 3);
  int ids[32];
  assert_int_equal(request_spans(0, KL_EXPORT_PROTOBUF, ids, 32), 10);
  assert_int_equal(ids[0], 0);
  assert_int_equal(ids[9], 9);
  assert_int_equal(request_spans(1, KL_EXPORT_PROTOBUF, ids, 32), 10);
  assert_int_equal(ids[0], 10);
  assert_int_equal(request_spans(2, KL_EXPORT_PROTOBUF, ids, 32), 5);
  assert_int_equal(ids[4], 24);
  assert_string_equal(col.ctype[0], "application/x-protobuf");
  assert_string_equal(col.auth[0], "Basic cGs6c2s=");
  assert_string_equal(col.cenc[0], "");
  kl_export_stats s;
  kl_exporter_stats(e, &s);
  assert_int_equal(s.submitted, 25);
  assert_int_equal(s.exported, 25);
  assert_int_equal(s.requests, 3);
  assert_int_equal(s.dropped + s.failed + s.retries, 0);
  assert_int_equal(s.last_status, 200);
  kl_exporter_free(e);
}

static void test_batches_by_time_json(void **st) {
  (void)st;
  kl_exporter_opts o = base_opts();
  o.flush_interval_ms = 50;
  o.protocol = KL_EXPORT_JSON;
  kl_exporter *e = start(&o);
  submit_range(e, 0, 3);
  wait_requests(1); /* the timer sends a partial batch */
  int ids[8];
  assert_int_equal(request_spans(0, KL_EXPORT_JSON, ids, 8), 3);
  assert_string_equal(col.ctype[0], "application/json");
  kl_exporter_free(e);
}

static void test_retry_after_503(void **st) {
  (void)st;
  col.script[0] = (answer){503, "1", NULL, false};
  col.script[1] = (answer){503, NULL, NULL, false};
  kl_exporter_opts o = base_opts();
  kl_exporter *e = start(&o);
  submit_range(e, 0, 4);
  assert_int_equal(kl_exporter_flush(e, 15000), 0);
  assert_int_equal(nreq(), 3);
  /* Retry-After: 1 (seconds) replaced a 5 ms backoff; the next, without it, uses the backoff */
  assert_true(col.at_ms[1] - col.at_ms[0] >= 950);
  int ids[8];
  assert_int_equal(request_spans(2, KL_EXPORT_PROTOBUF, ids, 8), 4); /* the same batch each time */
  kl_export_stats s;
  kl_exporter_stats(e, &s);
  assert_int_equal(s.exported, 4);
  assert_int_equal(s.retries, 2);
  assert_int_equal(s.requests, 3);
  assert_int_equal(s.failed, 0);
  kl_exporter_free(e);
}

static void test_give_up(void **st) {
  (void)st;
  for (int i = 0; i < 3; i++) col.script[i] = (answer){504, NULL, NULL, false};
  col.script[3] = (answer){400, NULL, "{\"message\":\"bad\"}", false};
  kl_exporter_opts o = base_opts();
  o.max_attempts = 3;
  kl_exporter *e = start(&o);
  submit_range(e, 0, 5);
  assert_int_equal(kl_exporter_flush(e, 10000), 0);
  kl_export_stats s;
  kl_exporter_stats(e, &s);
  assert_int_equal(s.requests, 3); /* attempts exhausted */
  assert_int_equal(s.failed, 5);
  assert_int_equal(s.exported, 0);
  submit_range(e, 5, 7);
  assert_int_equal(kl_exporter_flush(e, 10000), 0);
  kl_exporter_stats(e, &s);
  assert_int_equal(s.requests, 4); /* 400: given up at once, never retried */
  assert_int_equal(s.failed, 7);
  assert_int_equal(s.last_status, 400);
  submit_range(e, 7, 8); /* and the exporter goes on working */
  assert_int_equal(kl_exporter_flush(e, 10000), 0);
  kl_exporter_stats(e, &s);
  assert_int_equal(s.exported, 1);
  kl_exporter_free(e);
}

static void test_connection_refused(void **st) {
  (void)st;
  int fd = socket(AF_INET, SOCK_STREAM, 0); /* a port nobody listens on */
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  bind(fd, (struct sockaddr *)&sa, sl);
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/traces", ntohs(sa.sin_port));
  kl_exporter_opts o = base_opts();
  o.endpoint = u;
  o.max_attempts = 3;
  kl_exporter *e = start(&o);
  submit_range(e, 0, 2);
  assert_int_equal(kl_exporter_flush(e, 10000), 0);
  kl_export_stats s;
  kl_exporter_stats(e, &s);
  assert_int_equal(s.requests, 3);
  assert_int_equal(s.retries, 2);
  assert_int_equal(s.failed, 2);
  assert_int_equal(s.last_status, 0);
  kl_exporter_free(e);
  close(fd);
}

static void test_queue_drops_oldest(void **st) {
  (void)st;
  col.script[0] = (answer){200, NULL, NULL, true}; /* the first request hangs until released */
  kl_exporter_opts o = base_opts();
  o.batch_max = 2;
  o.queue_capacity = 4;
  kl_exporter *e = start(&o);
  submit_range(e, 0, 2); /* a full batch: sent, and stuck in the collector */
  wait_requests(1);
  submit_range(e, 2, 12); /* 10 more into a queue of 4: the 6 oldest go */
  kl_export_stats s;
  kl_exporter_stats(e, &s);
  assert_int_equal(s.submitted, 12);
  assert_int_equal(s.dropped, 6);
  assert_int_equal(s.queue_depth, 4);
  release();
  assert_int_equal(kl_exporter_flush(e, 10000), 0);
  kl_exporter_stats(e, &s);
  assert_int_equal(s.exported, 6);
  int seen[16], n = 0, ids[4];
  for (int r = 1; r < nreq(); r++) {
    size_t k = request_spans(r, KL_EXPORT_PROTOBUF, ids, 4);
    for (size_t j = 0; j < k; j++) seen[n++] = ids[j];
  }
  assert_int_equal(n, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(seen[i], 8 + i); /* the newest four */
  kl_exporter_free(e);
}

static void test_partial_success(void **st) {
  (void)st;
  col.script[0] = (answer){200, NULL, "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"x\"}}", false};
  kl_exporter_opts o = base_opts();
  o.protocol = KL_EXPORT_JSON;
  kl_exporter *e = start(&o);
  submit_range(e, 0, 5);
  assert_int_equal(kl_exporter_flush(e, 10000), 0);
  kl_export_stats s;
  kl_exporter_stats(e, &s);
  assert_int_equal(s.exported, 3);
  assert_int_equal(s.failed, 2);
  kl_exporter_free(e);
}

static void test_flush_on_free(void **st) {
  (void)st;
  kl_exporter_opts o = base_opts();
  o.batch_max = 4;
  o.gzip = true;
  kl_err err;
  kl_exporter *e = kl_exporter_new(&o, &err);
#ifndef KEEL_HAVE_ZLIB
  assert_null(e); /* gzip needs zlib */
  o.gzip = false;
  e = start(&o);
#else
  assert_non_null(e);
#endif
  submit_range(e, 0, 3); /* less than a batch, and the timer is 10 min away */
  kl_exporter_free(e);
  assert_int_equal(nreq(), 1);
  int ids[8];
  assert_int_equal(request_spans(0, KL_EXPORT_PROTOBUF, ids, 8), 3);
#ifdef KEEL_HAVE_ZLIB
  assert_string_equal(col.cenc[0], "gzip");
#endif
}

static void test_free_deadline(void **st) {
  (void)st;
  col.script[0] = (answer){200, NULL, NULL, true}; /* a collector that never answers */
  kl_exporter_opts o = base_opts();
  o.shutdown_timeout_ms = 200;
  kl_exporter *e = start(&o);
  submit_range(e, 0, 3);
  int64_t t0 = kl_mono_ns();
  kl_exporter_free(e);
  int64_t ms = (kl_mono_ns() - t0) / 1000000;
  assert_true(ms < 5000); /* bounded by the deadline, not by the 10 s request timeout */
  wait_requests(1);
  release();
}

static void test_bad_options(void **st) {
  (void)st;
  kl_err err;
  kl_exporter_opts o;
  memset(&o, 0, sizeof o);
  assert_null(kl_exporter_new(&o, &err));
  assert_int_equal(err.code, 400);
  o.endpoint = "ftp://x/v1/traces";
  assert_null(kl_exporter_new(&o, &err));
  o.endpoint = "http://127.0.0.1:1/v1/traces";
  const char *bad[] = {"NoColon"};
  o.headers = bad;
  o.nheaders = 1;
  assert_null(kl_exporter_new(&o, &err));
  kl_exporter_free(NULL);
  kl_exporter_submit(NULL, NULL);
}

/* The tracer hands every observation to the exporter, even with the store off. */
static void test_tracer_hook(void **st) {
  (void)st;
  kl_exporter_opts o = base_opts();
  kl_exporter *e = start(&o);
  kl_tracer_opts to = {.store = NULL, .capture_content = true, .exporter = e};
  kl_tracer *t = kl_tracer_new(&to);
  kl_tracer_add_secret(t, "sk-supersecret-123");
  kl_trace_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  strcpy(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  strcpy(ctx.span_id, "00f067aa0ba902b7");
  ctx.user_id = "alice";
  kl_generation g = {.ctx = &ctx, .name = "chat.completions", .start_ns = 1764184176000000000LL,
                     .end_ns = 1764184176500000000LL, .model = "mock", .provider = "mock",
                     .upstream_model = "mock", .input_json = "[{\"role\":\"user\",\"content\":\"key sk-supersecret-123\"}]",
                     .http_status = 200, .usage = {.present = true, .input = 5, .output = 7}};
  kl_err err;
  kl_err_clear(&err);
  assert_int_equal(kl_tracer_generation(t, &g, NULL, &err), 0);
  kl_span sp = {.ctx = &ctx, .type = KL_OBS_GUARDRAIL, .name = "guardrail.input", .start_ns = g.start_ns,
                .end_ns = g.start_ns + 10};
  assert_int_equal(kl_tracer_span(t, &sp, &err), 0);
  assert_int_equal(kl_exporter_flush(e, 10000), 0);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request req;
  pthread_mutex_lock(&col.mu);
  assert_int_equal(kl_ingest_otlp_pb(col.bodies[0], col.lens[0], a, &req, &err), 0);
  pthread_mutex_unlock(&col.mu);
  assert_int_equal(req.nspans, 2);
  assert_string_equal(req.spans[0].span_id, "00f067aa0ba902b7");
  assert_string_equal(kl_otlp_attr(&req.spans[0].attrs, "user.id")->s, "alice");
  const kl_otlp_value *in = kl_otlp_attr(&req.spans[0].attrs, "gen_ai.input.messages");
  assert_non_null(in);
  assert_null(strstr(in->s, "supersecret")); /* scrubbed before export, as before storing */
  assert_string_equal(req.spans[1].parent_span_id, "00f067aa0ba902b7");
  assert_int_equal(req.spans[1].kind, 1);
  kl_arena_free(a);
  kl_tracer_free(t);
  kl_exporter_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_batches_by_size_then_flush, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batches_by_time_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_after_503, setup, teardown),
      cmocka_unit_test_setup_teardown(test_give_up, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queue_drops_oldest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partial_success, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flush_on_free, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_deadline, setup, teardown),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test_setup_teardown(test_tracer_hook, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
