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
 * Diacritics fold as unicode61's remove_diacritics=1 (FTS5's default) folds them: both the
 * searched text (translate() with the letters below) and q's words (fold_utf8), so "café"
 * matches q=cafe and q=CAFÉ.  The table was read off SQLite itself (each letter of
 * U+00C0-U+024F and U+1E00-U+1EFF indexed alone, then searched for a-z): single diacritics
 * fold, stacked ones do not (Vietnamese "ấ", as in SQLite), nor letters without a base
 * (ø, ł, æ, ß).
 *
 * The index: pg_trgm's GIN trigram index answers ~* on the indexed expression
 * (translate(substr(input,1,4096), ...)), so a q= page costs about the number of candidate rows, not the
 * table.  pg_trgm ships with PostgreSQL (Debian: in postgresql-15) and is a trusted
 * extension (a database owner may create it); when it cannot be created we log it and search
 * without the index (same answers, a scan).  set_fulltext runs at open under an advisory
 * lock, so instances starting together do not race on CREATE INDEX. */
#include "store/pg_int.h"
#include "store/sqlite_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define KL_PG_FTS_LOCK 0x6b6c6674LL /* "klft" */
/* words beyond this many share one array parameter (statements have at most
 * KL_PG_PARAMS_MAX parameters); those are checked without the index's help */
#define FTS_PARAM_WORDS 24

/* ASCII separators (everything but [0-9A-Za-z]); non-ASCII characters are token characters */
#define SEP "[\\x01-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f]"

/* What unicode61 folds each code point to ('-': itself), from U+00C0 and from U+1E00. */
static const char k_fold_latin[] =
    "aaaaaa-ceeeeiiii-nooooo--uuuuy--aaaaaa-ceeeeiiii-nooooo--uuuuy-y" /* U+00C0 */
    "aaaaaaccccccccdd--eeeeeeeeeegggggggghh--iiiiiiiii---jjkk-llllll-" /* U+0100 */
    "---nnnnnn---oooooo--rrrrrrsssssssstttt--uuuuuuuuuuuuwwyyyzzzzzzs" /* U+0140 */
    "--------------------------------oo-------------uu---------------" /* U+0180 */
    "-------------aaiioouu-----------------ggkkoo----j---gg--nn------" /* U+01C0 */
    "aaaaeeeeiiiioooorrrruuuusstt--hh------aaee----oo--yy------------" /* U+0200 */
    "----------------" /* U+0240 */;
static const char k_fold_ext[] =
    "aabbbbbb--dddddddddd----eeee--ffgghhhhhhhhhhii--kkkkkkll--llllmm" /* U+1E00 */
    "mmmmnnnnnnnn--------pppprrrr--rrssss------ttttttttuuuuuu----vvvv" /* U+1E40 */
    "wwwwwwwwwwxxxxyyzzzzzzhtwy-s----aaaa--------------------eeeeee--" /* U+1E80 */
    "--------iiiioooo--------------------uuuu----------yyyyyyyy------" /* U+1EC0 */;

static char fold_cp(uint32_t cp) {
  char c = '-';
  if (cp >= 0xC0 && cp < 0xC0 + sizeof k_fold_latin - 1) c = k_fold_latin[cp - 0xC0];
  else if (cp >= 0x1E00 && cp < 0x1E00 + sizeof k_fold_ext - 1) c = k_fold_ext[cp - 0x1E00];
  return c == '-' ? 0 : c;
}

/* The folded letter of the two- or three-byte UTF-8 character at s (0: none), its length in *n. */
static char fold_utf8(const unsigned char *s, const unsigned char *end, size_t *n) {
  uint32_t cp;
  if (s[0] >= 0xC2 && s[0] <= 0xDF && end - s >= 2 && (s[1] & 0xC0) == 0x80) {
    cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F), *n = 2;
  } else if (s[0] == 0xE1 && end - s >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
    cp = 0x1000 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F), *n = 3;
  } else {
    return 0;
  }
  return fold_cp(cp);
}

/* translate()'s two strings: every folded character, and its letter at the same place. */
static char g_fold_from[1536], g_fold_to[512];
static pthread_once_t g_fold_once = PTHREAD_ONCE_INIT;
static void fold_strings(void) {
  size_t f = 0, t = 0;
  for (uint32_t cp = 0xC0; cp < 0x1F00; cp++) {
    char c = fold_cp(cp);
    if (!c) continue;
    if (cp < 0x800) {
      g_fold_from[f++] = (char)(0xC0 | cp >> 6);
    } else {
      g_fold_from[f++] = (char)(0xE0 | cp >> 12);
      g_fold_from[f++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    }
    g_fold_from[f++] = (char)(0x80 | (cp & 0x3F));
    g_fold_to[t++] = c;
  }
}

/* Appends the searched form of alias.col: its first 4096 characters, diacritics folded.  The
 * index is built on exactly this expression, so the planner can use it. */
static void folded(kl_buf *sql, const char *alias, const char *col) {
  pthread_once(&g_fold_once, fold_strings);
  kl_buf_printf(sql, "translate(substr(%s%s,1,4096),'%s','%s')", alias, col, g_fold_from, g_fold_to);
}

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
      while (s < end && tokch((unsigned char)*s)) {
        size_t len = 1;
        char c = (unsigned char)*s >= 0xC2 ? fold_utf8((const unsigned char *)s, (const unsigned char *)end, &len) : 0;
        if (c) kl_buf_putc(&b, c);
        else kl_buf_append(&b, s, len);
        s += len;
      }
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
    kl_buf_puts(sql, " AND (");
    folded(sql, alias, "input");
    kl_buf_printf(sql, " ~* $%d OR ", k);
    folded(sql, alias, "output");
    kl_buf_printf(sql, " ~* $%d)", k);
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
  kl_buf_printf(sql, " AND NOT EXISTS (SELECT 1 FROM unnest($%d::text[]) w WHERE NOT (COALESCE(",
                kl_pg_p_text(ps, arr.data));
  folded(sql, alias, "input");
  kl_buf_puts(sql, " ~* w, false) OR COALESCE(");
  folded(sql, alias, "output");
  kl_buf_puts(sql, " ~* w, false)))");
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
    kl_buf ci = KL_BUF_INIT, co = KL_BUF_INIT;
    kl_buf_puts(&ci, "CREATE INDEX IF NOT EXISTS observations_fts_input_folded ON observations USING gin ((");
    folded(&ci, "", "input");
    kl_buf_puts(&ci, ") gin_trgm_ops)");
    kl_buf_puts(&co, "CREATE INDEX IF NOT EXISTS observations_fts_output_folded ON observations USING gin ((");
    folded(&co, "", "output");
    kl_buf_puts(&co, ") gin_trgm_ops)");
    /* the indexes of the unfolded expressions (before diacritics folded) serve no query now */
    bool ok = kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_input", NULL, err) == 0 &&
              kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_output", NULL, err) == 0 &&
              kl_pg_run(c, ci.data, NULL, err) == 0 && kl_pg_run(c, co.data, NULL, err) == 0 &&
              kl_pg_run(c, "COMMIT", NULL, err) == 0;
    kl_buf_free(&ci);
    kl_buf_free(&co);
    if (!ok) goto out;
    double ms = (double)(kl_mono_ns() - t0) / 1e6;
    if (ms > 100) kl_info("store: full-text index ready (%.0f ms)", ms);
    ret = 0;
  } else {
    if (kl_pg_run(c, "BEGIN", NULL, err) != 0 || kl_pg_run(c, lock, NULL, err) != 0 ||
        kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_input", NULL, err) != 0 ||
        kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_output", NULL, err) != 0 ||
        kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_input_folded", NULL, err) != 0 ||
        kl_pg_run(c, "DROP INDEX IF EXISTS observations_fts_output_folded", NULL, err) != 0 ||
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
