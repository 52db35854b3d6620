/* upstream_test_client.h: the client half of the upstream tests, shared by the libcurl suite
 * (test_net_upstream.c) and the built-in HTTP/1.1 client's suite (test_net_upstream_h1.c):
 * a result recorder behind the three callbacks, starting calls against the raw test server
 * (upstream_test_server.h), and running the loop until a condition holds.  The including file
 * defines UPSTREAM_TEST_USE_CURL (1: every call goes through libcurl; 0: http:// takes the
 * built-in client, which start_host checks). */
#ifndef KL_UPSTREAM_TEST_CLIENT_H
#define KL_UPSTREAM_TEST_CLIENT_H

#include "net/kl_net.h"
#include "net/upstream_h1.h"

#include "upstream_test_server.h"

/* ================= client side fixtures ================= */

typedef struct {
  uv_loop_t loop;
  kl_upstream *u;
  srv *s;
} fixture;

static fixture F;

typedef struct res {
  int responses, datas, dones;
  int data_before_response; /* on_data seen before on_response: must stay 0 */
  int status;
  kl_upstream_status st;
  char err[256];
  kl_buf body;
  char hdrs[1024];          /* "name=value;" of the response headers */
  /* behaviour knobs */
  bool cancel_in_data, cancel_in_response, free_in_data, notify_server;
  int abort_in_data;
  kl_upstream_call *call;
  kl_upstream_call *cancel_on_done; /* cancel this other call from on_done */
  struct res *start_in_data;        /* start a /cl call with this res from on_data */
  struct res *start_in_done;        /* ... from on_done (a retry) */
  const char *done_path;            /* path for start_in_done ("/cl" when NULL) */
  bool free_in_done;
} res;

static void on_response(void *ud, int status, const kl_http_header *h, size_t n) {
  res *r = ud;
  r->responses++;
  r->status = status;
  r->hdrs[0] = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(r->hdrs);
    snprintf(r->hdrs + l, sizeof r->hdrs - l, "%s=%s;", h[i].name, h[i].value);
  }
  if (r->cancel_in_response) kl_upstream_cancel(r->call);
}

static kl_upstream_call *start_get(const char *path, res *r, const kl_upstream_opts *extra);

static int on_data(void *ud, const char *d, size_t len) {
  res *r = ud;
  if (!r->responses) r->data_before_response++;
  r->datas++;
  kl_buf_append(&r->body, d, len);
  if (r->notify_server) {
    pthread_mutex_lock(&F.s->mu);
    F.s->client_chunks++;
    pthread_cond_broadcast(&F.s->cv);
    pthread_mutex_unlock(&F.s->mu);
  }
  if (r->start_in_data) {
    r->start_in_data->call = start_get("/cl", r->start_in_data, NULL);
    r->start_in_data = NULL;
  }
  if (r->cancel_in_data) kl_upstream_cancel(r->call);
  if (r->free_in_data) {
    kl_upstream_free(F.u);
    F.u = NULL;
  }
  return r->abort_in_data;
}

static void on_done(void *ud, kl_upstream_status st, const char *err) {
  res *r = ud;
  r->dones++;
  r->st = st;
  snprintf(r->err, sizeof r->err, "%s", err ? err : "(null)");
  if (r->cancel_on_done) kl_upstream_cancel(r->cancel_on_done);
  if (r->start_in_done) start_get(r->done_path ? r->done_path : "/cl", r->start_in_done, NULL);
  if (r->free_in_done) {
    kl_upstream_free(F.u);
    F.u = NULL;
  }
}

static const kl_upstream_cbs CBS = {on_response, on_data, on_done};

static kl_upstream_call *start_host(const char *host, const char *path, res *r, kl_upstream_opts o) {
  char url[128];
  snprintf(url, sizeof url, "http://%s:%d%s", host, F.s->port, path);
  o.url = url; /* both clients copy what they need */
  if (UPSTREAM_TEST_USE_CURL) o.use_curl = true; /* http:// would otherwise take the built-in client */
  kl_err err = {0, ""};
  kl_upstream_call *c = kl_upstream_start(F.u, &o, &CBS, r, &err);
  assert_non_null(c);
  assert_true(kl_err_ok(&err));
  if (!o.use_curl) assert_int_equal(kl_up_kind(c), KL_UP_KIND_H1);
  r->call = c;
  return c;
}

static kl_upstream_call *start_opts(const char *path, res *r, kl_upstream_opts o) {
  return start_host("127.0.0.1", path, r, o);
}

static kl_upstream_call *start_get(const char *path, res *r, const kl_upstream_opts *extra) {
  kl_upstream_opts o = {0};
  if (extra) o = *extra;
  if (!o.method) o.method = "GET";
  return start_opts(path, r, o);
}

static void res_free(res *r) { kl_buf_free(&r->body); }

/* Runs the loop until pred(arg) holds or ms elapse.  A 2 ms tick wakes the loop so that
 * predicates on server-thread state (which no loop event announces) are re-checked. */
static void wd_cb(uv_timer_t *t) { *(bool *)t->data = true; }
static void tick_cb(uv_timer_t *t) { (void)t; }
static bool run_until(bool (*pred)(void *), void *arg, uint64_t ms) {
  uv_timer_t wd, tick;
  bool fired = false;
  uv_timer_init(&F.loop, &wd);
  uv_timer_init(&F.loop, &tick);
  wd.data = &fired;
  uv_timer_start(&wd, wd_cb, ms, 0);
  uv_timer_start(&tick, tick_cb, 2, 2);
  while (!pred(arg) && !fired) uv_run(&F.loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&wd, NULL);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&F.loop, UV_RUN_NOWAIT);
  return pred(arg);
}
static bool done1(void *a) { return ((res *)a)->dones >= 1; }
static bool never(void *a) { (void)a; return false; }
static bool server_saw_close(void *a) { return srv_get(F.s, &F.s->client_closed) >= *(int *)a; }

static int setup(void **st) {
  (void)st;
  assert_int_equal(uv_loop_init(&F.loop), 0);
  kl_err err = {0, ""};
  F.u = kl_upstream_new(&F.loop, &err);
  assert_non_null(F.u);
  F.s = srv_start();
  return 0;
}

static int teardown(void **st) {
  (void)st;
  if (F.u) kl_upstream_free(F.u);
  F.u = NULL;
  uv_run(&F.loop, UV_RUN_DEFAULT);            /* close callbacks release everything */
  assert_int_equal(uv_loop_close(&F.loop), 0); /* no handle left behind */
  srv_stop(F.s);
  F.s = NULL;
  return 0;
}

#endif
