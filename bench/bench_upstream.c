/* bench_upstream.c: requests/s and client CPU per request through kl_upstream, built-in
 * HTTP/1.1 client vs libcurl, against a trivial keep-alive HTTP server on loopback.
 *
 *   bench_upstream [requests] [in_flight]       (defaults 200000, 32)
 *
 * The server runs its own libuv loop on a second thread and answers every request with a
 * fixed 300-byte JSON body.  The client thread fires POSTs (a small chat-completion body
 * and the gateway's usual headers), keeping `in_flight` outstanding, once with
 * use_curl = true and once without.  CPU is the client thread's own (RUSAGE_THREAD), so
 * the server's work is not counted; "process" adds the server thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "net/kl_net.h"

/* ---------------- the server ---------------- */

static char resp[512];
static size_t resp_len;

typedef struct sconn {
  uv_tcp_t tcp;
  char buf[65536];
  size_t have;
} sconn;

static void s_closed(uv_handle_t *h) { free(h->data); }

static void s_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)sz;
  sconn *k = h->data;
  *b = uv_buf_init(k->buf + k->have, (unsigned)(sizeof k->buf - k->have));
}

static void s_write_cb(uv_write_t *w, int st) {
  (void)st;
  free(w);
}

static void s_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  sconn *k = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)s, s_closed);
    return;
  }
  k->have += (size_t)n;
  for (;;) {
    char *eoh = memmem(k->buf, k->have, "\r\n\r\n", 4);
    if (!eoh) break;
    size_t hl = (size_t)(eoh - k->buf) + 4, cl = 0;
    char *p = strcasestr(k->buf, "\r\nContent-Length:");
    if (p && p < eoh) cl = strtoul(p + 17, NULL, 10);
    if (k->have < hl + cl) break;
    memmove(k->buf, k->buf + hl + cl, k->have - hl - cl);
    k->have -= hl + cl;
    uv_buf_t rb = uv_buf_init(resp, (unsigned)resp_len);
    int w = uv_try_write(s, &rb, 1);
    if (w < 0) w = 0;
    if ((size_t)w < resp_len) {
      uv_write_t *wr = malloc(sizeof *wr);
      rb = uv_buf_init(resp + w, (unsigned)(resp_len - (size_t)w));
      uv_write(wr, s, &rb, 1, s_write_cb);
    }
  }
  if (k->have == sizeof k->buf) uv_close((uv_handle_t *)s, s_closed);
}

static void s_conn(uv_stream_t *l, int st) {
  if (st < 0) return;
  sconn *k = calloc(1, sizeof *k);
  uv_tcp_init(l->loop, &k->tcp);
  k->tcp.data = k;
  if (uv_accept(l, (uv_stream_t *)&k->tcp) != 0) {
    uv_close((uv_handle_t *)&k->tcp, s_closed);
    return;
  }
  uv_tcp_nodelay(&k->tcp, 1);
  uv_read_start((uv_stream_t *)&k->tcp, s_alloc, s_read);
}

static uv_loop_t sloop;
static uv_tcp_t slisten;
static uv_async_t sstop;
static int sport;

static void s_walk_close(uv_handle_t *h, void *a) {
  (void)a;
  if (!uv_is_closing(h)) uv_close(h, h == (uv_handle_t *)&slisten || h == (uv_handle_t *)&sstop ? NULL : s_closed);
}
static void s_stop(uv_async_t *a) { uv_walk(a->loop, s_walk_close, NULL); }

static void server_main(void *arg) {
  (void)arg;
  uv_run(&sloop, UV_RUN_DEFAULT);
}

/* ---------------- the client ---------------- */

typedef struct bench {
  uv_loop_t loop;
  kl_upstream *u;
  kl_upstream_opts o;
  int total, started, done, failed;
  size_t bytes;
} bench;

static void c_response(void *ud, int status, const kl_http_header *h, size_t n) {
  (void)ud, (void)h, (void)n;
  if (status != 200) abort();
}
static int c_data(void *ud, const char *d, size_t len) {
  (void)d;
  ((bench *)ud)->bytes += len;
  return 0;
}
static void c_start(bench *b);
static void c_done(void *ud, kl_upstream_status st, const char *err) {
  bench *b = ud;
  b->done++;
  if (st != KL_UP_OK) {
    if (b->failed++ < 5) fprintf(stderr, "call failed: %d %s\n", st, err);
  }
  if (b->started < b->total) c_start(b);
}
static const kl_upstream_cbs CCBS = {c_response, c_data, c_done};

static void c_start(bench *b) {
  kl_err err;
  kl_err_clear(&err);
  b->started++;
  if (!kl_upstream_start(b->u, &b->o, &CCBS, b, &err)) {
    fprintf(stderr, "start: %s\n", err.msg);
    exit(1);
  }
}

static double tv_us(struct timeval t) { return (double)t.tv_sec * 1e6 + (double)t.tv_usec; }

static void run(const char *name, bool use_curl, int n, int inflight) {
  static const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                               "User-Agent: keel/0.1", "Authorization: Bearer sk-bench"};
  static const char body[] =
      "{\"model\":\"mock-1\",\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
      "{\"role\":\"user\",\"content\":\"Say hello in one short sentence, please.\"}],"
      "\"max_tokens\":32,\"temperature\":0}";
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", sport);
  bench b;
  memset(&b, 0, sizeof b);
  uv_loop_init(&b.loop);
  kl_err err;
  kl_err_clear(&err);
  b.u = kl_upstream_new(&b.loop, &err);
  if (!b.u) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  b.o = (kl_upstream_opts){.method = "POST", .url = url, .headers = hdrs, .nheaders = 4, .body = body,
                           .body_len = sizeof body - 1, .use_curl = use_curl};
  b.total = n;
  struct rusage r0, r1, p0, p1;
  getrusage(RUSAGE_THREAD, &r0);
  getrusage(RUSAGE_SELF, &p0);
  int64_t t0 = kl_mono_ns();
  for (int i = 0; i < inflight && b.started < n; i++) c_start(&b);
  while (b.done < n) uv_run(&b.loop, UV_RUN_ONCE);
  int64_t t1 = kl_mono_ns();
  getrusage(RUSAGE_THREAD, &r1);
  getrusage(RUSAGE_SELF, &p1);
  double cpu = tv_us(r1.ru_utime) - tv_us(r0.ru_utime) + tv_us(r1.ru_stime) - tv_us(r0.ru_stime);
  double pcpu = tv_us(p1.ru_utime) - tv_us(p0.ru_utime) + tv_us(p1.ru_stime) - tv_us(p0.ru_stime);
  double secs = (double)(t1 - t0) / 1e9;
  printf("%-9s %8d req  %9.0f req/s  client CPU %6.2f us/req (user %5.2f, sys %5.2f)  process CPU %6.2f us/req"
         "  failed %d\n",
         name, n, n / secs, cpu / n, (tv_us(r1.ru_utime) - tv_us(r0.ru_utime)) / n,
         (tv_us(r1.ru_stime) - tv_us(r0.ru_stime)) / n, pcpu / n, b.failed);
  if (b.bytes != (size_t)(n - b.failed) * 300) fprintf(stderr, "%s: unexpected body bytes %zu\n", name, b.bytes);
  kl_upstream_free(b.u);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  uv_loop_close(&b.loop);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200000;
  int inflight = argc > 2 ? atoi(argv[2]) : 32;
  if (n <= 0 || inflight <= 0) return 2;
  char body[301];
  memset(body, ' ', 300);
  const char *json = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"mock-1\",\"choices\":"
                     "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello!\"},"
                     "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
                     "\"total_tokens\":11}}";
  memcpy(body, json, strlen(json));
  body[300] = 0;
  resp_len = (size_t)snprintf(resp, sizeof resp,
                              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n%s", body);

  uv_loop_init(&sloop);
  uv_tcp_init(&sloop, &slisten);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  if (uv_tcp_bind(&slisten, (struct sockaddr *)&a, 0) || uv_listen((uv_stream_t *)&slisten, 1024, s_conn)) {
    fprintf(stderr, "listen failed\n");
    return 1;
  }
  int al = sizeof a;
  uv_tcp_getsockname(&slisten, (struct sockaddr *)&a, &al);
  sport = ntohs(a.sin_port);
  uv_async_init(&sloop, &sstop, s_stop);
  uv_thread_t thr;
  uv_thread_create(&thr, server_main, NULL);

  const char *only = getenv("ONLY"); /* "curl" or "h1" to run one side */
  if (!only || strcmp(only, "curl") == 0) run("libcurl", true, n, inflight);
  if (!only || strcmp(only, "h1") == 0) run("built-in", false, n, inflight);

  uv_async_send(&sstop);
  uv_thread_join(&thr);
  uv_loop_close(&sloop);
  return 0;
}
