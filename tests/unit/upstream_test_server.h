/* upstream_test_server.h: a tiny raw HTTP/1.1 server for the upstream client tests
 * (test_net_upstream.c drives libcurl with it, test_net_upstream_h1.c the built-in
 * client): one thread per accepted connection, canned answers chosen by request path, and
 * counters (accepts, requests, closes) plus the last request's bytes for assertions.
 * Included by exactly those test files; everything is static. */
#ifndef KL_UPSTREAM_TEST_SERVER_H
#define KL_UPSTREAM_TEST_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 512

typedef struct srv {
  int lfd, port;
  pthread_t accept_thr;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int accepts, requests, client_closed;
  int client_chunks;   /* on_data calls seen by the client (chunked handshake) */
  bool wait_timed_out; /* the server gave up waiting for the client */
  bool stopping;
  char last_head[8192];
  char last_body[8192];   /* first 8191 bytes */
  size_t last_body_len;
  pthread_t thr[MAX_CONNS];
  int fds[MAX_CONNS];
  int nthr;
} srv;

typedef struct {
  srv *s;
  int fd;
} conn_arg;

static void sendall(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}
static void sends(int fd, const char *p) { sendall(fd, p, strlen(p)); }

/* Blocks until the peer closes (or the server stops), then counts the close. */
static void wait_client_close(srv *s, int fd) {
  char b[256];
  while (recv(fd, b, sizeof b, 0) > 0) {}
  pthread_mutex_lock(&s->mu);
  s->client_closed++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits until the client's on_data has run `n` times (5 s at most). */
static void wait_client_chunks(srv *s, int n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 5;
  pthread_mutex_lock(&s->mu);
  while (s->client_chunks < n && !s->stopping) {
    if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT) {
      s->wait_timed_out = true;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
}

/* Answers one request; returns false when the connection must be closed. */
static bool answer(srv *s, int fd, const char *path, const char *body, size_t blen) {
  char hdr[256];
  if (strcmp(path, "/cl") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Foo:   bar  \r\nX-Empty:\r\n"
              "Content-Length: 5\r\n\r\nhello");
  } else if (strcmp(path, "/echo") == 0) {
    snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", blen);
    sends(fd, hdr);
    sendall(fd, body, blen);
  } else if (strcmp(path, "/interim") == 0) {
    sends(fd, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
              "HTTP/1.1 200 OK\r\nX-Final: 1\r\nContent-Length: 2\r\n\r\nok");
  } else if (strcmp(path, "/500") == 0) {
    sends(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\nit broke!");
  } else if (strcmp(path, "/chunked") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
      snprintf(hdr, sizeof hdr, "5\r\npart%d\r\n", i);
      sends(fd, hdr);
      wait_client_chunks(s, i + 1);
    }
    sends(fd, "0\r\nX-Trailer: t\r\n\r\n");
  } else if (strcmp(path, "/pause") == 0) {
    /* first body byte at once, then a pause longer than the test's first-byte timeout */
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n");
    usleep(400 * 1000);
    sends(fd, "1\r\nb\r\n0\r\n\r\n");
  } else if (strcmp(path, "/close-mid") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    return false;
  } else if (strcmp(path, "/chunk-trunc") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    return false;
  } else if (strcmp(path, "/hang") == 0) {
    wait_client_close(s, fd);
    return false;
  } else if (strcmp(path, "/hang-headers") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    wait_client_close(s, fd);
    return false;
  } else if (strcmp(path, "/slow") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\naaaa\r\n");
    wait_client_close(s, fd);
    return false;
  } else if (strcmp(path, "/bye") == 0) {
    /* a keep-alive answer, then the server drops the connection (an idle-timeout close) */
    sends(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye");
    return false;
  } else if (strcmp(path, "/drop") == 0) {
    return false; /* closes without answering */
  } else if (strcmp(path, "/conn-close") == 0) {
    /* the server announces the close but leaves it to the client */
    sends(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    wait_client_close(s, fd);
    return false;
  } else if (strcmp(path, "/http10") == 0) {
    sends(fd, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
    wait_client_close(s, fd);
    return false;
  } else if (strcmp(path, "/eof") == 0) {
    sends(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-");
    sends(fd, "eof");
    return false;
  } else {
    sends(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  }
  return true;
}

static void *conn_main(void *arg) {
  conn_arg *ca = arg;
  srv *s = ca->s;
  int fd = ca->fd;
  free(ca);
  static __thread char buf[65536];
  size_t have = 0;
  for (;;) {
    char *eoh;
    while (!(eoh = memmem(buf, have, "\r\n\r\n", 4))) {
      if (have == sizeof buf) goto out;
      ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
      if (r <= 0) {
        if (have == 0) { /* clean close between requests */
          pthread_mutex_lock(&s->mu);
          s->client_closed++;
          pthread_cond_broadcast(&s->cv);
          pthread_mutex_unlock(&s->mu);
        }
        goto out;
      }
      have += (size_t)r;
    }
    size_t hlen = (size_t)(eoh - buf) + 4;
    size_t clen = 0;
    char *cl = memmem(buf, hlen, "\r\nContent-Length:", 17);
    if (cl) clen = strtoul(cl + 17, NULL, 10);
    char path[256] = "";
    sscanf(buf, "%*s %255s", path);
    pthread_mutex_lock(&s->mu);
    snprintf(s->last_head, sizeof s->last_head, "%.*s", (int)hlen, buf);
    pthread_mutex_unlock(&s->mu);
    /* the body can be any size: read it into its own allocation */
    char *body = malloc(clen + 1);
    size_t got = have - hlen < clen ? have - hlen : clen;
    memcpy(body, buf + hlen, got);
    memmove(buf, buf + hlen + got, have - hlen - got); /* keep a pipelined next request */
    have -= hlen + got;
    while (got < clen) {
      ssize_t r = recv(fd, body + got, clen - got, 0);
      if (r <= 0) break;
      got += (size_t)r;
    }
    body[got] = 0;
    pthread_mutex_lock(&s->mu);
    s->requests++;
    s->last_body_len = got;
    snprintf(s->last_body, sizeof s->last_body, "%s", body);
    pthread_mutex_unlock(&s->mu);
    bool keep = got == clen && answer(s, fd, path, body, clen);
    free(body);
    if (!keep) break;
  }
out:
  close(fd);
  return NULL;
}

static void *accept_main(void *arg) {
  srv *s = arg;
  for (;;) {
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->nthr == MAX_CONNS) {
      pthread_mutex_unlock(&s->mu);
      close(fd);
      break;
    }
    s->accepts++;
    conn_arg *ca = malloc(sizeof *ca);
    ca->s = s;
    ca->fd = fd;
    s->fds[s->nthr] = fd;
    pthread_create(&s->thr[s->nthr++], NULL, conn_main, ca);
    pthread_mutex_unlock(&s->mu);
  }
  return NULL;
}

static srv *srv_start(void) {
  srv *s = calloc(1, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->lfd >= 0);
  int one = 1;
  setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->lfd, 512), 0);
  socklen_t al = sizeof a;
  getsockname(s->lfd, (struct sockaddr *)&a, &al);
  s->port = ntohs(a.sin_port);
  pthread_create(&s->accept_thr, NULL, accept_main, s);
  return s;
}

static void srv_stop(srv *s) {
  pthread_mutex_lock(&s->mu);
  s->stopping = true;
  for (int i = 0; i < s->nthr; i++) shutdown(s->fds[i], SHUT_RDWR); /* unblock recv */
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  shutdown(s->lfd, SHUT_RDWR); /* unblocks accept() on Linux */
  pthread_join(s->accept_thr, NULL);
  close(s->lfd);
  for (int i = 0; i < s->nthr; i++) pthread_join(s->thr[i], NULL);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

static int srv_get(srv *s, const int *field) {
  pthread_mutex_lock(&s->mu);
  int v = *field;
  pthread_mutex_unlock(&s->mu);
  return v;
}

/* Copies what the server last received (never assert while holding the lock). */
static void snap(srv *s, char head[8192], char body[8192]) {
  pthread_mutex_lock(&s->mu);
  memcpy(head, s->last_head, 8192);
  memcpy(body, s->last_body, 8192);
  pthread_mutex_unlock(&s->mu);
}

static size_t srv_get_size(srv *s, const size_t *field) {
  pthread_mutex_lock(&s->mu);
  size_t v = *field;
  pthread_mutex_unlock(&s->mu);
  return v;
}

#endif
