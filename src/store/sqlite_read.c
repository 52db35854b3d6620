/* sqlite_read.c: one trace with its observations and scores, as JSON, and the JSON output
 * helpers every read file shares (SQLite's accessors for row.h; the writers themselves are
 * row_json.c's, shared with PostgreSQL).  (The lists are query_list.c's.)
 *
 * get: the trace row, then its observations by start_ns.  JSON-text columns are embedded
 * as JSON when they parse (the writer stores what callers gave it, normally valid JSON) and
 * as a JSON string otherwise, so a bad value never produces invalid output.  The trace's
 * "metadata" is the one a trace record set, else its root observation's (first without a
 * parent_id), {} when none; "scores" are the trace's (ingest_read.c). */
#include "store/row.h"
#include "store/sqlite_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kl_rconn_close(kl_rconn *c) {
  if (!c) return;
  kl_rconn_cache_close(c);
  sqlite3_finalize(c->trace);
  sqlite3_finalize(c->obs);
  kl_sqlite_ingest_rconn_close(c);
  sqlite3_close(c->db);
  free(c);
}

/* ---- the SQLite side of a kl_row (row.h), and the JSON output helpers over it ---- */

#define STMT(r) ((sqlite3_stmt *)(r)->h)
static bool sq_null(const kl_row *r, int col) { return sqlite3_column_type(STMT(r), col) == SQLITE_NULL; }
static int64_t sq_i64(const kl_row *r, int col) { return sqlite3_column_int64(STMT(r), col); }
static double sq_dbl(const kl_row *r, int col) { return sqlite3_column_double(STMT(r), col); }
static const char *sq_text(const kl_row *r, int col, size_t *len) {
  sqlite3_stmt *st = STMT(r);
  const char *t = (const char *)sqlite3_column_text(st, col);
  *len = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
  return t;
}
static const kl_row_ops k_sqlite_row = {sq_null, sq_i64, sq_dbl, sq_text};

kl_row kl_sqlite_row(sqlite3_stmt *st) { return (kl_row){&k_sqlite_row, st, 0}; }

void kl_sqlite_put_num(kl_buf *b, double v) { kl_row_put_num(b, v); }
#define ROW(st) (&(kl_row){&k_sqlite_row, (st), 0})
void kl_sqlite_put_str(kl_buf *b, sqlite3_stmt *st, int col) { kl_row_put_str(b, ROW(st), col); }
void kl_sqlite_put_json(kl_buf *b, sqlite3_stmt *st, int col, const char *if_null) {
  kl_row_put_json(b, ROW(st), col, if_null);
}
void kl_sqlite_put_iso(kl_buf *b, sqlite3_stmt *st, int col) { kl_row_put_iso(b, ROW(st), col); }
void kl_sqlite_put_trace_row(kl_buf *b, sqlite3_stmt *st) { kl_row_put_trace(b, ROW(st)); }
void kl_sqlite_put_obs(kl_buf *b, sqlite3_stmt *st, bool ext) { kl_row_put_obs(b, ROW(st), ext); }
void kl_sqlite_put_score(kl_buf *b, sqlite3_stmt *st) { kl_row_put_score(b, ROW(st)); }

int kl_level_bit(const char *level) {
  if (!level) return KL_LEVEL_DEFAULT;
  if (!strcmp(level, "ERROR")) return KL_LEVEL_ERROR;
  if (!strcmp(level, "WARNING")) return KL_LEVEL_WARNING;
  if (!strcmp(level, "DEBUG")) return KL_LEVEL_DEBUG;
  return KL_LEVEL_DEFAULT;
}


/* ---- get ---- */

/* Prepares *st on c's first use of it (a reader connection keeps its statements). */
int kl_rconn_prep(kl_rconn *c, sqlite3_stmt **st, const char *sql, kl_err *err) {
  if (*st) return 0;
  int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
  if (rc != SQLITE_OK) {
    kl_sqlite_err(c->db, rc, "prepare", err);
    *st = NULL;
    return -1;
  }
  return 0;
}

int kl_sqlite_get_trace(void *be, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err) {
  kl_sqlite *q = be;
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) return -1;
  int ret = -1;
  kl_buf obs = KL_BUF_INIT, meta = KL_BUF_INIT;
  if (kl_rconn_prep(c, &c->trace,
                "SELECT " KL_TRACE_ROW_COLS "," KL_TRACE_MORE_COLS " FROM traces"
                " WHERE project_id=?1 AND id=?2", err) ||
      kl_rconn_prep(c, &c->obs,
                "SELECT " KL_OBS_COLS "," KL_OBS_EXT_COLS " FROM observations INDEXED BY sqlite_autoindex_observations_1"
                " WHERE project_id=?1 AND trace_id=?2"
                " ORDER BY start_ns, id", err))
    goto done;
  /* Both statements run inside one read transaction, so the trace row and its
   * observations come from the same snapshot even while the writer commits. */
  if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    kl_sqlite_err(c->db, SQLITE_ERROR, "begin read", err);
    goto done;
  }
  sqlite3_bind_text(c->obs, 1, project_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(c->obs, 2, trace_id, -1, SQLITE_STATIC);
  int rc, n = 0;
  bool have_root = false;
  kl_buf_putc(&obs, '[');
  while ((rc = sqlite3_step(c->obs)) == SQLITE_ROW) {
    if (n++) kl_buf_putc(&obs, ',');
    kl_sqlite_put_obs(&obs, c->obs, true);
    if (!have_root && sqlite3_column_type(c->obs, OC_PARENT) == SQLITE_NULL) {
      have_root = true;
      kl_sqlite_put_json(&meta, c->obs, OC_METADATA, "{}");
    }
  }
  kl_buf_putc(&obs, ']');
  if (rc != SQLITE_DONE) {
    kl_sqlite_err(c->db, rc, "read observations", err);
    goto end_read;
  }
  sqlite3_bind_text(c->trace, 1, project_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(c->trace, 2, trace_id, -1, SQLITE_STATIC);
  rc = sqlite3_step(c->trace);
  if (rc == SQLITE_DONE) {
    kl_err_set(err, 404, "trace %s not found", trace_id);
    goto end_read;
  }
  if (rc != SQLITE_ROW) {
    kl_sqlite_err(c->db, rc, "read trace", err);
    goto end_read;
  }
  kl_buf_putc(out, '{');
  kl_sqlite_put_trace_row(out, c->trace);
  kl_buf_puts(out, ",\"end_time\":");
  kl_sqlite_put_iso(out, c->trace, TC_END);
  kl_buf_puts(out, ",\"environment\":");
  kl_sqlite_put_str(out, c->trace, TC_ENV);
  kl_buf_puts(out, ",\"release\":");
  kl_sqlite_put_str(out, c->trace, TC_RELEASE);
  kl_buf_printf(out, ",\"error_count\":%" PRId64, (int64_t)sqlite3_column_int64(c->trace, TC_ERR));
  kl_buf_puts(out, ",\"metadata\":");
  if (sqlite3_column_type(c->trace, TC_METADATA) != SQLITE_NULL) kl_sqlite_put_json(out, c->trace, TC_METADATA, "{}");
  else kl_buf_puts(out, meta.len ? meta.data : "{}");
  kl_buf_puts(out, ",\"input\":");
  kl_sqlite_put_json(out, c->trace, TC_INPUT, "null");
  kl_buf_puts(out, ",\"output\":");
  kl_sqlite_put_json(out, c->trace, TC_OUTPUT, "null");
  kl_buf_puts(out, ",\"version\":");
  kl_sqlite_put_str(out, c->trace, TC_VERSION);
  kl_buf_puts(out, ",\"observations\":");
  kl_buf_append(out, obs.data, obs.len);
  kl_buf_puts(out, ",\"scores\":");
  if (kl_sqlite_trace_scores(c, project_id, trace_id, out, err) != 0) goto end_read;
  kl_buf_putc(out, '}');
  ret = 0;
end_read:
  sqlite3_reset(c->obs);
  sqlite3_reset(c->trace);
  sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
done:
  if (c->obs) sqlite3_clear_bindings(c->obs);
  if (c->trace) sqlite3_clear_bindings(c->trace);
  kl_buf_free(&obs);
  kl_buf_free(&meta);
  kl_sqlite_release(q, c);
  return ret;
}
