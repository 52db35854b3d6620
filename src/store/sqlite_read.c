/* sqlite_read.c: the two read queries, answered as JSON.
 *
 * list: keyset pagination over traces ordered by (start_ns DESC, id DESC), served by the
 * index traces_start (or the user/session/model ones, whose trailing (start_ns, id) read
 * backwards gives the same order).  The cursor is the last row's key "<start_ns>:<id>",
 * hex-encoded so it is opaque and URL-safe; paging never skips or repeats a row even when
 * many traces share a start_ns.  We fetch limit+1 rows to know whether a next page exists.
 * Limit: 0 means the default 50, above 1000 is clamped to 1000, negative is a 400.
 *
 * Filters are optional, so the SQL differs per combination: the 64 variants are prepared
 * lazily, once per pooled connection, and reused.
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

#define LIST_DEFAULT 50
#define LIST_MAX 1000

enum { F_USER = 1, F_SESSION = 2, F_MODEL = 4, F_FROM = 8, F_TO = 16, F_CURSOR = 32 };

#define TRACE_ROW_COLS "id,start_ns,name,user_id,session_id,model,input_tokens,output_tokens,cost_usd,end_ns,error_count"
enum { TC_ID, TC_START, TC_NAME, TC_USER, TC_SESSION, TC_MODEL, TC_IN, TC_OUT, TC_COST, TC_END, TC_ERR,
       TC_TAGS, TC_ENV, TC_RELEASE, TC_NOBS, TC_INPUT, TC_OUTPUT, TC_METADATA, TC_VERSION };

void kl_rconn_close(kl_rconn *c) {
  if (!c) return;
  for (int i = 0; i < KL_LIST_VARIANTS; i++) sqlite3_finalize(c->list[i]);
  sqlite3_finalize(c->trace);
  sqlite3_finalize(c->obs);
  kl_sqlite_ingest_rconn_close(c);
  sqlite3_close(c->db);
  free(c);
}

/* ---- JSON output helpers ---- */

/* Shortest decimal that reads back as the same double; null when not finite. */
static void put_num(kl_buf *b, double v) {
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

static void put_col_str(kl_buf *b, sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  if (!t) kl_buf_puts(b, "null");
  else kl_buf_json_str(b, (const char *)t, (size_t)sqlite3_column_bytes(st, col));
}

static void put_col_json(kl_buf *b, sqlite3_stmt *st, int col, const char *if_null) {
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

static void put_col_i64_or_null(kl_buf *b, sqlite3_stmt *st, int col) {
  if (sqlite3_column_type(st, col) == SQLITE_NULL) kl_buf_puts(b, "null");
  else kl_buf_printf(b, "%" PRId64, (int64_t)sqlite3_column_int64(st, col));
}

static void put_col_real_or_null(kl_buf *b, sqlite3_stmt *st, int col) {
  if (sqlite3_column_type(st, col) == SQLITE_NULL) kl_buf_puts(b, "null");
  else put_num(b, sqlite3_column_double(st, col));
}

/* (to - from) / 1e6 ms, or null when `to` is unknown. */
static void put_ms_between(kl_buf *b, sqlite3_stmt *st, int from_col, int to_col) {
  if (sqlite3_column_type(st, to_col) == SQLITE_NULL) {
    kl_buf_puts(b, "null");
    return;
  }
  int64_t d = (int64_t)sqlite3_column_int64(st, to_col) - (int64_t)sqlite3_column_int64(st, from_col);
  put_num(b, (double)d / 1e6);
}

static void put_iso_col(kl_buf *b, sqlite3_stmt *st, int col) {
  if (sqlite3_column_type(st, col) == SQLITE_NULL) {
    kl_buf_puts(b, "null");
    return;
  }
  char ts[32];
  kl_time_iso(sqlite3_column_int64(st, col), ts);
  kl_buf_printf(b, "\"%s\"", ts);
}

/* The fields shared by a list row and a get_trace answer (no braces). */
static void put_trace_fields(kl_buf *b, sqlite3_stmt *st) {
  kl_buf_puts(b, "\"id\":");
  put_col_str(b, st, TC_ID);
  kl_buf_puts(b, ",\"timestamp\":");
  put_iso_col(b, st, TC_START);
  kl_buf_puts(b, ",\"name\":");
  put_col_str(b, st, TC_NAME);
  kl_buf_puts(b, ",\"user_id\":");
  put_col_str(b, st, TC_USER);
  kl_buf_puts(b, ",\"session_id\":");
  put_col_str(b, st, TC_SESSION);
  kl_buf_puts(b, ",\"model\":");
  put_col_str(b, st, TC_MODEL);
  kl_buf_printf(b, ",\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cost_usd\":",
                (int64_t)sqlite3_column_int64(st, TC_IN), (int64_t)sqlite3_column_int64(st, TC_OUT));
  put_col_real_or_null(b, st, TC_COST);
  kl_buf_puts(b, ",\"latency_ms\":");
  put_ms_between(b, st, TC_START, TC_END);
  kl_buf_printf(b, ",\"status\":\"%s\"", sqlite3_column_int64(st, TC_ERR) > 0 ? "error" : "ok");
}

/* ---- cursor: hex("<start_ns>:<id>") ---- */

static void cursor_encode(kl_buf *b, int64_t start, const char *id) {
  static const char hex[] = "0123456789abcdef";
  char raw[80];
  int n = snprintf(raw, sizeof raw, "%" PRId64 ":%.32s", start, id);
  kl_buf_putc(b, '"');
  for (int i = 0; i < n; i++) {
    kl_buf_putc(b, hex[(unsigned char)raw[i] >> 4]);
    kl_buf_putc(b, hex[(unsigned char)raw[i] & 15]);
  }
  kl_buf_putc(b, '"');
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int cursor_decode(const char *cur, int64_t *start, char id[KL_OBS_ID_MAX + 1]) {
  size_t n = strlen(cur);
  char raw[80];
  if (n == 0 || n % 2 || n / 2 >= sizeof raw) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(cur[2 * i]), lo = hexval(cur[2 * i + 1]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return -1;
    raw[i] = (char)(hi << 4 | lo);
  }
  raw[n / 2] = 0;
  char *colon = strchr(raw, ':'), *end;
  if (!colon || colon == raw) return -1;
  *colon = 0;
  errno = 0;
  long long v = strtoll(raw, &end, 10);
  if (errno || *end) return -1;
  size_t idlen = strlen(colon + 1);
  if (idlen == 0 || idlen > KL_OBS_ID_MAX) return -1;
  *start = v;
  memcpy(id, colon + 1, idlen + 1);
  return 0;
}

/* ---- list ---- */

static sqlite3_stmt *list_stmt(kl_rconn *c, int mask, kl_err *err) {
  if (c->list[mask]) return c->list[mask];
  kl_buf sql = KL_BUF_INIT;
  kl_buf_puts(&sql, "SELECT " TRACE_ROW_COLS " FROM traces WHERE project_id=:p");
  if (mask & F_USER) kl_buf_puts(&sql, " AND user_id=:u");
  if (mask & F_SESSION) kl_buf_puts(&sql, " AND session_id=:s");
  if (mask & F_MODEL) kl_buf_puts(&sql, " AND model=:m");
  if (mask & F_FROM) kl_buf_puts(&sql, " AND start_ns>=:from");
  if (mask & F_TO) kl_buf_puts(&sql, " AND start_ns<:to");
  /* the first conjunct is the index range, the second breaks ties on id */
  if (mask & F_CURSOR) kl_buf_puts(&sql, " AND start_ns<=:cs AND (start_ns<:cs OR id<:cid)");
  kl_buf_puts(&sql, " ORDER BY start_ns DESC, id DESC LIMIT :lim");
  int rc = sqlite3_prepare_v3(c->db, sql.data, -1, SQLITE_PREPARE_PERSISTENT, &c->list[mask], NULL);
  kl_buf_free(&sql);
  if (rc != SQLITE_OK) {
    kl_sqlite_err(c->db, rc, "prepare list", err);
    c->list[mask] = NULL;
  }
  return c->list[mask];
}

static void bind_named_text(sqlite3_stmt *st, const char *name, const char *v) {
  int i = sqlite3_bind_parameter_index(st, name);
  if (i) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}
static void bind_named_i64(sqlite3_stmt *st, const char *name, int64_t v) {
  int i = sqlite3_bind_parameter_index(st, name);
  if (i) sqlite3_bind_int64(st, i, v);
}

int kl_sqlite_list_traces(void *be, const kl_trace_filter *f, kl_buf *out, kl_err *err) {
  kl_sqlite *q = be;
  const char *project = f->project_id && *f->project_id ? f->project_id : "default";
  int limit = f->limit == 0 ? LIST_DEFAULT : f->limit;
  if (limit < 0) {
    kl_err_set(err, 400, "limit must be between 1 and %d", LIST_MAX);
    return -1;
  }
  if (limit > LIST_MAX) limit = LIST_MAX;
  int mask = 0;
  int64_t cstart = 0;
  char cid[KL_OBS_ID_MAX + 1] = {0};
  if (f->user_id && *f->user_id) mask |= F_USER;
  if (f->session_id && *f->session_id) mask |= F_SESSION;
  if (f->model && *f->model) mask |= F_MODEL;
  if (f->from_ns) mask |= F_FROM;
  if (f->to_ns) mask |= F_TO;
  if (f->cursor && *f->cursor) {
    if (cursor_decode(f->cursor, &cstart, cid) != 0) {
      kl_err_set(err, 400, "malformed cursor");
      return -1;
    }
    mask |= F_CURSOR;
  }
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) return -1;
  sqlite3_stmt *st = list_stmt(c, mask, err);
  if (!st) {
    kl_sqlite_release(q, c);
    return -1;
  }
  bind_named_text(st, ":p", project);
  bind_named_text(st, ":u", f->user_id);
  bind_named_text(st, ":s", f->session_id);
  bind_named_text(st, ":m", f->model);
  bind_named_i64(st, ":from", f->from_ns);
  bind_named_i64(st, ":to", f->to_ns);
  bind_named_i64(st, ":cs", cstart);
  bind_named_text(st, ":cid", cid);
  bind_named_i64(st, ":lim", (int64_t)limit + 1);

  size_t mark = out->len;
  kl_buf_puts(out, "{\"data\":[");
  int rows = 0, rc;
  int64_t last_start = 0;
  char last_id[KL_OBS_ID_MAX + 1] = {0};
  bool more = false;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rows == limit) {
      more = true;
      break;
    }
    if (rows++) kl_buf_putc(out, ',');
    kl_buf_putc(out, '{');
    put_trace_fields(out, st);
    kl_buf_putc(out, '}');
    last_start = sqlite3_column_int64(st, TC_START);
    const unsigned char *id = sqlite3_column_text(st, TC_ID);
    snprintf(last_id, sizeof last_id, "%s", id ? (const char *)id : "");
  }
  int ret = 0;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    kl_sqlite_err(c->db, rc, "list traces", err);
    out->len = mark;
    out->data[mark] = 0;
    ret = -1;
  } else {
    kl_buf_puts(out, "],\"next_cursor\":");
    if (more) cursor_encode(out, last_start, last_id);
    else kl_buf_puts(out, "null");
    kl_buf_putc(out, '}');
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  kl_sqlite_release(q, c);
  return ret;
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
      case 's': put_col_str(b, st, k[i].col); break;
      case 'j': put_col_json(b, st, k[i].col, "null"); break;
      case 'i': put_col_i64_or_null(b, st, k[i].col); break;
      default: put_iso_col(b, st, k[i].col); break;
    }
  }
  /* usage: the stored bucket map, or one built from the fixed buckets */
  kl_buf_puts(b, ",\"usage\":");
  if (sqlite3_column_type(st, OC_USAGE) != SQLITE_NULL) {
    put_col_json(b, st, OC_USAGE, "null");
  } else {
    kl_buf_printf(b,
                  "{\"input\":%" PRId64 ",\"input_cached\":%" PRId64 ",\"input_cache_write\":%" PRId64
                  ",\"output\":%" PRId64 ",\"output_reasoning\":%" PRId64 "}",
                  (int64_t)sqlite3_column_int64(st, OC_U_IN), (int64_t)sqlite3_column_int64(st, OC_U_CACHED),
                  (int64_t)sqlite3_column_int64(st, OC_U_CWRITE), (int64_t)sqlite3_column_int64(st, OC_U_OUT),
                  (int64_t)sqlite3_column_int64(st, OC_U_REASON));
  }
  kl_buf_printf(b, ",\"usage_estimated\":%s,\"cost_usd\":", sqlite3_column_int(st, OC_U_EST) ? "true" : "false");
  put_col_real_or_null(b, st, OC_COST_USD);
  kl_buf_puts(b, ",\"latency_ms\":");
  put_ms_between(b, st, OC_START, OC_END);
  kl_buf_puts(b, ",\"ttft_ms\":");
  put_ms_between(b, st, OC_START, OC_CSTART);
  if (ext) {
    kl_buf_puts(b, ",\"version\":");
    put_col_str(b, st, OC_VERSION);
    kl_buf_puts(b, ",\"prompt_name\":");
    put_col_str(b, st, OC_PROMPT_NAME);
    kl_buf_puts(b, ",\"prompt_version\":");
    put_col_i64_or_null(b, st, OC_PROMPT_VERSION);
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
                "SELECT " TRACE_ROW_COLS ",tags,environment,release,observation_count,input,output,metadata,version"
                " FROM traces"
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
      put_col_json(&meta, c->obs, OC_METADATA, "{}");
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
  put_trace_fields(out, c->trace);
  kl_buf_puts(out, ",\"end_time\":");
  put_iso_col(out, c->trace, TC_END);
  kl_buf_puts(out, ",\"environment\":");
  put_col_str(out, c->trace, TC_ENV);
  kl_buf_puts(out, ",\"release\":");
  put_col_str(out, c->trace, TC_RELEASE);
  kl_buf_printf(out, ",\"observation_count\":%" PRId64 ",\"error_count\":%" PRId64 ",\"tags\":",
                (int64_t)sqlite3_column_int64(c->trace, TC_NOBS), (int64_t)sqlite3_column_int64(c->trace, TC_ERR));
  put_col_json(out, c->trace, TC_TAGS, "[]");
  kl_buf_puts(out, ",\"metadata\":");
  if (sqlite3_column_type(c->trace, TC_METADATA) != SQLITE_NULL) put_col_json(out, c->trace, TC_METADATA, "{}");
  else kl_buf_puts(out, meta.len ? meta.data : "{}");
  kl_buf_puts(out, ",\"input\":");
  put_col_json(out, c->trace, TC_INPUT, "null");
  kl_buf_puts(out, ",\"output\":");
  put_col_json(out, c->trace, TC_OUTPUT, "null");
  kl_buf_puts(out, ",\"version\":");
  put_col_str(out, c->trace, TC_VERSION);
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
