/* pg_query_fts.c: full-text search (q=) for the PostgreSQL backend, and its index.
 *
 * PostgreSQL has no FTS5, and its own text search (to_tsvector) tokenises differently from
 * FTS5's unicode61 (it keeps "foo-bar", e-mail addresses and URLs as tokens, drops nothing
 * the same way), so q= would match different rows than on SQLite.  Instead we reproduce
 * unicode61's semantics with regular expressions over the same text FTS5 indexes (the first
 * 4096 characters of input and of output):
 *   - a token is a maximal run of ASCII letters/digits and non-ASCII characters; everything
 *     else separates; matching is case-insensitive (~*);
 *   - each whitespace-separated word of q is a phrase (kl_fts_query quotes it): its tokens
 *     must occur consecutively, i.e. separated only by separators, and bounded by
 *     separators or the ends of the field, within ONE field (input or output);
 *   - every phrase must match (in either field); a word without any token is ignored, and a
 *     q made only of such words matches nothing (both as FTS5 does).
 * Only letters/digits/non-ASCII reach the pattern, so no user text is ever regex syntax; the
 * patterns travel as parameters like every other value.
 * Known difference: unicode61 also folds diacritics ("café" matches q=cafe); we do not.
 *
 * The index: pg_trgm's GIN trigram index answers ~* on the indexed expression
 * (substr(input,1,4096)), so a q= page costs about the number of candidate rows, not the
 * table.  pg_trgm ships with PostgreSQL (Debian: in postgresql-15) and is a trusted
 * extension (a database owner may create it); when it cannot be created we log it and search
 * without the index (same answers, a scan).  set_fulltext runs at open under an advisory
 * lock, so instances starting together do not race on CREATE INDEX. */
#include "store/pg_int.h"
#include "store/sqlite_int.h"

#include <stdio.h>
#include <string.h>

#define KL_PG_FTS_LOCK 0x6b6c6674LL /* "klft" */
/* words beyond this many share one array parameter (statements have at most
 * KL_PG_PARAMS_MAX parameters); those are checked without the index's help */
#define FTS_PARAM_WORDS 24

/* ASCII separators (everything but [0-9A-Za-z]); non-ASCII characters are token characters */
#define SEP "[\\x01-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f]"

static bool tokch(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

int kl_pg_fts(kl_arena *a, const char *q, const char ***pats) {
  size_t cap = strlen(q) / 2 + 1; /* at most one word per two bytes */
  const char **v = kl_arena_calloc(a, cap * sizeof *v);
  int n = 0, words = 0;
  const char *p = q;
  kl_buf b = KL_BUF_INIT;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) break;
    words++;
    const char *end = p;
    while (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') end++;
    kl_buf_reset(&b);
    int ntok = 0;
    for (const char *s = p; s < end;) {
      if (!tokch((unsigned char)*s)) {
        s++;
        continue;
      }
      kl_buf_puts(&b, ntok++ ? SEP "+" : "(^|" SEP ")");
      for (; s < end && tokch((unsigned char)*s); s++) kl_buf_putc(&b, *s);
    }
    if (ntok) {
      kl_buf_puts(&b, "(" SEP "|$)");
      v[n++] = kl_arena_strndup(a, b.data, b.len);
    }
    p = end;
  }
  kl_buf_free(&b);
  *pats = v;
  if (!words) return -1;
  return n;
}

void kl_pg_fts_cond(kl_buf *sql, kl_pg_params *ps, const char *alias, const char *const *pats, int n) {
  if (n == 0) {
    kl_buf_puts(sql, " AND false");
    return;
  }
  for (int i = 0; i < n && i < FTS_PARAM_WORDS; i++) {
    int k = kl_pg_p_text(ps, pats[i]);
    kl_buf_printf(sql, " AND (substr(%sinput,1,4096) ~* $%d OR substr(%soutput,1,4096) ~* $%d)", alias, k, alias, k);
  }
  if (n <= FTS_PARAM_WORDS) return;
  kl_buf arr = KL_BUF_INIT;
  kl_buf_putc(&arr, '{');
  for (int i = FTS_PARAM_WORDS; i < n; i++) {
    kl_buf_puts(&arr, i > FTS_PARAM_WORDS ? ",\"" : "\"");
    for (const char *c = pats[i]; *c; c++) {
      if (*c == '"' || *c == '\\') kl_buf_putc(&arr, '\\');
      kl_buf_putc(&arr, *c);
    }
    kl_buf_putc(&arr, '"');
  }
  kl_buf_putc(&arr, '}');
  kl_buf_printf(sql,
                " AND NOT EXISTS (SELECT 1 FROM unnest($%d::text[]) w"
                " WHERE NOT (COALESCE(substr(%sinput,1,4096) ~* w, false) OR COALESCE(substr(%soutput,1,4096) ~* w, false)))",
                kl_pg_p_text(ps, arr.data), alias, alias);
  kl_buf_free(&arr);
}

int kl_pg_set_fulltext(void *be, bool on, kl_err *err) {
  kl_pg *p = be;
  kl_pgconn *rc = NULL;
  PGconn *c = p->w;
  if (!c) {
    if (!(rc = kl_pg_acquire(p, err))) return -1;
    c = rc->c;
  }
  char lock[80];
  snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)KL_PG_FTS_LOCK);
  int ret = -1;
  if (on) {
    kl_err e;
    kl_err_clear(&e);
    /* the extension first, in its own transaction: failing it must not fail open */
    if (kl_pg_run(c, "BEGIN", NULL, err) != 0 || kl_pg_run(c, lock, NULL, err) != 0) goto out;
    if (kl_pg_run(c, "CREATE EXTENSION IF NOT EXISTS pg_trgm", NULL, &e) != 0) {
      kl_pg_run(c, "ROLLBACK", NULL, NULL);
      kl_warn("store: full-text search without an index (cannot create extension pg_trgm: %s)", e.msg);
      ret = 0;
      goto out;
    }
    int64_t t0 = kl_mono_ns();
    if (kl_pg_run(c,
                  "CREATE INDEX IF NOT EXISTS observations_fts_input ON observations"
                  " USING gin (substr(input,1,4096) gin_trgm_ops)",
                  NULL, err) != 0 ||
        kl_pg_run(c,
                  "CREATE INDEX IF NOT EXISTS observations_fts_output ON observations"
                  " USING gin (substr(output,1,4096) gin_trgm_ops)",
                  NULL, err) != 0 ||
        kl_pg_run(c, "COMMIT", NULL, err) != 0)
      goto out;
    double ms = (double)(kl_mono_ns() - t0) / 1e6;
    if (ms > 100) kl_info("store: full-text index ready (%.0f ms)", ms);
    ret = 0;
  } else {
    if (kl_pg_run(c, "BEGIN", NULL, err) != 0 || kl_pg_run(c, lock, NULL, err) != 0 ||
        kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_input", NULL, err) != 0 ||
        kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_output", NULL, err) != 0 ||
        kl_pg_run(c, "COMMIT", NULL, err) != 0)
      goto out;
    ret = 0;
  }
out:
  if (ret != 0 && PQtransactionStatus(c) != PQTRANS_IDLE) kl_pg_run(c, "ROLLBACK", NULL, NULL);
  if (ret == 0) p->fulltext = on;
  if (rc) kl_pg_release(p, rc);
  return ret;
}
