/* upstream_h1_recv.c: the response side of the built-in HTTP/1.1 client: llhttp's
 * callbacks (status, headers, body, message end), feeding socket reads into the parser, and
 * what happens when a connection ends (EOF, reset, garbage) with or without a call on it.
 *
 * Callbacks fire from inside llhttp_execute and may cancel, start or free calls; after each
 * user callback the code only re-checks flags in memory that stays valid until the loop's
 * close phase (see upstream_h1.c's top comment). */
#include "net/upstream_h1_int.h"

#include <stdlib.h>
#include <strings.h>

/* The connection's live call, or NULL when it was cancelled or the pool freed meanwhile. */
static h1_call *h1_cur(llhttp_t *lp) {
  h1_conn *k = lp->data;
  return k->closing ? NULL : k->call;
}

static void h1_span(h1_call *c, char **s, size_t *len, const char *at, size_t n) {
  char *d = kl_arena_alloc(h1_arena(c), *len + n + 1);
  if (*len) memcpy(d, *s, *len); /* split across reads: rare, so simply re-copied */
  memcpy(d + *len, at, n);
  *len += n;
  d[*len] = 0;
  *s = d;
}

static int h1_too_big(h1_call *c, size_t n) {
  c->head_bytes += n;
  if (c->head_bytes <= H1_MAX_HEAD) return 0;
  snprintf(c->errbuf, sizeof c->errbuf, "response headers larger than %d bytes", H1_MAX_HEAD);
  return 1;
}

static int h1_on_message_begin(llhttp_t *lp) {
  h1_call *c = h1_cur(lp);
  if (!c) return -1;
  c->nrh = 0;
  c->fname_len = c->fval_len = 0;
  return 0;
}

static int h1_on_header_field(llhttp_t *lp, const char *at, size_t n) {
  h1_call *c = h1_cur(lp);
  if (!c) return -1;
  if (c->responded) return 0; /* trailer fields are dropped */
  if (h1_too_big(c, n)) return -1;
  h1_span(c, &c->fname, &c->fname_len, at, n);
  return 0;
}

static int h1_on_header_value(llhttp_t *lp, const char *at, size_t n) {
  h1_call *c = h1_cur(lp);
  if (!c) return -1;
  if (c->responded) return 0;
  if (h1_too_big(c, n)) return -1;
  h1_span(c, &c->fval, &c->fval_len, at, n);
  return 0;
}

static int h1_on_header_value_complete(llhttp_t *lp) {
  h1_call *c = h1_cur(lp);
  if (!c) return -1;
  if (c->responded) return 0;
  h1_arena(c);
  c->rh = kl_arena_grow(c->arena, c->rh, c->nrh, &c->caprh, sizeof *c->rh, 16);
  char *name = c->fname_len ? c->fname : kl_arena_strdup(c->arena, "");
  for (char *s = name; *s; s++)
    if (*s >= 'A' && *s <= 'Z') *s = (char)(*s + 32);
  char *v = c->fval_len ? c->fval : kl_arena_strdup(c->arena, "");
  size_t vn = c->fval_len;
  while (vn && (*v == ' ' || *v == '\t')) v++, vn--;
  while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r' || v[vn - 1] == '\n')) vn--;
  v[vn] = 0;
  c->rh[c->nrh].name = name;
  c->rh[c->nrh].value = v;
  c->nrh++;
  c->fname_len = c->fval_len = 0;
  return 0;
}

static int h1_on_headers_complete(llhttp_t *lp) {
  h1_call *c = h1_cur(lp);
  if (!c) return -1;
  int st = llhttp_get_status_code(lp);
  if (st == 101 || st < 100) {
    snprintf(c->errbuf, sizeof c->errbuf, "upstream answered with status %d, not an HTTP response", st);
    return -1;
  }
  if (st >= 100 && st < 200) { /* interim: skipped, the final response follows */
    c->interim = true;
    return 0;
  }
  c->status = st;
  c->responded = true;
  if (c->cbs.on_response) c->cbs.on_response(c->ud, st, c->rh, c->nrh);
  if (h1_cur(lp) != c) return -1;
  return c->is_head ? 1 : 0;
}

static int h1_on_body(llhttp_t *lp, const char *at, size_t n) {
  h1_call *c = h1_cur(lp);
  if (!c) return -1;
  if (!c->responded) { /* llhttp lets a 1xx with Transfer-Encoding have a body */
    snprintf(c->errbuf, sizeof c->errbuf, "malformed response from upstream: body in an interim response");
    return -1;
  }
  if (!c->got_body) {
    c->got_body = true;
    if (c->ttfb_at) {
      c->ttfb_at = 0;
      h1_arm(c);
    }
  }
  if (n && c->cbs.on_data && c->cbs.on_data(c->ud, at, n) != 0) {
    if (h1_cur(lp) == c) c->data_abort = true;
    return -1;
  }
  return h1_cur(lp) == c ? 0 : -1;
}

static int h1_on_message_complete(llhttp_t *lp) {
  h1_call *c = h1_cur(lp);
  if (!c) return -1;
  if (c->interim) {
    c->interim = false;
    c->head_bytes = 0;
    return 0;
  }
  c->msg_done = true;
  c->keep_alive = llhttp_should_keep_alive(lp);
  return HPE_PAUSED; /* nothing may follow: we never pipeline */
}

const llhttp_settings_t h1_settings = {
    .on_message_begin = h1_on_message_begin,
    .on_header_field = h1_on_header_field,
    .on_header_value = h1_on_header_value,
    .on_header_value_complete = h1_on_header_value_complete,
    .on_headers_complete = h1_on_headers_complete,
    .on_body = h1_on_body,
    .on_message_complete = h1_on_message_complete,
};

static void h1_feed(h1_conn *k, h1_call *c, const char *d, size_t n) {
  k->got_bytes = true;
  llhttp_errno_t e = llhttp_execute(&k->parser, d, n);
  if (k->call != c || k->closing) return; /* cancelled or freed from a callback */
  if (c->data_abort) {
    h1_conn_close(k);
    h1_finish(c, KL_UP_ERROR, "aborted by on_data");
    return;
  }
  if (c->msg_done) {
    bool all = e == HPE_PAUSED && llhttp_get_error_pos(&k->parser) == d + n;
    if (c->keep_alive && all && !k->writing && !k->fake) h1_conn_idle(k);
    else h1_conn_close(k);
    h1_finish(c, KL_UP_OK, "");
    return;
  }
  if (e == HPE_OK) return;
  if (!c->errbuf[0]) {
    const char *why = llhttp_get_error_reason(&k->parser);
    snprintf(c->errbuf, sizeof c->errbuf, "malformed response from upstream: %s (%s)", why ? why : "?",
             llhttp_errno_name(e));
  }
  h1_conn_close(k);
  h1_finish(c, KL_UP_ERROR, c->errbuf);
}

/* The connection ended (EOF, reset, write error) while a call was on it. */
static void h1_conn_end(h1_conn *k, h1_call *c, int err) {
  if (!k->got_bytes && c->reused && !c->retried) {
    h1_retry(c);
    return;
  }
  if (err == UV_EOF && k->got_bytes) {
    llhttp_finish(&k->parser); /* a body delimited by EOF completes here */
    if (k->call != c || k->closing) return;
    if (c->msg_done) {
      h1_conn_close(k);
      h1_finish(c, KL_UP_OK, "");
      return;
    }
  }
  h1_conn_close(k);
  if (err == UV_EOF) snprintf(c->errbuf, sizeof c->errbuf, "upstream closed the connection before the response was complete");
  else snprintf(c->errbuf, sizeof c->errbuf, "upstream connection failed: %s", uv_strerror(err));
  h1_finish(c, KL_UP_RESET, c->errbuf);
}

void h1_input(h1_conn *k, const char *d, ssize_t n) {
  if (n == 0 || k->closing) return;
  h1_call *c = k->call;
  if (!c) { /* idle: EOF, reset or stray bytes all mean the connection is done */
    h1_conn_close(k);
    return;
  }
  if (n < 0) h1_conn_end(k, c, (int)n);
  else h1_feed(k, c, d, (size_t)n);
}

void h1_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  h1_input(s->data, buf->base, n);
}

void h1_write_cb(uv_write_t *req, int status) {
  h1_conn *k = req->handle->data;
  k->writing = false;
  if (status == 0 || status == UV_ECANCELED || k->closing) return;
  if (k->call) h1_conn_end(k, k->call, status);
  else h1_conn_close(k);
}
