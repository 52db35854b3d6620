/* anthropic_msg.c: Anthropic Messages API basics: usage, request validation, response
 * parsing and error bodies.
 *
 * Validation is that of a proxy: keel checks the shape of what it (or a translator) will read
 * and lets everything else through, so a new Anthropic field or block type works without a keel
 * release.  Known block types are checked strictly because the translators and the trace read
 * them; unknown ones only need a string `type`.  Messages name the field with a JSONPath-ish
 * prefix ("messages[2].content[0].source.data: ...") because they go back to the client. */
#include "llm/anthropic_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ================= usage ================= */

static int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

kl_usage kl_usage_from_anthropic(const cJSON *usage) {
  kl_usage u = {.reported_cost = -1};
  if (!cJSON_IsObject(usage)) return u;
  u.present = true;
  u.convention = "anthropic";
  kl_usage_read_cost(&u, usage);
  /* input_tokens already excludes both cache buckets: no subtraction, unlike OpenAI */
  u.input = nonneg(kl_json_int(usage, "input_tokens", 0));
  u.input_cached = nonneg(kl_json_int(usage, "cache_read_input_tokens", 0));
  u.input_cache_write = nonneg(kl_json_int(usage, "cache_creation_input_tokens", 0));
  u.output = nonneg(kl_json_int(usage, "output_tokens", 0));
  return u;
}

cJSON *kl_anth_usage_new(const kl_usage *u) {
  kl_usage z = {0};
  if (!u) u = &z;
  cJSON *o = anth_nn(cJSON_CreateObject());
  anth_add_num(o, "input_tokens", (double)u->input);
  anth_add_num(o, "cache_creation_input_tokens", (double)u->input_cache_write);
  anth_add_num(o, "cache_read_input_tokens", (double)u->input_cached);
  anth_add_num(o, "output_tokens", (double)kl_usage_output_total(u));
  return o;
}

cJSON *kl_anth_openai_usage_new(const kl_usage *u) {
  kl_usage z = {0};
  if (!u) u = &z;
  int64_t in = kl_usage_input_total(u), out = kl_usage_output_total(u);
  cJSON *o = anth_nn(cJSON_CreateObject());
  anth_add_num(o, "prompt_tokens", (double)in);
  anth_add_num(o, "completion_tokens", (double)out);
  anth_add_num(o, "total_tokens", (double)(in + out));
  anth_add_num(anth_add(o, "prompt_tokens_details", cJSON_CreateObject()), "cached_tokens", (double)u->input_cached);
  anth_add_num(anth_add(o, "completion_tokens_details", cJSON_CreateObject()), "reasoning_tokens",
               (double)u->output_reasoning);
  return o;
}

static void write_tree(cJSON *j, kl_buf *out) {
  char *p = anth_print(j);
  kl_buf_puts(out, p);
  cJSON_free(p);
  cJSON_Delete(j);
}

void kl_anth_usage_write(const kl_usage *u, kl_buf *out) { write_tree(kl_anth_usage_new(u), out); }
void kl_anth_openai_usage_write(const kl_usage *u, kl_buf *out) { write_tree(kl_anth_openai_usage_new(u), out); }

/* ================= request validation ================= */

__attribute__((format(printf, 2, 3))) static int bad(kl_err *err, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  kl_err_set(err, 400, "%s", msg);
  return -1;
}

static bool is_pos_int(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 9007199254740992.0 &&
         floor(v->valuedouble) == v->valuedouble;
}

/* image block source; `at` is the block's path */
static int check_image(const cJSON *b, const char *at, kl_err *err) {
  const cJSON *src = anth_get(b, "source");
  if (!cJSON_IsObject(src)) return bad(err, "%s.source: required object", at);
  const char *t = anth_str(src, "type");
  if (!t) return bad(err, "%s.source.type: required string", at);
  if (strcmp(t, "base64") == 0) {
    if (!anth_str(src, "media_type")) return bad(err, "%s.source.media_type: required string", at);
    if (!anth_str(src, "data")) return bad(err, "%s.source.data: required string", at);
  } else if (strcmp(t, "url") == 0) {
    if (!anth_str(src, "url")) return bad(err, "%s.source.url: required string", at);
  } else if (strcmp(t, "file") == 0) {
    if (!anth_str(src, "file_id")) return bad(err, "%s.source.file_id: required string", at);
  } else {
    return bad(err, "%s.source.type: expected base64, url or file", at);
  }
  return 0;
}

/* One content block at path `at`.  role: 'u' user, 'a' assistant, 'r' inside a tool_result. */
static int check_block(const cJSON *b, const char *at, char role, kl_err *err) {
  if (!cJSON_IsObject(b)) return bad(err, "%s: expected a content block object", at);
  const char *t = anth_str(b, "type");
  if (!t) return bad(err, "%s.type: required string", at);
  if (strcmp(t, "text") == 0) {
    if (!anth_str(b, "text")) return bad(err, "%s.text: required string", at);
  } else if (strcmp(t, "image") == 0) {
    return check_image(b, at, err);
  } else if (strcmp(t, "tool_use") == 0) {
    if (role != 'a') return bad(err, "%s: tool_use blocks belong in assistant messages", at);
    if (!anth_str(b, "id")) return bad(err, "%s.id: required string", at);
    if (!anth_str(b, "name")) return bad(err, "%s.name: required string", at);
    if (!cJSON_IsObject(anth_get(b, "input"))) return bad(err, "%s.input: required object", at);
  } else if (strcmp(t, "tool_result") == 0) {
    if (role != 'u') return bad(err, "%s: tool_result blocks belong in user messages", at);
    if (!anth_str(b, "tool_use_id")) return bad(err, "%s.tool_use_id: required string", at);
    const cJSON *c = anth_get(b, "content");
    if (c && !cJSON_IsString(c) && !cJSON_IsArray(c))
      return bad(err, "%s.content: expected a string or an array of content blocks", at);
    int k = 0;
    const cJSON *sub;
    cJSON_ArrayForEach(sub, anth_arr(c)) {
      char p[160];
      snprintf(p, sizeof p, "%s.content[%d]", at, k++);
      if (check_block(sub, p, 'r', err)) return -1;
    }
    const cJSON *ie = anth_get(b, "is_error");
    if (ie && !cJSON_IsBool(ie)) return bad(err, "%s.is_error: expected a boolean", at);
  }
  return 0;
}

static int check_messages(const cJSON *msgs, kl_err *err) {
  if (!cJSON_IsArray(msgs)) return bad(err, "messages: required array of message objects");
  if (cJSON_GetArraySize(msgs) == 0) return bad(err, "messages: must not be empty");
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) {
    if (!cJSON_IsObject(m)) return bad(err, "messages[%d]: expected an object", i);
    const char *role = anth_str(m, "role");
    if (!role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0))
      return bad(err, "messages[%d].role: expected user or assistant", i);
    const cJSON *c = anth_get(m, "content");
    if (!cJSON_IsString(c) && !cJSON_IsArray(c))
      return bad(err, "messages[%d].content: expected a string or an array of content blocks", i);
    int k = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, anth_arr(c)) {
      char at[96];
      snprintf(at, sizeof at, "messages[%d].content[%d]", i, k++);
      if (check_block(b, at, role[0], err)) return -1;
    }
    i++;
  }
  return 0;
}

static int check_tools(const cJSON *tools, const cJSON *choice, kl_err *err) {
  if (tools && !cJSON_IsArray(tools)) return bad(err, "tools: expected an array");
  int i = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, tools) {
    if (!cJSON_IsObject(t)) return bad(err, "tools[%d]: expected an object", i);
    const char *name = anth_str(t, "name");
    if (!name || !*name) return bad(err, "tools[%d].name: required non-empty string", i);
    const cJSON *type = anth_get(t, "type");
    if (type && !cJSON_IsString(type)) return bad(err, "tools[%d].type: expected a string", i);
    if (!type || strcmp(type->valuestring, "custom") == 0) {
      if (!cJSON_IsObject(anth_get(t, "input_schema"))) return bad(err, "tools[%d].input_schema: required object", i);
      const cJSON *d = anth_get(t, "description");
      if (d && !cJSON_IsString(d)) return bad(err, "tools[%d].description: expected a string", i);
    }
    i++;
  }
  if (!choice) return 0;
  if (!cJSON_IsObject(choice)) return bad(err, "tool_choice: expected an object");
  const char *ct = anth_str(choice, "type");
  if (!ct || (strcmp(ct, "auto") && strcmp(ct, "any") && strcmp(ct, "none") && strcmp(ct, "tool")))
    return bad(err, "tool_choice.type: expected auto, any, tool or none");
  if (strcmp(ct, "tool") == 0 && !anth_str(choice, "name")) return bad(err, "tool_choice.name: required string");
  const cJSON *dp = anth_get(choice, "disable_parallel_tool_use");
  if (dp && !cJSON_IsBool(dp)) return bad(err, "tool_choice.disable_parallel_tool_use: expected a boolean");
  return 0;
}

int kl_anth_req_validate(const cJSON *root, kl_err *err) {
  if (!cJSON_IsObject(root)) return bad(err, "request body must be a JSON object");
  const char *model = anth_str(root, "model");
  if (!model) return bad(err, "model: required string");
  if (!*model) return bad(err, "model: must not be empty");
  if (!is_pos_int(anth_get(root, "max_tokens"))) return bad(err, "max_tokens: required positive integer");
  if (check_messages(anth_get(root, "messages"), err)) return -1;

  const cJSON *sys = anth_get(root, "system");
  if (sys && !cJSON_IsString(sys) && !cJSON_IsArray(sys))
    return bad(err, "system: expected a string or an array of text blocks");
  int i = 0;
  const cJSON *b;
  cJSON_ArrayForEach(b, anth_arr(sys)) {
    const char *t = anth_str(b, "type");
    if (!t || strcmp(t, "text") != 0 || !anth_str(b, "text")) return bad(err, "system[%d]: expected a text block", i);
    i++;
  }
  if (check_tools(anth_get(root, "tools"), anth_get(root, "tool_choice"), err)) return -1;

  const cJSON *stream = anth_get(root, "stream");
  if (stream && !cJSON_IsBool(stream)) return bad(err, "stream: expected a boolean");
  static const char *const nums[] = {"temperature", "top_p", "top_k"};
  for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
    const cJSON *v = anth_get(root, nums[k]);
    if (v && !cJSON_IsNumber(v)) return bad(err, "%s: expected a number", nums[k]);
  }
  const cJSON *ss = anth_get(root, "stop_sequences");
  if (ss && !cJSON_IsArray(ss)) return bad(err, "stop_sequences: expected an array of strings");
  i = 0;
  cJSON_ArrayForEach(b, ss) {
    if (!cJSON_IsString(b)) return bad(err, "stop_sequences[%d]: expected a string", i);
    i++;
  }
  const cJSON *md = anth_get(root, "metadata");
  if (md && !cJSON_IsObject(md)) return bad(err, "metadata: expected an object");
  const cJSON *uid = anth_get(md, "user_id");
  if (uid && !cJSON_IsString(uid)) return bad(err, "metadata.user_id: expected a string");
  const cJSON *th = anth_get(root, "thinking");
  if (th && (!cJSON_IsObject(th) || !anth_str(th, "type")))
    return bad(err, "thinking: expected an object with a string type");
  return 0;
}

int kl_anth_req_parse(const char *body, size_t len, kl_anth_req *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  cJSON *root = kl_json_parse(body, len, err);
  if (!root) return -1;
  if (kl_anth_req_validate(root, err)) {
    cJSON_Delete(root);
    return -1;
  }
  out->root = root;
  out->model = anth_str(root, "model");
  out->max_tokens = kl_json_int(root, "max_tokens", 0);
  out->stream = cJSON_IsTrue(anth_get(root, "stream"));
  out->user = anth_str(anth_get(root, "metadata"), "user_id");
  out->system = anth_get(root, "system");
  out->messages = anth_get(root, "messages");
  out->tools = anth_get(root, "tools");
  return 0;
}

/* ================= responses ================= */

int kl_anth_resp_parse(kl_arena *a, const char *body, size_t len, kl_chat_result *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  kl_err perr;
  kl_err_clear(&perr);
  cJSON *root = kl_json_parse(body, len, &perr);
  if (!root) {
    kl_err_set(err, 502, "upstream response: %s", perr.msg);
    return -1;
  }
  int rc = -1;
  const char *type = anth_str(root, "type");
  const cJSON *content = anth_get(root, "content");
  if (!cJSON_IsObject(root)) {
    kl_err_set(err, 502, "upstream response: expected a JSON object");
  } else if (type && strcmp(type, "error") == 0) {
    const char *m = anth_str(anth_get(root, "error"), "message");
    kl_err_set(err, 502, "upstream error: %s", m ? m : "(no message)");
  } else if (!cJSON_IsArray(content)) {
    kl_err_set(err, 502, "upstream response: 'content' is not an array");
  } else {
    out->usage = kl_usage_from_anthropic(anth_get(root, "usage"));
    out->id = kl_arena_strdup(a, anth_str(root, "id"));
    out->model = kl_arena_strdup(a, anth_str(root, "model"));
    out->finish_reason = kl_arena_strdup(a, anth_str(root, "stop_reason"));
    cJSON *msg = anth_nn(cJSON_CreateObject());
    anth_add_str(msg, "role", "assistant");
    anth_add(msg, "content", cJSON_Duplicate(content, 1));
    out->output_json = kl_json_print_arena(a, msg);
    cJSON_Delete(msg);
    rc = 0;
  }
  cJSON_Delete(root);
  return rc;
}

/* ================= errors ================= */

const char *kl_anth_error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: case 529: return "overloaded_error";
    default: return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
  }
}

void kl_anth_error(kl_buf *out, int status, const char *type, const char *message) {
  if (!type) type = kl_anth_error_type(status);
  if (!message) message = "";
  kl_buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":");
  kl_buf_json_str(out, type, strlen(type));
  kl_buf_puts(out, ",\"message\":");
  kl_buf_json_str(out, message, strlen(message));
  kl_buf_puts(out, "}}");
}

static const char *const shared_types[] = {"invalid_request_error", "authentication_error", "permission_error",
                                           "not_found_error", "rate_limit_error", "api_error"};

static bool is_shared(const char *t) {
  for (size_t i = 0; t && i < sizeof shared_types / sizeof shared_types[0]; i++)
    if (strcmp(t, shared_types[i]) == 0) return true;
  return false;
}

/* The body as text when it is not the expected shape (never longer than the error needs). */
static char *raw_message(const char *body, size_t len) {
  if (len > 1000) len = 1000;
  char *m = malloc(len + 1);
  if (!m) abort();
  if (len) memcpy(m, body, len);
  m[len] = 0;
  return m;
}

void kl_anth_error_to_openai(kl_buf *out, int status, const char *body, size_t len) {
  cJSON *root = body ? kl_json_parse(body, len, NULL) : NULL;
  const cJSON *e = anth_get(root, "error");
  const char *type = anth_str(e, "type"), *msg = anth_str(e, "message");
  char *raw = msg ? NULL : raw_message(body ? body : "", body ? len : 0);
  const char *code = NULL;
  if (type && strcmp(type, "request_too_large") == 0) type = "invalid_request_error", code = "request_too_large";
  else if (type && strcmp(type, "overloaded_error") == 0) type = "api_error", code = "overloaded";
  else if (!is_shared(type)) type = NULL;
  kl_openai_error(out, status, type, msg ? msg : raw, NULL, code);
  free(raw);
  cJSON_Delete(root);
}

void kl_anth_error_from_openai(kl_buf *out, int status, const char *body, size_t len) {
  cJSON *root = body ? kl_json_parse(body, len, NULL) : NULL;
  const cJSON *e = anth_get(root, "error");
  const char *type = anth_str(e, "type"), *msg = anth_str(e, "message");
  if (!msg && cJSON_IsString(e)) msg = e->valuestring;
  if (!msg) msg = anth_str(root, "message"); /* vLLM's {"object":"error","message":..} */
  char *raw = msg ? NULL : raw_message(body ? body : "", body ? len : 0);
  const char *code = anth_str(e, "code");
  if (code && strcmp(code, "overloaded") == 0) type = "overloaded_error";
  else if (code && strcmp(code, "request_too_large") == 0) type = "request_too_large";
  else if (!is_shared(type)) type = NULL;
  kl_anth_error(out, status, type, msg ? msg : raw);
  free(raw);
  cJSON_Delete(root);
}
