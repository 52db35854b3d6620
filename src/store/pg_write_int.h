/* pg_write_int.h: private to the PostgreSQL backend's write path (pg_write.c: batches,
 * complete observations, trace aggregates, locks; pg_ingest.c: partial records and scores).
 * Rows travel as one array parameter per column (kl_pgw_arrs), statements are prepared once
 * on the writer's connection and named by the W_* enum. */
#ifndef KL_STORE_PG_WRITE_INT_H
#define KL_STORE_PG_WRITE_INT_H

#include "store/pg_int.h"

/* columns of the observations array statement (pg_write.c's k_obs_cols), in order */
enum { NOBS = 41, NTRACE = 18 };
enum {
  OC_PROJECT, OC_ID, OC_TRACE, OC_PARENT, OC_TYPE, OC_NAME, OC_LEVEL, OC_STATUS_MSG, OC_HTTP, OC_START, OC_END,
  OC_CSTART, OC_MODEL, OC_PROVIDER, OC_UPMODEL, OC_PARAMS, OC_INPUT, OC_OUTPUT, OC_METADATA, OC_FINISH, OC_U_IN,
  OC_U_CACHED, OC_U_CWRITE, OC_U_OUT, OC_U_REASON, OC_USAGE, OC_U_EST, OC_COST_USD, OC_COST, OC_TRACE_NAME, OC_USER,
  OC_SESSION, OC_TAGS, OC_ENV, OC_RELEASE, OC_VERSION, OC_PROMPT_NAME, OC_PROMPT_VERSION, OC_INGEST_SET,
  OC_INGEST_UPDATE, OC_INGEST_NS
};

/* One text array per column, "{...}", reused batch after batch. */
typedef struct kl_pg_arrs {
  kl_buf b[NOBS];
  int n, rows;
} kl_pgw_arrs;

void kl_pgw_arr_begin(kl_pgw_arrs *a, int ncols);
void kl_pgw_put_text(kl_buf *b, const char *v); /* appends one element (NULL -> NULL) */
/* One observation row; ext carries the ingest columns (NULL for keel's own observations). */
void kl_pgw_put_obs(kl_pgw_arrs *a, const kl_obs *o, const kl_obs_patch *ext);
void kl_pgw_arr_params(kl_pgw_arrs *a, kl_pg_params *ps); /* closes the arrays into ps */

/* the writer's prepared statements */
enum {
  W_INS_NEW, W_UPSERT, W_TRACE_ADD, W_RECOMPUTE, W_DROP_EMPTY, W_SEL, W_FIND, W_DEL, W_TSEL, W_TUPSERT, W_DENORM,
  W_SCORE, W_LOCK, W_ORPHANS, W_N
};
PGresult *kl_pgw_exec(kl_pgw *w, int st, const kl_pg_params *ps, kl_err *err);
int kl_pgw_run(kl_pgw *w, int st, const kl_pg_params *ps, kl_err *err);

const char *kl_pgw_project(const char *p); /* NULL or "" -> "default" */

/* Traces to recompute at the end of the batch (strings in the writer's arena). */
typedef struct kl_pgw_redo {
  struct { const char *project, *trace; } *v;
  size_t n, cap;
} kl_pgw_redo;
void kl_pgw_redo_push(kl_pgw *w, kl_pgw_redo *l, const char *project, const char *trace);
/* Adds one new observation to its trace's aggregates. */
int kl_pgw_trace_add_one(kl_pgw *w, const kl_obs *o, kl_err *err);

/* pg_ingest.c: inside the batch's transaction, with the locks held */
int kl_pgw_write_patch(kl_pgw *w, const kl_obs_patch *in, kl_obs_merge_fn merge, bool *orphans, kl_pgw_redo *rd,
                       kl_err *err);
int kl_pgw_write_score(kl_pgw *w, const kl_score *sc, kl_err *err);

#endif
