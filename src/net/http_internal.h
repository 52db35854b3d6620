/* http_internal.h: private structures shared by the HTTP server files.
 *
 *   http_parse.c   kl_hp: llhttp wrapped into "feed bytes, get events", with the header and
 *                  body limits; knows nothing about sockets, so tests and the fuzzer drive it.
 *   http_conn.c    kl_conn: one accepted socket: reads, feeds the parser, timers, the write
 *                  queue, keep-alive, lingering close, aborts.
 *   http_resp.c    the public request API: respond / stream / reset / helpers.
 *   http_server.c  listeners, worker threads, signals, graceful shutdown.
 *
 * Not part of the net layer's contract: only these files include it. */
#ifndef KL_HTTP_INTERNAL_H
#define KL_HTTP_INTERNAL_H

#include "net/kl_net.h"

#include <llhttp.h>

/* ---------------- parser ---------------- */

typedef enum {
  KL_HP_MORE = 0, /* all input consumed, message not complete */
  KL_HP_HEAD,     /* head complete and a body follows: caller may send 100 Continue */
  KL_HP_MSG,      /* a complete request is in hp->req; feed no more until kl_hp_begin */
  KL_HP_ERR,      /* hp->err_status / err_code / err_msg say why; the parser is dead */
} kl_hp_ev;

/* A URL, header name or value being received: llhttp may split one across reads. */
typedef struct kl_hp_span {
  char *d;
  size_t len, cap;
} kl_hp_span;

typedef struct kl_hp {
  llhttp_t p;
  size_t max_header_bytes;
  size_t max_body_bytes;
  kl_http_req *req;         /* being filled (its arena gets every string) */
  kl_hp_span url, field, value; /* the current item, in the request arena */
  kl_http_header *hdrs;
  size_t nhdrs, cap_hdrs;
  char *body;
  size_t body_len, body_cap;
  size_t head_bytes;        /* request line + headers so far */
  size_t trailer_bytes;
  bool started;             /* first byte of the request line seen */
  bool head_done;
  bool msg_done;
  bool dead;
  bool keep_alive;          /* valid after KL_HP_MSG */
  bool expect_continue;     /* valid after KL_HP_HEAD */
  int err_status;           /* 400, 413, 431 */
  const char *err_code;     /* OpenAI-style "code" */
  char err_msg[160];
} kl_hp;

void kl_hp_init(kl_hp *hp, size_t max_header_bytes, size_t max_body_bytes);
void kl_hp_free(kl_hp *hp);
/* Starts a new request; req->arena must be set.  Valid at creation and after KL_HP_MSG. */
void kl_hp_begin(kl_hp *hp, kl_http_req *req);
/* Parses up to len bytes; *used tells how many were consumed (all of them for KL_HP_MORE). */
kl_hp_ev kl_hp_feed(kl_hp *hp, const char *data, size_t len, size_t *used);

/* ---------------- server internals ---------------- */

typedef struct kl_conn kl_conn;
typedef struct kl_worker kl_worker;

/* The request as the server sees it; the public part comes first so a kl_http_req* converts. */
typedef struct kl_hreq {
  kl_http_req pub;
  kl_conn *conn;            /* NULL once the connection is gone */
  void (*abort_cb)(kl_http_req *req, void *ud);
  void *abort_ud;
  bool keep_alive;
  bool is_head;
  bool http10;              /* HTTP/1.0 keep-alive must be confirmed in the response */
  bool streaming;           /* stream_begin was called */
  bool aborted;
} kl_hreq;

struct kl_worker {
  kl_http_server *srv;
  int index;
  uv_thread_t thread;
  uv_loop_t loop;
  int fd;                   /* bound listening socket until uv_tcp_open takes it */
  uv_tcp_t listener;
  bool listener_open;
  uv_async_t stop_async;
  uv_timer_t grace_timer;
  void *wctx;               /* what worker_start returned */
  kl_conn *conns;           /* all live connections (intrusive list) */
  int nconns;
  bool stopping;
  bool stop_called;
  char *rbuf;               /* one read buffer per loop: reads are parsed before the next one */
  size_t rbuf_size;
  kl_buf out;               /* scratch for response heads */
};

/* Resolved options (defaults applied) shared read-only by all workers. */
struct kl_http_server {
  kl_http_server_opts o;
  char host[256];
  int port;
  int nworkers;
  kl_worker *workers;
  uv_loop_t main_loop;
  uv_async_t main_async;
  uv_signal_t sigint, sigterm;
  uv_mutex_t lock;          /* guards async_live against stop() from other threads */
  bool async_live;
  bool stop_sent;
  bool ran;
};

/* http_conn.c */
void kl_conn_accept(kl_worker *w, uv_stream_t *listener);
/* Graceful: idle connections close now, busy ones close after their current response. */
void kl_conn_shutdown_idle(kl_conn *c);
void kl_conn_force_close(kl_conn *c);
kl_conn *kl_conn_next(kl_conn *c);
/* Writes bytes (copied if the socket cannot take them now).  -1 when the connection is gone. */
int kl_conn_write(kl_conn *c, const uv_buf_t *bufs, unsigned n);
size_t kl_conn_pending(const kl_conn *c);
bool kl_conn_closing(const kl_conn *c);
bool kl_conn_stopping(const kl_conn *c); /* the server is shutting down */
kl_worker *kl_conn_worker(kl_conn *c);
/* Called by the completing functions: frees the request and resumes the connection. */
void kl_conn_complete(kl_hreq *r, bool reset);

/* http_server.c */
void kl_worker_conn_gone(kl_worker *w);

/* http_resp.c */
/* Builds an OpenAI-style error body into b. */
void kl_http_error_json(kl_buf *b, const char *msg, const char *type, const char *code);
/* A server-generated JSON error response with "Connection: close" (400, 408, 413, 431). */
void kl_resp_error(kl_conn *c, int status, const char *code, const char *msg);

#endif
