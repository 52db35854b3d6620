/* query_list.c: the filtered, keyset-paginated lists: traces, observations, scores.
 *
 * Each list is one SELECT built from the filters that are set (the statement is cached per
 * connection by its text, query_util.c) and ordered by (time DESC, id DESC), which an index
 * serves without a sort:
 *   traces:        traces_start, or traces_user / traces_session / traces_model (their
 *                  trailing (start_ns, id) read backwards gives the same order);
 *   observations:  observations_start (project_id, start_ns): ties on start_ns are sorted
 *                  by id in small groups ("right part of ORDER BY"), and the LIMIT stops
 *                  the scan early; by trace: the primary key;
 *   scores:        scores_time (migration 3).
 * Filters without an index of their own (name, tags, status, level, cost, latency) are
 * checked on the rows the ordered scan visits: a first page stops after `limit` matches, so
 * it is fast unless the filter is very selective.  We add no index for them: every index is
 * paid for on each write (see the report in bench/bench_query.c), and the dashboard's
 * common filters (time, user, session, model) have one.
 *
 * Full text (q): FTS5 finds the matching observations first (obs_fts, an external-content
 * index over input and output), then the rows are looked up by rowid and sorted: cost is
 * proportional to the number of matches, not to the table.  For traces, a trace matches
 * when any of its observations does.
 *
 * Observations by user or session: those columns are denormalised onto observations but not
 * indexed there.  When the user (session) has few traces we go through the traces index and
 * the observations primary key (cost ~ that user's observations); when it has many, the
 * newest-first scan finds a page quickly anyway.  A bounded count (PROBE traces) decides. */
#include "store/sqlite_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 2000

static const char *proj(const char *p) { return p && *p ? p : "default"; }
static bool set(const char *s) { return s && *s; }

/* Appends the range/latency conditions common to traces and observations. */
static void put_ranges(kl_buf *sql, const kl_trace_filter *f) {
  if (f->ranges & KL_RANGE_MIN_COST) kl_buf_puts(sql, " AND cost_usd>=:minc");
  if (f->ranges & KL_RANGE_MAX_COST) kl_buf_puts(sql, " AND cost_usd<=:maxc");
  if (f->ranges & KL_RANGE_MIN_LATENCY) kl_buf_puts(sql, " AND end_ns-start_ns>=:minl");
  if (f->ranges & KL_RANGE_MAX_LATENCY) kl_buf_puts(sql, " AND end_ns-start_ns<=:maxl");
}

static void bind_ranges(sqlite3_stmt *st, const kl_trace_filter *f) {
  kl_bind_double(st, ":minc", f->min_cost);
  kl_bind_double(st, ":maxc", f->max_cost);
  /* latency in ns as integers: compared exactly with end_ns - start_ns */
  kl_bind_i64(st, ":minl", (int64_t)ceil(f->min_latency_ms * 1e6));
  kl_bind_i64(st, ":maxl", (int64_t)floor(f->max_latency_ms * 1e6));
}

static void put_cursor_cond(kl_buf *sql, const kl_cursor_state *cs, const char *tcol, const char *idcol) {
  if (!cs->have) return;
  const char *op = cs->asc ? ">" : "<";
  /* the first conjunct is the index range, the second breaks ties on id */
  kl_buf_printf(sql, " AND %s%s=:cs AND (%s%s:cs OR %s%s:cid)", tcol, op, tcol, op, idcol, op);
}

static void bind_cursor(sqlite3_stmt *st, const kl_cursor_state *cs) {
  kl_bind_i64(st, ":cs", cs->ns);
  kl_bind_text(st, ":cid", cs->id);
}

/* ---- traces ---- */

int kl_sqlite_list_traces(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err) {
  kl_sqlite *q = be;
  kl_cursor_state cs;
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  bool asc = cs.have ? cs.asc : f->since_ns > 0;
  kl_arena *a = kl_arena_new(1024);
  char *fts = set(f->q) ? kl_fts_query(a, f->q) : NULL;
  if (fts && !q->fulltext) {
    kl_arena_free(a);
    return kl_query_no_fulltext(err);
  }
  /* tags: split "a,b" (trimmed, empties skipped) */
  const char *tags[KL_TAGS_MAX];
  int nt = kl_split_tags(a, f->tags, tags, err);
  if (nt < 0) {
    kl_arena_free(a);
    return -1;
  }
  size_t ntags = (size_t)nt;
  kl_buf sql = KL_BUF_INIT;
  kl_buf_puts(&sql, "SELECT " KL_TRACE_ROW_COLS " FROM traces");
  /* matches first (few), then the trace by primary key: never a scan of every trace */
  if (fts) kl_buf_puts(&sql, " INDEXED BY sqlite_autoindex_traces_1");
  kl_buf_puts(&sql, " WHERE project_id=:p");
  if (set(f->user_id)) kl_buf_puts(&sql, " AND user_id=:u");
  if (set(f->session_id)) kl_buf_puts(&sql, " AND session_id=:s");
  if (set(f->model)) kl_buf_puts(&sql, " AND model=:m");
  if (set(f->name)) kl_buf_puts(&sql, " AND name=:n");
  if (f->from_ns) kl_buf_puts(&sql, " AND start_ns>=:from");
  if (f->to_ns) kl_buf_puts(&sql, " AND start_ns<:to");
  if (f->since_ns > 0) kl_buf_puts(&sql, " AND start_ns>=:since");
  if (set(f->status)) kl_buf_puts(&sql, !strcmp(f->status, "error") ? " AND error_count>0" : " AND error_count=0");
  if (set(f->level)) {
    if (!strcmp(f->level, "ERROR")) kl_buf_puts(&sql, " AND (error_count>0 OR level_mask&8)");
    else kl_buf_printf(&sql, " AND level_mask&%d", kl_level_bit(f->level));
  }
  put_ranges(&sql, f);
  for (size_t i = 0; i < ntags; i++)
    kl_buf_printf(&sql,
                  " AND CASE WHEN json_valid(tags) THEN EXISTS(SELECT 1 FROM json_each(traces.tags) WHERE value=:t%zu)"
                  " ELSE 0 END",
                  i);
  if (fts)
    kl_buf_puts(&sql, " AND id IN (SELECT o.trace_id FROM obs_fts CROSS JOIN observations o ON o.rowid=obs_fts.rowid"
                      " WHERE obs_fts MATCH :q AND o.project_id=:p)");
  put_cursor_cond(&sql, &cs, "start_ns", "id");
  kl_buf_puts(&sql, asc ? " ORDER BY start_ns, id LIMIT :lim" : " ORDER BY start_ns DESC, id DESC LIMIT :lim");

  int ret = -1;
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) goto done;
  sqlite3_stmt *st = kl_rconn_stmt(c, sql.data, err);
  if (st) {
    kl_bind_text(st, ":p", proj(f->project_id));
    kl_bind_text(st, ":u", f->user_id);
    kl_bind_text(st, ":s", f->session_id);
    kl_bind_text(st, ":m", f->model);
    kl_bind_text(st, ":n", f->name);
    kl_bind_i64(st, ":from", f->from_ns);
    kl_bind_i64(st, ":to", f->to_ns);
    /* timestamps are shown in ms: "after since" means from the next millisecond on */
    kl_bind_i64(st, ":since", f->since_ns - f->since_ns % 1000000 + 1000000);
    bind_ranges(st, f);
    for (size_t i = 0; i < ntags; i++) {
      char name[24];
      snprintf(name, sizeof name, ":t%zu", i);
      kl_bind_text(st, name, tags[i]);
    }
    kl_bind_text(st, ":q", fts);
    bind_cursor(st, &cs);
    kl_bind_i64(st, ":lim", (int64_t)limit + 1);
    ret = kl_query_page(c, st, limit, asc, TC_START, TC_ID, kl_row_page_trace, NULL, out, err);
  }
  kl_sqlite_release(q, c);
done:
  kl_buf_free(&sql);
  kl_arena_free(a);
  return ret;
}

/* ---- observations ---- */

/* Does the project have fewer than PROBE traces with col = v?  (Then going through them is
 * cheaper than scanning observations newest first.) */
static int few_traces(kl_rconn *c, const char *project, const char *col, const char *v, kl_err *err) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM (SELECT 1 FROM traces WHERE project_id=?1 AND %s=?2 LIMIT %d)", col,
           PROBE);
  sqlite3_stmt *st = kl_rconn_stmt(c, sql, err);
  if (!st) return -1;
  sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st), n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  if (rc != SQLITE_ROW) kl_sqlite_err(c->db, rc, "count traces", err);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return n < 0 ? -1 : n < PROBE;
}

int kl_sqlite_list_observations(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err) {
  kl_sqlite *q = be;
  kl_cursor_state cs;
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  const char *project = proj(f->project_id);
  kl_arena *a = kl_arena_new(1024);
  char *fts = set(f->q) ? kl_fts_query(a, f->q) : NULL;
  kl_rconn *c = NULL;
  int ret = -1;
  if (fts && !q->fulltext) {
    kl_arena_free(a);
    return kl_query_no_fulltext(err);
  }
  if (!(c = kl_sqlite_acquire(q, err))) {
    kl_arena_free(a);
    return -1;
  }
  kl_buf sql = KL_BUF_INIT;
  /* the access path: by trace, by full text, by the user's/session's traces, or newest first */
  const char *via = NULL; /* "u" or "s": through that column's traces */
  if (!set(f->trace_id) && !fts) {
    int few = 0;
    if (set(f->session_id)) {
      if ((few = few_traces(c, project, "session_id", f->session_id, err)) < 0) goto done;
      if (few) via = ":s";
    }
    if (!via && set(f->user_id)) {
      if ((few = few_traces(c, project, "user_id", f->user_id, err)) < 0) goto done;
      if (few) via = ":u";
    }
  }
  kl_buf_puts(&sql, "SELECT " KL_OBS_LIST_COLS " FROM ");
  if (set(f->trace_id) || via) kl_buf_puts(&sql, "observations INDEXED BY sqlite_autoindex_observations_1");
  else if (fts) kl_buf_puts(&sql, "obs_fts CROSS JOIN observations ON observations.rowid=obs_fts.rowid");
  else kl_buf_puts(&sql, "observations INDEXED BY observations_start");
  kl_buf_puts(&sql, " WHERE project_id=:p");
  if (fts && (set(f->trace_id) || via))
    kl_buf_puts(&sql, " AND rowid IN (SELECT rowid FROM obs_fts WHERE obs_fts MATCH :q)");
  else if (fts)
    kl_buf_puts(&sql, " AND obs_fts MATCH :q");
  if (set(f->trace_id)) kl_buf_puts(&sql, " AND trace_id=:tr");
  if (via)
    kl_buf_printf(&sql, " AND trace_id IN (SELECT id FROM traces WHERE project_id=:p AND %s=%s)",
                  via[1] == 's' ? "session_id" : "user_id", via);
  if (set(f->type)) kl_buf_puts(&sql, " AND type=:ty");
  if (set(f->user_id)) kl_buf_puts(&sql, " AND user_id=:u");
  if (set(f->session_id)) kl_buf_puts(&sql, " AND session_id=:s");
  if (set(f->model)) kl_buf_puts(&sql, " AND model=:m");
  if (set(f->name)) kl_buf_puts(&sql, " AND name=:n");
  if (set(f->level)) kl_buf_puts(&sql, " AND level=:lv");
  if (f->from_ns) kl_buf_puts(&sql, " AND start_ns>=:from");
  if (f->to_ns) kl_buf_puts(&sql, " AND start_ns<:to");
  put_ranges(&sql, f);
  put_cursor_cond(&sql, &cs, "start_ns", "id");
  kl_buf_puts(&sql, cs.have && cs.asc ? " ORDER BY start_ns, id LIMIT :lim" : " ORDER BY start_ns DESC, id DESC LIMIT :lim");
  sqlite3_stmt *st = kl_rconn_stmt(c, sql.data, err);
  if (!st) goto done;
  kl_bind_text(st, ":p", project);
  kl_bind_text(st, ":q", fts);
  kl_bind_text(st, ":tr", f->trace_id);
  kl_bind_text(st, ":ty", f->type);
  kl_bind_text(st, ":u", f->user_id);
  kl_bind_text(st, ":s", f->session_id);
  kl_bind_text(st, ":m", f->model);
  kl_bind_text(st, ":n", f->name);
  kl_bind_text(st, ":lv", f->level);
  kl_bind_i64(st, ":from", f->from_ns);
  kl_bind_i64(st, ":to", f->to_ns);
  bind_ranges(st, f);
  bind_cursor(st, &cs);
  kl_bind_i64(st, ":lim", (int64_t)limit + 1);
  ret = kl_query_page(c, st, limit, cs.have && cs.asc, OL_START, OL_ID, kl_row_page_obs, NULL, out, err);
done:
  kl_sqlite_release(q, c);
  kl_buf_free(&sql);
  kl_arena_free(a);
  return ret;
}

/* One observation: by its trace (primary key) when the caller knows it; else through the
 * ingest id index (Langfuse rows); else a scan (keel's own and OTLP rows are not indexed by
 * id alone, to keep their write path cheap). */
int kl_sqlite_find_observation(void *be, const char *project_id, const char *trace_id, const char *id, kl_buf *out,
                               kl_err *err) {
  kl_sqlite *q = be;
  if (!set(trace_id)) {
    kl_err e;
    kl_err_clear(&e);
    if (kl_sqlite_get_observation(be, project_id, id, out, &e) == 0) return 0;
    if (e.code != 404) {
      *err = e;
      return -1;
    }
  }
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) return -1;
  const char *sql = set(trace_id)
                        ? "SELECT " KL_OBS_COLS "," KL_OBS_EXT_COLS " FROM observations INDEXED BY"
                          " sqlite_autoindex_observations_1 WHERE project_id=?1 AND id=?2 AND trace_id=?3"
                        : "SELECT " KL_OBS_COLS "," KL_OBS_EXT_COLS " FROM observations NOT INDEXED"
                          " WHERE project_id=?1 AND id=?2 ORDER BY trace_id='' LIMIT 1";
  int ret = -1;
  sqlite3_stmt *st = kl_rconn_stmt(c, sql, err);
  if (st) {
    sqlite3_bind_text(st, 1, project_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (set(trace_id)) sqlite3_bind_text(st, 3, trace_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      kl_sqlite_put_obs(out, st, true);
      ret = 0;
    } else if (rc == SQLITE_DONE) {
      kl_err_set(err, 404, "observation %.80s not found", id);
    } else {
      kl_sqlite_err(c->db, rc, "observation", err);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  kl_sqlite_release(q, c);
  return ret;
}

/* ---- scores ---- */

int kl_sqlite_list_scores(void *be, const kl_score_filter *f, kl_buf *out, kl_err *err) {
  kl_sqlite *q = be;
  kl_cursor_state cs;
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  /* kl_store_list_scores checked both and made them upper case */
  const char *source = set(f->source) ? f->source : NULL;
  const char *dtype = set(f->data_type) ? f->data_type : NULL;
  int ret = -1;
  kl_buf sql = KL_BUF_INIT;
  kl_buf_puts(&sql, "SELECT " KL_SCORE_COLS " FROM scores");
  /* by trace/observation: that index; otherwise newest first by scores_time */
  if (set(f->trace_id)) kl_buf_puts(&sql, " INDEXED BY scores_trace");
  else if (!set(f->observation_id) && !set(f->session_id)) kl_buf_puts(&sql, " INDEXED BY scores_time");
  kl_buf_puts(&sql, " WHERE project_id=:p");
  if (set(f->trace_id)) kl_buf_puts(&sql, " AND trace_id=:t");
  if (set(f->observation_id)) kl_buf_puts(&sql, " AND observation_id=:o");
  if (set(f->session_id)) kl_buf_puts(&sql, " AND session_id=:s");
  if (set(f->name)) kl_buf_puts(&sql, " AND name=:n");
  if (source) kl_buf_puts(&sql, " AND source=:src");
  if (dtype) kl_buf_puts(&sql, " AND data_type=:dt");
  if (f->from_ns) kl_buf_puts(&sql, " AND timestamp_ns>=:from");
  if (f->to_ns) kl_buf_puts(&sql, " AND timestamp_ns<:to");
  put_cursor_cond(&sql, &cs, "timestamp_ns", "id");
  kl_buf_puts(&sql, cs.have && cs.asc ? " ORDER BY timestamp_ns, id LIMIT :lim"
                                      : " ORDER BY timestamp_ns DESC, id DESC LIMIT :lim");
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) goto out;
  sqlite3_stmt *st = kl_rconn_stmt(c, sql.data, err);
  if (st) {
    kl_bind_text(st, ":p", proj(f->project_id));
    kl_bind_text(st, ":t", f->trace_id);
    kl_bind_text(st, ":o", f->observation_id);
    kl_bind_text(st, ":s", f->session_id);
    kl_bind_text(st, ":n", f->name);
    kl_bind_text(st, ":src", source);
    kl_bind_text(st, ":dt", dtype);
    kl_bind_i64(st, ":from", f->from_ns);
    kl_bind_i64(st, ":to", f->to_ns);
    bind_cursor(st, &cs);
    kl_bind_i64(st, ":lim", (int64_t)limit + 1);
    ret = kl_query_page(c, st, limit, cs.have && cs.asc, SC_TIMESTAMP, 0, kl_row_page_score, NULL, out, err);
  }
  kl_sqlite_release(q, c);
out:
  kl_buf_free(&sql);
  return ret;
}
