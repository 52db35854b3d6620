/* pg_query_group.c: sessions and users for the PostgreSQL backend, aggregated from `traces`
 * when asked, as query_group.c does on SQLite (same fields, order, cursors and limits).
 *
 * One statement per list: the groups (GROUP BY over traces; HAVING for the keyset; ORDER BY
 * last_seen DESC, id DESC; LIMIT), then, for sessions, each listed session's distinct user
 * ids by a correlated subquery over traces_session, so that list is built only for the
 * page's rows, not for every group.
 *
 * Neither backend promises a scan order, so nothing depends on one: user_ids are sorted by
 * bytes (kl_put_sorted_strings, on both backends), and the cost, a float sum, may differ
 * from SQLite's in its last bits (the parity test compares numbers to 1e-12).
 *
 * Group ids are compared and sorted with COLLATE "C" (byte order, SQLite's BINARY): these
 * orders come from a sort of the groups anyway, never from an index, so the collation costs
 * nothing and does not depend on the database's locale. */
#include "store/pg_int.h"
#include "store/sqlite_int.h"

#include <stdio.h>
#include <string.h>

static const char *proj(const char *p) { return p && *p ? p : "default"; }
static bool set(const char *s) { return s && *s; }

/* columns: sqlite_int.h's GC_ (gid, then these, then group_sql's user ids / session count) */
#define AGG_COLS                                                                                     \
  "MIN(start_ns) AS first_ns,MAX(start_ns) AS last_ns,COUNT(*),SUM(input_tokens),SUM(output_tokens)," \
  "SUM(cost_usd),COALESCE(SUM(end_ns-start_ns),0),COUNT(*) FILTER (WHERE error_count>0)"

typedef struct group_kind {
  const char *col; /* session_id | user_id */
  bool sessions;
} group_kind;
static const group_kind k_sessions = {"session_id", true};
static const group_kind k_users = {"user_id", false};

static void put_group(kl_buf *b, const kl_row *r, void *ud) {
  kl_row_put_group(b, r, ((const group_kind *)ud)->sessions, false);
}

/* The time window's conditions on traces (alias a) */
static void put_window(kl_buf *sql, const char *a, int from, int to) {
  if (from) kl_buf_printf(sql, " AND %sstart_ns>=$%d", a, from);
  if (to) kl_buf_printf(sql, " AND %sstart_ns<$%d", a, to);
}

/* "SELECT g.*[, user_ids] FROM (SELECT <col>, aggregates FROM traces WHERE <where> GROUP BY
 * <col> <tail>) g": where and tail are the caller's (tail: HAVING/ORDER/LIMIT). */
static void group_sql(kl_buf *sql, const group_kind *k, int pp, int from, int to, const char *where, const char *tail) {
  kl_buf_puts(sql, "SELECT g.*");
  if (k->sessions) { /* each user once; kl_put_sorted_strings sorts them */
    kl_buf_printf(sql,
                  ",(SELECT json_agg(DISTINCT t.user_id) FROM traces t"
                  " WHERE t.project_id=$%d AND t.session_id=g.gid AND t.user_id IS NOT NULL",
                  pp);
    put_window(sql, "t.", from, to);
    kl_buf_putc(sql, ')');
  }
  kl_buf_printf(sql, " FROM (SELECT %s AS gid," AGG_COLS "%s FROM traces WHERE project_id=$%d %s GROUP BY %s %s) g",
                k->col, k->sessions ? "" : ",COUNT(DISTINCT session_id)", pp, where, k->col, tail);
}

static int list_groups(kl_pg *p, const group_kind *k, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  kl_cursor_state cs; /* its direction is not used: groups are listed newest first */
  int limit = kl_query_list_args(f->limit, f->cursor, &cs, err);
  if (limit < 0) return -1;
  kl_arena *a = kl_arena_new(512);
  kl_pg_params ps = {.a = a};
  kl_buf where = KL_BUF_INIT, tail = KL_BUF_INIT, sql = KL_BUF_INIT;
  int pp = kl_pg_p_text(&ps, proj(f->project_id));
  int from = f->from_ns ? kl_pg_p_i64(&ps, f->from_ns) : 0, to = f->to_ns ? kl_pg_p_i64(&ps, f->to_ns) : 0;
  kl_buf_printf(&where, "AND %s IS NOT NULL", k->col);
  put_window(&where, "", from, to);
  if (k->sessions && set(f->user_id))
    kl_buf_printf(&where,
                  " AND session_id IN (SELECT session_id FROM traces WHERE project_id=$%d AND user_id=$%d"
                  " AND session_id IS NOT NULL)",
                  pp, kl_pg_p_text(&ps, f->user_id));
  if (cs.have) {
    int cn = kl_pg_p_i64(&ps, cs.ns), ci = kl_pg_p_text(&ps, cs.id);
    kl_buf_printf(&tail, "HAVING MAX(start_ns)<$%d OR (MAX(start_ns)=$%d AND %s COLLATE \"C\"<$%d)", cn, cn, k->col,
                  ci);
  }
  kl_buf_printf(&tail, " ORDER BY MAX(start_ns) DESC, %s COLLATE \"C\" DESC LIMIT $%d", k->col,
                kl_pg_p_i64(&ps, (int64_t)limit + 1));
  group_sql(&sql, k, pp, from, to, where.data, tail.data);
  kl_buf_puts(&sql, " ORDER BY g.last_ns DESC, g.gid COLLATE \"C\" DESC");
  int ret = -1;
  PGresult *r = kl_pg_query(p, sql.data, &ps, err);
  if (r) {
    kl_pg_page(r, limit, false, GC_LAST, GC_ID, put_group, (void *)k, out);
    PQclear(r);
    ret = 0;
  }
  kl_buf_free(&where);
  kl_buf_free(&tail);
  kl_buf_free(&sql);
  kl_arena_free(a);
  return ret;
}

int kl_pg_list_sessions(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  return list_groups(be, &k_sessions, f, out, err);
}

int kl_pg_list_users(void *be, const kl_group_filter *f, kl_buf *out, kl_err *err) {
  return list_groups(be, &k_users, f, out, err);
}

/* One group's aggregates and its trace rows, from one snapshot. */
static int get_group(kl_pg *p, const group_kind *k, const char *project, const char *id, kl_buf *out, kl_err *err) {
  kl_arena *a = kl_arena_new(512);
  kl_pg_params ps = {.a = a};
  kl_buf agg = KL_BUF_INIT, where = KL_BUF_INIT;
  int pp = kl_pg_p_text(&ps, project);
  kl_buf_printf(&where, "AND %s=$%d", k->col, kl_pg_p_text(&ps, id));
  group_sql(&agg, k, pp, 0, 0, where.data, "");
  char rows[300];
  snprintf(rows, sizeof rows,
           "SELECT " KL_TRACE_ROW_COLS " FROM traces WHERE project_id=$1 AND %s=$2 ORDER BY start_ns %s, id %s LIMIT %d",
           k->col, k->sessions ? "" : "DESC", k->sessions ? "" : "DESC",
           k->sessions ? KL_SESSION_TRACES_MAX : KL_USER_TRACES_MAX);
  int ret = -1;
  PGresult *ra = NULL, *rr = NULL;
  kl_pgconn *c = kl_pg_acquire(p, err);
  if (!c) goto done;
  if (kl_pg_run(c->c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, err) != 0) goto release;
  if (!(ra = kl_pg_exec(c->c, agg.data, &ps, err))) goto end_read;
  if (PQntuples(ra) == 0) {
    kl_err_set(err, 404, "%s %.80s not found", k->sessions ? "session" : "user", id);
    goto end_read;
  }
  if (!(rr = kl_pg_exec(c->c, rows, &ps, err))) goto end_read;
  kl_buf_putc(out, '{');
  kl_row row = kl_pg_row(ra, 0);
  kl_row_put_group(out, &row, k->sessions, true);
  kl_buf_puts(out, ",\"traces\":[");
  for (int i = 0; i < PQntuples(rr); i++) {
    if (i) kl_buf_putc(out, ',');
    kl_buf_putc(out, '{');
    kl_pg_put_trace_row(out, rr, i);
    kl_buf_putc(out, '}');
  }
  kl_buf_puts(out, "]}");
  ret = 0;
end_read:
  kl_pg_run(c->c, ret == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL);
release:
  kl_pg_release(p, c);
done:
  PQclear(ra);
  PQclear(rr);
  kl_buf_free(&agg);
  kl_buf_free(&where);
  kl_arena_free(a);
  return ret;
}

int kl_pg_get_session(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return get_group(be, &k_sessions, proj(project_id), id, out, err);
}

int kl_pg_get_user(void *be, const char *project_id, const char *id, kl_buf *out, kl_err *err) {
  return get_group(be, &k_users, proj(project_id), id, out, err);
}
