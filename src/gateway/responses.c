/* responses.c: POST /v1/responses (the OpenAI Responses API), passed through.
 *
 * keel does not translate the Responses API: openai deployments get the body as it came
 * (model renamed when the deployment says so) at {base_url}/responses, mock deployments the
 * mock's Responses planner; anthropic deployments get a 400.  Answers are relayed byte for
 * byte once known to be a response object; streams are relayed event by event with their
 * `event:` lines, and the final response object (response.completed, or response.incomplete
 * for an answer cut at max_output_tokens) is what gets traced.  A stream that closes without
 * one is an error (an error event, never a silent success), like chat's missing [DONE].
 *
 * Usage: Responses' input_tokens INCLUDES input_tokens_details.cached_tokens and
 * output_tokens INCLUDES output_tokens_details.reasoning_tokens; kl_usage_from_responses (llm
 * layer, beside the other normalisers) splits them into keel's non-overlapping buckets so no
 * token is priced twice, and records the convention. */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct resp_call {
  kl_gw_call c;   /* first: the common head */
  cJSON *root;
  bool saw_end;   /* response.completed / response.incomplete arrived */
  kl_chat_result res;
} resp_call;

/* Reads a response object: usage, id, model, status as the finish reason, output items. */
static int read_response(kl_arena *a, const cJSON *resp, kl_chat_result *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  const cJSON *output = cJSON_GetObjectItemCaseSensitive(resp, "output");
  if (!cJSON_IsObject(resp) || !cJSON_IsArray(output)) {
    kl_err_set(err, 502, "not a response object (no output array)");
    return -1;
  }
  out->usage = kl_usage_from_responses(cJSON_GetObjectItemCaseSensitive(resp, "usage"));
  out->id = kl_arena_strdup(a, kl_json_str(resp, "id"));
  out->model = kl_arena_strdup(a, kl_json_str(resp, "model"));
  const cJSON *inc = cJSON_GetObjectItemCaseSensitive(resp, "incomplete_details");
  const char *reason = cJSON_IsObject(inc) ? kl_json_str(inc, "reason") : NULL;
  out->finish_reason = kl_arena_strdup(a, reason ? reason : kl_json_str(resp, "status"));
  out->output_json = kl_json_print_arena(a, output);
  return 0;
}

/* ---------- answers ---------- */

static void resp_body_done(kl_gw_call *c) {
  kl_err e = {0};
  kl_chat_result res;
  cJSON *j = kl_json_parse(c->body.data ? c->body.data : "", c->body.len, &e);
  int rc = j ? read_response(c->arena, j, &res, &e) : -1;
  cJSON_Delete(j);
  if (rc != 0) {
    char m[400];
    snprintf(m, sizeof m, "upstream returned an invalid response object: %s", e.msg);
    kl_gw_fail(c, 502, "upstream_error", "upstream_invalid_response", m);
    return;
  }
  c->first_token_ns = 0;
  kl_gw_outcome o = {.status = 200, .res = &res};
  kl_gw_complete_json(c, &o, c->body.data, c->body.len);
}

static void resp_stream_begin(kl_gw_call *c) { (void)c; }

static void resp_on_event(void *ud, const char *event, const char *data, size_t len) {
  resp_call *rc = ud;
  kl_gw_call *c = &rc->c;
  if (c->fail) return;
  kl_err e = {0};
  cJSON *j = kl_json_parse(data, len, &e);
  const char *type = cJSON_IsObject(j) ? kl_json_str(j, "type") : NULL;
  if (!type) type = event;
  if (!j || !cJSON_IsObject(j) || !type) {
    cJSON_Delete(j);
    c->fail = "upstream sent a stream event that is not a Responses event";
    return;
  }
  kl_gw_stream_event(c, event && *event ? event : type, data, len);
  if (!c->first_token_ns && (!strcmp(type, "response.output_text.delta") ||
                             !strcmp(type, "response.function_call_arguments.delta") ||
                             !strcmp(type, "response.refusal.delta")))
    c->first_token_ns = kl_gw_now(c);
  if (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete")) {
    if (read_response(c->arena, cJSON_GetObjectItemCaseSensitive(j, "response"), &rc->res, &e) == 0) rc->saw_end = true;
    else c->fail = "upstream sent a final event without a valid response object";
  } else if (!strcmp(type, "response.failed")) {
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "response"), "error");
    const char *msg = kl_json_str(err, "message");
    c->fail = kl_arena_sprintf(c->arena, "upstream reported response.failed: %s", msg ? msg : "(no message)");
  } else if (!strcmp(type, "error")) {
    const char *msg = kl_json_str(j, "message");
    c->fail = kl_arena_sprintf(c->arena, "upstream sent an error event mid-stream: %s", msg ? msg : "(no message)");
  }
  cJSON_Delete(j);
}

static void resp_stream_end(kl_gw_call *c, bool pending) {
  resp_call *rc = (resp_call *)c;
  if (!rc->saw_end) {
    kl_gw_fail(c, 502, "upstream_error", "upstream_stream_truncated",
               pending ? "upstream stream ended in the middle of an event"
                       : "upstream stream ended before response.completed");
    return;
  }
  kl_gw_outcome o = {.status = 200, .res = &rc->res};
  kl_gw_complete_stream(c, &o);
}

static void resp_record(kl_gw_call *c, const kl_gw_outcome *o) {
  resp_call *rc = (resp_call *)c;
  const kl_chat_result *res = o->res;
  if (!res && rc->saw_end) res = &rc->res;
  static const char *const keys[] = {"temperature", "top_p", "max_output_tokens", "stream", "tool_choice",
                                     "parallel_tool_calls", "reasoning", "text", "truncation", "service_tier",
                                     "store", "previous_response_id"};
  kl_buf params = KL_BUF_INIT;
  kl_gw_params_json(rc->root, keys, sizeof keys / sizeof *keys, &params);
  /* the input as the model saw it: instructions and tools beside the input items */
  const cJSON *instr = cJSON_GetObjectItemCaseSensitive(rc->root, "instructions");
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(rc->root, "tools");
  const cJSON *input = cJSON_GetObjectItemCaseSensitive(rc->root, "input");
  const char *in_json;
  if ((!instr || cJSON_IsNull(instr)) && !cJSON_IsArray(tools)) {
    in_json = input ? kl_json_print_arena(c->arena, input) : NULL;
  } else {
    cJSON *w = cJSON_CreateObject();
    if (instr && !cJSON_IsNull(instr)) cJSON_AddItemReferenceToObject(w, "instructions", (cJSON *)instr);
    if (input) cJSON_AddItemReferenceToObject(w, "input", (cJSON *)input);
    if (cJSON_IsArray(tools)) cJSON_AddItemReferenceToObject(w, "tools", (cJSON *)tools);
    in_json = kl_json_print_arena(c->arena, w);
    cJSON_Delete(w);
  }
  kl_generation gen = {
      .name = "responses",
      .model_params_json = params.data,
      .input_json = in_json,
      .output_json = res ? res->output_json : NULL,
      .finish_reason = res ? res->finish_reason : NULL,
      .usage = res ? res->usage : (kl_usage){0},
      .params = rc->root,
      .stream = c->want_stream,
  };
  kl_gw_record(c, &gen, o);
  kl_buf_free(&params);
}

static void resp_release(kl_gw_call *c) {
  resp_call *rc = (resp_call *)c;
  cJSON_Delete(rc->root);
  rc->root = NULL;
}

static const kl_gw_ops resp_ops = {
    .route = "responses",
    .fmt = KL_GW_FMT_RESPONSES,
    .stream_begin = resp_stream_begin,
    .on_event = resp_on_event,
    .stream_end = resp_stream_end,
    .body_done = resp_body_done,
    .record = resp_record,
    .release = resp_release,
};

static int validate(const cJSON *root, kl_err *err) {
  if (!cJSON_IsObject(root)) return kl_err_set(err, 400, "request body must be a JSON object"), -1;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (!cJSON_IsString(model) || !*model->valuestring)
    return kl_err_set(err, 400, "model: required, a non-empty string"), -1;
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
  if (in && !cJSON_IsNull(in) && !cJSON_IsString(in) && !cJSON_IsArray(in))
    return kl_err_set(err, 400, "input: expected a string or an array of input items"), -1;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stream");
  if (st && !cJSON_IsNull(st) && !cJSON_IsBool(st)) return kl_err_set(err, 400, "stream: expected a boolean"), -1;
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
  if (md && !cJSON_IsNull(md) && !cJSON_IsObject(md)) return kl_err_set(err, 400, "metadata: expected an object"), -1;
  return 0;
}

kl_gw_call *kl_gw_responses(const kl_gw_request *r, const kl_gw_reply *reply) {
  resp_call *rc = kl_arena_calloc(r->arena, sizeof *rc);
  kl_gw_call *c = &rc->c;
  kl_gw_call_init(c, &resp_ops, r, reply);
  kl_err err = {0};
  rc->root = kl_json_parse(r->body, r->body_len, &err);
  if (!rc->root || validate(rc->root, &err) != 0) {
    kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
    resp_release(c);
    return NULL;
  }
  const char *model = kl_json_str(rc->root, "model");
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(rc->root, "metadata");
  bool changed = false;
  if (kl_gw_resolve(c, model) != 0 ||
      kl_gw_trace_init(c, kl_json_str(rc->root, "user"), cJSON_IsObject(md) ? md : NULL) != 0 ||
      kl_gw_guard_input_other(c, rc->root, true, &changed) != 0) {
    resp_release(c);
    return NULL;
  }
  const kl_model_cfg *m = c->m;
  if (m->provider == KL_PROVIDER_ANTHROPIC) {
    kl_gw_reject(c, 400, "invalid_request_error",
                 "the Responses API is not available for anthropic deployments (use /v1/chat/completions or /v1/messages)",
                 "model", "unsupported_model");
    resp_release(c);
    return NULL;
  }
  c->want_stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rc->root, "stream"));
  kl_gw_body_model(c, rc->root, r->body, r->body_len);
  const char *url = kl_arena_concat(c->arena, m->base_url, "/responses");
  if (kl_gw_start(c, url, NULL, 0, kl_mock_responses) != 0) return NULL;
  return c;
}
