/* pg.c: the PostgreSQL backend: connections, the reader pool, the statement helpers.
 *
 * One connection belongs to the writer thread (write_batch, expire, key_create); its
 * statements are prepared once per connection (pg_write.c), and a connection that broke is
 * reset at the start of the next batch.  Reads use a pool of at most KL_PG_READERS_MAX
 * connections opened on demand: a libpq connection may be used by one thread at a time, and
 * the pool guarantees that.  A reader whose connection went bad is closed on release, so the
 * next acquire opens a fresh one (a restarted server costs one failed query, not a restart
 * of keel).
 *
 * Values travel as text parameters: 64-bit integers printed with %lld and doubles with
 * %.17g, so nothing is rounded on the way.  Errors carry PostgreSQL's own message; the
 * SQLSTATE of the last error on this thread is kept (kl_pg_last_state) so the writer can tell
 * a serialization failure or a deadlock (retried) from a real error. */
#include "store/pg_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_state[6];

const char *kl_pg_last_state(void) { return g_state; }

void kl_pg_err(PGconn *c, const PGresult *r, const char *what, kl_err *err) {
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  snprintf(g_state, sizeof g_state, "%s", st ? st : "");
  if (!err) return;
  const char *msg = r ? PQresultErrorMessage(r) : NULL;
  if (!msg || !*msg) msg = c ? PQerrorMessage(c) : "no connection";
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
  bool down = !c || PQstatus(c) != CONNECTION_OK || (st && !strncmp(st, "08", 2)) || (st && !strncmp(st, "57P", 3));
  int code = down ? 503 : (st && !strcmp(st, "53100")) ? 507 : 500;
  kl_err_set(err, code, "store: postgres: %s: %.*s", what, (int)n, msg);
}

/* ---- parameters ---- */

static int p_add(kl_pg_params *ps, const char *v) {
  if (ps->n >= KL_PG_PARAMS_MAX) abort(); /* a programming error: statements have fixed shapes */
  ps->v[ps->n++] = v;
  return ps->n;
}

int kl_pg_p_text(kl_pg_params *ps, const char *v) { return p_add(ps, v ? kl_arena_strdup(ps->a, v) : NULL); }

int kl_pg_p_text_or_null(kl_pg_params *ps, const char *v) { return kl_pg_p_text(ps, v && *v ? v : NULL); }

int kl_pg_p_i64(kl_pg_params *ps, int64_t v) { return p_add(ps, kl_arena_sprintf(ps->a, "%lld", (long long)v)); }

int kl_pg_p_f64(kl_pg_params *ps, double v) {
  return p_add(ps, isfinite(v) ? kl_arena_sprintf(ps->a, "%.17g", v) : NULL);
}

/* ---- statements ---- */

PGresult *kl_pg_exec(PGconn *c, const char *sql, const kl_pg_params *ps, kl_err *err) {
  if (!c) {
    kl_pg_err(NULL, NULL, "exec", err);
    return NULL;
  }
  PGresult *r = ps && ps->n ? PQexecParams(c, sql, ps->n, NULL, ps->v, NULL, NULL, 0) : PQexec(c, sql);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
    g_state[0] = 0;
    return r;
  }
  kl_pg_err(c, r, "query", err);
  PQclear(r);
  return NULL;
}

int kl_pg_run(PGconn *c, const char *sql, const kl_pg_params *ps, kl_err *err) {
  PGresult *r = kl_pg_exec(c, sql, ps, err);
  if (!r) return -1;
  PQclear(r);
  return 0;
}

PGresult *kl_pg_exec_prepared(PGconn *c, const char *name, const kl_pg_params *ps, kl_err *err) {
  PGresult *r = PQexecPrepared(c, name, ps ? ps->n : 0, ps ? ps->v : NULL, NULL, NULL, 0);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
    g_state[0] = 0;
    return r;
  }
  kl_pg_err(c, r, name, err);
  PQclear(r);
  return NULL;
}

int64_t kl_pg_i64(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* ---- connections ---- */

static void notice_quiet(void *arg, const char *msg) { (void)arg, (void)msg; }

PGconn *kl_pg_connect(const char *conninfo, kl_err *err) {
  PGconn *c = PQconnectdb(conninfo);
  if (!c) abort();
  if (PQstatus(c) != CONNECTION_OK) {
    const char *m = PQerrorMessage(c);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) n--;
    kl_err_set(err, 503, "store: cannot connect to postgres: %.*s", (int)n, m);
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, notice_quiet, NULL); /* "relation exists, skipping" and the like */
  /* Text I/O of doubles must round-trip (the default since PostgreSQL 12; set for older).
   * JIT off: metrics' estimates (json_array_elements guesses 100 tags a row) made the planner
   * JIT-compile the plan, ~1 s of the 1.4 s a tag x day query took over 750k generations;
   * our queries are short and already planned well.  work_mem: the percentile sorts spilled
   * to disk at the 4 MB default. */
  PGresult *r = PQexec(c, "SET extra_float_digits = 3; SET client_encoding = 'UTF8'; SET jit = off;"
                          " SET work_mem = '32MB'");
  PQclear(r);
  return c;
}

kl_pgconn *kl_pg_acquire(kl_pg *p, kl_err *err) {
  pthread_mutex_lock(&p->pool_mu);
  for (;;) {
    if (p->idle) {
      kl_pgconn *c = p->idle;
      p->idle = c->next;
      pthread_mutex_unlock(&p->pool_mu);
      return c;
    }
    if (p->nreaders < KL_PG_READERS_MAX) break;
    pthread_cond_wait(&p->pool_cv, &p->pool_mu);
  }
  p->nreaders++; /* reserve the slot, connect outside the lock */
  pthread_mutex_unlock(&p->pool_mu);
  PGconn *pc = kl_pg_connect(p->conninfo, err);
  if (pc) {
    kl_pgconn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->c = pc;
    return c;
  }
  pthread_mutex_lock(&p->pool_mu);
  p->nreaders--;
  pthread_cond_signal(&p->pool_cv);
  pthread_mutex_unlock(&p->pool_mu);
  return NULL;
}

void kl_pg_release(kl_pg *p, kl_pgconn *c) {
  if (!c) return;
  bool bad = PQstatus(c->c) != CONNECTION_OK || PQtransactionStatus(c->c) != PQTRANS_IDLE;
  pthread_mutex_lock(&p->pool_mu);
  if (bad) {
    p->nreaders--;
  } else {
    c->next = p->idle;
    p->idle = c;
  }
  pthread_cond_signal(&p->pool_cv);
  pthread_mutex_unlock(&p->pool_mu);
  if (bad) {
    PQfinish(c->c);
    free(c);
  }
}

/* ---- open / close ---- */

static void pg_close(void *be);

static void *pg_open(const kl_store_opts *opts, kl_err *err) {
  const char *url = opts->url;
  if (!url || !*url) {
    kl_err_set(err, 400, "store: the postgres backend needs a connection url (store.url / KEEL_STORE_URL)");
    return NULL;
  }
  kl_pgw *w = calloc(1, sizeof *w);
  if (!w) abort();
  kl_pg *p = &w->p;
  p->conninfo = strdup(url);
  if (!p->conninfo) abort();
  pthread_mutex_init(&p->pool_mu, NULL);
  pthread_cond_init(&p->pool_cv, NULL);
  p->arena = kl_arena_new(64 * 1024);
  if (!(p->w = kl_pg_connect(url, err))) goto fail;
  if (kl_pg_migrate(p->w, err) != 0) goto fail;
  if (kl_pg_write_prepare(w, err) != 0) goto fail;
  return w;
fail:
  pg_close(w);
  return NULL;
}

static void pg_close(void *be) {
  kl_pgw *w = be;
  if (!w) return;
  kl_pg *p = &w->p;
  while (p->idle) {
    kl_pgconn *c = p->idle;
    p->idle = c->next;
    PQfinish(c->c);
    free(c);
  }
  if (p->w) PQfinish(p->w);
  kl_pg_write_free(w);
  if (p->arena) kl_arena_free(p->arena);
  pthread_mutex_destroy(&p->pool_mu);
  pthread_cond_destroy(&p->pool_cv);
  free(p->conninfo);
  free(w);
}

const kl_backend_vt kl_backend_postgres = {
    .name = "postgres",
    .open = pg_open,
    .write_batch = kl_pg_write_batch,
    .list_traces = kl_pg_list_traces,
    .get_trace = kl_pg_get_trace,
    .get_observation = kl_pg_get_observation,
    .get_score = kl_pg_get_score,
    .key_get = kl_pg_key_get,
    .key_create = kl_pg_key_create,
    .list_observations = kl_pg_list_observations,
    .find_observation = kl_pg_find_observation,
    .list_scores = kl_pg_list_scores,
    .list_sessions = kl_pg_list_sessions,
    .get_session = kl_pg_get_session,
    .list_users = kl_pg_list_users,
    .get_user = kl_pg_get_user,
    .metrics = kl_pg_metrics,
    .set_fulltext = kl_pg_set_fulltext,
    .expire = kl_pg_expire,
    .close = pg_close,
};
