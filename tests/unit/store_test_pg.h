/* store_test_pg.h: runs a unit test's stores on PostgreSQL when KEEL_TEST_PG_URL is set, and
 * the store tests' shared helpers (kl_test_store_open, kl_test_span).
 *
 * ctest registers the store tests twice: unit/<name> (SQLite) and pg/<name>, the latter with
 * KEEL_TEST_PG_URL pointing at the server scripts/pg-test.sh started.  Every store a test
 * opens goes through kl_test_store_opts, which then creates a database of its own,
 * keel_t_<pid>_<hash of data_dir>, and points the options at it.  The database is named after
 * the data directory (each test makes a fresh one with mkdtemp), so a test that reopens the
 * same data_dir (spill replay, persistence) finds its data again, and two tests never share
 * one.  The databases disappear with the server's cluster (ctest's cleanup fixture). */
#ifndef KL_STORE_TEST_PG_H
#define KL_STORE_TEST_PG_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/kl_store.h"

static inline bool kl_test_pg(void) {
  const char *u = getenv("KEEL_TEST_PG_URL");
  return u && *u;
}

/* url with its database replaced by db: postgresql://user@host:port/<db>[?params] */
static inline void kl_test_pg_url(char *out, size_t n, const char *url, const char *db) {
  const char *host = strstr(url, "://");
  host = host ? host + 3 : url;
  const char *slash = strchr(host, '/'), *q = strchr(host, '?');
  size_t head = slash ? (size_t)(slash - url) : q ? (size_t)(q - url) : strlen(url);
  snprintf(out, n, "%.*s/%s%s", (int)head, url, db, q ? q : "");
}

static inline void kl_test_store_opts(kl_store_opts *o) {
  if (!kl_test_pg()) return;
  const char *url = getenv("KEEL_TEST_PG_URL");
  static char urls[16][512];
  static unsigned next, counter;
  uint64_t h = 14695981039346656037ULL;
  const char *d = o->data_dir;
  char tmp[32];
  if (!d) { /* no directory: a database of its own */
    snprintf(tmp, sizeof tmp, "#%u", counter++);
    d = tmp;
  }
  for (; *d; d++) h = (h ^ (unsigned char)*d) * 1099511628211ULL;
  char db[64];
  snprintf(db, sizeof db, "keel_t_%d_%llx", (int)getpid(), (unsigned long long)(h & 0xffffffffffffULL));
  PGconn *c = PQconnectdb(url);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "KEEL_TEST_PG_URL: %s", PQerrorMessage(c));
    abort();
  }
  char sql[128];
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
  PGresult *r = PQexec(c, sql);
  const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && !(st && !strcmp(st, "42P04"))) { /* 42P04: it exists */
    fprintf(stderr, "KEEL_TEST_PG_URL: %s", PQerrorMessage(c));
    abort();
  }
  PQclear(r);
  PQfinish(c);
  char *u = urls[next++ % 16];
  kl_test_pg_url(u, sizeof urls[0], url, db);
  o->backend = "postgres";
  o->url = u;
}

/* A SPAN observation with nothing else set (cost unknown), for tests to fill in. */
static inline kl_obs kl_test_span(const char *id, const char *trace, int64_t start) {
  kl_obs o;
  memset(&o, 0, sizeof o);
  snprintf(o.id, sizeof o.id, "%s", id);
  snprintf(o.trace_id, sizeof o.trace_id, "%s", trace);
  o.type = KL_OBS_SPAN;
  o.start_ns = start;
  o.cost_usd = -1;
  return o;
}

/* kl_store_open(o) through kl_test_store_opts; a failure fails the test (cmocka's fail_msg:
 * include <cmocka.h> first). */
static inline kl_store *kl_test_store_open(kl_store_opts o) {
  kl_test_store_opts(&o);
  kl_err err;
  kl_err_clear(&err);
  kl_store *s = kl_store_open(&o, &err);
  if (!s) fail_msg("open: %s", err.msg);
  return s;
}

#endif
