/* ingest_map.c: one OTLP span -> one keel observation (a complete kl_ingest_obs).
 *
 * Three attribute vocabularies describe LLM spans; for each field the first one present wins,
 * in this order (Langfuse's own attributes are the most specific; OpenInference's span kind
 * is an explicit type; GenAI's operation name is a hint):
 *
 *   field           Langfuse (langfuse.*)              OpenInference             OTel GenAI
 *   type            observation.type                   openinference.span.kind   gen_ai.operation.name
 *   model           observation.model.name             llm.model_name            gen_ai.request.model
 *   upstream_model  -                                  -                         gen_ai.response.model
 *   provider        -                                  llm.provider, llm.system  gen_ai.provider.name, gen_ai.system
 *   model params    observation.model.parameters       llm.invocation_parameters gen_ai.request.{temperature,..}
 *   input/output    observation.input / .output        input.value/output.value  gen_ai.input/output.messages,
 *                                                                                gen_ai.prompt/completion[.N.*]
 *   usage           observation.usage_details          llm.token_count.*         gen_ai.usage.*
 *   cost            observation.cost_details           llm.cost.total            -
 *   level, message  observation.level/.status_message  (span status: code 2 -> ERROR, status message)
 *   ttft            observation.completion_start_time
 *   trace fields    trace.name, trace.tags, user.id, session.id (also langfuse.user.id /
 *                   langfuse.session.id, OpenInference tag.tags, gen_ai.conversation.id),
 *                   environment, release, version, observation.prompt.{name,version}
 *
 * Type fallback: a span with a model attribute is a GENERATION (what Langfuse does), else a
 * SPAN.  The trace name of a root span defaults to its own name (as keel's tracer does).
 * Everything not consumed becomes metadata: attributes by their full key, except
 * langfuse.observation.metadata.K / langfuse.trace.metadata.K which become K (observation keys
 * winning) and langfuse.internal.* which are dropped; plus "resource" (resource attributes),
 * "scope" ({name, version}) and "events" ([{name, time_unix_nano, attributes}]).  Usage
 * conventions are in ingest_usage.c. */
#include "trace/ingest_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct mctx {
  const kl_otlp_span *sp;
  kl_arena *a;
  bool *used; /* one per span attribute */
  kl_ingest_obs *r;
} mctx;

static const kl_otlp_value *find(mctx *m, const char *key, bool mark) {
  const kl_otlp_value *v = NULL;
  for (size_t i = 0; i < m->sp->attrs.n; i++)
    if (strcmp(m->sp->attrs.kv[i].key, key) == 0) {
      if (mark) m->used[i] = true;
      v = &m->sp->attrs.kv[i].value; /* the last one wins, as in an attribute map */
    }
  return v;
}

/* String (or integer, for ids sent as numbers) attribute; consumed only when returned. */
static const char *str_attr(mctx *m, const char *key, bool consume) {
  const kl_otlp_value *v = find(m, key, false);
  const char *s = NULL;
  if (v && v->type == KL_OTLP_STRING && v->len)
    s = v->s;
  else if (v && v->type == KL_OTLP_INT)
    s = kl_arena_sprintf(m->a, "%lld", (long long)v->i);
  if (s && consume) find(m, key, true);
  return s;
}
static const char *take_str(mctx *m, const char *key) { return str_attr(m, key, true); }

/* Non-negative integer attribute (int, integral double or decimal string); -1 when absent. */
static int64_t take_int(mctx *m, const char *key) {
  const kl_otlp_value *v = find(m, key, false);
  int64_t x = -1;
  if (!v) return -1;
  if (v->type == KL_OTLP_INT) x = v->i;
  else if (v->type == KL_OTLP_DOUBLE && isfinite(v->d) && v->d >= 0 && v->d < 9e18) x = (int64_t)v->d;
  else if (v->type == KL_OTLP_STRING && v->len) {
    char *end;
    long long y = strtoll(v->s, &end, 10);
    if (!*end) x = y;
  }
  if (x < 0) return -1;
  find(m, key, true);
  return x;
}

static bool take_double(mctx *m, const char *key, double *out) {
  const kl_otlp_value *v = find(m, key, false);
  if (!v) return false;
  if (v->type == KL_OTLP_DOUBLE) *out = v->d;
  else if (v->type == KL_OTLP_INT) *out = (double)v->i;
  else if (v->type == KL_OTLP_STRING && v->len) {
    char *end;
    *out = strtod(v->s, &end);
    if (*end) return false;
  } else
    return false;
  find(m, key, true);
  return true;
}

/* JSON text of an attribute: strings that hold JSON are taken as JSON (Langfuse and GenAI
 * serialise structured content into string attributes); other values rendered as JSON. */
static const char *take_json(mctx *m, const char *key) {
  const kl_otlp_value *v = find(m, key, false);
  if (!v || v->type == KL_OTLP_EMPTY) return NULL;
  find(m, key, true);
  if (v->type == KL_OTLP_STRING) return kl__json_text(m->a, v->s, v->len);
  cJSON *j = kl__otlp_value_cjson(v, 0);
  const char *r = kl__json_print(m->a, j);
  cJSON_Delete(j);
  return r;
}

/* A JSON attribute parsed (string holding JSON, or a structured value); caller deletes. */
static cJSON *take_cjson(mctx *m, const char *key) {
  const kl_otlp_value *v = find(m, key, false);
  if (!v) return NULL;
  cJSON *j = v->type == KL_OTLP_STRING ? cJSON_ParseWithLength(v->s, v->len) : kl__otlp_value_cjson(v, 0);
  if (j) find(m, key, true);
  return j;
}

/* gen_ai.prompt.N.role / .content (OpenLLMetry's indexed form) -> [{role, content}, ...]. */
static const char *indexed_messages(mctx *m, const char *prefix) {
  size_t pl = strlen(prefix);
  cJSON *arr = NULL;
  for (size_t i = 0; i < m->sp->attrs.n; i++) {
    const char *k = m->sp->attrs.kv[i].key;
    if (strncmp(k, prefix, pl) != 0 || k[pl] < '0' || k[pl] > '9') continue;
    char *end;
    long idx = strtol(k + pl, &end, 10);
    if (*end != '.' || !end[1] || idx < 0 || idx > 999) continue;
    if (!arr) arr = cJSON_CreateArray();
    while (cJSON_GetArraySize(arr) <= idx) cJSON_AddItemToArray(arr, cJSON_CreateObject());
    kl__json_set(cJSON_GetArrayItem(arr, (int)idx), end + 1, kl__otlp_value_cjson(&m->sp->attrs.kv[i].value, 0));
    m->used[i] = true;
  }
  const char *r = kl__json_print(m->a, arr);
  cJSON_Delete(arr);
  return r;
}

static const char *map_type(mctx *m) {
  const char *t = kl__obs_type(str_attr(m, "langfuse.observation.type", false));
  if (t) {
    find(m, "langfuse.observation.type", true); /* an unknown type stays in metadata */
    return t;
  }
  const char *oi = str_attr(m, "openinference.span.kind", false);
  if (oi) {
    static const char *const k[][2] = {{"LLM", KL_OBS_GENERATION}, {"RERANKER", KL_OBS_RETRIEVER},
                                       {"PROMPT", KL_OBS_SPAN}, {"UNKNOWN", KL_OBS_SPAN}};
    for (size_t i = 0; !t && i < sizeof k / sizeof k[0]; i++)
      if (strcasecmp(oi, k[i][0]) == 0) t = k[i][1];
    if (!t) t = kl__obs_type(oi);
    if (t) {
      find(m, "openinference.span.kind", true);
      return t;
    }
  }
  /* gen_ai.operation.name stays in metadata: it says more than the type */
  const char *op = str_attr(m, "gen_ai.operation.name", false);
  if (op) {
    static const char *const k[][2] = {
        {"chat", KL_OBS_GENERATION},  {"text_completion", KL_OBS_GENERATION}, {"generate_content", KL_OBS_GENERATION},
        {"completion", KL_OBS_GENERATION}, {"embeddings", KL_OBS_EMBEDDING}, {"invoke_agent", KL_OBS_AGENT},
        {"create_agent", KL_OBS_AGENT}, {"execute_tool", KL_OBS_TOOL},       {"invoke_workflow", KL_OBS_CHAIN}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
      if (strcmp(op, k[i][0]) == 0) return k[i][1];
  }
  return NULL;
}

static void map_usage(mctx *m) {
  kl_ingest_obs *r = m->r;
  cJSON *lf = take_cjson(m, "langfuse.observation.usage_details");
  bool done = lf && kl__usage_langfuse(lf, r, m->a);
  cJSON_Delete(lf);
  if (!done) {
    int64_t in = take_int(m, "gen_ai.usage.input_tokens"), out = take_int(m, "gen_ai.usage.output_tokens");
    if (in < 0) in = take_int(m, "gen_ai.usage.prompt_tokens"); /* pre-1.27 GenAI names */
    if (out < 0) out = take_int(m, "gen_ai.usage.completion_tokens");
    int64_t cr = take_int(m, "gen_ai.usage.cache_read.input_tokens");
    if (cr < 0) cr = take_int(m, "gen_ai.usage.cache_read_input_tokens");
    int64_t cw = take_int(m, "gen_ai.usage.cache_creation.input_tokens");
    if (cw < 0) cw = take_int(m, "gen_ai.usage.cache_creation_input_tokens");
    int64_t rs = take_int(m, "gen_ai.usage.reasoning.output_tokens");
    if (in >= 0 || out >= 0) {
      kl__usage_inclusive(r, m->a, "otel_genai", in, out, cr, cw, rs);
      done = true;
    }
  }
  if (!done) {
    int64_t in = take_int(m, "llm.token_count.prompt"), out = take_int(m, "llm.token_count.completion");
    if (in >= 0 || out >= 0)
      kl__usage_inclusive(r, m->a, "openinference", in, out, take_int(m, "llm.token_count.prompt_details.cache_read"),
                          take_int(m, "llm.token_count.prompt_details.cache_write"),
                          take_int(m, "llm.token_count.completion_details.reasoning"));
  }
  cJSON *cost = take_cjson(m, "langfuse.observation.cost_details");
  bool priced = cost && kl__cost_map(cost, r, m->a);
  cJSON_Delete(cost);
  double total;
  if (!priced && take_double(m, "llm.cost.total", &total)) kl__cost_total(r, m->a, total);
}

static const char *map_params(mctx *m) {
  const char *p = take_json(m, "langfuse.observation.model.parameters");
  if (!p) p = take_json(m, "llm.invocation_parameters");
  if (p) return p;
  static const char *const k[] = {"temperature", "max_tokens", "top_p", "top_k", "seed", "frequency_penalty",
                                  "presence_penalty", "stop_sequences", "stream", "choice.count"};
  cJSON *o = NULL;
  char key[64];
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    snprintf(key, sizeof key, "gen_ai.request.%s", k[i]);
    const kl_otlp_value *v = find(m, key, true);
    if (!v) continue;
    if (!o) o = cJSON_CreateObject();
    kl__json_set(o, k[i], kl__otlp_value_cjson(v, 0));
  }
  p = kl__json_print(m->a, o);
  cJSON_Delete(o);
  return p;
}

static const char *map_tags(mctx *m) {
  const char *keys[] = {"langfuse.trace.tags", "tag.tags"};
  for (size_t i = 0; i < 2; i++) {
    const kl_otlp_value *v = find(m, keys[i], false);
    if (!v) continue;
    cJSON *arr = cJSON_CreateArray();
    if (v->type == KL_OTLP_ARRAY) {
      for (size_t j = 0; j < v->n; j++)
        if (v->items[j].type == KL_OTLP_STRING) cJSON_AddItemToArray(arr, cJSON_CreateString(v->items[j].s));
    } else if (v->type == KL_OTLP_STRING) {
      cJSON *j = cJSON_ParseWithLength(v->s, v->len); /* a JSON array in a string, or one tag */
      const cJSON *it;
      if (cJSON_IsArray(j)) {
        cJSON_ArrayForEach(it, j) {
          if (cJSON_IsString(it)) cJSON_AddItemToArray(arr, cJSON_CreateString(it->valuestring));
        }
      } else if (v->len) {
        cJSON_AddItemToArray(arr, cJSON_CreateString(v->s));
      }
      cJSON_Delete(j);
    }
    find(m, keys[i], true);
    const char *r = kl__json_print(m->a, arr);
    cJSON_Delete(arr);
    return r;
  }
  return NULL;
}

static cJSON *attrs_object(const kl_otlp_attrs *at) {
  cJSON *o = cJSON_CreateObject();
  for (size_t i = 0; i < at->n; i++) kl__json_set(o, at->kv[i].key, kl__otlp_value_cjson(&at->kv[i].value, 0));
  return o;
}

static void merge_json_object(cJSON *dst, const kl_otlp_value *v, bool overwrite) {
  if (v->type != KL_OTLP_STRING) return;
  cJSON *j = cJSON_ParseWithLength(v->s, v->len);
  const cJSON *it;
  if (cJSON_IsObject(j)) {
    cJSON_ArrayForEach(it, j) {
      if (overwrite || !cJSON_GetObjectItemCaseSensitive(dst, it->string))
        kl__json_set(dst, it->string, cJSON_Duplicate(it, true));
    }
  }
  cJSON_Delete(j);
}

static const char *map_metadata(mctx *m) {
  static const char obs_p[] = "langfuse.observation.metadata", trace_p[] = "langfuse.trace.metadata";
  const kl_otlp_span *sp = m->sp;
  cJSON *o = cJSON_CreateObject();
  /* two passes so observation keys win over trace keys whatever the attribute order */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < sp->attrs.n; i++) {
      if (m->used[i]) continue;
      const char *k = sp->attrs.kv[i].key;
      const kl_otlp_value *v = &sp->attrs.kv[i].value;
      bool is_obs = strncmp(k, obs_p, sizeof obs_p - 1) == 0, is_trace = strncmp(k, trace_p, sizeof trace_p - 1) == 0;
      if (pass != (is_trace ? 1 : 0)) continue;
      if (strncmp(k, "langfuse.internal.", 18) == 0) continue;
      const char *sub = is_obs ? k + sizeof obs_p - 1 : is_trace ? k + sizeof trace_p - 1 : NULL;
      if (sub && *sub == 0) {
        merge_json_object(o, v, is_obs); /* the whole map as one JSON string */
      } else if (sub && *sub == '.') {
        if (is_obs || !cJSON_GetObjectItemCaseSensitive(o, sub + 1)) kl__json_set(o, sub + 1, kl__otlp_value_cjson(v, 0));
      } else {
        kl__json_set(o, k, kl__otlp_value_cjson(v, 0));
      }
    }
  if (sp->resource->attrs.n) kl__json_set(o, "resource", attrs_object(&sp->resource->attrs));
  if (sp->scope->name || sp->scope->version) {
    cJSON *s = cJSON_CreateObject();
    if (sp->scope->name) cJSON_AddStringToObject(s, "name", sp->scope->name);
    if (sp->scope->version) cJSON_AddStringToObject(s, "version", sp->scope->version);
    kl__json_set(o, "scope", s);
  }
  if (sp->nevents) {
    cJSON *evs = cJSON_CreateArray();
    for (size_t i = 0; i < sp->nevents; i++) {
      cJSON *e = cJSON_CreateObject();
      char t[24];
      snprintf(t, sizeof t, "%lld", (long long)sp->events[i].time_ns);
      cJSON_AddStringToObject(e, "name", sp->events[i].name);
      cJSON_AddStringToObject(e, "time_unix_nano", t);
      if (sp->events[i].attrs.n) cJSON_AddItemToObject(e, "attributes", attrs_object(&sp->events[i].attrs));
      cJSON_AddItemToArray(evs, e);
    }
    kl__json_set(o, "events", evs);
  }
  const char *r = o->child ? kl__json_print(m->a, o) : NULL;
  cJSON_Delete(o);
  return r;
}

/* The message of an "exception" span event (OTel's way of recording errors), or NULL. */
static const char *exception_message(const kl_otlp_span *sp) {
  for (size_t i = 0; i < sp->nevents; i++) {
    if (strcmp(sp->events[i].name, "exception") != 0) continue;
    const kl_otlp_value *v = kl_otlp_attr(&sp->events[i].attrs, "exception.message");
    if (v && v->type == KL_OTLP_STRING) return v->s;
  }
  return NULL;
}

#define SETS(field, bit, val)      \
  do {                             \
    const char *v_ = (val);        \
    if (v_) {                      \
      o->field = v_;               \
      r->set |= (bit);             \
    }                              \
  } while (0)

void kl_ingest_otlp_span(const kl_otlp_span *sp, kl_arena *a, kl_ingest_obs *r) {
  memset(r, 0, sizeof *r);
  r->kind = KL_INGEST_OBS;
  r->op = KL_INGEST_CREATE;
  kl_obs *o = &r->obs;
  o->cost_usd = -1;
  mctx mc = {sp, a, sp->attrs.n ? kl_arena_calloc(a, sp->attrs.n * sizeof(bool)) : NULL, r};
  mctx *m = &mc;
  snprintf(o->id, sizeof o->id, "%s", sp->span_id);
  snprintf(o->trace_id, sizeof o->trace_id, "%s", sp->trace_id);
  snprintf(o->parent_id, sizeof o->parent_id, "%s", sp->parent_span_id);
  r->set |= KL_INGEST_F_PARENT | KL_INGEST_F_NAME;
  o->name = sp->name;
  if (sp->start_ns > 0) {
    o->start_ns = sp->start_ns;
    r->set |= KL_INGEST_F_START;
  }
  if (sp->end_ns > 0) {
    o->end_ns = sp->end_ns;
    r->set |= KL_INGEST_F_END;
  }
  const char *type = map_type(m);
  /* model */
  SETS(model, KL_INGEST_F_MODEL, take_str(m, "langfuse.observation.model.name"));
  if (!o->model) SETS(model, KL_INGEST_F_MODEL, take_str(m, "llm.model_name"));
  if (!o->model) SETS(model, KL_INGEST_F_MODEL, take_str(m, "gen_ai.request.model"));
  SETS(upstream_model, KL_INGEST_F_UPSTREAM_MODEL, take_str(m, "gen_ai.response.model"));
  if (!o->model) SETS(model, KL_INGEST_F_MODEL, o->upstream_model);
  static const char *const prov[] = {"gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"};
  for (size_t i = 0; i < 4 && !o->provider; i++) SETS(provider, KL_INGEST_F_PROVIDER, take_str(m, prov[i]));
  SETS(model_params_json, KL_INGEST_F_MODEL_PARAMS, map_params(m));
  if (!type) type = o->model ? KL_OBS_GENERATION : KL_OBS_SPAN;
  o->type = type;
  r->set |= KL_INGEST_F_TYPE;
  /* content */
  static const char *const in_keys[] = {"langfuse.observation.input", "input.value", "gen_ai.input.messages",
                                        "gen_ai.prompt"};
  static const char *const out_keys[] = {"langfuse.observation.output", "output.value", "gen_ai.output.messages",
                                         "gen_ai.completion"};
  for (size_t i = 0; i < 4 && !o->input_json; i++) SETS(input_json, KL_INGEST_F_INPUT, take_json(m, in_keys[i]));
  if (!o->input_json) SETS(input_json, KL_INGEST_F_INPUT, indexed_messages(m, "gen_ai.prompt."));
  for (size_t i = 0; i < 4 && !o->output_json; i++) SETS(output_json, KL_INGEST_F_OUTPUT, take_json(m, out_keys[i]));
  if (!o->output_json) SETS(output_json, KL_INGEST_F_OUTPUT, indexed_messages(m, "gen_ai.completion."));
  const kl_otlp_value *fr = find(m, "gen_ai.response.finish_reasons", false);
  if (fr && fr->type == KL_OTLP_ARRAY && fr->n && fr->items[0].type == KL_OTLP_STRING) {
    SETS(finish_reason, KL_INGEST_F_FINISH_REASON, fr->items[0].s);
    if (fr->n == 1) find(m, "gen_ai.response.finish_reasons", true); /* else keep them all in metadata */
  } else if (fr && fr->type == KL_OTLP_STRING) {
    SETS(finish_reason, KL_INGEST_F_FINISH_REASON, take_str(m, "gen_ai.response.finish_reasons"));
  }
  map_usage(m);
  /* timing, level, status */
  const char *cst = take_str(m, "langfuse.observation.completion_start_time");
  if (cst) {
    size_t n = strlen(cst);
    if (n >= 2 && cst[0] == '"' && cst[n - 1] == '"') cst = kl_arena_strndup(a, cst + 1, n - 2); /* JSON-quoted */
    int64_t t = kl_time_parse(cst);
    if (t > 0) {
      o->completion_start_ns = t;
      r->set |= KL_INGEST_F_COMPLETION_START;
    }
  }
  SETS(level, KL_INGEST_F_LEVEL, kl__obs_level(take_str(m, "langfuse.observation.level")));
  if (!o->level && sp->status_code == 2) SETS(level, KL_INGEST_F_LEVEL, "ERROR");
  SETS(status_message, KL_INGEST_F_STATUS_MESSAGE, take_str(m, "langfuse.observation.status_message"));
  if (!o->status_message && sp->status_message && *sp->status_message)
    SETS(status_message, KL_INGEST_F_STATUS_MESSAGE, sp->status_message);
  if (!o->status_message && sp->status_code == 2) SETS(status_message, KL_INGEST_F_STATUS_MESSAGE, exception_message(sp));
  /* trace fields */
  SETS(trace_name, KL_INGEST_F_TRACE_NAME, take_str(m, "langfuse.trace.name"));
  if (!o->trace_name && !sp->parent_span_id[0] && *sp->name) SETS(trace_name, KL_INGEST_F_TRACE_NAME, sp->name);
  SETS(user_id, KL_INGEST_F_USER, take_str(m, "langfuse.user.id"));
  if (!o->user_id) SETS(user_id, KL_INGEST_F_USER, take_str(m, "user.id"));
  static const char *const sess[] = {"langfuse.session.id", "session.id", "gen_ai.conversation.id"};
  for (size_t i = 0; i < 3 && !o->session_id; i++) SETS(session_id, KL_INGEST_F_SESSION, take_str(m, sess[i]));
  SETS(tags_json, KL_INGEST_F_TAGS, map_tags(m));
  SETS(environment, KL_INGEST_F_ENVIRONMENT, take_str(m, "langfuse.environment"));
  const kl_otlp_value *env = kl_otlp_attr(&sp->resource->attrs, "deployment.environment.name");
  if (!env) env = kl_otlp_attr(&sp->resource->attrs, "deployment.environment");
  if (!o->environment && env && env->type == KL_OTLP_STRING && env->len)
    SETS(environment, KL_INGEST_F_ENVIRONMENT, env->s);
  SETS(release, KL_INGEST_F_RELEASE, take_str(m, "langfuse.release"));
  if ((r->version = take_str(m, "langfuse.version"))) r->set |= KL_INGEST_F_VERSION;
  if ((r->prompt_name = take_str(m, "langfuse.observation.prompt.name"))) {
    int64_t pv = take_int(m, "langfuse.observation.prompt.version");
    r->prompt_version = pv > 0 ? pv : 0;
    r->set |= KL_INGEST_F_PROMPT;
  }
  SETS(metadata_json, KL_INGEST_F_METADATA, map_metadata(m));
}

kl_ingest_obs *kl_ingest_otlp_map(const kl_otlp_request *req, kl_arena *a) {
  if (!req->nspans) return NULL;
  kl_ingest_obs *out = kl_arena_alloc(a, req->nspans * sizeof *out);
  for (size_t i = 0; i < req->nspans; i++) kl_ingest_otlp_span(&req->spans[i], a, &out[i]);
  return out;
}
