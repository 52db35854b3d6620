/* kl_net.h: the net layer: HTTP/1.1 server on libuv + llhttp, the upstream HTTP
 * client (a built-in HTTP/1.1 client for http://, libcurl multi for https://, both driven
 * by the same libuv loop), and an incremental SSE parser.
 *
 * Threading model: the server runs N worker threads, each with its own uv loop and
 * its own SO_REUSEPORT listening socket bound to the same address, so the kernel
 * spreads connections across cores and no state is shared between loops.  Anything
 * per-loop (an upstream client, metrics shards) is created in worker_start on the
 * loop's own thread and reached through kl_http_req.worker.
 *
 * Ownership: the server owns every kl_http_req.  A handler receives a complete
 * request (headers and body) and must eventually call exactly one completing function,
 * kl_http_respond(), kl_http_stream_end() or kl_http_reset(), even if the client went
 * away meanwhile (kl_http_aborted() tells; writes are then dropped).  After the
 * completing call the request, its arena and everything allocated in it are gone. */
#ifndef KL_NET_H
#define KL_NET_H

#include "base/kl_base.h"

#include <uv.h>

typedef struct kl_http_header {
  const char *name;   /* server requests: lower-cased */
  const char *value;
} kl_http_header;

/* ================= server ================= */

typedef struct kl_http_server kl_http_server;
typedef struct kl_http_req kl_http_req;

struct kl_http_req {
  kl_arena *arena;           /* dies with the request */
  const char *method;        /* "GET", "POST", ... */
  const char *target;        /* raw request target "/v1/x?a=b" */
  const char *path;          /* target up to '?' (not percent-decoded) */
  const char *query;         /* after '?', "" when none */
  kl_http_header *headers;   /* names lower-cased, values trimmed */
  size_t nheaders;
  const char *body;          /* NUL-terminated, body_len bytes (chunked bodies de-chunked) */
  size_t body_len;
  uv_loop_t *loop;           /* the worker loop this request lives on */
  void *worker;              /* what worker_start returned for this loop */
  int worker_index;
  int64_t start_mono_ns;     /* first byte of the request seen */
  int64_t start_unix_ns;
  char peer[64];             /* "ip:port" of the client */
};

typedef struct kl_http_server_opts {
  const char *host;            /* default "127.0.0.1" */
  int port;                    /* 0 = ephemeral (see kl_http_server_port) */
  int workers;                 /* event loop threads; 0 = one per core */
  size_t max_header_bytes;     /* default 64 KiB -> 431 */
  size_t max_body_bytes;       /* default 8 MiB -> 413 */
  int header_timeout_ms;       /* request line + headers must arrive within; default 10000 -> 408 */
  int body_timeout_ms;         /* body must arrive within, after headers; default 30000 -> 408 */
  int idle_timeout_ms;         /* keep-alive connection with no request; default 60000 -> close */
  int write_timeout_ms;        /* a client that reads nothing for this long is dropped; default 60000 */
  int shutdown_timeout_ms;     /* graceful shutdown: in-flight requests get this long; default 30000 */
  void (*handler)(kl_http_req *req);
  /* Called on each worker thread before it accepts; returns that loop's worker pointer. */
  void *(*worker_start)(uv_loop_t *loop, int index, void *ctx);
  /* Called on each worker thread after its in-flight requests finished (or the grace period
   * ran out), before its loop is closed.  It must close its own handles; the server runs the
   * loop until they are closed. */
  void (*worker_stop)(void *worker, void *ctx);
  void *ctx;
} kl_http_server_opts;

/* Validates options and binds the listening sockets (so "address in use" is reported here). */
kl_http_server *kl_http_server_new(const kl_http_server_opts *opts, kl_err *err);
int kl_http_server_port(const kl_http_server *s);
/* Starts the workers and blocks until SIGINT/SIGTERM or kl_http_server_stop(); then stops
 * accepting, lets in-flight requests finish (up to shutdown_timeout_ms), closes idle
 * connections, calls worker_stop on each worker and returns 0. */
int kl_http_server_run(kl_http_server *s);
/* Thread-safe; may be called from any thread (not from a signal handler). */
void kl_http_server_stop(kl_http_server *s);
void kl_http_server_free(kl_http_server *s);

/* Request helpers. */
const char *kl_http_header_get(const kl_http_req *req, const char *lower_name); /* NULL if absent */
/* Percent-decoded value of a query parameter, allocated in the request arena; NULL if absent. */
const char *kl_http_query_get(const kl_http_req *req, const char *key);

/* Completes the request with a whole response.  extra may be NULL. */
void kl_http_respond(kl_http_req *req, int status, const char *content_type, const char *body, size_t len);
void kl_http_respond_ex(kl_http_req *req, int status, const char *content_type,
                        const kl_http_header *extra, size_t nextra, const char *body, size_t len);
/* Streaming (chunked transfer encoding).  Data is copied and written as soon as possible. */
int kl_http_stream_begin(kl_http_req *req, int status, const char *content_type,
                         const kl_http_header *extra, size_t nextra);
int kl_http_stream_write(kl_http_req *req, const void *data, size_t len); /* -1 if client is gone */
void kl_http_stream_end(kl_http_req *req);                                 /* completes */
/* Completes the request by resetting the connection (RST): for fault injection. */
void kl_http_reset(kl_http_req *req);
/* Bytes accepted by stream_write not yet written to the socket (back-pressure signal). */
size_t kl_http_stream_pending(const kl_http_req *req);
/* Called at most once, on the loop thread, when the client disconnects before completion. */
void kl_http_on_abort(kl_http_req *req, void (*cb)(kl_http_req *req, void *ud), void *ud);
bool kl_http_aborted(const kl_http_req *req);
const char *kl_http_status_text(int status);

/* ================= upstream client ================= */

typedef struct kl_upstream kl_upstream;       /* one per loop; pools connections */
typedef struct kl_upstream_call kl_upstream_call;

typedef enum {
  KL_UP_OK = 0,        /* a complete HTTP response was received (any status) */
  KL_UP_CONNECT,       /* could not connect / resolve / TLS handshake failed */
  KL_UP_TIMEOUT,       /* total timeout */
  KL_UP_TTFB_TIMEOUT,  /* no response body byte within first_byte_timeout_ms */
  KL_UP_RESET,         /* connection reset or closed mid-response (incl. truncated chunked body) */
  KL_UP_ERROR,         /* anything else (protocol error, aborted by on_data) */
} kl_upstream_status;

typedef struct kl_upstream_opts {
  const char *method;            /* "POST" */
  const char *url;
  const char *const *headers;    /* "Name: value" lines; must outlive the call */
  size_t nheaders;
  const char *body;              /* must outlive the call */
  size_t body_len;
  long connect_timeout_ms;       /* 0 = 10000 */
  long total_timeout_ms;         /* 0 = none */
  long first_byte_timeout_ms;    /* 0 = none: time until the first body byte */
  bool insecure_tls;             /* default false: TLS peer and host are verified */
  bool use_curl;                 /* force libcurl even for http:// URLs (which otherwise take the
                                  * built-in HTTP/1.1 client; https:// always goes through libcurl) */
} kl_upstream_opts;

typedef struct kl_upstream_cbs {
  /* Once, when the status line and headers are complete (before any on_data). */
  void (*on_response)(void *ud, int status, const kl_http_header *headers, size_t nheaders);
  /* Body bytes as they arrive (already de-chunked / decoded). Return nonzero to abort the call
   * (on_done then reports KL_UP_ERROR). */
  int (*on_data)(void *ud, const char *data, size_t len);
  /* Exactly once per call unless kl_upstream_cancel() was called first. */
  void (*on_done)(void *ud, kl_upstream_status st, const char *errmsg);
} kl_upstream_cbs;

kl_upstream *kl_upstream_new(uv_loop_t *loop, kl_err *err);
/* Cancels outstanding calls (without callbacks) and closes its handles; memory is released in
 * close callbacks, so run the loop (uv_run) before uv_loop_close. */
void kl_upstream_free(kl_upstream *u);
/* Callbacks never fire from inside kl_upstream_start (errors found later, e.g. a refused
 * connection, arrive through on_done).  The headers passed to on_response stay valid until
 * on_done returns or the call is cancelled; errmsg is "" for KL_UP_OK.  The call handle is
 * invalid once on_done has returned or kl_upstream_cancel() has been called.  start, cancel
 * and kl_upstream_free may be called from inside any callback of any call. */
kl_upstream_call *kl_upstream_start(kl_upstream *u, const kl_upstream_opts *opts,
                                    const kl_upstream_cbs *cbs, void *ud, kl_err *err);
/* Stops the call; no callback fires for it afterwards.  Safe to call from inside its own callbacks. */
void kl_upstream_cancel(kl_upstream_call *c);
int kl_upstream_active(const kl_upstream *u);

/* ================= server-sent events ================= */

/* Incremental parser for text/event-stream: accepts bytes split anywhere (mid-line, mid-CRLF),
 * handles LF, CR and CRLF line ends, multi-line data (joined with '\n'), comments, and
 * "event:" names.  Each complete event (blank line) calls cb with the event name ("" when
 * none) and its data (NUL-terminated). */
typedef void (*kl_sse_cb)(void *ud, const char *event, const char *data, size_t len);

typedef struct kl_sse_parser {
  kl_buf line;
  kl_buf data;
  kl_buf event;
  bool have_data;
  bool last_cr;          /* previous chunk ended in CR: swallow a leading LF */
  size_t max_event_bytes;
} kl_sse_parser;

void kl_sse_init(kl_sse_parser *p, size_t max_event_bytes); /* 0 = 4 MiB */
/* Returns 0, or -1 when an event exceeds max_event_bytes (the parser is then unusable). */
int kl_sse_feed(kl_sse_parser *p, const char *data, size_t len, kl_sse_cb cb, void *ud);
/* End of stream: a final event not followed by a blank line is NOT dispatched (per spec);
 * returns true if such an unterminated event was pending (a truncated stream). */
bool kl_sse_finish(kl_sse_parser *p);
void kl_sse_free(kl_sse_parser *p);

#endif
