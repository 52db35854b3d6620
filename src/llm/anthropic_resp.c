/* anthropic_resp.c: non-streamed responses, Anthropic message <-> OpenAI chat.completion.
 *
 * Responses cannot be refused the way requests can (the upstream has already spent the
 * tokens), so the rule here is "represent everything the client's SDK can represent": unknown
 * Anthropic block types are skipped (requests that could produce them were rejected by the
 * request translator), thinking goes to reasoning_content.  The one hard failure is an OpenAI
 * tool call whose arguments are not a JSON object: an Anthropic tool_use.input must be one, and
 * inventing {} would hand the client a call it never made. */
#include "llm/anthropic_int.h"

#include <string.h>

static const char *const stop_map[][2] = {
    {"end_turn", "stop"},       {"stop_sequence", "stop"}, {"pause_turn", "stop"},
    {"max_tokens", "length"},   {"model_context_window_exceeded", "length"},
    {"tool_use", "tool_calls"}, {"refusal", "content_filter"},
};

const char *kl_anth_finish_reason(const char *stop_reason) {
  if (!stop_reason) return NULL;
  for (size_t i = 0; i < sizeof stop_map / sizeof stop_map[0]; i++)
    if (strcmp(stop_reason, stop_map[i][0]) == 0) return stop_map[i][1];
  return "stop";
}

const char *kl_anth_stop_reason(const char *finish_reason) {
  if (!finish_reason) return NULL;
  if (strcmp(finish_reason, "length") == 0) return "max_tokens";
  if (strcmp(finish_reason, "tool_calls") == 0 || strcmp(finish_reason, "function_call") == 0) return "tool_use";
  if (strcmp(finish_reason, "content_filter") == 0) return "refusal";
  return "end_turn";
}

cJSON *kl_anth_resp_to_openai(const cJSON *msg, int64_t created, kl_err *err) {
  const cJSON *content = anth_get(msg, "content");
  if (!cJSON_IsArray(content)) {
    kl_err_set(err, 502, "upstream response: 'content' is not an array");
    return NULL;
  }
  kl_buf text = KL_BUF_INIT, thinking = KL_BUF_INIT;
  cJSON *tcs = anth_nn(cJSON_CreateArray());
  const cJSON *b;
  cJSON_ArrayForEach(b, content) {
    const char *t = anth_str(b, "type");
    if (!t) continue;
    if (strcmp(t, "text") == 0 && anth_str(b, "text")) {
      kl_buf_puts(&text, anth_str(b, "text"));
    } else if (strcmp(t, "thinking") == 0 && anth_str(b, "thinking")) {
      kl_buf_puts(&thinking, anth_str(b, "thinking"));
    } else if (strcmp(t, "tool_use") == 0) {
      cJSON *tc = anth_push(tcs, cJSON_CreateObject());
      anth_add_str(tc, "id", anth_str(b, "id"));
      anth_add_str(tc, "type", "function");
      cJSON *fn = anth_add(tc, "function", cJSON_CreateObject());
      anth_add_str(fn, "name", anth_str(b, "name"));
      const cJSON *input = anth_get(b, "input");
      char *args = input ? anth_print(input) : NULL;
      anth_add_str(fn, "arguments", args ? args : "{}");
      cJSON_free(args);
    }
  }
  cJSON *out = anth_nn(cJSON_CreateObject());
  anth_add_str(out, "id", anth_str(msg, "id"));
  anth_add_str(out, "object", "chat.completion");
  anth_add_num(out, "created", (double)created);
  anth_add_str(out, "model", anth_str(msg, "model"));
  cJSON *c0 = anth_push(anth_add(out, "choices", cJSON_CreateArray()), cJSON_CreateObject());
  anth_add_num(c0, "index", 0);
  cJSON *m = anth_add(c0, "message", cJSON_CreateObject());
  anth_add_str(m, "role", "assistant");
  bool has_tools = cJSON_GetArraySize(tcs) > 0;
  if (text.len || !has_tools) anth_add_str(m, "content", text.data ? text.data : "");
  else anth_add(m, "content", cJSON_CreateNull());
  if (thinking.len) anth_add_str(m, "reasoning_content", thinking.data);
  if (has_tools) cJSON_AddItemToObject(m, "tool_calls", tcs);
  else cJSON_Delete(tcs);
  anth_add(c0, "logprobs", cJSON_CreateNull());
  const char *fr = kl_anth_finish_reason(anth_str(msg, "stop_reason"));
  anth_add(c0, "finish_reason", fr ? cJSON_CreateString(fr) : cJSON_CreateNull());
  kl_usage u = kl_usage_from_anthropic(anth_get(msg, "usage"));
  anth_add(out, "usage", kl_anth_openai_usage_new(&u));
  kl_buf_free(&text);
  kl_buf_free(&thinking);
  return out;
}

cJSON *kl_anth_resp_from_openai(const cJSON *cc, kl_err *err) {
  const cJSON *choices = anth_get(cc, "choices");
  const cJSON *c0 = cJSON_GetArrayItem(choices, 0);
  const cJSON *m = anth_get(c0, "message");
  if (!cJSON_IsArray(choices) || !cJSON_IsObject(m)) {
    kl_err_set(err, 502, "upstream response: no choices[0].message");
    return NULL;
  }
  cJSON *out = anth_nn(cJSON_CreateObject());
  anth_add_str(out, "id", anth_str(cc, "id"));
  anth_add_str(out, "type", "message");
  anth_add_str(out, "role", "assistant");
  anth_add_str(out, "model", anth_str(cc, "model"));
  cJSON *blocks = anth_add(out, "content", cJSON_CreateArray());
  const cJSON *c = anth_get(m, "content");
  kl_buf text = KL_BUF_INIT;
  if (cJSON_IsString(c)) kl_buf_puts(&text, c->valuestring);
  const cJSON *p;
  cJSON_ArrayForEach(p, anth_arr(c)) {
    const char *s = anth_str(p, "text");
    if (!s) s = anth_str(p, "refusal");
    if (s) kl_buf_puts(&text, s);
  }
  const char *refusal = anth_str(m, "refusal");
  if (refusal) kl_buf_puts(&text, refusal);
  if (text.len) {
    cJSON *b = anth_push(blocks, cJSON_CreateObject());
    anth_add_str(b, "type", "text");
    anth_add_str(b, "text", text.data);
  }
  kl_buf_free(&text);
  int k = 0;
  const cJSON *tc;
  cJSON_ArrayForEach(tc, anth_get(m, "tool_calls")) {
    const cJSON *fn = anth_get(tc, "function");
    const char *args = anth_str(fn, "arguments");
    cJSON *input = !args || !*args ? anth_nn(cJSON_CreateObject()) : kl_json_parse(args, strlen(args), NULL);
    if (!cJSON_IsObject(input)) {
      cJSON_Delete(input);
      cJSON_Delete(out);
      kl_err_set(err, 502, "upstream response: choices[0].message.tool_calls[%d].function.arguments is not a JSON object", k);
      return NULL;
    }
    cJSON *b = anth_push(blocks, cJSON_CreateObject());
    anth_add_str(b, "type", "tool_use");
    anth_add_str(b, "id", anth_str(tc, "id"));
    anth_add_str(b, "name", anth_str(fn, "name"));
    anth_add(b, "input", input);
    k++;
  }
  const char *fr = anth_str(c0, "finish_reason");
  if (!fr && k > 0) fr = "tool_calls";
  const char *sr = kl_anth_stop_reason(fr);
  anth_add(out, "stop_reason", sr ? cJSON_CreateString(sr) : cJSON_CreateNull());
  anth_add(out, "stop_sequence", cJSON_CreateNull());
  kl_usage u = kl_usage_from_openai(anth_get(cc, "usage"));
  anth_add(out, "usage", kl_anth_usage_new(&u));
  return out;
}
