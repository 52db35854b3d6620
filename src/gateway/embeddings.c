/* embeddings.c: POST /v1/embeddings (OpenAI format).
 *
 * The body is validated (model; input a string, [string], [int] or [[int]], nothing empty) and
 * then passed through untouched except for the model name: embedding requests are small and
 * their options (dimensions, encoding_format) mean the same to every OpenAI-compatible server.
 * The answer is relayed byte for byte once it is known to be an embedding list (an upstream
 * 200 that is not one becomes a 502).  The trace is an EMBEDDING observation: usage (input =
 * prompt_tokens), cost from the price table, the input texts, and as output only a summary
 * (count and dimensions): the vectors are large and say nothing a reader of a trace needs.
 * Anthropic has no embeddings API, so its deployments get a 400. */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct embed_call {
  kl_gw_call c;   /* first: the common head */
  cJSON *root;
  const cJSON *input;
} embed_call;

typedef struct embed_result {
  kl_usage usage;
  const char *output_json;
} embed_result;

/* ---------- validation ---------- */

static bool is_token_array(const cJSON *a) {
  if (!cJSON_IsArray(a) || !a->child) return false;
  for (const cJSON *t = a->child; t; t = t->next)
    if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble != (double)(int64_t)t->valuedouble) return false;
  return true;
}

static int validate_input(const cJSON *in, kl_err *err) {
  if (!in || cJSON_IsNull(in)) return kl_err_set(err, 400, "input: required"), -1;
  if (cJSON_IsString(in)) {
    if (!*in->valuestring) return kl_err_set(err, 400, "input: must not be an empty string"), -1;
    return 0;
  }
  if (!cJSON_IsArray(in)) return kl_err_set(err, 400, "input: expected a string, an array of strings, an array of token ids or an array of token arrays"), -1;
  if (!in->child) return kl_err_set(err, 400, "input: must not be an empty array"), -1;
  if (cJSON_IsString(in->child)) {
    int i = 0;
    for (const cJSON *s = in->child; s; s = s->next, i++) {
      if (!cJSON_IsString(s)) return kl_err_set(err, 400, "input[%d]: expected a string like input[0]", i), -1;
      if (!*s->valuestring) return kl_err_set(err, 400, "input[%d]: must not be an empty string", i), -1;
    }
    return 0;
  }
  if (cJSON_IsNumber(in->child)) {
    if (!is_token_array(in)) return kl_err_set(err, 400, "input: a token array must hold non-negative integers"), -1;
    return 0;
  }
  int i = 0;
  for (const cJSON *t = in->child; t; t = t->next, i++)
    if (!is_token_array(t))
      return kl_err_set(err, 400, "input[%d]: expected a non-empty array of non-negative integer token ids", i), -1;
  return 0;
}

static int validate(const cJSON *root, kl_err *err) {
  if (!cJSON_IsObject(root)) return kl_err_set(err, 400, "request body must be a JSON object"), -1;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (!cJSON_IsString(model) || !*model->valuestring)
    return kl_err_set(err, 400, "model: required, a non-empty string"), -1;
  if (validate_input(cJSON_GetObjectItemCaseSensitive(root, "input"), err) != 0) return -1;
  const cJSON *dims = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
  if (dims && !cJSON_IsNull(dims) && (!cJSON_IsNumber(dims) || dims->valuedouble < 1))
    return kl_err_set(err, 400, "dimensions: expected a positive integer"), -1;
  return 0;
}

/* ---------- the answer ---------- */

/* Dimensions of one embedding: the array's length, or for base64 the float32 count. */
static int64_t dims_of(const cJSON *e) {
  if (cJSON_IsArray(e)) return cJSON_GetArraySize(e);
  if (!cJSON_IsString(e)) return -1;
  size_t n = strlen(e->valuestring), pad = 0;
  while (pad < 2 && n > pad && e->valuestring[n - 1 - pad] == '=') pad++;
  return (int64_t)((n / 4 * 3 - pad) / 4);
}

static int parse_answer(kl_gw_call *c, embed_result *out, kl_err *err) {
  cJSON *j = kl_json_parse(c->body.data ? c->body.data : "", c->body.len, err);
  if (!j) return -1;
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
  if (!cJSON_IsObject(j) || !cJSON_IsArray(data)) {
    cJSON_Delete(j);
    return kl_err_set(err, 502, "no data array"), -1;
  }
  int64_t count = 0, dims = -1;
  for (const cJSON *d = data->child; d; d = d->next, count++) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "embedding");
    int64_t n = dims_of(e);
    if (n < 0) {
      cJSON_Delete(j);
      return kl_err_set(err, 502, "data[%lld]: no embedding", (long long)count), -1;
    }
    if (dims < 0) dims = n;
  }
  out->usage = kl_usage_from_openai(cJSON_GetObjectItemCaseSensitive(j, "usage"));
  out->output_json = kl_arena_sprintf(c->arena, "{\"count\":%lld,\"dimensions\":%lld}", (long long)count,
                                      (long long)(dims < 0 ? 0 : dims));
  cJSON_Delete(j);
  return 0;
}

static void embed_body_done(kl_gw_call *c) {
  embed_result res;
  kl_err e = {0};
  if (parse_answer(c, &res, &e) != 0) {
    char m[400];
    snprintf(m, sizeof m, "upstream returned an invalid embedding list: %s", e.msg);
    kl_gw_fail(c, 502, "upstream_error", "upstream_invalid_response", m);
    return;
  }
  kl_gw_outcome o = {.status = 200, .res = &res};
  kl_gw_complete_json(c, &o, c->body.data, c->body.len);
}

static void embed_record(kl_gw_call *c, const kl_gw_outcome *o) {
  embed_call *ec = (embed_call *)c;
  const embed_result *res = o->res;
  static const char *const keys[] = {"dimensions", "encoding_format"};
  kl_buf params = KL_BUF_INIT;
  kl_gw_params_json(ec->root, keys, 2, &params);
  kl_generation gen = {
      .type = KL_OBS_EMBEDDING,
      .name = "embeddings",
      .model_params_json = params.data,
      .input_json = kl_json_print_arena(c->arena, ec->input),
      .output_json = res ? res->output_json : NULL,
      .usage = res ? res->usage : (kl_usage){0},
      .params = ec->root,
  };
  kl_gw_record(c, &gen, o);
  kl_buf_free(&params);
}

static void embed_release(kl_gw_call *c) {
  embed_call *ec = (embed_call *)c;
  cJSON_Delete(ec->root);
  ec->root = NULL;
}

static const kl_gw_ops embed_ops = {
    .route = "embeddings",
    .fmt = KL_GW_FMT_OPENAI,
    .body_done = embed_body_done,
    .record = embed_record,
    .release = embed_release,
};

kl_gw_call *kl_gw_embeddings(const kl_gw_request *r, const kl_gw_reply *reply) {
  embed_call *ec = kl_arena_calloc(r->arena, sizeof *ec);
  kl_gw_call *c = &ec->c;
  kl_gw_call_init(c, &embed_ops, r, reply);
  kl_err err = {0};
  ec->root = kl_json_parse(r->body, r->body_len, &err);
  if (!ec->root) {
    kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
    return NULL;
  }
  if (validate(ec->root, &err) != 0) {
    kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
    embed_release(c);
    return NULL;
  }
  ec->input = cJSON_GetObjectItemCaseSensitive(ec->root, "input");
  const char *model = kl_json_str(ec->root, "model");
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(ec->root, "metadata");
  bool changed = false;
  if (kl_gw_resolve(c, model) != 0 ||
      kl_gw_trace_init(c, kl_json_str(ec->root, "user"), cJSON_IsObject(md) ? md : NULL) != 0 ||
      kl_gw_guard_input_other(c, ec->root, false, &changed) != 0) {
    embed_release(c);
    return NULL;
  }
  const kl_model_cfg *m = c->m;
  if (m->provider == KL_PROVIDER_ANTHROPIC) {
    kl_gw_reject(c, 400, "invalid_request_error", "embeddings are not available for anthropic deployments", "model",
                 "unsupported_model");
    embed_release(c);
    return NULL;
  }
  kl_gw_body_model(c, ec->root, r->body, r->body_len);
  const char *url = kl_arena_concat(c->arena, m->base_url, "/embeddings");
  if (kl_gw_start(c, url, NULL, 0, kl_mock_embeddings) != 0) return NULL;
  return c;
}
