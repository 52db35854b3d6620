/* net_test_harness.h: what the tests of the HTTP server (src/net) share: the server in a
 * background thread (kl_http_server_run) on 127.0.0.1:0, and a client of plain blocking sockets
 * with a receive timeout, so a bug fails a test instead of hanging.  Include after cmocka.h;
 * a test file passes its handler to harness_opts.  Everything is static inline: a file uses
 * what it needs. */
#ifndef KL_NET_TEST_HARNESS_H
#define KL_NET_TEST_HARNESS_H

#include "net/kl_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int g_wstart, g_wstop, g_errors;

/* cmocka's asserts longjmp and must not run on the server thread: count failures instead. */
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      atomic_fetch_add(&g_errors, 1);                                        \
    }                                                                        \
  } while (0)

/* ---------------- server ---------------- */

/* Each loop's worker pointer: counted, so srv_join can see every worker stopped. */
static inline void *worker_start(uv_loop_t *loop, int index, void *ctx) {
  (void)loop;
  (void)index;
  CHECK(ctx == &g_wstart);
  atomic_fetch_add(&g_wstart, 1);
  return malloc(16);
}

static inline void worker_stop(void *worker, void *ctx) {
  (void)ctx;
  atomic_fetch_add(&g_wstop, 1);
  free(worker);
}

typedef struct {
  kl_http_server *s;
  uv_thread_t th;
  int rc;
  int port;
} srv_t;

static inline void run_thread(void *arg) {
  srv_t *t = arg;
  t->rc = kl_http_server_run(t->s);
}

static inline kl_http_server_opts harness_opts(void (*handler)(kl_http_req *req)) {
  kl_http_server_opts o;
  memset(&o, 0, sizeof o);
  o.host = "127.0.0.1";
  o.workers = 1;
  o.handler = handler;
  o.worker_start = worker_start;
  o.worker_stop = worker_stop;
  o.ctx = &g_wstart;
  return o;
}

static inline void harness_start(srv_t *t, const kl_http_server_opts *o) {
  atomic_store(&g_wstart, 0);
  atomic_store(&g_wstop, 0);
  atomic_store(&g_errors, 0);
  kl_err err;
  t->s = kl_http_server_new(o, &err);
  if (!t->s) fail_msg("server: %s", err.msg);
  t->port = kl_http_server_port(t->s);
  assert_true(t->port > 0);
  t->rc = -1;
  assert_int_equal(uv_thread_create(&t->th, run_thread, t), 0);
}

static inline void srv_join(srv_t *t) {
  uv_thread_join(&t->th);
  assert_int_equal(t->rc, 0);
  assert_int_equal(atomic_load(&g_wstop), atomic_load(&g_wstart));
  assert_int_equal(atomic_load(&g_errors), 0);
  kl_http_server_free(t->s);
}

static inline void srv_stop(srv_t *t) {
  kl_http_server_stop(t->s);
  srv_join(t);
}

/* Waits (up to 5 s) for an atomic counter to reach want. */
static inline void wait_for(atomic_int *v, int want) {
  for (int i = 0; i < 500 && atomic_load(v) < want; i++) usleep(10000);
  assert_true(atomic_load(v) >= want);
}

/* ---------------- client ---------------- */

typedef struct {
  int fd;
  char buf[1 << 16];
  size_t len;
} cli;

/* rcvbuf > 0: that receive buffer, set before connecting (the window is agreed then). */
static inline void cli_open_rcvbuf(cli *c, int port, int rcvbuf) {
  c->len = 0;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

static inline void cli_open(cli *c, int port) { cli_open_rcvbuf(c, port, 0); }

static inline void cli_close(cli *c) { close(c->fd); }

static inline void cli_send(cli *c, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
    assert_true(w > 0);
    s += w;
    n -= (size_t)w;
  }
}
#define SEND(c, s) cli_send(c, s, strlen(s))

/* Reads more bytes; returns what recv returned (0 = EOF, -1 = error with errno). */
static inline ssize_t cli_fill(cli *c) {
  assert_true(c->len < sizeof c->buf);
  ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
  if (n > 0) c->len += (size_t)n;
  return n;
}

static inline void cli_need(cli *c, size_t n) {
  while (c->len < n)
    if (cli_fill(c) <= 0) fail_msg("connection ended with %zu of %zu bytes", c->len, n);
}

static inline size_t cli_find(cli *c, const char *pat) {
  for (;;) {
    char *p = memmem(c->buf, c->len, pat, strlen(pat));
    if (p) return (size_t)(p - c->buf) + strlen(pat);
    if (cli_fill(c) <= 0) fail_msg("connection ended waiting for %s", pat);
  }
}

static inline void cli_consume(cli *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

/* true if the peer closed the connection (after any buffered bytes) */
static inline bool cli_eof(cli *c) { return c->len == 0 && cli_fill(c) == 0; }

typedef struct {
  int status;
  char head[4096];
  char body[1 << 15];
  size_t body_len;
} resp;

static inline bool head_has(const resp *r, const char *line) { return strcasestr(r->head, line) != NULL; }

static inline size_t read_chunk(cli *c, char *out, size_t cap) {
  size_t e = cli_find(c, "\r\n");
  size_t n = strtoul(c->buf, NULL, 16);
  cli_consume(c, e);
  cli_need(c, n + 2);
  assert_true(n < cap);
  memcpy(out, c->buf, n);
  out[n] = 0;
  cli_consume(c, n + 2);
  return n;
}

static inline void read_head(cli *c, resp *r) {
  size_t e = cli_find(c, "\r\n\r\n");
  assert_true(e < sizeof r->head);
  memcpy(r->head, c->buf, e);
  r->head[e] = 0;
  cli_consume(c, e);
  assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
}

static inline void read_resp(cli *c, resp *r) {
  memset(r, 0, sizeof *r);
  read_head(c, r);
  const char *cl = strcasestr(r->head, "\r\ncontent-length:");
  if (cl) {
    r->body_len = strtoul(cl + 17, NULL, 10);
    assert_true(r->body_len < sizeof r->body);
    cli_need(c, r->body_len);
    memcpy(r->body, c->buf, r->body_len);
    cli_consume(c, r->body_len);
  } else if (head_has(r, "transfer-encoding: chunked")) {
    size_t n;
    while ((n = read_chunk(c, r->body + r->body_len, sizeof r->body - r->body_len)) > 0) r->body_len += n;
  }
  r->body[r->body_len] = 0;
}

/* One request on a fresh connection; returns the response. */
static inline void roundtrip(int port, const char *req, resp *r) {
  cli c;
  cli_open(&c, port);
  SEND(&c, req);
  read_resp(&c, r);
  cli_close(&c);
}

#endif
