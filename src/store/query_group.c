/* query_group.c: sessions and users, aggregated from `traces` when asked.
 *
 * Why not tables of their own, kept by the writer like `traces`?  Every observation already
 * updates its trace row; a session row and a user row would add two more upserts per new
 * trace (and two more recomputes per replaced observation), all to serve a page that is
 * read far less often than traces are written.  The aggregation reads the partial indexes
 * traces_session / traces_user (grouped by their leading column, so GROUP BY streams without
 * a sort) and sorts only the groups; bench_query measures it over 250k traces.
 *
 * Lists are ordered by last_seen (newest first) and keyset-paginated on (last_seen, id)
 * with a HAVING on the aggregate; a session that gets a new trace between two page reads
 * moves to the front, so it may appear on two pages (it never disappears from all).
 * "errors" counts traces with an ERROR observation; latency_ms_total sums the traces'
 * durations (open traces count 0). */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <string.h>

static const char *proj(const char *p) { return p && *p ? p : "default"; }
static bool set(const char *s) { return s && *s; }

/* Aggregate columns: sqlite_int.h's GC_ (id, then these, then SESSION_EXTRA / USER_EXTRA) */
#define AGG_COLS                                                                                  \
  "MIN(start_ns),MAX(start_ns),COUNT(*),SUM(input_tokens),SUM(output_tokens),SUM(cost_usd),"      \
  "TOTAL(end_ns-start_ns),SUM(error_count>0)"
#define SESSION_EXTRA ",json_group_array(DISTINCT user_id) FILTER (WHERE user_id IS NOT NULL)"
#define USER_EXTRA ",COUNT(DISTINCT session_id)"

typedef struct group_kind {
  const char *col;    /* session_id | user_id */
  const char *index;  /* traces_session | traces_user */
  const char *extra;
  bool sessions;
} group_kind;
static const group_kind k_sessions = {"session_id", "traces_session", SESSION_EXTRA, true};
static const group_kind k_users = {"user_id", "traces_user", USER_EXTRA, false};

static void put_group(kl_buf *b, const kl_row *r, void *ud) {
  kl_row_put_group(b, r, ((const group_kind *)ud)->sessions, false);
}

static int list_groups(kl_sqlite *q, const group_kind *k, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  kl_cursor_state cs; /* its direction is not used: groups are listed newest first */
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  kl_buf sql = KL_BUF_INIT;
  /* The access path.  Reading every trace through traces_session/_user costs a random row
   * lookup each (bench_query: ~1 s for 250k traces); a plain scan of the table and a sort of
   * the rows into groups is twice as fast.  A time window reads its range of traces_start;
   * a user's sessions go through the session index (few rows). */
  const char *path = k->sessions && set(f->user_id) ? k->index : (f->from_ns || f->to_ns) ? "traces_start" : NULL;
  kl_buf_printf(&sql, "SELECT %s," AGG_COLS "%s FROM traces %s%s WHERE project_id=:p AND %s IS NOT NULL", k->col,
                k->extra, path ? "INDEXED BY " : "NOT INDEXED", path ? path : "", k->col);
  if (f->from_ns) kl_buf_puts(&sql, " AND start_ns>=:from");
  if (f->to_ns) kl_buf_puts(&sql, " AND start_ns<:to");
  if (k->sessions && set(f->user_id))
    kl_buf_puts(&sql, " AND session_id IN (SELECT session_id FROM traces INDEXED BY traces_user"
                      " WHERE project_id=:p AND user_id=:u AND session_id IS NOT NULL)");
  kl_buf_printf(&sql, " GROUP BY %s", k->col);
  if (cs.have) kl_buf_printf(&sql, " HAVING MAX(start_ns)<:cs OR (MAX(start_ns)=:cs AND %s<:cid)", k->col);
  kl_buf_printf(&sql, " ORDER BY 3 DESC, 1 DESC LIMIT :lim");
  int ret = -1;
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (c) {
    sqlite3_stmt *st = kl_rconn_stmt(c, sql.data, err);
    if (st) {
      kl_bind_text(st, ":p", proj(f->project_id));
      kl_bind_text(st, ":u", f->user_id);
      kl_bind_i64(st, ":from", f->from_ns);
      kl_bind_i64(st, ":to", f->to_ns);
      kl_bind_i64(st, ":cs", cs.ns);
      kl_bind_text(st, ":cid", cs.id);
      kl_bind_i64(st, ":lim", (int64_t)limit + 1);
      ret = kl_query_page(c, st, limit, false, GC_LAST, GC_ID, put_group, (void *)k, out, err);
    }
    kl_sqlite_release(q, c);
  }
  kl_buf_free(&sql);
  return ret;
}

int kl_sqlite_list_sessions(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  return list_groups(be, &k_sessions, f, out, err);
}

int kl_sqlite_list_users(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  return list_groups(be, &k_users, f, out, err);
}

/* One group's aggregates and its trace rows, from one snapshot. */
static int get_group(kl_sqlite *q, const group_kind *k, const char *project, const char *id, kl_buf *out,
                     kl_err *err) {
  char agg[400], rows[400];
  snprintf(agg, sizeof agg,
           "SELECT %s," AGG_COLS "%s FROM traces INDEXED BY %s WHERE project_id=?1 AND %s=?2 GROUP BY %s", k->col,
           k->extra, k->index, k->col, k->col);
  snprintf(rows, sizeof rows, "SELECT " KL_TRACE_ROW_COLS " FROM traces INDEXED BY %s WHERE project_id=?1 AND %s=?2"
           " ORDER BY start_ns %s, id %s LIMIT %d", k->index, k->col, k->sessions ? "" : "DESC",
           k->sessions ? "" : "DESC", k->sessions ? KL_SESSION_TRACES_MAX : KL_USER_TRACES_MAX);
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) return -1;
  int ret = -1;
  sqlite3_stmt *a = kl_rconn_stmt(c, agg, err), *r = a ? kl_rconn_stmt(c, rows, err) : NULL;
  if (!r) goto done;
  if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    kl_sqlite_err(c->db, SQLITE_ERROR, "begin read", err);
    goto done;
  }
  sqlite3_bind_text(a, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_text(a, 2, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(a);
  if (rc == SQLITE_DONE) {
    kl_err_set(err, 404, "%s %.80s not found", k->sessions ? "session" : "user", id);
    goto end_read;
  }
  if (rc != SQLITE_ROW) {
    kl_sqlite_err(c->db, rc, "read aggregates", err);
    goto end_read;
  }
  size_t mark = out->len;
  kl_buf_putc(out, '{');
  kl_row row = kl_sqlite_row(a);
  kl_row_put_group(out, &row, k->sessions, true);
  kl_buf_puts(out, ",\"traces\":[");
  sqlite3_bind_text(r, 1, project, -1, SQLITE_STATIC);
  sqlite3_bind_text(r, 2, id, -1, SQLITE_STATIC);
  int n = 0;
  while ((rc = sqlite3_step(r)) == SQLITE_ROW) {
    if (n++) kl_buf_putc(out, ',');
    kl_buf_putc(out, '{');
    kl_sqlite_put_trace_row(out, r);
    kl_buf_putc(out, '}');
  }
  if (rc != SQLITE_DONE) {
    kl_sqlite_err(c->db, rc, "read traces", err);
    out->len = mark;
    out->data[mark] = 0;
    goto end_read;
  }
  kl_buf_puts(out, "]}");
  ret = 0;
end_read:
  sqlite3_reset(a);
  sqlite3_reset(r);
  sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
done:
  if (a) sqlite3_clear_bindings(a);
  if (r) sqlite3_clear_bindings(r);
  kl_sqlite_release(q, c);
  return ret;
}

int kl_sqlite_get_session(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return get_group(be, &k_sessions, proj(project_id), id, out, err);
}

int kl_sqlite_get_user(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return get_group(be, &k_users, proj(project_id), id, out, err);
}
