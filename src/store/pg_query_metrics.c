/* pg_query_metrics.c: metrics (counts, errors, tokens, cost, latency/TTFT percentiles per
 * time bucket and group) for the PostgreSQL backend; the answer query_metrics.c gives.
 *
 * SQLite has no percentile aggregate, so query_metrics.c streams every row to C.  PostgreSQL
 * has one, and aggregating in the server avoids shipping a million rows as text: one
 * statement groups by (bucket, group) and computes the nearest-rank percentiles with
 * percentile_disc(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY ...), one sort per measure
 * for its three ranks.  percentile_disc is nearest-rank: it returns the value at 1-based rank
 * ceil(p * n), which is query_metrics.c's (p*n + 99) / 100 (the float8 literals 0.95 and
 * 0.99 lie just below the decimal values, so p*n never rounds above an exact integer rank).
 * NULLs (open rows, rows without a first token) are skipped by percentile_disc, as C skips
 * them.
 *
 * The cost sum is a float sum, so its last bits depend on the order of the additions, which
 * differs from SQLite's scan order; we do not force that order (SUM(.. ORDER BY ..) was a
 * 16-key sort per group: 1.6 s -> 0.5 s over 750k generations), so the two backends may
 * differ by an ulp or so (test_store_pg_parity compares numbers to 1e-12).  The covering
 * index observations_gen (migration 3) lets the scan skip the rows' input/output.
 * Groups are ordered by bucket, then group with null first, then bytes (COLLATE "C" =
 * strcmp).
 *
 * Tags group: the trace's tags denormalised on the observation, one row per tag (LEFT JOIN so
 * an untagged observation lands in group null); the column is cast to json only when it is
 * an array of strings (KL_PG_TAGS_RE). */
#include "store/pg_int.h"
#include "store/sqlite_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_BUCKET, M_GROUP, M_REQ, M_ERR, M_IN, M_OUT, M_COST, M_LAT, M_TTFT };

/* "{a,b,c}" -> v[0..2]; false when NULL */
static bool parse_pcts(const PGresult *r, int row, int col, int64_t v[3]) {
  if (PQgetisnull(r, row, col)) return false;
  const char *s = PQgetvalue(r, row, col);
  if (*s == '{') s++;
  for (int i = 0; i < 3; i++) {
    char *end;
    v[i] = strtoll(s, &end, 10);
    s = *end == ',' ? end + 1 : end;
  }
  return true;
}

static void put_pcts(kl_buf *b, const char *key, const PGresult *r, int row, int col) {
  int64_t v[3];
  bool have = parse_pcts(r, row, col, v);
  static const char *const suf[] = {"p50_ms", "p95_ms", "p99_ms"};
  for (int i = 0; i < 3; i++) {
    kl_buf_printf(b, ",\"%s_%s\":", key, suf[i]);
    if (have) kl_pg_put_num(b, (double)v[i] / 1e6);
    else kl_buf_puts(b, "null");
  }
}

int kl_pg_metrics(void *be, const kl_metrics_filter *f, kl_buf *out, kl_err *err) {
  kl_pg *p = be;
  static const char *const gcol[] = {[KL_GROUP_NONE] = "NULL::text", [KL_GROUP_MODEL] = "o.model",
                                     [KL_GROUP_USER] = "o.user_id", [KL_GROUP_TAG] = "j.value",
                                     [KL_GROUP_NAME] = "o.name"};
  bool gen = !(f->type && *f->type) || !strcmp(f->type, KL_OBS_GENERATION) || !strcmp(f->type, KL_OBS_EMBEDDING);
  kl_arena *a = kl_arena_new(512);
  kl_pg_params ps = {.a = a};
  kl_buf sql = KL_BUF_INIT;
  int64_t w = kl_bucket_ns(f->bucket);
  int pp = kl_pg_p_text(&ps, f->project_id && *f->project_id ? f->project_id : "default");
  kl_buf_puts(&sql, "SELECT ");
  if (w) {
    int pw = kl_pg_p_i64(&ps, w);
    kl_buf_printf(&sql, "o.start_ns-((o.start_ns%%$%d)+$%d)%%$%d", pw, pw, pw);
  } else {
    kl_buf_puts(&sql, "0::bigint");
  }
  kl_buf_printf(&sql,
                ", %s, COUNT(*), COUNT(*) FILTER (WHERE o.level='ERROR'),"
                " SUM(o.usage_input+o.usage_input_cached+o.usage_input_cache_write),"
                " SUM(o.usage_output+o.usage_output_reasoning), SUM(o.cost_usd),"
                " percentile_disc(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY o.end_ns-o.start_ns),"
                " percentile_disc(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY o.completion_start_ns-o.start_ns)"
                " FROM observations o",
                gcol[f->group_by]);
  if (f->group_by == KL_GROUP_TAG)
    kl_buf_printf(&sql,
                  " LEFT JOIN LATERAL json_array_elements_text(CASE WHEN o.tags ~ $%d THEN o.tags::json END)"
                  " j(value) ON true",
                  kl_pg_p_text(&ps, KL_PG_TAGS_RE));
  kl_buf_printf(&sql, " WHERE o.project_id=$%d", pp);
  if (gen) kl_buf_puts(&sql, " AND o.type IN ('GENERATION','EMBEDDING')"); /* observations_gen's own WHERE */
  if (f->type && *f->type) kl_buf_printf(&sql, " AND o.type=$%d", kl_pg_p_text(&ps, f->type));
  if (f->from_ns) kl_buf_printf(&sql, " AND o.start_ns>=$%d", kl_pg_p_i64(&ps, f->from_ns));
  if (f->to_ns) kl_buf_printf(&sql, " AND o.start_ns<$%d", kl_pg_p_i64(&ps, f->to_ns));
  kl_buf_printf(&sql, " GROUP BY 1, 2 ORDER BY 1, %s COLLATE \"C\" NULLS FIRST", gcol[f->group_by]);
  /* Incremental sort off for this statement only: grouped by (bucket, tag) the planner sorted
   * 750k rows by bucket in the workers, then again by tag one bucket at a time (920 ms);
   * without it, one parallel sort by both keys (590 ms).  The lists need it (their
   * (start_ns DESC, id DESC) order comes from an index plus a small incremental sort), so it is
   * not a connection setting. */
  kl_pgconn *c = kl_pg_acquire(p, err);
  PGresult *r = NULL;
  if (c) {
    if (kl_pg_run(c->c, "SET enable_incremental_sort = off", NULL, err) == 0) {
      r = kl_pg_exec(c->c, sql.data, &ps, err);
      kl_pg_run(c->c, "RESET enable_incremental_sort", NULL, NULL);
    }
    kl_pg_release(p, c);
  }
  kl_buf_free(&sql);
  kl_arena_free(a);
  if (!r) return -1;
  bool grouped = f->group_by != KL_GROUP_NONE;
  kl_buf_puts(out, "{\"data\":[");
  for (int i = 0; i < PQntuples(r); i++) {
    if (i) kl_buf_putc(out, ',');
    kl_buf_puts(out, "{\"bucket\":");
    if (w) kl_pg_put_iso(out, r, i, M_BUCKET);
    else kl_buf_puts(out, "null");
    kl_buf_puts(out, ",\"group\":");
    if (grouped) kl_pg_put_str(out, r, i, M_GROUP);
    else kl_buf_puts(out, "null");
    int64_t req = kl_pg_i64(r, i, M_REQ), errs = kl_pg_i64(r, i, M_ERR);
    kl_buf_printf(out, ",\"requests\":%" PRId64 ",\"errors\":%" PRId64 ",\"error_rate\":", req, errs);
    kl_pg_put_num(out, (double)errs / (double)req);
    kl_buf_printf(out, ",\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cost_usd\":",
                  kl_pg_i64(r, i, M_IN), kl_pg_i64(r, i, M_OUT));
    kl_pg_put_real(out, r, i, M_COST);
    put_pcts(out, "latency", r, i, M_LAT);
    put_pcts(out, "ttft", r, i, M_TTFT);
    kl_buf_putc(out, '}');
  }
  kl_buf_puts(out, "]}");
  PQclear(r);
  return 0;
}
