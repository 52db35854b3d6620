/* pg_query_list.c: the filtered, keyset-paginated lists (traces, observations, scores) for
 * the PostgreSQL backend.  Mirrors query_list.c: the same filters, the same validation and
 * messages, the same order (time DESC, id DESC; traces' live tail oldest first) and the same
 * cursors (query_util.c's kl_cursor_put/parse, backend-independent).
 *
 * Each list is one SELECT built from the filters that are set; every value is a $n
 * parameter.  The order is served by an index without a sort: traces_start or
 * traces_user/_session/_model (read backwards), observations_start (ties on start_ns sorted
 * by id in small groups: an incremental sort), scores_time.  Ties on the time are broken by
 * id in the database's collation, which is byte order (as SQLite's BINARY) in a database
 * created with the C or C.UTF-8 locale; keel's ids are ASCII, where the common locales agree
 * except on punctuation.
 *
 * Observations by user or session: those columns are not indexed on observations.  As on
 * SQLite, a bounded count decides: a user (session) with fewer than PROBE traces is read
 * through its traces (traces_user, then the observations primary key); one with many is
 * found quickly by the newest-first scan.
 *
 * Full text (q): pg_query_fts.c's conditions on input/output (a trigram index answers
 * them); a trace matches when any of its observations does. */
#include "store/pg_int.h"
#include "store/sqlite_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 2000

static const char *proj(const char *p) { return p && *p ? p : "default"; }
static bool set(const char *s) { return s && *s; }

/* " AND col=$n" when v is set */
static void eq(kl_buf *sql, kl_pg_params *ps, const char *col, const char *v) {
  if (set(v)) kl_buf_printf(sql, " AND %s=$%d", col, kl_pg_p_text(ps, v));
}

static void put_ranges(kl_buf *sql, kl_pg_params *ps, const kl_trace_filter *f) {
  if (f->ranges & KL_RANGE_MIN_COST) kl_buf_printf(sql, " AND cost_usd>=$%d", kl_pg_p_f64(ps, f->min_cost));
  if (f->ranges & KL_RANGE_MAX_COST) kl_buf_printf(sql, " AND cost_usd<=$%d", kl_pg_p_f64(ps, f->max_cost));
  /* latency in ns as integers: compared exactly with end_ns - start_ns */
  if (f->ranges & KL_RANGE_MIN_LATENCY)
    kl_buf_printf(sql, " AND end_ns-start_ns>=$%d", kl_pg_p_i64(ps, (int64_t)ceil(f->min_latency_ms * 1e6)));
  if (f->ranges & KL_RANGE_MAX_LATENCY)
    kl_buf_printf(sql, " AND end_ns-start_ns<=$%d", kl_pg_p_i64(ps, (int64_t)floor(f->max_latency_ms * 1e6)));
}

static void put_time(kl_buf *sql, kl_pg_params *ps, const char *col, int64_t from, int64_t to) {
  if (from) kl_buf_printf(sql, " AND %s>=$%d", col, kl_pg_p_i64(ps, from));
  if (to) kl_buf_printf(sql, " AND %s<$%d", col, kl_pg_p_i64(ps, to));
}

static void put_cursor_cond(kl_buf *sql, kl_pg_params *ps, const kl_cursor_state *cs, const char *tcol) {
  if (!cs->have) return;
  const char *op = cs->asc ? ">" : "<";
  int n = kl_pg_p_i64(ps, cs->ns), i = kl_pg_p_text(ps, cs->id);
  /* the first conjunct is the index range, the second breaks ties on id */
  kl_buf_printf(sql, " AND %s%s=$%d AND (%s%s$%d OR id%s$%d)", tcol, op, n, tcol, op, n, op, i);
}

static void put_order(kl_buf *sql, kl_pg_params *ps, const char *tcol, bool asc, int limit) {
  kl_buf_printf(sql, asc ? " ORDER BY %s, id LIMIT $%d" : " ORDER BY %s DESC, id DESC LIMIT $%d", tcol,
                kl_pg_p_i64(ps, (int64_t)limit + 1));
}

/* Runs sql and writes the page; frees nothing of the caller's. */
static int page(kl_pg *p, const kl_buf *sql, const kl_pg_params *ps, int limit, bool asc, int key_ns, int key_id,
                kl_row_page_fn put, kl_buf *out, kl_err *err) {
  PGresult *r = kl_pg_query(p, sql->data, ps, err);
  if (!r) return -1;
  kl_pg_page(r, limit, asc, key_ns, key_id, put, NULL, out);
  PQclear(r);
  return 0;
}

/* ---- traces ---- */

int kl_pg_list_traces(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err) {
  kl_pg *p = be;
  kl_cursor_state cs;
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  bool asc = cs.have ? cs.asc : f->since_ns > 0;
  kl_arena *a = kl_arena_new(1024);
  const char **pats = NULL;
  int npats = set(f->q) ? kl_pg_fts(a, f->q, &pats) : -1;
  if (npats >= 0 && !p->fulltext) {
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
  kl_pg_params ps = {.a = a};
  kl_buf sql = KL_BUF_INIT;
  int pp = kl_pg_p_text(&ps, proj(f->project_id));
  kl_buf_printf(&sql, "SELECT " KL_TRACE_ROW_COLS " FROM traces WHERE project_id=$%d", pp);
  eq(&sql, &ps, "user_id", f->user_id);
  eq(&sql, &ps, "session_id", f->session_id);
  eq(&sql, &ps, "model", f->model);
  eq(&sql, &ps, "name", f->name);
  put_time(&sql, &ps, "start_ns", f->from_ns, f->to_ns);
  /* timestamps are shown in ms: "after since" means from the next millisecond on */
  if (f->since_ns > 0)
    kl_buf_printf(&sql, " AND start_ns>=$%d", kl_pg_p_i64(&ps, f->since_ns - f->since_ns % 1000000 + 1000000));
  if (set(f->status)) kl_buf_puts(&sql, !strcmp(f->status, "error") ? " AND error_count>0" : " AND error_count=0");
  if (set(f->level)) {
    if (!strcmp(f->level, "ERROR")) kl_buf_puts(&sql, " AND (error_count>0 OR (level_mask&8)<>0)");
    else kl_buf_printf(&sql, " AND (level_mask&%d)<>0", kl_level_bit(f->level));
  }
  put_ranges(&sql, &ps, f);
  if (ntags) {
    int re = kl_pg_p_text(&ps, KL_PG_TAGS_RE);
    for (size_t i = 0; i < ntags; i++)
      kl_buf_printf(&sql, " AND CASE WHEN tags ~ $%d THEN tags::jsonb ? $%d ELSE false END", re,
                    kl_pg_p_text(&ps, tags[i]));
  }
  if (npats >= 0) {
    kl_buf_printf(&sql, " AND id IN (SELECT o.trace_id FROM observations o WHERE o.project_id=$%d", pp);
    kl_pg_fts_cond(&sql, &ps, "o.", pats, npats);
    kl_buf_putc(&sql, ')');
  }
  put_cursor_cond(&sql, &ps, &cs, "start_ns");
  put_order(&sql, &ps, "start_ns", asc, limit);
  int ret = page(p, &sql, &ps, limit, asc, TC_START, TC_ID, kl_row_page_trace, out, err);
  kl_buf_free(&sql);
  kl_arena_free(a);
  return ret;
}

/* ---- observations ---- */

/* 1 when the project has fewer than PROBE traces with col = v, 0 when not, -1 on error. */
static int few_traces(kl_pg *p, const char *project, const char *col, const char *v, kl_err *err) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM (SELECT 1 FROM traces WHERE project_id=$1 AND %s=$2 LIMIT %d) t",
           col, PROBE);
  kl_arena *a = kl_arena_new(256);
  kl_pg_params ps = {.a = a};
  kl_pg_p_text(&ps, project);
  kl_pg_p_text(&ps, v);
  PGresult *r = kl_pg_query(p, sql, &ps, err);
  kl_arena_free(a);
  if (!r) return -1;
  int n = (int)kl_pg_i64(r, 0, 0);
  PQclear(r);
  return n < PROBE;
}

int kl_pg_list_observations(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err) {
  kl_pg *p = be;
  kl_cursor_state cs;
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  const char *project = proj(f->project_id);
  kl_arena *a = kl_arena_new(1024);
  const char **pats = NULL;
  int npats = set(f->q) ? kl_pg_fts(a, f->q, &pats) : -1, ret = -1;
  if (npats >= 0 && !p->fulltext) {
    kl_arena_free(a);
    return kl_query_no_fulltext(err);
  }
  kl_buf sql = KL_BUF_INIT;
  /* the access path: by the user's/session's traces when they are few */
  const char *via = NULL, *via_v = NULL;
  if (!set(f->trace_id) && npats < 0) {
    int few = 0;
    if (set(f->session_id)) {
      if ((few = few_traces(p, project, "session_id", f->session_id, err)) < 0) goto done;
      if (few) via = "session_id", via_v = f->session_id;
    }
    if (!via && set(f->user_id)) {
      if ((few = few_traces(p, project, "user_id", f->user_id, err)) < 0) goto done;
      if (few) via = "user_id", via_v = f->user_id;
    }
  }
  kl_pg_params ps = {.a = a};
  int pp = kl_pg_p_text(&ps, project);
  kl_buf_printf(&sql, "SELECT " KL_OBS_LIST_COLS " FROM observations WHERE project_id=$%d", pp);
  if (npats >= 0) kl_pg_fts_cond(&sql, &ps, "", pats, npats);
  eq(&sql, &ps, "trace_id", f->trace_id);
  if (via)
    kl_buf_printf(&sql, " AND trace_id IN (SELECT id FROM traces WHERE project_id=$%d AND %s=$%d)", pp, via,
                  kl_pg_p_text(&ps, via_v));
  eq(&sql, &ps, "type", f->type);
  eq(&sql, &ps, "user_id", f->user_id);
  eq(&sql, &ps, "session_id", f->session_id);
  eq(&sql, &ps, "model", f->model);
  eq(&sql, &ps, "name", f->name);
  eq(&sql, &ps, "level", f->level);
  put_time(&sql, &ps, "start_ns", f->from_ns, f->to_ns);
  put_ranges(&sql, &ps, f);
  put_cursor_cond(&sql, &ps, &cs, "start_ns");
  put_order(&sql, &ps, "start_ns", cs.have && cs.asc, limit);
  ret = page(p, &sql, &ps, limit, cs.have && cs.asc, OL_START, OL_ID, kl_row_page_obs, out, err);
done:
  kl_buf_free(&sql);
  kl_arena_free(a);
  return ret;
}

/* ---- scores ---- */

int kl_pg_list_scores(void *be, const kl_score_filter *f, kl_buf *out, kl_err *err) {
  kl_pg *p = be;
  kl_cursor_state cs;
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  kl_arena *a = kl_arena_new(256);
  /* kl_store_list_scores checked both and made them upper case */
  const char *source = set(f->source) ? f->source : NULL;
  const char *dtype = set(f->data_type) ? f->data_type : NULL;
  kl_buf sql = KL_BUF_INIT;
  kl_pg_params ps = {.a = a};
  kl_buf_printf(&sql, "SELECT " KL_SCORE_COLS " FROM scores WHERE project_id=$%d",
                kl_pg_p_text(&ps, proj(f->project_id)));
  eq(&sql, &ps, "trace_id", f->trace_id);
  eq(&sql, &ps, "observation_id", f->observation_id);
  eq(&sql, &ps, "session_id", f->session_id);
  eq(&sql, &ps, "name", f->name);
  eq(&sql, &ps, "source", source);
  eq(&sql, &ps, "data_type", dtype);
  put_time(&sql, &ps, "timestamp_ns", f->from_ns, f->to_ns);
  put_cursor_cond(&sql, &ps, &cs, "timestamp_ns");
  put_order(&sql, &ps, "timestamp_ns", cs.have && cs.asc, limit);
  int ret = page(p, &sql, &ps, limit, cs.have && cs.asc, SC_TIMESTAMP, 0, kl_row_page_score, out, err);
  kl_buf_free(&sql);
  kl_arena_free(a);
  return ret;
}
