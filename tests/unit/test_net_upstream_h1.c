/* test_net_upstream_h1.c: the built-in HTTP/1.1 upstream client (upstream_h1.c, taken by
 * kl_upstream_start for http:// URLs) against the raw test server of
 * upstream_test_server.h: the scenarios both clients share (upstream_test_cases.h, also run
 * by test_net_upstream.c against libcurl), plus what a keep-alive pool must get right: reuse, "Connection: close" and HTTP/1.0,
 * the transparent retry when the server dropped an idle pooled connection, and response
 * bytes split at every point (through the socketless test hooks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define UPSTREAM_TEST_USE_CURL 0
#include "upstream_test_client.h"
#include "upstream_test_cases.h"

/* ================= tests ================= */

static void test_request_bytes(void **st) {
  (void)st;
  static const char *hdrs[] = {"Content-Type: application/json", "X-Test:  one", "Authorization: Bearer k"};
  static const char body[] = "{\"model\":\"m\",\"stream\":true}";
  res r = {0};
  kl_upstream_opts o = {.method = "POST", .headers = hdrs, .nheaders = 3, .body = body, .body_len = strlen(body)};
  start_opts("/echo", &r, o);
  assert_int_equal(kl_upstream_active(F.u), 1);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.body.data, body);
  char h[8192], b[8192], want[512];
  snap(F.s, h, b);
  snprintf(want, sizeof want,
           "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
           "X-Test:  one\r\nAuthorization: Bearer k\r\nContent-Length: %zu\r\n\r\n",
           F.s->port, strlen(body));
  assert_string_equal(h, want);
  assert_string_equal(b, body);
  res_free(&r);

  /* A body far larger than the socket buffer: the write completes asynchronously. */
  size_t blen = 2u << 20;
  char *big = malloc(blen + 1);
  for (size_t i = 0; i < blen; i++) big[i] = (char)('a' + i % 26);
  big[blen] = 0;
  res r2 = {0};
  kl_upstream_opts o2 = {.method = "POST", .body = big, .body_len = blen};
  start_opts("/echo", &r2, o2);
  assert_true(run_until(done1, &r2, 20000));
  assert_int_equal(r2.st, KL_UP_OK);
  assert_int_equal(r2.body.len, blen);
  assert_memory_equal(r2.body.data, big, blen);
  snap(F.s, h, b);
  assert_null(strcasestr(h, "\r\nExpect:"));
  assert_null(strcasestr(h, "\r\nContent-Type:"));
  assert_int_equal(srv_get_size(F.s, &F.s->last_body_len), blen);
  free(big);
  res_free(&r2);

  /* Caller's Host and Content-Length are not duplicated; "Name:" is not sent, "Name;" is
   * sent empty (libcurl's conventions); the query goes along, the fragment does not. */
  static const char *hdrs3[] = {"Host: example.test", "Content-Length: 2", "X-Drop:", "X-Empty;"};
  res r3 = {0};
  kl_upstream_opts o3 = {.method = "PUT", .headers = hdrs3, .nheaders = 4, .body = "hi", .body_len = 2};
  start_opts("/echo?a=b#frag", &r3, o3);
  assert_true(run_until(done1, &r3, 10000));
  assert_int_equal(r3.st, KL_UP_OK);
  snap(F.s, h, b);
  assert_string_equal(h, "PUT /echo?a=b HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\nX-Empty:\r\n\r\n");
  assert_string_equal(b, "hi");
  res_free(&r3);

  /* GET without a body: no Content-Length; an empty path becomes "/". */
  res r4 = {0};
  start_get("", &r4, NULL);
  assert_true(run_until(done1, &r4, 10000));
  assert_int_equal(r4.status, 404);
  snap(F.s, h, b);
  snprintf(want, sizeof want, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", F.s->port);
  assert_string_equal(h, want);
  res_free(&r4);

  /* CR/LF in a header line is refused by start. */
  static const char *evil[] = {"X-A: 1\r\nX-B: 2"};
  kl_upstream_opts o5 = {.method = "GET", .headers = evil, .nheaders = 1, .url = "http://127.0.0.1:1/"};
  kl_err err = {0, ""};
  assert_null(kl_upstream_start(F.u, &o5, &CBS, &r4, &err));
  assert_false(kl_err_ok(&err));
}

static void test_eof_delimited_body(void **st) {
  (void)st;
  res r = {0};
  start_get("/eof", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.data, "until-eof");
  res_free(&r);
}

static void test_idle_close_is_retried(void **st) {
  (void)st;
  /* /bye answers keep-alive and then the server closes.  The next call, started from
   * on_done, is written to that pooled connection before its EOF is seen: it must be
   * retried on a new connection. */
  res a = {0}, b = {0};
  a.start_in_done = &b;
  start_get("/bye", &a, NULL);
  assert_true(run_until(done1, &b, 10000));
  assert_int_equal(a.st, KL_UP_OK);
  assert_string_equal(a.body.data, "bye");
  assert_int_equal(b.st, KL_UP_OK);
  assert_string_equal(b.body.data, "hello");
  assert_int_equal(srv_get(F.s, &F.s->accepts), 2);

  /* An idle pooled connection the server closes is noticed and dropped meanwhile. */
  res c = {0}, d = {0};
  start_get("/bye", &c, NULL);
  assert_true(run_until(done1, &c, 10000));
  run_until(never, NULL, 100);
  start_get("/cl", &d, NULL);
  assert_true(run_until(done1, &d, 10000));
  assert_int_equal(d.st, KL_UP_OK);
  assert_int_equal(srv_get(F.s, &F.s->requests), 4);
  res_free(&a);
  res_free(&b);
  res_free(&c);
  res_free(&d);
}

static void test_retry_only_once(void **st) {
  (void)st;
  res a = {0}, b = {0};
  a.start_in_done = &b;
  a.done_path = "/drop"; /* the retry meets a server that closes without answering */
  start_get("/bye", &a, NULL);
  assert_true(run_until(done1, &b, 10000));
  assert_int_equal(a.st, KL_UP_OK);
  assert_int_equal(b.st, KL_UP_RESET);
  assert_int_equal(b.responses, 0);
  assert_int_equal(srv_get(F.s, &F.s->accepts), 2);
  res_free(&a);
  res_free(&b);
}

static void test_connection_close_not_reused(void **st) {
  (void)st;
  const char *paths[] = {"/conn-close", "/http10"};
  for (int i = 0; i < 2; i++) {
    res a = {0}, b = {0};
    start_get(paths[i], &a, NULL);
    assert_true(run_until(done1, &a, 10000));
    assert_int_equal(a.st, KL_UP_OK);
    assert_string_equal(a.body.data, "ok");
    int closed = i + 1; /* the client closed it (the server only waits) */
    assert_true(run_until(server_saw_close, &closed, 10000));
    start_get("/cl", &b, NULL);
    assert_true(run_until(done1, &b, 10000));
    assert_int_equal(b.st, KL_UP_OK);
    res_free(&a);
    res_free(&b);
  }
  /* conn-close, cl (pooled), http10 (on cl's pooled connection), cl: a new one again */
  assert_int_equal(srv_get(F.s, &F.s->accepts), 3);
  assert_int_equal(srv_get(F.s, &F.s->requests), 4);
}

static void test_localhost_resolves(void **st) {
  (void)st;
  res r = {0}; /* localhost may resolve to ::1 first, where nothing listens: next address */
  start_host("localhost", "/cl", &r, (kl_upstream_opts){.method = "GET"});
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.body.data, "hello");
  char h[8192], b[8192], want[64];
  snap(F.s, h, b);
  snprintf(want, sizeof want, "\r\nHost: localhost:%d\r\n", F.s->port);
  assert_non_null(strstr(h, want));
  res_free(&r);
}

static void test_use_curl_still_curl(void **st) {
  (void)st;
  res r = {0};
  kl_upstream_call *c = start_get("/cl", &r, &(kl_upstream_opts){.use_curl = true});
  assert_int_equal(kl_up_kind(c), KL_UP_KIND_CURL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.body.data, "hello");
  /* https:// always goes to libcurl; so does an http:// URL with userinfo */
  kl_err err = {0, ""};
  res r2 = {0}, r3 = {0};
  kl_upstream_opts o = {.method = "GET", .url = "https://127.0.0.1:1/"};
  c = kl_upstream_start(F.u, &o, &CBS, &r2, &err);
  assert_non_null(c);
  assert_int_equal(kl_up_kind(c), KL_UP_KIND_CURL);
  kl_upstream_cancel(c);
  o.url = "HTTP://user:pw@127.0.0.1:1/";
  c = kl_upstream_start(F.u, &o, &CBS, &r3, &err);
  assert_non_null(c);
  assert_int_equal(kl_up_kind(c), KL_UP_KIND_CURL);
  kl_upstream_cancel(c);
  o.url = "HTTP://127.0.0.1:1/";
  c = kl_upstream_start(F.u, &o, &CBS, &r3, &err);
  assert_int_equal(kl_up_kind(c), KL_UP_KIND_H1);
  kl_upstream_cancel(c);
  assert_int_equal(r2.dones + r3.dones, 0);
  res_free(&r);
}

/* ---- response bytes split at every point, through the socketless hooks ---- */

static void feed_split(const char *method, const char *resp, size_t step, res *r) {
  kl_h1 *p = kl_h1_new(&F.loop);
  assert_non_null(p);
  kl_upstream_call *c = kl_h1_test_call(p, method, &CBS, r);
  size_t n = strlen(resp);
  for (size_t off = 0; off < n && !r->dones; off += step)
    kl_h1_test_input(c, resp + off, (ssize_t)(off + step <= n ? step : n - off));
  if (!r->dones) kl_h1_test_input(c, NULL, UV_EOF);
  kl_h1_free(p);
  uv_run(&F.loop, UV_RUN_NOWAIT);
}

static void test_split_anywhere(void **st) {
  (void)st;
  static const char chunked[] =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Long-Header-Name:   v a l  \r\n"
      "Transfer-Encoding: chunked\r\n\r\n"
      "6\r\ndata: \r\n2;ext=1\r\nhi\r\n0\r\nX-Trailer: 1\r\n\r\n";
  for (size_t step = 1; step <= sizeof chunked; step++) {
    res r = {0};
    feed_split("GET", chunked, step, &r);
    assert_int_equal(r.dones, 1);
    assert_int_equal(r.st, KL_UP_OK);
    assert_int_equal(r.responses, 1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.hdrs, "content-type=text/event-stream;x-long-header-name=v a l;transfer-encoding=chunked;");
    assert_string_equal(r.body.data, "data: hi");
    res_free(&r);
  }
  /* HEAD: a Content-Length but no body follows */
  res h = {0};
  feed_split("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 3, &h);
  assert_int_equal(h.st, KL_UP_OK);
  assert_int_equal(h.datas, 0);
  res_free(&h);
  /* garbage is a protocol error; nothing at all is a reset */
  res g = {0}, z = {0};
  feed_split("GET", "SSH-2.0-OpenSSH\r\n\r\n", 4, &g);
  assert_int_equal(g.st, KL_UP_ERROR);
  assert_int_equal(g.responses, 0);
  feed_split("GET", "", 1, &z);
  assert_int_equal(z.st, KL_UP_RESET);
  res_free(&g);
  res_free(&z);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_content_length),
      T(test_request_bytes),
      T(test_chunked_streams_as_it_arrives),
      T(test_interim_response_skipped),
      T(test_500_is_ok),
      T(test_close_mid_body_is_reset),
      T(test_eof_delimited_body),
      T(test_first_byte_timeout),
      T(test_first_byte_timeout_stops_at_first_byte),
      T(test_total_timeout),
      T(test_connection_refused),
      T(test_connection_reuse),
      T(test_idle_close_is_retried),
      T(test_retry_only_once),
      T(test_connection_close_not_reused),
      T(test_cancel_inside_on_data),
      T(test_cancel_inside_on_response),
      T(test_cancel_outside_callbacks),
      T(test_on_data_abort),
      T(test_cancel_from_other_on_done),
      T(test_start_inside_on_data),
      T(test_start_and_free_inside_on_done),
      T(test_free_with_calls_in_flight),
      T(test_free_inside_on_data),
      T(test_many_concurrent),
      T(test_localhost_resolves),
      T(test_use_curl_still_curl),
      T(test_split_anywhere),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
