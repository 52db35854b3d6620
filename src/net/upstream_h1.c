/* upstream_h1.c: a lean HTTP/1.1 client for plain http:// upstreams (vLLM, llama.cpp,
 * Ollama, the mock), on the caller's libuv loop with llhttp parsing the responses.  This file
 * has the pool, connections, the call life cycle, sending, request heads and the API; the
 * response side is upstream_h1_recv.c; the structs are in upstream_h1_int.h.
 *
 * Why not libcurl for these: per request curl allocates an easy handle, polls pooled
 * sockets for liveness, and churns epoll registrations through its socket callback; on a
 * loopback upstream that costs more CPU than the proxying itself.  Here a request on a
 * pooled connection costs one write (head and caller's body as one two-buffer iovec, the
 * body never copied) and the reads of the answer.  libcurl keeps https://, HTTP/2 and
 * odd URLs (see upstream.c).
 *
 * Connections (h1_conn) are pooled per kl_h1 (one per loop) by host:port, idle ones in a
 * LIFO list per host, at most H1_IDLE_PER_HOST of them, closed after H1_IDLE_MS by one
 * sweeping timer per pool.  Reading is never stopped on a pooled connection: an idle one
 * then notices the server's close (or stray bytes) at once and drops out of the pool, and
 * no epoll change is made per request.  Idle connections are uv_unref'd so they do not
 * keep a loop alive.  A connection is reused only after a response was read completely,
 * the request was fully written and the server allowed keep-alive (llhttp knows about
 * "Connection: close" and HTTP/1.0).  The server may close an idle connection at any
 * moment, so a request that meets EOF or a reset on a reused connection before any
 * response byte is retried once on a fresh connection.
 *
 * Lifetimes.  Every call embeds one uv_timer_t (started only when a deadline is due:
 * connect, first body byte, total) and its memory is released in that timer's close
 * callback (to the pool's few spare calls, for the next call to reuse, while the pool
 * lives); a connection is released in its TCP handle's close callback; the pool when
 * its last handle closed after kl_h1_free.  Callbacks fire from inside llhttp_execute, and
 * users may cancel, start or free from there: all that then happens at once (handles are
 * closed, calls are marked), and the code after each user callback only re-checks flags
 * in memory that is still valid because nothing is freed before the loop's close phase.
 * The read buffer is one per pool: libuv hands it to exactly one read callback at a time.
 *
 * Per call, what repeats is reused rather than redone (each measured with
 * bench/callgrind_calls.sh): the last URL parsed and its Host line, closed calls and the
 * arenas that held response headers; the caller's header lines are checked and measured in
 * one pass and the head written once into the call. */
#include "net/upstream_h1_int.h"

#include <assert.h>
#include <stddef.h>

/* ---------------- handle bookkeeping ---------------- */

static void h1_handle_closed(kl_h1 *p) {
  if (--p->open_handles == 0 && p->freeing) {
    for (h1_host *h = p->hosts, *n; h; h = n) {
      n = h->next;
      free(h);
    }
    for (h1_call *c = p->spare_calls, *n; c; c = n) {
      n = c->next;
      free(c);
    }
    free(p);
  }
}

static void h1_sweep_closed(uv_handle_t *h) { h1_handle_closed(h->data); }

static void h1_conn_closed(uv_handle_t *h) {
  h1_conn *k = h->data;
  kl_h1 *p = k->p;
  free(k);
  h1_handle_closed(p);
}

/* A closed call is kept for the next one while the pool lives: calloc and free of its
 * ~900 bytes were ~450 instructions a call. */
static void h1_call_closed(uv_handle_t *h) {
  h1_call *c = h->data;
  kl_h1 *p = c->p;
  if (!p->freeing && p->nspare_calls < H1_SPARE_CALLS) {
    c->next = p->spare_calls;
    p->spare_calls = c;
    p->nspare_calls++;
  } else {
    free(c);
  }
  h1_handle_closed(p);
}

static void h1_idle_unlink(h1_conn *k) {
  h1_host *h = k->host;
  if (k->iprev) k->iprev->inext = k->inext;
  else h->idle = k->inext;
  if (k->inext) k->inext->iprev = k->iprev;
  else h->idle_tail = k->iprev;
  k->iprev = k->inext = NULL;
  k->idle = false;
  h->nidle--;
}

void h1_conn_close(h1_conn *k) {
  if (k->closing) return;
  k->closing = true;
  kl_h1 *p = k->p;
  if (k->idle) h1_idle_unlink(k);
  if (k->call) k->call->conn = NULL;
  k->call = NULL;
  if (k->prev) k->prev->next = k->next;
  else p->conns = k->next;
  if (k->next) k->next->prev = k->prev;
  p->nconns--;
  uv_close((uv_handle_t *)&k->tcp, h1_conn_closed);
}

/* The response was read completely: pool the connection (or close it if the pool is full). */
void h1_conn_idle(h1_conn *k) {
  h1_host *h = k->host;
  if (k->call) k->call->conn = NULL;
  k->call = NULL;
  if (k->p->freeing || h->nidle >= H1_IDLE_PER_HOST) {
    h1_conn_close(k);
    return;
  }
  k->idle = true;
  k->idle_since = uv_now(k->p->loop);
  k->inext = h->idle;
  if (h->idle) h->idle->iprev = k;
  else h->idle_tail = k;
  h->idle = k;
  h->nidle++;
  uv_unref((uv_handle_t *)&k->tcp);
}

static void h1_sweep_cb(uv_timer_t *t) {
  kl_h1 *p = t->data;
  uint64_t now = uv_now(p->loop);
  for (h1_host *h = p->hosts; h; h = h->next)
    while (h->idle_tail && now - h->idle_tail->idle_since >= H1_IDLE_MS) h1_conn_close(h->idle_tail);
  if (p->nconns == 0) uv_timer_stop(&p->sweep);
}

static h1_conn *h1_conn_new(kl_h1 *p, h1_host *h) {
  h1_conn *k = calloc(1, sizeof *k);
  if (!k) {
    fprintf(stderr, "keel: out of memory (upstream connection)\n");
    abort();
  }
  k->p = p;
  k->host = h;
  uv_tcp_init(p->loop, &k->tcp);
  k->tcp.data = k;
  k->next = p->conns;
  if (p->conns) p->conns->prev = k;
  p->conns = k;
  p->nconns++;
  p->open_handles++;
  if (!uv_is_active((uv_handle_t *)&p->sweep)) uv_timer_start(&p->sweep, h1_sweep_cb, H1_SWEEP_MS, H1_SWEEP_MS);
  return k;
}

/* ---------------- call life cycle ---------------- */

/* Takes the call out of the pool's books and drops its connection, if it still has one. */
static void h1_detach(h1_call *c) {
  kl_h1 *p = c->p;
  p->active--;
  if (c->prev) c->prev->next = c->next;
  else p->calls = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  if (c->conn) h1_conn_close(c->conn);
  uv_timer_stop(&c->timer);
  if (c->gai) {
    c->gai->c = NULL;
    uv_cancel((uv_req_t *)&c->gai->req); /* if it already runs, its callback just frees */
    c->gai = NULL;
  }
}

/* A pooled arena rather than a new one per call: kl_arena_new and kl_arena_free were a
 * malloc, a calloc and two frees (~850 instructions) on every call that got a response. */
kl_arena *h1_arena(h1_call *c) {
  if (!c->arena) {
    kl_h1 *p = c->p;
    c->arena = p->nspare ? p->spare[--p->nspare] : kl_arena_new(1024);
  }
  return c->arena;
}

static void h1_release(h1_call *c) {
  kl_h1 *p = c->p;
  if (c->arena && !p->freeing && p->nspare < H1_SPARE_ARENAS) {
    kl_arena_reset(c->arena);
    p->spare[p->nspare++] = c->arena;
  } else {
    kl_arena_free(c->arena);
  }
  c->arena = NULL;
  if (c->ai) uv_freeaddrinfo(c->ai);
  c->ai = c->ai_next = NULL;
  uv_close((uv_handle_t *)&c->timer, h1_call_closed);
}

void h1_finish(h1_call *c, kl_upstream_status st, const char *msg) {
  c->finished = true;
  h1_detach(c);
  if (c->cbs.on_done) c->cbs.on_done(c->ud, st, st == KL_UP_OK ? "" : msg);
  h1_release(c);
}

static void h1_timer_cb(uv_timer_t *t);

/* (Re)arms the call's timer for the nearest deadline still relevant. */
void h1_arm(h1_call *c) {
  uint64_t d = c->total_at;
  if (c->connecting && c->connect_at && (!d || c->connect_at < d)) d = c->connect_at;
  if (!c->got_body && c->ttfb_at && (!d || c->ttfb_at < d)) d = c->ttfb_at;
  if (!d) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t now = uv_now(c->p->loop);
  uv_timer_start(&c->timer, h1_timer_cb, d > now ? d - now : 0, 0);
}

/* Failure found where callbacks must not run (inside kl_h1_start): report from the timer. */
static void h1_fail_later(h1_call *c, kl_upstream_status st) {
  c->deferred = true;
  c->fail_st = st;
  uv_timer_start(&c->timer, h1_timer_cb, 0, 0);
}

static void h1_timer_cb(uv_timer_t *t) {
  h1_call *c = t->data;
  if (c->finished || c->cancelled) return;
  if (c->deferred) {
    h1_finish(c, c->fail_st, c->errbuf);
    return;
  }
  uint64_t now = uv_now(c->p->loop);
  if (c->connecting && ((c->connect_at && now >= c->connect_at) || (c->total_at && now >= c->total_at))) {
    long ms = c->connect_at && now >= c->connect_at ? c->connect_ms : c->total_ms;
    snprintf(c->errbuf, sizeof c->errbuf, "connect to %s:%d timed out after %ld ms", c->host->name, c->host->port, ms);
    h1_finish(c, KL_UP_CONNECT, c->errbuf);
  } else if (c->total_at && now >= c->total_at) {
    snprintf(c->errbuf, sizeof c->errbuf, "no complete response within %ld ms", c->total_ms);
    h1_finish(c, KL_UP_TIMEOUT, c->errbuf);
  } else if (!c->got_body && c->ttfb_at && now >= c->ttfb_at) {
    snprintf(c->errbuf, sizeof c->errbuf, "no response body byte within %ld ms", c->ttfb_ms);
    h1_finish(c, KL_UP_TTFB_TIMEOUT, c->errbuf);
  } else {
    h1_arm(c);
  }
}

/* ---------------- sending ---------------- */


/* Binds the call to a connected connection and writes the request: one try_write of the
 * head and the caller's body; only a remainder goes through uv_write. */
static int h1_send(h1_call *c, h1_conn *k) {
  k->call = c;
  c->conn = k;
  k->got_bytes = false;
  llhttp_init(&k->parser, HTTP_RESPONSE, &h1_settings);
  k->parser.data = k;
  if (k->fake) return 0;
  uv_buf_t b[2] = {uv_buf_init(c->head, (unsigned)c->head_len), uv_buf_init((char *)c->body, (unsigned)c->body_len)};
  unsigned nb = c->body_len ? 2 : 1;
  int w = uv_try_write((uv_stream_t *)&k->tcp, b, nb);
  if (w == UV_EAGAIN) w = 0;
  if (w < 0) return w;
  size_t done = (size_t)w;
  if (done == c->head_len + c->body_len) return 0;
  unsigned i = 0;
  if (done >= c->head_len) { /* only body left */
    done -= c->head_len;
    i = 1;
  }
  b[i].base += done;
  b[i].len -= done;
  int rc = uv_write(&k->wreq, (uv_stream_t *)&k->tcp, b + i, nb - i, h1_write_cb);
  if (rc == 0) k->writing = true;
  return rc;
}

static void h1_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  (void)sz;
  h1_conn *k = h->data;
  *buf = uv_buf_init(k->p->rbuf, sizeof k->p->rbuf);
}

static int h1_connect(h1_call *c);

static void h1_connect_failed(h1_call *c, int rc) {
  snprintf(c->errbuf, sizeof c->errbuf, "connect to %s:%d failed: %s", c->host->name, c->host->port, uv_strerror(rc));
  h1_finish(c, KL_UP_CONNECT, c->errbuf);
}

static void h1_connect_cb(uv_connect_t *req, int status) {
  h1_conn *k = req->handle->data;
  if (k->closing || status == UV_ECANCELED) return;
  h1_call *c = k->call;
  if (status < 0) {
    h1_conn_close(k);
    while (c->ai_next) /* the next resolved address (e.g. ::1 refused, then 127.0.0.1) */
      if ((status = h1_connect(c)) == 0) return;
    h1_connect_failed(c, status);
    return;
  }
  c->connecting = false;
  if (c->connect_at) {
    c->connect_at = 0;
    h1_arm(c);
  }
  int rc = uv_read_start((uv_stream_t *)&k->tcp, h1_alloc_cb, h1_read_cb);
  if (rc == 0) rc = h1_send(c, k);
  if (rc < 0) {
    h1_conn_close(k);
    snprintf(c->errbuf, sizeof c->errbuf, "sending the request failed: %s", uv_strerror(rc));
    h1_finish(c, KL_UP_RESET, c->errbuf);
  }
}

/* Opens a fresh connection to the next address; 0 or a libuv error (nothing reported). */
static int h1_connect(h1_call *c) {
  const struct sockaddr *sa = (const struct sockaddr *)&c->addr;
  if (!c->numeric) {
    sa = c->ai_next->ai_addr;
    c->ai_next = c->ai_next->ai_next;
  }
  h1_conn *k = h1_conn_new(c->p, c->host);
  uv_tcp_nodelay(&k->tcp, 1);   /* applied when libuv creates the socket */
  uv_tcp_keepalive(&k->tcp, 1, 30);
  k->call = c;
  c->conn = k;
  c->reused = false;
  int rc = uv_tcp_connect(&k->creq, &k->tcp, sa, h1_connect_cb);
  if (rc < 0) h1_conn_close(k);
  return rc;
}

static void h1_gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  h1_gai *g = (h1_gai *)req;
  h1_call *c = g->c;
  free(g);
  if (!c) {
    if (res) uv_freeaddrinfo(res);
    return;
  }
  c->gai = NULL;
  if (status < 0 || !res) {
    if (res) uv_freeaddrinfo(res);
    snprintf(c->errbuf, sizeof c->errbuf, "cannot resolve %s: %s", c->host->name, uv_strerror(status));
    h1_finish(c, KL_UP_CONNECT, c->errbuf);
    return;
  }
  c->ai = c->ai_next = res;
  int rc = UV_EAI_NONAME;
  while (c->ai_next)
    if ((rc = h1_connect(c)) == 0) return;
  h1_connect_failed(c, rc);
}

/* Gets the call a connection: resolve + connect; 0 or a libuv error (nothing reported). */
/* Numeric hosts connect without a resolver; worked out only when a connection is opened
 * (a call served by a pooled connection never needs it). */
static void h1_numeric_addr(h1_call *c) {
  char hn[256];
  size_t n = strnlen(c->host->name, sizeof hn - 1);
  memcpy(hn, c->host->name, n);
  hn[n] = 0;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&c->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&c->addr;
  c->numeric = uv_ip4_addr(hn, c->host->port, a4) == 0 || uv_ip6_addr(hn, c->host->port, a6) == 0;
}

static int h1_open(h1_call *c) {
  h1_numeric_addr(c);
  c->connecting = true;
  c->connect_at = uv_now(c->p->loop) + (uint64_t)c->connect_ms;
  if (c->numeric) return h1_connect(c);
  h1_gai *g = calloc(1, sizeof *g);
  if (!g) return UV_ENOMEM;
  g->c = c;
  char port[8];
  snprintf(port, sizeof port, "%d", c->host->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
  int rc = uv_getaddrinfo(c->p->loop, &g->req, h1_gai_cb, c->host->name, port, &hints);
  if (rc < 0) {
    free(g);
    return rc;
  }
  c->gai = g;
  return 0;
}

/* A reused connection died under the request before any response byte: the server closed
 * it while idle.  One more try on a fresh connection. */
void h1_retry(h1_call *c) {
  c->retried = true;
  if (c->conn) h1_conn_close(c->conn);
  int rc = h1_open(c);
  if (rc < 0) h1_connect_failed(c, rc);
  else h1_arm(c);
}

/* ---------------- request building ---------------- */

/* http://host[:port][/path][?query][#frag]; false for anything libcurl should judge. */
static bool h1_parse_url(const char *url, h1_url *u) {
  const char *s = url + 7, *a = s;
  while (*s && *s != '/' && *s != '?' && *s != '#') s++;
  const char *ae = s;
  if (memchr(a, '@', (size_t)(ae - a))) return false; /* userinfo */
  const char *hs = a, *he;
  u->bracketed = *a == '[';
  if (u->bracketed) {
    he = memchr(a, ']', (size_t)(ae - a));
    if (!he) return false;
    hs = a + 1;
    a = he + 1;
  } else {
    he = memchr(a, ':', (size_t)(ae - a));
    if (!he) he = ae;
    a = he;
  }
  if (he == hs || he - hs > 253) return false;
  for (const char *q = hs; q < he; q++)
    if (*q <= ' ' || *q == 0x7f || *q == '%') return false;
  u->port = 80;
  if (a < ae) {
    if (*a != ':' || ae - a > 6) return false;
    if (ae - a > 1) {
      int port = 0;
      for (const char *q = a + 1; q < ae; q++) {
        if (*q < '0' || *q > '9') return false;
        port = port * 10 + (*q - '0');
      }
      if (port < 1 || port > 65535) return false;
      u->port = port;
    }
  }
  u->host = hs;
  u->host_len = (size_t)(he - hs);
  const char *pe = ae;
  for (; *pe && *pe != '#'; pe++)
    if ((unsigned char)*pe <= ' ' || *pe == 0x7f) return false; /* curl would reject or encode */
  u->path = ae;
  u->path_len = (size_t)(pe - ae);
  return true;
}

static h1_host *h1_host_get(kl_h1 *p, const h1_url *u) {
  for (h1_host *h = p->hosts; h; h = h->next)
    if (h->port == u->port && strlen(h->name) == u->host_len && memcmp(h->name, u->host, u->host_len) == 0) return h;
  h1_host *h = calloc(1, sizeof *h + u->host_len + 1);
  if (!h) return NULL;
  memcpy(h->name, u->host, u->host_len);
  h->port = u->port;
  h->next = p->hosts;
  p->hosts = h;
  return h;
}

/* Bounded appends into a fixed buffer of cap bytes (truncating, as snprintf did). */
typedef struct h1_w {
  char *d;
  size_t n;
} h1_w;

static void h1_put(h1_w *w, const char *s, size_t n, size_t cap) {
  if (w->n >= cap) return;
  if (n > cap - w->n) n = cap - w->n;
  memcpy(w->d + w->n, s, n);
  w->n += n;
}
static void h1_lit(h1_w *w, const char *s, size_t cap) { h1_put(w, s, strlen(s), cap); }
static void h1_num(h1_w *w, uint64_t v, size_t cap) { /* ports and lengths: within int64 */
  char t[24], *p = kl_i64_digits(t + sizeof t, (int64_t)v);
  h1_put(w, p, (size_t)(t + sizeof t - p), cap);
}

/* "Host: name[:port]\r\n" for u into out (H1_HOST_LINE bytes); its length.  Built by hand:
 * two snprintf calls were a tenth of kl_h1_start's cost per call. */
static size_t h1_host_line(const h1_url *u, char *out) {
  h1_w hw = {out, 0};
  size_t cap = H1_HOST_LINE - 1;
  h1_lit(&hw, "Host: ", cap);
  if (u->bracketed) h1_lit(&hw, "[", cap);
  h1_put(&hw, u->host, u->host_len, cap);
  if (u->bracketed) h1_lit(&hw, "]", cap);
  if (u->port != 80) {
    h1_lit(&hw, ":", cap);
    h1_num(&hw, (uint64_t)u->port, cap);
  }
  h1_lit(&hw, "\r\n", cap);
  out[hw.n] = 0;
  return hw.n;
}

/* h1_parse_url through the pool's one-entry cache: a repeated URL costs one strcmp instead
 * of a byte-by-byte parse (~500 instructions), and its Host line is kept with it.  *cached
 * says whether *u points into the cache (and p->last_host_line is its Host line). */
static bool h1_url_get(kl_h1 *p, const char *s, h1_url *u, bool *cached) {
  *cached = p->last_url_text[0] && strcmp(s, p->last_url_text) == 0;
  if (*cached) {
    *u = p->last_url;
    return true;
  }
  if (!h1_parse_url(s, u)) return false;
  size_t n = strlen(s);
  if (n < sizeof p->last_url_text) {
    memcpy(p->last_url_text, s, n + 1);
    h1_parse_url(p->last_url_text, &p->last_url); /* the same answer, pointing into the copy */
    p->last_host_line_len = h1_host_line(&p->last_url, p->last_host_line);
  }
  return true;
}

/* One of the caller's header lines as it will be sent: n bytes of s (s NULL: not sent), then
 * ":\r\n" (semi) or "\r\n". */
typedef struct h1_line {
  const char *s;
  size_t n;
  bool semi;
} h1_line;

/* Checks and measures o->headers into lines, once (they used to be scanned three times):
 * 0, or a status for err when a line holds CR or LF. */
static int h1_lines(const kl_upstream_opts *o, h1_line *lines, size_t *len, bool *has_host, bool *has_cl) {
  for (size_t i = 0; i < o->nheaders; i++) {
    const char *h = o->headers[i];
    lines[i].s = NULL;
    if (!h) continue;
    size_t hl = strcspn(h, "\r\n");
    if (h[hl]) return 400;
    const char *colon = memchr(h, ':', hl);
    if (colon) {
      size_t name = (size_t)(colon - h);
      if (name == 4 && strncasecmp(h, "host", 4) == 0) *has_host = true;
      if (name == 14 && strncasecmp(h, "content-length", 14) == 0) *has_cl = true;
      /* libcurl's conventions, which callers were written against: "Name:" with no value
       * sends nothing, "Name;" sends the header with an empty value. */
      const char *v = colon + 1;
      if ((*v == ' ' || *v == '\t' || *v == 0) && v[strspn(v, " \t")] == 0) continue;
    }
    bool semi = !colon && hl && h[hl - 1] == ';';
    lines[i] = (h1_line){h, hl - semi, semi};
    *len += hl - semi + (semi ? 3 : 2);
  }
  return 0;
}

static char *h1_cat(char *d, const char *s, size_t n) {
  memcpy(d, s, n);
  return d + n;
}

/* Writes the head measured by kl_h1_start into d; its end. */
static char *h1_head(char *d, const char *method, size_t method_len, const h1_url *u, const h1_line *lines,
                    size_t nlines, const char *host_hdr, size_t host_len, const char *cl_hdr, size_t cl_len) {
  d = h1_cat(d, method, method_len);
  d = h1_cat(d, " /", u->path_len && u->path[0] == '/' ? 1 : 2);
  d = h1_cat(d, u->path, u->path_len);
  d = h1_cat(d, " HTTP/1.1\r\n", 11);
  d = h1_cat(d, host_hdr, host_len);
  for (size_t i = 0; i < nlines; i++) {
    if (!lines[i].s) continue;
    d = h1_cat(d, lines[i].s, lines[i].n);
    d = h1_cat(d, lines[i].semi ? ":\r\n" : "\r\n", lines[i].semi ? 3 : 2);
  }
  d = h1_cat(d, cl_hdr, cl_len);
  return h1_cat(d, "\r\n", 2);
}

/* ---------------- public API ---------------- */

kl_h1 *kl_h1_new(uv_loop_t *loop) {
  kl_h1 *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->loop = loop;
  uv_timer_init(loop, &p->sweep);
  p->sweep.data = p;
  uv_unref((uv_handle_t *)&p->sweep);
  p->open_handles = 1;
  return p;
}

void kl_h1_free(kl_h1 *p) {
  if (!p || p->freeing) return;
  p->freeing = true;
  while (p->calls) {
    h1_call *c = p->calls;
    c->cancelled = true;
    h1_detach(c);
    h1_release(c);
  }
  while (p->conns) h1_conn_close(p->conns);
  while (p->nspare) kl_arena_free(p->spare[--p->nspare]);
  p->active = 0;
  uv_close((uv_handle_t *)&p->sweep, h1_sweep_closed);
}

int kl_h1_active(const kl_h1 *p) { return p ? p->active : 0; }

static h1_call *h1_call_new(kl_h1 *p, size_t head_len, const kl_upstream_cbs *cbs, void *ud) {
  h1_call *c = p->spare_calls;
  if (c && c->head_cap >= head_len) {
    p->spare_calls = c->next;
    p->nspare_calls--;
    size_t cap = c->head_cap;
    memset(c, 0, offsetof(h1_call, head)); /* as calloc'd; head is written whole */
    c->head_cap = cap;
  } else {
    size_t cap = head_len > H1_HEAD_ROOM ? head_len : H1_HEAD_ROOM;
    c = calloc(1, sizeof *c + cap + 1);
    if (!c) return NULL;
    c->head_cap = cap;
  }
  c->head[head_len] = 0;
  c->kind = KL_UP_KIND_H1;
  c->p = p;
  if (cbs) c->cbs = *cbs;
  c->ud = ud;
  uv_timer_init(p->loop, &c->timer);
  c->timer.data = c;
  p->open_handles++;
  c->next = p->calls;
  if (p->calls) p->calls->prev = c;
  p->calls = c;
  p->active++;
  return c;
}

kl_upstream_call *kl_h1_start(kl_h1 *p, const kl_upstream_opts *o, const kl_upstream_cbs *cbs, void *ud,
                              kl_err *err, bool *fallback) {
  *fallback = false;
  if (p->freeing) {
    kl_err_set(err, 500, "upstream: client is shutting down");
    return NULL;
  }
  h1_url url;
  bool url_cached;
  if (!h1_url_get(p, o->url, &url, &url_cached)) {
    *fallback = true;
    return NULL;
  }
  const char *method = o->method && *o->method ? o->method : (o->body ? "POST" : "GET");
  bool send_body = o->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                   strcmp(method, "PATCH") == 0;
  for (const char *m = method; *m; m++)
    if ((unsigned char)*m <= ' ' || *m == 0x7f) {
      kl_err_set(err, 400, "upstream: bad method");
      return NULL;
    }

  bool has_host = false, has_cl = false;
  size_t method_len = strlen(method);
  size_t head_len = method_len + (url.path_len && url.path[0] == '/' ? 1 : 2) + url.path_len + 11 + 2;
  h1_line few[16], *lines = few;
  if (o->nheaders > sizeof few / sizeof *few && !(lines = malloc(o->nheaders * sizeof *lines))) {
    kl_err_set(err, 500, "upstream: out of memory");
    return NULL;
  }
  if (h1_lines(o, lines, &head_len, &has_host, &has_cl) != 0) {
    if (lines != few) free(lines);
    kl_err_set(err, 400, "upstream: header line contains CR or LF");
    return NULL;
  }
  const char *host_hdr = "";
  size_t host_len = 0;
  char host_buf[H1_HOST_LINE], cl_hdr[48];
  if (!has_host) {
    if (url_cached) {
      host_hdr = p->last_host_line;
      host_len = p->last_host_line_len;
    } else {
      host_len = h1_host_line(&url, host_buf);
      host_hdr = host_buf;
    }
  }
  size_t cl_len = 0;
  if (send_body && !has_cl) {
    h1_w cw = {cl_hdr, 0};
    h1_lit(&cw, "Content-Length: ", sizeof cl_hdr - 1);
    h1_num(&cw, o->body ? o->body_len : 0, sizeof cl_hdr - 1);
    h1_lit(&cw, "\r\n", sizeof cl_hdr - 1);
    cl_len = cw.n;
  }
  head_len += host_len + cl_len;
  h1_host *host = h1_host_get(p, &url);
  h1_call *c = host ? h1_call_new(p, head_len, cbs, ud) : NULL;
  if (c) {
    char *e = h1_head(c->head, method, method_len, &url, lines, o->nheaders, host_hdr, host_len, cl_hdr, cl_len);
    assert((size_t)(e - c->head) == head_len);
    (void)e;
  }
  if (lines != few) free(lines);
  if (!c) {
    kl_err_set(err, 500, "upstream: out of memory");
    return NULL;
  }
  c->head_len = head_len;
  c->body = send_body && o->body ? o->body : NULL;
  c->body_len = c->body ? o->body_len : 0;
  c->host = host;
  c->is_head = strcmp(method, "HEAD") == 0;
  c->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : H1_CONNECT_TIMEOUT_MS;
  c->ttfb_ms = o->first_byte_timeout_ms;
  c->total_ms = o->total_timeout_ms;
  uint64_t now = uv_now(p->loop);
  if (c->ttfb_ms > 0) c->ttfb_at = now + (uint64_t)c->ttfb_ms;
  if (c->total_ms > 0) c->total_at = now + (uint64_t)c->total_ms;


  /* A pooled connection first (the most recently used one: the likeliest to be alive). */
  h1_conn *k = host->idle;
  if (k) {
    h1_idle_unlink(k);
    uv_ref((uv_handle_t *)&k->tcp);
    c->reused = true;
    int rc = h1_send(c, k);
    if (rc == 0) {
      h1_arm(c);
      return (kl_upstream_call *)c;
    }
    h1_conn_close(k); /* died while idle: a fresh one, as below */
    c->retried = true;
  }
  int rc = h1_open(c);
  if (rc < 0) {
    snprintf(c->errbuf, sizeof c->errbuf, "connect to %s:%d failed: %s", host->name, host->port, uv_strerror(rc));
    h1_fail_later(c, KL_UP_CONNECT);
  } else {
    h1_arm(c);
  }
  return (kl_upstream_call *)c;
}

void kl_h1_cancel(kl_upstream_call *uc) {
  h1_call *c = (h1_call *)uc;
  if (!c || c->cancelled || c->finished) return;
  c->cancelled = true;
  h1_detach(c);
  h1_release(c);
}

/* ---------------- test hooks ---------------- */

kl_upstream_call *kl_h1_test_call(kl_h1 *p, const char *method, const kl_upstream_cbs *cbs, void *ud) {
  static const h1_url url = {.host = "fake", .host_len = 4, .port = 80};
  h1_host *host = h1_host_get(p, &url);
  h1_call *c = host ? h1_call_new(p, 0, cbs, ud) : NULL;
  if (!c) return NULL;
  c->host = host;
  c->is_head = method && strcmp(method, "HEAD") == 0;
  h1_conn *k = h1_conn_new(p, host);
  k->fake = true;
  h1_send(c, k);
  return (kl_upstream_call *)c;
}

void kl_h1_test_input(kl_upstream_call *uc, const char *data, ssize_t n) {
  h1_call *c = (h1_call *)uc;
  if (c->conn) h1_input(c->conn, data, n);
}
