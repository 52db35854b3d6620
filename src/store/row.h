/* row.h: one result row, whichever backend read it, and the JSON writers both backends share.
 *
 * The query API does not know which backend answers, so a trace, an observation or a score
 * must come out as the same bytes from SQLite and from PostgreSQL.  The writers used to exist
 * twice (sqlite_read.c / ingest_read.c and pg_put.c) and drift was a matter of time; now they
 * exist once (row_json.c) over four accessors each backend implements: SQLite reads typed
 * columns, libpq hands over text (integers via strtoll, doubles via strtod, which recovers
 * PostgreSQL's shortest round-trip float8 text exactly).
 *
 * The column layouts (KL_OBS_COLS, KL_TRACE_ROW_COLS, KL_SCORE_COLS, KL_OBS_LIST_COLS and
 * their OC_/TC_/SC_/OL_ enums, the groups' GC_) are sqlite_int.h's; both schemas use the same
 * column names. */
#ifndef KL_STORE_ROW_H
#define KL_STORE_ROW_H

#include "base/kl_base.h"
#include "store/kl_store.h"

typedef struct kl_row kl_row;

typedef struct kl_row_ops {
  bool (*is_null)(const kl_row *r, int col);
  int64_t (*i64)(const kl_row *r, int col);                    /* 0 when null */
  double (*dbl)(const kl_row *r, int col);                     /* 0 when null */
  const char *(*text)(const kl_row *r, int col, size_t *len);  /* NULL when null */
} kl_row_ops;

struct kl_row {
  const kl_row_ops *ops;
  const void *h;  /* the backend's handle: a sqlite3_stmt, or a PGresult with row i */
  int i;
};

void kl_row_put_num(kl_buf *b, double v);  /* shortest decimal that reads back as v; null if not finite */
void kl_row_put_str(kl_buf *b, const kl_row *r, int col);  /* JSON string or null */
/* JSON text embedded as JSON when it parses, as a JSON string otherwise, if_null when null */
void kl_row_put_json(kl_buf *b, const kl_row *r, int col, const char *if_null);
void kl_row_put_i64(kl_buf *b, const kl_row *r, int col);   /* integer or null */
void kl_row_put_real(kl_buf *b, const kl_row *r, int col);  /* number or null */
void kl_row_put_iso(kl_buf *b, const kl_row *r, int col);   /* RFC 3339 of an ns column, or null */
void kl_row_put_ms_between(kl_buf *b, const kl_row *r, int from_col, int to_col);  /* null when `to` is */

void kl_row_put_trace(kl_buf *b, const kl_row *r);          /* KL_TRACE_ROW_COLS, no braces */
void kl_row_put_obs(kl_buf *b, const kl_row *r, bool ext);  /* KL_OBS_COLS[,KL_OBS_EXT_COLS] */
void kl_row_put_score(kl_buf *b, const kl_row *r);          /* KL_SCORE_COLS, with braces */
void kl_row_put_score_fields(kl_buf *b, const kl_row *r);   /* the same without braces (list pages) */
/* A session's (sessions) or user's aggregates (GC_ columns), no braces; detail: the one-group
 * answer, where "traces" is the list of trace rows, so the count is "trace_count" there. */
void kl_row_put_group(kl_buf *b, const kl_row *r, bool sessions, bool detail);

/* One row of a list page, without braces: the page writers (query_util.c's kl_query_page,
 * pg_put.c's kl_pg_page) hand each backend's row over as a kl_row, so a list's row writer is
 * written once for both.  ud is the list's own. */
typedef void (*kl_row_page_fn)(kl_buf *b, const kl_row *r, void *ud);
void kl_row_page_trace(kl_buf *b, const kl_row *r, void *ud);  /* KL_TRACE_ROW_COLS */
void kl_row_page_obs(kl_buf *b, const kl_row *r, void *ud);    /* KL_OBS_LIST_COLS */
void kl_row_page_score(kl_buf *b, const kl_row *r, void *ud);  /* KL_SCORE_COLS */

/* row_read.c: a stored observation (KL_OBS_COLS,KL_OBS_EXT_COLS) back into a patch, strings
 * copied into a; and the trace-level fields a trace record set (a row of name, user_id,
 * session_id, tags, environment, release, metadata, input, output, version, start_ns,
 * ingest_set, ...) into p where p itself did not set them. */
#define KL_TRACE_REC_SET 11 /* ingest_set's column in that trace row */
void kl_row_obs_patch(const kl_row *r, kl_arena *a, const char *project, kl_obs_patch *out);
void kl_row_trace_fields(const kl_row *r, kl_arena *a, kl_obs_patch *p);
/* The trace record a trace row (as above: the trace record's columns, start_ns, ingest_set,
 * ingest_ns) holds, as a patch to merge a new trace record with (ids copied from rec); false,
 * out untouched, when no trace record set that row. */
bool kl_row_trace_record(const kl_row *r, kl_arena *a, const kl_obs_patch *rec, kl_obs_patch *out);
/* row_read.c, the merge both write paths run: rec and the stored cur folded into *dst with
 * merge, whichever goes underneath first (ingest_sqlite.c's top comment says which); and the
 * values a row needs that a partial record may lack (their bits stay clear). */
void kl_row_merge(kl_obs_patch *dst, const kl_obs_patch *rec, const kl_obs_patch *cur, kl_obs_merge_fn merge,
                  kl_arena *a);
void kl_row_patch_defaults(kl_obs_patch *p);

#endif
