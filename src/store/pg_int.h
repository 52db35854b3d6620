/* pg_int.h: shared by the PostgreSQL backend's files.
 *
 *   pg.c         open/close, the connection pool, exec and parameter helpers, errors
 *   pg_schema.c  versioned migrations (same tables and column names as SQLite's final schema)
 *   pg_write.c   write_batch: the transaction, locks, complete observations, traces aggregates
 *   pg_ingest.c  partial records merged with the stored row, trace records, scores
 *   pg_admin.c   retention (expire), keys
 *   pg_put.c     libpq's side of a kl_row (row.h): the JSON writers are row_json.c's, shared with SQLite
 *   pg_read.c    get_trace, get_observation, find_observation, get_score
 *   pg_query*.c  list_traces/observations/scores, sessions, users, metrics; pg_query_fts.c: q= and
 *                set_fulltext
 *
 * Why it looks like the SQLite backend: the store's JSON answers must be byte-for-byte the
 * same whichever backend holds the data (the API and the test suite do not know which one
 * runs), so the column names, the JSON helpers and the query shapes mirror sqlite_*.c.
 *
 * Several keel instances may share one database: every write is a single transaction of
 * upserts (INSERT .. ON CONFLICT), trace aggregates are maintained with additive updates
 * or recomputed from observations under a row lock, so concurrent writers never lose an
 * update.  Reads use a small pool of connections (libpq connections are not thread-safe;
 * one connection is used by one thread at a time).
 *
 * All values travel as text parameters ($1..$n) in libpq's text format; 64-bit integers are
 * printed with %lld and doubles with %.17g so nothing is rounded. */
#ifndef KL_STORE_PG_INT_H
#define KL_STORE_PG_INT_H

#include "store/backend.h"
#include "store/row.h"

#include <libpq-fe.h>
#include <pthread.h>

#define KL_PG_READERS_MAX 4

typedef struct kl_pgconn {
  PGconn *c;
  struct kl_pgconn *next;
} kl_pgconn;

typedef struct kl_pg {
  char *conninfo;   /* libpq connection string or postgres:// URL */
  PGconn *w;        /* the writer's connection (writer thread only) */
  kl_arena *arena;  /* merged patches' strings; reset after every batch */
  bool fulltext;    /* the full-text index exists (pg_query*.c) */
  /* reader pool */
  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  kl_pgconn *idle;
  int nreaders;
} kl_pg;

/* ---- pg.c ---- */
extern const kl_backend_vt kl_backend_postgres;
/* A reader connection (waits while KL_PG_READERS_MAX are in use); NULL + err if the server
 * cannot be reached. */
kl_pgconn *kl_pg_acquire(kl_pg *p, kl_err *err);
/* Returns it to the pool; a connection whose status is bad is closed instead. */
void kl_pg_release(kl_pg *p, kl_pgconn *c);

/* Text parameters for one statement: values are copied into a (NULL = SQL NULL). */
#define KL_PG_PARAMS_MAX 64
typedef struct kl_pg_params {
  const char *v[KL_PG_PARAMS_MAX];
  int n;
  kl_arena *a;
} kl_pg_params;
/* Each adds one parameter and returns its number (1-based, for "$n"). */
int kl_pg_p_text(kl_pg_params *ps, const char *v);       /* NULL -> NULL */
int kl_pg_p_text_or_null(kl_pg_params *ps, const char *v); /* NULL or "" -> NULL */
int kl_pg_p_i64(kl_pg_params *ps, int64_t v);
int kl_pg_p_f64(kl_pg_params *ps, double v);              /* non-finite -> NULL */
/* Runs sql with ps (may be NULL); returns the result when it is COMMAND_OK or TUPLES_OK
 * (caller PQclear()s it), else NULL with err set (kl_pg_err). */
PGresult *kl_pg_exec(PGconn *c, const char *sql, const kl_pg_params *ps, kl_err *err);
/* Like kl_pg_exec for statements whose result is not needed; 0 or -1. */
int kl_pg_run(PGconn *c, const char *sql, const kl_pg_params *ps, kl_err *err);
/* err from a failed result (or the connection when r is NULL): 503 when the server is
 * unreachable, 500 otherwise; the message names `what` and PostgreSQL's own message. */
void kl_pg_err(PGconn *c, const PGresult *r, const char *what, kl_err *err);
/* Value helpers over a result: NULL-aware. */
int64_t kl_pg_i64(const PGresult *r, int row, int col); /* 0 when NULL */

/* ---- pg_schema.c ---- */
int kl_pg_migrate(PGconn *c, kl_err *err);

/* ---- pg_write.c ---- */
int kl_pg_write_batch(void *be, kl_rec *const *recs, size_t n, kl_obs_merge_fn merge, kl_err *err);
int kl_pg_expire(void *be, int64_t cutoff_ns, int max_rows, uint64_t *deleted, bool *more, kl_err *err);
int kl_pg_key_create(void *be, const char *project, const kl_store_key *k, kl_err *err);
int kl_pg_key_get(void *be, const char *public_key, kl_store_key *out, kl_err *err);

/* ---- pg_put.c: JSON output helpers (row_json.c's writers over a PGresult row) ---- */
void kl_pg_put_str(kl_buf *b, const PGresult *r, int row, int col);  /* JSON string or null */
void kl_pg_put_json(kl_buf *b, const PGresult *r, int row, int col, const char *if_null);
void kl_pg_put_real(kl_buf *b, const PGresult *r, int row, int col); /* number or null */
void kl_pg_put_iso(kl_buf *b, const PGresult *r, int row, int col);  /* RFC 3339 of an ns column, or null */

/* ---- pg_read.c, pg_query*.c: the read entries of the vtable ---- */
int kl_pg_get_trace(void *be, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);
int kl_pg_get_observation(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_pg_find_observation(void *be, const char *project_id, const char *trace_id, const char *id, kl_buf *out,
                           kl_err *err);
int kl_pg_get_score(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_pg_list_traces(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
int kl_pg_list_observations(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
int kl_pg_list_scores(void *be, const kl_score_filter *f, kl_buf *out, kl_err *err);
int kl_pg_list_sessions(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err);
int kl_pg_get_session(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_pg_list_users(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err);
int kl_pg_get_user(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_pg_metrics(void *be, const kl_metrics_filter *f, kl_buf *out, kl_err *err);
/* Creates (on) or drops (off) the full-text index; called once at open, before any write. */
int kl_pg_set_fulltext(void *be, bool on, kl_err *err);


/* ---- appended by pg.c / pg_write.c (the write side's own state and helpers) ---- */
/* What pg_open allocates: the shared kl_pg first (so `be` is a kl_pg * for every reader),
 * then the writer's private state. */
typedef struct kl_pgw {
  kl_pg p;
  bool prepared;     /* the writer's statements are prepared on p.w */
  uint64_t retries;  /* batches retried after a serialization failure or deadlock */
  struct kl_pg_arrs *arr; /* pg_write.c's column-array buffers, reused batch after batch */
} kl_pgw;
/* A connection with keel's session settings (UTF-8, round-tripping floats); NULL + 503. */
PGconn *kl_pg_connect(const char *conninfo, kl_err *err);
/* Runs a statement prepared on c by name (as kl_pg_exec). */
PGresult *kl_pg_exec_prepared(PGconn *c, const char *name, const kl_pg_params *ps, kl_err *err);
/* The SQLSTATE of this thread's last failed statement ("" after a success). */
const char *kl_pg_last_state(void);
/* pg_write.c: prepares the writer's statements on p.w (at open, and after a reconnect). */
int kl_pg_write_prepare(kl_pgw *w, kl_err *err);
void kl_pg_write_free(kl_pgw *w);
/* pg_write.c: recomputes one trace's aggregates from its observations and drops it when it
 * is left empty (adding 1 to *dropped, may be NULL); inside the caller's transaction, with
 * the trace's lock held (kl_pg_lock_trace). */
int kl_pg_recompute(kl_pgw *w, const char *project, const char *trace, int64_t *dropped, kl_err *err);
int kl_pg_lock_trace(kl_pgw *w, const char *project, const char *trace, kl_err *err);

/* ---- pg_put.c (read side): row writers and the page writer shared by pg_read.c and
 * pg_query*.c.  Column layouts are sqlite_int.h's (KL_OBS_COLS, KL_TRACE_ROW_COLS,
 * KL_SCORE_COLS): the column names are the same in both schemas. ---- */
void kl_pg_put_num(kl_buf *b, double v); /* as kl_sqlite_put_num: shortest round-trip, null if not finite */
void kl_pg_put_trace_row(kl_buf *b, const PGresult *r, int row);        /* KL_TRACE_ROW_COLS, no braces */
void kl_pg_put_obs(kl_buf *b, const PGresult *r, int row, bool ext);    /* KL_OBS_COLS[,KL_OBS_EXT_COLS] */
void kl_pg_put_score(kl_buf *b, const PGresult *r, int row);            /* KL_SCORE_COLS, with braces */
kl_row kl_pg_row(const PGresult *r, int row);                          /* that row as a kl_row (row.h) */
/* {"data":[{row}...],"next_cursor":...} from r (which holds up to limit+1 rows). */
void kl_pg_page(const PGresult *r, int limit, bool asc, int key_ns, int key_id, kl_row_page_fn put, void *ud,
                kl_buf *out);
/* One statement on a pooled reader connection. */
PGresult *kl_pg_query(kl_pg *p, const char *sql, const kl_pg_params *ps, kl_err *err);

/* pg_query_fts.c: q -> *pats, one regular expression per word of q (FTS5 unicode61
 * semantics, see there); returns how many, or -1 when q has no word at all (no text filter).
 * kl_pg_fts_cond appends " AND ..." for them on `alias` ("" or "o."); n == 0 matches nothing. */
int kl_pg_fts(kl_arena *a, const char *q, const char ***pats);
void kl_pg_fts_cond(kl_buf *sql, kl_pg_params *ps, const char *alias, const char *const *pats, int n);

/* A JSON array of strings, checked by a regular expression (PostgreSQL 15 has no
 * json_valid): tags columns are cast to json only when they match, so a malformed value never
 * fails a query (SQLite's json_valid guard). */
#define KL_PG_TAGS_RE                                                                        \
  "^\\s*\\[\\s*(\"([^\"\\\\\\x01-\\x1f]|\\\\([\"\\\\/bfnrt]|u(?!0000)[0-9a-fA-F]{4}))*\"\\s*" \
  "(,\\s*\"([^\"\\\\\\x01-\\x1f]|\\\\([\"\\\\/bfnrt]|u(?!0000)[0-9a-fA-F]{4}))*\"\\s*)*)?\\]\\s*$"

#endif
