/* ingest_tagg.c: per-batch aggregation of the `traces` rows that new observations (ingested
 * ones and keel's own) add to.
 *
 * Why: adding an observation to its trace is an upsert of the traces row: a lookup in
 * traces' primary key (random for OTel's random trace ids), the row rewritten and every index
 * over a SET column (traces_start, _user, _session, _model) rewritten too.  bench_ingest
 * measured it at ~10 us of the writer's ~25 us per OTLP span.  SDKs export a trace's spans
 * together, so a batch holds several spans per trace: adding them up here in C and
 * upserting each trace once per batch makes that cost per trace, not per span.
 *
 * The result is the one an upsert per observation (k_upsert with a count of 1) would give,
 * because every column's rule is associative: sums and counts add, start/end are min/max,
 * the level mask ORs, the denormalised fields (name, user, ...) are "the latest non-NULL"
 * (COALESCE(new, old)), and the model is that of the earliest-starting generation, ties to
 * the first written.  The one inexactness: a trace that already had a cost gets
 * old + (a + b) instead of (old + a) + b, which can differ in the last bit of a double.
 *
 * Ordering: the pending sums must reach the row before anything else reads or writes it:
 *   - a trace record (Langfuse trace-create) flushes its own trace first (kl_tagg_flush_one);
 *   - keel's own new observations (sqlite.c's write_obs) are added here too, so the order of
 *     "latest non-NULL" stays the write order (a railed gateway call writes 3 observations of
 *     one trace: 1 upsert instead of 3);
 *   - the end of the batch (before the recompute of replaced rows, whose aggregate must
 *     start from the finished row) flushes everything (kl_sqlite_ingest_flush);
 *   - a failed batch drops them (kl_sqlite_ingest_reset), as SQLite drops its rows.
 * The flush writes traces in key order, so consecutive upserts share B-tree pages.
 *
 * Measured and not kept: `traces` WITHOUT ROWID (clustered on (project_id, id), one B-tree
 * insert fewer per new trace).  For keel's time-ordered trace ids it saved ~1.1k of ~76k
 * instructions per row (bench_store 20000 1), but with OTel's random trace ids every new
 * trace then lands on a random page of a tree of whole rows instead of one of keys:
 * bench_ingest 100000 1 (MODES=a NO_DECODE=1) went from ~28 to ~32-36 us CPU per span, most
 * of it system time (WAL writes).
 *
 * The pending entries point at strings of the batch's records and of q->arena, which live
 * until the batch ends; the flush always happens before that. */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct tagg_ent {
  const char *project;
  char trace[KL_OBS_ID_MAX + 1];
  uint32_t hash;
  bool used;     /* slot taken (stays taken after a flush_one: a tombstone with count 0) */
  int64_t count; /* observations pending; 0 = nothing to write */
  const char *name, *user, *session, *tags, *env, *release, *model;
  int64_t model_start, start, end, in, out, errors;
  double cost;
  bool has_end, has_cost;
  int level_mask;
} tagg_ent;

struct kl_tagg {
  tagg_ent *v;
  size_t cap;      /* power of two, at least twice nused */
  tagg_ent **used; /* the taken slots, for the flush and the reset */
  size_t nused;
  size_t pending;  /* entries with count > 0 */
  sqlite3_stmt *up, *up_run[KL_SQLITE_NRUNS];
  kl_bound *bound_up, *bound_run[KL_SQLITE_NRUNS]; /* what their parameters hold (sqlite_int.h) */
};

#define TRACE_COLS                                                                             \
  "project_id,id,name,user_id,session_id,tags,environment,release,model,model_start_ns,"       \
  "start_ns,end_ns,input_tokens,output_tokens,cost_usd,observation_count,error_count,level_mask"
#define FIRST_MODEL_WINS \
  "excluded.model IS NOT NULL AND (model IS NULL OR excluded.model_start_ns < model_start_ns)"

/* One trace's pending sums into its row; the ON CONFLICT arm is the fold of the rules above. */
static const char k_upsert[] =
    "INSERT INTO traces(" TRACE_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"
    " ON CONFLICT(project_id,id) DO UPDATE SET"
    " name=COALESCE(excluded.name,name), user_id=COALESCE(excluded.user_id,user_id),"
    " session_id=COALESCE(excluded.session_id,session_id), tags=COALESCE(excluded.tags,tags),"
    " environment=COALESCE(excluded.environment,environment), release=COALESCE(excluded.release,release),"
    " model=CASE WHEN " FIRST_MODEL_WINS " THEN excluded.model ELSE model END,"
    " model_start_ns=CASE WHEN " FIRST_MODEL_WINS " THEN excluded.model_start_ns ELSE model_start_ns END,"
    " start_ns=MIN(start_ns,excluded.start_ns),"
    " end_ns=CASE WHEN excluded.end_ns IS NULL THEN end_ns WHEN end_ns IS NULL THEN excluded.end_ns"
    "  ELSE MAX(end_ns,excluded.end_ns) END,"
    " input_tokens=input_tokens+excluded.input_tokens, output_tokens=output_tokens+excluded.output_tokens,"
    " cost_usd=CASE WHEN excluded.cost_usd IS NULL THEN cost_usd ELSE COALESCE(cost_usd,0)+excluded.cost_usd END,"
    " observation_count=observation_count+excluded.observation_count, error_count=error_count+excluded.error_count,"
    " level_mask=level_mask|excluded.level_mask";

#define TAGG_NCOLS 18 /* the ?N of one trace's row in k_upsert */

/* k_upsert with `rows` rows of VALUES (the traces of one run are distinct keys, so no row of
 * it conflicts with another: each meets the stored row only, as with one per statement).  The
 * run sizes are kl_sqlite_runs (sqlite.c says why). */
static char *upsert_run_sql(int rows) {
  const char *v = strstr(k_upsert, " VALUES("), *arm = strstr(k_upsert, " ON CONFLICT");
  kl_buf b = KL_BUF_INIT;
  kl_buf_append(&b, k_upsert, (size_t)(v - k_upsert));
  kl_sqlite_put_values(&b, rows, TAGG_NCOLS);
  kl_buf_puts(&b, arm);
  return kl_buf_steal(&b);
}

#define INITIAL_CAP 1024

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n, sz);
  if (!p) abort();
  return p;
}

int kl_tagg_open(kl_sqlite *q, kl_err *err) {
  kl_tagg *t = xcalloc(1, sizeof *t);
  t->cap = INITIAL_CAP;
  t->v = xcalloc(t->cap, sizeof *t->v);
  t->used = xcalloc(t->cap, sizeof *t->used);
  q->tagg = t;
  int rc = sqlite3_prepare_v3(q->db, k_upsert, -1, SQLITE_PREPARE_PERSISTENT, &t->up, NULL);
  t->bound_up = kl_bound_alloc(TAGG_NCOLS);
  for (int k = 0; rc == SQLITE_OK && k < KL_SQLITE_NRUNS; k++) {
    char *run = upsert_run_sql(kl_sqlite_runs[k]);
    rc = sqlite3_prepare_v3(q->db, run, -1, SQLITE_PREPARE_PERSISTENT, &t->up_run[k], NULL);
    free(run);
    t->bound_run[k] = kl_bound_alloc(kl_sqlite_runs[k] * TAGG_NCOLS);
  }
  if (rc != SQLITE_OK) {
    kl_sqlite_err(q->db, rc, "prepare", err);
    return -1;
  }
  return 0;
}

void kl_tagg_close(kl_sqlite *q) {
  kl_tagg *t = q->tagg;
  if (!t) return;
  sqlite3_finalize(t->up);
  free(t->bound_up);
  for (int k = 0; k < KL_SQLITE_NRUNS; k++) {
    sqlite3_finalize(t->up_run[k]);
    free(t->bound_run[k]);
  }
  free(t->v);
  free(t->used);
  free(t);
  q->tagg = NULL;
}

static uint32_t key_hash(const char *project, const char *trace) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = project; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  h = (h ^ 0xff) * 16777619u;
  for (const char *p = trace; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return h;
}

static tagg_ent *find(kl_tagg *t, const char *project, const char *trace, uint32_t h) {
  for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    tagg_ent *e = &t->v[i];
    if (!e->used) return e;
    if (e->hash == h && strcmp(e->trace, trace) == 0 && strcmp(e->project, project) == 0) return e;
  }
}

static void grow(kl_tagg *t) {
  tagg_ent *old = t->v;
  tagg_ent **oused = t->used;
  size_t n = t->nused;
  t->cap *= 2;
  t->v = xcalloc(t->cap, sizeof *t->v);
  t->used = xcalloc(t->cap, sizeof *t->used);
  t->nused = 0;
  for (size_t k = 0; k < n; k++) {
    tagg_ent *e = find(t, oused[k]->project, oused[k]->trace, oused[k]->hash);
    *e = *oused[k];
    t->used[t->nused++] = e;
  }
  free(old);
  free(oused);
}

static bool is_generation(const kl_obs *o) {
  return o->type && (strcmp(o->type, KL_OBS_GENERATION) == 0 || strcmp(o->type, KL_OBS_EMBEDDING) == 0);
}

void kl_tagg_add(kl_sqlite *q, const char *project, const kl_obs *o) {
  kl_tagg *t = q->tagg;
  if ((t->nused + 1) * 2 > t->cap) grow(t);
  uint32_t h = key_hash(project, o->trace_id);
  tagg_ent *e = find(t, project, o->trace_id, h);
  if (!e->used) {
    e->used = true;
    e->hash = h;
    e->project = project;
    memcpy(e->trace, o->trace_id, sizeof e->trace);
    t->used[t->nused++] = e;
  }
  if (e->count == 0) { /* new, or flushed earlier in the batch: start from nothing */
    e->name = e->user = e->session = e->tags = e->env = e->release = e->model = NULL;
    e->model_start = e->end = e->in = e->out = e->errors = 0;
    e->cost = 0;
    e->has_end = e->has_cost = false;
    e->level_mask = 0;
    e->start = o->start_ns;
    t->pending++;
  }
  e->count++;
  /* the latest non-NULL wins: COALESCE(new, old) one observation at a time */
  if (o->trace_name) e->name = o->trace_name;
  if (o->user_id) e->user = o->user_id;
  if (o->session_id) e->session = o->session_id;
  if (o->tags_json) e->tags = o->tags_json;
  if (o->environment) e->env = o->environment;
  if (o->release) e->release = o->release;
  if (o->model && is_generation(o) && (!e->model || o->start_ns < e->model_start)) {
    e->model = o->model;
    e->model_start = o->start_ns;
  }
  if (o->start_ns < e->start) e->start = o->start_ns;
  if (o->end_ns && (!e->has_end || o->end_ns > e->end)) { /* 0 = none (NULL) */
    e->end = o->end_ns;
    e->has_end = true;
  }
  e->in += o->usage_input + o->usage_input_cached + o->usage_input_cache_write;
  e->out += o->usage_output + o->usage_output_reasoning;
  if (o->cost_usd >= 0) { /* NaN fails >= 0 too */
    e->cost += o->cost_usd;
    e->has_cost = true;
  }
  if (o->level && strcmp(o->level, "ERROR") == 0) e->errors++;
  e->level_mask |= kl_level_bit(o->level);
}

/* Afterwards every parameter holds this trace's value (bound now, or held already: b), so
 * no sqlite3_clear_bindings per trace. */
static void bind_ent_at(sqlite3_stmt *st, kl_bound *b, int k, const tagg_ent *e) {
  kl_rebind_text(st, b, k + 1, e->project);
  kl_rebind_text(st, b, k + 2, e->trace);
  kl_rebind_text(st, b, k + 3, e->name);
  kl_rebind_text(st, b, k + 4, e->user);
  kl_rebind_text(st, b, k + 5, e->session);
  kl_rebind_text(st, b, k + 6, e->tags);
  kl_rebind_text(st, b, k + 7, e->env);
  kl_rebind_text(st, b, k + 8, e->release);
  kl_rebind_text(st, b, k + 9, e->model);
  if (e->model) kl_rebind_i64(st, b, k + 10, e->model_start);
  else kl_rebind_null(st, b, k + 10);
  kl_rebind_i64(st, b, k + 11, e->start);
  if (e->has_end) kl_rebind_i64(st, b, k + 12, e->end);
  else kl_rebind_null(st, b, k + 12);
  kl_rebind_i64(st, b, k + 13, e->in);
  kl_rebind_i64(st, b, k + 14, e->out);
  if (e->has_cost) kl_rebind_f64(st, b, k + 15, e->cost);
  else kl_rebind_null(st, b, k + 15);
  kl_rebind_i64(st, b, k + 16, e->count);
  kl_rebind_i64(st, b, k + 17, e->errors);
  kl_rebind_i64(st, b, k + 18, e->level_mask);
}

static int write_ent(kl_sqlite *q, tagg_ent *e, kl_err *err) {
  sqlite3_stmt *st = q->tagg->up;
  bind_ent_at(st, q->tagg->bound_up, 0, e);
  if (kl_sqlite_step(q->db, st, "update trace", err) != 0) return -1;
  e->count = 0;
  q->tagg->pending--;
  return 0;
}

/* the first kl_sqlite_runs[k] entries of run in one statement */
static int write_run(kl_sqlite *q, int k, tagg_ent *const *run, kl_err *err) {
  sqlite3_stmt *st = q->tagg->up_run[k];
  int rows = kl_sqlite_runs[k];
  for (int i = 0; i < rows; i++) bind_ent_at(st, q->tagg->bound_run[k], i * TAGG_NCOLS, run[i]);
  if (kl_sqlite_step(q->db, st, "update traces", err) != 0) return -1;
  for (int i = 0; i < rows; i++) run[i]->count = 0;
  q->tagg->pending -= (size_t)rows;
  return 0;
}

int kl_tagg_flush_one(kl_sqlite *q, const char *project, const char *trace, kl_err *err) {
  kl_tagg *t = q->tagg;
  if (!t->pending) return 0;
  tagg_ent *e = find(t, project, trace, key_hash(project, trace));
  return e->used && e->count ? write_ent(q, e, err) : 0;
}

static int ent_cmp(const void *a, const void *b) {
  const tagg_ent *x = *(tagg_ent *const *)a, *y = *(tagg_ent *const *)b;
  int c = x->project == y->project ? 0 : strcmp(x->project, y->project);
  return c ? c : strcmp(x->trace, y->trace);
}

/* The entries are in first-seen order, and keel's trace ids lead with the time, so for the
 * gateway's own traces that is nearly always key order already: one pass to check is
 * cheaper than qsort's n log n comparisons (glibc's merge sort does them on sorted input too;
 * callgrind, bench_store 20000 1: qsort was ~0.6k instructions per row, the check ~0.05k). */
static bool in_key_order(tagg_ent *const *v, size_t n) {
  for (size_t k = 1; k < n; k++)
    if (ent_cmp(&v[k - 1], &v[k]) > 0) return false;
  return true;
}

void kl_sqlite_ingest_reset(kl_sqlite *q) {
  kl_tagg *t = q->tagg;
  if (!t) return;
  for (size_t k = 0; k < t->nused; k++) memset(t->used[k], 0, sizeof *t->used[k]);
  t->nused = t->pending = 0;
}

int kl_sqlite_ingest_flush(kl_sqlite *q, kl_err *err) {
  kl_tagg *t = q->tagg;
  if (!t || !t->nused) return 0;
  if (t->pending) {
    if (!in_key_order(t->used, t->nused)) qsort(t->used, t->nused, sizeof *t->used, ent_cmp);
    /* the pending entries, in key order, go out in runs: as many of the largest size as
     * fit, then of the next, then one by one */
    tagg_ent *run[KL_SQLITE_RUN_MAX];
    size_t left = t->pending, nrun = 0;
    for (size_t i = 0; i < t->nused; i++) {
      tagg_ent *e = t->used[i];
      if (!e->count) continue;
      int k = 0;
      while (k < KL_SQLITE_NRUNS && left < (size_t)kl_sqlite_runs[k]) k++;
      run[nrun++] = e;
      if (k < KL_SQLITE_NRUNS && nrun < (size_t)kl_sqlite_runs[k]) continue;
      if ((k < KL_SQLITE_NRUNS ? write_run(q, k, run, err) : write_ent(q, e, err)) != 0)
        return -1; /* the batch rolls back: reset */
      left -= nrun;
      nrun = 0;
    }
  }
  kl_sqlite_ingest_reset(q);
  return 0;
}
