/* test_net_upstream.c: the curl-on-libuv upstream client against a tiny raw HTTP server
 * running in threads of this process (one thread per accepted connection, canned answers
 * chosen by request path).  Streaming is checked without sleeps: the server sends the
 * next chunk only after the client's on_data has seen the previous one, so a client that
 * buffered the body would stall and fail. */
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

#include "net/kl_net.h"

/* ================= the raw test server ================= */

#define MAX_CONNS 512

typedef struct srv {
  int lfd, port;
  pthread_t accept_thr;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int accepts, requests, client_closed;
  int client_chunks;   /* on_data calls seen by the client (chunked handshake) */
  bool wait_timed_out; /* the server gave up waiting for the client */
  bool stopping;
  char last_head[8192];
  char last_body[8192];   /* first 8191 bytes */
  size_t last_body_len;
  pthread_t thr[MAX_CONNS];
  int fds[MAX_CONNS];
  int nthr;
} srv;

typedef struct {
  srv *s;
  int fd;
} conn_arg;

static void sendall(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}
static void sends(int fd, const char *p) { sendall(fd, p, strlen(p)); }

/* Blocks until the peer closes (or the server stops), then counts the close. */
static void wait_client_close(srv *s, int fd) {
  char b[256];
  while (recv(fd, b, sizeof b, 0) > 0) {}
  pthread_mutex_lock(&s->mu);
  s->client_closed++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits until the client's on_data has run `n` times (5 s at most). */
static void wait_client_chunks(srv *s, int n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 5;
  pthread_mutex_lock(&s->mu);
  while (s->client_chunks < n && !s->stopping) {
    if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT) {
      s->wait_timed_out = true;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
}

/* Answers one request; returns false when the connection must be closed. */
static bool answer(srv *s, int fd, const char *path, const char *body, size_t blen) {
  char hdr[256];
  if (strcmp(path, "/cl") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo:   bar  \r\nX-Empty:\r\n"
              "Content-Length: 5\r\n\r\nhello");
  } else if (strcmp(path, "/echo") == 0) {
    snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", blen);
    sends(fd, hdr);
    sendall(fd, body, blen);
  } else if (strcmp(path, "/interim") == 0) {
    sends(fd, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
              "HTTP/1.1 200 OK\r\nX-Final: 1\r\nContent-Length: 2\r\n\r\nok");
  } else if (strcmp(path, "/500") == 0) {
    sends(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\nit broke!");
  } else if (strcmp(path, "/chunked") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
      snprintf(hdr, sizeof hdr, "5\r\npart%d\r\n", i);
      sends(fd, hdr);
      wait_client_chunks(s, i + 1);
    }
    sends(fd, "0\r\nX-Trailer: t\r\n\r\n");
  } else if (strcmp(path, "/pause") == 0) {
    /* first body byte at once, then a pause longer than the test's first-byte timeout */
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n");
    usleep(400 * 1000);
    sends(fd, "1\r\nb\r\n0\r\n\r\n");
  } else if (strcmp(path, "/close-mid") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    return false;
  } else if (strcmp(path, "/chunk-trunc") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    return false;
  } else if (strcmp(path, "/hang") == 0) {
    wait_client_close(s, fd);
    return false;
  } else if (strcmp(path, "/hang-headers") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    wait_client_close(s, fd);
    return false;
  } else if (strcmp(path, "/slow") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\naaaa\r\n");
    wait_client_close(s, fd);
    return false;
  } else {
    sends(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  }
  return true;
}

static void *conn_main(void *arg) {
  conn_arg *ca = arg;
  srv *s = ca->s;
  int fd = ca->fd;
  free(ca);
  static __thread char buf[65536];
  size_t have = 0;
  for (;;) {
    char *eoh;
    while (!(eoh = memmem(buf, have, "\r\n\r\n", 4))) {
      if (have == sizeof buf) goto out;
      ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
      if (r <= 0) {
        if (have == 0) { /* clean close between requests */
          pthread_mutex_lock(&s->mu);
          s->client_closed++;
          pthread_cond_broadcast(&s->cv);
          pthread_mutex_unlock(&s->mu);
        }
        goto out;
      }
      have += (size_t)r;
    }
    size_t hlen = (size_t)(eoh - buf) + 4;
    size_t clen = 0;
    char *cl = memmem(buf, hlen, "\r\nContent-Length:", 17);
    if (cl) clen = strtoul(cl + 17, NULL, 10);
    char path[256] = "";
    sscanf(buf, "%*s %255s", path);
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_head, sizeof s->last_head, "%.*s", (int)hlen, buf);
    pthread_mutex_unlock(&s->mu);
    /* the body can be any size: read it into its own allocation */
    char *body = malloc(clen + 1);
    size_t got = have - hlen < clen ? have - hlen : clen;
    memcpy(body, buf + hlen, got);
    memmove(buf, buf + hlen + got, have - hlen - got); /* keep a pipelined next request */
    have -= hlen + got;
    while (got < clen) {
      ssize_t r = recv(fd, body + got, clen - got, 0);
      if (r <= 0) break;
      got += (size_t)r;
    }
    body[got] = 0;
    pthread_mutex_lock(&s->mu);
    s->requests++;
    s->last_body_len = got;
    snprintf(s->last_body, sizeof s->last_body, "%s", body);
    pthread_mutex_unlock(&s->mu);
    bool keep = got == clen && answer(s, fd, path, body, clen);
    free(body);
    if (!keep) break;
  }
out:
  close(fd);
  return NULL;
}

static void *accept_main(void *arg) {
  srv *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->nthr == MAX_CONNS) {
      pthread_mutex_unlock(&s->mu);
      close(fd);
      break;
    }
    s->accepts++;
    conn_arg *ca = malloc(sizeof *ca);
    ca->s = s;
    ca->fd = fd;
    s->fds[s->nthr] = fd;
    pthread_create(&s->thr[s->nthr++], NULL, conn_main, ca);
    pthread_mutex_unlock(&s->mu);
  }
  return NULL;
}

static srv *srv_start(void) {
  srv *s = calloc(1, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->lfd >= 0);
  int one = 1;
  setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->lfd, 512), 0);
  socklen_t al = sizeof a;
  getsockname(s->lfd, (struct sockaddr *)&a, &al);
  s->port = ntohs(a.sin_port);
  pthread_create(&s->accept_thr, NULL, accept_main, s);
  return s;
}

static void srv_stop(srv *s) {
  pthread_mutex_lock(&s->mu);
  s->stopping = true;
  for (int i = 0; i < s->nthr; i++) shutdown(s->fds[i], SHUT_RDWR); /* unblock recv */
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  shutdown(s->lfd, SHUT_RDWR); /* unblocks accept() on Linux */
  pthread_join(s->accept_thr, NULL);
  close(s->lfd);
  for (int i = 0; i < s->nthr; i++) pthread_join(s->thr[i], NULL);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

static int srv_get(srv *s, const int *field) {
  pthread_mutex_lock(&s->mu);
  int v = *field;
  pthread_mutex_unlock(&s->mu);
  return v;
}

/* Copies what the server last received (never assert while holding the lock). */
static void snap(srv *s, char head[8192], char body[8192]) {
  pthread_mutex_lock(&s->mu);
  memcpy(head, s->last_head, 8192);
  memcpy(body, s->last_body, 8192);
  pthread_mutex_unlock(&s->mu);
}

static size_t srv_get_size(srv *s, const size_t *field) {
  pthread_mutex_lock(&s->mu);
  size_t v = *field;
  pthread_mutex_unlock(&s->mu);
  return v;
}

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
  if (r->start_in_done) start_get("/cl", r->start_in_done, NULL);
  if (r->free_in_done) {
    kl_upstream_free(F.u);
    F.u = NULL;
  }
}

static const kl_upstream_cbs CBS = {on_response, on_data, on_done};

static kl_upstream_call *start_opts(const char *path, res *r, kl_upstream_opts o) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", F.s->port, path);
  o.url = url; /* curl copies the URL */
  kl_err err = {0, ""};
  kl_upstream_call *c = kl_upstream_start(F.u, &o, &CBS, r, &err);
  assert_non_null(c);
  assert_true(kl_err_ok(&err));
  r->call = c;
  return c;
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
  kl_upstream_opts o = {.method = "GET", .url = url};
  kl_err err = {0, ""};
  assert_non_null(kl_upstream_start(F.u, &o, &CBS, &r, &err));
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_CONNECT);
  assert_int_equal(r.responses, 0);
  res_free(&r);

  /* No URL is an error from start, not a callback. */
  kl_upstream_opts bad = {.method = "GET"};
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
