/* test_net_upstream.c: the curl-on-libuv upstream client (use_curl = true: http:// would
 * otherwise take the built-in client, tested in test_net_upstream_h1.c) against a tiny raw
 * HTTP server running in threads of this process (upstream_test_server.h).  Streaming is
 * checked without sleeps: the server sends the next chunk only after the client's on_data
 * has seen the previous one, so a client that buffered the body would stall and fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UPSTREAM_TEST_USE_CURL 1
#include "upstream_test_client.h"

/* ================= tests ================= */

static void test_content_length(void **st) {
  (void)st;
  res r = {0};
  start_get("/cl", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.err, "");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.data_before_response, 0);
  assert_string_equal(r.body.data, "hello");
  /* names lower-cased, values trimmed, empty value kept */
  assert_non_null(strstr(r.hdrs, "content-type=text/plain;"));
  assert_non_null(strstr(r.hdrs, "x-foo=bar;"));
  assert_non_null(strstr(r.hdrs, "x-empty=;"));
  assert_non_null(strstr(r.hdrs, "content-length=5;"));
  assert_int_equal(kl_upstream_active(F.u), 0);
  /* no second on_done */
  run_until(never, NULL, 50);
  assert_int_equal(r.dones, 1);
  res_free(&r);
}

static void test_post_request_seen_by_server(void **st) {
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
  char h[8192], b[8192];
  snap(F.s, h, b);
  assert_true(strncmp(h, "POST /echo HTTP/1.1\r\n", 21) == 0);
  assert_non_null(strstr(h, "\r\nContent-Type: application/json\r\n"));
  assert_non_null(strstr(h, "\r\nX-Test:  one\r\n"));
  assert_non_null(strstr(h, "\r\nAuthorization: Bearer k\r\n"));
  char cl[64];
  snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", strlen(body));
  assert_non_null(strstr(h, cl));
  assert_null(strcasestr(h, "\r\nExpect:"));
  assert_null(strcasestr(h, "\r\nAccept-Encoding:"));
  assert_null(strcasestr(h, "x-www-form-urlencoded"));
  assert_string_equal(b, body);
  res_free(&r);

  /* A large body (curl adds "Expect: 100-continue" above 1 MiB) without a Content-Type. */
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
  assert_memory_equal(b, big, 8191);
  assert_int_equal(srv_get_size(F.s, &F.s->last_body_len), blen);
  free(big);
  res_free(&r2);
}

static void test_chunked_streams_as_it_arrives(void **st) {
  (void)st;
  res r = {.notify_server = true};
  start_get("/chunked", &r, NULL);
  assert_true(run_until(done1, &r, 15000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.body.data, "part0part1part2");
  assert_true(r.datas >= 3); /* relayed piecewise, not buffered to the end */
  pthread_mutex_lock(&F.s->mu);
  bool gave_up = F.s->wait_timed_out;
  pthread_mutex_unlock(&F.s->mu);
  assert_false(gave_up);
  assert_int_equal(r.responses, 1); /* the trailer did not fire a second on_response */
  res_free(&r);
}

static void test_interim_response_skipped(void **st) {
  (void)st;
  res r = {0};
  start_get("/interim", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.hdrs, "x-final=1;"));
  assert_null(strstr(r.hdrs, "x-interim"));
  assert_string_equal(r.body.data, "ok");
  res_free(&r);
}

static void test_500_is_ok(void **st) {
  (void)st;
  res r = {0};
  start_get("/500", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_int_equal(r.status, 500);
  assert_string_equal(r.body.data, "it broke!");
  res_free(&r);
}

static void test_close_mid_body_is_reset(void **st) {
  (void)st;
  res r = {0}, r2 = {0};
  start_get("/close-mid", &r, NULL);
  start_get("/chunk-trunc", &r2, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_true(run_until(done1, &r2, 10000));
  assert_int_equal(r.st, KL_UP_RESET);
  assert_string_equal(r.body.data, "0123456789");
  assert_true(strlen(r.err) > 0);
  assert_int_equal(r2.st, KL_UP_RESET);
  assert_string_equal(r2.body.data, "hello");
  res_free(&r);
  res_free(&r2);
}

static void test_first_byte_timeout(void **st) {
  (void)st;
  res r = {0}, r2 = {0};
  kl_upstream_opts o = {.first_byte_timeout_ms = 200, .total_timeout_ms = 20000};
  start_get("/hang", &r, &o);
  start_get("/hang-headers", &r2, &o); /* headers but no body byte */
  assert_true(run_until(done1, &r, 10000));
  assert_true(run_until(done1, &r2, 10000));
  assert_int_equal(r.st, KL_UP_TTFB_TIMEOUT);
  assert_non_null(strstr(r.err, "200 ms"));
  assert_int_equal(r.responses, 0);
  assert_int_equal(r2.st, KL_UP_TTFB_TIMEOUT);
  assert_int_equal(r2.responses, 1);
  assert_int_equal(kl_upstream_active(F.u), 0);
  int two = 2; /* the client dropped both connections */
  assert_true(run_until(server_saw_close, &two, 10000));
  res_free(&r);
  res_free(&r2);
}

static void test_first_byte_timeout_stops_at_first_byte(void **st) {
  (void)st;
  res r = {0};
  kl_upstream_opts o = {.first_byte_timeout_ms = 150};
  start_get("/pause", &r, &o);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.body.data, "ab");
  res_free(&r);
}

static void test_total_timeout(void **st) {
  (void)st;
  res r = {0};
  kl_upstream_opts o = {.total_timeout_ms = 300};
  start_get("/hang", &r, &o);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_TIMEOUT); /* connected, so not KL_UP_CONNECT */
  res_free(&r);
}

static void test_connection_refused(void **st) {
  (void)st;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &al);
  close(fd); /* bound, never listened, now closed: nothing listens on that port */
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
  res r = {0};
  kl_upstream_opts o = {.method = "GET", .url = url, .use_curl = true};
  kl_err err = {0, ""};
  assert_non_null(kl_upstream_start(F.u, &o, &CBS, &r, &err));
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_CONNECT);
  assert_int_equal(r.responses, 0);
  res_free(&r);

  /* No URL is an error from start, not a callback. */
  kl_upstream_opts bad = {.method = "GET", .use_curl = true};
  assert_null(kl_upstream_start(F.u, &bad, &CBS, &r, &err));
  assert_false(kl_err_ok(&err));
}

static void test_connection_reuse(void **st) {
  (void)st;
  for (int i = 0; i < 3; i++) {
    res r = {0};
    start_get(i == 1 ? "/500" : "/cl", &r, NULL);
    assert_true(run_until(done1, &r, 10000));
    assert_int_equal(r.st, KL_UP_OK);
    res_free(&r);
  }
  assert_int_equal(srv_get(F.s, &F.s->requests), 3);
  assert_int_equal(srv_get(F.s, &F.s->accepts), 1);
}

static void test_cancel_inside_on_data(void **st) {
  (void)st;
  res r = {.cancel_in_data = true};
  start_get("/slow", &r, NULL);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000)); /* the aborted transfer's socket closed */
  assert_int_equal(kl_upstream_active(F.u), 0);
  run_until(never, NULL, 50);
  assert_int_equal(r.datas, 1);
  assert_int_equal(r.dones, 0);
  res_free(&r);
}

static void test_cancel_inside_on_response(void **st) {
  (void)st;
  res r = {.cancel_in_response = true};
  start_get("/slow", &r, NULL);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  run_until(never, NULL, 50);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.datas, 0);
  assert_int_equal(r.dones, 0);
  assert_int_equal(kl_upstream_active(F.u), 0);
  res_free(&r);
}

static void test_cancel_outside_callbacks(void **st) {
  (void)st;
  res r = {0};
  kl_upstream_call *c = start_get("/hang", &r, NULL);
  run_until(never, NULL, 50);
  kl_upstream_cancel(c);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  assert_int_equal(r.dones, 0);
  assert_int_equal(kl_upstream_active(F.u), 0);
  kl_upstream_cancel(NULL);
  res_free(&r);
}

static void test_on_data_abort(void **st) {
  (void)st;
  res r = {.abort_in_data = 1};
  start_get("/slow", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_ERROR);
  assert_int_equal(r.datas, 1);
  assert_non_null(strstr(r.err, "on_data"));
  res_free(&r);
}

static void test_cancel_from_other_on_done(void **st) {
  (void)st;
  res hang = {0}, fast = {0};
  kl_upstream_call *h = start_get("/hang", &hang, NULL);
  fast.cancel_on_done = h;
  start_get("/cl", &fast, NULL);
  assert_true(run_until(done1, &fast, 10000));
  assert_int_equal(fast.st, KL_UP_OK);
  assert_int_equal(kl_upstream_active(F.u), 0);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  assert_int_equal(hang.dones, 0);
  res_free(&hang);
  res_free(&fast);
}

static void test_start_inside_on_data(void **st) {
  (void)st;
  res a = {0}, b = {0};
  a.start_in_data = &b;
  start_get("/cl", &a, NULL);
  assert_true(run_until(done1, &b, 10000));
  assert_true(run_until(done1, &a, 10000));
  assert_int_equal(a.st, KL_UP_OK);
  assert_int_equal(b.st, KL_UP_OK);
  assert_string_equal(b.body.data, "hello");
  res_free(&a);
  res_free(&b);
}

static void test_start_and_free_inside_on_done(void **st) {
  (void)st;
  res a = {0}, b = {0}, hang = {0};
  a.start_in_done = &b;  /* a fails, b is the "retry" started from a's on_done */
  b.free_in_done = true; /* and b tears the client down with a call still in flight */
  start_get("/hang", &hang, NULL);
  kl_upstream_opts o = {.first_byte_timeout_ms = 50};
  start_get("/hang", &a, &o);
  assert_true(run_until(done1, &b, 10000));
  assert_int_equal(a.st, KL_UP_TTFB_TIMEOUT);
  assert_int_equal(b.st, KL_UP_OK);
  assert_string_equal(b.body.data, "hello");
  assert_null(F.u);
  int two = 2; /* both /hang connections were dropped */
  assert_true(run_until(server_saw_close, &two, 10000));
  assert_int_equal(hang.dones, 0);
  assert_int_equal(a.dones, 1);
  assert_int_equal(b.dones, 1);
  res_free(&a);
  res_free(&b);
  res_free(&hang);
}

static void test_free_with_calls_in_flight(void **st) {
  (void)st;
  res r[3] = {{0}};
  for (int i = 0; i < 3; i++) start_get(i == 2 ? "/slow" : "/hang", &r[i], NULL);
  int three = 3;
  run_until(never, NULL, 100);
  kl_upstream_free(F.u);
  F.u = NULL;
  assert_true(run_until(server_saw_close, &three, 10000));
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i].dones, 0);
    res_free(&r[i]);
  }
}

static void test_free_inside_on_data(void **st) {
  (void)st;
  res a = {.free_in_data = true}, b = {0};
  start_get("/hang", &b, NULL);
  start_get("/slow", &a, NULL);
  int two = 2;
  assert_true(run_until(server_saw_close, &two, 10000));
  assert_null(F.u);
  assert_int_equal(a.datas, 1);
  assert_int_equal(a.dones + b.dones, 0);
  res_free(&a);
  res_free(&b);
}

#define NCONC 100
static void test_many_concurrent(void **st) {
  (void)st;
  static res r[NCONC];
  static char bodies[NCONC][32];
  memset(r, 0, sizeof r);
  for (int i = 0; i < NCONC; i++) {
    snprintf(bodies[i], sizeof bodies[i], "body-%d", i);
    kl_upstream_opts o = {.method = "POST", .body = bodies[i], .body_len = strlen(bodies[i])};
    start_opts("/echo", &r[i], o);
  }
  assert_int_equal(kl_upstream_active(F.u), NCONC);
  int done = 0;
  for (int i = 0; i < NCONC; i++) {
    assert_true(run_until(done1, &r[i], 30000));
    assert_int_equal(r[i].st, KL_UP_OK);
    assert_int_equal(r[i].dones, 1);
    assert_string_equal(r[i].body.data, bodies[i]);
    done++;
  }
  assert_int_equal(done, NCONC);
  assert_int_equal(kl_upstream_active(F.u), 0);
  assert_int_equal(srv_get(F.s, &F.s->requests), NCONC);
  /* A second wave reuses the pooled connections. */
  int accepts = srv_get(F.s, &F.s->accepts);
  for (int i = 0; i < NCONC; i++) {
    res_free(&r[i]);
    memset(&r[i], 0, sizeof r[i]);
    kl_upstream_opts o = {.method = "POST", .body = bodies[i], .body_len = strlen(bodies[i])};
    start_opts("/echo", &r[i], o);
  }
  for (int i = 0; i < NCONC; i++) {
    assert_true(run_until(done1, &r[i], 30000));
    assert_int_equal(r[i].st, KL_UP_OK);
    assert_string_equal(r[i].body.data, bodies[i]);
    res_free(&r[i]);
  }
  /* Every pooled connection was reused; only the shortfall (if the first wave needed
   * fewer than NCONC connections) may have been opened. */
  assert_true(accepts <= NCONC);
  assert_true(srv_get(F.s, &F.s->accepts) <= NCONC);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_content_length),
      T(test_post_request_seen_by_server),
      T(test_chunked_streams_as_it_arrives),
      T(test_interim_response_skipped),
      T(test_500_is_ok),
      T(test_close_mid_body_is_reset),
      T(test_first_byte_timeout),
      T(test_first_byte_timeout_stops_at_first_byte),
      T(test_total_timeout),
      T(test_connection_refused),
      T(test_connection_reuse),
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
