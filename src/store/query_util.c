/* query_util.c: plumbing shared by the query API's read files (query_*.c).
 *
 * Statement cache.  Which WHERE clauses a list query has depends on which of ~20 filters are
 * set, so its SQL is built per request.  Preparing costs tens of microseconds, but a pooled
 * read connection lives as long as the store, so each keeps its last KL_STMT_CACHE
 * statements keyed by their text (a linear probe: the cache is small and a probe is cheap
 * beside the query).  Statements are SQLITE_PREPARE_PERSISTENT.
 *
 * Cursors.  Every list is keyset-paginated on (time, id): the next page continues strictly
 * after the last row's key, so paging never skips or repeats a row however many rows share
 * a timestamp, and rows inserted meanwhile only appear on pages not yet read (newer rows
 * sort before the first page).  The cursor is base64url("<ns>:<id>") ("+<ns>:<id>" for an
 * oldest-first list), opaque to clients and URL-safe without escaping.
 *
 * Full text.  The user's q is not FTS5 syntax: every whitespace-separated word becomes a
 * quoted string ("a" "b" means both must occur), with inner quotes doubled, so any text is
 * a valid query and nothing like NEAR/OR/column filters can be injected by accident. */
#include "store/sqlite_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statement cache ---- */

sqlite3_stmt *kl_rconn_stmt(kl_rconn *c, const char *sql, kl_err *err) {
  for (int i = 0; i < KL_STMT_CACHE; i++)
    if (c->cache[i].sql && !strcmp(c->cache[i].sql, sql)) return c->cache[i].st;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK) {
    kl_sqlite_err(c->db, rc, "prepare query", err);
    sqlite3_finalize(st);
    return NULL;
  }
  unsigned slot = c->cache_next++ % KL_STMT_CACHE;
  sqlite3_finalize(c->cache[slot].st);
  free(c->cache[slot].sql);
  c->cache[slot].sql = strdup(sql);
  if (!c->cache[slot].sql) abort();
  c->cache[slot].st = st;
  return st;
}

void kl_rconn_cache_close(kl_rconn *c) {
  for (int i = 0; i < KL_STMT_CACHE; i++) {
    sqlite3_finalize(c->cache[i].st);
    free(c->cache[i].sql);
    c->cache[i].st = NULL;
    c->cache[i].sql = NULL;
  }
}

int kl_query_limit(int limit, kl_err *err) {
  if (limit < 0) {
    kl_err_set(err, 400, "limit: expected an integer from 1 to %d", KL_LIST_MAX);
    return -1;
  }
  if (limit == 0) return KL_LIST_DEFAULT;
  return limit > KL_LIST_MAX ? KL_LIST_MAX : limit;
}

/* ---- cursors ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void kl_cursor_put(kl_buf *b, bool asc, int64_t ns, const char *id) {
  char raw[100];
  int n = snprintf(raw, sizeof raw, "%s%" PRId64 ":%.*s", asc ? "+" : "", ns, KL_OBS_ID_MAX, id);
  kl_buf_putc(b, '"');
  const unsigned char *p = (const unsigned char *)raw;
  for (int i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    kl_buf_putc(b, b64[v >> 18 & 63]);
    kl_buf_putc(b, b64[v >> 12 & 63]);
    if (i + 1 < n) kl_buf_putc(b, b64[v >> 6 & 63]);
    if (i + 2 < n) kl_buf_putc(b, b64[v & 63]);
  }
  kl_buf_putc(b, '"');
}

static int b64val(char c) {
  const char *p = c ? strchr(b64, c) : NULL;
  return p ? (int)(p - b64) : -1;
}

int kl_cursor_parse(const char *cur, bool *asc, int64_t *ns, char id[KL_OBS_ID_MAX + 1]) {
  size_t n = strlen(cur);
  char raw[100];
  size_t m = 0;
  if (n == 0 || n % 4 == 1 || n > 4 * (sizeof raw - 1) / 3) return -1;
  for (size_t i = 0; i < n; i += 4) {
    unsigned v = 0;
    size_t k;
    for (k = 0; k < 4 && i + k < n; k++) {
      int d = b64val(cur[i + k]);
      if (d < 0) return -1;
      v |= (unsigned)d << (18 - 6 * k);
    }
    for (size_t j = 0; j + 1 < k; j++) raw[m++] = (char)(v >> (16 - 8 * j) & 255);
  }
  raw[m] = 0;
  if (strlen(raw) != m) return -1; /* an embedded NUL */
  const char *p = raw;
  *asc = *p == '+';
  if (*asc) p++;
  if (*p < '0' || *p > '9') return -1;
  char *end;
  errno = 0;
  long long v = strtoll(p, &end, 10);
  if (errno || *end != ':') return -1;
  size_t idlen = strlen(end + 1);
  if (idlen == 0 || idlen > KL_OBS_ID_MAX) return -1;
  *ns = v;
  memcpy(id, end + 1, idlen + 1);
  return 0;
}

/* ---- full text ---- */

char *kl_fts_query(kl_arena *a, const char *q) {
  kl_buf b = KL_BUF_INIT;
  const char *p = q;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) break;
    if (b.len) kl_buf_putc(&b, ' ');
    kl_buf_putc(&b, '"');
    for (; *p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r'; p++) {
      if (*p == '"') kl_buf_putc(&b, '"');
      kl_buf_putc(&b, *p);
    }
    kl_buf_putc(&b, '"');
  }
  char *r = b.len ? kl_arena_strndup(a, b.data, b.len) : NULL;
  kl_buf_free(&b);
  return r;
}

/* ---- binding ---- */

void kl_bind_text(sqlite3_stmt *st, const char *name, const char *v) {
  int i = sqlite3_bind_parameter_index(st, name);
  if (i) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}
void kl_bind_i64(sqlite3_stmt *st, const char *name, int64_t v) {
  int i = sqlite3_bind_parameter_index(st, name);
  if (i) sqlite3_bind_int64(st, i, v);
}
void kl_bind_double(sqlite3_stmt *st, const char *name, double v) {
  int i = sqlite3_bind_parameter_index(st, name);
  if (i) sqlite3_bind_double(st, i, v);
}

/* ---- one page ---- */

int kl_query_page(kl_rconn *c, sqlite3_stmt *st, int limit, bool asc, int key_ns, int key_id, kl_row_page_fn put,
                  void *ud, kl_buf *out, kl_err *err) {
  size_t mark = out->len;
  kl_row row = kl_sqlite_row(st);
  kl_buf_puts(out, "{\"data\":[");
  int rows = 0, rc;
  int64_t last_ns = 0;
  char last_id[KL_OBS_ID_MAX + 1] = "";
  bool more = false;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rows == limit) {
      more = true;
      break;
    }
    if (rows++) kl_buf_putc(out, ',');
    kl_buf_putc(out, '{');
    put(out, &row, ud);
    kl_buf_putc(out, '}');
    last_ns = sqlite3_column_int64(st, key_ns);
    const unsigned char *id = sqlite3_column_text(st, key_id);
    snprintf(last_id, sizeof last_id, "%s", id ? (const char *)id : "");
  }
  int ret = 0;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    kl_sqlite_err(c->db, rc, "query", err);
    out->len = mark;
    out->data[mark] = 0;
    ret = -1;
  } else {
    kl_buf_puts(out, "],\"next_cursor\":");
    if (more && last_id[0]) kl_cursor_put(out, asc, last_ns, last_id);
    else kl_buf_puts(out, "null");
    kl_buf_putc(out, '}');
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return ret;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

void kl_put_sorted_strings(kl_buf *b, const char *json, const char *if_null) {
  cJSON *arr = json ? cJSON_Parse(json) : NULL;
  int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
  const char **v = n > 0 ? malloc((size_t)n * sizeof *v) : NULL;
  if (n > 0 && !v) abort();
  int k = 0;
  for (const cJSON *it = arr ? arr->child : NULL; n > 0 && it; it = it->next) {
    if (!cJSON_IsString(it)) {
      n = -1;
      break;
    }
    v[k++] = it->valuestring;
  }
  if (n < 0) {
    kl_buf_puts(b, if_null);
  } else {
    qsort(v, (size_t)k, sizeof *v, str_cmp);
    kl_buf_putc(b, '[');
    for (int i = 0, w = 0; i < k; i++) {
      if (i && !strcmp(v[i], v[i - 1])) continue;
      if (w++) kl_buf_putc(b, ',');
      kl_buf_json_str(b, v[i], strlen(v[i]));
    }
    kl_buf_putc(b, ']');
  }
  free(v);
  cJSON_Delete(arr);
}

int kl_cursor_state_parse(const char *cur, kl_cursor_state *cs, kl_err *err) {
  memset(cs, 0, sizeof *cs);
  if (!cur || !*cur) return 0;
  if (kl_cursor_parse(cur, &cs->asc, &cs->ns, cs->id) != 0) {
    kl_err_set(err, 400, "cursor: malformed cursor");
    return -1;
  }
  cs->have = true;
  return 0;
}

int kl_query_list_args(int limit, const char *cursor, kl_cursor_state *cs, kl_err *err) {
  int n = kl_query_limit(limit, err);
  if (n < 0 || kl_cursor_state_parse(cursor, cs, err) != 0) return -1;
  return n;
}

int kl_query_no_fulltext(kl_err *err) {
  kl_err_set(err, 400, "q: full-text search is disabled (trace.fulltext: false)");
  return -1;
}

int kl_split_tags(kl_arena *a, const char *csv, const char *tags[KL_TAGS_MAX], kl_err *err) {
  int n = 0;
  if (!csv || !*csv) return 0;
  char *t = kl_arena_strdup(a, csv), *save = NULL;
  for (char *tok = strtok_r(t, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    size_t len = strlen(tok);
    while (len && tok[len - 1] == ' ') tok[--len] = 0;
    if (!len) continue;
    if (n == KL_TAGS_MAX) {
      kl_err_set(err, 400, "tags: at most 16 tags");
      return -1;
    }
    tags[n++] = tok;
  }
  return n;
}

int64_t kl_bucket_ns(int bucket) {
  static const int64_t width[] = {[KL_BUCKET_NONE] = 0, [KL_BUCKET_MINUTE] = 60000000000LL,
                                  [KL_BUCKET_HOUR] = 3600000000000LL, [KL_BUCKET_DAY] = 86400000000000LL};
  return (unsigned)bucket <= KL_BUCKET_DAY ? width[bucket] : 0;
}
