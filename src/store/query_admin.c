/* query_admin.c: the two pieces of the query API that write: the full-text index switch and
 * retention.  Both run on the writer's connection (set_fulltext at open before the writer
 * starts; expire on the writer thread), so they never race the writer.
 *
 * Full text.  obs_fts (migration 3) is an external-content FTS5 table over observations'
 * input and output: the text is stored once, in observations; the index holds only tokens.
 * Three triggers keep it current inside the writer's transactions: after insert, after
 * delete (which INSERT OR REPLACE also fires, with recursive_triggers on, sqlite.c), and
 * after an update of input/output.  An external-content index must be told the exact old
 * values to delete, which the triggers have (old.*).  The triggers are the index's whole
 * write cost, so trace.fulltext: false drops them and empties the index; turning it on
 * again rebuilds it from observations at open (logged, as it takes a while on a big store).
 * The cost is real (Release, 2 shared cores): bench_query's rows (half carry ~1 KB of text)
 * commit at ~40.5k rows/s without the index and ~13.6k with it (~50 us per observation);
 * bench_store's (one long token each) at ~77k and ~32k.
 *
 * Retention.  kl_sqlite_expire deletes, in one transaction: at most max_rows observations
 * that started before the cutoff (found per project through observations_start, projects
 * enumerated by a loose index scan: one index seek per project), recomputing the traces
 * they belonged to (a trace spanning the cutoff keeps its newer observations and gets
 * correct sums; an emptied trace is dropped), then at most max_rows traces that started
 * before the cutoff and have no observations left (trace records), then at most max_rows
 * scores older than the cutoff.  The writer calls it between its own batches while
 * anything expired remains (writer.c), so no transaction holds the write lock for long and
 * ingestion continues meanwhile.  Its transactions run with secure_delete on, whatever the
 * store's setting: the rows and pages they free are overwritten with zeros.  With full text
 * on, the index's tokens of a deleted row can outlive it in older FTS5 segments until
 * SQLite merges them. */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only the first 4096 characters of each field are indexed: the index's cost is per
 * token (~100 us per observation carrying 1 KB of text), so a 50 KB RAG prompt
 * must not cost 50 times that.  The index is fed only through these expressions (never
 * FTS5's 'rebuild', which would read whole columns), so inserts and deletes always agree. */
static const char *const k_triggers =
    "CREATE TRIGGER IF NOT EXISTS obs_fts_ai AFTER INSERT ON observations BEGIN"
    " INSERT INTO obs_fts(rowid, input, output) VALUES (new.rowid, substr(new.input,1,4096), substr(new.output,1,4096)); END;"
    "CREATE TRIGGER IF NOT EXISTS obs_fts_ad AFTER DELETE ON observations BEGIN"
    " INSERT INTO obs_fts(obs_fts, rowid, input, output)"
    " VALUES ('delete', old.rowid, substr(old.input,1,4096), substr(old.output,1,4096)); END;"
    "CREATE TRIGGER IF NOT EXISTS obs_fts_au AFTER UPDATE OF input, output ON observations BEGIN"
    " INSERT INTO obs_fts(obs_fts, rowid, input, output)"
    " VALUES ('delete', old.rowid, substr(old.input,1,4096), substr(old.output,1,4096));"
    " INSERT INTO obs_fts(rowid, input, output) VALUES (new.rowid, substr(new.input,1,4096), substr(new.output,1,4096)); END;";

static bool have_triggers(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  bool r = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='trigger' AND name='obs_fts_ai'", -1, &st,
                              NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return r;
}

static int run(sqlite3 *db, const char *sql, kl_err *err) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    kl_err_set(err, rc == SQLITE_FULL ? 507 : 500, "store: full-text index: %s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}

int kl_sqlite_set_fulltext(void *be, bool on, kl_err *err) {
  kl_sqlite *q = be;
  bool have = have_triggers(q->db);
  if (on && !have) {
    int64_t t0 = kl_mono_ns();
    if (run(q->db,
            "BEGIN IMMEDIATE; INSERT INTO obs_fts(obs_fts) VALUES('delete-all');"
            " INSERT INTO obs_fts(rowid, input, output)"
            " SELECT rowid, substr(input,1,4096), substr(output,1,4096) FROM observations;", err) != 0 ||
        run(q->db, k_triggers, err) != 0 || run(q->db, "COMMIT", err) != 0)
      return -1;
    kl_info("store: full-text index built (%.0f ms)", (double)(kl_mono_ns() - t0) / 1e6);
  } else if (!on && have) {
    if (run(q->db,
            "BEGIN IMMEDIATE; DROP TRIGGER obs_fts_ai; DROP TRIGGER obs_fts_ad; DROP TRIGGER obs_fts_au;"
            " INSERT INTO obs_fts(obs_fts) VALUES('delete-all'); COMMIT;",
            err) != 0)
      return -1;
    kl_info("store: full-text index dropped (trace.fulltext: false)");
  }
  q->fulltext = on;
  return 0;
}

/* ---- retention ---- */

enum { E_OBS_PROJECTS, E_OBS_SEL, E_OBS_DEL, E_TRACE_PROJECTS, E_TRACE_DEL, E_SCORE_PROJECTS, E_SCORE_DEL, E_N };
_Static_assert(E_N <= sizeof(((kl_sqlite *)0)->exp) / sizeof(sqlite3_stmt *), "room for the statements");

/* Distinct project ids of a table whose indexes lead with project_id: one seek each. */
#define PROJECTS(t)                                                                                    \
  "WITH RECURSIVE p(id) AS (SELECT (SELECT MIN(project_id) FROM " t ") UNION ALL"                      \
  " SELECT (SELECT MIN(project_id) FROM " t " WHERE project_id > p.id) FROM p WHERE p.id IS NOT NULL)" \
  " SELECT id FROM p WHERE id IS NOT NULL"

static const char *const k_exp[E_N] = {
    [E_OBS_PROJECTS] = PROJECTS("observations"),
    [E_OBS_SEL] = "SELECT rowid, trace_id FROM observations INDEXED BY observations_start"
                  " WHERE project_id=?1 AND start_ns<?2 LIMIT ?3",
    [E_OBS_DEL] = "DELETE FROM observations WHERE rowid=?1",
    [E_TRACE_PROJECTS] = PROJECTS("traces"),
    [E_TRACE_DEL] = "DELETE FROM traces WHERE rowid IN (SELECT rowid FROM traces INDEXED BY traces_start"
                    " WHERE project_id=?1 AND start_ns<?2 AND NOT EXISTS (SELECT 1 FROM observations INDEXED BY"
                    " sqlite_autoindex_observations_1 WHERE project_id=?1 AND trace_id=traces.id) LIMIT ?3)",
    [E_SCORE_PROJECTS] = PROJECTS("scores"),
    [E_SCORE_DEL] = "DELETE FROM scores WHERE rowid IN (SELECT rowid FROM scores INDEXED BY scores_time"
                    " WHERE project_id=?1 AND timestamp_ns<?2 LIMIT ?3)",
};

void kl_sqlite_expire_finalize(kl_sqlite *q) {
  for (int i = 0; i < E_N; i++) sqlite3_finalize(q->exp[i]);
  memset(q->exp, 0, sizeof q->exp);
}

typedef struct strs {
  char **v;
  size_t n;
} strs;

static void strs_free(strs *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = 0;
}

static int projects(kl_sqlite *q, sqlite3_stmt *st, strs *out, kl_err *err) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    out->v = realloc(out->v, (out->n + 1) * sizeof *out->v);
    if (!out->v) abort();
    out->v[out->n] = strdup((const char *)sqlite3_column_text(st, 0));
    if (!out->v[out->n]) abort();
    out->n++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    kl_sqlite_err(q->db, rc, "list projects", err);
    return -1;
  }
  return 0;
}

/* Runs a "DELETE .. LIMIT ?3" for each project until max_rows rows went; returns how many. */
static int64_t delete_per_project(kl_sqlite *q, sqlite3_stmt *plist, sqlite3_stmt *del, int64_t cutoff, int max_rows,
                                  bool *more, kl_err *err) {
  strs ps = {0};
  if (projects(q, plist, &ps, err) != 0) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < ps.n && n < max_rows; i++) {
    sqlite3_bind_text(del, 1, ps.v[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(del, 2, cutoff);
    sqlite3_bind_int64(del, 3, max_rows - n);
    if (kl_sqlite_step(q->db, del, "expire", err) != 0) {
      strs_free(&ps);
      return -1;
    }
    n += sqlite3_changes(q->db);
  }
  if (n >= max_rows) *more = true;
  strs_free(&ps);
  return n;
}

static int expire_observations(kl_sqlite *q, int64_t cutoff, int max_rows, uint64_t *deleted, bool *more,
                               kl_err *err) {
  strs ps = {0};
  if (projects(q, q->exp[E_OBS_PROJECTS], &ps, err) != 0) return -1;
  int64_t *rowids = malloc((size_t)max_rows * sizeof *rowids);
  kl_redo_list redo = {0};
  if (!rowids) abort();
  int ret = 0, n = 0;
  for (size_t i = 0; i < ps.n && n < max_rows && ret == 0; i++) {
    sqlite3_stmt *sel = q->exp[E_OBS_SEL];
    sqlite3_bind_text(sel, 1, ps.v[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(sel, 2, cutoff);
    sqlite3_bind_int64(sel, 3, max_rows - n);
    int rc, first = n;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
      rowids[n++] = sqlite3_column_int64(sel, 0);
      const char *tr = (const char *)sqlite3_column_text(sel, 1);
      if (tr && *tr && (!redo.n || strcmp(redo.v[redo.n - 1].trace, tr))) kl_redo_push(&redo, ps.v[i], tr);
    }
    sqlite3_reset(sel);
    if (rc != SQLITE_DONE) {
      kl_sqlite_err(q->db, rc, "find expired observations", err);
      ret = -1;
      break;
    }
    for (int k = first; k < n; k++) {
      sqlite3_bind_int64(q->exp[E_OBS_DEL], 1, rowids[k]);
      if (kl_sqlite_step(q->db, q->exp[E_OBS_DEL], "expire observation", err) != 0) {
        ret = -1;
        break;
      }
    }
  }
  /* the traces they belonged to: recomputed from what is left (emptied ones are dropped) */
  for (size_t i = 0; i < redo.n && ret == 0; i++) {
    if (i > 0 && !strcmp(redo.v[i].project, redo.v[i - 1].project) && !strcmp(redo.v[i].trace, redo.v[i - 1].trace))
      continue;
    ret = kl_sqlite_recompute(q, &redo.v[i], err);
    if (ret == 0) *deleted += (uint64_t)sqlite3_changes(q->db); /* its last statement drops an emptied trace */
  }
  if (ret == 0) {
    *deleted += (uint64_t)n;
    if (n >= max_rows) *more = true;
  }
  free(redo.v);
  free(rowids);
  strs_free(&ps);
  return ret;
}

/* One retention transaction.  What it deletes is overwritten with zeros (and whole pages it
 * frees too) even when the store was opened with KL_SECURE_DELETE_OFF (sqlite.c): expired
 * prompts and answers must not stay readable in their places in the file. */
static int expire_txn(kl_sqlite *q, int64_t cutoff_ns, int max_rows, uint64_t *deleted, bool *more, kl_err *err);

static int set_secure_delete(kl_sqlite *q, bool on, kl_err *err) {
  int rc = sqlite3_exec(q->db, on ? "PRAGMA secure_delete=ON" : "PRAGMA secure_delete=OFF", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    kl_sqlite_err(q->db, rc, "secure_delete", err);
    return -1;
  }
  return 0;
}

int kl_sqlite_expire(void *be, int64_t cutoff_ns, int max_rows, uint64_t *deleted, bool *more, kl_err *err) {
  kl_sqlite *q = be;
  *deleted = 0;
  *more = false;
  if (max_rows <= 0) max_rows = 1000;
  for (int i = 0; i < E_N; i++) {
    if (q->exp[i]) continue;
    int rc = sqlite3_prepare_v3(q->db, k_exp[i], -1, SQLITE_PREPARE_PERSISTENT, &q->exp[i], NULL);
    if (rc != SQLITE_OK) {
      kl_sqlite_err(q->db, rc, "prepare expire", err);
      return -1;
    }
  }
  if (q->secure_delete) return expire_txn(q, cutoff_ns, max_rows, deleted, more, err);
  if (set_secure_delete(q, true, err) != 0) return -1;
  int ret = expire_txn(q, cutoff_ns, max_rows, deleted, more, err);
  kl_err off_err;
  kl_err_clear(&off_err);
  if (set_secure_delete(q, false, &off_err) != 0) kl_warn("%s", off_err.msg); /* costs speed only */
  return ret;
}

static int expire_txn(kl_sqlite *q, int64_t cutoff_ns, int max_rows, uint64_t *deleted, bool *more, kl_err *err) {
  if (kl_sqlite_step(q->db, q->begin, "begin", err) != 0) return -1;
  int64_t n;
  if (expire_observations(q, cutoff_ns, max_rows, deleted, more, err) != 0) goto fail;
  if ((n = delete_per_project(q, q->exp[E_TRACE_PROJECTS], q->exp[E_TRACE_DEL], cutoff_ns, max_rows, more, err)) < 0)
    goto fail;
  *deleted += (uint64_t)n;
  if ((n = delete_per_project(q, q->exp[E_SCORE_PROJECTS], q->exp[E_SCORE_DEL], cutoff_ns, max_rows, more, err)) < 0)
    goto fail;
  *deleted += (uint64_t)n;
  if (kl_sqlite_step(q->db, q->commit, "commit", err) != 0) goto fail;
  return 0;
fail:
  *deleted = 0;
  if (!sqlite3_get_autocommit(q->db)) {
    sqlite3_step(q->rollback);
    sqlite3_reset(q->rollback);
  }
  return -1;
}
