/* test_llm_openai.c: request validation and rewriting, response parsing, the stream
 * assembler, error bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"

static int parse(const char *body, kl_chat_req *r, kl_err *err) {
  kl_err_clear(err);
  return kl_chat_req_parse(NULL, body, strlen(body), r, err);
}

static void expect_error(const char *body, const char *msg) {
  kl_chat_req r;
  kl_err err;
  if (parse(body, &r, &err) == 0) {
    cJSON_Delete(r.root);
    fail_msg("accepted: %s", body);
  }
  assert_int_equal(err.code, 400);
  if (!strstr(err.msg, msg)) fail_msg("error '%s' does not contain '%s'", err.msg, msg);
  assert_null(r.root);
}

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void test_validation(void **state) {
  (void)state;
  expect_error("", "empty body");
  expect_error("{\"model\":", "malformed JSON");
  expect_error("[1]", "JSON object");
  expect_error("{" MSGS "}", "model: required string");
  expect_error("{\"model\":5," MSGS "}", "model: required string");
  expect_error("{\"model\":\"\"," MSGS "}", "model: must not be empty");
  expect_error("{\"model\":\"m\"}", "messages: required");
  expect_error("{\"model\":\"m\",\"messages\":{}}", "messages: required");
  expect_error("{\"model\":\"m\",\"messages\":[]}", "messages: must not be empty");
  expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},\"x\"]}", "messages[1]: expected an object");
  expect_error("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"},{\"role\":\"user\"},{\"role\":\"robot\"}]}",
               "messages[2].role: expected one of system, developer, user, assistant, tool, function");
  expect_error("{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages[0].role: expected one of");
  expect_error("{\"model\":\"m\"," MSGS ",\"stream\":\"yes\"}", "'stream' must be a boolean");
  expect_error("{\"model\":\"m\"," MSGS ",\"temperature\":\"hot\"}", "'temperature' must be a number");
  expect_error("{\"model\":\"m\"," MSGS ",\"top_p\":[]}", "'top_p' must be a number");
  expect_error("{\"model\":\"m\"," MSGS ",\"max_tokens\":\"10\"}", "'max_tokens' must be a number");
  expect_error("{\"model\":\"m\"," MSGS ",\"max_completion_tokens\":true}", "'max_completion_tokens' must be a number");
  expect_error("{\"model\":\"m\"," MSGS ",\"n\":{}}", "'n' must be a number");
  expect_error("{\"model\":\"m\"," MSGS ",\"stream_options\":1}", "'stream_options' must be an object");
  expect_error("{\"model\":\"m\"," MSGS "} x", "trailing");
  expect_error("{\"model\":\"\xff\"," MSGS "}", "UTF-8");
}

static void test_parse_ok(void **state) {
  (void)state;
  kl_chat_req r;
  kl_err err;
  const char *body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                     "{\"role\":\"developer\",\"content\":\"d\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"u\"}]},"
                     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},{\"role\":\"tool\",\"content\":\"t\",\"tool_call_id\":\"c\"},"
                     "{\"role\":\"function\",\"name\":\"f\",\"content\":\"x\"}],"
                     "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"user\":\"alice\","
                     "\"metadata\":{\"k\":\"v\"},\"temperature\":null,\"x_unknown\":[1,2]}";
  assert_int_equal(parse(body, &r, &err), 0);
  assert_string_equal(r.model, "gpt-4o");
  assert_true(r.stream);
  assert_true(r.client_include_usage);
  assert_string_equal(r.user, "alice");
  assert_non_null(r.metadata);
  assert_int_equal(cJSON_GetArraySize(r.messages), 6);
  cJSON_Delete(r.root);

  assert_int_equal(parse("{\"model\":\"m\"," MSGS ",\"stream\":false,\"metadata\":\"str\"}", &r, &err), 0);
  assert_false(r.stream);
  assert_false(r.client_include_usage);
  assert_null(r.user);
  assert_null(r.metadata);
  cJSON_Delete(r.root);
}

static void test_upstream_body(void **state) {
  (void)state;
  const char *body =
      "{\"model\":\"alias\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,"
      "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"d\","
      "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]},"
      "\"strict\":true}}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
      "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{}}},"
      "\"temperature\":0.7,\"seed\":123456789012,\"logit_bias\":{\"50256\":-100},\"future_field\":{\"a\":[null,true,1.5e-3]}}";
  kl_chat_req r;
  kl_err err;
  assert_int_equal(parse(body, &r, &err), 0);
  assert_false(r.client_include_usage);
  size_t len = 0;
  char *up = kl_chat_req_upstream_body(&r, "gpt-4o-2024-08-06", &len);
  assert_int_equal(len, strlen(up));
  cJSON *got = cJSON_Parse(up);
  assert_non_null(got);
  /* expected: the original tree with model replaced and stream_options added */
  cJSON *want = cJSON_Parse(body);
  cJSON_ReplaceItemInObject(want, "model", cJSON_CreateString("gpt-4o-2024-08-06"));
  cJSON *so = cJSON_AddObjectToObject(want, "stream_options");
  cJSON_AddTrueToObject(so, "include_usage");
  assert_true(cJSON_Compare(got, want, 1));
  cJSON_Delete(got);
  cJSON_Delete(want);
  free(up);
  /* the caller's tree is untouched */
  assert_null(cJSON_GetObjectItem(r.root, "stream_options"));
  assert_string_equal(r.model, "alias");
  cJSON_Delete(r.root);

  /* include_usage:false from the client is forced true; other stream_options survive */
  assert_int_equal(parse("{\"model\":\"m\"," MSGS ",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"x\":1}}", &r, &err), 0);
  up = kl_chat_req_upstream_body(&r, "up", NULL);
  got = cJSON_Parse(up);
  want = cJSON_Parse("{\"model\":\"up\"," MSGS ",\"stream\":true,\"stream_options\":{\"include_usage\":true,\"x\":1}}");
  assert_true(cJSON_Compare(got, want, 1));
  cJSON_Delete(got);
  cJSON_Delete(want);
  free(up);
  cJSON_Delete(r.root);

  /* keys are case-sensitive: "Stream_Options" is an unknown field and passes through (fuzz regression: leak) */
  assert_int_equal(parse("{\"model\":\"m\"," MSGS ",\"stream\":true,\"Stream_Options\":{\"Include_Usage\":false}}", &r, &err), 0);
  assert_false(r.client_include_usage);
  up = kl_chat_req_upstream_body(&r, "up", NULL);
  assert_string_equal(up, "{\"model\":\"up\"," MSGS ",\"stream\":true,\"Stream_Options\":{\"Include_Usage\":false},"
                          "\"stream_options\":{\"include_usage\":true}}");
  free(up);
  cJSON_Delete(r.root);

  /* not streaming: no stream_options added */
  assert_int_equal(parse("{\"model\":\"m\"," MSGS ",\"n\":2}", &r, &err), 0);
  up = kl_chat_req_upstream_body(&r, "up", NULL);
  assert_string_equal(up, "{\"model\":\"up\"," MSGS ",\"n\":2}");
  free(up);

  kl_buf b = KL_BUF_INIT;
  kl_chat_req_params_json(&r, &b);
  assert_string_equal(b.data, "{\"n\":2}");
  cJSON_Delete(r.root);
  assert_int_equal(parse("{\"model\":\"m\"," MSGS ",\"temperature\":0.5,\"max_tokens\":100,\"stream\":false,"
                         "\"service_tier\":\"flex\",\"response_format\":{\"type\":\"json_object\"},\"messages2\":1}", &r, &err), 0);
  kl_buf_reset(&b);
  kl_chat_req_params_json(&r, &b);
  assert_string_equal(b.data, "{\"temperature\":0.5,\"max_tokens\":100,\"stream\":false,\"service_tier\":\"flex\","
                              "\"response_format\":\"json_object\"}");
  kl_buf_free(&b);
  cJSON_Delete(r.root);

  /* same model: the tree is printed as it is, from the arena tree too; a stream that already
   * asks for usage needs nothing, one that does not gets it added */
  kl_arena *a = kl_arena_new(1024);
  const char *same[][2] = {
      {"{\"model\":\"m\", " MSGS ", \"x\":[1, 2.5]}", "{\"model\":\"m\"," MSGS ",\"x\":[1,2.5]}"},
      {"{\"model\":\"m\"," MSGS ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
       "{\"model\":\"m\"," MSGS ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
      {"{\"model\":\"m\"," MSGS ",\"stream\":true,\"stream_options\":{\"include_usage\":false}}",
       "{\"model\":\"m\"," MSGS ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
      {"{\"model\":\"m\"," MSGS ",\"stream\":true}",
       "{\"model\":\"m\"," MSGS ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
  };
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    assert_int_equal(kl_chat_req_parse(a, same[i][0], strlen(same[i][0]), &r, &err), 0);
    assert_false(r.owned);
    size_t n;
    up = kl_chat_req_upstream_body(&r, "m", &n);
    assert_string_equal(up, same[i][1]);
    assert_int_equal(n, strlen(same[i][1]));
    free(up);
    kl_chat_req_free(&r);
    assert_int_equal(parse(same[i][0], &r, &err), 0); /* cJSON's tree: the same bytes */
    assert_true(r.owned);
    up = kl_chat_req_upstream_body(&r, NULL, NULL);
    assert_string_equal(up, same[i][1]);
    free(up);
    kl_chat_req_free(&r);
  }
  kl_arena_free(a);
}

static void test_resp_parse(void **state) {
  (void)state;
  kl_arena *a = kl_arena_new(4096);
  kl_chat_result res;
  kl_err err;
  const char *body =
      "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\","
      "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15,"
      "\"prompt_tokens_details\":{\"cached_tokens\":4},\"completion_tokens_details\":{\"reasoning_tokens\":2}}}";
  assert_int_equal(kl_chat_resp_parse(a, body, strlen(body), &res, &err), 0);
  assert_string_equal(res.id, "chatcmpl-1");
  assert_string_equal(res.model, "gpt-4o-2024-08-06");
  assert_string_equal(res.finish_reason, "stop");
  assert_string_equal(res.output_json, "{\"role\":\"assistant\",\"content\":\"Hello\"}");
  assert_true(res.usage.present);
  assert_int_equal(res.usage.input, 6);
  assert_int_equal(res.usage.input_cached, 4);
  assert_int_equal(res.usage.output, 3);
  assert_int_equal(res.usage.output_reasoning, 2);

  const char *nousage = "{\"id\":\"x\",\"choices\":[]}";
  assert_int_equal(kl_chat_resp_parse(a, nousage, strlen(nousage), &res, &err), 0);
  assert_false(res.usage.present);
  assert_null(res.output_json);
  assert_null(res.finish_reason);

  static const char *const bad[] = {"", "{\"choices\":", "[]", "{\"id\":\"x\"}",
                                    "{\"error\":{\"message\":\"boom\",\"type\":\"api_error\"}}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_err_clear(&err);
    assert_int_equal(kl_chat_resp_parse(a, bad[i], strlen(bad[i]), &res, &err), -1);
    assert_int_not_equal(err.code, 0);
  }
  assert_non_null(strstr(err.msg, "boom"));
  kl_arena_free(a);
}

static kl_chunk_kind feed(kl_chat_stream *s, const char *data) { return kl_chat_stream_feed(s, data, strlen(data)); }

static void test_stream_content(void **state) {
  (void)state;
  kl_chat_stream *s = kl_chat_stream_new();
  assert_int_equal(feed(s, "{\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}"), KL_CHUNK_CONTENT);
  assert_int_equal(feed(s, "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}"), KL_CHUNK_CONTENT);
  assert_int_equal(feed(s, "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\\"w\\\"\"}}]}"), KL_CHUNK_CONTENT);
  assert_int_equal(feed(s, "{\"id\":\"c1\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}"), KL_CHUNK_CONTENT);
  assert_false(kl_chat_stream_saw_finish(s));
  assert_int_equal(feed(s, "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"), KL_CHUNK_CONTENT);
  assert_true(kl_chat_stream_saw_finish(s));
  assert_int_equal(feed(s, "{\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,"
                           "\"prompt_tokens_details\":{\"cached_tokens\":2}}}"), KL_CHUNK_USAGE_ONLY);
  assert_false(kl_chat_stream_saw_done(s));
  assert_int_equal(feed(s, " [DONE] \r\n"), KL_CHUNK_DONE);
  assert_true(kl_chat_stream_saw_done(s));
  assert_int_equal(kl_chat_stream_deltas(s), 2);

  kl_arena *a = kl_arena_new(1024);
  kl_chat_result r;
  kl_chat_stream_result(s, a, &r);
  assert_string_equal(r.id, "c1");
  assert_string_equal(r.model, "m");
  assert_string_equal(r.finish_reason, "stop");
  assert_string_equal(r.output_json, "{\"role\":\"assistant\",\"content\":\"Hello \\\"w\\\"\"}");
  assert_true(r.usage.present);
  assert_int_equal(r.usage.input, 5);
  assert_int_equal(r.usage.input_cached, 2);
  assert_int_equal(r.usage.output, 3);
  kl_chat_stream_free(s);

  /* odd chunks */
  s = kl_chat_stream_new();
  assert_int_equal(feed(s, "not json"), KL_CHUNK_INVALID);
  assert_int_equal(feed(s, "[1]"), KL_CHUNK_INVALID);
  assert_int_equal(feed(s, "{\"foo\":1}"), KL_CHUNK_INVALID);
  assert_int_equal(feed(s, ""), KL_CHUNK_INVALID);
  assert_int_equal(feed(s, "{\"error\":{\"message\":\"overloaded\"}}"), KL_CHUNK_ERROR);
  assert_int_equal(feed(s, "{\"object\":\"error\",\"message\":\"bad\",\"code\":400}"), KL_CHUNK_ERROR);
  /* usage on an ordinary chunk (some servers) is recorded, and the chunk is still content */
  assert_int_equal(feed(s, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}],"
                           "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}"), KL_CHUNK_CONTENT);
  kl_chat_stream_result(s, a, &r);
  assert_true(r.usage.present);
  assert_int_equal(r.usage.input, 1);
  assert_null(r.id);
  assert_string_equal(r.finish_reason, "length");
  assert_string_equal(r.output_json, "{\"role\":\"assistant\",\"content\":\"x\"}");
  kl_chat_stream_free(s);

  /* nothing at all */
  s = kl_chat_stream_new();
  kl_chat_stream_result(s, a, &r);
  assert_false(r.usage.present);
  assert_string_equal(r.output_json, "{\"role\":\"assistant\",\"content\":\"\"}");
  kl_chat_stream_free(s);
  kl_arena_free(a);
}

static void test_stream_parallel_tools(void **state) {
  (void)state;
  kl_chat_stream *s = kl_chat_stream_new();
  static const char *const chunks[] = {
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}]}",
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\","
      "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}",
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]}}]}",
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\","
      "\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\"}}]}}]}",
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"Paris\\\"}\"}}]}}]}",
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"name\":\"ignored\",\"arguments\":\"\\\"CET\\\"\"}}]}}]}",
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"}\"}}]}}]}",
      "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
      "[DONE]",
  };
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) feed(s, chunks[i]);
  assert_int_equal(kl_chat_stream_deltas(s), 6);
  kl_arena *a = kl_arena_new(1024);
  kl_chat_result r;
  kl_chat_stream_result(s, a, &r);
  assert_string_equal(r.finish_reason, "tool_calls");
  cJSON *got = cJSON_Parse(r.output_json);
  cJSON *want = cJSON_Parse(
      "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
      "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
      "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"CET\\\"}\"}}]}");
  assert_non_null(got);
  if (!cJSON_Compare(got, want, 1)) fail_msg("got %s", r.output_json);
  cJSON_Delete(got);
  cJSON_Delete(want);
  assert_false(r.usage.present);
  kl_chat_stream_free(s);
  kl_arena_free(a);
}

/* kl_chat_stream_choice0: the first choice of index 0, its delta, content and finish_reason,
 * each the first member of its name (as cJSON's lookup answers); nothing after [DONE] or a
 * chunk that is not one. */
static void test_stream_choice0(void **state) {
  (void)state;
  kl_chat_stream *s = kl_chat_stream_new();
  feed(s, "{\"id\":\"c\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"one\"}},"
          "{\"finish_reason\":null,\"delta\":{\"role\":\"assistant\",\"content\":\"zero\",\"content\":\"dup\"},\"index\":0},"
          "{\"index\":0,\"delta\":{\"content\":\"later\"}}]}");
  const kl_chunk_choice *c = kl_chat_stream_choice0(s);
  assert_non_null(c->choice);
  assert_string_equal(c->content->valuestring, "zero");
  assert_int_equal(cJSON_GetArraySize(c->delta), 3);
  assert_true(cJSON_IsNull(c->finish_reason));
  feed(s, "{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}");  /* no index: 0 */
  assert_null(c->content);
  assert_string_equal(c->finish_reason->valuestring, "stop");
  assert_true(cJSON_IsObject(c->delta));
  feed(s, "{\"choices\":[{\"index\":0}]}");
  assert_non_null(c->choice);
  assert_null(c->delta);
  assert_null(c->finish_reason);
  feed(s, "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}");
  assert_null(c->choice);
  feed(s, "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}");
  assert_non_null(c->content);
  assert_int_equal(feed(s, "not json"), KL_CHUNK_INVALID);
  assert_null(c->choice);
  assert_null(c->content);
  feed(s, "{\"error\":{\"message\":\"m\"},\"choices\":[{\"delta\":{\"content\":\"x\"}}]}");
  assert_null(c->content);
  feed(s, "[DONE]");
  assert_null(c->choice);
  kl_chat_stream_free(s);
}

static void test_error_body(void **state) {
  (void)state;
  kl_buf b = KL_BUF_INIT;
  kl_openai_error(&b, 400, NULL, "model: required string", "model", NULL);
  assert_string_equal(b.data, "{\"error\":{\"message\":\"model: required string\",\"type\":\"invalid_request_error\","
                              "\"param\":\"model\",\"code\":null}}");
  static const struct { int st; const char *type; } m[] = {
      {401, "authentication_error"}, {403, "permission_error"}, {404, "not_found_error"}, {408, "timeout_error"},
      {504, "timeout_error"}, {413, "invalid_request_error"}, {429, "rate_limit_error"}, {500, "api_error"},
      {502, "upstream_error"}};
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    kl_buf_reset(&b);
    kl_openai_error(&b, m[i].st, NULL, "x \"q\"\n", NULL, "c");
    cJSON *j = cJSON_Parse(b.data);
    assert_non_null(j);
    const cJSON *e = cJSON_GetObjectItem(j, "error");
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, m[i].type);
    assert_string_equal(cJSON_GetObjectItem(e, "message")->valuestring, "x \"q\"\n");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "param")));
    assert_string_equal(cJSON_GetObjectItem(e, "code")->valuestring, "c");
    cJSON_Delete(j);
  }
  kl_buf_reset(&b);
  kl_openai_error(&b, 400, "custom_type", "m", NULL, NULL);
  assert_non_null(strstr(b.data, "\"type\":\"custom_type\""));
  kl_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validation),     cmocka_unit_test(test_parse_ok),
      cmocka_unit_test(test_upstream_body),  cmocka_unit_test(test_resp_parse),
      cmocka_unit_test(test_stream_content), cmocka_unit_test(test_stream_parallel_tools),
      cmocka_unit_test(test_stream_choice0),
      cmocka_unit_test(test_error_body),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
