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

typedef struct kl_backend_vt {
  const char *name;
  /* Creates/migrates the database under opts->data_dir (which already exists). */
  void *(*open)(const kl_store_opts *opts, kl_err *err);
  /* Writes all n observations in one transaction: all or nothing.  Upsert by
   * (project_id, id), so writing the same observation twice has one effect. */
  int (*write_batch)(void *be, kl_obs *const *obs, size_t n, kl_err *err);
  int (*list_traces)(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err);
  int (*get_trace)(void *be, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err);
  void (*close)(void *be);
} kl_backend_vt;

extern const kl_backend_vt kl_backend_sqlite;

#endif
