/* writer.c: the bounded queue and the one thread that drains it.
 *
 * Submitters push kl_rec clones (observations, partial records, scores) onto a ring under `mu` and return; the writer pops up to
 * batch_max at a time and commits each batch as one transaction.  Batching is what makes
 * SQLite fast here (about 145k rows/s at 100 rows per transaction against 40k at one), so the
 * writer does not commit each observation as it arrives: once the queue holds something it
 * lingers until a full batch is queued (submit then wakes it), flush_interval_ms has passed
 * since it started waiting, a kl_store_flush is waiting, or the store is stopping.  Measured
 * in keel under load, committing per arrival cost ~40 us of writer CPU per row (each commit
 * rewrites the touched index pages into the WAL); lingering brings it to the batched rate.
 *
 * Flush: each queued observation gets a sequence number (enq_seq); the writer advances
 * committed_seq after every batch (FIFO, so "all up to N").  kl_store_flush waits on `done`
 * until committed_seq reaches the enq_seq it saw on entry.
 *
 * A failed batch (SQLITE_FULL, I/O error, ...) is never dropped: it goes to the spill file,
 * and write_errors counts the failed transactions.  Spilled records (that, or a full queue)
 * are replayed by this thread once its queue is empty (drain_step, at most every
 * spill_drain_ms; every 5 s while replays fail), or by the next kl_store_open.
 *
 * Retention (opts.retention_days > 0): when a pass is due (every retention_interval_ms), the
 * writer runs the backend's expire step, one small transaction of at most retention_batch
 * rows per table, and repeats it, alternating with its own batches so ingestion is never
 * held up behind a long delete, until nothing expired is left; then it waits for the next
 * pass.  It runs here because the writer owns the only read-write connection.
 *
 * What survives a kill -9: every batch whose COMMIT returned (WAL + synchronous=NORMAL is
 * durable across a process crash; only an OS crash or power loss can roll back the last
 * commits, unless sync_full) and every spill-file line whose write() returned.  What is
 * lost: the observations still in the in-memory queue, i.e. about flush_interval_ms (plus
 * one batch) of traffic, more if the writer had fallen behind. */
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

static void deadline_after_ms(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

#define DEFAULT_RETENTION_BATCH 1000
#define DEFAULT_RETENTION_INTERVAL_MS 60000

#define DEFAULT_SPILL_DRAIN_MS 1000
#define SPILL_RETRY_MS 5000

/* A live drain of the spill file is due (mu held): only when the queue is empty, so the
 * records queued now are never held up behind the overflow of a burst. */
static bool drain_due(const kl_store *s) {
  return s->opts.spill_drain_ms >= 0 && !s->paused && s->count == 0 && atomic_load(&s->spill_pending) &&
         kl_mono_ns() >= s->next_drain_ns;
}

/* One live drain (called without mu held). */
static void drain_step(kl_store *s) {
  uint64_t loaded = 0;
  int rc = kl_spill_drain(s, &loaded);
  /* more of the file: right after whatever got queued meanwhile; done: at most every
   * spill_drain_ms; failed: retry in 5 s */
  int ms = rc > 0 ? 0 : rc == 0 ? (s->opts.spill_drain_ms > 0 ? s->opts.spill_drain_ms : DEFAULT_SPILL_DRAIN_MS)
                              : SPILL_RETRY_MS;
  pthread_mutex_lock(&s->mu);
  s->replayed += loaded;
  s->next_drain_ns = kl_mono_ns() + (int64_t)ms * 1000000LL;
  pthread_mutex_unlock(&s->mu);
}

static bool expire_due(const kl_store *s) {
  return s->opts.retention_days > 0 && !s->paused && kl_mono_ns() >= s->next_expire_ns;
}

/* One retention step (called without mu held). */
static void expire_step(kl_store *s) {
  int64_t cutoff = kl_now_ns() - (int64_t)s->opts.retention_days * 86400LL * 1000000000LL;
  int batch = s->opts.retention_batch > 0 ? s->opts.retention_batch : DEFAULT_RETENTION_BATCH;
  int interval = s->opts.retention_interval_ms > 0 ? s->opts.retention_interval_ms : DEFAULT_RETENTION_INTERVAL_MS;
  uint64_t deleted = 0;
  bool more = false;
  kl_err err;
  kl_err_clear(&err);
  int rc = s->vt->expire(s->be, cutoff, batch, &deleted, &more, &err);
  if (rc != 0) kl_warn("store: retention: %s", err.msg);
  pthread_mutex_lock(&s->mu);
  if (rc == 0 && deleted) {
    s->expired += deleted;
    s->expire_batches++;
  }
  /* more to delete: go on right after the next batch of writes; else wait for the next pass */
  s->next_expire_ns = kl_mono_ns() + (rc == 0 && more ? 0 : (int64_t)interval * 1000000LL);
  pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg) {
  kl_store *s = arg;
  pthread_setname_np(pthread_self(), "keel-writer");
  size_t bmax = s->opts.batch_max;
  kl_rec **batch = calloc(bmax, sizeof *batch);
  if (!batch) abort();
  pthread_mutex_lock(&s->mu);
  for (;;) {
    /* paused (test hook) counts as "no work"; stopping overrides it */
    bool lingering = false, linger_over = false;
    struct timespec linger_until;
    while (!s->stop && !expire_due(s) && !drain_due(s) && (s->count == 0 || s->paused ||
                        (s->count < bmax && s->flush_waiters == 0 && !linger_over))) {
      struct timespec ts;
      if (s->count == 0 || s->paused) {
        lingering = false;
        deadline_after_ms(&ts, s->opts.flush_interval_ms);
      } else {
        if (!lingering) {
          deadline_after_ms(&linger_until, s->opts.flush_interval_ms);
          lingering = true;
        }
        ts = linger_until;
      }
      s->writer_idle = true;
      int rc = pthread_cond_timedwait(&s->wake, &s->mu, &ts);
      s->writer_idle = false;
      if (rc == ETIMEDOUT && lingering) linger_over = true;
    }
    if (s->count == 0 && s->stop) break;
    if (!s->stop && expire_due(s)) {
      pthread_mutex_unlock(&s->mu);
      expire_step(s);
      pthread_mutex_lock(&s->mu);
      /* queued writes go next (a partial batch is fine), so deletes never starve them */
      if (s->count == 0 || s->paused) continue;
    }
    if (!s->stop && drain_due(s)) {
      pthread_mutex_unlock(&s->mu);
      drain_step(s);
      pthread_mutex_lock(&s->mu);
      continue;
    }
    size_t n = 0;
    while (n < bmax && s->count > 0) {
      batch[n++] = s->ring[s->head];
      s->ring[s->head] = NULL;
      s->head = (s->head + 1) % s->cap;
      s->count--;
    }
    bool fail = s->fail_batches > 0;
    if (fail) s->fail_batches--;
    pthread_mutex_unlock(&s->mu);

    kl_err err;
    kl_err_clear(&err);
    int rc;
    if (fail) {
      kl_err_set(&err, 507, "store: simulated write failure (test hook)");
      rc = -1;
    } else {
      rc = s->vt->write_batch(s->be, batch, n, s->opts.merge, &err);
    }
    if (rc != 0) {
      kl_warn("store: batch of %zu failed (%s); spilling it", n, err.msg);
      kl_err serr;
      kl_err_clear(&serr);
      if (kl_spill_append(s, batch, n, &serr) != 0)
        kl_error("store: LOST %zu observations: %s", n, serr.msg);
    }
    for (size_t i = 0; i < n; i++) kl_rec_free(batch[i]);

    pthread_mutex_lock(&s->mu);
    if (rc == 0) {
      s->written += n;
      s->batches++;
    } else {
      s->write_errors++;
    }
    s->committed_seq += n;
    pthread_cond_broadcast(&s->done);
  }
  s->writer_running = false;
  pthread_cond_broadcast(&s->done);
  pthread_mutex_unlock(&s->mu);
  free(batch);
  return NULL;
}

int kl_writer_start(kl_store *s, kl_err *err) {
  s->writer_running = s->writer_started = true;
  int e = pthread_create(&s->writer, NULL, writer_main, s);
  if (e != 0) {
    s->writer_running = s->writer_started = false;
    kl_err_set(err, 500, "store: cannot start writer thread: %s", strerror(e));
    return -1;
  }
  return 0;
}

void kl_writer_stop(kl_store *s) {
  if (!s->writer_started) return;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  s->paused = false;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->writer, NULL);
  s->writer_started = false;
}

void kl_store__test_pause(kl_store *s, bool paused) {
  pthread_mutex_lock(&s->mu);
  s->paused = paused;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->mu);
}

void kl_store__test_fail_writes(kl_store *s, int n) {
  pthread_mutex_lock(&s->mu);
  s->fail_batches = n;
  pthread_mutex_unlock(&s->mu);
}
