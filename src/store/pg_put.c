/* pg_put.c: the PostgreSQL backend's row accessors, its JSON output helpers and page writer.
 *
 * The JSON writers themselves are row_json.c's, shared with SQLite, so both backends print
 * the same bytes for the same stored value.  What is PostgreSQL's is only how a value is
 * read: libpq hands every column over as text (we never ask for binary results), so
 * integers are parsed with strtoll and doubles with strtod.  PostgreSQL prints float8 with
 * the shortest text that round-trips (extra_float_digits >= 1, the default since 12), so
 * strtod recovers the exact double.
 *
 * The column layouts (KL_OBS_COLS, KL_TRACE_ROW_COLS, KL_SCORE_COLS and their enums) are
 * sqlite_int.h's: both schemas use the same column names, so the select lists are shared. */
#include "store/pg_int.h"
#include "store/row.h"
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

/* ---- the PostgreSQL side of a kl_row (row.h): libpq's text, parsed ---- */

static bool pg_null(const kl_row *r, int col) { return isnull(r->h, r->i, col); }
static int64_t pg_i64(const kl_row *r, int col) { return i64(r->h, r->i, col); }
static double pg_dbl(const kl_row *r, int col) {
  return isnull(r->h, r->i, col) ? 0 : strtod(PQgetvalue(r->h, r->i, col), NULL);
}
static const char *pg_text(const kl_row *r, int col, size_t *len) {
  if (isnull(r->h, r->i, col)) {
    *len = 0;
    return NULL;
  }
  *len = (size_t)PQgetlength(r->h, r->i, col);
  return PQgetvalue(r->h, r->i, col);
}
static const kl_row_ops k_pg_row = {pg_null, pg_i64, pg_dbl, pg_text};

kl_row kl_pg_row(const PGresult *r, int row) { return (kl_row){&k_pg_row, r, row}; }

#define ROW(r, row) (&(kl_row){&k_pg_row, (r), (row)})
void kl_pg_put_num(kl_buf *b, double v) { kl_row_put_num(b, v); }
void kl_pg_put_str(kl_buf *b, const PGresult *r, int row, int col) { kl_row_put_str(b, ROW(r, row), col); }
void kl_pg_put_json(kl_buf *b, const PGresult *r, int row, int col, const char *if_null) {
  kl_row_put_json(b, ROW(r, row), col, if_null);
}
void kl_pg_put_real(kl_buf *b, const PGresult *r, int row, int col) { kl_row_put_real(b, ROW(r, row), col); }
void kl_pg_put_iso(kl_buf *b, const PGresult *r, int row, int col) { kl_row_put_iso(b, ROW(r, row), col); }
void kl_pg_put_trace_row(kl_buf *b, const PGresult *r, int row) { kl_row_put_trace(b, ROW(r, row)); }
void kl_pg_put_obs(kl_buf *b, const PGresult *r, int row, bool ext) { kl_row_put_obs(b, ROW(r, row), ext); }
void kl_pg_put_score(kl_buf *b, const PGresult *r, int row) { kl_row_put_score(b, ROW(r, row)); }

/* ---- pages and plumbing ---- */

void kl_pg_page(const PGresult *r, int limit, bool asc, int key_ns, int key_id, kl_row_page_fn put, void *ud,
                kl_buf *out) {
  int n = PQntuples(r), rows = n > limit ? limit : n;
  kl_buf_puts(out, "{\"data\":[");
  for (int i = 0; i < rows; i++) {
    if (i) kl_buf_putc(out, ',');
    kl_buf_putc(out, '{');
    put(out, ROW(r, i), ud);
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
