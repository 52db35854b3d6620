/* upstream.c: the upstream HTTP client: one libcurl multi handle per libuv loop.
 *
 * Why curl multi on the caller's loop: the gateway relays LLM streams, so a worker holds
 * hundreds of slow calls at once; a thread per call would waste memory and a blocking
 * client would stall the loop.  curl tells us which sockets it wants watched
 * (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket, found again through
 * curl_multi_assign, so no lookups) and when it wants a timeout (CURLMOPT_TIMERFUNCTION
 * -> one uv_timer_t).  On any event we call curl_multi_socket_action() and then drain
 * curl_multi_info_read() for finished transfers.  Connections stay in the multi handle's
 * pool, and HTTP/2 streams are multiplexed where the server offers h2 over TLS.
 *
 * Re-entrancy is the hard part.  on_response and on_data run inside curl (from its
 * header/write callbacks), and curl refuses curl_multi_remove_handle/add_handle there.
 * So u->in_curl counts how deep we are inside curl_multi_socket_action.  While it is
 * nonzero, kl_upstream_cancel() only marks the call (the next write returns 0, which
 * aborts the transfer) and queues it on u->reap; kl_upstream_start() queues on u->pending.
 * Both queues are flushed right after socket_action returns, the "safe point", before
 * finished transfers are reported.  on_done itself always runs at a safe point, so from
 * there cancel/start/free act at once.
 *
 * Lifetime: every call embeds its first-byte uv_timer_t, so a call's memory is released
 * in that timer's close callback; the upstream itself is released when the last of its
 * handles (curl timer, socket polls, call timers) has closed.  This is why
 * kl_upstream_free() needs the loop to run afterwards.
 *
 * Plain http:// URLs go to the built-in HTTP/1.1 client (upstream_h1.c, much cheaper per
 * request) unless opts->use_curl; this file only dispatches to it (start, cancel, active,
 * free).  Both call structs start with a kind tag so cancel knows whose a call is. */
#include "net/kl_net.h"
#include "net/upstream_h1.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UP_MAX_CONNECTS 256 /* idle connections kept in the pool, all hosts together */
#define UP_CONNECT_TIMEOUT_MS 10000L

typedef struct up_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  kl_upstream *u;
  bool closing;
  struct up_sock *prev, *next;
} up_sock;

struct kl_upstream {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;           /* curl's timeout */
  kl_upstream_call *calls;    /* live calls (not finished, not yet reaped) */
  kl_upstream_call *reap;     /* cancelled inside curl: removed at the next safe point */
  kl_upstream_call *pending;  /* started inside curl: added at the next safe point */
  up_sock *socks;
  int active;
  int in_curl;                /* > 0 while inside curl_multi_socket_action */
  int open_handles;           /* uv handles not closed yet; u is freed when 0 */
  bool freeing, free_pending;
  kl_h1 *h1;                  /* the built-in client for plain http:// (upstream_h1.c) */
};

struct kl_upstream_call {
  int kind;                   /* KL_UP_KIND_CURL; must stay first (see upstream_h1.h) */
  kl_upstream *u;
  CURL *easy;
  struct curl_slist *hdrs;
  kl_upstream_cbs cbs;
  void *ud;
  kl_arena *arena;            /* response headers */
  kl_http_header *rh;
  size_t nrh, caprh;
  int status;
  long ttfb_ms;
  uv_timer_t ttfb;
  kl_upstream_call *prev, *next; /* u->calls */
  kl_upstream_call *rnext;       /* u->reap */
  kl_upstream_call *pnext;       /* u->pending (a call can be on both) */
  bool added;                 /* in the multi handle */
  bool queued_add;            /* on u->pending */
  bool connected;             /* a connection was established or reused (PREREQFUNCTION) */
  bool responded, got_body, data_abort, cancelled, finished;
  char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t up_once = PTHREAD_ONCE_INIT;
static CURLcode up_global_rc;
static void up_global_init(void) { up_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---------------- handle bookkeeping ---------------- */

static void up_handle_closed(kl_upstream *u) {
  if (--u->open_handles == 0 && u->freeing) free(u);
}

static void up_timer_closed(uv_handle_t *h) { up_handle_closed(h->data); }

static void up_sock_closed(uv_handle_t *h) {
  up_sock *ps = h->data;
  kl_upstream *u = ps->u;
  free(ps);
  up_handle_closed(u);
}

static void up_sock_close(kl_upstream *u, up_sock *ps) {
  if (ps->closing) return;
  ps->closing = true;
  if (ps->prev) ps->prev->next = ps->next;
  else u->socks = ps->next;
  if (ps->next) ps->next->prev = ps->prev;
  uv_close((uv_handle_t *)&ps->poll, up_sock_closed);
}

static void up_call_closed(uv_handle_t *h) {
  kl_upstream_call *c = h->data;
  kl_upstream *u = c->u;
  free(c);
  up_handle_closed(u);
}

/* Takes the call out of curl and of the upstream's lists.  Only at a safe point. */
static void up_detach(kl_upstream_call *c) {
  kl_upstream *u = c->u;
  uv_timer_stop(&c->ttfb);
  if (c->added) {
    curl_multi_remove_handle(u->multi, c->easy);
    c->added = false;
  }
  if (c->queued_add) { /* rare: started and dropped within one socket_action */
    kl_upstream_call **pp = &u->pending;
    while (*pp != c) pp = &(*pp)->pnext;
    *pp = c->pnext;
    c->queued_add = false;
  }
  if (c->easy) curl_easy_cleanup(c->easy);
  c->easy = NULL;
  if (c->prev) c->prev->next = c->next;
  else if (u->calls == c) u->calls = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void up_release(kl_upstream_call *c) {
  curl_slist_free_all(c->hdrs);
  c->hdrs = NULL;
  kl_arena_free(c->arena);
  c->arena = NULL;
  uv_close((uv_handle_t *)&c->ttfb, up_call_closed);
}

/* Ends a call and reports it.  Only at a safe point (never inside curl). */
static void up_finish(kl_upstream_call *c, kl_upstream_status st, const char *msg) {
  c->finished = true;
  c->u->active--;
  up_detach(c);
  if (c->cbs.on_done) c->cbs.on_done(c->ud, st, msg ? msg : "");
  up_release(c);
}

/* ---------------- result mapping ---------------- */

static kl_upstream_status up_map(CURLcode rc, bool connected) {
  switch (rc) {
  case CURLE_OK: return KL_UP_OK;
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CLIENTCERT:
    return KL_UP_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return connected ? KL_UP_TIMEOUT : KL_UP_CONNECT;
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2_STREAM: /* the server reset our h2 stream: same as a reset connection */
    return KL_UP_RESET;
  default:
    return KL_UP_ERROR;
  }
}

static void up_complete(kl_upstream_call *c, CURLcode rc) {
  if (rc == CURLE_OK) {
    up_finish(c, KL_UP_OK, "");
  } else if (c->data_abort) {
    up_finish(c, KL_UP_ERROR, "aborted by on_data");
  } else {
    if (!c->errbuf[0]) snprintf(c->errbuf, sizeof c->errbuf, "%s", curl_easy_strerror(rc));
    up_finish(c, up_map(rc, c->connected), c->errbuf);
  }
}

/* ---------------- the safe point ---------------- */

static void up_do_free(kl_upstream *u);

static void up_add_now(kl_upstream_call *c, kl_err *err) {
  CURLMcode mrc = curl_multi_add_handle(c->u->multi, c->easy);
  if (mrc == CURLM_OK) {
    c->added = true;
  } else {
    kl_err_set(err, 500, "upstream: curl_multi_add_handle: %s", curl_multi_strerror(mrc));
  }
}

static void up_safe_point(kl_upstream *u) {
  if (u->free_pending) {
    up_do_free(u);
    return;
  }
  while (u->reap) {
    kl_upstream_call *c = u->reap;
    u->reap = c->rnext;
    up_detach(c);
    up_release(c);
  }
  while (u->pending && !u->freeing) {
    kl_upstream_call *c = u->pending;
    u->pending = c->pnext;
    c->queued_add = false;
    kl_err err = {0, ""};
    up_add_now(c, &err);
    if (!c->added) up_finish(c, KL_UP_ERROR, err.msg);
  }
  CURLMsg *m;
  int left;
  while (!u->freeing && (m = curl_multi_info_read(u->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    char *priv = NULL;
    CURLcode rc = m->data.result; /* m dies with the handle: read it first */
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
    kl_upstream_call *c = (kl_upstream_call *)priv;
    if (!c || c->finished) continue;
    if (c->cancelled) { /* not expected (cancel at a safe point detaches at once) */
      up_detach(c);
      up_release(c);
      continue;
    }
    up_complete(c, rc);
  }
}

static void up_drive(kl_upstream *u, curl_socket_t s, int ev) {
  int running;
  u->in_curl++;
  curl_multi_socket_action(u->multi, s, ev, &running);
  u->in_curl--;
  if (u->in_curl == 0) up_safe_point(u);
}

/* ---------------- curl <-> libuv glue ---------------- */

static void up_poll_cb(uv_poll_t *h, int status, int events) {
  up_sock *ps = h->data;
  int ev = 0;
  if (status < 0) ev = CURL_CSELECT_ERR;
  if (events & UV_READABLE) ev |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) ev |= CURL_CSELECT_OUT;
  up_drive(ps->u, ps->fd, ev);
}

static int up_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  kl_upstream *u = userp;
  up_sock *ps = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (ps) up_sock_close(u, ps);
    if (u->multi) curl_multi_assign(u->multi, s, NULL);
    return 0;
  }
  if (!ps) {
    ps = calloc(1, sizeof *ps);
    if (!ps) {
      fprintf(stderr, "keel: out of memory (upstream socket)\n");
      abort();
    }
    if (uv_poll_init_socket(u->loop, &ps->poll, s) != 0) {
      free(ps);
      return -1;
    }
    ps->poll.data = ps;
    ps->fd = s;
    ps->u = u;
    ps->next = u->socks;
    if (u->socks) u->socks->prev = ps;
    u->socks = ps;
    u->open_handles++;
    curl_multi_assign(u->multi, s, ps);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  return uv_poll_start(&ps->poll, events, up_poll_cb) == 0 ? 0 : -1;
}

static void up_timeout_cb(uv_timer_t *t) { up_drive(t->data, CURL_SOCKET_TIMEOUT, 0); }

static int up_timer_cb(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  kl_upstream *u = userp;
  if (timeout_ms < 0 || u->freeing) uv_timer_stop(&u->timer);
  else uv_timer_start(&u->timer, up_timeout_cb, (uint64_t)timeout_ms, 0);
  return 0;
}

/* ---------------- per-call curl callbacks ---------------- */

static int up_prereq_cb(void *ud, char *pip, char *lip, int pport, int lport) {
  (void)pip, (void)lip, (void)pport, (void)lport;
  ((kl_upstream_call *)ud)->connected = true;
  return CURL_PREREQFUNC_OK;
}

static void up_fire_response(kl_upstream_call *c) {
  c->responded = true;
  if (c->cbs.on_response) c->cbs.on_response(c->ud, c->status, c->rh, c->nrh);
}

static void up_add_header(kl_upstream_call *c, const char *s, size_t n) {
  if (!c->arena) c->arena = kl_arena_new(2048);
  /* obs-fold continuation line: append to the previous value */
  if ((s[0] == ' ' || s[0] == '\t') && c->nrh) {
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    kl_http_header *h = &c->rh[c->nrh - 1];
    h->value = kl_arena_sprintf(c->arena, "%s %.*s", h->value, (int)n, s);
    return;
  }
  const char *colon = memchr(s, ':', n);
  if (!colon || colon == s) return;
  size_t nl = (size_t)(colon - s);
  const char *v = colon + 1, *end = s + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  c->rh = kl_arena_grow(c->arena, c->rh, c->nrh, &c->caprh, sizeof *c->rh, 16);
  char *name = kl_arena_strndup(c->arena, s, nl);
  for (char *p = name; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
  c->rh[c->nrh].name = name;
  c->rh[c->nrh].value = kl_arena_strndup(c->arena, v, (size_t)(end - v));
  c->nrh++;
}

static size_t up_header_cb(char *buf, size_t size, size_t nitems, void *ud) {
  kl_upstream_call *c = ud;
  size_t len = size * nitems, n = len;
  if (c->cancelled) return 0;
  if (c->responded) return len; /* trailers of a chunked response: ignored */
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
  if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    /* a status line starts a response; an earlier one was interim (1xx) */
    size_t i = 5;
    while (i < n && buf[i] != ' ') i++;
    while (i < n && buf[i] == ' ') i++;
    int st = 0;
    for (int k = 0; k < 3 && i < n && buf[i] >= '0' && buf[i] <= '9'; k++, i++) st = st * 10 + (buf[i] - '0');
    c->status = st;
    c->nrh = c->caprh = 0;
    c->rh = NULL;
    if (c->arena) kl_arena_reset(c->arena);
    return len;
  }
  if (n == 0) { /* end of a header section */
    if (c->status >= 100 && c->status < 200) return len;
    up_fire_response(c);
    return c->cancelled ? 0 : len;
  }
  up_add_header(c, buf, n);
  return len;
}

static size_t up_write_cb(char *buf, size_t size, size_t nmemb, void *ud) {
  kl_upstream_call *c = ud;
  size_t len = size * nmemb;
  if (c->cancelled) return 0;
  if (!c->got_body) {
    c->got_body = true;
    uv_timer_stop(&c->ttfb);
  }
  if (!c->responded) { /* no header section seen (should not happen with HTTP/1.x, h2) */
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    c->status = (int)code;
    up_fire_response(c);
    if (c->cancelled) return 0;
  }
  if (len && c->cbs.on_data && c->cbs.on_data(c->ud, buf, len) != 0) {
    if (!c->cancelled) c->data_abort = true;
    return 0;
  }
  return c->cancelled ? 0 : len;
}

static void up_ttfb_cb(uv_timer_t *t) {
  kl_upstream_call *c = t->data;
  if (c->finished || c->cancelled || c->got_body) return;
  snprintf(c->errbuf, sizeof c->errbuf, "no response body byte within %ld ms", c->ttfb_ms);
  up_finish(c, KL_UP_TTFB_TIMEOUT, c->errbuf);
}

/* ---------------- public API ---------------- */

kl_upstream *kl_upstream_new(uv_loop_t *loop, kl_err *err) {
  pthread_once(&up_once, up_global_init);
  if (up_global_rc != CURLE_OK) {
    kl_err_set(err, 500, "upstream: curl_global_init: %s", curl_easy_strerror(up_global_rc));
    return NULL;
  }
  kl_upstream *u = calloc(1, sizeof *u);
  if (!u) {
    kl_err_set(err, 500, "upstream: out of memory");
    return NULL;
  }
  u->loop = loop;
  u->multi = curl_multi_init();
  if (!u->multi) {
    free(u);
    kl_err_set(err, 500, "upstream: curl_multi_init failed");
    return NULL;
  }
  u->h1 = kl_h1_new(loop);
  if (!u->h1) {
    curl_multi_cleanup(u->multi);
    free(u);
    kl_err_set(err, 500, "upstream: out of memory");
    return NULL;
  }
  uv_timer_init(loop, &u->timer);
  u->timer.data = u;
  u->open_handles = 1;
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, up_socket_cb);
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, up_timer_cb);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)UP_MAX_CONNECTS);
  curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  return u;
}

static void up_do_free(kl_upstream *u) {
  u->freeing = true;
  u->free_pending = false;
  u->reap = u->pending = NULL; /* their calls are all still on u->calls */
  while (u->calls) {
    kl_upstream_call *c = u->calls;
    c->cancelled = true;
    c->queued_add = false;
    up_detach(c);
    up_release(c);
  }
  u->active = 0;
  CURLM *m = u->multi;
  curl_multi_cleanup(m); /* may report CURL_POLL_REMOVE for live sockets */
  u->multi = NULL;
  while (u->socks) up_sock_close(u, u->socks);
  uv_close((uv_handle_t *)&u->timer, up_timer_closed);
}

void kl_upstream_free(kl_upstream *u) {
  if (!u || u->freeing || u->free_pending) return;
  kl_h1_free(u->h1);
  u->h1 = NULL;
  if (u->in_curl) { /* called from on_response/on_data: silence everything, free at the safe point */
    for (kl_upstream_call *c = u->calls; c; c = c->next) {
      c->cancelled = true;
      uv_timer_stop(&c->ttfb);
    }
    u->active = 0;
    u->free_pending = true;
    return;
  }
  up_do_free(u);
}

kl_upstream_call *kl_upstream_start(kl_upstream *u, const kl_upstream_opts *opts,
                                    const kl_upstream_cbs *cbs, void *ud, kl_err *err) {
  if (!u || !opts || !opts->url || !*opts->url) {
    kl_err_set(err, 400, "upstream: no URL");
    return NULL;
  }
  if (u->freeing || u->free_pending) {
    kl_err_set(err, 500, "upstream: client is shutting down");
    return NULL;
  }
  if (!opts->use_curl && u->h1 && strncasecmp(opts->url, "http://", 7) == 0) {
    bool fallback = false;
    kl_upstream_call *hc = kl_h1_start(u->h1, opts, cbs, ud, err, &fallback);
    if (hc || !fallback) return hc;
  }
  CURL *e = curl_easy_init();
  if (!e) {
    kl_err_set(err, 500, "upstream: curl_easy_init failed");
    return NULL;
  }
  kl_upstream_call *c = calloc(1, sizeof *c);
  if (!c) {
    curl_easy_cleanup(e);
    kl_err_set(err, 500, "upstream: out of memory");
    return NULL;
  }
  c->kind = KL_UP_KIND_CURL;
  c->u = u;
  c->easy = e;
  if (cbs) c->cbs = *cbs;
  c->ud = ud;
  c->ttfb_ms = opts->first_byte_timeout_ms;
  uv_timer_init(u->loop, &c->ttfb);
  c->ttfb.data = c;
  u->open_handles++;

  struct curl_slist *h = NULL;
  bool has_ctype = false;
  for (size_t i = 0; i < opts->nheaders; i++) {
    if (!opts->headers[i]) continue;
    if (strncasecmp(opts->headers[i], "content-type:", 13) == 0) has_ctype = true;
    h = curl_slist_append(h, opts->headers[i]);
  }
  h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip on POST */
  const char *method = opts->method && *opts->method ? opts->method : (opts->body ? "POST" : "GET");
  bool send_body = opts->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                   strcmp(method, "PATCH") == 0;
  /* curl would invent "application/x-www-form-urlencoded"; we relay what we were given. */
  if (send_body && !has_ctype) h = curl_slist_append(h, "Content-Type:");
  c->hdrs = h;

  curl_easy_setopt(e, CURLOPT_PRIVATE, c);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  if (curl_easy_setopt(e, CURLOPT_URL, opts->url) != CURLE_OK) goto fail_opt;
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hdrs);
  if (send_body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(opts->body ? opts->body_len : 0));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, opts->body ? opts->body : "");
    if (strcmp(method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  }
  /* Ignore failure: a curl without HTTP/2 just speaks HTTP/1.1. */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  /* PIPEWAIT makes a new call wait for a pending connection to the same host to tell
   * whether it multiplexes.  Over TLS, ALPN answers during the handshake; over cleartext
   * it is only known when the first response arrives, so one slow call would hold up
   * every other call to that host.  Hence https only. */
  if (strncasecmp(opts->url, "https://", 8) == 0) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, opts->insecure_tls ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, opts->insecure_tls ? 0L : 2L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
  curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L); /* proxy CONNECT is not the response */
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : UP_CONNECT_TIMEOUT_MS);
  if (opts->total_timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, opts->total_timeout_ms);
  curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, up_prereq_cb);
  curl_easy_setopt(e, CURLOPT_PREREQDATA, c);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, up_header_cb);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, up_write_cb);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c);

  if (u->in_curl) {
    c->queued_add = true;
    c->pnext = u->pending;
    u->pending = c;
  } else {
    up_add_now(c, err);
    if (!c->added) goto fail;
  }
  c->next = u->calls;
  if (u->calls) u->calls->prev = c;
  u->calls = c;
  u->active++;
  if (c->ttfb_ms > 0) uv_timer_start(&c->ttfb, up_ttfb_cb, (uint64_t)c->ttfb_ms, 0);
  return c;

fail_opt:
  kl_err_set(err, 500, "upstream: cannot set URL");
fail:
  curl_easy_cleanup(c->easy);
  c->easy = NULL;
  up_release(c);
  return NULL;
}

void kl_upstream_cancel(kl_upstream_call *c) {
  if (c && kl_up_kind(c) == KL_UP_KIND_H1) {
    kl_h1_cancel(c);
    return;
  }
  if (!c || c->cancelled || c->finished) return;
  kl_upstream *u = c->u;
  c->cancelled = true;
  u->active--;
  uv_timer_stop(&c->ttfb);
  if (u->in_curl) {
    c->rnext = u->reap;
    u->reap = c;
    return;
  }
  up_detach(c);
  up_release(c);
}

int kl_upstream_active(const kl_upstream *u) { return u ? u->active + kl_h1_active(u->h1) : 0; }
