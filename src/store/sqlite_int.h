/* sqlite_int.h: shared by the SQLite backend's files (sqlite.c: open, pool, writes;
 * sqlite_schema.c: migrations; sqlite_read.c: the JSON-producing queries). */
#ifndef KL_STORE_SQLITE_INT_H
#define KL_STORE_SQLITE_INT_H

#include "store/backend.h"

#include <pthread.h>
#include <sqlite3.h>

/* Columns of `observations` in the order the writer binds them (?1..?35) and the reader
 * selects them (column 0..34). */
#define KL_OBS_COLS                                                                            \
  "project_id,id,trace_id,parent_id,type,name,level,status_message,http_status,start_ns,"      \
  "end_ns,completion_start_ns,model,provider,upstream_model,model_params,input,output,"         \
  "metadata,finish_reason,usage_input,usage_input_cached,usage_input_cache_write,usage_output," \
  "usage_output_reasoning,usage,usage_estimated,cost_usd,cost,trace_name,user_id,session_id,"  \
  "tags,environment,release"
enum {
  OC_PROJECT, OC_ID, OC_TRACE, OC_PARENT, OC_TYPE, OC_NAME, OC_LEVEL, OC_STATUS_MSG, OC_HTTP,
  OC_START, OC_END, OC_CSTART, OC_MODEL, OC_PROVIDER, OC_UPMODEL, OC_PARAMS, OC_INPUT,
  OC_OUTPUT, OC_METADATA, OC_FINISH, OC_U_IN, OC_U_CACHED, OC_U_CWRITE, OC_U_OUT, OC_U_REASON,
  OC_USAGE, OC_U_EST, OC_COST_USD, OC_COST, OC_TRACE_NAME, OC_USER, OC_SESSION, OC_TAGS,
  OC_ENV, OC_RELEASE, OC_COUNT
};

/* Extra columns of `observations` (migration 2) the ingest path binds as ?36..?41 and reads
 * as columns 35..40 after KL_OBS_COLS. */
#define KL_OBS_EXT_COLS "version,prompt_name,prompt_version,ingest_set,ingest_update,ingest_ns"
enum { OC_VERSION = OC_COUNT, OC_PROMPT_NAME, OC_PROMPT_VERSION, OC_INGEST_SET, OC_INGEST_UPDATE, OC_INGEST_NS,
       OC_EXT_COUNT };

/* A read-only connection and the statements prepared on it (kept for its lifetime). */
#define KL_LIST_VARIANTS 64 /* one list statement per combination of 6 optional filters */
typedef struct kl_rconn {
  sqlite3 *db;
  sqlite3_stmt *list[KL_LIST_VARIANTS];
  sqlite3_stmt *trace, *obs;
  sqlite3_stmt *one_obs, *score, *trace_scores, *key; /* ingest_read.c */
  struct kl_rconn *next;
} kl_rconn;

#define KL_READERS_MAX 4

typedef struct kl_sqlite {
  char *path;
  sqlite3 *db; /* the writer's connection */
  sqlite3_stmt *begin, *commit, *rollback, *ins_new, *ins_obs, *trace_add, *trace_recompute,
      *trace_drop_empty;
  sqlite3_stmt *ing[12];  /* ingest_sqlite.c's statements */
  kl_arena *arena;        /* merged patches' strings; reset after every batch */
  bool have_orphans;      /* some ingested row is stored under trace "" (update, trace unknown) */
  bool have_trace_records; /* some traces row was set by a trace record */
  /* reader pool */
  pthread_mutex_t pool_mu;
  pthread_cond_t pool_cv;
  kl_rconn *idle;
  int nreaders;
} kl_sqlite;

/* Traces whose aggregate must be recomputed at the end of a batch. */
typedef struct kl_redo {
  char project[KL_OBS_ID_MAX + 1];
  char trace[KL_OBS_ID_MAX + 1];
} kl_redo;
typedef struct kl_redo_list {
  kl_redo *v;
  size_t n, cap;
} kl_redo_list;
void kl_redo_push(kl_redo_list *l, const char *project, const char *trace);

/* sqlite_schema.c */
int kl_sqlite_migrate(sqlite3 *db, kl_err *err);
int kl_sqlite_schema_version(sqlite3 *db);

/* sqlite_read.c */
int kl_sqlite_list_traces(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
int kl_sqlite_get_trace(void *be, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);
void kl_rconn_close(kl_rconn *c);

/* ingest_sqlite.c: the write path of partial records and scores (inside write_batch's
 * transaction) and the key table. */
int kl_sqlite_ingest_prepare(kl_sqlite *q, kl_err *err);
void kl_sqlite_ingest_finalize(kl_sqlite *q);
int kl_sqlite_write_patch(kl_sqlite *q, const kl_obs_patch *p, kl_obs_merge_fn merge, kl_redo_list *redo, kl_err *err);
int kl_sqlite_write_score(kl_sqlite *q, const kl_score *sc, kl_err *err);
int kl_sqlite_key_create(void *be, const char *project, const kl_store_key *k, kl_err *err);

/* ingest_read.c */
int kl_sqlite_get_observation(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_sqlite_get_score(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_sqlite_key_get(void *be, const char *public_key, kl_store_key *out, kl_err *err);
/* Appends "[score,...]" for the trace (on c, inside the caller's read transaction). */
int kl_sqlite_trace_scores(kl_rconn *c, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);
void kl_sqlite_ingest_rconn_close(kl_rconn *c);

/* sqlite_read.c: JSON of one observation row (columns as KL_OBS_COLS, then optionally
 * KL_OBS_EXT_COLS' first three when ext). */
void kl_sqlite_put_obs(kl_buf *b, sqlite3_stmt *st, bool ext);

/* sqlite.c */
void kl_sqlite_bind_obs(sqlite3_stmt *st, const kl_obs *o);
int kl_sqlite_step(sqlite3 *db, sqlite3_stmt *st, const char *what, kl_err *err);
int kl_sqlite_trace_add(kl_sqlite *q, const kl_obs *o, kl_err *err);
kl_rconn *kl_sqlite_acquire(kl_sqlite *q, kl_err *err);
void kl_sqlite_release(kl_sqlite *q, kl_rconn *c);
/* Sets err from the connection's last error (507 when the disk is full, else 500). */
void kl_sqlite_err(sqlite3 *db, int rc, const char *what, kl_err *err);

#endif
