/* http_resp.c: the request-facing API: responses, streaming, reset, abort, and the
 * small helpers (headers, query parameters, status texts, JSON errors).
 *
 * A response head is formatted into the worker's scratch buffer and written together
 * with the body in one uv_try_write (writev), so a small response costs one syscall
 * and no allocation; http_conn.c copies whatever the socket does not take at once.
 * Streams use chunked transfer encoding and each kl_http_stream_write goes to the
 * socket immediately (SSE must not sit in our buffers).  Handler-supplied headers that
 * would break framing (Content-Length, Transfer-Encoding, Connection) are dropped:
 * framing is ours. */
#include "net/http_internal.h"

#include <string.h>
#include <strings.h>

static kl_hreq *R(kl_http_req *req) { return (kl_hreq *)req; }
static const kl_hreq *CR(const kl_http_req *req) { return (const kl_hreq *)req; }

static bool live(const kl_hreq *r) { return r->conn && !kl_conn_closing(r->conn); }

const char *kl_http_status_text(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 402: return "Payment Required";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 416: return "Range Not Satisfiable";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 425: return "Too Early";
  case 426: return "Upgrade Required";
  case 428: return "Precondition Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 499: return "Client Closed Request";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: break;
  }
  if (status >= 100 && status < 200) return "Informational";
  if (status >= 200 && status < 300) return "Success";
  if (status >= 300 && status < 400) return "Redirection";
  if (status >= 400 && status < 500) return "Client Error";
  return "Server Error";
}

/* ---------------- request helpers ---------------- */

/* The parser lower-cases names as it stores them, so a byte compare suffices (the gateway
 * asks for a dozen headers per call; strcasecmp over every header was ~4k instructions). */
const char *kl_http_header_get(const kl_http_req *req, const char *lower_name) {
  for (size_t i = 0; i < req->nheaders; i++)
    if (req->headers[i].name[0] == lower_name[0] && strcmp(req->headers[i].name, lower_name) == 0)
      return req->headers[i].value;
  return NULL;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes s[0..n) (percent escapes, '+' as space) into out; returns the length.  A '%'
 * not followed by two hex digits is kept literally. */
static size_t url_decode(const char *s, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '+') {
      out[o++] = ' ';
    } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = 0;
  return o;
}

const char *kl_http_query_get(const kl_http_req *req, const char *key) {
  const char *q = req->query;
  if (!q || !*q || !key) return NULL;
  size_t klen = strlen(key);
  char kbuf[256];
  while (*q) {
    const char *amp = strchr(q, '&');
    size_t plen = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', plen);
    size_t nlen = eq ? (size_t)(eq - q) : plen;
    if (nlen < sizeof kbuf) {
      size_t dl = url_decode(q, nlen, kbuf);
      if (dl == klen && memcmp(kbuf, key, klen) == 0) {
        const char *v = eq ? eq + 1 : q + plen;
        size_t vlen = eq ? plen - nlen - 1 : 0;
        char *out = kl_arena_alloc(req->arena, vlen + 1);
        url_decode(v, vlen, out);
        return out;
      }
    }
    if (!amp) break;
    q = amp + 1;
  }
  return NULL;
}

void kl_http_error_json(kl_buf *b, const char *msg, const char *type, const char *code) {
  kl_buf_error_json(b, msg, type, NULL, code);
}

/* ---------------- response heads ---------------- */

/* The head is built in the worker's reused buffer, which after the first response always
 * has room: bytes are copied in place and the buffer is grown (kl_buf_append) only when it
 * has not.  kl_buf_puts per piece (strlen, reserve, copy, terminate: ~70 instructions, 18
 * pieces) was two thirds of a response's cost. */
static inline void put(kl_buf *b, const char *s, size_t n) {
  if (b->cap - b->len <= n) { /* also keeps a byte for the NUL written at the end */
    kl_buf_append(b, s, n);
    return;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
}
#define PUT_LIT(b, lit) put(b, lit, sizeof lit - 1)

static void put_uint(kl_buf *b, unsigned long long v) { /* lengths and statuses: within int64 */
  char tmp[24], *p = kl_i64_digits(tmp + sizeof tmp, (int64_t)v);
  put(b, p, (size_t)(tmp + sizeof tmp - p));
}

static bool framing_header(const char *name) {
  switch (name[0] | 0x20) { /* only names starting so can match */
    case 'c': return !strcasecmp(name, "content-length") || !strcasecmp(name, "connection");
    case 't': return !strcasecmp(name, "transfer-encoding");
    default: return false;
  }
}

enum { CONN_HDR_NONE, CONN_HDR_CLOSE, CONN_HDR_KEEP };

/* content_length -1: chunked; -2: unframed (HTTP/1.0 stream, closed at the end). */
static void format_head(kl_buf *b, int status, const char *ctype, const kl_http_header *extra,
                        size_t nextra, long long content_length, int conn_hdr) {
  kl_buf_reset(b);
  PUT_LIT(b, "HTTP/1.1 ");
  put_uint(b, (unsigned)status);
  PUT_LIT(b, " ");
  const char *text = kl_http_status_text(status);
  put(b, text, strlen(text));
  PUT_LIT(b, "\r\n");
  if (ctype) {
    PUT_LIT(b, "Content-Type: ");
    put(b, ctype, strlen(ctype));
    PUT_LIT(b, "\r\n");
  }
  for (size_t i = 0; i < nextra; i++) {
    if (!extra[i].name || !extra[i].value || framing_header(extra[i].name)) continue;
    put(b, extra[i].name, strlen(extra[i].name));
    PUT_LIT(b, ": ");
    put(b, extra[i].value, strlen(extra[i].value));
    PUT_LIT(b, "\r\n");
  }
  bool bodiless = (status >= 100 && status < 200) || status == 204 || status == 304;
  if (content_length == -1) {
    PUT_LIT(b, "Transfer-Encoding: chunked\r\n");
  } else if (content_length < 0) {
    /* HTTP/1.0 stream: no framing, the body ends when the connection does */
  } else if (!bodiless) {
    PUT_LIT(b, "Content-Length: ");
    put_uint(b, (unsigned long long)content_length);
    PUT_LIT(b, "\r\n");
  }
  if (conn_hdr == CONN_HDR_CLOSE) PUT_LIT(b, "Connection: close\r\n");
  else if (conn_hdr == CONN_HDR_KEEP) PUT_LIT(b, "Connection: keep-alive\r\n");
  PUT_LIT(b, "\r\n");
  b->data[b->len] = 0; /* kl_buf's promise; put kept the byte */
}

void kl_resp_error(kl_conn *c, int status, const char *code, const char *msg) {
  kl_worker *w = kl_conn_worker(c);
  kl_buf body = KL_BUF_INIT;
  kl_http_error_json(&body, msg, "invalid_request_error", code);
  format_head(&w->out, status, "application/json", NULL, 0, (long long)body.len, CONN_HDR_CLOSE);
  uv_buf_t bufs[2] = {uv_buf_init(w->out.data, (unsigned)w->out.len),
                      uv_buf_init(body.data, (unsigned)body.len)};
  kl_conn_write(c, bufs, 2);
  kl_buf_free(&body);
}

/* ---------------- completing functions ---------------- */

/* Decides keep-alive for the response (shutdown turns it off) and the header saying so. */
static int conn_header(kl_hreq *r) {
  if (!r->keep_alive || kl_conn_stopping(r->conn)) r->keep_alive = false;
  if (!r->keep_alive) return CONN_HDR_CLOSE;
  return r->http10 ? CONN_HDR_KEEP : CONN_HDR_NONE;
}

void kl_http_respond_ex(kl_http_req *req, int status, const char *content_type,
                        const kl_http_header *extra, size_t nextra, const char *body, size_t len) {
  kl_hreq *r = R(req);
  if (r->streaming) { /* misuse: finish the stream instead of corrupting it */
    kl_http_stream_end(req);
    return;
  }
  if (live(r)) {
    kl_worker *w = kl_conn_worker(r->conn);
    int ch = conn_header(r);
    bool bodiless = (status >= 100 && status < 200) || status == 204 || status == 304;
    if (bodiless) len = 0;
    format_head(&w->out, status, content_type, extra, nextra, (long long)len, ch);
    uv_buf_t bufs[2] = {uv_buf_init(w->out.data, (unsigned)w->out.len),
                        uv_buf_init((char *)(body ? body : ""), (unsigned)len)};
    kl_conn_write(r->conn, bufs, (r->is_head || len == 0) ? 1 : 2);
  }
  kl_conn_complete(r, false);
}

void kl_http_respond(kl_http_req *req, int status, const char *content_type, const char *body,
                     size_t len) {
  kl_http_respond_ex(req, status, content_type, NULL, 0, body, len);
}

int kl_http_stream_begin(kl_http_req *req, int status, const char *content_type,
                         const kl_http_header *extra, size_t nextra) {
  kl_hreq *r = R(req);
  if (r->streaming) return -1;
  r->streaming = true;
  if (!live(r)) return -1;
  kl_worker *w = kl_conn_worker(r->conn);
  if (r->http10) r->keep_alive = false; /* HTTP/1.0 has no chunked encoding */
  int ch = conn_header(r);
  format_head(&w->out, status, content_type, extra, nextra, r->http10 ? -2 : -1, ch);
  uv_buf_t b = uv_buf_init(w->out.data, (unsigned)w->out.len);
  return kl_conn_write(r->conn, &b, 1);
}

int kl_http_stream_write(kl_http_req *req, const void *data, size_t len) {
  kl_hreq *r = R(req);
  if (!r->streaming || !live(r)) return -1;
  if (len == 0 || r->is_head) return 0; /* a zero-size chunk would end the stream */
  if (r->http10) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    return kl_conn_write(r->conn, &b, 1);
  }
  /* the chunk-size line, "%zx\r\n" by hand: snprintf was ~800 instructions of a streamed
   * chunk's ~10k in the loop */
  char hex[24];
  int hn = 0;
  for (int sh = (int)(sizeof len * 8) - 4; sh >= 0; sh -= 4) {
    unsigned d = (unsigned)(len >> sh) & 15;
    if (d || hn) hex[hn++] = "0123456789abcdef"[d];
  }
  hex[hn++] = '\r';
  hex[hn++] = '\n';
  uv_buf_t bufs[3] = {uv_buf_init(hex, (unsigned)hn), uv_buf_init((char *)data, (unsigned)len),
                      uv_buf_init((char *)"\r\n", 2)};
  return kl_conn_write(r->conn, bufs, 3);
}

void kl_http_stream_end(kl_http_req *req) {
  kl_hreq *r = R(req);
  if (!r->streaming) kl_http_stream_begin(req, 200, NULL, NULL, 0);
  if (live(r) && !r->is_head && !r->http10) {
    uv_buf_t b = uv_buf_init((char *)"0\r\n\r\n", 5);
    kl_conn_write(r->conn, &b, 1);
  }
  kl_conn_complete(r, false);
}

void kl_http_reset(kl_http_req *req) { kl_conn_complete(R(req), true); }

size_t kl_http_stream_pending(const kl_http_req *req) {
  const kl_hreq *r = CR(req);
  return r->conn ? kl_conn_pending(r->conn) : 0;
}

void kl_http_on_abort(kl_http_req *req, void (*cb)(kl_http_req *req, void *ud), void *ud) {
  kl_hreq *r = R(req);
  r->abort_cb = cb;
  r->abort_ud = ud;
}

bool kl_http_aborted(const kl_http_req *req) {
  const kl_hreq *r = CR(req);
  return r->aborted || !live(r);
}
