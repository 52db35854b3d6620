/* http_conn.c: one accepted connection: read, parse, dispatch, write, keep-alive, close.
 *
 * Reading.  All connections of a loop read into the worker's single buffer: a read is
 * parsed before the next one happens, so only bytes that cannot be parsed yet (a
 * pipelined request while one is in flight) are copied, into the connection's `pend`.
 * Reading is NOT stopped while a request is in flight: that is how a client that goes
 * away mid-stream is noticed (EOF) and its request aborted.  Only if `pend` grows past
 * PEND_CAP does the connection stop reading until the request completes.
 *
 * One request at a time.  The parser pauses after each message; the handler runs; the
 * next pipelined request is parsed only after the completing call, so responses go out
 * in order.  A handler that responds synchronously is the fast path: the parse loop
 * just continues (no recursion: completion inside the loop only clears state).
 *
 * Writing.  uv_try_write first (no copy, no allocation when the socket takes it all);
 * the remainder, if any, is copied into one heap block and queued with uv_write.  The
 * queued byte count is the back-pressure signal (kl_http_stream_pending) and also
 * stops parsing further pipelined requests while it is above WBACKLOG.
 *
 * Timers.  One uv_timer per connection, in one of a few modes derived from state:
 * header (request head must complete), body, idle (between keep-alive requests),
 * write (a queued write made no progress), linger (after our FIN, waiting for the
 * client's).  The deadline is set when the mode changes, not on every read.
 *
 * Closing.  Responses that end the connection are followed by a lingering close
 * (shutdown, drain input until EOF or a short timeout, then close), so a client that
 * still had request bytes in flight sees our error response instead of a RST.
 *
 * Lifetime.  The connection and the in-flight request reference each other.  When the
 * connection closes first, the request is detached (req->conn = NULL) and on_abort is
 * fired from the close callback, never from inside a library call, so a handler cannot
 * be re-entered from its own kl_http_stream_write.  The connection memory is freed when
 * both of its handles are closed; the request arena when the handler completes. */
#include "net/http_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEND_CAP (256 * 1024)  /* buffered pipelined input before we stop reading */
#define WBACKLOG (256 * 1024)  /* queued output before we stop parsing new requests */
#define LINGER_MS 2000

enum { T_NONE = 0, T_HEADER, T_BODY, T_IDLE, T_WRITE, T_LINGER };

struct kl_conn {
  uv_tcp_t tcp;            /* first: the handle pointer is the connection pointer */
  uv_timer_t timer;
  uv_shutdown_t shut;
  kl_worker *w;
  kl_conn *prev, *next;    /* worker's list */
  kl_hp hp;
  kl_hreq *cur;            /* request being parsed or in flight */
  kl_arena *spare;         /* arena of the previous request, reset, for the next one */
  kl_buf pend;             /* received, not yet parsed */
  size_t wpending;         /* bytes queued in uv_write requests */
  int nwrites;
  int handles;
  int tmode;
  bool fresh;              /* no request seen yet */
  bool dispatched;         /* cur is with the handler */
  bool in_feed;
  bool reading;
  bool closing;            /* uv_close called */
  bool want_close;         /* close once the queued output is written */
  bool lingering;
  bool eof;
  char peer[64];
};

typedef struct wreq {
  uv_write_t req;
  kl_conn *c;
  size_t len;
  char data[];
} wreq;

static void conn_resume(kl_conn *c);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

kl_conn *kl_conn_next(kl_conn *c) { return c->next; }
size_t kl_conn_pending(const kl_conn *c) { return c->wpending; }
bool kl_conn_closing(const kl_conn *c) { return c->closing; }
bool kl_conn_stopping(const kl_conn *c) { return c->w->stopping; }
kl_worker *kl_conn_worker(kl_conn *c) { return c->w; }

/* ---------------- timers ---------------- */

static void on_timer(uv_timer_t *t);

static void timer_set(kl_conn *c, int mode) {
  if (mode == c->tmode) return;
  c->tmode = mode;
  const kl_http_server_opts *o = &c->w->srv->o;
  uint64_t ms = 0;
  switch (mode) {
  case T_HEADER: ms = (uint64_t)o->header_timeout_ms; break;
  case T_BODY: ms = (uint64_t)o->body_timeout_ms; break;
  case T_IDLE: ms = (uint64_t)o->idle_timeout_ms; break;
  case T_WRITE: ms = (uint64_t)o->write_timeout_ms; break;
  case T_LINGER: ms = LINGER_MS; break;
  default: uv_timer_stop(&c->timer); return;
  }
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* The timer mode follows from the connection's state. */
static void conn_rearm(kl_conn *c) {
  if (c->closing || c->lingering) return;
  if (c->nwrites > 0) timer_set(c, T_WRITE);
  else if (c->dispatched || c->want_close) timer_set(c, T_NONE);
  else if (c->cur && c->hp.head_done) timer_set(c, T_BODY);
  else if (c->fresh || (c->cur && c->hp.started)) timer_set(c, T_HEADER);
  else timer_set(c, T_IDLE);
}

/* ---------------- closing ---------------- */

static void drop_arena(kl_conn *c, kl_arena *a) {
  if (!c->spare && !c->closing) {
    kl_arena_reset(a);
    c->spare = a;
  } else {
    kl_arena_free(a);
  }
}

static void on_close(uv_handle_t *h) {
  kl_conn *c = h->data;
  if (--c->handles > 0) return;
  kl_worker *w = c->w;
  kl_hreq *r = c->cur;
  c->cur = NULL;
  if (r && c->dispatched) {
    r->conn = NULL;
    r->aborted = true;
    if (r->abort_cb) r->abort_cb(&r->pub, r->abort_ud);
  } else if (r) {
    kl_arena_free(r->pub.arena);
  }
  if (c->prev) c->prev->next = c->next;
  else w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  kl_arena_free(c->spare);
  kl_buf_free(&c->pend);
  kl_hp_free(&c->hp);
  free(c);
  kl_worker_conn_gone(w);
}

static void conn_close(kl_conn *c) {
  if (c->closing) return;
  c->closing = true;
  uv_close((uv_handle_t *)&c->tcp, on_close);
  uv_close((uv_handle_t *)&c->timer, on_close);
}

static void read_on(kl_conn *c) {
  if (c->reading || c->closing || c->eof) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = true;
}

static void read_off(kl_conn *c) {
  if (!c->reading) return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  kl_conn *c = req->data;
  if (status < 0 && !c->closing) conn_close(c);
}

/* Our side is done: send FIN, then wait (briefly) for the client's before closing, so
 * unread request bytes do not turn our last response into a RST. */
static void conn_linger(kl_conn *c) {
  if (c->closing || c->lingering) return;
  if (c->eof) {
    conn_close(c);
    return;
  }
  c->lingering = true;
  c->shut.data = c;
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  read_on(c);
  c->tmode = T_NONE;
  timer_set(c, T_LINGER);
}

static void conn_close_after_write(kl_conn *c) {
  c->want_close = true;
  if (c->nwrites == 0) conn_linger(c);
  else conn_rearm(c);
}

void kl_conn_force_close(kl_conn *c) { conn_close(c); }

void kl_conn_shutdown_idle(kl_conn *c) {
  if (c->closing || c->want_close || c->lingering || c->dispatched) return;
  if (c->cur && c->hp.started) return; /* mid-request: answered with Connection: close */
  if (c->nwrites > 0) conn_close_after_write(c);
  else conn_close(c);
}

/* ---------------- writing ---------------- */

static void on_write(uv_write_t *req, int status) {
  wreq *wr = (wreq *)req;
  kl_conn *c = wr->c;
  c->nwrites--;
  c->wpending -= wr->len;
  free(wr);
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->nwrites > 0) { /* progress: restart the write deadline */
    c->tmode = T_NONE;
    timer_set(c, T_WRITE);
    return;
  }
  if (c->want_close) {
    conn_linger(c);
    return;
  }
  conn_rearm(c);
  if (!c->dispatched && c->pend.len > 0) conn_resume(c);
}

int kl_conn_write(kl_conn *c, const uv_buf_t *bufs, unsigned n) {
  if (c->closing || c->lingering) return -1;
  size_t total = 0;
  for (unsigned i = 0; i < n; i++) total += bufs[i].len;
  if (total == 0) return 0;
  size_t done = 0;
  if (c->nwrites == 0) {
    int rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (rc >= 0) {
      done = (size_t)rc;
    } else if (rc != UV_EAGAIN) {
      conn_close(c);
      return -1;
    }
  }
  if (done == total) return 0;
  wreq *wr = malloc(sizeof *wr + (total - done));
  if (!wr) abort();
  wr->c = c;
  wr->len = total - done;
  size_t skip = done, off = 0;
  for (unsigned i = 0; i < n; i++) {
    size_t bl = bufs[i].len;
    if (skip >= bl) {
      skip -= bl;
      continue;
    }
    memcpy(wr->data + off, bufs[i].base + skip, bl - skip);
    off += bl - skip;
    skip = 0;
  }
  uv_buf_t b = uv_buf_init(wr->data, (unsigned)wr->len);
  if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
    free(wr);
    conn_close(c);
    return -1;
  }
  c->nwrites++;
  c->wpending += wr->len;
  conn_rearm(c);
  return 0;
}

/* ---------------- requests ---------------- */

static void conn_begin(kl_conn *c) {
  kl_worker *w = c->w;
  kl_arena *a = c->spare ? c->spare : kl_arena_new(8192 - 64);
  c->spare = NULL;
  kl_hreq *r = kl_arena_calloc(a, sizeof *r);
  r->pub.arena = a;
  r->pub.loop = &w->loop;
  r->pub.worker = w->wctx;
  r->pub.worker_index = w->index;
  r->pub.start_mono_ns = kl_mono_ns();
  r->pub.start_unix_ns = kl_now_ns();
  memcpy(r->pub.peer, c->peer, sizeof r->pub.peer);
  r->conn = c;
  c->cur = r;
  kl_hp_begin(&c->hp, &r->pub);
}

static void conn_error(kl_conn *c, int status, const char *code, const char *msg) {
  kl_hreq *r = c->cur;
  c->cur = NULL;
  if (r) drop_arena(c, r->pub.arena);
  kl_resp_error(c, status, code, msg);
  conn_close_after_write(c);
}

static void conn_dispatch(kl_conn *c) {
  kl_hreq *r = c->cur;
  r->keep_alive = c->hp.keep_alive;
  r->is_head = strcmp(r->pub.method, "HEAD") == 0;
  r->http10 = llhttp_get_http_minor(&c->hp.p) == 0;
  c->dispatched = true;
  c->fresh = false;
  conn_rearm(c);
  c->w->srv->o.handler(&r->pub);
}

/* Parses as much of data as can be handled now; returns the bytes consumed. */
static size_t conn_feed(kl_conn *c, const char *data, size_t len) {
  size_t off = 0;
  c->in_feed = true;
  while (off < len && !c->closing && !c->want_close && !c->dispatched && c->wpending <= WBACKLOG) {
    if (!c->cur) conn_begin(c);
    size_t used = 0;
    kl_hp_ev ev = kl_hp_feed(&c->hp, data + off, len - off, &used);
    off += used;
    if (ev == KL_HP_HEAD) {
      if (c->hp.expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
        kl_conn_write(c, &b, 1);
      }
    } else if (ev == KL_HP_MSG) {
      conn_dispatch(c); /* a synchronous completion clears `dispatched`: keep going */
    } else if (ev == KL_HP_ERR) {
      conn_error(c, c->hp.err_status, c->hp.err_code, c->hp.err_msg);
    }
  }
  c->in_feed = false;
  conn_rearm(c);
  return off;
}

static void conn_resume(kl_conn *c) {
  if (c->closing || c->want_close) return;
  if (c->pend.len > 0) {
    size_t used = conn_feed(c, c->pend.data, c->pend.len);
    if (c->closing || c->want_close) return;
    kl_buf_consume(&c->pend, used);
  }
  if (c->pend.len < PEND_CAP) read_on(c);
}

void kl_conn_complete(kl_hreq *r, bool reset) {
  kl_conn *c = r->conn;
  bool keep = r->keep_alive;
  if (!c) {
    kl_arena_free(r->pub.arena);
    return;
  }
  c->cur = NULL;
  c->dispatched = false;
  drop_arena(c, r->pub.arena);
  if (c->closing) return;
  if (reset) {
    c->closing = true;
    if (uv_tcp_close_reset(&c->tcp, on_close) != 0) uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
    return;
  }
  if (!keep || c->w->stopping) {
    conn_close_after_write(c);
    return;
  }
  if (c->in_feed) return; /* the parse loop on the stack continues */
  conn_rearm(c);
  conn_resume(c);
}

/* ---------------- reading ---------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  kl_conn *c = h->data;
  buf->base = c->w->rbuf;
  buf->len = c->w->rbuf_size;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  kl_conn *c = s->data;
  if (c->closing) return;
  if (n < 0) {
    if (n == UV_EOF && c->nwrites > 0 && !c->dispatched) {
      /* half-close after the last request: finish writing the response first */
      c->eof = true;
      read_off(c);
      c->want_close = true;
      return;
    }
    conn_close(c); /* aborts an in-flight request (from the close callback) */
    return;
  }
  if (n == 0) return;
  if (c->want_close || c->lingering) return; /* discard input after our last response */
  if (c->dispatched || c->pend.len > 0 || c->wpending > WBACKLOG) {
    kl_buf_append(&c->pend, buf->base, (size_t)n);
    if (c->pend.len >= PEND_CAP) read_off(c);
    return;
  }
  size_t used = conn_feed(c, buf->base, (size_t)n);
  if (used < (size_t)n && !c->closing && !c->want_close) {
    kl_buf_append(&c->pend, buf->base + used, (size_t)n - used);
    if (c->pend.len >= PEND_CAP) read_off(c);
  }
}

static void on_timer(uv_timer_t *t) {
  kl_conn *c = t->data;
  int mode = c->tmode;
  c->tmode = T_NONE;
  if (c->closing) return;
  switch (mode) {
  case T_HEADER:
    if (c->cur && c->hp.started)
      conn_error(c, 408, "request_timeout", "timed out waiting for the request headers");
    else
      conn_close(c);
    break;
  case T_BODY:
    conn_error(c, 408, "request_timeout", "timed out waiting for the request body");
    break;
  default: /* idle, write (client not reading), linger */
    conn_close(c);
    break;
  }
}

/* ---------------- accept ---------------- */

static void on_reject_close(uv_handle_t *h) { free(h->data); }

static void format_peer(kl_conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  c->peer[0] = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
  char ip[48] = "";
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof ip);
    snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof ip);
    snprintf(c->peer, sizeof c->peer, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  }
}

void kl_conn_accept(kl_worker *w, uv_stream_t *listener) {
  kl_conn *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->w = w;
  uv_tcp_init(&w->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_reject_close);
    return;
  }
  uv_timer_init(&w->loop, &c->timer);
  c->timer.data = c;
  c->handles = 2;
  uv_tcp_nodelay(&c->tcp, 1);
  format_peer(c);
  kl_hp_init(&c->hp, w->srv->o.max_header_bytes, w->srv->o.max_body_bytes);
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  w->nconns++;
  c->fresh = true;
  conn_rearm(c);
  read_on(c);
  if (!c->reading) conn_close(c);
}
