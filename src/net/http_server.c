/* http_server.c: listening sockets, worker threads, signals and graceful shutdown.
 *
 * Every worker owns a uv loop and its own listening socket, all bound to the same
 * address with SO_REUSEPORT, so the kernel spreads incoming connections over the
 * workers and no state (nor lock) is shared between loops.  libuv 1.44 has no
 * UV_TCP_REUSEPORT, so the sockets are made by hand (socket, setsockopt, bind, listen)
 * in kl_http_server_new, where a bind error can still be reported to the caller, and
 * handed to each loop with uv_tcp_open.  With port 0 the first socket picks the port
 * and the others bind to it.
 *
 * The calling thread of kl_http_server_run runs a small loop of its own for SIGINT,
 * SIGTERM and the async that kl_http_server_stop() pokes from any thread.  Stopping
 * pokes each worker's async; a worker then closes its listener and idle connections,
 * lets busy ones finish (their responses carry "Connection: close"), force-closes what
 * is left after shutdown_timeout_ms, calls worker_stop once its last connection is
 * gone, and runs its loop until every handle is closed. */
#include "net/http_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
#define READ_BUF_SIZE (64 * 1024)

/* ---------------- worker ---------------- */

static void worker_maybe_finish(kl_worker *w) {
  if (!w->stopping || w->nconns > 0 || w->stop_called) return;
  w->stop_called = true;
  uv_close((uv_handle_t *)&w->grace_timer, NULL);
  uv_close((uv_handle_t *)&w->stop_async, NULL);
  if (w->srv->o.worker_stop) w->srv->o.worker_stop(w->wctx, w->srv->o.ctx);
}

void kl_worker_conn_gone(kl_worker *w) {
  w->nconns--;
  worker_maybe_finish(w);
}

static void on_connection(uv_stream_t *listener, int status) {
  kl_worker *w = listener->data;
  if (status < 0) {
    kl_warn("http: accept failed: %s", uv_strerror(status));
    return;
  }
  if (w->stopping) return;
  kl_conn_accept(w, listener);
}

static void on_grace(uv_timer_t *t) {
  kl_worker *w = t->data;
  int n = 0;
  for (kl_conn *c = w->conns, *next; c; c = next) {
    next = kl_conn_next(c);
    kl_conn_force_close(c);
    n++;
  }
  if (n) kl_warn("http: worker %d: shutdown grace period over, closed %d connection(s)", w->index, n);
}

static void on_worker_stop(uv_async_t *a) {
  kl_worker *w = a->data;
  if (w->stopping) return;
  w->stopping = true;
  if (w->listener_open) {
    uv_close((uv_handle_t *)&w->listener, NULL);
    w->listener_open = false;
  }
  for (kl_conn *c = w->conns, *next; c; c = next) {
    next = kl_conn_next(c);
    kl_conn_shutdown_idle(c);
  }
  uv_timer_start(&w->grace_timer, on_grace, (uint64_t)w->srv->o.shutdown_timeout_ms, 0);
  worker_maybe_finish(w);
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void worker_main(void *arg) {
  kl_worker *w = arg;
  kl_http_server *s = w->srv;
  char name[16];
  snprintf(name, sizeof name, "keel-loop%u", (unsigned)w->index);
  pthread_setname_np(pthread_self(), name);
  w->rbuf_size = READ_BUF_SIZE;
  w->rbuf = malloc(w->rbuf_size);
  if (!w->rbuf) abort();
  if (s->o.worker_start) w->wctx = s->o.worker_start(&w->loop, w->index, s->o.ctx);

  uv_tcp_init(&w->loop, &w->listener);
  w->listener.data = w;
  int rc = uv_tcp_open(&w->listener, w->fd);
  if (rc == 0) {
    w->fd = -1;
    rc = uv_listen((uv_stream_t *)&w->listener, LISTEN_BACKLOG, on_connection);
  }
  if (rc != 0) {
    kl_error("http: worker %d cannot listen: %s", w->index, uv_strerror(rc));
    uv_close((uv_handle_t *)&w->listener, NULL);
  } else {
    w->listener_open = true;
  }

  uv_run(&w->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&w->loop) == UV_EBUSY) {
    /* someone (a handler, worker_stop) left a handle open: close it rather than leak */
    kl_warn("http: worker %d: handles left open at shutdown; closing them", w->index);
    uv_walk(&w->loop, close_any, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
  }
  free(w->rbuf);
  w->rbuf = NULL;
  kl_buf_free(&w->out);
}

/* ---------------- binding ---------------- */

static int bind_one(const struct sockaddr *sa, socklen_t salen, kl_err *err, const char *host, int port) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    kl_err_set(err, errno, "socket(): %s", strerror(errno));
    return -1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    kl_err_set(err, errno, "setsockopt(SO_REUSEPORT): %s", strerror(errno));
    close(fd);
    return -1;
  }
  if (bind(fd, sa, salen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
    int e = errno;
    kl_err_set(err, e, "cannot listen on %s:%d: %s", host, port, strerror(e));
    close(fd);
    return -1;
  }
  return fd;
}

static void set_port(struct sockaddr_storage *ss, int port) {
  if (ss->ss_family == AF_INET6) ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  else ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static int get_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* ---------------- main loop: signals and stop ---------------- */

static void begin_stop(kl_http_server *s) {
  if (s->stop_sent) return;
  s->stop_sent = true;
  for (int i = 0; i < s->nworkers; i++) uv_async_send(&s->workers[i].stop_async);
  uv_stop(&s->main_loop);
}

static void on_main_async(uv_async_t *a) { begin_stop(a->data); }

static void on_signal(uv_signal_t *h, int signum) {
  kl_info("http: received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
  begin_stop(h->data);
}

/* ---------------- public ---------------- */

kl_http_server *kl_http_server_new(const kl_http_server_opts *opts, kl_err *err) {
  kl_err_clear(err);
  if (!opts || !opts->handler) {
    kl_err_set(err, EINVAL, "http server: a handler is required");
    return NULL;
  }
  if (opts->port < 0 || opts->port > 65535 || opts->workers < 0 || opts->workers > 1024) {
    kl_err_set(err, EINVAL, "http server: invalid port (%d) or worker count (%d)", opts->port, opts->workers);
    return NULL;
  }
  kl_http_server *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->o = *opts;
  snprintf(s->host, sizeof s->host, "%s", opts->host && *opts->host ? opts->host : "127.0.0.1");
  s->o.host = s->host;
  if (!s->o.max_header_bytes) s->o.max_header_bytes = 64 * 1024;
  if (!s->o.max_body_bytes) s->o.max_body_bytes = 8 * 1024 * 1024;
  if (s->o.header_timeout_ms <= 0) s->o.header_timeout_ms = 10000;
  if (s->o.body_timeout_ms <= 0) s->o.body_timeout_ms = 30000;
  if (s->o.idle_timeout_ms <= 0) s->o.idle_timeout_ms = 60000;
  if (s->o.write_timeout_ms <= 0) s->o.write_timeout_ms = 60000;
  if (s->o.shutdown_timeout_ms <= 0) s->o.shutdown_timeout_ms = 30000;
  s->nworkers = opts->workers ? opts->workers : (int)uv_available_parallelism();
  if (s->nworkers < 1) s->nworkers = 1;

  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gai = getaddrinfo(s->host, "0", &hints, &ai);
  if (gai != 0 || !ai) {
    kl_err_set(err, EINVAL, "http server: cannot resolve host '%s': %s", s->host, gai_strerror(gai));
    if (ai) freeaddrinfo(ai);
    free(s);
    return NULL;
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
  socklen_t sslen = ai->ai_addrlen;
  freeaddrinfo(ai);

  s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
  if (!s->workers) abort();
  s->port = opts->port;
  for (int i = 0; i < s->nworkers; i++) {
    kl_worker *w = &s->workers[i];
    w->srv = s;
    w->index = i;
    set_port(&ss, s->port);
    w->fd = bind_one((struct sockaddr *)&ss, sslen, err, s->host, s->port);
    if (w->fd < 0) {
      for (int j = 0; j < i; j++) close(s->workers[j].fd);
      free(s->workers);
      free(s);
      return NULL;
    }
    if (i == 0 && s->port == 0) s->port = get_port(w->fd);
  }

  uv_loop_init(&s->main_loop);
  uv_async_init(&s->main_loop, &s->main_async, on_main_async);
  s->main_async.data = s;
  uv_mutex_init(&s->lock);
  s->async_live = true;
  return s;
}

int kl_http_server_port(const kl_http_server *s) { return s->port; }

int kl_http_server_run(kl_http_server *s) {
  if (s->ran) return -1;
  s->ran = true;
  signal(SIGPIPE, SIG_IGN);
  uv_signal_init(&s->main_loop, &s->sigint);
  uv_signal_init(&s->main_loop, &s->sigterm);
  s->sigint.data = s->sigterm.data = s;
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);

  for (int i = 0; i < s->nworkers; i++) {
    kl_worker *w = &s->workers[i];
    uv_loop_init(&w->loop);
    uv_async_init(&w->loop, &w->stop_async, on_worker_stop);
    w->stop_async.data = w;
    uv_timer_init(&w->loop, &w->grace_timer);
    w->grace_timer.data = w;
  }
  for (int i = 0; i < s->nworkers; i++) {
    if (uv_thread_create(&s->workers[i].thread, worker_main, &s->workers[i]) != 0) {
      kl_error("http: cannot start worker thread %d", i);
      abort(); /* out of threads: nothing sensible to do */
    }
  }

  uv_run(&s->main_loop, UV_RUN_DEFAULT); /* until begin_stop() */
  for (int i = 0; i < s->nworkers; i++) uv_thread_join(&s->workers[i].thread);

  uv_mutex_lock(&s->lock);
  s->async_live = false;
  uv_mutex_unlock(&s->lock);
  uv_close((uv_handle_t *)&s->main_async, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_run(&s->main_loop, UV_RUN_DEFAULT);
  uv_loop_close(&s->main_loop);
  return 0;
}

void kl_http_server_stop(kl_http_server *s) {
  uv_mutex_lock(&s->lock);
  if (s->async_live) uv_async_send(&s->main_async);
  uv_mutex_unlock(&s->lock);
}

void kl_http_server_free(kl_http_server *s) {
  if (!s) return;
  if (!s->ran) {
    s->async_live = false;
    uv_close((uv_handle_t *)&s->main_async, NULL);
    uv_run(&s->main_loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->main_loop);
  }
  for (int i = 0; i < s->nworkers; i++)
    if (s->workers[i].fd >= 0) close(s->workers[i].fd);
  uv_mutex_destroy(&s->lock);
  free(s->workers);
  free(s);
}
