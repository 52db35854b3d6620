/* http_parse.c: the request parser, llhttp behind a "feed bytes, get events" interface.
 *
 * llhttp is a callback parser that may split any token across reads, so every span
 * (URL, header name, header value) is accumulated straight in the request arena (a split
 * one is copied to a buffer of twice the size, so a head split into many reads costs a
 * bounded multiple of its bytes); names are lower-cased and values trimmed in place.
 * Bodies go straight from the read buffer into the arena: with a
 * Content-Length the exact size is allocated up front (one copy in total); chunked
 * bodies grow geometrically.
 *
 * Limits are enforced here so they are fuzzable without sockets:
 *   - the head (request line + headers) is never fed to llhttp beyond max_header_bytes+1
 *     bytes, so an endless header costs at most that much memory -> 431;
 *   - a Content-Length over max_body_bytes is rejected at the end of the head, before any
 *     body byte is read (which is also what makes "Expect: 100-continue" answer 413 at
 *     once); a chunked body is cut as soon as it crosses the limit -> 413;
 *   - anything llhttp rejects -> 400.
 * The parser pauses after a complete message (so pipelined requests are handled one at
 * a time) and after a head that announces a body (so the connection can send 100 Continue
 * and switch from the header timeout to the body timeout). */
#include "net/http_internal.h"

#include <stdio.h>
#include <string.h>

static kl_hp *HP(llhttp_t *p) { return (kl_hp *)p->data; }

static int fail(kl_hp *hp, int status, const char *code, const char *msg) {
  hp->err_status = status;
  hp->err_code = code;
  snprintf(hp->err_msg, sizeof hp->err_msg, "%s", msg);
  return HPE_USER;
}

static int on_message_begin(llhttp_t *p) {
  kl_hp *hp = HP(p);
  hp->started = true;
  return 0;
}

/* Appends n bytes to the span; one spare byte stays for the terminating NUL. */
static void span_add(kl_hp *hp, kl_hp_span *sp, const char *at, size_t n) {
  sp->d = kl_arena_reserve(hp->req->arena, sp->d, sp->len, &sp->cap, sp->len + n + 1, 0);
  memcpy(sp->d + sp->len, at, n);
  sp->len += n;
}

/* The span's text, NUL-terminated, in the arena ("" when nothing arrived); the span is emptied. */
static char *span_take(kl_hp *hp, kl_hp_span *sp, size_t *len) {
  if (!sp->d) span_add(hp, sp, "", 0);
  char *s = sp->d;
  s[sp->len] = 0;
  *len = sp->len;
  *sp = (kl_hp_span){0};
  return s;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  kl_hp *hp = HP(p);
  span_add(hp, &hp->url, at, n);
  return 0;
}

/* Trailer fields of a chunked body arrive through the same callbacks after the head;
 * they are counted against the header limit and otherwise dropped. */
static int trailer_bytes(kl_hp *hp, size_t n) {
  hp->trailer_bytes += n;
  if (hp->trailer_bytes > hp->max_header_bytes)
    return fail(hp, 431, "request_header_fields_too_large", "request trailers too large");
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  kl_hp *hp = HP(p);
  if (hp->head_done) return trailer_bytes(hp, n);
  span_add(hp, &hp->field, at, n);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  kl_hp *hp = HP(p);
  if (hp->head_done) return trailer_bytes(hp, n);
  span_add(hp, &hp->value, at, n);
  return 0;
}

/* RFC 9110 token characters lower-cased, 0 for every other byte: is_tchar and tolower (C
 * locale; keel never calls setlocale) in one lookup, where the two cost a call per byte. */
#define TC_ALNUM(c) \
  ((c) >= '0' && (c) <= '9' ? (c) : (c) >= 'a' && (c) <= 'z' ? (c) : (c) >= 'A' && (c) <= 'Z' ? (c) + 32 : 0)
#define TC_SYM(c)                                                                                              \
  ((c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' || (c) == '*' ||       \
           (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || \
           (c) == '~'                                                                                        \
       ? (c)                                                                                                 \
       : 0)
#define TC(c) (TC_ALNUM(c) ? TC_ALNUM(c) : TC_SYM(c))
#define TC4(c) TC(c), TC(c + 1), TC(c + 2), TC(c + 3)
#define TC16(c) TC4(c), TC4(c + 4), TC4(c + 8), TC4(c + 12)
static const unsigned char token_lower[256] = {TC16(0),  TC16(16), TC16(32), TC16(48),
                                               TC16(64), TC16(80), TC16(96), TC16(112)};

static int on_header_value_complete(llhttp_t *p) {
  kl_hp *hp = HP(p);
  if (hp->head_done) return 0;
  kl_arena *a = hp->req->arena;
  hp->hdrs = kl_arena_grow(a, hp->hdrs, hp->nhdrs, &hp->cap_hdrs, sizeof *hp->hdrs, 16);
  size_t nn, vn;
  char *name = span_take(hp, &hp->field, &nn);
  char *v = span_take(hp, &hp->value, &vn);
  if (!*name) return fail(hp, 400, "bad_request", "malformed HTTP request: empty header name");
  for (unsigned char *s = (unsigned char *)name; *s; s++) {
    /* llhttp's loose mode lets some non-token bytes through ("Bad Header"): refuse them
     * here, since a proxy that reads such a name differently invites smuggling. */
    unsigned char l = token_lower[*s];
    if (!l) return fail(hp, 400, "bad_request", "malformed HTTP request: invalid header name");
    *s = l;
  }
  while (vn && (*v == ' ' || *v == '\t')) v++, vn--;
  while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r' || v[vn - 1] == '\n')) vn--;
  v[vn] = 0; /* in place: the span is the arena's */
  hp->hdrs[hp->nhdrs].name = name;
  hp->hdrs[hp->nhdrs].value = v;
  hp->nhdrs++;
  return 0;
}

static bool token_eq(const char *v, const char *want) { return strcasecmp(v, want) == 0; }

static int on_headers_complete(llhttp_t *p) {
  kl_hp *hp = HP(p);
  kl_http_req *req = hp->req;
  kl_arena *a = req->arena;
  hp->head_done = true;
  if (llhttp_get_http_major(p) != 1)
    return fail(hp, 400, "unsupported_http_version", "only HTTP/1.x is supported");

  req->method = llhttp_method_name((llhttp_method_t)llhttp_get_method(p));
  size_t tn;
  char *target = span_take(hp, &hp->url, &tn);
  req->target = target;
  char *q = strchr(target, '?');
  if (q) {
    req->path = kl_arena_strndup(a, target, (size_t)(q - target));
    req->query = q + 1;
  } else {
    req->path = target;
    req->query = "";
  }
  req->headers = hp->hdrs;
  req->nheaders = hp->nhdrs;

  for (size_t i = 0; i < hp->nhdrs; i++)
    if (hp->hdrs[i].name[0] == 'e' && !strcmp(hp->hdrs[i].name, "expect") &&
        token_eq(hp->hdrs[i].value, "100-continue"))
      hp->expect_continue = true;

  bool has_body = false;
  if (p->flags & F_CHUNKED) {
    has_body = true;
  } else if (p->flags & F_CONTENT_LENGTH) {
    if (p->content_length > hp->max_body_bytes) {
      char msg[128];
      snprintf(msg, sizeof msg, "request body of %llu bytes exceeds the limit of %zu bytes",
               (unsigned long long)p->content_length, hp->max_body_bytes);
      return fail(hp, 413, "request_too_large", msg);
    }
    if (p->content_length > 0) {
      hp->body_cap = (size_t)p->content_length + 1;
      hp->body = kl_arena_alloc(a, hp->body_cap);
      has_body = true;
    }
  }
  /* Upgrade/CONNECT are not supported: llhttp would stop parsing HTTP after this
   * message, so the connection closes after the response. */
  if (llhttp_get_upgrade(p)) return 1;
  return has_body ? HPE_PAUSED : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  kl_hp *hp = HP(p);
  if (hp->body_len + n > hp->max_body_bytes) {
    char msg[128];
    snprintf(msg, sizeof msg, "request body exceeds the limit of %zu bytes", hp->max_body_bytes);
    return fail(hp, 413, "request_too_large", msg);
  }
  /* chunked: grow */
  hp->body = kl_arena_reserve(hp->req->arena, hp->body, hp->body_len, &hp->body_cap, hp->body_len + n + 1, 1024);
  memcpy(hp->body + hp->body_len, at, n);
  hp->body_len += n;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  kl_hp *hp = HP(p);
  kl_http_req *req = hp->req;
  if (hp->body) {
    hp->body[hp->body_len] = 0;
    req->body = hp->body;
  } else {
    req->body = "";
  }
  req->body_len = hp->body_len;
  hp->keep_alive = llhttp_should_keep_alive(p) && !llhttp_get_upgrade(p);
  hp->msg_done = true;
  return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void kl_hp_init(kl_hp *hp, size_t max_header_bytes, size_t max_body_bytes) {
  memset(hp, 0, sizeof *hp);
  llhttp_init(&hp->p, HTTP_REQUEST, &settings);
  hp->p.data = hp;
  hp->max_header_bytes = max_header_bytes;
  hp->max_body_bytes = max_body_bytes;
}

void kl_hp_free(kl_hp *hp) {
  hp->url = hp->field = hp->value = (kl_hp_span){0}; /* their bytes were the request arena's */
}

void kl_hp_begin(kl_hp *hp, kl_http_req *req) {
  hp->req = req;
  hp->url = hp->field = hp->value = (kl_hp_span){0};
  hp->hdrs = NULL;
  hp->nhdrs = hp->cap_hdrs = 0;
  hp->body = NULL;
  hp->body_len = hp->body_cap = 0;
  hp->head_bytes = hp->trailer_bytes = 0;
  hp->started = hp->head_done = hp->msg_done = false;
  hp->keep_alive = hp->expect_continue = false;
  req->method = req->target = req->path = req->query = "";
  req->headers = NULL;
  req->nheaders = 0;
  req->body = "";
  req->body_len = 0;
}

static kl_hp_ev parse_error(kl_hp *hp, llhttp_errno_t e) {
  hp->dead = true;
  if (hp->err_status) return KL_HP_ERR; /* set by one of our callbacks */
  hp->err_status = 400;
  hp->err_code = "bad_request";
  const char *reason = llhttp_get_error_reason(&hp->p);
  snprintf(hp->err_msg, sizeof hp->err_msg, "malformed HTTP request: %s (%s)",
           reason ? reason : "parse error", llhttp_errno_name(e));
  return KL_HP_ERR;
}

kl_hp_ev kl_hp_feed(kl_hp *hp, const char *data, size_t len, size_t *used) {
  *used = 0;
  if (hp->dead) return KL_HP_ERR;
  if (hp->msg_done) return KL_HP_MSG;
  if (len == 0) return KL_HP_MORE;

  /* Never show llhttp more head bytes than the limit allows (+1 to detect the excess). */
  size_t n = len;
  bool in_head = !hp->head_done;
  if (in_head) {
    size_t room = hp->max_header_bytes - hp->head_bytes + 1;
    if (n > room) n = room;
  }
  llhttp_errno_t e = llhttp_execute(&hp->p, data, n);
  size_t consumed = n;
  if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
    consumed = (size_t)(llhttp_get_error_pos(&hp->p) - data);
    if (e == HPE_PAUSED) llhttp_resume(&hp->p);
  } else if (e != HPE_OK) {
    *used = (size_t)(llhttp_get_error_pos(&hp->p) - data);
    return parse_error(hp, e);
  }
  *used = consumed;

  if (in_head) {
    /* llhttp pauses right after the head (or the bodiless message), so everything consumed
     * in this call belongs to the head. */
    hp->head_bytes += consumed;
    if (hp->head_bytes > hp->max_header_bytes) {
      hp->dead = true;
      hp->err_status = 431;
      hp->err_code = "request_header_fields_too_large";
      snprintf(hp->err_msg, sizeof hp->err_msg, "request header section exceeds %zu bytes",
               hp->max_header_bytes);
      return KL_HP_ERR;
    }
  }
  if (hp->msg_done) return KL_HP_MSG;
  if (e == HPE_PAUSED_UPGRADE) { /* on_message_complete always pauses first; be safe */
    hp->dead = true;
    return parse_error(hp, HPE_INTERNAL);
  }
  if (in_head && hp->head_done) return KL_HP_HEAD;
  return KL_HP_MORE;
}
