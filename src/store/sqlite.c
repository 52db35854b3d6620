/* sqlite.c: the SQLite backend: connections, the write path, the reader pool.
 *
 * One read-write connection belongs to the writer thread; its statements are prepared
 * once.  Reads use a pool of read-only connections (opened on demand, at most
 * KL_READERS_MAX), so several threads can query while the writer commits: in WAL mode
 * readers see the last committed snapshot and never wait for the writer.  Connections are
 * opened NOMUTEX because the pool (or the single writer) already guarantees one thread
 * per connection at a time.
 *
 * Write path, per batch and in one transaction: INSERT OR REPLACE the observation (upsert
 * by (project_id, trace_id, id)), then keep `traces` current.  A new observation is added to
 * its trace incrementally (sums, min/max, first generation's model: O(1)), summed per trace
 * in C and upserted once per trace per batch (ingest_tagg.c).  An observation
 * that already existed (an update, or a replay of something already written) cannot be
 * "subtracted" correctly (min/max are not invertible), so its trace is recomputed from
 * observations once at the end of the batch.  That keeps replays idempotent, and the common case, new rows, cheap.
 *
 * Ingested records (partial observations, trace records, scores: ingest_sqlite.c) are written
 * in the same transaction by the same loop; a replaced ingested row joins the recompute list.
 *
 * Trace fields denormalised on observations (name, user, session, tags, environment,
 * release) take the value of the most recently written observation that has one: the
 * incremental path uses COALESCE(new, old), the recompute path the highest rowid
 * (INSERT OR REPLACE gives a rewritten row a fresh rowid), so both agree.
 *
 * Queries by trace say INDEXED BY sqlite_autoindex_observations_1 (the primary key): without
 * ANALYZE statistics the planner prefers observations_start for its ordering, which scans a
 * whole project. */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_TIMEOUT_MS 5000

void kl_sqlite_err(sqlite3 *db, int rc, const char *what, kl_err *err) {
  int code = (rc == SQLITE_FULL) ? 507 : 500;
  kl_err_set(err, code, "store: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

#define OBS_VALUES                                                                        \
  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,"                \
  "?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35)"
/* New observations are inserted with DO NOTHING on conflict, so one statement both inserts
 * and tells (sqlite3_changes) whether the key existed; only then is the row replaced.
 * That saves a lookup per row on the common path. */
static const char k_ins_new[] = "INSERT INTO observations(" KL_OBS_COLS ")" OBS_VALUES " ON CONFLICT DO NOTHING";
static const char k_ins_obs[] = "INSERT OR REPLACE INTO observations(" KL_OBS_COLS ")" OBS_VALUES;
#define OBS_NCOLS 35 /* the ?N of OBS_VALUES */

/* Rows per multi-row statement.  More rows per statement: fewer statement set-ups, and the
 * statement's B-tree cursors stay open from row to row, so each append lands next to the
 * last.  Writer instructions per row (callgrind, bench_store 20000 1, REAL_IDS=1): 16 rows
 * 48.8k, 64 rows 45.4k, 256 rows 44.3k.  16 stays for the runs of a lightly loaded writer's
 * small batches. */
const int kl_sqlite_runs[KL_SQLITE_NRUNS] = {KL_SQLITE_RUN_MAX, 16};

void kl_sqlite_put_values(kl_buf *b, int rows, int cols) {
  kl_buf_puts(b, " VALUES");
  for (int r = 0; r < rows; r++) {
    kl_buf_puts(b, r ? ",(" : "(");
    for (int c = 1; c <= cols; c++) kl_buf_printf(b, "%s?%d", c > 1 ? "," : "", r * cols + c);
    kl_buf_putc(b, ')');
  }
}

/* "INSERT INTO observations(...) VALUES(?1,..,?35),(?36,..,?70),... ON CONFLICT DO NOTHING" */
static char *ins_run_sql(int rows) {
  kl_buf b = KL_BUF_INIT;
  kl_buf_puts(&b, "INSERT OR IGNORE INTO observations(" KL_OBS_COLS ")");
  kl_sqlite_put_values(&b, rows, OBS_NCOLS);
  return kl_buf_steal(&b);
}

#define TRACE_COLS                                                                             \
  "project_id,id,name,user_id,session_id,tags,environment,release,model,model_start_ns,"       \
  "start_ns,end_ns,input_tokens,output_tokens,cost_usd,observation_count,error_count,level_mask"

#define LATEST(col) \
  "(SELECT " col " FROM observations INDEXED BY sqlite_autoindex_observations_1 WHERE project_id=?1 AND trace_id=?2 AND " col " IS NOT NULL ORDER BY rowid DESC LIMIT 1)"
#define FIRST_GEN(col)                                                                          \
  "(SELECT " col " FROM observations INDEXED BY sqlite_autoindex_observations_1 WHERE project_id=?1 AND trace_id=?2 AND model IS NOT NULL" \
  " AND type IN ('GENERATION','EMBEDDING') ORDER BY start_ns, rowid LIMIT 1)"

static const char k_trace_recompute[] =
    "INSERT INTO traces(" TRACE_COLS ") SELECT ?1, ?2, " LATEST("trace_name") "," LATEST("user_id") ","
    LATEST("session_id") "," LATEST("tags") "," LATEST("environment") "," LATEST("release") ","
    FIRST_GEN("model") "," FIRST_GEN("start_ns") ","
    " MIN(start_ns), MAX(end_ns), SUM(usage_input+usage_input_cached+usage_input_cache_write),"
    " SUM(usage_output+usage_output_reasoning), SUM(cost_usd), COUNT(*), SUM(level='ERROR'),"
    " MAX(level='DEBUG') | MAX(level NOT IN ('DEBUG','WARNING','ERROR'))*2 | MAX(level='WARNING')*4 | MAX(level='ERROR')*8"
    " FROM observations INDEXED BY sqlite_autoindex_observations_1 WHERE project_id=?1 AND trace_id=?2 GROUP BY trace_id"
    " ON CONFLICT(project_id,id) DO UPDATE SET name=excluded.name, user_id=excluded.user_id,"
    " session_id=excluded.session_id, tags=excluded.tags, environment=excluded.environment,"
    " release=excluded.release, model=excluded.model, model_start_ns=excluded.model_start_ns,"
    " start_ns=excluded.start_ns, end_ns=excluded.end_ns, input_tokens=excluded.input_tokens,"
    " output_tokens=excluded.output_tokens, cost_usd=excluded.cost_usd,"
    " observation_count=excluded.observation_count, error_count=excluded.error_count,"
    " level_mask=excluded.level_mask";

static const char k_trace_drop_empty[] =
    "DELETE FROM traces WHERE project_id=?1 AND id=?2 AND ingest_set IS NULL AND NOT EXISTS"
    " (SELECT 1 FROM observations INDEXED BY sqlite_autoindex_observations_1 WHERE project_id=?1 AND trace_id=?2)";

static int prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, kl_err *err) {
  int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
  if (rc != SQLITE_OK) {
    kl_sqlite_err(db, rc, "prepare", err);
    return -1;
  }
  return 0;
}

kl_bound *kl_bound_alloc(int n) {
  kl_bound *b = calloc((size_t)n + 1, sizeof *b);
  if (!b) abort();
  return b;
}

static int prep_runs(kl_sqlite *q, kl_err *err) {
  q->bound_new = kl_bound_alloc(OBS_NCOLS);
  for (int k = 0; k < KL_SQLITE_NRUNS; k++) {
    char *sql = ins_run_sql(kl_sqlite_runs[k]);
    int rc = prep(q->db, sql, &q->ins_run[k], err);
    free(sql);
    if (rc) return rc;
    q->bound_run[k] = kl_bound_alloc(kl_sqlite_runs[k] * OBS_NCOLS);
  }
  return 0;
}

static int exec(sqlite3 *db, const char *sql, kl_err *err) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    kl_err_set(err, rc == SQLITE_FULL ? 507 : 500, "store: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static void sqlite_close(void *be);

/* SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS, on by default) take a global mutex and
 * update counters around every malloc and free, and the write path does several per row.
 * keel reads none of those statistics (no sqlite3_memory_used, no soft heap limit), so they
 * are turned off: 82.7k -> 77.7k instructions per row (callgrind, REAL_IDS=1 FULLTEXT=0
 * bench_store 20000 1).  The setting is process-wide and only accepted before SQLite
 * initialises; if something initialised it first, sqlite3_config returns SQLITE_MISUSE and
 * nothing changes, which is harmless.  (A bigger lookaside would also spare the malloc/free
 * of every statement's cursors and records, but Debian's libsqlite3 is built with
 * SQLITE_OMIT_LOOKASIDE, so SQLITE_DBCONFIG_LOOKASIDE does nothing there.) */
static pthread_once_t g_sqlite_config_once = PTHREAD_ONCE_INIT;
static void sqlite_config_once(void) { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

static void *sqlite_open(const kl_store_opts *opts, kl_err *err) {
  kl_sqlite *q = calloc(1, sizeof *q);
  if (!q) abort();
  size_t n = strlen(opts->data_dir);
  q->path = malloc(n + sizeof "/keel.db");
  if (!q->path) abort();
  memcpy(q->path, opts->data_dir, n);
  memcpy(q->path + n, "/keel.db", sizeof "/keel.db");
  pthread_mutex_init(&q->pool_mu, NULL);
  pthread_cond_init(&q->pool_cv, NULL);

  pthread_once(&g_sqlite_config_once, sqlite_config_once);
  int rc = sqlite3_open_v2(q->path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    kl_err_set(err, 500, "store: cannot open %s: %s", q->path, q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
    goto fail;
  }
  sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
  /* 16 KiB pages for a new database (an existing one keeps the size it was created with: in
   * WAL mode SQLite cannot change it).  keel's writes are appends to nine B-trees, and every
   * page goes through write(2) twice, into the WAL and then by the checkpointer into the
   * database; the kernel's cost is mostly per call, not per byte.  Measured with 4 KiB pages
   * against 16 KiB (keel -> mock, wrk -c64, alternating, system time per gateway call): the
   * checkpointer 2.1-2.2 us -> 1.3-1.5 us, the writer 1.6 us -> 0.5-1.2 us, bytes written the
   * same.  64 KiB pages wrote 50% more WAL per call (every commit rewrites the last page of
   * each B-tree) and cost the writer more user time. */
  if (exec(q->db, "PRAGMA page_size=16384", err) != 0) goto fail;
  if (exec(q->db, "PRAGMA journal_mode=WAL", err) != 0) goto fail;
  if (exec(q->db, opts->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", err) != 0) goto fail;
  if (exec(q->db, "PRAGMA foreign_keys=OFF", err) != 0) goto fail;
  /* secure_delete (Debian's build default, set here explicitly): SQLite overwrites every
   * byte it frees with zeros, so deleted prompts do not stay readable in free space.  Most
   * of what keel's writes free is not gone, though: a cell that SQLite moves while an index
   * grows (balance_nonroot re-lays three sibling pages, about once per four railed calls)
   * still lives at its new place, yet its old place is zeroed, cell by cell.  That is ~8k
   * of the writer's ~95k instructions per railed gateway call (three rows; callgrind,
   * bench/callgrind_calls.sh railed, means of 7 and 6 runs, single runs vary by +-4k;
   * within noise for a plain call).
   * KL_SECURE_DELETE_OFF trades the guarantee for that; the retention pass turns it back on
   * for its own transactions (query_admin.c), so what retention deletes is still zeroed,
   * but not the old places of cells moved before (test_store_erase.c shows both). */
  q->secure_delete = opts->secure_delete != KL_SECURE_DELETE_OFF;
  if (exec(q->db, q->secure_delete ? "PRAGMA secure_delete=ON" : "PRAGMA secure_delete=OFF", err) != 0) goto fail;
  /* a row that INSERT OR REPLACE replaces must fire obs_fts's delete trigger (query_admin.c) */
  if (exec(q->db, "PRAGMA recursive_triggers=ON", err) != 0) goto fail;
  if (kl_sqlite_migrate(q->db, err) != 0) goto fail;
  if (prep(q->db, "BEGIN IMMEDIATE", &q->begin, err) || prep(q->db, "COMMIT", &q->commit, err) ||
      prep(q->db, "ROLLBACK", &q->rollback, err) ||
      prep(q->db, k_ins_new, &q->ins_new, err) ||
      prep(q->db, k_ins_obs, &q->ins_obs, err) || prep_runs(q, err) ||
      prep(q->db, k_trace_recompute, &q->trace_recompute, err) ||
      prep(q->db, k_trace_drop_empty, &q->trace_drop_empty, err) || kl_sqlite_ingest_prepare(q, err) ||
      kl_sqlite_ckpt_start(q, err))
    goto fail;
  q->arena = kl_arena_new(64 * 1024);
  return q;
fail:
  sqlite_close(q);
  return NULL;
}

static void sqlite_close(void *be) {
  kl_sqlite *q = be;
  if (!q) return;
  kl_sqlite_ckpt_stop(q);
  while (q->idle) {
    kl_rconn *c = q->idle;
    q->idle = c->next;
    kl_rconn_close(c);
  }
  sqlite3_stmt *sts[] = {q->begin, q->commit, q->rollback, q->ins_new, q->ins_obs, q->trace_recompute,
                         q->trace_drop_empty};
  for (size_t i = 0; i < sizeof sts / sizeof sts[0]; i++) sqlite3_finalize(sts[i]);
  for (int k = 0; k < KL_SQLITE_NRUNS; k++) {
    sqlite3_finalize(q->ins_run[k]);
    free(q->bound_run[k]);
  }
  free(q->bound_new);
  kl_sqlite_ingest_finalize(q);
  kl_sqlite_expire_finalize(q);
  if (q->arena) kl_arena_free(q->arena);
  if (q->db) sqlite3_close(q->db); /* checkpoints the WAL when it is the last connection */
  pthread_mutex_destroy(&q->pool_mu);
  pthread_cond_destroy(&q->pool_cv);
  free(q->path);
  free(q);
}

/* ---- reader pool ---- */

kl_rconn *kl_sqlite_acquire(kl_sqlite *q, kl_err *err) {
  pthread_mutex_lock(&q->pool_mu);
  for (;;) {
    if (q->idle) {
      kl_rconn *c = q->idle;
      q->idle = c->next;
      pthread_mutex_unlock(&q->pool_mu);
      return c;
    }
    if (q->nreaders < KL_READERS_MAX) break;
    pthread_cond_wait(&q->pool_cv, &q->pool_mu);
  }
  q->nreaders++; /* reserve the slot, open outside the lock */
  pthread_mutex_unlock(&q->pool_mu);
  kl_rconn *c = calloc(1, sizeof *c);
  if (!c) abort();
  int rc = sqlite3_open_v2(q->path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    return c;
  }
  kl_err_set(err, 500, "store: cannot open %s for reading: %s", q->path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
  kl_rconn_close(c);
  pthread_mutex_lock(&q->pool_mu);
  q->nreaders--;
  pthread_cond_signal(&q->pool_cv);
  pthread_mutex_unlock(&q->pool_mu);
  return NULL;
}

void kl_sqlite_release(kl_sqlite *q, kl_rconn *c) {
  pthread_mutex_lock(&q->pool_mu);
  c->next = q->idle;
  q->idle = c;
  pthread_cond_signal(&q->pool_cv);
  pthread_mutex_unlock(&q->pool_mu);
}

/* ---- write path ---- */

static void bind_i64_or_null(sqlite3_stmt *st, kl_bound *b, int i, int64_t v) {
  if (v) kl_rebind_i64(st, b, i, v);
  else kl_rebind_null(st, b, i);
}

static const char *proj(const kl_obs *o) { return o->project_id && *o->project_id ? o->project_id : "default"; }

int kl_sqlite_step(sqlite3 *db, sqlite3_stmt *st, const char *what, kl_err *err) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    kl_sqlite_err(db, rc, what, err); /* before reset, which may replace the message */
    sqlite3_reset(st);
    return -1;
  }
  sqlite3_reset(st);
  return 0;
}

/* Afterwards every parameter holds this row's value (bound now, or held already: b), so no
 * sqlite3_clear_bindings first: that walked all 35 parameters once more per row (~0.7k
 * instructions per row). */
static void bind_obs_at(sqlite3_stmt *st, kl_bound *b, int k, const kl_obs *o) {
  kl_rebind_text(st, b, k + 1, proj(o));
  kl_rebind_text(st, b, k + 2, o->id);
  kl_rebind_text(st, b, k + 3, o->trace_id);
  kl_rebind_text(st, b, k + 4, o->parent_id[0] ? o->parent_id : NULL);
  kl_rebind_text(st, b, k + 5, o->type);
  kl_rebind_text(st, b, k + 6, o->name);
  kl_rebind_text(st, b, k + 7, o->level && *o->level ? o->level : "DEFAULT");
  kl_rebind_text(st, b, k + 8, o->status_message);
  bind_i64_or_null(st, b, k + 9, o->http_status);
  kl_rebind_i64(st, b, k + 10, o->start_ns);
  bind_i64_or_null(st, b, k + 11, o->end_ns);
  bind_i64_or_null(st, b, k + 12, o->completion_start_ns);
  kl_rebind_text(st, b, k + 13, o->model);
  kl_rebind_text(st, b, k + 14, o->provider);
  kl_rebind_text(st, b, k + 15, o->upstream_model);
  kl_rebind_text(st, b, k + 16, o->model_params_json);
  kl_rebind_text(st, b, k + 17, o->input_json);
  kl_rebind_text(st, b, k + 18, o->output_json);
  kl_rebind_text(st, b, k + 19, o->metadata_json);
  kl_rebind_text(st, b, k + 20, o->finish_reason);
  kl_rebind_i64(st, b, k + 21, o->usage_input);
  kl_rebind_i64(st, b, k + 22, o->usage_input_cached);
  kl_rebind_i64(st, b, k + 23, o->usage_input_cache_write);
  kl_rebind_i64(st, b, k + 24, o->usage_output);
  kl_rebind_i64(st, b, k + 25, o->usage_output_reasoning);
  kl_rebind_text(st, b, k + 26, o->usage_json);
  kl_rebind_i64(st, b, k + 27, o->usage_estimated ? 1 : 0);
  if (o->cost_usd >= 0) kl_rebind_f64(st, b, k + 28, o->cost_usd); /* NaN fails >= 0 too */
  else kl_rebind_null(st, b, k + 28);
  kl_rebind_text(st, b, k + 29, o->cost_json);
  kl_rebind_text(st, b, k + 30, o->trace_name);
  kl_rebind_text(st, b, k + 31, o->user_id);
  kl_rebind_text(st, b, k + 32, o->session_id);
  kl_rebind_text(st, b, k + 33, o->tags_json);
  kl_rebind_text(st, b, k + 34, o->environment);
  kl_rebind_text(st, b, k + 35, o->release);
}

void kl_sqlite_bind_obs(sqlite3_stmt *st, const kl_obs *o) { bind_obs_at(st, NULL, 0, o); }

static int insert_obs(kl_sqlite *q, sqlite3_stmt *st, kl_bound *b, const kl_obs *o, kl_err *err) {
  bind_obs_at(st, b, 0, o);
  return kl_sqlite_step(q->db, st, "insert observation", err);
}

void kl_redo_push(kl_redo_list *l, const char *project, const char *trace) {
  if (l->n + 1 > l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) abort();
  }
  snprintf(l->v[l->n].project, sizeof l->v[l->n].project, "%s", project);
  snprintf(l->v[l->n].trace, sizeof l->v[l->n].trace, "%s", trace);
  l->n++;
}

static int redo_cmp(const void *a, const void *b) {
  const kl_redo *x = a, *y = b;
  int c = strcmp(x->project, y->project);
  return c ? c : strcmp(x->trace, y->trace);
}

int kl_sqlite_recompute(kl_sqlite *q, const kl_redo *r, kl_err *err) {
  sqlite3_stmt *sts[2] = {q->trace_recompute, q->trace_drop_empty};
  for (int i = 0; i < 2; i++) {
    sqlite3_clear_bindings(sts[i]);
    sqlite3_bind_text(sts[i], 1, r->project, -1, SQLITE_STATIC);
    sqlite3_bind_text(sts[i], 2, r->trace, -1, SQLITE_STATIC);
    if (kl_sqlite_step(q->db, sts[i], "recompute trace", err) != 0) return -1;
  }
  return 0;
}

/* A run of new observations (rows = kl_sqlite_runs[k]) in one INSERT: SQLite opens the statement's cursors and allocates
 * its registers once for all of them instead of once per row (its lookaside allocator is
 * compiled out in Debian's build, so each of those is a malloc and a free).  When every row
 * was new (sqlite3_changes says so: the common case), their traces' sums go to ingest_tagg.c
 * as write_obs does; otherwise some key existed, and every row of the run is written again
 * with INSERT OR REPLACE (the same final rows as one by one, a duplicate within the run
 * included) and its trace recomputed after the loop. */
static int write_obs_run(kl_sqlite *q, int k, kl_rec *const *recs, kl_redo_list *redo, kl_err *err) {
  int rows = kl_sqlite_runs[k];
  for (int i = 0; i < rows; i++) bind_obs_at(q->ins_run[k], q->bound_run[k], i * OBS_NCOLS, &recs[i]->u.obs);
  if (kl_sqlite_step(q->db, q->ins_run[k], "insert observations", err) != 0) return -1;
  if (sqlite3_changes(q->db) == rows) {
    for (int i = 0; i < rows; i++) kl_tagg_add(q, proj(&recs[i]->u.obs), &recs[i]->u.obs);
    return 0;
  }
  for (int i = 0; i < rows; i++) {
    const kl_obs *o = &recs[i]->u.obs;
    if (insert_obs(q, q->ins_obs, NULL, o, err) != 0) return -1;
    kl_redo_push(redo, proj(o), o->trace_id);
  }
  return 0;
}

static int write_obs(kl_sqlite *q, const kl_obs *o, kl_redo_list *redo, kl_err *err) {
  if (insert_obs(q, q->ins_new, q->bound_new, o, err) != 0) return -1;
  if (sqlite3_changes(q->db) == 1) { /* its trace's sums: once per trace per batch (ingest_tagg.c) */
    kl_tagg_add(q, proj(o), o);
    return 0;
  }
  if (insert_obs(q, q->ins_obs, NULL, o, err) != 0) return -1;
  /* a re-sent observation replaced its row: its trace is recomputed once, after the loop */
  kl_redo_push(redo, proj(o), o->trace_id);
  return 0;
}

static int sqlite_write_batch(void *be, kl_rec *const *recs, size_t n, kl_obs_merge_fn merge, kl_err *err) {
  kl_sqlite *q = be;
  kl_redo_list redo = {0};
  bool orphans = q->have_orphans, trace_records = q->have_trace_records;
  if (kl_sqlite_step(q->db, q->begin, "begin", err) != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    const kl_rec *r = recs[i];
    size_t run = 0, most = (size_t)kl_sqlite_runs[0];
    while (run < most && i + run < n && recs[i + run]->kind == KL_REC_OBS) run++;
    int k = 0;
    while (k < KL_SQLITE_NRUNS && run < (size_t)kl_sqlite_runs[k]) k++;
    if (k < KL_SQLITE_NRUNS) {
      if (write_obs_run(q, k, recs + i, &redo, err) != 0) goto fail;
      i += (size_t)kl_sqlite_runs[k] - 1;
      continue;
    }
    int rc = r->kind == KL_REC_OBS     ? write_obs(q, &r->u.obs, &redo, err)
             : r->kind == KL_REC_PATCH ? kl_sqlite_write_patch(q, &r->u.patch, merge, &redo, err)
                                       : kl_sqlite_write_score(q, &r->u.score, err);
    if (rc != 0) goto fail;
  }
  if (kl_sqlite_ingest_flush(q, err) != 0) goto fail;
  if (redo.n) {
    qsort(redo.v, redo.n, sizeof *redo.v, redo_cmp);
    for (size_t i = 0; i < redo.n; i++) {
      if (i > 0 && redo_cmp(&redo.v[i - 1], &redo.v[i]) == 0) continue;
      if (kl_sqlite_recompute(q, &redo.v[i], err) != 0) goto fail;
    }
  }
  if (kl_sqlite_step(q->db, q->commit, "commit", err) != 0) goto fail;
  free(redo.v);
  kl_arena_reset(q->arena);
  return 0;
fail:
  kl_sqlite_ingest_reset(q);
  free(redo.v);
  kl_arena_reset(q->arena);
  q->have_orphans = orphans; /* what the rolled-back batch set is gone */
  q->have_trace_records = trace_records;
  if (!sqlite3_get_autocommit(q->db)) {
    sqlite3_step(q->rollback);
    sqlite3_reset(q->rollback);
  }
  return -1;
}

const kl_backend_vt kl_backend_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .write_batch = sqlite_write_batch,
    .list_traces = kl_sqlite_list_traces,
    .get_trace = kl_sqlite_get_trace,
    .get_observation = kl_sqlite_get_observation,
    .get_score = kl_sqlite_get_score,
    .key_get = kl_sqlite_key_get,
    .key_create = kl_sqlite_key_create,
    .list_observations = kl_sqlite_list_observations,
    .find_observation = kl_sqlite_find_observation,
    .list_scores = kl_sqlite_list_scores,
    .list_sessions = kl_sqlite_list_sessions,
    .get_session = kl_sqlite_get_session,
    .list_users = kl_sqlite_list_users,
    .get_user = kl_sqlite_get_user,
    .metrics = kl_sqlite_metrics,
    .set_fulltext = kl_sqlite_set_fulltext,
    .expire = kl_sqlite_expire,
    .close = sqlite_close,
};
