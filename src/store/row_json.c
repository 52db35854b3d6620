/* row_json.c: the JSON writers of trace, observation and score rows, for both backends.
 *
 * One definition of what the query API prints for a stored value (row.h says why).  JSON-text
 * columns are embedded as JSON when they parse (the writer stores what callers gave it,
 * normally valid JSON) and as a JSON string otherwise, so a bad value never produces invalid
 * output; numbers print as the shortest decimal that reads back as the same double. */
#include "store/row.h"
#include "store/sqlite_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kl_row_put_num(kl_buf *b, double v) {
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

void kl_row_put_str(kl_buf *b, const kl_row *r, int col) {
  size_t n;
  const char *t = r->ops->text(r, col, &n);
  if (!t) kl_buf_puts(b, "null");
  else kl_buf_json_str(b, t, n);
}

void kl_row_put_json(kl_buf *b, const kl_row *r, int col, const char *if_null) {
  size_t n;
  const char *t = r->ops->text(r, col, &n);
  if (!t) {
    kl_buf_puts(b, if_null);
    return;
  }
  cJSON *j = n ? kl_json_parse(t, n, NULL) : NULL;
  if (j) {
    cJSON_Delete(j);
    kl_buf_append(b, t, n);
  } else {
    kl_buf_json_str(b, t, n);
  }
}

void kl_row_put_i64(kl_buf *b, const kl_row *r, int col) {
  if (r->ops->is_null(r, col)) kl_buf_puts(b, "null");
  else kl_buf_printf(b, "%" PRId64, r->ops->i64(r, col));
}

void kl_row_put_real(kl_buf *b, const kl_row *r, int col) {
  if (r->ops->is_null(r, col)) kl_buf_puts(b, "null");
  else kl_row_put_num(b, r->ops->dbl(r, col));
}

void kl_row_put_ms_between(kl_buf *b, const kl_row *r, int from_col, int to_col) {
  if (r->ops->is_null(r, to_col)) {
    kl_buf_puts(b, "null");
    return;
  }
  int64_t d = r->ops->i64(r, to_col) - r->ops->i64(r, from_col);
  kl_row_put_num(b, (double)d / 1e6);
}

void kl_row_put_iso(kl_buf *b, const kl_row *r, int col) {
  if (r->ops->is_null(r, col)) {
    kl_buf_puts(b, "null");
    return;
  }
  char ts[32];
  kl_time_iso(r->ops->i64(r, col), ts);
  kl_buf_printf(b, "\"%s\"", ts);
}

/* ---- rows ---- */

void kl_row_put_trace(kl_buf *b, const kl_row *r) {
  kl_buf_puts(b, "\"id\":");
  kl_row_put_str(b, r, TC_ID);
  kl_buf_puts(b, ",\"timestamp\":");
  kl_row_put_iso(b, r, TC_START);
  kl_buf_puts(b, ",\"name\":");
  kl_row_put_str(b, r, TC_NAME);
  kl_buf_puts(b, ",\"user_id\":");
  kl_row_put_str(b, r, TC_USER);
  kl_buf_puts(b, ",\"session_id\":");
  kl_row_put_str(b, r, TC_SESSION);
  kl_buf_puts(b, ",\"tags\":");
  kl_row_put_json(b, r, TC_TAGS, "[]");
  kl_buf_puts(b, ",\"model\":");
  kl_row_put_str(b, r, TC_MODEL);
  kl_buf_printf(b, ",\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cost_usd\":", r->ops->i64(r, TC_IN),
                r->ops->i64(r, TC_OUT));
  kl_row_put_real(b, r, TC_COST);
  kl_buf_puts(b, ",\"latency_ms\":");
  kl_row_put_ms_between(b, r, TC_START, TC_END);
  int64_t errors = r->ops->i64(r, TC_ERR), mask = r->ops->i64(r, TC_LEVELS);
  /* the most severe level present; a trace without observations (a bare trace record) is DEFAULT */
  const char *level = (errors > 0 || (mask & KL_LEVEL_ERROR)) ? "ERROR"
                      : (mask & KL_LEVEL_WARNING)             ? "WARNING"
                      : (mask & KL_LEVEL_DEFAULT) || !mask    ? "DEFAULT"
                                                              : "DEBUG";
  kl_buf_printf(b, ",\"status\":\"%s\",\"observation_count\":%" PRId64 ",\"level\":\"%s\"",
                errors > 0 ? "error" : "ok", r->ops->i64(r, TC_NOBS), level);
}

void kl_row_put_obs(kl_buf *b, const kl_row *r, bool ext) {
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
      case 's': kl_row_put_str(b, r, k[i].col); break;
      case 'j': kl_row_put_json(b, r, k[i].col, "null"); break;
      case 'i': kl_row_put_i64(b, r, k[i].col); break;
      default: kl_row_put_iso(b, r, k[i].col); break;
    }
  }
  /* usage: the stored bucket map, or one built from the fixed buckets */
  kl_buf_puts(b, ",\"usage\":");
  if (!r->ops->is_null(r, OC_USAGE)) {
    kl_row_put_json(b, r, OC_USAGE, "null");
  } else {
    kl_buf_printf(b,
                  "{\"input\":%" PRId64 ",\"input_cached\":%" PRId64 ",\"input_cache_write\":%" PRId64
                  ",\"output\":%" PRId64 ",\"output_reasoning\":%" PRId64 "}",
                  r->ops->i64(r, OC_U_IN), r->ops->i64(r, OC_U_CACHED), r->ops->i64(r, OC_U_CWRITE), r->ops->i64(r, OC_U_OUT),
                  r->ops->i64(r, OC_U_REASON));
  }
  kl_buf_printf(b, ",\"usage_estimated\":%s,\"cost_usd\":", r->ops->i64(r, OC_U_EST) ? "true" : "false");
  kl_row_put_real(b, r, OC_COST_USD);
  kl_buf_puts(b, ",\"latency_ms\":");
  kl_row_put_ms_between(b, r, OC_START, OC_END);
  kl_buf_puts(b, ",\"ttft_ms\":");
  kl_row_put_ms_between(b, r, OC_START, OC_CSTART);
  if (ext) {
    kl_buf_puts(b, ",\"version\":");
    kl_row_put_str(b, r, OC_VERSION);
    kl_buf_puts(b, ",\"prompt_name\":");
    kl_row_put_str(b, r, OC_PROMPT_NAME);
    kl_buf_puts(b, ",\"prompt_version\":");
    kl_row_put_i64(b, r, OC_PROMPT_VERSION);
  }
  kl_buf_putc(b, '}');
}

void kl_row_put_score_fields(kl_buf *b, const kl_row *r) {
  static const char *const keys[] = {"id", "trace_id", "observation_id", "session_id", "dataset_run_id", "name"};
  for (int i = 0; i < 6; i++) {
    kl_buf_printf(b, "%s\"%s\":", i ? "," : "", keys[i]);
    kl_row_put_str(b, r, i);
  }
  kl_buf_puts(b, ",\"value\":");
  kl_row_put_real(b, r, 6); /* null when NULL or not finite */
  static const char *const more[] = {"string_value", "data_type", "source", "comment", "config_id", "environment"};
  for (int i = 0; i < 6; i++) {
    kl_buf_printf(b, ",\"%s\":", more[i]);
    kl_row_put_str(b, r, 7 + i);
  }
  kl_buf_puts(b, ",\"metadata\":");
  kl_row_put_json(b, r, 13, "null");
  char ts[32];
  kl_time_iso(r->ops->i64(r, SC_TIMESTAMP), ts);
  kl_buf_printf(b, ",\"timestamp\":\"%s\"", ts);
}

void kl_row_put_score(kl_buf *b, const kl_row *r) {
  kl_buf_putc(b, '{');
  kl_row_put_score_fields(b, r);
  kl_buf_putc(b, '}');
}

void kl_row_put_group(kl_buf *b, const kl_row *r, bool sessions, bool detail) {
  kl_buf_puts(b, "\"id\":");
  kl_row_put_str(b, r, GC_ID);
  kl_buf_puts(b, ",\"first_seen\":");
  kl_row_put_iso(b, r, GC_FIRST);
  kl_buf_puts(b, ",\"last_seen\":");
  kl_row_put_iso(b, r, GC_LAST);
  kl_buf_printf(b, ",\"%s\":%" PRId64, detail ? "trace_count" : "traces", r->ops->i64(r, GC_TRACES));
  if (!sessions) kl_buf_printf(b, ",\"sessions\":%" PRId64, r->ops->i64(r, GC_MORE));
  kl_buf_printf(b, ",\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cost_usd\":", r->ops->i64(r, GC_IN),
                r->ops->i64(r, GC_OUT));
  kl_row_put_real(b, r, GC_COST);
  if (sessions) {
    kl_buf_puts(b, ",\"latency_ms_total\":");
    kl_row_put_num(b, r->ops->dbl(r, GC_LATENCY) / 1e6);
  }
  kl_buf_printf(b, ",\"errors\":%" PRId64, r->ops->i64(r, GC_ERRORS));
  if (sessions) { /* the databases aggregate them in no promised order: sorted here */
    size_t n;
    kl_buf_puts(b, ",\"user_ids\":");
    kl_put_sorted_strings(b, r->ops->text(r, GC_MORE, &n), "[]");
  }
}

/* ---- list pages' rows (kl_row_page_fn) ---- */

void kl_row_page_trace(kl_buf *b, const kl_row *r, void *ud) {
  (void)ud;
  kl_row_put_trace(b, r);
}

void kl_row_page_score(kl_buf *b, const kl_row *r, void *ud) {
  (void)ud;
  kl_row_put_score_fields(b, r);
}

/* The observation list's row: a summary (no JSON bodies), so a page stays small. */
void kl_row_page_obs(kl_buf *b, const kl_row *r, void *ud) {
  (void)ud;
  static const struct { const char *key; int col; } s[] = {
      {"id", OL_ID}, {"trace_id", OL_TRACE}, {"parent_id", OL_PARENT}, {"type", OL_TYPE}, {"name", OL_NAME}};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    kl_buf_printf(b, "%s\"%s\":", i ? "," : "", s[i].key);
    kl_row_put_str(b, r, s[i].col);
  }
  kl_buf_puts(b, ",\"start\":");
  kl_row_put_iso(b, r, OL_START);
  kl_buf_puts(b, ",\"end\":");
  kl_row_put_iso(b, r, OL_END);
  kl_buf_puts(b, ",\"model\":");
  kl_row_put_str(b, r, OL_MODEL);
  kl_buf_puts(b, ",\"level\":");
  kl_row_put_str(b, r, OL_LEVEL);
  kl_buf_puts(b, ",\"status_message\":");
  kl_row_put_str(b, r, OL_STATUS);
  kl_buf_puts(b, ",\"input_tokens\":");
  kl_row_put_i64(b, r, OL_IN);
  kl_buf_puts(b, ",\"output_tokens\":");
  kl_row_put_i64(b, r, OL_OUT);
  kl_buf_puts(b, ",\"cost_usd\":");
  kl_row_put_real(b, r, OL_COST);
  kl_buf_puts(b, ",\"latency_ms\":");
  kl_row_put_ms_between(b, r, OL_START, OL_END);
  kl_buf_puts(b, ",\"ttft_ms\":");
  kl_row_put_ms_between(b, r, OL_START, OL_CSTART);
}
