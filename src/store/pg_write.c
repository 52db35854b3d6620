/* pg_write.c: the PostgreSQL backend's write path: the batch transaction and its locks,
 * complete observations, and the `traces` aggregates (partial records, trace records and
 * scores are pg_ingest.c's, called from here).
 *
 * Same semantics as the SQLite backend (sqlite.c + ingest_sqlite.c; read those first): a new
 * observation is added to its trace incrementally (sums, min/max, first generation's model);
 * a replaced one makes its trace be recomputed from observations once at the end of the
 * batch; a partial record is read back, folded with `merge` (creates under updates, older
 * under newer) and written back; a trace record upserts `traces` and is copied onto the
 * trace's observations.  "Most recently written" (SQLite's rowid order) is the column wseq,
 * set from a sequence on every insert or replacement (schema migration 2).
 *
 * Speed: one round trip per statement is the cost on PostgreSQL, so runs of complete
 * observations (the gateway's) are written with ONE statement whose parameters are arrays,
 * one per column (INSERT .. SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING the
 * keys inserted), and their traces' increments are summed per trace in C and applied by one
 * more array statement.  All statements are prepared once on the writer's connection.
 *
 * Two keel instances writing one database.  Every batch is one READ COMMITTED transaction
 * that first takes transaction-scoped advisory locks, in ascending order, on the traces it
 * touches and on the ids of the partial records it holds (hashed into 1024 buckets, so a
 * batch never holds more than 1024 locks): two writers touching the same trace serialise,
 * and since each statement after the lock sees what the other committed, read-merge-write
 * and recomputes never lose an update.  A trace discovered mid-batch (an update that did not
 * name it) is locked then; the rare deadlock this can cause, and serialization failures, make
 * the whole batch roll back and run again (up to KL_PG_RETRIES times). */
#include "store/pg_write_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KL_PG_RETRIES 8
#define LOCK_BUCKETS 1024
#define LOCK_SPACE (0x6b6c7472LL << 16) /* keel's advisory-lock namespace (migrations use another) */

/* ---- column arrays ---- */

static const char k_obs_cols[] =
    "project_id,id,trace_id,parent_id,type,name,level,status_message,http_status,start_ns,"
    "end_ns,completion_start_ns,model,provider,upstream_model,model_params,input,output,"
    "metadata,finish_reason,usage_input,usage_input_cached,usage_input_cache_write,usage_output,"
    "usage_output_reasoning,usage,usage_estimated,cost_usd,cost,trace_name,user_id,session_id,"
    "tags,environment,release,version,prompt_name,prompt_version,ingest_set,ingest_update,ingest_ns";
/* column types of k_obs_cols: t text, b bigint, f double */
static const char k_obs_types[] = "ttttttttbbbbttttttttbbbbbtbftttttttttbbbb";
_Static_assert(sizeof k_obs_types == NOBS + 1, "one type per column");
static const char k_trace_cols[] =
    "project_id,id,name,user_id,session_id,tags,environment,release,model,model_start_ns,"
    "start_ns,end_ns,input_tokens,output_tokens,cost_usd,observation_count,error_count,level_mask";
static const char k_trace_types[] = "tttttttttbbbbbfbbb";
_Static_assert(sizeof k_trace_types == NTRACE + 1, "one type per column");


void kl_pg_write_free(kl_pgw *w) {
  if (!w->arr) return;
  for (int i = 0; i < NOBS; i++) kl_buf_free(&w->arr->b[i]);
  free(w->arr);
  w->arr = NULL;
}

void kl_pgw_arr_begin(kl_pgw_arrs *a, int n) {
  a->n = n;
  a->rows = 0;
  for (int i = 0; i < n; i++) {
    kl_buf_reset(&a->b[i]);
    kl_buf_putc(&a->b[i], '{');
  }
}
static void sep(kl_buf *b) {
  if (b->len > 1) kl_buf_putc(b, ',');
}
void kl_pgw_put_text(kl_buf *b, const char *v) {
  sep(b);
  if (!v) {
    kl_buf_puts(b, "NULL");
    return;
  }
  kl_buf_putc(b, '"');
  for (const char *s = v; *s;) {
    size_t k = strcspn(s, "\"\\");
    kl_buf_append(b, s, k);
    s += k;
    if (*s) {
      kl_buf_putc(b, '\\');
      kl_buf_putc(b, *s++);
    }
  }
  kl_buf_putc(b, '"');
}
static void put_b(kl_buf *b, int64_t v) {
  sep(b);
  kl_buf_printf(b, "%lld", (long long)v);
}
static void put_bn(kl_buf *b, int64_t v) { /* 0 = NULL */
  if (v) put_b(b, v);
  else {
    sep(b);
    kl_buf_puts(b, "NULL");
  }
}
static void put_cost(kl_buf *b, double v) { /* < 0 (and NaN) = NULL */
  sep(b);
  if (v >= 0) kl_buf_printf(b, "%.17g", v);
  else kl_buf_puts(b, "NULL");
}
/* The arrays as the statement's parameters. */
void kl_pgw_arr_params(kl_pgw_arrs *a, kl_pg_params *ps) {
  ps->n = 0;
  for (int i = 0; i < a->n; i++) {
    kl_buf_putc(&a->b[i], '}');
    ps->v[ps->n++] = a->b[i].data;
  }
}

const char *kl_pgw_project(const char *p) { return p && *p ? p : "default"; }

/* One observation row (as kl_sqlite_bind_obs binds it), then the ingest columns (NULL for
 * keel's own observations: ext == NULL). */
void kl_pgw_put_obs(kl_pgw_arrs *a, const kl_obs *o, const kl_obs_patch *ext) {
  kl_buf *b = a->b;
  kl_pgw_put_text(&b[OC_PROJECT], kl_pgw_project(o->project_id));
  kl_pgw_put_text(&b[OC_ID], o->id);
  kl_pgw_put_text(&b[OC_TRACE], o->trace_id);
  kl_pgw_put_text(&b[OC_PARENT], o->parent_id[0] ? o->parent_id : NULL);
  kl_pgw_put_text(&b[OC_TYPE], o->type);
  kl_pgw_put_text(&b[OC_NAME], o->name);
  kl_pgw_put_text(&b[OC_LEVEL], o->level && *o->level ? o->level : "DEFAULT");
  kl_pgw_put_text(&b[OC_STATUS_MSG], o->status_message);
  put_bn(&b[OC_HTTP], o->http_status);
  put_b(&b[OC_START], o->start_ns);
  put_bn(&b[OC_END], o->end_ns);
  put_bn(&b[OC_CSTART], o->completion_start_ns);
  kl_pgw_put_text(&b[OC_MODEL], o->model);
  kl_pgw_put_text(&b[OC_PROVIDER], o->provider);
  kl_pgw_put_text(&b[OC_UPMODEL], o->upstream_model);
  kl_pgw_put_text(&b[OC_PARAMS], o->model_params_json);
  kl_pgw_put_text(&b[OC_INPUT], o->input_json);
  kl_pgw_put_text(&b[OC_OUTPUT], o->output_json);
  kl_pgw_put_text(&b[OC_METADATA], o->metadata_json);
  kl_pgw_put_text(&b[OC_FINISH], o->finish_reason);
  put_b(&b[OC_U_IN], o->usage_input);
  put_b(&b[OC_U_CACHED], o->usage_input_cached);
  put_b(&b[OC_U_CWRITE], o->usage_input_cache_write);
  put_b(&b[OC_U_OUT], o->usage_output);
  put_b(&b[OC_U_REASON], o->usage_output_reasoning);
  kl_pgw_put_text(&b[OC_USAGE], o->usage_json);
  put_b(&b[OC_U_EST], o->usage_estimated ? 1 : 0);
  put_cost(&b[OC_COST_USD], o->cost_usd);
  kl_pgw_put_text(&b[OC_COST], o->cost_json);
  kl_pgw_put_text(&b[OC_TRACE_NAME], o->trace_name);
  kl_pgw_put_text(&b[OC_USER], o->user_id);
  kl_pgw_put_text(&b[OC_SESSION], o->session_id);
  kl_pgw_put_text(&b[OC_TAGS], o->tags_json);
  kl_pgw_put_text(&b[OC_ENV], o->environment);
  kl_pgw_put_text(&b[OC_RELEASE], o->release);
  kl_pgw_put_text(&b[OC_VERSION], ext ? ext->version : NULL);
  kl_pgw_put_text(&b[OC_PROMPT_NAME], ext ? ext->prompt_name : NULL);
  put_bn(&b[OC_PROMPT_VERSION], ext ? ext->prompt_version : 0);
  if (ext) put_b(&b[OC_INGEST_SET], ext->set);
  else put_bn(&b[OC_INGEST_SET], 0);
  if (ext) put_b(&b[OC_INGEST_UPDATE], ext->update ? 1 : 0);
  else put_bn(&b[OC_INGEST_UPDATE], 0);
  put_bn(&b[OC_INGEST_NS], ext ? ext->received_ns : 0);
  a->rows++;
}

/* ---- trace increments, summed per trace in C ---- */

typedef struct tagg {
  const char *project, *trace;
  const char *name, *user, *session, *tags, *env, *release, *model;
  int64_t model_start, start, end, in, out, count, errors, mask;
  double cost; /* < 0: none known */
} tagg;

static int level_bit(const char *level) {
  if (!level) return 2;
  if (!strcmp(level, "ERROR")) return 8;
  if (!strcmp(level, "WARNING")) return 4;
  if (!strcmp(level, "DEBUG")) return 1;
  return 2;
}

static bool is_generation(const kl_obs *o) {
  return o->type && (!strcmp(o->type, KL_OBS_GENERATION) || !strcmp(o->type, KL_OBS_EMBEDDING));
}

/* Folds o into t exactly as SQLite's trace_add statement folds it into the row. */
static void tagg_add(tagg *t, const kl_obs *o) {
  if (!t->count) {
    memset(t, 0, sizeof *t);
    t->project = kl_pgw_project(o->project_id);
    t->trace = o->trace_id;
    t->cost = -1;
    t->start = o->start_ns;
  }
#define LATEST(f, v) if (v) t->f = v
  LATEST(name, o->trace_name);
  LATEST(user, o->user_id);
  LATEST(session, o->session_id);
  LATEST(tags, o->tags_json);
  LATEST(env, o->environment);
  LATEST(release, o->release);
#undef LATEST
  if (o->model && is_generation(o) && (!t->model || o->start_ns < t->model_start)) {
    t->model = o->model;
    t->model_start = o->start_ns;
  }
  if (o->start_ns < t->start) t->start = o->start_ns;
  if (o->end_ns && o->end_ns > t->end) t->end = o->end_ns;
  t->in += o->usage_input + o->usage_input_cached + o->usage_input_cache_write;
  t->out += o->usage_output + o->usage_output_reasoning;
  if (o->cost_usd >= 0) t->cost = t->cost < 0 ? o->cost_usd : t->cost + o->cost_usd;
  t->count++;
  t->errors += o->level && !strcmp(o->level, "ERROR");
  t->mask |= level_bit(o->level);
}

static void put_tagg(kl_pgw_arrs *a, const tagg *t) {
  kl_buf *b = a->b;
  kl_pgw_put_text(&b[0], t->project);
  kl_pgw_put_text(&b[1], t->trace);
  kl_pgw_put_text(&b[2], t->name);
  kl_pgw_put_text(&b[3], t->user);
  kl_pgw_put_text(&b[4], t->session);
  kl_pgw_put_text(&b[5], t->tags);
  kl_pgw_put_text(&b[6], t->env);
  kl_pgw_put_text(&b[7], t->release);
  kl_pgw_put_text(&b[8], t->model);
  if (t->model) put_b(&b[9], t->model_start);
  else put_bn(&b[9], 0);
  put_b(&b[10], t->start);
  put_bn(&b[11], t->end);
  put_b(&b[12], t->in);
  put_b(&b[13], t->out);
  put_cost(&b[14], t->cost);
  put_b(&b[15], t->count);
  put_b(&b[16], t->errors);
  put_b(&b[17], t->mask);
  a->rows++;
}

/* ---- statements ---- */

static const char *const k_names[W_N] = {"w_ins_new", "w_upsert", "w_trace_add", "w_recompute", "w_drop_empty",
                                         "w_sel", "w_find", "w_del", "w_tsel", "w_tupsert", "w_denorm",
                                         "w_score", "w_lock", "w_orphans"};

#define TRACE_EXPLICIT "name,user_id,session_id,tags,environment,release,metadata,input,output,version"
#define FIRST_MODEL_WINS \
  "excluded.model IS NOT NULL AND (t.model IS NULL OR excluded.model_start_ns < t.model_start_ns)"
#define LATEST(col)                                                                                     \
  "(SELECT " col " FROM observations WHERE project_id=$1 AND trace_id=$2 AND " col " IS NOT NULL" \
  " ORDER BY wseq DESC NULLS LAST LIMIT 1)"
#define FIRST_GEN(col)                                                                                     \
  "(SELECT " col " FROM observations WHERE project_id=$1 AND trace_id=$2 AND model IS NOT NULL"        \
  " AND type IN ('GENERATION','EMBEDDING') ORDER BY start_ns, wseq NULLS LAST LIMIT 1)"

static const char k_trace_add_set[] =
    " ON CONFLICT(project_id,id) DO UPDATE SET"
    " name=COALESCE(excluded.name,t.name), user_id=COALESCE(excluded.user_id,t.user_id),"
    " session_id=COALESCE(excluded.session_id,t.session_id), tags=COALESCE(excluded.tags,t.tags),"
    " environment=COALESCE(excluded.environment,t.environment), release=COALESCE(excluded.release,t.release),"
    " model=CASE WHEN " FIRST_MODEL_WINS " THEN excluded.model ELSE t.model END,"
    " model_start_ns=CASE WHEN " FIRST_MODEL_WINS " THEN excluded.model_start_ns ELSE t.model_start_ns END,"
    " start_ns=LEAST(t.start_ns,excluded.start_ns), end_ns=GREATEST(t.end_ns,excluded.end_ns),"
    " input_tokens=t.input_tokens+excluded.input_tokens, output_tokens=t.output_tokens+excluded.output_tokens,"
    " cost_usd=CASE WHEN excluded.cost_usd IS NULL THEN t.cost_usd ELSE COALESCE(t.cost_usd,0)+excluded.cost_usd END,"
    " observation_count=t.observation_count+excluded.observation_count,"
    " error_count=t.error_count+excluded.error_count, level_mask=t.level_mask|excluded.level_mask";

static const char k_recompute[] =
    "INSERT INTO traces AS t(project_id,id,name,user_id,session_id,tags,environment,release,model,model_start_ns,"
    "start_ns,end_ns,input_tokens,output_tokens,cost_usd,observation_count,error_count,level_mask)"
    " SELECT $1, $2, " LATEST("trace_name") "," LATEST("user_id") "," LATEST("session_id") "," LATEST("tags") ","
    LATEST("environment") "," LATEST("release") "," FIRST_GEN("model") "," FIRST_GEN("start_ns") ","
    " MIN(start_ns), MAX(end_ns), SUM(usage_input+usage_input_cached+usage_input_cache_write)::bigint,"
    " SUM(usage_output+usage_output_reasoning)::bigint, SUM(cost_usd), COUNT(*), SUM((level='ERROR')::int)::bigint,"
    " (MAX((level='DEBUG')::int) | MAX((level NOT IN ('DEBUG','WARNING','ERROR'))::int)*2"
    "  | MAX((level='WARNING')::int)*4 | MAX((level='ERROR')::int)*8)::bigint"
    " FROM observations WHERE project_id=$1 AND trace_id=$2 GROUP BY trace_id"
    " ON CONFLICT(project_id,id) DO UPDATE SET name=excluded.name, user_id=excluded.user_id,"
    " session_id=excluded.session_id, tags=excluded.tags, environment=excluded.environment,"
    " release=excluded.release, model=excluded.model, model_start_ns=excluded.model_start_ns,"
    " start_ns=excluded.start_ns, end_ns=excluded.end_ns, input_tokens=excluded.input_tokens,"
    " output_tokens=excluded.output_tokens, cost_usd=excluded.cost_usd,"
    " observation_count=excluded.observation_count, error_count=excluded.error_count,"
    " level_mask=excluded.level_mask";

static char *unnest_sql(const char *head, const char *cols, const char *types, const char *tail) {
  kl_buf b = KL_BUF_INIT;
  kl_buf_printf(&b, "%s(%s) SELECT *%s FROM unnest(", head, cols, strstr(head, "observations") ? ", nextval('observations_wseq')" : "");
  for (int i = 0; types[i]; i++)
    kl_buf_printf(&b, "%s$%d::%s[]", i ? "," : "", i + 1, types[i] == 't' ? "text" : types[i] == 'b' ? "bigint" : "float8");
  kl_buf_printf(&b, ")%s", tail);
  return kl_buf_steal(&b);
}

static char *upsert_all_sql(void) {
  /* every column replaced: SQLite's INSERT OR REPLACE */
  kl_buf tail = KL_BUF_INIT;
  kl_buf_puts(&tail, " ON CONFLICT(project_id,trace_id,id) DO UPDATE SET ");
  const char *c = k_obs_cols;
  while (*c) {
    size_t n = strcspn(c, ",");
    kl_buf_printf(&tail, "%.*s=excluded.%.*s,", (int)n, c, (int)n, c);
    c += n + (c[n] == ',');
  }
  kl_buf_puts(&tail, "wseq=excluded.wseq");
  char *s = unnest_sql("INSERT INTO observations", k_obs_cols, k_obs_types, tail.data);
  kl_buf_free(&tail);
  return s;
}

int kl_pg_write_prepare(kl_pgw *w, kl_err *err) {
  if (!w->arr && !(w->arr = calloc(1, sizeof *w->arr))) abort();
  char *dyn[3] = {
      unnest_sql("INSERT INTO observations", k_obs_cols, k_obs_types, " ON CONFLICT DO NOTHING RETURNING trace_id, id"),
      upsert_all_sql(),
      unnest_sql("INSERT INTO traces AS t", k_trace_cols, k_trace_types, k_trace_add_set),
  };
  /* the observation statements insert wseq after the columns */
  for (int i = 0; i < 2; i++) {
    char *p = strstr(dyn[i], ",ingest_ns)");
    kl_buf b = KL_BUF_INIT;
    kl_buf_append(&b, dyn[i], (size_t)(p - dyn[i]));
    kl_buf_puts(&b, ",ingest_ns,wseq)");
    kl_buf_puts(&b, p + strlen(",ingest_ns)"));
    free(dyn[i]);
    dyn[i] = kl_buf_steal(&b);
  }
  const char *sql[W_N] = {
      [W_INS_NEW] = dyn[0],
      [W_UPSERT] = dyn[1],
      [W_TRACE_ADD] = dyn[2],
      [W_RECOMPUTE] = k_recompute,
      [W_DROP_EMPTY] = "DELETE FROM traces t WHERE project_id=$1 AND id=$2 AND ingest_set IS NULL AND NOT EXISTS"
                       " (SELECT 1 FROM observations WHERE project_id=$1 AND trace_id=$2)",
      [W_SEL] = "SELECT project_id,id,trace_id,parent_id,type,name,level,status_message,http_status,start_ns,"
                "end_ns,completion_start_ns,model,provider,upstream_model,model_params,input,output,"
                "metadata,finish_reason,usage_input,usage_input_cached,usage_input_cache_write,usage_output,"
                "usage_output_reasoning,usage,usage_estimated,cost_usd,cost,trace_name,user_id,session_id,"
                "tags,environment,release,version,prompt_name,prompt_version,ingest_set,ingest_update,ingest_ns"
                " FROM observations WHERE project_id=$1 AND trace_id=$2 AND id=$3",
      [W_FIND] = "SELECT trace_id FROM observations WHERE project_id=$1 AND id=$2 AND ingest_ns IS NOT NULL"
                 " ORDER BY trace_id='' LIMIT 1",
      [W_DEL] = "DELETE FROM observations WHERE project_id=$1 AND trace_id=$2 AND id=$3",
      [W_TSEL] = "SELECT " TRACE_EXPLICIT ",start_ns,ingest_set,ingest_ns FROM traces WHERE project_id=$1 AND id=$2",
      [W_TUPSERT] =
          "INSERT INTO traces AS t(project_id,id," TRACE_EXPLICIT ",start_ns,ingest_set,ingest_ns)"
          " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13::bigint,$14::bigint,$15::bigint)"
          " ON CONFLICT(project_id,id) DO UPDATE SET name=COALESCE(excluded.name,t.name),"
          " user_id=COALESCE(excluded.user_id,t.user_id), session_id=COALESCE(excluded.session_id,t.session_id),"
          " tags=COALESCE(excluded.tags,t.tags), environment=COALESCE(excluded.environment,t.environment),"
          " release=COALESCE(excluded.release,t.release), metadata=COALESCE(excluded.metadata,t.metadata),"
          " input=COALESCE(excluded.input,t.input), output=COALESCE(excluded.output,t.output),"
          " version=COALESCE(excluded.version,t.version),"
          " start_ns=CASE WHEN $16::int = 0 THEN t.start_ns WHEN t.observation_count = 0 THEN excluded.start_ns"
          "  ELSE LEAST(t.start_ns, excluded.start_ns) END,"
          " ingest_set=excluded.ingest_set, ingest_ns=excluded.ingest_ns",
      [W_DENORM] = "UPDATE observations SET"
                   " trace_name=COALESCE($3,trace_name), user_id=COALESCE($4,user_id),"
                   " session_id=COALESCE($5,session_id), tags=COALESCE($6,tags),"
                   " environment=COALESCE($7,environment), release=COALESCE($8,release)"
                   " WHERE project_id=$1 AND trace_id=$2",
      [W_SCORE] = "INSERT INTO scores(id,project_id,trace_id,observation_id,session_id,dataset_run_id,"
                  "name,value,string_value,data_type,source,comment,config_id,environment,timestamp_ns,metadata)"
                  " VALUES($1,$2,$3,$4,$5,$6,$7,$8::float8,$9,$10,$11,$12,$13,$14,$15::bigint,$16)"
                  " ON CONFLICT(project_id,id) DO UPDATE SET trace_id=excluded.trace_id,"
                  " observation_id=excluded.observation_id, session_id=excluded.session_id,"
                  " dataset_run_id=excluded.dataset_run_id, name=excluded.name, value=excluded.value,"
                  " string_value=excluded.string_value, data_type=excluded.data_type, source=excluded.source,"
                  " comment=excluded.comment, config_id=excluded.config_id, environment=excluded.environment,"
                  " timestamp_ns=excluded.timestamp_ns, metadata=excluded.metadata",
      [W_LOCK] = "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) k ORDER BY k) s",
      [W_ORPHANS] = "SELECT EXISTS(SELECT 1 FROM observations WHERE project_id=ANY($1::text[]) AND trace_id=''"
                    " AND ingest_ns IS NOT NULL)",
  };
  int rc = 0;
  for (int i = 0; i < W_N && rc == 0; i++) {
    PGresult *r = PQprepare(w->p.w, k_names[i], sql[i], 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
      kl_pg_err(w->p.w, r, k_names[i], err);
      rc = -1;
    }
    PQclear(r);
  }
  for (int i = 0; i < 3; i++) free(dyn[i]);
  w->prepared = rc == 0;
  return rc;
}

PGresult *kl_pgw_exec(kl_pgw *w, int st, const kl_pg_params *ps, kl_err *err) {
  return kl_pg_exec_prepared(w->p.w, k_names[st], ps, err);
}
int kl_pgw_run(kl_pgw *w, int st, const kl_pg_params *ps, kl_err *err) {
  PGresult *r = kl_pgw_exec(w, st, ps, err);
  PQclear(r);
  return r ? 0 : -1;
}


/* ---- locks ---- */

static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (h ^ 0x1f) * 1099511628211ULL;
}
static int64_t lock_key(const char *project, const char *tag, const char *id) {
  uint64_t h = fnv(fnv(fnv(14695981039346656037ULL, project), tag), id);
  return LOCK_SPACE | (int64_t)(h % LOCK_BUCKETS);
}
static int i64_cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}
/* Takes the locks keys[0..n) in ascending order (sorts them). */
static int lock_keys(kl_pgw *w, int64_t *keys, size_t n, kl_err *err) {
  if (!n) return 0;
  qsort(keys, n, sizeof *keys, i64_cmp);
  kl_buf b = KL_BUF_INIT;
  kl_buf_putc(&b, '{');
  for (size_t i = 0; i < n; i++)
    if (i == 0 || keys[i] != keys[i - 1]) kl_buf_printf(&b, "%s%lld", b.len > 1 ? "," : "", (long long)keys[i]);
  kl_buf_putc(&b, '}');
  kl_pg_params ps = {.n = 1, .v = {b.data}};
  int rc = kl_pgw_run(w, W_LOCK, &ps, err);
  kl_buf_free(&b);
  return rc;
}
int kl_pg_lock_trace(kl_pgw *w, const char *project, const char *trace, kl_err *err) {
  int64_t k = lock_key(project, "t", trace);
  return lock_keys(w, &k, 1, err);
}

/* ---- traces to recompute at the end of the batch ---- */

void kl_pgw_redo_push(kl_pgw *w, kl_pgw_redo *l, const char *project, const char *trace) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) abort();
  }
  l->v[l->n].project = kl_arena_strdup(w->p.arena, project);
  l->v[l->n].trace = kl_arena_strdup(w->p.arena, trace);
  l->n++;
}
static int redo_cmp(const void *a, const void *b) {
  const char *const *x = a, *const *y = b; /* {project, trace} */
  int c = strcmp(x[0], y[0]);
  return c ? c : strcmp(x[1], y[1]);
}

int kl_pg_recompute(kl_pgw *w, const char *project, const char *trace, int64_t *dropped, kl_err *err) {
  kl_pg_params ps = {.n = 2, .v = {project, trace}};
  if (kl_pgw_run(w, W_RECOMPUTE, &ps, err) != 0) return -1;
  PGresult *r = kl_pgw_exec(w, W_DROP_EMPTY, &ps, err);
  if (!r) return -1;
  if (dropped) *dropped += strtoll(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return 0;
}

/* ---- complete observations: a run of them in one statement ---- */

static int trace_add(kl_pgw *w, const tagg *t, size_t n, kl_err *err) {
  kl_pgw_arrs *a = w->arr;
  kl_pgw_arr_begin(a, NTRACE);
  for (size_t i = 0; i < n; i++) put_tagg(a, &t[i]);
  kl_pg_params ps;
  kl_pgw_arr_params(a, &ps);
  return kl_pgw_run(w, W_TRACE_ADD, &ps, err);
}

int kl_pgw_trace_add_one(kl_pgw *w, const kl_obs *o, kl_err *err) {
  tagg t = {0};
  tagg_add(&t, o);
  return trace_add(w, &t, 1, err);
}

static bool same_key(const kl_obs *a, const kl_obs *b) {
  return !strcmp(a->id, b->id) && !strcmp(a->trace_id, b->trace_id) && !strcmp(kl_pgw_project(a->project_id), kl_pgw_project(b->project_id));
}

typedef struct { const kl_obs *o; size_t i; } ref;
static int ref_cmp(const void *a, const void *b) {
  const ref *x = a, *y = b;
  int c = strcmp(kl_pgw_project(x->o->project_id), kl_pgw_project(y->o->project_id));
  if (!c) c = strcmp(x->o->trace_id, y->o->trace_id);
  return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* os[0..n): distinct keys.  New rows are inserted and added to their traces; the others
 * replace their rows and their traces join the recompute list. */
static int write_obs_run(kl_pgw *w, const kl_obs *const *os, size_t n, kl_pgw_redo *rd, kl_err *err) {
  kl_pgw_arrs *a = w->arr;
  kl_pgw_arr_begin(a, NOBS);
  for (size_t i = 0; i < n; i++) kl_pgw_put_obs(a, os[i], NULL);
  kl_pg_params ps;
  kl_pgw_arr_params(a, &ps);
  PGresult *r = kl_pgw_exec(w, W_INS_NEW, &ps, err);
  if (!r) return -1;
  bool *ins = calloc(n, sizeof *ins);
  ref *refs = malloc(n * sizeof *refs);
  if (!ins || !refs) abort();
  size_t next = 0, nins = 0;
  for (int j = 0; j < PQntuples(r); j++) {
    const char *tr = PQgetvalue(r, j, 0), *id = PQgetvalue(r, j, 1);
    for (size_t k = 0; k < n; k++) { /* rows come back in order: usually the first try matches */
      size_t i = (next + k) % n;
      if (!ins[i] && !strcmp(os[i]->id, id) && !strcmp(os[i]->trace_id, tr)) {
        ins[i] = true;
        next = i + 1;
        break;
      }
    }
  }
  PQclear(r);
  for (size_t i = 0; i < n; i++)
    if (ins[i]) refs[nins++] = (ref){os[i], i};
  int rc = 0;
  if (nins) {
    qsort(refs, nins, sizeof *refs, ref_cmp);
    tagg *t = calloc(nins, sizeof *t);
    if (!t) abort();
    size_t nt = 0;
    for (size_t i = 0; i < nins; i++) {
      if (i == 0 || ref_cmp(&(ref){refs[i].o, 0}, &(ref){refs[i - 1].o, 0}) != 0) nt++;
      tagg_add(&t[nt - 1], refs[i].o);
    }
    rc = trace_add(w, t, nt, err);
    free(t);
  }
  if (rc == 0 && nins < n) {
    kl_pgw_arr_begin(a, NOBS);
    for (size_t i = 0; i < n; i++)
      if (!ins[i]) {
        kl_pgw_put_obs(a, os[i], NULL);
        kl_pgw_redo_push(w, rd, kl_pgw_project(os[i]->project_id), os[i]->trace_id);
      }
    kl_pgw_arr_params(a, &ps);
    rc = kl_pgw_run(w, W_UPSERT, &ps, err);
  }
  free(ins);
  free(refs);
  return rc;
}

/* ---- the batch ---- */

static int batch_once(kl_pgw *w, kl_rec *const *recs, size_t n, kl_obs_merge_fn merge, kl_err *err) {
  kl_pgw_redo rd = {0};
  int64_t *keys = malloc((2 * n + 1) * sizeof *keys);
  const kl_obs **run = malloc((n + 1) * sizeof *run);
  if (!keys || !run) abort();
  size_t nk = 0;
  bool patches = false;
  for (size_t i = 0; i < n; i++) {
    const kl_rec *r = recs[i];
    if (r->kind == KL_REC_OBS) {
      keys[nk++] = lock_key(kl_pgw_project(r->u.obs.project_id), "t", r->u.obs.trace_id);
    } else if (r->kind == KL_REC_PATCH) {
      const kl_obs *o = &r->u.patch.obs;
      const char *p = kl_pgw_project(o->project_id);
      if (r->u.patch.trace_record) {
        keys[nk++] = lock_key(p, "t", o->id);
      } else {
        patches = true;
        keys[nk++] = lock_key(p, "o", o->id);
        if (o->trace_id[0]) keys[nk++] = lock_key(p, "t", o->trace_id);
      }
    }
  }
  int rc = -1;
  bool orphans = false;
  if (kl_pg_run(w->p.w, "BEGIN", NULL, err) != 0 || lock_keys(w, keys, nk, err) != 0) goto done;
  if (patches) { /* is some ingested row kept under trace "" (an update whose create is pending)? */
    kl_buf b = KL_BUF_INIT;
    kl_pgw_arrs *a = w->arr;
    kl_pgw_arr_begin(a, 1);
    for (size_t i = 0; i < n; i++)
      if (recs[i]->kind == KL_REC_PATCH) kl_pgw_put_text(&a->b[0], kl_pgw_project(recs[i]->u.patch.obs.project_id));
    kl_pg_params ps;
    kl_pgw_arr_params(a, &ps);
    PGresult *r = kl_pgw_exec(w, W_ORPHANS, &ps, err);
    kl_buf_free(&b);
    if (!r) goto done;
    orphans = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
  }
  for (size_t i = 0; i < n;) {
    const kl_rec *r = recs[i];
    if (r->kind == KL_REC_OBS) { /* the longest run of complete observations with distinct keys */
      size_t m = 0;
      for (; i < n && recs[i]->kind == KL_REC_OBS; i++) {
        bool dup = false;
        for (size_t k = 0; k < m && !dup; k++) dup = same_key(run[k], &recs[i]->u.obs);
        if (dup) break;
        run[m++] = &recs[i]->u.obs;
      }
      if (write_obs_run(w, run, m, &rd, err) != 0) goto done;
      continue;
    }
    int x = r->kind == KL_REC_PATCH ? kl_pgw_write_patch(w, &r->u.patch, merge, &orphans, &rd, err)
                                    : kl_pgw_write_score(w, &r->u.score, err);
    if (x != 0) goto done;
    i++;
  }
  if (rd.n) {
    qsort(rd.v, rd.n, sizeof *rd.v, redo_cmp);
    for (size_t i = 0; i < rd.n; i++) {
      if (i > 0 && redo_cmp(&rd.v[i - 1], &rd.v[i]) == 0) continue;
      if (kl_pg_recompute(w, rd.v[i].project, rd.v[i].trace, NULL, err) != 0) goto done;
    }
  }
  rc = kl_pg_run(w->p.w, "COMMIT", NULL, err);
done:
  free(rd.v);
  free(keys);
  free(run);
  return rc;
}

/* The writer's connection, reconnected (and its statements prepared again) if it broke. */
static int writer_conn(kl_pgw *w, kl_err *err) {
  if (w->p.w && PQstatus(w->p.w) == CONNECTION_OK && w->prepared) return 0;
  if (w->p.w) PQfinish(w->p.w);
  w->prepared = false;
  if (!(w->p.w = kl_pg_connect(w->p.conninfo, err))) return -1;
  return kl_pg_write_prepare(w, err);
}

int kl_pg_write_batch(void *be, kl_rec *const *recs, size_t n, kl_obs_merge_fn merge, kl_err *err) {
  kl_pgw *w = be;
  for (int attempt = 0;; attempt++) {
    if (writer_conn(w, err) != 0) return -1;
    int rc = batch_once(w, recs, n, merge, err);
    kl_arena_reset(w->p.arena);
    if (rc == 0) return 0;
    char state[6];
    snprintf(state, sizeof state, "%s", kl_pg_last_state());
    if (PQtransactionStatus(w->p.w) != PQTRANS_IDLE) kl_pg_run(w->p.w, "ROLLBACK", NULL, NULL);
    if ((strcmp(state, "40001") && strcmp(state, "40P01")) || attempt + 1 >= KL_PG_RETRIES) return -1;
    w->retries++;
    kl_debug("store: postgres batch retried (%s): %s", state, err ? err->msg : "");
    kl_err_clear(err);
  }
}
