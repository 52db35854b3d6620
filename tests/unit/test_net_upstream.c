/* test_net_upstream.c: the curl-on-libuv upstream client (use_curl = true: http:// would
 * otherwise take the built-in client, tested in test_net_upstream_h1.c) against a tiny raw
 * HTTP server running in threads of this process (upstream_test_server.h), through the
 * scenarios both clients share (upstream_test_cases.h) and curl's own POST path.  Streaming is
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
#include "upstream_test_cases.h"

/* ================= tests ================= */

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
