/* query.c: keel's query API (issue 5; the contract the dashboard is written against):
 *
 *   GET  /api/v1/traces          filters, full text, cursor; ?since= for the live tail
 *   GET  /api/v1/observations    filters, full text, cursor
 *   GET  /api/v1/scores          POST /api/v1/scores
 *   GET  /api/v1/sessions[/{id}] GET /api/v1/users[/{id}]
 *   GET  /api/v1/metrics         group_by, bucket, p50/p95/p99 of latency and TTFT
 *
 * Every parameter is checked here, on the loop, before any SQL: a bad one is a 400 whose
 * "param" names it.  The query itself runs on libuv's thread pool (uv_queue_work), as in
 * traces.c, and the store answers with JSON ready to send.  Everything is scoped to the
 * project the credentials named (auth.c).
 *
 * POST /scores queues the score (kl_store_submit_score) and waits, on the thread pool, for
 * the writer to commit it, so a GET right after the 201 sees it. */
#include "api/api_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { Q_TRACES, Q_OBS, Q_SCORES, Q_SCORE_POST, Q_SESSIONS, Q_SESSION, Q_USERS, Q_USER, Q_METRICS } qkind;

typedef struct qwork {
  uv_work_t work;
  kl_http_req *req;
  kl_api_ctx *ctx;
  qkind kind;
  const char *project, *id;
  kl_trace_filter tf;
  kl_score_filter sf;
  kl_group_filter gf;
  kl_metrics_filter mf;
  kl_score score;
  kl_buf out;
  kl_err err;
  int rc;
} qwork;

static void run(uv_work_t *w) {
  qwork *q = w->data;
  kl_store *s = q->ctx->store;
  switch (q->kind) {
    case Q_TRACES: q->rc = kl_store_list_traces(s, &q->tf, &q->out, &q->err); break;
    case Q_OBS: q->rc = kl_store_list_observations(s, &q->tf, &q->out, &q->err); break;
    case Q_SCORES: q->rc = kl_store_list_scores(s, &q->sf, &q->out, &q->err); break;
    case Q_SESSIONS: q->rc = kl_store_list_sessions(s, &q->gf, &q->out, &q->err); break;
    case Q_SESSION: q->rc = kl_store_get_session(s, q->project, q->id, &q->out, &q->err); break;
    case Q_USERS: q->rc = kl_store_list_users(s, &q->gf, &q->out, &q->err); break;
    case Q_USER: q->rc = kl_store_get_user(s, q->project, q->id, &q->out, &q->err); break;
    case Q_METRICS: q->rc = kl_store_metrics(s, &q->mf, &q->out, &q->err); break;
    case Q_SCORE_POST:
      q->rc = kl_store_submit_score(s, &q->score, &q->err);
      if (q->rc == 0) {
        kl_store_flush(s);
        kl_buf_puts(&q->out, "{\"id\":");
        kl_buf_json_str(&q->out, q->score.id, strlen(q->score.id));
        kl_buf_putc(&q->out, '}');
      }
      break;
  }
}

/* A store 400 says "<param>: why"; the param goes into the error's "param". */
static const char *param_of(kl_arena *a, const char *msg) {
  const char *c = strstr(msg, ": ");
  if (!c || c == msg || c - msg > 40) return NULL;
  for (const char *p = msg; p < c; p++)
    if (!islower((unsigned char)*p) && *p != '_') return NULL;
  return kl_arena_strndup(a, msg, (size_t)(c - msg));
}

static void done(uv_work_t *w, int status) {
  qwork *q = w->data;
  kl_metrics *met = kl_gateway_metrics(q->ctx->gw);
  if (status != 0 || q->rc != 0) {
    int code = q->err.code >= 400 && q->err.code < 600 ? q->err.code : 500;
    kl_metrics_http(met, "traces", code);
    const char *nf = q->kind == Q_SESSION ? "session_not_found" : q->kind == Q_USER ? "user_not_found" : "not_found";
    kl_api_respond_error(q->req, code,
                         code == 404 ? "not_found_error" : code == 400 ? "invalid_request_error" : "api_error",
                         q->err.msg[0] ? q->err.msg : "query failed",
                         code == 400 ? param_of(q->req->arena, q->err.msg) : NULL,
                         code == 404 ? nf : code == 400 ? "invalid_parameter" : NULL);
  } else {
    kl_metrics_http(met, "traces", q->kind == Q_SCORE_POST ? 201 : 200);
    kl_api_respond_json(q->req, q->kind == Q_SCORE_POST ? 201 : 200, q->out.data, q->out.len);
  }
  kl_buf_free(&q->out);
}

static void submit(qwork *q) {
  int rc = uv_queue_work(q->req->loop, &q->work, run, done);
  if (rc != 0) kl_api_respond_error(q->req, 500, "api_error", uv_strerror(rc), NULL, NULL);
}

static qwork *new_work(kl_http_req *req, kl_api_ctx *ctx, const char *project, qkind kind) {
  qwork *q = kl_arena_calloc(req->arena, sizeof *q);
  q->req = req;
  q->ctx = ctx;
  q->work.data = q;
  q->project = project;
  q->kind = kind;
  q->tf.project_id = q->sf.project_id = q->gf.project_id = q->mf.project_id = project;
  return q;
}

/* ---- parameters: each returns 0, or -1 after answering 400 naming the parameter ---- */

static int bad_param(kl_http_req *req, const char *param, const char *why) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", param, why);
  kl_api_respond_error(req, 400, "invalid_request_error", msg, param, "invalid_parameter");
  return -1;
}

static const char *str_param(kl_http_req *req, const char *key) {
  const char *v = kl_http_query_get(req, key);
  return v && *v ? v : NULL;
}

static int time_param(kl_http_req *req, const char *key, int64_t *out) {
  const char *v = str_param(req, key);
  if (!v) return 0;
  int64_t t = kl_time_parse(v);
  if (t <= 0) return bad_param(req, key, "expected an RFC 3339 time or epoch seconds/milliseconds");
  *out = t;
  return 0;
}

static int limit_param(kl_http_req *req, int *out) {
  const char *v = str_param(req, "limit");
  if (!v) return 0;
  char *end;
  long l = strtol(v, &end, 10);
  if (*end || l < 1 || l > 1000) return bad_param(req, "limit", "expected an integer from 1 to 1000");
  *out = (int)l;
  return 0;
}

static int num_param(kl_http_req *req, const char *key, double *out, unsigned bit, unsigned *bits) {
  const char *v = str_param(req, key);
  if (!v) return 0;
  char *end;
  double d = strtod(v, &end);
  if (*end || end == v || !isfinite(d) || d < 0) return bad_param(req, key, "expected a non-negative number");
  *out = d;
  *bits |= bit;
  return 0;
}

static int id_param(kl_http_req *req, const char *key, const char **out) {
  const char *v = str_param(req, key);
  if (v && strlen(v) > KL_OBS_ID_MAX) return bad_param(req, key, "too long (at most 64 characters)");
  *out = v;
  return 0;
}

/* v upper-cased (in the arena) if it is one of `allowed` in any case; else a 400. */
static int enum_param(kl_http_req *req, const char *key, const char *const *allowed, const char *what,
                      const char **out) {
  const char *v = str_param(req, key);
  if (!v) return 0;
  for (size_t i = 0; allowed[i]; i++) {
    if (strcasecmp(v, allowed[i])) continue;
    *out = allowed[i];
    return 0;
  }
  return bad_param(req, key, what);
}

static const char *const k_levels[] = {"DEBUG", "DEFAULT", "WARNING", "ERROR", NULL};
static const char *const k_types[] = {KL_OBS_SPAN, KL_OBS_GENERATION, KL_OBS_EVENT, KL_OBS_AGENT, KL_OBS_TOOL,
                                      KL_OBS_CHAIN, KL_OBS_RETRIEVER, KL_OBS_EVALUATOR, KL_OBS_EMBEDDING,
                                      KL_OBS_GUARDRAIL, NULL};
static const char *const k_status[] = {"ok", "error", NULL};
static const char *const k_sources[] = {"API", "EVAL", "ANNOTATION", NULL};
static const char *const k_dtypes[] = {"NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT", NULL};
#define LEVELS_WHAT "expected DEBUG, DEFAULT, WARNING or ERROR"
#define TYPES_WHAT "expected an observation type (GENERATION, SPAN, EVENT, AGENT, TOOL, CHAIN, RETRIEVER, EVALUATOR, EMBEDDING, GUARDRAIL)"

/* The filters traces and observations share. */
static int common_filters(kl_http_req *req, kl_trace_filter *f) {
  f->cursor = str_param(req, "cursor");
  f->model = str_param(req, "model");
  f->name = str_param(req, "name");
  f->q = str_param(req, "q");
  if (limit_param(req, &f->limit) || time_param(req, "from", &f->from_ns) || time_param(req, "to", &f->to_ns) ||
      id_param(req, "user_id", &f->user_id) || id_param(req, "session_id", &f->session_id) ||
      enum_param(req, "level", k_levels, LEVELS_WHAT, &f->level) ||
      num_param(req, "min_cost", &f->min_cost, KL_RANGE_MIN_COST, &f->ranges) ||
      num_param(req, "max_cost", &f->max_cost, KL_RANGE_MAX_COST, &f->ranges) ||
      num_param(req, "min_latency_ms", &f->min_latency_ms, KL_RANGE_MIN_LATENCY, &f->ranges) ||
      num_param(req, "max_latency_ms", &f->max_latency_ms, KL_RANGE_MAX_LATENCY, &f->ranges))
    return -1;
  if (f->q && strlen(f->q) > 1000) return bad_param(req, "q", "too long (at most 1000 characters)");
  return 0;
}

void kl_api_query_traces(kl_http_req *req, kl_api_ctx *ctx, const char *project) {
  qwork *q = new_work(req, ctx, project, Q_TRACES);
  kl_trace_filter *f = &q->tf;
  if (common_filters(req, f) || enum_param(req, "status", k_status, "expected ok or error", &f->status) ||
      time_param(req, "since", &f->since_ns))
    return;
  f->tags = str_param(req, "tags");
  submit(q);
}

void kl_api_query_observations(kl_http_req *req, kl_api_ctx *ctx, const char *project) {
  qwork *q = new_work(req, ctx, project, Q_OBS);
  kl_trace_filter *f = &q->tf;
  if (common_filters(req, f) || enum_param(req, "type", k_types, TYPES_WHAT, &f->type) ||
      id_param(req, "trace_id", &f->trace_id))
    return;
  submit(q);
}

static void list_scores(kl_http_req *req, kl_api_ctx *ctx, const char *project) {
  qwork *q = new_work(req, ctx, project, Q_SCORES);
  kl_score_filter *f = &q->sf;
  f->cursor = str_param(req, "cursor");
  f->name = str_param(req, "name");
  if (limit_param(req, &f->limit) || time_param(req, "from", &f->from_ns) || time_param(req, "to", &f->to_ns) ||
      id_param(req, "trace_id", &f->trace_id) || id_param(req, "observation_id", &f->observation_id) ||
      id_param(req, "session_id", &f->session_id) ||
      enum_param(req, "source", k_sources, "expected api, eval or annotation", &f->source) ||
      enum_param(req, "data_type", k_dtypes, "expected NUMERIC, BOOLEAN, CATEGORICAL or TEXT", &f->data_type))
    return;
  submit(q);
}

/* ---- POST /api/v1/scores ---- */

static int body_id(kl_http_req *req, const cJSON *j, const char *key, char out[KL_OBS_ID_MAX + 1]) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > KL_OBS_ID_MAX)
    return bad_param(req, key, "expected a string of 1 to 64 characters");
  memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
  return 0;
}

static int body_str(kl_http_req *req, const cJSON *j, const char *key, const char **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v)) return bad_param(req, key, "expected a string");
  *out = kl_arena_strdup(req->arena, v->valuestring);
  return 0;
}

static void post_score(kl_http_req *req, kl_api_ctx *ctx, const char *project) {
  kl_err err;
  kl_err_clear(&err);
  cJSON *j = kl_json_parse(req->body, req->body_len, &err);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    kl_api_respond_error(req, 400, "invalid_request_error", "the body must be a JSON object", NULL, "invalid_json");
    return;
  }
  qwork *q = new_work(req, ctx, project, Q_SCORE_POST);
  kl_score *s = &q->score;
  s->project_id = project;
  const char *dtype = NULL, *source = NULL;
  const cJSON *value = cJSON_GetObjectItemCaseSensitive(j, "value");
  if (value && cJSON_IsNull(value)) value = NULL;
  if (body_id(req, j, "id", s->id) || body_id(req, j, "trace_id", s->trace_id) ||
      body_id(req, j, "observation_id", s->observation_id) || body_id(req, j, "session_id", s->session_id) ||
      body_str(req, j, "name", &s->name) || body_str(req, j, "string_value", &s->string_value) ||
      body_str(req, j, "comment", &s->comment) || body_str(req, j, "data_type", &dtype) ||
      body_str(req, j, "source", &source))
    goto out;
  if (!s->name || !*s->name || strlen(s->name) > 1000) {
    bad_param(req, "name", "required: a string of 1 to 1000 characters");
    goto out;
  }
  if (!s->trace_id[0] && !s->observation_id[0] && !s->session_id[0]) {
    bad_param(req, "trace_id", "a score needs one of trace_id, observation_id or session_id");
    goto out;
  }
  if (dtype) {
    s->data_type = NULL;
    for (size_t i = 0; k_dtypes[i]; i++)
      if (!strcasecmp(dtype, k_dtypes[i])) s->data_type = k_dtypes[i];
    if (!s->data_type) {
      bad_param(req, "data_type", "expected NUMERIC, BOOLEAN, CATEGORICAL or TEXT");
      goto out;
    }
  } else { /* not given: from the value's JSON type */
    s->data_type = cJSON_IsBool(value) ? "BOOLEAN" : (cJSON_IsString(value) || (!value && s->string_value)) ? "CATEGORICAL"
                                                                                                           : "NUMERIC";
  }
  if (source) {
    s->source = NULL;
    for (size_t i = 0; k_sources[i]; i++)
      if (!strcasecmp(source, k_sources[i])) s->source = k_sources[i];
    if (!s->source) {
      bad_param(req, "source", "expected api, eval or annotation");
      goto out;
    }
  }
  if (!strcmp(s->data_type, "NUMERIC")) {
    if (!cJSON_IsNumber(value) || !isfinite(value->valuedouble)) {
      bad_param(req, "value", "a NUMERIC score needs a numeric value");
      goto out;
    }
    s->value = value->valuedouble;
  } else if (!strcmp(s->data_type, "BOOLEAN")) {
    if (cJSON_IsBool(value)) s->value = cJSON_IsTrue(value) ? 1 : 0;
    else if (cJSON_IsNumber(value) && (value->valuedouble == 0 || value->valuedouble == 1)) s->value = value->valuedouble;
    else {
      bad_param(req, "value", "a BOOLEAN score needs true/false or 1/0");
      goto out;
    }
    s->string_value = s->value ? "True" : "False";
  } else {
    if (!s->string_value && cJSON_IsString(value)) s->string_value = kl_arena_strdup(req->arena, value->valuestring);
    if (!s->string_value) {
      bad_param(req, "string_value", "a CATEGORICAL or TEXT score needs a string_value");
      goto out;
    }
  }
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
  if (meta && !cJSON_IsNull(meta)) s->metadata_json = kl_json_print_arena(req->arena, meta);
  if (!s->id[0]) kl_id_trace(s->id);
  s->timestamp_ns = kl_now_ns();
  submit(q);
out:
  cJSON_Delete(j);
}

void kl_api_query_scores(kl_http_req *req, kl_api_ctx *ctx, const char *project) {
  if (!strcmp(req->method, "POST")) post_score(req, ctx, project);
  else list_scores(req, ctx, project);
}

/* ---- sessions, users ---- */

/* Percent-decodes a path segment into the arena; NULL when malformed or empty. */
static char *path_id(kl_arena *a, const char *s) {
  size_t n = strlen(s);
  char *o = kl_arena_alloc(a, n + 1), *p = o;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      *p++ = s[i];
      continue;
    }
    if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2])) return NULL;
    char hex[3] = {s[i + 1], s[i + 2], 0};
    *p++ = (char)strtol(hex, NULL, 16);
    i += 2;
  }
  *p = 0;
  return p == o || strlen(o) != (size_t)(p - o) ? NULL : o;
}

static void group(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project, bool sessions) {
  if (id) {
    char *dec = path_id(req->arena, id);
    if (!dec || strlen(dec) > 1000) {
      kl_api_respond_error(req, 404, "not_found_error", sessions ? "no such session" : "no such user", NULL,
                           sessions ? "session_not_found" : "user_not_found");
      return;
    }
    qwork *q = new_work(req, ctx, project, sessions ? Q_SESSION : Q_USER);
    q->id = dec;
    submit(q);
    return;
  }
  qwork *q = new_work(req, ctx, project, sessions ? Q_SESSIONS : Q_USERS);
  kl_group_filter *f = &q->gf;
  f->cursor = str_param(req, "cursor");
  if (limit_param(req, &f->limit) || time_param(req, "from", &f->from_ns) || time_param(req, "to", &f->to_ns))
    return;
  if (sessions && id_param(req, "user_id", &f->user_id)) return;
  submit(q);
}

void kl_api_query_sessions(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project) {
  group(req, ctx, id, project, true);
}

void kl_api_query_users(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project) {
  group(req, ctx, id, project, false);
}

/* ---- metrics ---- */

void kl_api_query_metrics(kl_http_req *req, kl_api_ctx *ctx, const char *project) {
  static const char *const groups[] = {"none", "model", "user", "tag", "name", NULL};
  static const char *const buckets[] = {"none", "minute", "hour", "day", NULL};
  qwork *q = new_work(req, ctx, project, Q_METRICS);
  kl_metrics_filter *f = &q->mf;
  const char *g = NULL, *b = NULL;
  if (time_param(req, "from", &f->from_ns) || time_param(req, "to", &f->to_ns) ||
      enum_param(req, "group_by", groups, "expected model, user, tag, name or none", &g) ||
      enum_param(req, "bucket", buckets, "expected minute, hour, day or none", &b) ||
      enum_param(req, "type", k_types, TYPES_WHAT, &f->type))
    return;
  for (int i = 0; g && groups[i]; i++)
    if (groups[i] == g) f->group_by = (kl_group_by)i; /* groups[] is in kl_group_by order */
  for (int i = 0; b && buckets[i]; i++)
    if (buckets[i] == b) f->bucket = (kl_bucket)i;
  submit(q);
}
