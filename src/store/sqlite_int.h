/* sqlite_int.h: shared by the SQLite backend's files (sqlite.c: open, pool, writes;
 * sqlite_schema.c: migrations; sqlite_read.c: the JSON-producing queries). */
#ifndef KL_STORE_SQLITE_INT_H
#define KL_STORE_SQLITE_INT_H

#include "store/backend.h"
#include "store/row.h"

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

/* A read-only connection and the statements prepared on it (kept for its lifetime).  The
 * query API's SQL depends on which filters are set, so those statements live in a small
 * cache keyed by their text (query_util.c). */
#define KL_STMT_CACHE 32
typedef struct kl_rconn {
  sqlite3 *db;
  struct { char *sql; sqlite3_stmt *st; } cache[KL_STMT_CACHE];
  unsigned cache_next;
  sqlite3_stmt *trace, *obs;
  sqlite3_stmt *one_obs, *score, *trace_scores, *key; /* ingest_read.c */
  struct kl_rconn *next;
} kl_rconn;

#define KL_READERS_MAX 4

#define KL_SQLITE_NRUNS 2
#define KL_SQLITE_RUN_MAX 64 /* kl_sqlite_runs[0] */

/* Binding with a memory of what each parameter holds.  SQLite keeps a statement's parameters
 * from one execution to the next, and most of the writer's parameters are NULL or a small
 * integer that repeats from row to row (a GUARDRAIL observation has 17 NULLs and 6 zeros of
 * 35; a gateway trace's upsert 4 NULLs of 18), so the write path's statements remember (b,
 * indexed by ?N; NULL: no memory) which parameters hold a NULL or which integer, and skip
 * binding the same again: each bind is an API call of ~100 instructions.  Text is always
 * bound: SQLITE_STATIC points into a record that is freed after its batch.  A failed bind
 * (only text, too long) leaves the parameter NULL while b says "other", which is merely a
 * bind more next time. */
typedef struct kl_bound {
  int64_t v;    /* the integer, for KL_BOUND_INT */
  uint8_t kind; /* KL_BOUND_OTHER (text, real, or not known), KL_BOUND_NULL, KL_BOUND_INT */
} kl_bound;
enum { KL_BOUND_OTHER, KL_BOUND_NULL, KL_BOUND_INT };

/* A memory for parameters ?1..?n, all "other" (so everything is bound the first time). */
kl_bound *kl_bound_alloc(int n);

static inline void kl_rebind_null(sqlite3_stmt *st, kl_bound *b, int i) {
  if (b) {
    if (b[i].kind == KL_BOUND_NULL) return;
    b[i].kind = KL_BOUND_NULL;
  }
  sqlite3_bind_null(st, i);
}
static inline void kl_rebind_i64(sqlite3_stmt *st, kl_bound *b, int i, int64_t v) {
  if (b) {
    if (b[i].kind == KL_BOUND_INT && b[i].v == v) return;
    b[i] = (kl_bound){v, KL_BOUND_INT};
  }
  sqlite3_bind_int64(st, i, v);
}
static inline void kl_rebind_f64(sqlite3_stmt *st, kl_bound *b, int i, double v) {
  if (b) b[i].kind = KL_BOUND_OTHER;
  sqlite3_bind_double(st, i, v);
}
/* text, or NULL for a null pointer */
static inline void kl_rebind_text(sqlite3_stmt *st, kl_bound *b, int i, const char *v) {
  if (!v) {
    kl_rebind_null(st, b, i);
    return;
  }
  if (b) b[i].kind = KL_BOUND_OTHER;
  sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

typedef struct kl_sqlite {
  char *path;
  sqlite3 *db; /* the writer's connection */
  sqlite3_stmt *begin, *commit, *rollback, *ins_new, *ins_obs, *trace_recompute, *trace_drop_empty;
  sqlite3_stmt *ins_run[KL_SQLITE_NRUNS]; /* multi-row inserts, kl_sqlite_runs[k] rows each */
  kl_bound *bound_run[KL_SQLITE_NRUNS], *bound_new; /* their parameters and ins_new's, by ?N */
  sqlite3_stmt *ing[12];  /* ingest_sqlite.c's statements */
  struct kl_tagg *tagg;   /* ingest_tagg.c: the batch's pending trace aggregates */
  struct kl_ckpt *ckpt;   /* sqlite_ckpt.c: the checkpoint thread */
  kl_arena *arena;        /* merged patches' strings; reset after every batch */
  bool have_orphans;      /* some ingested row is stored under trace "" (update, trace unknown) */
  bool have_trace_records; /* some traces row was set by a trace record */
  bool fulltext;          /* obs_fts is being maintained (query_admin.c) */
  bool secure_delete;     /* kl_store_opts.secure_delete: zero freed bytes always, not only in retention */
  sqlite3_stmt *exp[8];   /* retention's statements (query_admin.c), prepared on first use */
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
/* The first column of the first row of sql as an int; def when there is none or it fails. */
int kl_sqlite_int(sqlite3 *db, const char *sql, int def);
int kl_sqlite_schema_version(sqlite3 *db);

/* sqlite_read.c */
int kl_sqlite_get_trace(void *be, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);
void kl_rconn_close(kl_rconn *c);
int kl_rconn_prep(kl_rconn *c, sqlite3_stmt **st, const char *sql, kl_err *err); /* once per connection */

/* ingest_sqlite.c: the write path of partial records and scores (inside write_batch's
 * transaction) and the key table. */
int kl_sqlite_ingest_prepare(kl_sqlite *q, kl_err *err);
void kl_sqlite_ingest_finalize(kl_sqlite *q);
int kl_sqlite_write_patch(kl_sqlite *q, const kl_obs_patch *p, kl_obs_merge_fn merge, kl_redo_list *redo, kl_err *err);
int kl_sqlite_write_score(kl_sqlite *q, const kl_score *sc, kl_err *err);
int kl_sqlite_key_create(void *be, const char *project, const kl_store_key *k, kl_err *err);

/* ingest_tagg.c: new ingested observations are added to their traces once per trace per
 * batch.  kl_sqlite_ingest_flush writes what is pending: write_batch calls it before anything
 * else touches `traces` (keel's own observations) and at the end of the batch, before the
 * recompute; kl_sqlite_ingest_reset drops it when the batch fails. */
typedef struct kl_tagg kl_tagg;
int kl_tagg_open(kl_sqlite *q, kl_err *err);
void kl_tagg_close(kl_sqlite *q);
void kl_tagg_add(kl_sqlite *q, const char *project, const kl_obs *o); /* a new observation joins its trace, deferred */
int kl_tagg_flush_one(kl_sqlite *q, const char *project, const char *trace, kl_err *err);
int kl_sqlite_ingest_flush(kl_sqlite *q, kl_err *err);
void kl_sqlite_ingest_reset(kl_sqlite *q);

/* sqlite_ckpt.c: WAL checkpoints on their own thread and connection (replaces the writer's
 * automatic checkpoint); stop before closing the writer's connection. */
int kl_sqlite_ckpt_start(kl_sqlite *q, kl_err *err);
void kl_sqlite_ckpt_stop(kl_sqlite *q);

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

/* Trace rows as the query API returns them: these columns of `traces`, in this order, then
 * optionally TRACE_MORE_COLS (get_trace). */
#define KL_TRACE_ROW_COLS                                                                          \
  "id,start_ns,name,user_id,session_id,model,input_tokens,output_tokens,cost_usd,end_ns,error_count," \
  "tags,observation_count,level_mask"
enum { TC_ID, TC_START, TC_NAME, TC_USER, TC_SESSION, TC_MODEL, TC_IN, TC_OUT, TC_COST, TC_END, TC_ERR,
       TC_TAGS, TC_NOBS, TC_LEVELS, TC_ENV, TC_RELEASE, TC_INPUT, TC_OUTPUT, TC_METADATA, TC_VERSION };
#define KL_TRACE_MORE_COLS "environment,release,input,output,metadata,version"

/* The observation list's rows (list_observations on both backends, row_json.c's
 * kl_row_page_obs): a summary, token counts summed over their buckets. */
#define KL_OBS_LIST_COLS                                                                              \
  "id,trace_id,parent_id,type,name,start_ns,end_ns,model,level,status_message,"                      \
  "usage_input+usage_input_cached+usage_input_cache_write,usage_output+usage_output_reasoning,cost_usd," \
  "completion_start_ns"
enum { OL_ID, OL_TRACE, OL_PARENT, OL_TYPE, OL_NAME, OL_START, OL_END, OL_MODEL, OL_LEVEL, OL_STATUS, OL_IN, OL_OUT,
       OL_COST, OL_CSTART };

/* Sessions' and users' aggregate rows (query_group.c, pg_query_group.c: each backend's own
 * SQL, these columns; row_json.c's kl_row_put_group writes them): the group's id, first and
 * last start_ns, traces, input and output tokens, cost, the traces' durations summed (ns),
 * traces with an error, then the session's user ids (a JSON array) or the user's session
 * count.  get_session / get_user list at most this many of the group's traces. */
enum { GC_ID, GC_FIRST, GC_LAST, GC_TRACES, GC_IN, GC_OUT, GC_COST, GC_LATENCY, GC_ERRORS, GC_MORE };
#define KL_SESSION_TRACES_MAX 1000
#define KL_USER_TRACES_MAX 100

/* traces.level_mask bits (migration 3) */
enum { KL_LEVEL_DEBUG = 1, KL_LEVEL_DEFAULT = 2, KL_LEVEL_WARNING = 4, KL_LEVEL_ERROR = 8 };
int kl_level_bit(const char *level); /* NULL / unknown = DEFAULT */

/* sqlite_read.c: JSON output helpers shared by the read files */
void kl_sqlite_put_num(kl_buf *b, double v);                  /* shortest round-trip; null if not finite */
void kl_sqlite_put_str(kl_buf *b, sqlite3_stmt *st, int col); /* JSON string or null */
void kl_sqlite_put_json(kl_buf *b, sqlite3_stmt *st, int col, const char *if_null);
void kl_sqlite_put_iso(kl_buf *b, sqlite3_stmt *st, int col); /* "RFC 3339" of an ns column, or null */
/* The fields of one trace row (KL_TRACE_ROW_COLS), no braces. */
void kl_sqlite_put_trace_row(kl_buf *b, sqlite3_stmt *st);

/* query_util.c: the query API's plumbing */
#define KL_LIST_DEFAULT 50
#define KL_LIST_MAX 1000
/* A statement for sql from c's cache (prepared on a miss; the oldest entry is evicted).
 * The caller resets it and clears its bindings when done. */
sqlite3_stmt *kl_rconn_stmt(kl_rconn *c, const char *sql, kl_err *err);
void kl_rconn_cache_close(kl_rconn *c);
/* limit: 0 -> default, > max -> max, < 0 -> 400. */
int kl_query_limit(int limit, kl_err *err);
/* Cursors: base64url("<ns>:<id>"), or "+<ns>:<id>" for an oldest-first (live tail) list. */
void kl_cursor_put(kl_buf *b, bool asc, int64_t ns, const char *id);
int kl_cursor_parse(const char *cur, bool *asc, int64_t *ns, char id[KL_OBS_ID_MAX + 1]);
/* tags=a,b of the trace lists (both backends): split at ',' into *tags (strings in a),
 * trimmed of spaces, empties skipped; more than KL_TAGS_MAX -> 400.  Returns how many, or -1. */
#define KL_TAGS_MAX 16
int kl_split_tags(kl_arena *a, const char *csv, const char *tags[KL_TAGS_MAX], kl_err *err);
/* A metrics bucket's width in ns (0 for KL_BUCKET_NONE); kl_store_metrics checked the value. */
int64_t kl_bucket_ns(int bucket);
/* A list's cursor, parsed (both backends' lists): have = a cursor was given. */
typedef struct kl_cursor_state {
  bool have, asc;
  int64_t ns;
  char id[KL_OBS_ID_MAX + 1];
} kl_cursor_state;
/* cur NULL or "" -> !have; malformed -> 400 "cursor: malformed cursor". */
int kl_cursor_state_parse(const char *cur, kl_cursor_state *cs, kl_err *err);
/* A list's limit and cursor checked, in that order (every list on both backends): the page
 * size (kl_query_limit), or -1 with err set. */
int kl_query_list_args(int limit, const char *cursor, kl_cursor_state *cs, kl_err *err);
/* The 400 of q= while full-text search is off (both backends' lists); returns -1. */
int kl_query_no_fulltext(kl_err *err);
/* q -> an FTS5 query: every word quoted (so any text is valid syntax, and every word must
 * occur); NULL when q has no word.  Allocated in a. */
char *kl_fts_query(kl_arena *a, const char *q);
/* Writes a JSON array of strings sorted by bytes (strcmp), each once, from `json` (an array
 * of strings in any order, as json_group_array(DISTINCT) / json_agg(DISTINCT) give them);
 * if_null when json is NULL or not such an array.  Sessions' user_ids, on both backends. */
void kl_put_sorted_strings(kl_buf *b, const char *json, const char *if_null);
/* Named-parameter binding that ignores parameters the statement does not have. */
void kl_bind_text(sqlite3_stmt *st, const char *name, const char *v);
void kl_bind_i64(sqlite3_stmt *st, const char *name, int64_t v);
void kl_bind_double(sqlite3_stmt *st, const char *name, double v);
/* Steps st writing each row with put into {"data":[...],"next_cursor":...}; key_ns/key_id
 * are the columns of the keyset; fetches limit+1 to know whether more exist. */
int kl_query_page(kl_rconn *c, sqlite3_stmt *st, int limit, bool asc, int key_ns, int key_id, kl_row_page_fn put,
                  void *ud, kl_buf *out, kl_err *err);

/* query_list.c, query_group.c, query_metrics.c, query_admin.c: the vtable's issue-5 entries */
int kl_sqlite_list_traces(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
int kl_sqlite_list_observations(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
int kl_sqlite_find_observation(void *be, const char *project_id, const char *trace_id, const char *id, kl_buf *out,
                               kl_err *err);
int kl_sqlite_list_scores(void *be, const kl_score_filter *f, kl_buf *out, kl_err *err);
int kl_sqlite_list_sessions(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err);
int kl_sqlite_get_session(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_sqlite_list_users(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err);
int kl_sqlite_get_user(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
int kl_sqlite_metrics(void *be, const kl_metrics_filter *f, kl_buf *out, kl_err *err);
int kl_sqlite_set_fulltext(void *be, bool on, kl_err *err);
int kl_sqlite_expire(void *be, int64_t cutoff_ns, int max_rows, uint64_t *deleted, bool *more, kl_err *err);
void kl_sqlite_expire_finalize(kl_sqlite *q);
/* ingest_read.c: one score row (SCORE_COLS order) as JSON */
#define KL_SCORE_COLS                                                                            \
  "id,trace_id,observation_id,session_id,dataset_run_id,name,value,string_value,data_type,source," \
  "comment,config_id,environment,metadata,timestamp_ns"
enum { SC_TIMESTAMP = 14 };
void kl_sqlite_put_score(kl_buf *b, sqlite3_stmt *st);
/* The statement's current row as a kl_row (row.h). */
kl_row kl_sqlite_row(sqlite3_stmt *st);

/* sqlite.c */
int kl_sqlite_recompute(kl_sqlite *q, const kl_redo *r, kl_err *err);
void kl_sqlite_bind_obs(sqlite3_stmt *st, const kl_obs *o);
/* " VALUES(?1,..,?cols),(?cols+1,..),..." with `rows` rows: a multi-row statement's parameters */
void kl_sqlite_put_values(kl_buf *b, int rows, int cols);
/* The row counts of the multi-row statements (observations and trace upserts), largest first:
 * a run of records takes the largest that fits, then the next, then single rows. */
extern const int kl_sqlite_runs[KL_SQLITE_NRUNS];
int kl_sqlite_step(sqlite3 *db, sqlite3_stmt *st, const char *what, kl_err *err);
kl_rconn *kl_sqlite_acquire(kl_sqlite *q, kl_err *err);
void kl_sqlite_release(kl_sqlite *q, kl_rconn *c);
/* Sets err from the connection's last error (507 when the disk is full, else 500). */
void kl_sqlite_err(sqlite3 *db, int rc, const char *what, kl_err *err);

#endif
