/* pg_put.c: the PostgreSQL backend's JSON output helpers, row writers and page writer.
 *
 * Every function here mirrors one in sqlite_read.c / ingest_read.c / query_util.c and must
 * produce the same bytes for the same stored value, since the API does not know which
 * backend answers.  What differs is only how a value is read: libpq hands every column over
 * as text (we never ask for binary results), so integers are parsed with strtoll and doubles
 * with strtod.  PostgreSQL prints float8 with the shortest text that round-trips
 * (extra_float_digits >= 1, the default since 12), so strtod recovers the exact double and
 * kl_pg_put_num then prints it exactly as kl_sqlite_put_num does.
 *
 * The column layouts (KL_OBS_COLS, KL_TRACE_ROW_COLS, KL_SCORE_COLS and their enums) are
 * sqlite_int.h's: both schemas use the same column names, so the select lists are shared. */
#include "store/pg_int.h"
#include "store/sqlite_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool isnull(const PGresult *r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

static int64_t i64(const PGresult *r, int row, int col) {
  return isnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void kl_pg_put_num(kl_buf *b, double v) {
  if (!isfinite(v)) {
    kl_buf_puts(b, "null");
    return;
  }
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  kl_buf_puts(b, tmp);
}

void kl_pg_put_str(kl_buf *b, const PGresult *r, int row, int col) {
  if (isnull(r, row, col)) kl_buf_puts(b, "null");
  else kl_buf_json_str(b, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

void kl_pg_put_json(kl_buf *b, const PGresult *r, int row, int col, const char *if_null) {
  if (isnull(r, row, col)) {
    kl_buf_puts(b, if_null);
    return;
  }
  const char *t = PQgetvalue(r, row, col);
  size_t n = (size_t)PQgetlength(r, row, col);
  cJSON *j = n ? kl_json_parse(t, n, NULL) : NULL;
  if (j) {
    cJSON_Delete(j);
    kl_buf_append(b, t, n);
  } else {
    kl_buf_json_str(b, t, n);
  }
}

void kl_pg_put_i64(kl_buf *b, const PGresult *r, int row, int col) {
  if (isnull(r, row, col)) kl_buf_puts(b, "null");
  else kl_buf_printf(b, "%" PRId64, i64(r, row, col));
}

void kl_pg_put_real(kl_buf *b, const PGresult *r, int row, int col) {
  if (isnull(r, row, col)) kl_buf_puts(b, "null");
  else kl_pg_put_num(b, strtod(PQgetvalue(r, row, col), NULL));
}

void kl_pg_put_ms_between(kl_buf *b, const PGresult *r, int row, int from_col, int to_col) {
  if (isnull(r, row, to_col)) {
    kl_buf_puts(b, "null");
    return;
  }
  int64_t d = i64(r, row, to_col) - i64(r, row, from_col);
  kl_pg_put_num(b, (double)d / 1e6);
}

void kl_pg_put_iso(kl_buf *b, const PGresult *r, int row, int col) {
  if (isnull(r, row, col)) {
    kl_buf_puts(b, "null");
    return;
  }
  char ts[32];
  kl_time_iso(i64(r, row, col), ts);
  kl_buf_printf(b, "\"%s\"", ts);
}

/* ---- rows ---- */

void kl_pg_put_trace_row(kl_buf *b, const PGresult *r, int row) {
  kl_buf_puts(b, "\"id\":");
  kl_pg_put_str(b, r, row, TC_ID);
  kl_buf_puts(b, ",\"timestamp\":");
  kl_pg_put_iso(b, r, row, TC_START);
  kl_buf_puts(b, ",\"name\":");
  kl_pg_put_str(b, r, row, TC_NAME);
  kl_buf_puts(b, ",\"user_id\":");
  kl_pg_put_str(b, r, row, TC_USER);
  kl_buf_puts(b, ",\"session_id\":");
  kl_pg_put_str(b, r, row, TC_SESSION);
  kl_buf_puts(b, ",\"tags\":");
  kl_pg_put_json(b, r, row, TC_TAGS, "[]");
  kl_buf_puts(b, ",\"model\":");
  kl_pg_put_str(b, r, row, TC_MODEL);
  kl_buf_printf(b, ",\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cost_usd\":", i64(r, row, TC_IN),
                i64(r, row, TC_OUT));
  kl_pg_put_real(b, r, row, TC_COST);
  kl_buf_puts(b, ",\"latency_ms\":");
  kl_pg_put_ms_between(b, r, row, TC_START, TC_END);
  int64_t errors = i64(r, row, TC_ERR), mask = i64(r, row, TC_LEVELS);
  /* the most severe level present; a trace without observations (a bare trace record) is DEFAULT */
  const char *level = (errors > 0 || (mask & KL_LEVEL_ERROR)) ? "ERROR"
                      : (mask & KL_LEVEL_WARNING)             ? "WARNING"
                      : (mask & KL_LEVEL_DEFAULT) || !mask    ? "DEFAULT"
                                                              : "DEBUG";
  kl_buf_printf(b, ",\"status\":\"%s\",\"observation_count\":%" PRId64 ",\"level\":\"%s\"",
                errors > 0 ? "error" : "ok", i64(r, row, TC_NOBS), level);
}

void kl_pg_put_obs(kl_buf *b, const PGresult *r, int row, bool ext) {
  static const struct { const char *key; int col; char kind; } k[] = {
      /* s: text, j: JSON text, i: integer or null, t: ISO time of an ns column */
      {"id", OC_ID, 's'}, {"trace_id", OC_TRACE, 's'}, {"parent_id", OC_PARENT, 's'},
      {"project_id", OC_PROJECT, 's'}, {"type", OC_TYPE, 's'}, {"name", OC_NAME, 's'},
      {"level", OC_LEVEL, 's'}, {"status_message", OC_STATUS_MSG, 's'}, {"http_status", OC_HTTP, 'i'},
      {"start_ns", OC_START, 'i'}, {"end_ns", OC_END, 'i'}, {"completion_start_ns", OC_CSTART, 'i'},
      {"start_time", OC_START, 't'}, {"end_time", OC_END, 't'}, {"completion_start_time", OC_CSTART, 't'},
      {"model", OC_MODEL, 's'}, {"provider", OC_PROVIDER, 's'}, {"upstream_model", OC_UPMODEL, 's'},
      {"model_params", OC_PARAMS, 'j'}, {"input", OC_INPUT, 'j'}, {"output", OC_OUTPUT, 'j'},
      {"metadata", OC_METADATA, 'j'}, {"finish_reason", OC_FINISH, 's'},
      {"usage_input", OC_U_IN, 'i'}, {"usage_input_cached", OC_U_CACHED, 'i'},
      {"usage_input_cache_write", OC_U_CWRITE, 'i'}, {"usage_output", OC_U_OUT, 'i'},
      {"usage_output_reasoning", OC_U_REASON, 'i'}, {"cost", OC_COST, 'j'},
      {"trace_name", OC_TRACE_NAME, 's'}, {"user_id", OC_USER, 's'}, {"session_id", OC_SESSION, 's'},
      {"tags", OC_TAGS, 'j'}, {"environment", OC_ENV, 's'}, {"release", OC_RELEASE, 's'},
  };
  kl_buf_putc(b, '{');
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    kl_buf_printf(b, "%s\"%s\":", i ? "," : "", k[i].key);
    switch (k[i].kind) {
      case 's': kl_pg_put_str(b, r, row, k[i].col); break;
      case 'j': kl_pg_put_json(b, r, row, k[i].col, "null"); break;
      case 'i': kl_pg_put_i64(b, r, row, k[i].col); break;
      default: kl_pg_put_iso(b, r, row, k[i].col); break;
    }
  }
  /* usage: the stored bucket map, or one built from the fixed buckets */
  kl_buf_puts(b, ",\"usage\":");
  if (!isnull(r, row, OC_USAGE)) {
    kl_pg_put_json(b, r, row, OC_USAGE, "null");
  } else {
    kl_buf_printf(b,
                  "{\"input\":%" PRId64 ",\"input_cached\":%" PRId64 ",\"input_cache_write\":%" PRId64
                  ",\"output\":%" PRId64 ",\"output_reasoning\":%" PRId64 "}",
                  i64(r, row, OC_U_IN), i64(r, row, OC_U_CACHED), i64(r, row, OC_U_CWRITE), i64(r, row, OC_U_OUT),
                  i64(r, row, OC_U_REASON));
  }
  kl_buf_printf(b, ",\"usage_estimated\":%s,\"cost_usd\":", i64(r, row, OC_U_EST) ? "true" : "false");
  kl_pg_put_real(b, r, row, OC_COST_USD);
  kl_buf_puts(b, ",\"latency_ms\":");
  kl_pg_put_ms_between(b, r, row, OC_START, OC_END);
  kl_buf_puts(b, ",\"ttft_ms\":");
  kl_pg_put_ms_between(b, r, row, OC_START, OC_CSTART);
  if (ext) {
    kl_buf_puts(b, ",\"version\":");
    kl_pg_put_str(b, r, row, OC_VERSION);
    kl_buf_puts(b, ",\"prompt_name\":");
    kl_pg_put_str(b, r, row, OC_PROMPT_NAME);
    kl_buf_puts(b, ",\"prompt_version\":");
    kl_pg_put_i64(b, r, row, OC_PROMPT_VERSION);
  }
  kl_buf_putc(b, '}');
}

void kl_pg_put_score(kl_buf *b, const PGresult *r, int row) {
  static const char *const keys[] = {"id", "trace_id", "observation_id", "session_id", "dataset_run_id", "name"};
  kl_buf_putc(b, '{');
  for (int i = 0; i < 6; i++) {
    kl_buf_printf(b, "%s\"%s\":", i ? "," : "", keys[i]);
    kl_pg_put_str(b, r, row, i);
  }
  kl_buf_puts(b, ",\"value\":");
  kl_pg_put_real(b, r, row, 6); /* null when NULL or not finite, as ingest_read.c */
  static const char *const more[] = {"string_value", "data_type", "source", "comment", "config_id", "environment"};
  for (int i = 0; i < 6; i++) {
    kl_buf_printf(b, ",\"%s\":", more[i]);
    kl_pg_put_str(b, r, row, 7 + i);
  }
  kl_buf_puts(b, ",\"metadata\":");
  kl_pg_put_json(b, r, row, 13, "null");
  char ts[32];
  kl_time_iso(i64(r, row, SC_TIMESTAMP), ts);
  kl_buf_printf(b, ",\"timestamp\":\"%s\"}", ts);
}

/* ---- pages and plumbing ---- */

void kl_pg_page(const PGresult *r, int limit, bool asc, int key_ns, int key_id, kl_pg_row_fn put, void *ud,
                kl_buf *out) {
  int n = PQntuples(r), rows = n > limit ? limit : n;
  kl_buf_puts(out, "{\"data\":[");
  for (int i = 0; i < rows; i++) {
    if (i) kl_buf_putc(out, ',');
    kl_buf_putc(out, '{');
    put(out, r, i, ud);
    kl_buf_putc(out, '}');
  }
  kl_buf_puts(out, "],\"next_cursor\":");
  const char *last_id = rows ? PQgetvalue(r, rows - 1, key_id) : "";
  if (n > limit && rows && last_id[0]) kl_cursor_put(out, asc, i64(r, rows - 1, key_ns), last_id);
  else kl_buf_puts(out, "null");
  kl_buf_putc(out, '}');
}

PGresult *kl_pg_query(kl_pg *p, const char *sql, const kl_pg_params *ps, kl_err *err) {
  kl_pgconn *c = kl_pg_acquire(p, err);
  if (!c) return NULL;
  PGresult *r = kl_pg_exec(c->c, sql, ps, err);
  kl_pg_release(p, c);
  return r;
}
