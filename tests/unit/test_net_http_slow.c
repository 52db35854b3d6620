/* test_net_http_slow.c: the HTTP server and clients that read slowly.  A response the socket
 * cannot take at once is queued (uv_write) and the connection waits for it to drain: a later
 * pipelined request, keep-alive, a Connection: close and the write deadline all depend on
 * what happens when a queued write completes, and test_net_http.c's clients either read
 * everything at once or never (test_write_timeout).  Found with a coverage build: http_conn.c's
 * write-completion path had never run in a test.  Each client sets a 4 KiB receive buffer
 * before it connects, so the server's writes back up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "net_test_harness.h"

#define BIG (3u << 20)  /* a response body no socket buffer takes at once */

/* Byte i of /big's body: a pattern with no period of a power of two, so a lost or repeated
 * block shows. */
static char big_byte(size_t i) { return (char)('a' + (i * 7 + i / 251) % 26); }

/* /stream: STREAM_BYTES of chunked output, 64 KiB blocks every 1 ms tick until 2 MiB are
 * queued: more than the kernel's buffers hold (tcp_wmem's 4 MiB at most), and refilled faster
 * than a slow reader drains it, so writes stay queued and complete one after another (the
 * queue never runs empty, which would also restart the write deadline). */
#define STREAM_BYTES (20u << 20)
typedef struct {
  uv_timer_t t;
  kl_http_req *req;
  size_t sent;
} streamer;

static void streamer_free(uv_handle_t *h) { free(h->data); }

static void streamer_done(streamer *x) {
  uv_timer_stop(&x->t);
  uv_close((uv_handle_t *)&x->t, streamer_free);
}

static void on_stream_abort(kl_http_req *req, void *ud) {
  (void)req;
  kl_http_stream_end(((streamer *)ud)->req);  /* a completing call is still owed */
  streamer_done(ud);
}

static void on_stream_tick(uv_timer_t *t) {
  streamer *x = t->data;
  static char block[64 * 1024];
  while (x->sent < STREAM_BYTES && kl_http_stream_pending(x->req) < 2 * 1024 * 1024) {
    memset(block, 'a' + (int)(x->sent / sizeof block % 26), sizeof block);
    CHECK(kl_http_stream_write(x->req, block, sizeof block) == 0);
    x->sent += sizeof block;
  }
  if (x->sent < STREAM_BYTES) return;
  kl_http_stream_end(x->req);
  streamer_done(x);
}

static void handler(kl_http_req *req) {
  if (!strcmp(req->path, "/big")) {
    char *b = malloc(BIG);
    if (!b) abort();
    for (size_t i = 0; i < BIG; i++) b[i] = big_byte(i);
    kl_http_respond(req, 200, "application/octet-stream", b, BIG);  /* copies what it queues */
    free(b);
  } else if (!strcmp(req->path, "/stream")) {
    streamer *x = calloc(1, sizeof *x);
    if (!x) abort();
    x->req = req;
    uv_timer_init(req->loop, &x->t);
    x->t.data = x;
    kl_http_on_abort(req, on_stream_abort, x);
    kl_http_stream_begin(req, 200, "application/octet-stream", NULL, 0);
    uv_timer_start(&x->t, on_stream_tick, 0, 1);
  } else if (!strcmp(req->path, "/hello")) {
    kl_http_respond(req, 200, "text/plain", "hello", 5);
  } else {
    kl_http_respond(req, 404, "text/plain", "no", 2);
  }
}

static void sleep_ms(long ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* Reads /big's response: its head, then BIG bytes checked against the pattern; with `every`,
 * pausing `pause_ms` each time another `every` bytes have come (0: as fast as they come). */
static void read_big(cli *c, size_t every, long pause_ms) {
  resp r;
  memset(&r, 0, sizeof r);
  read_head(c, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strcasestr(r.head, "content-length: 3145728"));
  size_t got = 0, next_pause = every;
  while (got < BIG) {
    if (c->len == 0 && cli_fill(c) <= 0) fail_msg("connection ended with %zu of %u body bytes", got, BIG);
    size_t n = c->len < BIG - got ? c->len : BIG - got;
    for (size_t i = 0; i < n; i++)
      if (c->buf[i] != big_byte(got + i)) fail_msg("body byte %zu is wrong", got + i);
    cli_consume(c, n);
    got += n;
    if (every && got >= next_pause) {
      sleep_ms(pause_ms);
      next_pause += every;
    }
  }
}

/* A server (write_timeout_ms: 0 for the default) and a client with a 4 KiB receive buffer
 * that has sent `requests` and then stalled for stall_ms, so the answers are queued. */
static void stalled(srv_t *t, cli *c, int write_timeout_ms, const char *requests, long stall_ms) {
  kl_http_server_opts o = harness_opts(handler);
  o.write_timeout_ms = write_timeout_ms;
  harness_start(t, &o);
  cli_open_rcvbuf(c, t->port, 4096);
  SEND(c, requests);
  sleep_ms(stall_ms);
}

/* The client stalls while its response is queued; meanwhile the loop serves others; then the
 * whole body arrives intact, and the connection serves its next request. */
static void test_slow_reader(void **state) {
  (void)state;
  srv_t t;
  cli c;
  stalled(&t, &c, 0, "GET /big HTTP/1.1\r\n\r\n", 200);
  resp r;
  roundtrip(t.port, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", &r);  /* not blocked */
  assert_int_equal(r.status, 200);
  read_big(&c, 0, 0);
  SEND(&c, "GET /hello HTTP/1.1\r\n\r\n");
  read_resp(&c, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "hello");
  cli_close(&c);
  srv_stop(&t);
}

/* Pipelined behind a queued response, the next request waits its turn and is answered after
 * it, in order. */
static void test_slow_reader_pipelined(void **state) {
  (void)state;
  srv_t t;
  cli c;
  stalled(&t, &c, 0, "GET /big HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n", 200);
  read_big(&c, 0, 0);
  resp r;
  read_resp(&c, &r);
  assert_string_equal(r.body, "hello");
  read_big(&c, 0, 0);
  cli_close(&c);
  srv_stop(&t);
}

/* Connection: close on a queued response: the server closes only after the last byte. */
static void test_slow_reader_close(void **state) {
  (void)state;
  srv_t t;
  cli c;
  stalled(&t, &c, 0, "GET /big HTTP/1.1\r\nConnection: close\r\n\r\n", 200);
  read_big(&c, 0, 0);
  assert_true(cli_eof(&c));
  cli_close(&c);
  srv_stop(&t);
}

/* The write deadline is for no progress, not for the whole response: a reader that takes
 * ~2 s over a 20 MiB stream, 256 KiB every 25 ms, outlives a 1 s write timeout, because each
 * queued write that completes restarts it (a client that reads nothing is dropped:
 * test_net_http.c's test_write_timeout).  Without the restart this test is dropped.  The
 * second of slack is for a loaded machine that does not schedule the reader for a while. */
static void test_slow_reader_progress(void **state) {
  (void)state;
  srv_t t;
  cli c;
  stalled(&t, &c, 1000, "GET /stream HTTP/1.1\r\n\r\n", 0);
  resp r;
  memset(&r, 0, sizeof r);
  read_head(&c, &r);
  assert_true(head_has(&r, "transfer-encoding: chunked"));
  size_t got = 0, next_pause = 256 * 1024;  /* body bytes, chunk framing included */
  for (;;) {
    if (c.len >= 5 && !memcmp(c.buf + c.len - 5, "0\r\n\r\n", 5)) break;  /* the last chunk */
    ssize_t n = cli_fill(&c);
    if (n <= 0) fail_msg("dropped after %zu bytes", got + c.len);
    if (c.len > 16) {  /* keep the tail, where the last chunk will show */
      got += c.len - 16;
      cli_consume(&c, c.len - 16);
    }
    if (got >= next_pause) {
      sleep_ms(25);
      next_pause += 256 * 1024;
    }
  }
  assert_true(got >= STREAM_BYTES);
  cli_close(&c);
  srv_stop(&t);
}

int main(void) {
  kl_log_set_level(KL_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slow_reader),
      cmocka_unit_test(test_slow_reader_pipelined),
      cmocka_unit_test(test_slow_reader_close),
      cmocka_unit_test(test_slow_reader_progress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
