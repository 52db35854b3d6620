/* pg_read.c: one trace (with its observations and scores), one observation, one score, as
 * JSON, from PostgreSQL.  Mirrors sqlite_read.c, ingest_read.c and query_list.c's find.
 *
 * get_trace reads three statements; SQLite runs them in one read transaction so they come
 * from one snapshot while the writer commits.  Here that is a REPEATABLE READ READ ONLY
 * transaction: its snapshot is taken at the first statement and held to COMMIT (a read-only
 * transaction never fails with a serialization error).  The single-statement reads need no
 * transaction: a statement always sees one snapshot.
 *
 * An observation by id alone: first among rows from Langfuse envelopes (ingest_ns set; the
 * partial index observations_ingest_id), preferring one whose trace is known, as SQLite; then
 * find_observation falls back to any row (a scan, as SQLite's NOT INDEXED). */
#include "store/pg_int.h"
#include "store/sqlite_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool set(const char *s) { return s && *s; }

#define OBS_SELECT "SELECT " KL_OBS_COLS "," KL_OBS_EXT_COLS " FROM observations"
#define SCORE_SELECT "SELECT " KL_SCORE_COLS " FROM scores"

int kl_pg_get_trace(void *be, const char *project_id, const char *trace_id, kl_buf *out, kl_err *err) {
  kl_pg *p = be;
  kl_pgconn *c = kl_pg_acquire(p, err);
  if (!c) return -1;
  int ret = -1;
  PGresult *ro = NULL, *rt = NULL, *rs = NULL;
  kl_arena *a = kl_arena_new(256);
  kl_pg_params ps = {.a = a};
  kl_pg_p_text(&ps, project_id);
  kl_pg_p_text(&ps, trace_id);
  if (kl_pg_run(c->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, err) != 0) goto done;
  if (!(ro = kl_pg_exec(c->c, OBS_SELECT " WHERE project_id=$1 AND trace_id=$2 ORDER BY start_ns, id", &ps, err)) ||
      !(rt = kl_pg_exec(c->c,
                        "SELECT " KL_TRACE_ROW_COLS "," KL_TRACE_MORE_COLS " FROM traces WHERE project_id=$1 AND id=$2",
                        &ps, err)))
    goto end_read;
  if (PQntuples(rt) == 0) {
    kl_err_set(err, 404, "trace %s not found", trace_id);
    goto end_read;
  }
  if (!(rs = kl_pg_exec(c->c, SCORE_SELECT " WHERE project_id=$1 AND trace_id=$2 ORDER BY timestamp_ns, id", &ps,
                        err)))
    goto end_read;
  kl_buf_putc(out, '{');
  kl_pg_put_trace_row(out, rt, 0);
  kl_buf_puts(out, ",\"end_time\":");
  kl_pg_put_iso(out, rt, 0, TC_END);
  kl_buf_puts(out, ",\"environment\":");
  kl_pg_put_str(out, rt, 0, TC_ENV);
  kl_buf_puts(out, ",\"release\":");
  kl_pg_put_str(out, rt, 0, TC_RELEASE);
  kl_buf_printf(out, ",\"error_count\":%" PRId64, kl_pg_i64(rt, 0, TC_ERR));
  kl_buf_puts(out, ",\"metadata\":");
  if (!PQgetisnull(rt, 0, TC_METADATA)) {
    kl_pg_put_json(out, rt, 0, TC_METADATA, "{}");
  } else {
    /* the root observation's (the first without a parent), {} when none */
    int root = -1;
    for (int i = 0; i < PQntuples(ro) && root < 0; i++)
      if (PQgetisnull(ro, i, OC_PARENT)) root = i;
    if (root >= 0) kl_pg_put_json(out, ro, root, OC_METADATA, "{}");
    else kl_buf_puts(out, "{}");
  }
  kl_buf_puts(out, ",\"input\":");
  kl_pg_put_json(out, rt, 0, TC_INPUT, "null");
  kl_buf_puts(out, ",\"output\":");
  kl_pg_put_json(out, rt, 0, TC_OUTPUT, "null");
  kl_buf_puts(out, ",\"version\":");
  kl_pg_put_str(out, rt, 0, TC_VERSION);
  kl_buf_puts(out, ",\"observations\":[");
  for (int i = 0; i < PQntuples(ro); i++) {
    if (i) kl_buf_putc(out, ',');
    kl_pg_put_obs(out, ro, i, true);
  }
  kl_buf_puts(out, "],\"scores\":[");
  for (int i = 0; i < PQntuples(rs); i++) {
    if (i) kl_buf_putc(out, ',');
    kl_pg_put_score(out, rs, i);
  }
  kl_buf_puts(out, "]}");
  ret = 0;
end_read:
  kl_pg_run(c->c, ret == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL);
done:
  PQclear(ro);
  PQclear(rt);
  PQclear(rs);
  kl_arena_free(a);
  kl_pg_release(p, c);
  return ret;
}

typedef void (*put_fn)(kl_buf *b, const PGresult *r, int row);
static void put_obs_ext(kl_buf *b, const PGresult *r, int row) { kl_pg_put_obs(b, r, row, true); }

/* Runs a statement with up to three text parameters and writes its first row with put;
 * 404 "`what` id not found" when there is none.  Ties (one id in several traces) go to the
 * row written first (wseq, pg_write.c: SQLite's rowid order). */
static int one_row(kl_pg *p, const char *sql, const char *a1, const char *a2, const char *a3, put_fn put,
                   const char *what, const char *id, kl_buf *out, kl_err *err) {
  kl_arena *a = kl_arena_new(256);
  kl_pg_params ps = {.a = a};
  kl_pg_p_text(&ps, a1);
  kl_pg_p_text(&ps, a2);
  if (a3) kl_pg_p_text(&ps, a3);
  PGresult *r = kl_pg_query(p, sql, &ps, err);
  int ret = -1;
  if (r && PQntuples(r) > 0) {
    put(out, r, 0);
    ret = 0;
  } else if (r) {
    kl_err_set(err, 404, "%s %.80s not found", what, id);
  }
  PQclear(r);
  kl_arena_free(a);
  return ret;
}

int kl_pg_get_observation(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return one_row(be,
                 OBS_SELECT " WHERE project_id=$1 AND id=$2 AND ingest_ns IS NOT NULL ORDER BY trace_id='', wseq LIMIT 1",
                 project_id, id, NULL, put_obs_ext, "observation", id, out, err);
}

int kl_pg_get_score(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return one_row(be, SCORE_SELECT " WHERE project_id=$1 AND id=$2", project_id, id, NULL, kl_pg_put_score, "score",
                 id, out, err);
}

int kl_pg_find_observation(void *be, const char *project_id, const char *trace_id, const char *id, kl_buf *out,
                           kl_err *err) {
  if (!set(trace_id)) {
    kl_err e;
    kl_err_clear(&e);
    if (kl_pg_get_observation(be, project_id, id, out, &e) == 0) return 0;
    if (e.code != 404) {
      *err = e;
      return -1;
    }
    return one_row(be, OBS_SELECT " WHERE project_id=$1 AND id=$2 ORDER BY trace_id='', wseq LIMIT 1", project_id, id,
                   NULL, put_obs_ext, "observation", id, out, err);
  }
  return one_row(be, OBS_SELECT " WHERE project_id=$1 AND id=$2 AND trace_id=$3", project_id, id, trace_id,
                 put_obs_ext, "observation", id, out, err);
}
