/* test_net_http.c: the HTTP server over real sockets.  The server runs in a background
 * thread (kl_http_server_run) on 127.0.0.1:0; the test thread talks to it with plain
 * blocking sockets (with a receive timeout, so a bug fails a test instead of hanging). */
#include "net/kl_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net_test_harness.h"

/* ---------------- handlers ---------------- */

static atomic_int g_aborts, g_dispatched, g_acked, g_pending_seen;

typedef struct tctx {
  uv_timer_t t;
  kl_http_req *req;
  int n, sent;
} tctx;

static void tctx_free(uv_handle_t *h) { free(h->data); }
static void tctx_finish(tctx *x) {
  uv_timer_stop(&x->t);
  uv_close((uv_handle_t *)&x->t, tctx_free);
}

static tctx *tctx_new(kl_http_req *req) {
  tctx *x = calloc(1, sizeof *x);
  x->req = req;
  uv_timer_init(req->loop, &x->t);
  x->t.data = x;
  return x;
}

static void on_any_abort(kl_http_req *req, void *ud) {
  tctx *x = ud;
  atomic_fetch_add(&g_aborts, 1);
  CHECK(kl_http_aborted(req));
  CHECK(kl_http_stream_write(req, "x", 1) == -1);
  kl_http_stream_end(req); /* a completing call is still owed */
  tctx_finish(x);
}

static void on_delay(uv_timer_t *t) {
  tctx *x = t->data;
  kl_http_respond(x->req, 200, "text/plain", "delayed", 7);
  tctx_finish(x);
}

/* Sends chunk i+1 only once the test has read chunk i: proves nothing is buffered. */
static void on_gate(uv_timer_t *t) {
  tctx *x = t->data;
  if (atomic_load(&g_acked) < x->sent) return;
  if (x->sent == x->n) {
    kl_http_stream_end(x->req);
    tctx_finish(x);
    return;
  }
  char msg[32];
  int n = snprintf(msg, sizeof msg, "data: %d\n\n", x->sent);
  CHECK(kl_http_stream_write(x->req, msg, (size_t)n) == 0);
  x->sent++;
}

static void on_forever(uv_timer_t *t) {
  tctx *x = t->data;
  kl_http_stream_write(x->req, "data: tick\n\n", 12);
}

static void on_flood(uv_timer_t *t) {
  tctx *x = t->data;
  static char block[256 * 1024];
  if (kl_http_stream_pending(x->req) > 0) atomic_store(&g_pending_seen, 1);
  if (kl_http_stream_pending(x->req) < 1024 * 1024) kl_http_stream_write(x->req, block, sizeof block);
}

static void handler(kl_http_req *req) {
  atomic_fetch_add(&g_dispatched, 1);
  char buf[256];
  if (!strcmp(req->path, "/hello")) {
    kl_http_respond(req, 200, "text/plain", "hello", 5);
  } else if (!strcmp(req->path, "/echo")) {
    kl_buf b = KL_BUF_INIT;
    const char *ct = kl_http_header_get(req, "content-type");
    kl_buf_printf(&b, "%s %s ct=%s len=%zu body=", req->method, req->target, ct ? ct : "-", req->body_len);
    kl_buf_append(&b, req->body, req->body_len);
    kl_http_header extra[] = {{"X-Test", "yes"}, {"Content-Length", "999"}};
    kl_http_respond_ex(req, 200, "text/plain", extra, 2, b.data, b.len);
    kl_buf_free(&b);
  } else if (!strcmp(req->path, "/query")) {
    const char *name = kl_http_query_get(req, "name");
    const char *x = kl_http_query_get(req, "x");
    int n = snprintf(buf, sizeof buf, "%s|%s", name ? name : "(null)", x ? x : "(null)");
    kl_http_respond(req, 200, "text/plain", buf, (size_t)n);
  } else if (!strcmp(req->path, "/worker")) {
    int n = snprintf(buf, sizeof buf, "%d", req->worker_index);
    CHECK(req->worker != NULL);
    CHECK(strncmp(req->peer, "127.0.0.1:", 10) == 0);
    kl_http_respond(req, 200, "text/plain", buf, (size_t)n);
  } else if (!strcmp(req->path, "/delay")) {
    const char *ms = kl_http_query_get(req, "ms");
    tctx *x = tctx_new(req);
    kl_http_on_abort(req, on_any_abort, x);
    uv_timer_start(&x->t, on_delay, (uint64_t)atoi(ms ? ms : "100"), 0);
  } else if (!strcmp(req->path, "/gated")) {
    tctx *x = tctx_new(req);
    x->n = 3;
    kl_http_on_abort(req, on_any_abort, x);
    kl_http_stream_begin(req, 200, "text/event-stream", NULL, 0);
    uv_timer_start(&x->t, on_gate, 0, 5);
  } else if (!strcmp(req->path, "/forever")) {
    tctx *x = tctx_new(req);
    kl_http_on_abort(req, on_any_abort, x);
    kl_http_stream_begin(req, 200, "text/event-stream", NULL, 0);
    kl_http_stream_write(req, "data: first\n\n", 13);
    uv_timer_start(&x->t, on_forever, 10, 10);
  } else if (!strcmp(req->path, "/flood")) {
    tctx *x = tctx_new(req);
    kl_http_on_abort(req, on_any_abort, x);
    kl_http_stream_begin(req, 200, "application/octet-stream", NULL, 0);
    uv_timer_start(&x->t, on_flood, 0, 2);
  } else if (!strcmp(req->path, "/reset")) {
    kl_http_reset(req);
  } else {
    kl_http_respond(req, 404, "application/json", "{}", 2);
  }
}

/* ---------------- server harness ---------------- */

static kl_http_server_opts base_opts(void) { return harness_opts(handler); }

static void srv_start(srv_t *t, const kl_http_server_opts *o) {
  atomic_store(&g_aborts, 0);
  atomic_store(&g_dispatched, 0);
  atomic_store(&g_acked, 0);
  atomic_store(&g_pending_seen, 0);
  harness_start(t, o);
}

/* ---------------- tests ---------------- */

static void test_get_and_post(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  resp r;
  roundtrip(t.port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello");
  assert_true(head_has(&r, "Content-Type: text/plain"));
  assert_false(head_has(&r, "Connection: close"));

  roundtrip(t.port,
            "POST /echo?a=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 11\r\n\r\n{\"k\":\"v\"}\r\n",
            &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "POST /echo?a=1 ct=application/json len=11 body={\"k\":\"v\"}\r\n");
  assert_true(head_has(&r, "X-Test: yes"));
  assert_false(head_has(&r, "999")); /* framing headers from handlers are dropped */

  roundtrip(t.port, "GET /nope HTTP/1.1\r\n\r\n", &r);
  assert_int_equal(r.status, 404);
  srv_stop(&t);
}

static void test_keepalive_and_close(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  resp r;
  for (int i = 0; i < 3; i++) {
    SEND(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    read_resp(&c, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
  }
  SEND(&c, "HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
  read_head(&c, &r); /* HEAD: the length of the body that is not sent */
  assert_true(head_has(&r, "Content-Length: 5"));
  read_resp(&c, &r);
  assert_string_equal(r.body, "hello");
  SEND(&c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
  read_resp(&c, &r);
  assert_true(head_has(&r, "Connection: close"));
  assert_true(cli_eof(&c));
  cli_close(&c);

  cli_open(&c, t.port); /* HTTP/1.0 closes unless asked */
  SEND(&c, "GET /hello HTTP/1.0\r\n\r\n");
  read_resp(&c, &r);
  assert_string_equal(r.body, "hello");
  assert_true(head_has(&r, "Connection: close"));
  assert_true(cli_eof(&c));
  cli_close(&c);

  cli_open(&c, t.port);
  SEND(&c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  read_resp(&c, &r);
  read_resp(&c, &r);
  assert_false(head_has(&r, "Connection: close"));
  assert_true(head_has(&r, "Connection: keep-alive"));
  cli_close(&c);
  srv_stop(&t);
}

static void test_pipelined(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  /* the delayed one comes first: the others must wait for it */
  SEND(&c, "GET /delay?ms=100 HTTP/1.1\r\n\r\n"
           "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
           "GET /hello HTTP/1.1\r\n\r\n"
           "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n");
  resp r;
  read_resp(&c, &r);
  assert_string_equal(r.body, "delayed");
  read_resp(&c, &r);
  assert_string_equal(r.body, "POST /echo ct=- len=3 body=abc");
  read_resp(&c, &r);
  assert_string_equal(r.body, "hello");
  read_resp(&c, &r);
  assert_string_equal(r.body, "POST /echo ct=- len=2 body=xy");
  cli_close(&c);
  srv_stop(&t);
}

static void test_chunked_request(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  SEND(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  usleep(20000); /* the rest arrives in a separate read */
  SEND(&c, "6\r\n world\r\n0\r\n\r\n");
  resp r;
  read_resp(&c, &r);
  assert_string_equal(r.body, "POST /echo ct=- len=11 body=hello world");
  cli_close(&c);
  srv_stop(&t);
}

static void expect_error(cli *c, int status, const char *code) {
  resp r;
  read_resp(c, &r);
  assert_int_equal(r.status, status);
  assert_true(head_has(&r, "Content-Type: application/json"));
  assert_true(head_has(&r, "Connection: close"));
  assert_non_null(strstr(r.body, "{\"error\":{\"message\":"));
  assert_non_null(strstr(r.body, "\"type\":\"invalid_request_error\",\"param\":null"));
  char want[96];
  snprintf(want, sizeof want, "\"code\":\"%s\"}}", code);
  assert_non_null(strstr(r.body, want));
  assert_true(cli_eof(c));
}

static void test_limits(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  o.max_body_bytes = 1024;
  o.max_header_bytes = 1024;
  srv_start(&t, &o);
  cli c;

  cli_open(&c, t.port); /* 413 from Content-Length, before the body is sent */
  SEND(&c, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
  expect_error(&c, 413, "request_too_large");
  cli_close(&c);

  cli_open(&c, t.port); /* 413 while reading a chunked body */
  SEND(&c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  char chunk[600];
  memset(chunk, 'z', sizeof chunk);
  memcpy(chunk, "200\r\n", 5);
  memcpy(chunk + 5 + 512, "\r\n", 2);
  for (int i = 0; i < 3; i++) cli_send(&c, chunk, 5 + 512 + 2);
  expect_error(&c, 413, "request_too_large");
  cli_close(&c);

  cli_open(&c, t.port); /* 431 */
  char big[2048];
  snprintf(big, sizeof big, "GET /hello HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 1);
  SEND(&c, big);
  expect_error(&c, 431, "request_header_fields_too_large");
  cli_close(&c);

  cli_open(&c, t.port); /* 400 */
  SEND(&c, "\x16\x03\x01 this is not http\r\n\r\n");
  expect_error(&c, 400, "bad_request");
  cli_close(&c);

  cli_open(&c, t.port); /* a good request after the errors: the server is fine */
  SEND(&c, "GET /hello HTTP/1.1\r\n\r\n");
  resp r;
  read_resp(&c, &r);
  assert_string_equal(r.body, "hello");
  cli_close(&c);
  srv_stop(&t);
}

static void test_timeouts(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  o.header_timeout_ms = 200;
  o.body_timeout_ms = 200;
  o.idle_timeout_ms = 200;
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  SEND(&c, "GET /hello HTTP/1.1\r\nHost: x");
  expect_error(&c, 408, "request_timeout");
  cli_close(&c);

  cli_open(&c, t.port);
  SEND(&c, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  expect_error(&c, 408, "request_timeout");
  cli_close(&c);

  cli_open(&c, t.port); /* idle keep-alive connection: closed silently */
  SEND(&c, "GET /hello HTTP/1.1\r\n\r\n");
  resp r;
  read_resp(&c, &r);
  assert_int_equal(r.status, 200);
  assert_true(cli_eof(&c));
  cli_close(&c);
  srv_stop(&t);
}

static void test_streaming(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  SEND(&c, "GET /gated HTTP/1.1\r\n\r\n");
  resp r;
  memset(&r, 0, sizeof r);
  read_head(&c, &r);
  assert_int_equal(r.status, 200);
  assert_true(head_has(&r, "Transfer-Encoding: chunked"));
  assert_true(head_has(&r, "Content-Type: text/event-stream"));
  assert_false(head_has(&r, "Content-Length"));
  char chunk[256];
  for (int i = 0; i < 3; i++) {
    read_chunk(&c, chunk, sizeof chunk);
    char want[32];
    snprintf(want, sizeof want, "data: %d\n\n", i);
    assert_string_equal(chunk, want);
    atomic_fetch_add(&g_acked, 1); /* the server sends the next chunk only now */
  }
  assert_int_equal(read_chunk(&c, chunk, sizeof chunk), 0); /* last chunk (+ final CRLF) */
  assert_int_equal(c.len, 0);
  SEND(&c, "GET /hello HTTP/1.1\r\n\r\n"); /* the connection is reusable */
  read_resp(&c, &r);
  assert_string_equal(r.body, "hello");
  cli_close(&c);

  /* HTTP/1.0 has no chunked encoding: raw body, ended by closing */
  atomic_store(&g_acked, 100);
  cli_open(&c, t.port);
  SEND(&c, "GET /gated HTTP/1.0\r\n\r\n");
  read_head(&c, &r);
  assert_false(head_has(&r, "Transfer-Encoding"));
  assert_true(head_has(&r, "Connection: close"));
  while (cli_fill(&c) > 0) {
  }
  c.buf[c.len] = 0;
  assert_string_equal(c.buf, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  cli_close(&c);
  assert_int_equal(atomic_load(&g_aborts), 0);
  srv_stop(&t);
}

static void test_abort_mid_stream(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  SEND(&c, "GET /forever HTTP/1.1\r\n\r\n");
  resp r;
  read_head(&c, &r);
  char chunk[256];
  read_chunk(&c, chunk, sizeof chunk);
  assert_string_equal(chunk, "data: first\n\n");
  cli_close(&c);
  wait_for(&g_aborts, 1);
  usleep(50000);
  assert_int_equal(atomic_load(&g_aborts), 1); /* exactly once */
  srv_stop(&t);
}

static void test_write_timeout(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  o.write_timeout_ms = 300;
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  int small = 4096;
  setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  SEND(&c, "GET /flood HTTP/1.1\r\n\r\n"); /* and never read */
  wait_for(&g_aborts, 1);
  assert_int_equal(atomic_load(&g_pending_seen), 1);
  cli_close(&c);
  srv_stop(&t);
}

static void test_expect_continue(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  o.max_body_bytes = 100;
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  SEND(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  size_t e = cli_find(&c, "\r\n\r\n");
  assert_int_equal(e, strlen("HTTP/1.1 100 Continue\r\n\r\n"));
  assert_memory_equal(c.buf, "HTTP/1.1 100 Continue\r\n\r\n", e);
  cli_consume(&c, e);
  SEND(&c, "hello");
  resp r;
  read_resp(&c, &r);
  assert_string_equal(r.body, "POST /echo ct=- len=5 body=hello");
  cli_close(&c);

  cli_open(&c, t.port);
  SEND(&c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n");
  expect_error(&c, 413, "request_too_large");
  cli_close(&c);
  srv_stop(&t);
}

static void test_reset(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  SEND(&c, "GET /reset HTTP/1.1\r\n\r\n");
  ssize_t n = cli_fill(&c);
  assert_int_equal(n, -1);
  assert_int_equal(errno, ECONNRESET);
  cli_close(&c);
  srv_stop(&t);
}

static void test_query(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  resp r;
  roundtrip(t.port, "GET /query?name=J%C3%B6rg+Smith&x=a%26b HTTP/1.1\r\n\r\n", &r);
  assert_string_equal(r.body, "J\xc3\xb6rg Smith|a&b");
  roundtrip(t.port, "GET /query HTTP/1.1\r\n\r\n", &r);
  assert_string_equal(r.body, "(null)|(null)");
  srv_stop(&t);
}

static void test_graceful_shutdown(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  cli idle, busy;
  cli_open(&idle, t.port);
  SEND(&idle, "GET /hello HTTP/1.1\r\n\r\n");
  resp r;
  read_resp(&idle, &r);
  cli_open(&busy, t.port);
  SEND(&busy, "GET /delay?ms=300 HTTP/1.1\r\n\r\n");
  wait_for(&g_dispatched, 2);
  kl_http_server_stop(t.s);
  kl_http_server_stop(t.s); /* idempotent */
  assert_true(cli_eof(&idle)); /* idle keep-alive connection closed */
  read_resp(&busy, &r);        /* the in-flight request still completes */
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "delayed");
  assert_true(head_has(&r, "Connection: close"));
  assert_true(cli_eof(&busy));
  cli_close(&idle);
  cli_close(&busy);
  srv_join(&t);
  assert_int_equal(atomic_load(&g_aborts), 0);
  assert_int_equal(atomic_load(&g_wstop), 1);
}

static void test_shutdown_grace_expires(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  o.shutdown_timeout_ms = 200;
  srv_start(&t, &o);
  cli c;
  cli_open(&c, t.port);
  SEND(&c, "GET /delay?ms=60000 HTTP/1.1\r\n\r\n");
  wait_for(&g_dispatched, 1);
  kl_http_server_stop(t.s);
  assert_true(cli_eof(&c)); /* force-closed without a response */
  cli_close(&c);
  srv_join(&t);
  assert_int_equal(atomic_load(&g_aborts), 1);
}

static void test_workers(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  o.workers = 4;
  srv_start(&t, &o);
  wait_for(&g_wstart, 4);
  bool seen[4] = {false};
  int distinct = 0;
  for (int i = 0; i < 64; i++) {
    resp r;
    roundtrip(t.port, "GET /worker HTTP/1.1\r\n\r\n", &r);
    int w = atoi(r.body);
    assert_true(w >= 0 && w < 4);
    if (!seen[w]) distinct++;
    seen[w] = true;
  }
  assert_true(distinct > 1);
  srv_stop(&t);
  assert_int_equal(atomic_load(&g_wstop), 4);
}

static void test_bind_errors_and_ipv6(void **state) {
  (void)state;
  srv_t t;
  kl_http_server_opts o = base_opts();
  srv_start(&t, &o);
  kl_http_server_opts o2 = base_opts();
  o2.port = t.port;
  kl_err err;
  /* the port is taken for anyone not using SO_REUSEPORT */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t.port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_not_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  close(fd);
  o2.handler = NULL;
  assert_null(kl_http_server_new(&o2, &err));
  assert_true(err.code != 0);
  o2 = base_opts();
  o2.host = "not a host name";
  assert_null(kl_http_server_new(&o2, &err));
  assert_true(strlen(err.msg) > 0);
  srv_stop(&t);

  /* occupied port, taken by a plain socket: EADDRINUSE reported by new() */
  fd = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_port = 0;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(fd, 1), 0);
  socklen_t al = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &al);
  o2 = base_opts();
  o2.port = ntohs(a.sin_port);
  assert_null(kl_http_server_new(&o2, &err));
  assert_int_equal(err.code, EADDRINUSE);
  close(fd);

  o2 = base_opts();
  o2.host = "::1";
  o2.workers = 2;
  kl_http_server *s6 = kl_http_server_new(&o2, &err);
  if (!s6) { /* no IPv6 loopback in this sandbox */
    print_message("skipping IPv6 part: %s\n", err.msg);
    return;
  }
  t.s = s6;
  t.port = kl_http_server_port(s6);
  assert_int_equal(uv_thread_create(&t.th, run_thread, &t), 0);
  int f6 = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)t.port)};
  inet_pton(AF_INET6, "::1", &a6.sin6_addr);
  assert_int_equal(connect(f6, (struct sockaddr *)&a6, sizeof a6), 0);
  const char *req = "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n";
  assert_int_equal(send(f6, req, strlen(req), 0), (ssize_t)strlen(req));
  char buf[512];
  size_t got = 0;
  ssize_t n;
  while ((n = recv(f6, buf + got, sizeof buf - 1 - got, 0)) > 0) got += (size_t)n;
  buf[got] = 0;
  assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(buf, "\r\n\r\nhello"));
  close(f6);
  srv_stop(&t);
}

int main(void) {
  kl_log_set_level(KL_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_and_post),
      cmocka_unit_test(test_keepalive_and_close),
      cmocka_unit_test(test_pipelined),
      cmocka_unit_test(test_chunked_request),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_streaming),
      cmocka_unit_test(test_abort_mid_stream),
      cmocka_unit_test(test_write_timeout),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_reset),
      cmocka_unit_test(test_query),
      cmocka_unit_test(test_graceful_shutdown),
      cmocka_unit_test(test_shutdown_grace_expires),
      cmocka_unit_test(test_workers),
      cmocka_unit_test(test_bind_errors_and_ipv6),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
