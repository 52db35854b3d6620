/* backend.h: the store's internal backend vtable.
 *
 * store.c owns the queue, the writer thread and the spill file; a backend only knows how
 * to turn a batch of observations into rows and how to answer the two read queries.  This
 * keeps a second backend (PostgreSQL) down to one file that fills in this table.
 *
 * Threading contract: open and close run alone; write_batch is only ever called from one
 * thread at a time (the writer thread, or kl_store_open while replaying the spill file);
 * list_traces and get_trace may be called from any number of threads concurrently with
 * write_batch and must do their own locking. */
#ifndef KL_STORE_BACKEND_H
#define KL_STORE_BACKEND_H

#include "store/kl_store.h"

/* What the queue holds: a plain observation (the gateway's, complete), a partial record
 * (ingested observation or trace record) or a score.  One malloc block with its strings
 * (store/ingest_rec.c). */
typedef enum { KL_REC_OBS = 0, KL_REC_PATCH, KL_REC_SCORE } kl_rec_kind;
typedef struct kl_rec {
  kl_rec_kind kind;
  union {
    kl_obs obs;          /* OBS */
    kl_obs_patch patch;  /* PATCH */
    kl_score score;      /* SCORE */
  } u;
} kl_rec;

typedef struct kl_backend_vt {
  const char *name;
  /* Creates/migrates the database under opts->data_dir (which already exists). */
  void *(*open)(const kl_store_opts *opts, kl_err *err);
  /* Writes all n records in one transaction: all or nothing.  Upsert by key, so writing the
   * same record twice has one effect; patches are merged with `merge`. */
  int (*write_batch)(void *be, kl_rec *const *recs, size_t n, kl_obs_merge_fn merge, kl_err *err);
  int (*list_traces)(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
  int (*get_trace)(void *be, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);
  int (*get_observation)(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
  int (*get_score)(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
  int (*key_get)(void *be, const char *public_key, kl_store_key *out, kl_err *err);
  /* the query API (issue 5): same threading as list_traces */
  int (*list_observations)(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
  int (*find_observation)(void *be, const char *project_id, const char *trace_id, const char *id, kl_buf *out,
                          kl_err *err);
  int (*list_scores)(void *be, const kl_score_filter *f, kl_buf *out, kl_err *err);
  int (*list_sessions)(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err);
  int (*get_session)(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
  int (*list_users)(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err);
  int (*get_user)(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err);
  int (*metrics)(void *be, const kl_metrics_filter *f, kl_buf *out, kl_err *err);
  /* At kl_store_open, before the writer starts: turns the full-text index on (rebuilding it
   * when it was off) or off (dropping it). */
  int (*set_fulltext)(void *be, bool on, kl_err *err);
  /* Writer thread only: deletes at most max_rows expired observations (start before cutoff),
   * then traces left empty and scores before cutoff (at most max_rows each), in one
   * transaction; *deleted = rows deleted (all three), *more = some expired rows remain. */
  int (*expire)(void *be, int64_t cutoff_ns, int max_rows, uint64_t *deleted, bool *more, kl_err *err);
  /* Runs on the writer's connection, but only on a backend opened for it alone (no writer). */
  int (*key_create)(void *be, const char *project, const kl_store_key *k, kl_err *err);
  void (*close)(void *be);
} kl_backend_vt;

extern const kl_backend_vt kl_backend_sqlite;
extern const kl_backend_vt kl_backend_postgres; /* pg.c */

#endif
