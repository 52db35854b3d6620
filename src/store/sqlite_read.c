/* sqlite_read.c: one trace with its observations and scores, as JSON, and the JSON output
 * helpers every read file shares.  (The lists are query_list.c's.)
 *
 * get: the trace row, then its observations by start_ns.  JSON-text columns are embedded
 * as JSON when they parse (the writer stores what callers gave it, normally valid JSON) and
 * as a JSON string otherwise, so a bad value never produces invalid output.  The trace's
 * "metadata" is the one a trace record set, else its root observation's (first without a
 * parent_id), {} when none; "scores" are the trace's (ingest_read.c). */
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

/* ---- JSON output helpers ---- */

/* Shortest decimal that reads back as the same double; null when not finite. */
void kl_sqlite_put_num(kl_buf *b, double v) {
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

void kl_sqlite_put_str(kl_buf *b, sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  if (!t) kl_buf_puts(b, "null");
  else kl_buf_json_str(b, (const char *)t, (size_t)sqlite3_column_bytes(st, col));
}

void kl_sqlite_put_json(kl_buf *b, sqlite3_stmt *st, int col, const char *if_null) {
  const char *t = (const char *)sqlite3_column_text(st, col);
  if (!t) {
    kl_buf_puts(b, if_null);
    return;
  }
  size_t n = (size_t)sqlite3_column_bytes(st, col);
  cJSON *j = n ? kl_json_parse(t, n, NULL) : NULL;
  if (j) {
    cJSON_Delete(j);
    kl_buf_append(b, t, n);
  } else {
    kl_buf_json_str(b, t, n);
  }
}

void kl_sqlite_put_i64(kl_buf *b, sqlite3_stmt *st, int col) {
  if (sqlite3_column_type(st, col) == SQLITE_NULL) kl_buf_puts(b, "null");
  else kl_buf_printf(b, "%" PRId64, (int64_t)sqlite3_column_int64(st, col));
}

void kl_sqlite_put_real(kl_buf *b, sqlite3_stmt *st, int col) {
  if (sqlite3_column_type(st, col) == SQLITE_NULL) kl_buf_puts(b, "null");
  else kl_sqlite_put_num(b, sqlite3_column_double(st, col));
}

/* (to - from) / 1e6 ms, or null when `to` is unknown. */
void kl_sqlite_put_ms_between(kl_buf *b, sqlite3_stmt *st, int from_col, int to_col) {
  if (sqlite3_column_type(st, to_col) == SQLITE_NULL) {
    kl_buf_puts(b, "null");
    return;
  }
  int64_t d = (int64_t)sqlite3_column_int64(st, to_col) - (int64_t)sqlite3_column_int64(st, from_col);
  kl_sqlite_put_num(b, (double)d / 1e6);
}

void kl_sqlite_put_iso(kl_buf *b, sqlite3_stmt *st, int col) {
  if (sqlite3_column_type(st, col) == SQLITE_NULL) {
    kl_buf_puts(b, "null");
    return;
  }
  char ts[32];
  kl_time_iso(sqlite3_column_int64(st, col), ts);
  kl_buf_printf(b, "\"%s\"", ts);
}

int kl_level_bit(const char *level) {
  if (!level) return KL_LEVEL_DEFAULT;
  if (!strcmp(level, "ERROR")) return KL_LEVEL_ERROR;
  if (!strcmp(level, "WARNING")) return KL_LEVEL_WARNING;
  if (!strcmp(level, "DEBUG")) return KL_LEVEL_DEBUG;
  return KL_LEVEL_DEFAULT;
}

void kl_sqlite_put_trace_row(kl_buf *b, sqlite3_stmt *st) {
  kl_buf_puts(b, "\"id\":");
  kl_sqlite_put_str(b, st, TC_ID);
  kl_buf_puts(b, ",\"timestamp\":");
  kl_sqlite_put_iso(b, st, TC_START);
  kl_buf_puts(b, ",\"name\":");
  kl_sqlite_put_str(b, st, TC_NAME);
  kl_buf_puts(b, ",\"user_id\":");
  kl_sqlite_put_str(b, st, TC_USER);
  kl_buf_puts(b, ",\"session_id\":");
  kl_sqlite_put_str(b, st, TC_SESSION);
  kl_buf_puts(b, ",\"tags\":");
  kl_sqlite_put_json(b, st, TC_TAGS, "[]");
  kl_buf_puts(b, ",\"model\":");
  kl_sqlite_put_str(b, st, TC_MODEL);
  kl_buf_printf(b, ",\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cost_usd\":",
                (int64_t)sqlite3_column_int64(st, TC_IN), (int64_t)sqlite3_column_int64(st, TC_OUT));
  kl_sqlite_put_real(b, st, TC_COST);
  kl_buf_puts(b, ",\"latency_ms\":");
  kl_sqlite_put_ms_between(b, st, TC_START, TC_END);
  int64_t errors = sqlite3_column_int64(st, TC_ERR), mask = sqlite3_column_int64(st, TC_LEVELS);
  /* the most severe level present; a trace without observations (a bare trace record) is DEFAULT */
  const char *level = (errors > 0 || (mask & KL_LEVEL_ERROR)) ? "ERROR"
                      : (mask & KL_LEVEL_WARNING)             ? "WARNING"
                      : (mask & KL_LEVEL_DEFAULT) || !mask    ? "DEFAULT"
                                                              : "DEBUG";
  kl_buf_printf(b, ",\"status\":\"%s\",\"observation_count\":%" PRId64 ",\"level\":\"%s\"",
                errors > 0 ? "error" : "ok", (int64_t)sqlite3_column_int64(st, TC_NOBS), level);
}

/* ---- get ---- */

void kl_sqlite_put_obs(kl_buf *b, sqlite3_stmt *st, bool ext) {
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
      case 's': kl_sqlite_put_str(b, st, k[i].col); break;
      case 'j': kl_sqlite_put_json(b, st, k[i].col, "null"); break;
      case 'i': kl_sqlite_put_i64(b, st, k[i].col); break;
      default: kl_sqlite_put_iso(b, st, k[i].col); break;
    }
  }
  /* usage: the stored bucket map, or one built from the fixed buckets */
  kl_buf_puts(b, ",\"usage\":");
  if (sqlite3_column_type(st, OC_USAGE) != SQLITE_NULL) {
    kl_sqlite_put_json(b, st, OC_USAGE, "null");
  } else {
    kl_buf_printf(b,
                  "{\"input\":%" PRId64 ",\"input_cached\":%" PRId64 ",\"input_cache_write\":%" PRId64
                  ",\"output\":%" PRId64 ",\"output_reasoning\":%" PRId64 "}",
                  (int64_t)sqlite3_column_int64(st, OC_U_IN), (int64_t)sqlite3_column_int64(st, OC_U_CACHED),
                  (int64_t)sqlite3_column_int64(st, OC_U_CWRITE), (int64_t)sqlite3_column_int64(st, OC_U_OUT),
                  (int64_t)sqlite3_column_int64(st, OC_U_REASON));
  }
  kl_buf_printf(b, ",\"usage_estimated\":%s,\"cost_usd\":", sqlite3_column_int(st, OC_U_EST) ? "true" : "false");
  kl_sqlite_put_real(b, st, OC_COST_USD);
  kl_buf_puts(b, ",\"latency_ms\":");
  kl_sqlite_put_ms_between(b, st, OC_START, OC_END);
  kl_buf_puts(b, ",\"ttft_ms\":");
  kl_sqlite_put_ms_between(b, st, OC_START, OC_CSTART);
  if (ext) {
    kl_buf_puts(b, ",\"version\":");
    kl_sqlite_put_str(b, st, OC_VERSION);
    kl_buf_puts(b, ",\"prompt_name\":");
    kl_sqlite_put_str(b, st, OC_PROMPT_NAME);
    kl_buf_puts(b, ",\"prompt_version\":");
    kl_sqlite_put_i64(b, st, OC_PROMPT_VERSION);
  }
  kl_buf_putc(b, '}');
}

static int prep_once(kl_rconn *c, sqlite3_stmt **st, const char *sql, kl_err *err) {
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
  if (prep_once(c, &c->trace,
                "SELECT " KL_TRACE_ROW_COLS "," KL_TRACE_MORE_COLS " FROM traces"
                " WHERE project_id=?1 AND id=?2", err) ||
      prep_once(c, &c->obs,
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
