/* store_int.h: what the store's own files share (never included outside src/store and its
 * unit tests).  struct kl_store lives here so writer.c, spill.c and store.c can each own
 * one concern without accessor boilerplate. */
#ifndef KL_STORE_INT_H
#define KL_STORE_INT_H

#include "store/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct kl_store {
  const kl_backend_vt *vt;
  void *be;
  kl_store_opts opts;           /* data_dir points at dir below */
  char *dir;
  char *spill_path;
  char *drain_path;             /* spill file taken by a live drain (spill.c) */

  /* queue: a ring of kl_rec clones, guarded by mu */
  pthread_mutex_t mu;
  pthread_cond_t wake;          /* writer waits here for work / stop */
  pthread_cond_t done;          /* flushers wait here for committed_seq */
  kl_rec **ring;
  size_t cap, head, count;
  uint64_t enq_seq;             /* observations ever queued */
  uint64_t committed_seq;       /* of those, how many the writer has finished with */
  bool stop, paused, writer_idle, writer_running, writer_started;
  int flush_waiters;            /* kl_store_flush callers waiting: commit partial batches now */
  int fail_batches;             /* test hook: fail this many write_batch calls */
  pthread_t writer;

  /* spill file, guarded by spill_mu (never held together with mu) */
  pthread_mutex_t spill_mu;
  int spill_fd;                 /* -1 until the first spill */
  atomic_bool spill_pending;    /* lines appended since the last drain took the file */
  int64_t next_drain_ns;        /* writer only: no live drain before this kl_mono_ns */
  long drain_pos;               /* writer only: where the live drain of drain_path stopped */

  /* stats (guarded by mu; `spilled` by spill_mu).  written: rows committed by the writer;
   * replayed: rows loaded from the spill file (at open, or drained live); spilled: lines appended to it (queue
   * full or failed batch); write_errors: failed batch transactions. */
  uint64_t submitted, written, spilled, replayed, write_errors, batches;
  /* retention (writer.c): next pass due at this kl_mono_ns; rows and transactions so far */
  int64_t next_expire_ns;
  uint64_t expired, expire_batches;
};

/* obs.c: one malloc block holding the struct and every string it points to. */
kl_obs *kl_obs_clone(const kl_obs *o);
static inline void kl_obs_free(kl_obs *o) { free(o); }
/* Appends o as one JSON object without a newline.  int64 fields are written as strings
 * (unix ns exceed 2^53, which a JSON double cannot hold exactly). */
void kl_obs_to_json(const kl_obs *o, kl_buf *b);
/* Parses what kl_obs_to_json wrote (numbers accepted as numbers or strings); the result is
 * a clone to free with kl_obs_free.  NULL + err (400) on malformed input. */
kl_obs *kl_obs_from_json(const char *s, size_t n, kl_err *err);
/* j[key] as int64 from a number or a decimal string; true when absent (*out kept), false when
 * neither (obs.c; shared with ingest_rec.c) */
bool kl_rec_json_i64(const cJSON *j, const char *key, int64_t *out);

/* obs.c helpers for packing a kl_obs's strings into a larger block (ingest_rec.c). */
size_t kl_obs_strings_size(const kl_obs *o);
/* *c = *o with ids copied safely and every string copied to *p (advanced past them). */
void kl_obs_copy_into(kl_obs *c, const kl_obs *o, char **p);

/* ingest_rec.c: queue records.  Each is one malloc block; free with kl_rec_free. */
kl_rec *kl_rec_from_obs(const kl_obs *o);
kl_rec *kl_rec_from_patch(const kl_obs_patch *p);
kl_rec *kl_rec_from_score(const kl_score *sc);
static inline void kl_rec_free(kl_rec *r) { free(r); }
/* Spill-file line (no newline): an OBS exactly as kl_obs_to_json (so old spill files
 * still replay), a PATCH as that plus "rec":"patch" and its extra fields, a SCORE as
 * {"rec":"score",...}. */
void kl_rec_to_json(const kl_rec *r, kl_buf *b);
kl_rec *kl_rec_from_json(const char *s, size_t n, kl_err *err);
/* Enqueues a clone (takes ownership of c): 0, or -1 when neither queued nor spilled. */
int kl_store_enqueue(kl_store *s, kl_rec *c, kl_err *err);

/* spill.c */
int kl_spill_append(kl_store *s, kl_rec *const *recs, size_t n, kl_err *err);
/* Replays drain_path (left by an interrupted drain) then spill_path into the backend (before
 * the writer starts), deleting each once it is in. */
int kl_spill_replay(kl_store *s, kl_err *err);
/* Writer thread only, queue empty: takes the spill file (renamed to drain_path, so new
 * spills start a fresh one) and replays the next KL_DRAIN_SLICE batches of it; *loaded =
 * rows written.  0 = all of it is in, 1 = more remains, -1 = the replay failed (the file
 * is kept and retried later). */
#define KL_DRAIN_SLICE 8
int kl_spill_drain(kl_store *s, uint64_t *loaded);
void kl_spill_close(kl_store *s);

/* writer.c */
int kl_writer_start(kl_store *s, kl_err *err);
void kl_writer_stop(kl_store *s);   /* drains the queue, then joins */

/* Test hooks (unit tests only).  pause: the writer stops taking work until resumed, so a
 * test can fill the queue deterministically.  fail: the next n write_batch calls fail as if
 * the disk were full. */
void kl_store__test_pause(kl_store *s, bool paused);
void kl_store__test_fail_writes(kl_store *s, int n);

#endif
