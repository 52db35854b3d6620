/* sqlite_ckpt.c: WAL checkpoints on a thread of their own, so the writer never waits for them.
 *
 * In WAL mode a commit appends the changed pages to keel.db-wal; a checkpoint copies them back
 * into keel.db and, with synchronous=NORMAL, is the only moment SQLite fsyncs the database.
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold, on the
 * writer's thread: every 8192 pages the writer stopped for a 32 MiB copy and an fsync while
 * the queue filled up behind it.
 *
 * Here the writer's connection has no automatic checkpoint; its WAL hook (called after every
 * commit with the WAL's size in pages) wakes this thread when the WAL holds CKPT_WAKE_BYTES, and
 * this thread runs a PASSIVE checkpoint on its own connection (PASSIVE never blocks the
 * writer or readers; it copies what no reader still needs).  When the checkpoint has copied
 * every frame, the writer's next transaction rewinds the WAL to its start, and
 * journal_size_limit truncates the file, so the WAL stays bounded as long as this thread keeps
 * up.  If it does not (a slow disk), the hook makes the writer checkpoint by itself once the WAL
 * reaches CKPT_BACKPRESSURE_BYTES: back to SQLite's own behaviour rather than an unbounded file.
 *
 * Crash safety is SQLite's: a checkpoint interrupted by a crash is simply redone from the WAL
 * at the next open.  At close this thread stops first; the writer's connection, the last one,
 * then checkpoints everything and deletes the WAL. */
#include "store/sqlite_int.h"

#include <pthread.h>
#include <stdlib.h>

#define CKPT_WAKE_BYTES (32LL << 20)          /* wake the checkpointer */
#define CKPT_BACKPRESSURE_BYTES (512LL << 20) /* the writer checkpoints itself */

typedef struct kl_ckpt {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop, due, running;
  sqlite3 *db;
  uint64_t runs;
  int wake_pages, backpressure_pages; /* the *_BYTES above in this database's pages */
} kl_ckpt;

static void *ckpt_main(void *arg) {
  kl_ckpt *c = arg;
  pthread_setname_np(pthread_self(), "keel-ckpt");
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->stop && !c->due) pthread_cond_wait(&c->cv, &c->mu);
    if (c->stop) break;
    c->due = false;
    pthread_mutex_unlock(&c->mu);
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) kl_warn("store: checkpoint failed: %s", sqlite3_errmsg(c->db));
    else kl_debug("store: checkpoint: %d of %d WAL frames copied", done, log);
    pthread_mutex_lock(&c->mu);
    c->runs++;
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* The writer connection's WAL hook: after each commit, with the WAL's size in pages. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages) {
  kl_ckpt *c = arg;
  if (pages >= c->backpressure_pages) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  } else if (pages >= c->wake_pages) {
    pthread_mutex_lock(&c->mu);
    c->due = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
  }
  return SQLITE_OK;
}

int kl_sqlite_ckpt_start(kl_sqlite *q, kl_err *err) {
  kl_ckpt *c = calloc(1, sizeof *c);
  if (!c) abort();
  int rc = sqlite3_open_v2(q->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    kl_err_set(err, 500, "store: checkpointer cannot open %s: %s", q->path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_close(c->db);
    free(c);
    return -1;
  }
  sqlite3_busy_timeout(c->db, 1000);
  /* A connection learns that the database is in WAL mode when it first reads it; until then
   * a checkpoint is a no-op (it reports a log of -1 frames). */
  sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  if (pthread_create(&c->th, NULL, ckpt_main, c) != 0) {
    kl_err_set(err, 500, "store: cannot start the checkpoint thread");
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    sqlite3_close(c->db);
    free(c);
    return -1;
  }
  c->running = true;
  int page = kl_sqlite_int(q->db, "PRAGMA page_size", 4096);
  c->wake_pages = (int)(CKPT_WAKE_BYTES / page);
  c->backpressure_pages = (int)(CKPT_BACKPRESSURE_BYTES / page);
  q->ckpt = c;
  sqlite3_wal_hook(q->db, wal_hook, c); /* replaces the automatic checkpoint */
  return 0;
}

void kl_sqlite_ckpt_stop(kl_sqlite *q) {
  kl_ckpt *c = q->ckpt;
  if (!c) return;
  if (q->db) sqlite3_wal_hook(q->db, NULL, NULL);
  pthread_mutex_lock(&c->mu);
  c->stop = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->th, NULL);
  sqlite3_close(c->db);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
  q->ckpt = NULL;
}
