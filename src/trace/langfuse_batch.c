/* langfuse_batch.c: Langfuse's POST /api/public/ingestion body -> keel records.
 *
 * {"batch":[{"id","type","timestamp","body":{...}}],"metadata":{...}}.  Every envelope gets
 * its own verdict (the 207 reply lists successes and errors by envelope id), so one bad event
 * never sinks its batch: the SDK would otherwise resend the whole batch, good events included.
 *
 * Event types:
 *   trace-create                      -> kind TRACE (an upsert by body.id)
 *   span-|generation-|event-create    -> kind OBS, op CREATE, type SPAN|GENERATION|EVENT
 *   span-|generation-update           -> kind OBS, op UPDATE
 *   agent-|tool-|chain-|retriever-|evaluator-|embedding-|guardrail-create -> the matching type
 *   observation-create|-update        -> legacy: the type comes from body.type (default SPAN)
 *   score-create                      -> kind SCORE
 *   sdk-log                           -> accepted, nothing recorded
 * Anything else is a 400 for that event.
 *
 * Records are partial (see kl_ingest.h): a field's bit is set only when the body carried it
 * (JSON null counts as absent).  Defaults that make a create self-sufficient: body.id absent ->
 * the envelope id (deterministic, so a resent batch hits the same row); traceId absent on a
 * create -> the observation's own id (it roots its own trace); startTime absent -> the envelope
 * timestamp; an event ends when it starts.  An update without traceId keeps trace_id "" and the
 * store has to find the observation by id.  Ids longer than KL_OBS_ID_MAX are an error, never
 * truncated (two long ids sharing a prefix would collide). */
#include "trace/ingest_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(KL_OBS_ID_MAX == 64, "the messages below say 64");

typedef struct evctx {
  kl_ingest_event *ev;
  const cJSON *body;
  kl_arena *a;
} evctx;

static int bad(evctx *c, const char *fmt, const char *arg) {
  c->ev->status = 400;
  c->ev->error = kl_arena_sprintf(c->a, fmt, arg);
  c->ev->kind = KL_INGEST_NONE;
  return -1;
}

static const cJSON *member(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNull(v) ? NULL : v;
}

/* Optional string member: 0 (out untouched when absent), -1 on a wrong type. */
static int get_str(evctx *c, const char *key, const char **out) {
  const cJSON *v = member(c->body, key);
  if (!v) return 0;
  if (!cJSON_IsString(v)) return bad(c, "body.%s must be a string", key);
  *out = kl_arena_strdup(c->a, v->valuestring);
  return 1;
}

/* Optional id member into a fixed field: 1 when set, 0 when absent, -1 on error. */
static int get_id(evctx *c, const char *key, char dst[KL_OBS_ID_MAX + 1]) {
  const char *s = NULL;
  int rc = get_str(c, key, &s);
  if (rc <= 0) return rc;
  if (!kl__id_copy(dst, s)) return bad(c, "body.%s is longer than " "64" " bytes", key);
  return 1;
}

static int get_time(evctx *c, const char *key, int64_t *out) {
  const char *s = NULL;
  int rc = get_str(c, key, &s);
  if (rc <= 0) return rc;
  int64_t t = kl_time_parse(s);
  if (t < 0) return bad(c, "body.%s is not an RFC 3339 date", key);
  *out = t;
  return 1;
}

/* Any JSON member as JSON text: 1 when present. */
static int get_json(evctx *c, const char *key, const char **out) {
  const cJSON *v = member(c->body, key);
  if (!v) return 0;
  *out = kl__json_print(c->a, v);
  return 1;
}

/* Metadata must be an object in keel; anything else is kept under "metadata". */
static int get_metadata(evctx *c, const char **out) {
  const cJSON *v = member(c->body, "metadata");
  if (!v) return 0;
  if (cJSON_IsObject(v)) {
    *out = kl__json_print(c->a, v);
  } else {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(v, true));
    *out = kl__json_print(c->a, o);
    cJSON_Delete(o);
  }
  return 1;
}

#define OPT(call, bit)                    \
  do {                                    \
    int rc_ = (call);                     \
    if (rc_ < 0) return -1;               \
    if (rc_ > 0) r->set |= (bit);         \
  } while (0)

/* Fields common to traces and observations. */
static int common(evctx *c, kl_ingest_obs *r) {
  kl_obs *o = &r->obs;
  OPT(get_str(c, "name", &o->name), KL_INGEST_F_NAME);
  OPT(get_metadata(c, &o->metadata_json), KL_INGEST_F_METADATA);
  OPT(get_json(c, "input", &o->input_json), KL_INGEST_F_INPUT);
  OPT(get_json(c, "output", &o->output_json), KL_INGEST_F_OUTPUT);
  OPT(get_str(c, "version", &r->version), KL_INGEST_F_VERSION);
  OPT(get_str(c, "environment", &o->environment), KL_INGEST_F_ENVIRONMENT);
  return 0;
}

static int map_trace(evctx *c, const char *envelope_id) {
  kl_ingest_obs *r = &c->ev->obs;
  kl_obs *o = &r->obs;
  r->kind = KL_INGEST_TRACE;
  r->op = KL_INGEST_CREATE;
  o->cost_usd = -1;
  int rc = get_id(c, "id", o->id);
  if (rc < 0) return -1;
  if (rc == 0 && !kl__id_copy(o->id, envelope_id)) return bad(c, "%s", "event id is longer than 64 bytes");
  memcpy(o->trace_id, o->id, sizeof o->id);
  if (common(c, r) < 0) return -1;
  if (o->name) {
    o->trace_name = o->name;
    r->set |= KL_INGEST_F_TRACE_NAME;
  }
  OPT(get_time(c, "timestamp", &o->start_ns), KL_INGEST_F_START);
  OPT(get_str(c, "userId", &o->user_id), KL_INGEST_F_USER);
  OPT(get_str(c, "sessionId", &o->session_id), KL_INGEST_F_SESSION);
  OPT(get_str(c, "release", &o->release), KL_INGEST_F_RELEASE);
  const cJSON *tags = member(c->body, "tags"), *t;
  if (tags) {
    if (!cJSON_IsArray(tags)) return bad(c, "%s", "body.tags must be an array of strings");
    cJSON_ArrayForEach(t, tags) {
      if (!cJSON_IsString(t)) return bad(c, "%s", "body.tags must be an array of strings");
    }
    o->tags_json = kl__json_print(c->a, tags);
    r->set |= KL_INGEST_F_TAGS;
  }
  return 0;
}

static int map_obs(evctx *c, const char *type, kl_ingest_op op, const char *envelope_id) {
  kl_ingest_obs *r = &c->ev->obs;
  kl_obs *o = &r->obs;
  r->kind = KL_INGEST_OBS;
  r->op = op;
  o->cost_usd = -1;
  int rc = get_id(c, "id", o->id);
  if (rc < 0) return -1;
  if (rc == 0 && op == KL_INGEST_UPDATE) return bad(c, "%s", "an update needs body.id");
  if (rc == 0 && !kl__id_copy(o->id, envelope_id)) return bad(c, "%s", "event id is longer than 64 bytes");
  if ((rc = get_id(c, "traceId", o->trace_id)) < 0) return -1;
  if (rc == 0 && op == KL_INGEST_CREATE) memcpy(o->trace_id, o->id, sizeof o->id);
  OPT(get_id(c, "parentObservationId", o->parent_id), KL_INGEST_F_PARENT);
  if (op == KL_INGEST_CREATE) r->set |= KL_INGEST_F_PARENT; /* absent on a create = a root */
  if (!type) { /* legacy observation-*: the type is in the body */
    const char *bt = NULL;
    if (get_str(c, "type", &bt) < 0) return -1;
    type = bt ? kl__obs_type(bt) : KL_OBS_SPAN;
    if (!type) return bad(c, "body.type \"%s\" is not an observation type", bt);
  }
  o->type = type;
  r->set |= KL_INGEST_F_TYPE;
  if (common(c, r) < 0) return -1;
  OPT(get_time(c, "startTime", &o->start_ns), KL_INGEST_F_START);
  if (!(r->set & KL_INGEST_F_START) && op == KL_INGEST_CREATE && r->received_ns > 0) {
    o->start_ns = r->received_ns;
    r->set |= KL_INGEST_F_START;
  }
  OPT(get_time(c, "endTime", &o->end_ns), KL_INGEST_F_END);
  if (strcmp(type, KL_OBS_EVENT) == 0 && !(r->set & KL_INGEST_F_END) && (r->set & KL_INGEST_F_START)) {
    o->end_ns = o->start_ns;
    r->set |= KL_INGEST_F_END;
  }
  OPT(get_time(c, "completionStartTime", &o->completion_start_ns), KL_INGEST_F_COMPLETION_START);
  const char *lvl = NULL;
  if (get_str(c, "level", &lvl) < 0) return -1;
  if (lvl && !(o->level = kl__obs_level(lvl))) return bad(c, "body.level \"%s\" is not DEBUG|DEFAULT|WARNING|ERROR", lvl);
  if (lvl) r->set |= KL_INGEST_F_LEVEL;
  OPT(get_str(c, "statusMessage", &o->status_message), KL_INGEST_F_STATUS_MESSAGE);
  OPT(get_str(c, "model", &o->model), KL_INGEST_F_MODEL);
  const cJSON *mp = member(c->body, "modelParameters");
  if (mp) {
    if (!cJSON_IsObject(mp)) return bad(c, "%s", "body.modelParameters must be an object");
    o->model_params_json = kl__json_print(c->a, mp);
    r->set |= KL_INGEST_F_MODEL_PARAMS;
  }
  const cJSON *cd = member(c->body, "costDetails");
  if (cd && !cJSON_IsObject(cd)) return bad(c, "%s", "body.costDetails must be an object");
  kl__cost_map(cd, r, c->a);
  const cJSON *ud = member(c->body, "usageDetails"), *u = member(c->body, "usage");
  if ((ud && !cJSON_IsObject(ud)) || (u && !cJSON_IsObject(u)))
    return bad(c, "%s", "body.usage and body.usageDetails must be objects");
  if (!kl__usage_langfuse(ud, r, c->a)) kl__usage_langfuse(u, r, c->a);
  if (get_str(c, "promptName", &r->prompt_name) < 0) return -1;
  if (r->prompt_name) {
    r->prompt_version = kl_json_int(c->body, "promptVersion", 0);
    r->set |= KL_INGEST_F_PROMPT;
  }
  return 0;
}

static int map_score(evctx *c, const char *envelope_id) {
  kl_ingest_score *s = &c->ev->score;
  int rc = get_id(c, "id", s->id);
  if (rc < 0) return -1;
  if (rc == 0 && !kl__id_copy(s->id, envelope_id)) return bad(c, "%s", "event id is longer than 64 bytes");
  if (get_id(c, "traceId", s->trace_id) < 0 || get_id(c, "observationId", s->observation_id) < 0 ||
      get_id(c, "sessionId", s->session_id) < 0 || get_id(c, "datasetRunId", s->dataset_run_id) < 0)
    return -1;
  if (!s->trace_id[0] && !s->session_id[0] && !s->dataset_run_id[0])
    return bad(c, "%s", "a score needs body.traceId, body.sessionId or body.datasetRunId");
  if (get_str(c, "name", &s->name) < 0 || get_str(c, "comment", &s->comment) < 0 ||
      get_str(c, "configId", &s->config_id) < 0 || get_str(c, "environment", &s->environment) < 0)
    return -1;
  if (!s->name || !*s->name) return bad(c, "%s", "a score needs body.name");
  get_metadata(c, &s->metadata_json);
  const char *src = NULL;
  if (get_str(c, "source", &src) < 0) return -1;
  static const char *const sources[] = {"API", "EVAL", "ANNOTATION"};
  s->source = "API";
  if (src) {
    s->source = NULL;
    for (size_t i = 0; i < 3; i++)
      if (strcasecmp(src, sources[i]) == 0) s->source = sources[i];
    if (!s->source) return bad(c, "body.source \"%s\" is not API|EVAL|ANNOTATION", src);
  }
  const char *dt = NULL;
  if (get_str(c, "dataType", &dt) < 0) return -1;
  const cJSON *v = member(c->body, "value");
  if (!v) return bad(c, "%s", "a score needs body.value");
  if (!dt) dt = cJSON_IsString(v) ? "CATEGORICAL" : cJSON_IsBool(v) ? "BOOLEAN" : "NUMERIC";
  if (strcasecmp(dt, "NUMERIC") == 0) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return bad(c, "%s", "a NUMERIC score needs a numeric value");
    s->data_type = "NUMERIC";
    s->value = v->valuedouble;
  } else if (strcasecmp(dt, "BOOLEAN") == 0) {
    if (cJSON_IsBool(v)) s->value = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) s->value = v->valuedouble;
    else return bad(c, "%s", "a BOOLEAN score needs the value 0 or 1");
    s->data_type = "BOOLEAN";
    s->string_value = s->value ? "True" : "False"; /* what Langfuse stores */
  } else if (strcasecmp(dt, "CATEGORICAL") == 0 || strcasecmp(dt, "TEXT") == 0) {
    s->data_type = strcasecmp(dt, "TEXT") == 0 ? "TEXT" : "CATEGORICAL";
    if (cJSON_IsString(v)) s->string_value = kl_arena_strdup(c->a, v->valuestring);
    else if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) s->string_value = kl_arena_sprintf(c->a, "%.17g", v->valuedouble);
    else return bad(c, "a %s score needs a string value", s->data_type);
  } else {
    return bad(c, "body.dataType \"%s\" is not NUMERIC|BOOLEAN|CATEGORICAL|TEXT", dt);
  }
  if (get_time(c, "timestamp", &s->timestamp_ns) < 0) return -1;
  if (!s->timestamp_ns) s->timestamp_ns = c->ev->obs.received_ns > 0 ? c->ev->obs.received_ns : kl_now_ns();
  return 0;
}

static const struct {
  const char *name, *type;
  kl_ingest_op op;
} k_obs_events[] = {
    {"span-create", KL_OBS_SPAN, KL_INGEST_CREATE},           {"span-update", KL_OBS_SPAN, KL_INGEST_UPDATE},
    {"generation-create", KL_OBS_GENERATION, KL_INGEST_CREATE}, {"generation-update", KL_OBS_GENERATION, KL_INGEST_UPDATE},
    {"event-create", KL_OBS_EVENT, KL_INGEST_CREATE},         {"agent-create", KL_OBS_AGENT, KL_INGEST_CREATE},
    {"tool-create", KL_OBS_TOOL, KL_INGEST_CREATE},           {"chain-create", KL_OBS_CHAIN, KL_INGEST_CREATE},
    {"retriever-create", KL_OBS_RETRIEVER, KL_INGEST_CREATE}, {"evaluator-create", KL_OBS_EVALUATOR, KL_INGEST_CREATE},
    {"embedding-create", KL_OBS_EMBEDDING, KL_INGEST_CREATE}, {"guardrail-create", KL_OBS_GUARDRAIL, KL_INGEST_CREATE},
    {"observation-create", NULL, KL_INGEST_CREATE},           {"observation-update", NULL, KL_INGEST_UPDATE},
};

static void parse_event(const cJSON *env, kl_ingest_event *ev, kl_arena *a) {
  evctx c = {ev, NULL, a};
  ev->id = "";
  ev->type = "";
  ev->status = 201;
  if (!cJSON_IsObject(env)) {
    bad(&c, "%s", "an event must be an object");
    return;
  }
  const char *id = kl_json_str(env, "id"), *type = kl_json_str(env, "type"), *ts = kl_json_str(env, "timestamp");
  if (id) ev->id = kl_arena_strdup(a, id);
  if (type) ev->type = kl_arena_strdup(a, type);
  if (!id || !*id) {
    bad(&c, "%s", "event.id is missing");
    return;
  }
  if (!type) {
    bad(&c, "%s", "event.type is missing");
    return;
  }
  if (ts && (ev->obs.received_ns = kl_time_parse(ts)) < 0) {
    bad(&c, "%s", "event.timestamp is not an RFC 3339 date");
    return;
  }
  c.body = member(env, "body");
  if (!cJSON_IsObject(c.body)) {
    bad(&c, "%s", "event.body must be an object");
    return;
  }
  if (strcmp(type, "sdk-log") == 0) return;
  if (strcmp(type, "trace-create") == 0) {
    if (map_trace(&c, id) == 0) ev->kind = KL_INGEST_TRACE;
    return;
  }
  if (strcmp(type, "score-create") == 0) {
    if (map_score(&c, id) == 0) ev->kind = KL_INGEST_SCORE;
    return;
  }
  for (size_t i = 0; i < sizeof k_obs_events / sizeof k_obs_events[0]; i++)
    if (strcmp(type, k_obs_events[i].name) == 0) {
      if (map_obs(&c, k_obs_events[i].type, k_obs_events[i].op, id) == 0) ev->kind = KL_INGEST_OBS;
      return;
    }
  bad(&c, "unsupported event type \"%s\"", type);
}

static int cmp_event_id(const void *x, const void *y) {
  const kl_ingest_event *a = *(kl_ingest_event *const *)x, *b = *(kl_ingest_event *const *)y;
  int c = strcmp(a->id, b->id);
  return c ? c : (a < b ? -1 : a > b);
}

/* Later copies of an envelope id (SDK retries merged into one batch) succeed without effect. */
static void dedupe(kl_ingest_batch *b) {
  if (b->n < 2) return;
  kl_ingest_event **v = malloc(b->n * sizeof *v);
  if (!v) abort();
  for (size_t i = 0; i < b->n; i++) v[i] = &b->events[i];
  qsort(v, b->n, sizeof *v, cmp_event_id);
  for (size_t i = 1; i < b->n; i++) {
    kl_ingest_event *first = v[i - 1], *dup = v[i];
    if (!*dup->id || strcmp(first->id, dup->id) != 0) continue;
    v[i] = first; /* so a third copy compares against the first too */
    if (first->status == 201) {
      dup->status = 201;
      dup->error = NULL;
      dup->kind = KL_INGEST_NONE;
    }
  }
  free(v);
}

int kl_ingest_langfuse(const char *body, size_t len, kl_arena *a, kl_ingest_batch *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  cJSON *root = kl_json_parse(body, len, err);
  if (!root) return -1;
  const cJSON *batch = cJSON_GetObjectItemCaseSensitive(root, "batch");
  if (!cJSON_IsObject(root) || !cJSON_IsArray(batch)) {
    kl_err_set(err, 400, "ingestion body must be an object with a \"batch\" array");
    cJSON_Delete(root);
    return -1;
  }
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
  if (cJSON_IsObject(md)) out->metadata_json = kl__json_print(a, md);
  int n = cJSON_GetArraySize(batch);
  out->events = n ? kl_arena_calloc(a, (size_t)n * sizeof *out->events) : NULL;
  const cJSON *env;
  cJSON_ArrayForEach(env, batch) parse_event(env, &out->events[out->n++], a);
  dedupe(out);
  for (size_t i = 0; i < out->n; i++) out->nerrors += out->events[i].status != 201;
  cJSON_Delete(root);
  return 0;
}

void kl_ingest_langfuse_reply(const kl_ingest_batch *b, kl_buf *out) {
  kl_buf_puts(out, "{\"successes\":[");
  bool first = true;
  for (size_t i = 0; i < b->n; i++) {
    const kl_ingest_event *e = &b->events[i];
    if (e->status != 201) continue;
    kl_buf_puts(out, first ? "{\"id\":" : ",{\"id\":");
    kl_buf_json_str(out, e->id, strlen(e->id));
    kl_buf_puts(out, ",\"status\":201}");
    first = false;
  }
  kl_buf_puts(out, "],\"errors\":[");
  first = true;
  for (size_t i = 0; i < b->n; i++) {
    const kl_ingest_event *e = &b->events[i];
    if (e->status == 201) continue;
    kl_buf_puts(out, first ? "{\"id\":" : ",{\"id\":");
    kl_buf_json_str(out, e->id, strlen(e->id));
    kl_buf_printf(out, ",\"status\":%d,\"message\":", e->status);
    const char *m = e->error ? e->error : "invalid event";
    kl_buf_json_str(out, m, strlen(m));
    kl_buf_putc(out, '}');
    first = false;
  }
  kl_buf_puts(out, "]}");
}
