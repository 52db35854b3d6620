/* test_net_http_parse.c: the request parser (kl_hp) without sockets: request line and
 * header handling, bodies, limits, pipelining, and input split at every byte. */
#include "net/http_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef struct {
  kl_hp hp;
  kl_http_req req;
  kl_arena *arena;
} fx;

static void fx_init(fx *f, size_t max_head, size_t max_body) {
  memset(f, 0, sizeof *f);
  kl_hp_init(&f->hp, max_head, max_body);
  f->arena = kl_arena_new(0);
  f->req.arena = f->arena;
  kl_hp_begin(&f->hp, &f->req);
}

static void fx_next(fx *f) {
  kl_arena_reset(f->arena);
  memset(&f->req, 0, sizeof f->req);
  f->req.arena = f->arena;
  kl_hp_begin(&f->hp, &f->req);
}

static void fx_free(fx *f) {
  kl_hp_free(&f->hp);
  kl_arena_free(f->arena);
}

/* Feeds s in pieces of `step` bytes (0 = all at once) until an event other than HEAD/MORE;
 * returns it and stores the number of bytes consumed in *used_total. */
static kl_hp_ev feed_all(fx *f, const char *s, size_t len, size_t step, size_t *used_total, bool *saw_head) {
  size_t off = 0;
  if (saw_head) *saw_head = false;
  while (off < len) {
    size_t n = step ? step : len - off;
    if (n > len - off) n = len - off;
    size_t used;
    kl_hp_ev ev = kl_hp_feed(&f->hp, s + off, n, &used);
    off += used;
    if (ev == KL_HP_HEAD) {
      if (saw_head) *saw_head = true;
      continue;
    }
    if (ev == KL_HP_MSG || ev == KL_HP_ERR) {
      if (used_total) *used_total = off;
      return ev;
    }
    assert_int_equal(used, n);
  }
  if (used_total) *used_total = off;
  return KL_HP_MORE;
}

static void test_simple_get(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 65536, 1 << 20);
  const char *r = "GET /v1/models?a=1&b=x%20y HTTP/1.1\r\nHost: example\r\nX-Mixed-Case:   padded value \t\r\n"
                  "Empty:\r\n\r\n";
  size_t used;
  assert_int_equal(feed_all(&f, r, strlen(r), 0, &used, NULL), KL_HP_MSG);
  assert_int_equal(used, strlen(r));
  assert_string_equal(f.req.method, "GET");
  assert_string_equal(f.req.target, "/v1/models?a=1&b=x%20y");
  assert_string_equal(f.req.path, "/v1/models");
  assert_string_equal(f.req.query, "a=1&b=x%20y");
  assert_int_equal(f.req.nheaders, 3);
  assert_string_equal(f.req.headers[0].name, "host");
  assert_string_equal(f.req.headers[0].value, "example");
  assert_string_equal(f.req.headers[1].name, "x-mixed-case");
  assert_string_equal(f.req.headers[1].value, "padded value");
  assert_string_equal(f.req.headers[2].name, "empty");
  assert_string_equal(f.req.headers[2].value, "");
  assert_string_equal(kl_http_header_get(&f.req, "x-mixed-case"), "padded value");
  assert_null(kl_http_header_get(&f.req, "nope"));
  assert_int_equal(f.req.body_len, 0);
  assert_string_equal(f.req.body, "");
  assert_true(f.hp.keep_alive);
  fx_free(&f);
}

static void test_post_content_length_every_split(void **state) {
  (void)state;
  const char *r = "POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\n"
                  "Content-Length: 13\r\n\r\n{\"a\":\"hello\"}";
  for (size_t step = 1; step <= strlen(r); step++) {
    fx f;
    fx_init(&f, 65536, 1 << 20);
    size_t used;
    bool head;
    assert_int_equal(feed_all(&f, r, strlen(r), step, &used, &head), KL_HP_MSG);
    assert_true(head);
    assert_int_equal(used, strlen(r));
    assert_string_equal(f.req.method, "POST");
    assert_string_equal(f.req.path, "/v1/chat/completions");
    assert_int_equal(f.req.body_len, 13);
    assert_string_equal(f.req.body, "{\"a\":\"hello\"}");
    assert_string_equal(kl_http_header_get(&f.req, "content-type"), "application/json");
    fx_free(&f);
  }
}

static void test_chunked_every_split(void **state) {
  (void)state;
  const char *r = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: yes\r\n\r\n";
  for (size_t step = 1; step <= strlen(r); step++) {
    fx f;
    fx_init(&f, 65536, 1 << 20);
    size_t used;
    assert_int_equal(feed_all(&f, r, strlen(r), step, &used, NULL), KL_HP_MSG);
    assert_int_equal(used, strlen(r));
    assert_int_equal(f.req.body_len, 12);
    assert_string_equal(f.req.body, "hello, world");
    assert_int_equal(f.req.nheaders, 1); /* trailers are not headers */
    fx_free(&f);
  }
}

static void test_pipelined(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 65536, 1 << 20);
  const char *r = "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
  size_t len = strlen(r), off = 0, used;
  const char *paths[] = {"/a", "/b", "/c"};
  for (int i = 0; i < 3; i++) {
    kl_hp_ev ev = feed_all(&f, r + off, len - off, 0, &used, NULL);
    assert_int_equal(ev, KL_HP_MSG);
    assert_string_equal(f.req.path, paths[i]);
    assert_int_equal(f.hp.keep_alive, i < 2);
    if (i == 1) assert_string_equal(f.req.body, "hi");
    off += used;
    fx_next(&f);
  }
  assert_int_equal(off, len);
  fx_free(&f);
}

static void test_keepalive_rules(void **state) {
  (void)state;
  struct { const char *req; bool keep; } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fx f;
    fx_init(&f, 65536, 1 << 20);
    assert_int_equal(feed_all(&f, cases[i].req, strlen(cases[i].req), 0, NULL, NULL), KL_HP_MSG);
    assert_int_equal(f.hp.keep_alive, cases[i].keep);
    fx_free(&f);
  }
}

static void test_expect_continue(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 65536, 100);
  const char *h = "POST /u HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
  size_t used;
  assert_int_equal(kl_hp_feed(&f.hp, h, strlen(h), &used), KL_HP_HEAD);
  assert_int_equal(used, strlen(h));
  assert_true(f.hp.expect_continue);
  assert_int_equal(kl_hp_feed(&f.hp, "abcd", 4, &used), KL_HP_MSG);
  assert_string_equal(f.req.body, "abcd");
  fx_free(&f);

  fx_init(&f, 65536, 100);
  h = "POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n";
  assert_int_equal(kl_hp_feed(&f.hp, h, strlen(h), &used), KL_HP_ERR);
  assert_int_equal(f.hp.err_status, 413);
  fx_free(&f);
}

static void test_body_limits(void **state) {
  (void)state;
  fx f;
  fx_init(&f, 65536, 10);
  const char *r = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
  assert_int_equal(feed_all(&f, r, strlen(r), 0, NULL, NULL), KL_HP_ERR);
  assert_int_equal(f.hp.err_status, 413);
  assert_string_equal(f.hp.err_code, "request_too_large");
  fx_free(&f);

  fx_init(&f, 65536, 10);
  r = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
  assert_int_equal(feed_all(&f, r, strlen(r), 0, NULL, NULL), KL_HP_MSG);
  fx_free(&f);

  fx_init(&f, 65536, 10);
  r = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n01234\r\n0\r\n\r\n";
  assert_int_equal(feed_all(&f, r, strlen(r), 3, NULL, NULL), KL_HP_ERR);
  assert_int_equal(f.hp.err_status, 413);
  fx_free(&f);
}

static void test_header_limit(void **state) {
  (void)state;
  char big[600];
  int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Big: %0400d\r\n\r\n", 7);
  /* exactly at the limit is fine, one byte less is not */
  for (size_t step = 0; step <= 7; step += 7) {
    fx f;
    fx_init(&f, (size_t)n, 10);
    assert_int_equal(feed_all(&f, big, (size_t)n, step, NULL, NULL), KL_HP_MSG);
    fx_free(&f);
    fx_init(&f, (size_t)n - 1, 10);
    assert_int_equal(feed_all(&f, big, (size_t)n, step, NULL, NULL), KL_HP_ERR);
    assert_int_equal(f.hp.err_status, 431);
    fx_free(&f);
  }
  /* an endless header is cut without buffering it all */
  fx f;
  fx_init(&f, 1024, 10);
  const char *start = "GET / HTTP/1.1\r\nX: ";
  size_t used;
  assert_int_equal(kl_hp_feed(&f.hp, start, strlen(start), &used), KL_HP_MORE);
  char junk[4096];
  memset(junk, 'a', sizeof junk);
  kl_hp_ev ev = KL_HP_MORE;
  for (int i = 0; i < 10 && ev == KL_HP_MORE; i++) ev = kl_hp_feed(&f.hp, junk, sizeof junk, &used);
  assert_int_equal(ev, KL_HP_ERR);
  assert_int_equal(f.hp.err_status, 431);
  assert_true(f.hp.value.len <= 1024);
  fx_free(&f);
}

static void test_garbage(void **state) {
  (void)state;
  const char *bad[] = {
      "\x01\x02garbage\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET / HTTP/2.0\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fx f;
    fx_init(&f, 65536, 1 << 20);
    kl_hp_ev ev = feed_all(&f, bad[i], strlen(bad[i]), 0, NULL, NULL);
    if (ev != KL_HP_ERR) fail_msg("accepted: %s", bad[i]);
    assert_int_equal(f.hp.err_status, 400);
    assert_true(strlen(f.hp.err_msg) > 0);
    /* a dead parser stays dead */
    size_t used;
    assert_int_equal(kl_hp_feed(&f.hp, "GET / HTTP/1.1\r\n\r\n", 18, &used), KL_HP_ERR);
    fx_free(&f);
  }
}

static void test_query_get(void **state) {
  (void)state;
  kl_http_req req;
  memset(&req, 0, sizeof req);
  req.arena = kl_arena_new(0);
  req.query = "a=1&name=J%C3%B6rg+Smith&flag&empty=&a%62c=x&bad=%zz%4";
  assert_string_equal(kl_http_query_get(&req, "a"), "1");
  assert_string_equal(kl_http_query_get(&req, "name"), "J\xc3\xb6rg Smith");
  assert_string_equal(kl_http_query_get(&req, "flag"), "");
  assert_string_equal(kl_http_query_get(&req, "empty"), "");
  assert_string_equal(kl_http_query_get(&req, "abc"), "x");
  assert_string_equal(kl_http_query_get(&req, "bad"), "%zz%4");
  assert_null(kl_http_query_get(&req, "missing"));
  assert_null(kl_http_query_get(&req, "nam"));
  req.query = "";
  assert_null(kl_http_query_get(&req, "a"));
  kl_arena_free(req.arena);
}

static void test_status_text(void **state) {
  (void)state;
  assert_string_equal(kl_http_status_text(200), "OK");
  assert_string_equal(kl_http_status_text(404), "Not Found");
  assert_string_equal(kl_http_status_text(413), "Content Too Large");
  assert_string_equal(kl_http_status_text(429), "Too Many Requests");
  assert_string_equal(kl_http_status_text(431), "Request Header Fields Too Large");
  assert_string_equal(kl_http_status_text(502), "Bad Gateway");
  assert_non_null(kl_http_status_text(799));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simple_get),
      cmocka_unit_test(test_post_content_length_every_split),
      cmocka_unit_test(test_chunked_every_split),
      cmocka_unit_test(test_pipelined),
      cmocka_unit_test(test_keepalive_rules),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_body_limits),
      cmocka_unit_test(test_header_limit),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_query_get),
      cmocka_unit_test(test_status_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
