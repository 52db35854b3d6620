/* query_metrics.c: GET /api/v1/metrics: request counts, errors, tokens, cost and latency /
 * time-to-first-token percentiles per (time bucket, group).
 *
 * SQLite has no percentile aggregate.  The options were (a) a window function
 * (ROW_NUMBER() OVER (PARTITION BY bucket, group ORDER BY latency) and COUNT(*) OVER the
 * partition, then picking the ranks), once for latency and once more for TTFT since each
 * needs its own order: two sorts of every row through SQLite's sorter plus a pass over the
 * numbered rows; or (b) one plain scan that hands each row to C, which accumulates the sums
 * and appends latency and TTFT to per-group arrays, then sorts each group's arrays (qsort of
 * int64) and reads the ranks.  (b) reads every row once, needs no temp b-tree, and its sorts
 * are of 8-byte integers rather than SQLite records; memory is 16 bytes per row scanned (16
 * MB for a million generations).  We do (b).
 *
 * Percentiles are nearest-rank: the p-th of n sorted values is the one at rank ceil(p/100*n)
 * (1-based), so p50 of {1,2,3,4} is 2 and p99 of 100 values is the 99th.  Rows without an
 * end (still open) or without a first token are left out of that percentile only.
 *
 * Groups: model, user, name (the observation's), tag (the trace's tags, denormalised on
 * the observation: an observation counts once in each tag; untagged ones in group null),
 * none.  Buckets are UTC minute/hour/day floors of the observation's start. */
#include "store/sqlite_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct i64v {
  int64_t *v;
  size_t n, cap;
} i64v;

typedef struct mgroup {
  int64_t bucket;      /* INT64_MIN = none */
  const char *group;   /* NULL = none; arena-owned */
  uint64_t hash;
  int64_t requests, errors, in, out;
  double cost;
  bool have_cost;
  i64v lat, ttft;
} mgroup;

typedef struct mtable {
  mgroup *g;        /* open addressing, cap a power of two */
  size_t n, cap;
  kl_arena *a;
} mtable;

static void push(i64v *v, int64_t x) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->v = realloc(v->v, v->cap * sizeof *v->v);
    if (!v->v) abort();
  }
  v->v[v->n++] = x;
}

static uint64_t hash_key(int64_t bucket, const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL ^ (uint64_t)bucket;
  h *= 1099511628211ULL;
  if (!s) return h ^ 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static void grow(mtable *t) {
  size_t ncap = t->cap ? t->cap * 2 : 64;
  mgroup *ng = calloc(ncap, sizeof *ng);
  if (!ng) abort();
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->g[i].requests) continue;
    size_t j = t->g[i].hash & (ncap - 1);
    while (ng[j].requests) j = (j + 1) & (ncap - 1);
    ng[j] = t->g[i];
  }
  free(t->g);
  t->g = ng;
  t->cap = ncap;
}

/* The group for (bucket, s[0..n)), created on first sight (requests == 0 marks a free slot:
 * a created group is counted at once). */
static mgroup *lookup(mtable *t, int64_t bucket, const char *s, size_t n) {
  if ((t->n + 1) * 2 > t->cap) grow(t);
  uint64_t h = hash_key(bucket, s, n);
  size_t j = h & (t->cap - 1);
  for (;; j = (j + 1) & (t->cap - 1)) {
    mgroup *g = &t->g[j];
    if (!g->requests) break;
    if (g->hash == h && g->bucket == bucket && (!s ? !g->group : g->group && strlen(g->group) == n && !memcmp(g->group, s, n)))
      return g;
  }
  mgroup *g = &t->g[j];
  memset(g, 0, sizeof *g);
  g->bucket = bucket;
  g->group = s ? kl_arena_strndup(t->a, s, n) : NULL;
  g->hash = h;
  t->n++;
  return g;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int cmp_group(const void *a, const void *b) {
  const mgroup *x = *(mgroup *const *)a, *y = *(mgroup *const *)b;
  if (x->bucket != y->bucket) return x->bucket < y->bucket ? -1 : 1;
  if (!x->group || !y->group) return x->group ? 1 : y->group ? -1 : 0; /* null first */
  return strcmp(x->group, y->group);
}

/* nearest rank over sorted v */
static void put_pct(kl_buf *b, const char *key, const i64v *v, int p) {
  kl_buf_printf(b, ",\"%s\":", key);
  if (!v->n) {
    kl_buf_puts(b, "null");
    return;
  }
  size_t rank = (size_t)((p * (uint64_t)v->n + 99) / 100); /* ceil(p/100 * n) */
  if (rank < 1) rank = 1;
  kl_sqlite_put_num(b, (double)v->v[rank - 1] / 1e6);
}

static void put_groups(kl_buf *out, mtable *t, bool bucketed, bool grouped) {
  mgroup **order = malloc((t->n ? t->n : 1) * sizeof *order);
  if (!order) abort();
  size_t n = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->g[i].requests) order[n++] = &t->g[i];
  if (n > 1) qsort(order, n, sizeof *order, cmp_group);
  kl_buf_puts(out, "{\"data\":[");
  for (size_t i = 0; i < n; i++) {
    mgroup *g = order[i];
    if (g->lat.n > 1) qsort(g->lat.v, g->lat.n, sizeof *g->lat.v, cmp_i64);
    if (g->ttft.n > 1) qsort(g->ttft.v, g->ttft.n, sizeof *g->ttft.v, cmp_i64);
    if (i) kl_buf_putc(out, ',');
    kl_buf_puts(out, "{\"bucket\":");
    if (bucketed) {
      char ts[32];
      kl_time_iso(g->bucket, ts);
      kl_buf_printf(out, "\"%s\"", ts);
    } else {
      kl_buf_puts(out, "null");
    }
    kl_buf_puts(out, ",\"group\":");
    if (grouped && g->group) kl_buf_json_str(out, g->group, strlen(g->group));
    else kl_buf_puts(out, "null");
    kl_buf_printf(out, ",\"requests\":%" PRId64 ",\"errors\":%" PRId64 ",\"error_rate\":", g->requests, g->errors);
    kl_sqlite_put_num(out, (double)g->errors / (double)g->requests);
    kl_buf_printf(out, ",\"input_tokens\":%" PRId64 ",\"output_tokens\":%" PRId64 ",\"cost_usd\":", g->in, g->out);
    if (g->have_cost) kl_sqlite_put_num(out, g->cost);
    else kl_buf_puts(out, "null");
    put_pct(out, "latency_p50_ms", &g->lat, 50);
    put_pct(out, "latency_p95_ms", &g->lat, 95);
    put_pct(out, "latency_p99_ms", &g->lat, 99);
    put_pct(out, "ttft_p50_ms", &g->ttft, 50);
    put_pct(out, "ttft_p95_ms", &g->ttft, 95);
    put_pct(out, "ttft_p99_ms", &g->ttft, 99);
    kl_buf_putc(out, '}');
  }
  kl_buf_puts(out, "]}");
  free(order);
}

static void table_free(mtable *t) {
  for (size_t i = 0; i < t->cap; i++) {
    free(t->g[i].lat.v);
    free(t->g[i].ttft.v);
  }
  free(t->g);
  kl_arena_free(t->a);
}

int kl_sqlite_metrics(void *be, const kl_metrics_filter *f, kl_buf *out, kl_err *err) {
  kl_sqlite *q = be;
  static const char *const gcol[] = {[KL_GROUP_NONE] = "NULL", [KL_GROUP_MODEL] = "o.model",
                                     [KL_GROUP_USER] = "o.user_id", [KL_GROUP_TAG] = "j.value",
                                     [KL_GROUP_NAME] = "o.name"};
  /* generation-like (the default, or asked for by name): the covering partial index */
  bool gen = !(f->type && *f->type) || !strcmp(f->type, KL_OBS_GENERATION) || !strcmp(f->type, KL_OBS_EMBEDDING);
  kl_buf sql = KL_BUF_INIT;
  kl_buf_printf(&sql,
                "SELECT o.start_ns, %s, o.level='ERROR', o.usage_input+o.usage_input_cached+o.usage_input_cache_write,"
                " o.usage_output+o.usage_output_reasoning, o.cost_usd, o.end_ns-o.start_ns,"
                " o.completion_start_ns-o.start_ns FROM observations o %s",
                gcol[f->group_by], gen ? "INDEXED BY observations_gen"
                                   : f->from_ns || f->to_ns ? "INDEXED BY observations_start" : "NOT INDEXED");
  /* Generations are read from observations_gen (migration 3), a partial index that covers
   * every column this query reads: ~55 bytes a generation instead of the whole row with its
   * input and output (bench_query, 1M observations: by model per hour 1.3 s -> 0.5 s).  Another type
   * reads the table: by time range through observations_start, else as a plain scan (which
   * beats reading it through an index on project_id, the planner's pick otherwise). */
  if (f->group_by == KL_GROUP_TAG)
    kl_buf_puts(&sql, " LEFT JOIN json_each(CASE WHEN json_valid(o.tags) THEN o.tags END) j");
  kl_buf_puts(&sql, " WHERE o.project_id=:p");
  if (gen) kl_buf_puts(&sql, " AND o.type IN ('GENERATION','EMBEDDING')"); /* the index's own WHERE */
  if (f->type && *f->type) kl_buf_puts(&sql, " AND o.type=:ty");
  if (f->from_ns) kl_buf_puts(&sql, " AND o.start_ns>=:from");
  if (f->to_ns) kl_buf_puts(&sql, " AND o.start_ns<:to");
  int ret = -1;
  kl_rconn *c = kl_sqlite_acquire(q, err);
  if (!c) {
    kl_buf_free(&sql);
    return -1;
  }
  mtable t = {.a = kl_arena_new(4096)};
  sqlite3_stmt *st = kl_rconn_stmt(c, sql.data, err);
  if (st) {
    kl_bind_text(st, ":p", f->project_id && *f->project_id ? f->project_id : "default");
    kl_bind_text(st, ":ty", f->type);
    kl_bind_i64(st, ":from", f->from_ns);
    kl_bind_i64(st, ":to", f->to_ns);
    int64_t w = kl_bucket_ns(f->bucket);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      int64_t start = sqlite3_column_int64(st, 0);
      int64_t bucket = w ? start - ((start % w) + w) % w : INT64_MIN;
      const char *gs = (const char *)sqlite3_column_text(st, 1);
      mgroup *g = lookup(&t, bucket, gs, gs ? (size_t)sqlite3_column_bytes(st, 1) : 0);
      g->requests++;
      g->errors += sqlite3_column_int(st, 2);
      g->in += sqlite3_column_int64(st, 3);
      g->out += sqlite3_column_int64(st, 4);
      if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
        g->cost += sqlite3_column_double(st, 5);
        g->have_cost = true;
      }
      if (sqlite3_column_type(st, 6) != SQLITE_NULL) push(&g->lat, sqlite3_column_int64(st, 6));
      if (sqlite3_column_type(st, 7) != SQLITE_NULL) push(&g->ttft, sqlite3_column_int64(st, 7));
    }
    if (rc != SQLITE_DONE) {
      kl_sqlite_err(c->db, rc, "metrics", err);
    } else {
      put_groups(out, &t, w != 0, f->group_by != KL_GROUP_NONE);
      ret = 0;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  kl_sqlite_release(q, c);
  table_free(&t);
  kl_buf_free(&sql);
  return ret;
}
