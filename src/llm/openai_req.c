/* openai_req.c: OpenAI chat-completions requests and non-streamed responses.
 *
 * keel is a proxy: it validates only what it must look at (model, messages, stream, the
 * numeric knobs it records) and passes everything else through untouched, unknown fields
 * included, so new OpenAI features work without a keel release.  Validation messages name
 * the offending field because they go straight back to the client as a 400.
 * Numeric knobs may be JSON null: several SDKs send null for "not set". */
#include "llm/kl_llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
static const char *const number_fields[] = {"temperature", "top_p", "max_tokens", "max_completion_tokens", "n",
                                            "frequency_penalty", "presence_penalty"};

__attribute__((format(printf, 3, 4))) static int fail(kl_err *err, kl_chat_req *out, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  kl_err_set(err, 400, "%s", msg);
  kl_chat_req_free(out);
  return -1;
}

void kl_chat_req_free(kl_chat_req *r) {
  if (r->owned) cJSON_Delete(r->root);
  r->root = NULL;
  r->owned = false;
}

/* The request tree: in the arena when the body is plain JSON (a chat request almost always
 * is: ~4k instructions against ~10k for cJSON's malloc per node and the matching frees). */
int kl_chat_req_parse(kl_arena *a, const char *body, size_t len, kl_chat_req *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  cJSON *root = a ? kl_json_parse_arena(a, body, len) : NULL;
  if (!root) {
    root = kl_json_parse(body, len, err);
    if (!root) return -1;
    out->owned = true;
  }
  out->root = root;
  if (!cJSON_IsObject(root)) return fail(err, out, "request body must be a JSON object");

  /* every member looked at, found in one walk (the first of a name, as cJSON's lookup) */
  enum { F_MODEL, F_MESSAGES, F_STREAM, F_STREAM_OPTIONS, F_USER, F_METADATA, F_NUMBERS };
  static const char *const fields[] = {"model", "messages", "stream", "stream_options", "user", "metadata",
                                       "temperature", "top_p", "max_tokens", "max_completion_tokens", "n",
                                       "frequency_penalty", "presence_penalty"};
  _Static_assert(sizeof fields / sizeof fields[0] == F_NUMBERS + sizeof number_fields / sizeof number_fields[0],
                 "fields = the named members, then number_fields");
  const cJSON *f[sizeof fields / sizeof fields[0]];
  kl_json_fields(root, fields, sizeof fields / sizeof fields[0], f);

  const cJSON *model = f[F_MODEL];
  if (!cJSON_IsString(model)) return fail(err, out, "model: required string");
  if (!model->valuestring[0]) return fail(err, out, "model: must not be empty");

  const cJSON *msgs = f[F_MESSAGES];
  if (!cJSON_IsArray(msgs)) return fail(err, out, "messages: required array of message objects");
  if (!msgs->child) return fail(err, out, "messages: must not be empty");
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    if (!cJSON_IsObject(m)) return fail(err, out, "messages[%d]: expected an object", i);
    const char *role = kl_json_str(m, "role");
    bool ok = false;
    for (size_t k = 0; role && !ok && k < sizeof roles / sizeof roles[0]; k++)
      ok = role[0] == roles[k][0] && !strcmp(role, roles[k]);
    if (!ok)
      return fail(err, out, "messages[%d].role: expected one of system, developer, user, assistant, tool, function", i);
    i++;
  }

  const cJSON *stream = f[F_STREAM];
  if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream))
    return fail(err, out, "'stream' must be a boolean");
  for (size_t k = 0; k < sizeof number_fields / sizeof number_fields[0]; k++) {
    const cJSON *v = f[F_NUMBERS + k];
    if (v && !cJSON_IsNumber(v) && !cJSON_IsNull(v)) return fail(err, out, "'%s' must be a number", number_fields[k]);
  }
  const cJSON *so = f[F_STREAM_OPTIONS];
  if (so && !cJSON_IsObject(so) && !cJSON_IsNull(so))
    return fail(err, out, "'stream_options' must be an object");

  out->model = model->valuestring;
  out->stream = cJSON_IsTrue(stream);
  out->client_include_usage = cJSON_IsObject(so) && cJSON_IsTrue(kl_json_get(so, "include_usage"));
  out->user = cJSON_IsString(f[F_USER]) ? f[F_USER]->valuestring : NULL;
  const cJSON *md = f[F_METADATA];
  out->metadata = cJSON_IsObject(md) ? md : NULL;
  out->messages = msgs;
  return 0;
}

/* cJSON_PrintUnformatted's bytes (json_print.c) into a malloc'd string. */
static char *print_malloc(const cJSON *j, size_t *len) {
  kl_buf b = KL_BUF_INIT;
  if (!kl_json_write(&b, j)) abort();
  if (len) *len = b.len;
  return kl_buf_steal(&b);
}

char *kl_chat_req_upstream_body(const kl_chat_req *r, const char *upstream_model, size_t *len) {
  const char *model = upstream_model && *upstream_model ? upstream_model : r->model;
  /* Nothing to change in the tree (the caller rewrote messages, or added the canary): print it
   * as it is; the copy below costs as much again as the printing. */
  const cJSON *so0 = r->stream ? kl_json_get(r->root, "stream_options") : NULL;
  if (!strcmp(model, r->model) &&
      (!r->stream || (cJSON_IsObject(so0) && cJSON_IsTrue(kl_json_get(so0, "include_usage")))))
    return print_malloc(r->root, len);
  cJSON *copy = cJSON_Duplicate(r->root, 1);
  if (!copy) abort();
  cJSON_ReplaceItemInObjectCaseSensitive(copy, "model", cJSON_CreateString(model));
  if (r->stream) {
    /* case-sensitive throughout: "Stream_Options" is an unknown field, passed through */
    cJSON *so = cJSON_GetObjectItemCaseSensitive(copy, "stream_options");
    if (!cJSON_IsObject(so)) {
      so = cJSON_CreateObject();
      if (!cJSON_ReplaceItemInObjectCaseSensitive(copy, "stream_options", so))
        cJSON_AddItemToObject(copy, "stream_options", so);
    }
    cJSON *t = cJSON_CreateTrue();
    if (!cJSON_ReplaceItemInObjectCaseSensitive(so, "include_usage", t)) cJSON_AddItemToObject(so, "include_usage", t);
  }
  char *s = print_malloc(copy, len);
  cJSON_Delete(copy);
  return s;
}

void kl_chat_req_params_json(const kl_chat_req *r, kl_buf *out) {
  static const char *const keys[] = {"temperature", "top_p", "max_tokens", "max_completion_tokens", "n",
                                     "stream", "stop", "seed", "frequency_penalty", "presence_penalty",
                                     "service_tier", "reasoning_effort", "tool_choice", "parallel_tool_calls"};
  kl_buf_putc(out, '{');
  bool first = kl_json_pick(out, r ? r->root : NULL, keys, sizeof keys / sizeof keys[0]) == 0;
  const cJSON *rf = r && r->root ? kl_json_get(r->root, "response_format") : NULL;
  const char *rft = cJSON_IsObject(rf) ? kl_json_str(rf, "type") : NULL;
  if (rft) {
    if (!first) kl_buf_putc(out, ',');
    kl_buf_puts(out, "\"response_format\":");
    kl_buf_json_str(out, rft, strlen(rft));
  }
  kl_buf_putc(out, '}');
}

/* A string member for the result: the arena tree's own string (it lives in the arena already,
 * and output rails only ever replace a node's pointer), a copy of cJSON's (its tree is freed). */
static const char *result_str(kl_arena *a, const cJSON *v, bool arena_tree) {
  if (!cJSON_IsString(v)) return NULL;
  return arena_tree ? v->valuestring : kl_arena_strdup(a, v->valuestring);
}

int kl_chat_resp_parse(kl_arena *a, const char *body, size_t len, kl_chat_result *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  kl_err perr;
  kl_err_clear(&perr);
  /* the arena tree is plain JSON's fast path; cJSON decides (and words errors) otherwise */
  cJSON *tree = kl_json_parse_arena(a, body, len);
  cJSON *root = tree ? tree : kl_json_parse(body, len, &perr);
  if (!root) {
    kl_err_set(err, 502, "upstream response: %s", perr.msg);
    return -1;
  }
  int rc = -1;
  static const char *const top[] = {"error", "choices", "usage", "id", "model"};
  const cJSON *f[sizeof top / sizeof top[0]];
  kl_json_fields(root, top, sizeof top / sizeof top[0], f);
  const cJSON *e = f[0], *choices = f[1];
  if (!cJSON_IsObject(root)) {
    kl_err_set(err, 502, "upstream response: expected a JSON object");
  } else if (e && !cJSON_IsNull(e)) {
    const char *m = cJSON_IsObject(e) ? kl_json_str(e, "message") : cJSON_IsString(e) ? e->valuestring : NULL;
    kl_err_set(err, 502, "upstream error: %s", m ? m : "(no message)");
  } else if (!cJSON_IsArray(choices)) {
    kl_err_set(err, 502, "upstream response: 'choices' is not an array");
  } else {
    out->usage = kl_usage_from_openai(f[2]);
    out->id = result_str(a, f[3], tree != NULL);
    out->model = result_str(a, f[4], tree != NULL);
    const cJSON *c0 = choices->child;
    if (cJSON_IsObject(c0)) {
      static const char *const choice[] = {"finish_reason", "message"};
      const cJSON *cf[sizeof choice / sizeof choice[0]];
      kl_json_fields(c0, choice, sizeof choice / sizeof choice[0], cf);
      out->finish_reason = result_str(a, cf[0], tree != NULL);
      if (cJSON_IsObject(cf[1])) out->output_json = kl_json_print_arena(a, cf[1]);
    }
    out->tree = tree;
    rc = 0;
  }
  if (!tree) cJSON_Delete(root);
  return rc;
}

void kl_openai_error(kl_buf *out, int status, const char *type, const char *message, const char *param,
                     const char *code) {
  if (!type) {
    switch (status) {
      case 400: case 413: case 422: type = "invalid_request_error"; break;
      case 401: type = "authentication_error"; break;
      case 403: type = "permission_error"; break;
      case 404: type = "not_found_error"; break;
      case 408: case 504: type = "timeout_error"; break;
      case 429: type = "rate_limit_error"; break;
      case 502: case 503: type = "upstream_error"; break;
      default: type = status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
    }
  }
  kl_buf_error_json(out, message, type, param, code);
}
