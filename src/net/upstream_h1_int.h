/* upstream_h1_int.h: private to the built-in HTTP/1.1 client: its structs and what its two
 * files share.  upstream_h1.c: pool, connections, call life cycle, sending, request heads and
 * the API; upstream_h1_recv.c: the response side (llhttp callbacks, reads, connection end).
 * Lifetimes and the pooling rules are explained at the top of upstream_h1.c. */
#ifndef KL_UPSTREAM_H1_INT_H
#define KL_UPSTREAM_H1_INT_H

#include "net/upstream_h1.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define H1_CONNECT_TIMEOUT_MS 10000
#define H1_IDLE_PER_HOST 256
#define H1_IDLE_MS 60000
#define H1_SWEEP_MS 15000
#define H1_MAX_HEAD (256 * 1024) /* response status line + header fields */
#define H1_RBUF 65536
#define H1_SPARE_ARENAS 8 /* response-header arenas kept for the next calls */
#define H1_SPARE_CALLS 8  /* closed calls kept for the next ones */
#define H1_HEAD_ROOM 512  /* a call's head room at least: most heads fit a reused call */

typedef struct h1_conn h1_conn;
typedef struct h1_host h1_host;
typedef struct h1_call h1_call;

struct h1_host {
  h1_host *next;
  h1_conn *idle, *idle_tail;   /* LIFO: taken from the head, swept from the tail */
  int nidle;
  int port;
  char name[];                 /* host as in the URL, IPv6 brackets stripped */
};

typedef struct h1_url {
  const char *host, *path;
  size_t host_len, path_len;
  int port;
  bool bracketed;
} h1_url;

#define H1_URL_MAX 256   /* longer URLs are parsed on every call */
#define H1_HOST_LINE 300 /* "Host: " + a 253-byte name, brackets and port, CRLF */

struct kl_h1 {
  uv_loop_t *loop;
  h1_host *hosts;
  h1_call *calls;              /* live calls */
  h1_conn *conns;              /* every open connection */
  int active, nconns;
  int open_handles;            /* sweep timer + connections + call timers */
  bool freeing;
  int nspare;
  kl_arena *spare[H1_SPARE_ARENAS]; /* reset, ready for a call's response headers */
  h1_call *spare_calls;        /* closed calls (linked by next), reused by h1_call_new */
  int nspare_calls;
  /* The last URL parsed (most calls repeat their model's), pointing into last_url_text. */
  char last_url_text[H1_URL_MAX];
  h1_url last_url;
  char last_host_line[H1_HOST_LINE];
  size_t last_host_line_len;
  uv_timer_t sweep;
  char rbuf[H1_RBUF];
};

struct h1_conn {
  uv_tcp_t tcp;
  kl_h1 *p;
  h1_host *host;
  h1_call *call;               /* NULL when idle or closing */
  h1_conn *prev, *next;        /* p->conns */
  h1_conn *iprev, *inext;      /* host->idle */
  llhttp_t parser;
  uv_connect_t creq;
  uv_write_t wreq;
  uint64_t idle_since;
  bool idle, closing, writing, got_bytes, fake;
};

typedef struct h1_gai {
  uv_getaddrinfo_t req;        /* first: the callback casts back */
  h1_call *c;                  /* NULL once the call is gone */
} h1_gai;

struct h1_call {
  int kind;                    /* KL_UP_KIND_H1; must stay first */
  kl_h1 *p;
  h1_host *host;
  h1_conn *conn;
  h1_call *prev, *next;        /* p->calls */
  kl_upstream_cbs cbs;
  void *ud;
  uv_timer_t timer;
  h1_gai *gai;
  struct addrinfo *ai, *ai_next;
  struct sockaddr_storage addr; /* numeric hosts */
  uint64_t connect_at, ttfb_at, total_at; /* loop-time deadlines, 0 = none */
  long connect_ms, ttfb_ms, total_ms;
  const char *body;
  size_t body_len, head_len, head_bytes;
  kl_arena *arena;             /* response headers */
  kl_http_header *rh;
  size_t nrh, caprh;
  char *fname, *fval;          /* the header field being parsed (llhttp may split it) */
  size_t fname_len, fval_len;
  int status;
  kl_upstream_status fail_st;  /* deferred failure, reported from the timer */
  bool numeric, is_head, connecting, reused, retried, deferred;
  bool interim, responded, got_body, msg_done, keep_alive, data_abort;
  bool cancelled, finished;
  char errbuf[192];
  size_t head_cap;             /* bytes allocated for head (one more for a NUL) */
  char head[];                 /* the request head */
};

/* upstream_h1.c */
void h1_finish(h1_call *c, kl_upstream_status st, const char *msg);
void h1_conn_close(h1_conn *k);
void h1_conn_idle(h1_conn *k);
void h1_retry(h1_call *c);
void h1_arm(h1_call *c); /* (re)starts the call's timer for its next deadline */
kl_arena *h1_arena(h1_call *c); /* the call's arena for response headers, made on first use */

/* upstream_h1_recv.c */
extern const llhttp_settings_t h1_settings;
void h1_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
void h1_write_cb(uv_write_t *req, int status);
/* Feeds n bytes (or a libuv error, n < 0) read on k into its parser. */
void h1_input(h1_conn *k, const char *d, ssize_t n);

#endif
