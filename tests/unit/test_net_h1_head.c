/* test_net_h1_head.c: the request heads the built-in HTTP/1.1 client writes (upstream_h1.c)
 * when its shortcuts are in play: the one-entry URL cache (the same URL again, another URL,
 * back, a URL too long to keep, a host given by the caller), more header lines than fit the
 * stack (the malloc'd path), and calls and arenas reused from the pool's spares, including a
 * head larger than a reused call's room.  Every head is compared byte for byte with what the
 * server received. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define UPSTREAM_TEST_USE_CURL 0
#include "upstream_test_client.h"

/* Sends one request and checks the head the server saw (the URL built here: start_host's
 * buffer is too short for the long-URL case). */
static void one(const char *path, kl_upstream_opts o, const char *want_head, const char *want_body) {
  res r = {0};
  char url[1024];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", F.s->port, path);
  o.url = url;
  kl_err err = {0, ""};
  r.call = kl_upstream_start(F.u, &o, &CBS, &r, &err);
  assert_non_null(r.call);
  assert_int_equal(kl_up_kind(r.call), KL_UP_KIND_H1);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  char h[8192], b[8192];
  snap(F.s, h, b);
  assert_string_equal(h, want_head);
  assert_string_equal(b, want_body);
  res_free(&r);
}

static void test_url_cache(void **st) {
  (void)st;
  char want[1024];
  static const char *hdrs[] = {"X-A: 1"};
  kl_upstream_opts o = {.method = "POST", .headers = hdrs, .nheaders = 1, .body = "x", .body_len = 1};
  const char *paths[] = {"/echo", "/echo", "/echo?q=1", "/echo", "/echo#f", "/echo?q=1", "/echo"};
  const char *sent[] = {"/echo", "/echo", "/echo?q=1", "/echo", "/echo", "/echo?q=1", "/echo"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    snprintf(want, sizeof want, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-A: 1\r\nContent-Length: 1\r\n\r\n",
             sent[i], F.s->port);
    one(paths[i], o, want, "x");
  }
  /* a URL longer than the cache keeps: parsed each time, the same head */
  char longp[400] = "/echo?";
  size_t n = strlen(longp);
  while (n < 300) longp[n++] = 'q';
  longp[n] = 0;
  for (int i = 0; i < 2; i++) {
    snprintf(want, sizeof want, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-A: 1\r\nContent-Length: 1\r\n\r\n",
             longp, F.s->port);
    one(longp, o, want, "x");
  }
  /* the caller's Host replaces the cached Host line */
  static const char *own_host[] = {"host: example.test", "X-A: 1"};
  kl_upstream_opts oh = {.method = "POST", .headers = own_host, .nheaders = 2, .body = "x", .body_len = 1};
  one("/echo", oh, "POST /echo HTTP/1.1\r\nhost: example.test\r\nX-A: 1\r\nContent-Length: 1\r\n\r\n", "x");
  snprintf(want, sizeof want, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-A: 1\r\nContent-Length: 1\r\n\r\n",
           F.s->port);
  one("/echo", o, want, "x");
}

static void test_many_header_lines(void **st) {
  (void)st;
  /* 40 lines: past the 16 kept on the stack; NULL, "Name:" (not sent), "Name;" (empty) and
   * "Name: " (blank value: not sent) mixed in */
  const char *hdrs[40];
  char store[40][32];
  kl_buf want = KL_BUF_INIT;
  kl_buf_printf(&want, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", F.s->port);
  for (int i = 0; i < 40; i++) {
    switch (i % 5) {
      case 0: snprintf(store[i], sizeof store[i], "X-H%d: v%d", i, i); break;
      case 1: snprintf(store[i], sizeof store[i], "X-Drop%d:", i); break;
      case 2: snprintf(store[i], sizeof store[i], "X-Semi%d;", i); break;
      case 3: snprintf(store[i], sizeof store[i], "X-Blank%d: \t ", i); break;
      default: break;
    }
    hdrs[i] = i % 5 == 4 ? NULL : store[i];
    if (i % 5 == 0) kl_buf_printf(&want, "X-H%d: v%d\r\n", i, i);
    if (i % 5 == 2) kl_buf_printf(&want, "X-Semi%d:\r\n", i);
  }
  kl_buf_puts(&want, "Content-Length: 2\r\n\r\n");
  kl_upstream_opts o = {.method = "POST", .headers = hdrs, .nheaders = 40, .body = "hi", .body_len = 2};
  one("/echo", o, want.data, "hi");
  /* a head larger than a reused call's room gets a fresh call; then a small one reuses */
  char big[1500];
  memset(big, 'v', sizeof big - 1);
  memcpy(big, "X-Big: ", 7);
  big[sizeof big - 1] = 0;
  const char *bh[] = {big};
  kl_upstream_opts ob = {.method = "POST", .headers = bh, .nheaders = 1, .body = "hi", .body_len = 2};
  kl_buf_reset(&want);
  kl_buf_printf(&want, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\nContent-Length: 2\r\n\r\n", F.s->port, big);
  one("/echo", ob, want.data, "hi");
  kl_buf_reset(&want);
  kl_buf_printf(&want, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 2\r\n\r\n", F.s->port);
  kl_upstream_opts os = {.method = "POST", .body = "hi", .body_len = 2};
  for (int i = 0; i < 20; i++) one("/echo", os, want.data, "hi"); /* more than the spares kept */
  kl_buf_free(&want);
}

/* Response headers land in arenas reused across calls: each call sees only its own. */
static void test_response_headers_reused_arena(void **st) {
  (void)st;
  for (int i = 0; i < 12; i++) {
    res r = {0};
    start_get("/cl", &r, NULL);
    assert_true(run_until(done1, &r, 10000));
    assert_int_equal(r.st, KL_UP_OK);
    assert_string_equal(r.hdrs, "content-type=text/plain;x-foo=bar;x-empty=;content-length=5;");
    assert_string_equal(r.body.data, "hello");
    res_free(&r);
  }
}

int main(void) {
  (void)never; /* shared helpers this suite does not need */
  (void)server_saw_close;
  (void)srv_get_size;
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_url_cache),
      T(test_many_header_lines),
      T(test_response_headers_reused_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
