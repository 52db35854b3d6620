/* test_llm_mock.c: the deterministic mock LLM: reproducibility, tool calls, JSON mode,
 * faults, usage headers, streamed vs non-streamed equality. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"

#define MOCK_PLANNER kl_mock_chat
#include "mock_test_util.h"

static const cJSON *message(const cJSON *j) {
  return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
}

/* Runs a streamed plan through the stream assembler. */
static void assemble(const kl_mock_plan *p, kl_chat_result *r, size_t *invalid) {
  assert_true(p->stream);
  assert_string_equal(p->content_type, "text/event-stream");
  kl_chat_stream *s = kl_chat_stream_new();
  *invalid = 0;
  for (size_t i = 0; i < p->nchunks; i++) {
    const char *c = p->chunks[i];
    size_t n = strlen(c);
    assert_true(strncmp(c, "data: ", 6) == 0);
    assert_true(n >= 8 && strcmp(c + n - 2, "\n\n") == 0);
    assert_null(memchr(c, '\n', n - 2)); /* one line per event */
    if (kl_chat_stream_feed(s, c + 6, n - 8) == KL_CHUNK_INVALID) (*invalid)++;
  }
  kl_chat_stream_result(s, A, r);
  kl_chat_stream_free(s);
}

#define REQ(extra) "{\"model\":\"mock\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"}," \
                   "{\"role\":\"user\",\"content\":\"What is the capital of France, and why?\"}]" extra "}"

static void test_deterministic(void **state) {
  (void)state;
  kl_mock_plan a = plan(REQ(""), NULL), b = plan(REQ(""), NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.fault, KL_MOCK_OK);
  assert_string_equal(a.content_type, "application/json");
  assert_int_equal(a.body_len, b.body_len);
  assert_memory_equal(a.body, b.body, a.body_len);
  kl_mock_plan c = plan(REQ(",\"temperature\":0.1"), NULL); /* a different request, a different answer */
  assert_true(c.body_len != a.body_len || memcmp(a.body, c.body, a.body_len) != 0);

  cJSON *j = body_json(&a);
  assert_string_equal(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
  assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "mock");
  assert_true(strncmp(cJSON_GetObjectItem(j, "id")->valuestring, "chatcmpl-mock-", 14) == 0);
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "created")));
  assert_non_null(cJSON_GetObjectItem(j, "system_fingerprint"));
  const char *content = cJSON_GetObjectItem(message(j), "content")->valuestring;
  assert_true(strncmp(content, "Mock answer to: What is the capital of France, and why?.", 56) == 0);
  const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
  assert_string_equal(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "stop");
  /* usage: prompt = ceil((9 + 39) / 4) + 3 * 2 = 12 + 6 */
  const cJSON *u = cJSON_GetObjectItem(j, "usage");
  assert_int_equal(kl_json_int(u, "prompt_tokens", -1), 18);
  assert_int_equal(kl_json_int(u, "completion_tokens", -1), (int64_t)(strlen(content) + 3) / 4);
  assert_int_equal(kl_json_int(u, "total_tokens", -1), 18 + (int64_t)(strlen(content) + 3) / 4);
  /* parses with keel's own response parser */
  kl_chat_result r;
  kl_err err;
  assert_int_equal(kl_chat_resp_parse(A, a.body, a.body_len, &r, &err), 0);
  assert_int_equal(r.usage.input, 18);
  cJSON_Delete(j);
}

static void test_stream_equals_nonstream(void **state) {
  (void)state;
  kl_mock_plan ns = plan(REQ(""), NULL);
  cJSON *j = body_json(&ns);
  const char *want = cJSON_GetObjectItem(message(j), "content")->valuestring;
  const int64_t words = 1 + (int64_t)(strchr(want, 0) - want > 0); /* at least 2 pieces */

  kl_mock_plan st = plan(REQ(",\"stream\":true"), NULL);
  kl_chat_result r;
  size_t invalid;
  assemble(&st, &r, &invalid);
  assert_int_equal(invalid, 0);
  cJSON *out = cJSON_Parse(r.output_json);
  assert_string_equal(cJSON_GetObjectItem(out, "content")->valuestring, want);
  assert_string_equal(r.finish_reason, "stop");
  assert_false(r.usage.present); /* the client did not ask for usage */
  assert_string_equal(st.chunks[st.nchunks - 1], "data: [DONE]\n\n");
  assert_string_equal(r.id, cJSON_GetObjectItem(j, "id")->valuestring);
  /* one content chunk per word: role + words + finish + [DONE] */
  size_t nwords = 1;
  for (const char *p = want; *p; p++) nwords += *p == ' ';
  assert_true((int64_t)nwords >= words);
  assert_int_equal(st.nchunks, nwords + 3);
  cJSON_Delete(out);

  /* with include_usage: a usage-only chunk before [DONE], same usage as non-streamed */
  hdrs h = {{"x-mock-chunks", "3", NULL}};
  st = plan(REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"), &h);
  assemble(&st, &r, &invalid);
  assert_int_equal(st.nchunks, 1 + 3 + 1 + 1 + 1);
  assert_non_null(strstr(st.chunks[st.nchunks - 2], "\"choices\":[]"));
  assert_true(r.usage.present);
  kl_usage nu = kl_usage_from_openai(cJSON_GetObjectItem(j, "usage"));
  assert_int_equal(r.usage.input, nu.input);
  assert_int_equal(r.usage.output, nu.output);
  out = cJSON_Parse(r.output_json);
  assert_string_equal(cJSON_GetObjectItem(out, "content")->valuestring, want);
  cJSON_Delete(out);
  cJSON_Delete(j);
}

#define TOOLS ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"," \
  "\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"},\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}," \
  "\"hourly\":{\"type\":\"boolean\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}," \
  "\"where\":{\"type\":\"object\",\"properties\":{\"lat\":{\"type\":\"number\"}}}},\"required\":[\"city\"]}}}," \
  "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"tz\":{\"type\":\"string\"}}}}}]"

static void test_tool_calls(void **state) {
  (void)state;
  kl_mock_plan p = plan(REQ(TOOLS), NULL);
  cJSON *j = body_json(&p);
  const cJSON *m = message(j);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(m, "content")));
  const cJSON *tc = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "tool_calls"), 0);
  assert_true(strncmp(cJSON_GetObjectItem(tc, "id")->valuestring, "call_", 5) == 0);
  assert_string_equal(cJSON_GetObjectItem(tc, "type")->valuestring, "function");
  const cJSON *fn = cJSON_GetObjectItem(tc, "function");
  assert_string_equal(cJSON_GetObjectItem(fn, "name")->valuestring, "get_weather");
  const char *args = cJSON_GetObjectItem(fn, "arguments")->valuestring;
  assert_string_equal(args, "{\"city\":\"mock\",\"days\":1,\"unit\":\"c\",\"hourly\":true,\"tags\":[],\"where\":{\"lat\":1}}");
  const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
  assert_string_equal(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "tool_calls");
  /* completion tokens count the name and the arguments */
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(j, "usage"), "completion_tokens", -1),
                   (int64_t)(strlen("get_weather") + strlen(args) + 3) / 4);

  /* streamed: the same call, assembled from fragments */
  kl_mock_plan st = plan(REQ(TOOLS ",\"stream\":true"), NULL);
  kl_chat_result r;
  size_t invalid;
  assemble(&st, &r, &invalid);
  assert_string_equal(r.finish_reason, "tool_calls");
  cJSON *out = cJSON_Parse(r.output_json);
  assert_true(cJSON_Compare(out, m, 1));
  cJSON_Delete(out);
  cJSON_Delete(j);

  /* the named tool */
  p = plan(REQ(TOOLS ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}"), NULL);
  j = body_json(&p);
  fn = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(message(j), "tool_calls"), 0), "function");
  assert_string_equal(cJSON_GetObjectItem(fn, "name")->valuestring, "get_time");
  assert_string_equal(cJSON_GetObjectItem(fn, "arguments")->valuestring, "{\"tz\":\"mock\"}");
  cJSON_Delete(j);

  /* tool_choice none: text */
  p = plan(REQ(TOOLS ",\"tool_choice\":\"none\""), NULL);
  j = body_json(&p);
  assert_true(cJSON_IsString(cJSON_GetObjectItem(message(j), "content")));
  cJSON_Delete(j);

  /* after a tool result: a text answer mentioning it */
  p = plan("{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
           "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
           "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},"
           "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny 21C\"}]" TOOLS "}", NULL);
  j = body_json(&p);
  const char *content = cJSON_GetObjectItem(message(j), "content")->valuestring;
  assert_non_null(strstr(content, "sunny 21C"));
  assert_null(cJSON_GetObjectItem(message(j), "tool_calls"));
  cJSON_Delete(j);
}

static void test_json_mode(void **state) {
  (void)state;
  kl_mock_plan p = plan(REQ(",\"response_format\":{\"type\":\"json_object\"}"), NULL);
  cJSON *j = body_json(&p);
  cJSON *c = cJSON_Parse(cJSON_GetObjectItem(message(j), "content")->valuestring);
  assert_true(cJSON_IsObject(c));
  assert_non_null(strstr(cJSON_GetObjectItem(c, "answer")->valuestring, "capital of France"));
  cJSON_Delete(c);
  cJSON_Delete(j);

  p = plan(REQ(",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"city\",\"strict\":true,"
               "\"schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"population\":{\"type\":\"integer\"},"
               "\"coastal\":{\"type\":[\"boolean\",\"null\"]},\"kind\":{\"enum\":[\"capital\",\"town\"]}},"
               "\"required\":[\"name\",\"population\"]}}}"), NULL);
  j = body_json(&p);
  assert_string_equal(cJSON_GetObjectItem(message(j), "content")->valuestring,
                      "{\"name\":\"mock\",\"population\":1,\"coastal\":true,\"kind\":\"capital\"}");
  cJSON_Delete(j);
}

static void test_limits_and_usage_headers(void **state) {
  (void)state;
  hdrs h = {{"x-mock-cached-tokens", "10", "x-mock-reasoning-tokens", "7", NULL}};
  kl_mock_plan p = plan(REQ(",\"max_tokens\":3"), &h);
  cJSON *j = body_json(&p);
  const char *content = cJSON_GetObjectItem(message(j), "content")->valuestring;
  assert_string_equal(content, "Mock answer "); /* 3 tokens = 12 characters */
  const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
  assert_string_equal(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "length");
  kl_usage u = kl_usage_from_openai(cJSON_GetObjectItem(j, "usage"));
  assert_int_equal(u.input_cached, 10);
  assert_int_equal(u.input, 8);
  assert_int_equal(u.output_reasoning, 7);
  assert_int_equal(u.output, 3);
  cJSON_Delete(j);

  /* cached is capped at the prompt; max_completion_tokens wins over max_tokens */
  hdrs h2 = {{"x-mock-cached-tokens", "100000", NULL}};
  p = plan(REQ(",\"max_tokens\":1,\"max_completion_tokens\":1000"), &h2);
  j = body_json(&p);
  u = kl_usage_from_openai(cJSON_GetObjectItem(j, "usage"));
  assert_int_equal(u.input_cached, 18);
  assert_int_equal(u.input, 0);
  ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
  assert_string_equal(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "stop");
  cJSON_Delete(j);

  hdrs h3 = {{"x-mock-latency-ms", "250", "x-mock-chunk-delay-ms", "5", NULL}};
  kl_mock_opts o = {.latency_ms = 1, .chunk_delay_ms = 2};
  kl_mock_chat(A, REQ(""), strlen(REQ("")), get_hdr, &h3, &o, &p);
  assert_int_equal(p.latency_ms, 250);
  assert_int_equal(p.chunk_delay_ms, 5);
  kl_mock_chat(A, REQ(""), strlen(REQ("")), NULL, NULL, &o, &p);
  assert_int_equal(p.latency_ms, 1);
  assert_int_equal(p.chunk_delay_ms, 2);
}

static void test_faults(void **state) {
  (void)state;
  hdrs h = {{"x-mock-fault", "status=503", NULL}};
  kl_mock_plan p = plan(REQ(""), &h);
  assert_int_equal(p.fault, KL_MOCK_STATUS);
  assert_int_equal(p.status, 503);
  assert_int_equal(p.retry_after_s, 0);
  cJSON *j = body_json(&p);
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "message"));
  cJSON_Delete(j);

  hdrs h429 = {{"x-mock-fault", "429", "x-mock-retry-after", "7", NULL}};
  p = plan(REQ(",\"stream\":true"), &h429);
  assert_int_equal(p.status, 429);
  assert_int_equal(p.retry_after_s, 7);
  assert_false(p.stream);
  j = body_json(&p);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "type")->valuestring, "rate_limit_error");
  cJSON_Delete(j);
  hdrs h429b = {{"x-mock-fault", "429", NULL}};
  p = plan(REQ(""), &h429b);
  assert_int_equal(p.retry_after_s, 1);

  hdrs hh = {{"x-mock-fault", "hang", NULL}};
  p = plan(REQ(""), &hh);
  assert_int_equal(p.fault, KL_MOCK_HANG);

  hdrs hr = {{"x-mock-fault", "reset", NULL}};
  p = plan(REQ(""), &hr);
  assert_int_equal(p.fault, KL_MOCK_RESET);
  assert_null(p.body);
  p = plan(REQ(",\"stream\":true"), &hr);
  assert_int_equal(p.fault, KL_MOCK_RESET);
  assert_true(p.stream);
  assert_true(p.reset_after > 0 && p.reset_after < p.nchunks);
  assert_true(p.reset_after >= p.nchunks / 2 - 1 && p.reset_after <= p.nchunks / 2 + 1);

  hdrs hm = {{"x-mock-fault", "malformed", NULL}};
  p = plan(REQ(""), &hm);
  assert_int_equal(p.fault, KL_MOCK_MALFORMED);
  assert_int_equal(p.status, 200);
  assert_true(p.body_len > 10);
  assert_null(cJSON_ParseWithLength(p.body, p.body_len));
  kl_chat_result r;
  kl_err err;
  assert_int_equal(kl_chat_resp_parse(A, p.body, p.body_len, &r, &err), -1);
  p = plan(REQ(",\"stream\":true"), &hm);
  size_t invalid;
  assemble(&p, &r, &invalid);
  assert_int_equal(invalid, 1);
  assert_string_equal(p.chunks[p.nchunks - 1], "data: [DONE]\n\n");

  hdrs ht = {{"x-mock-fault", "truncate", NULL}};
  p = plan(REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"), &ht);
  assert_int_equal(p.fault, KL_MOCK_TRUNCATE);
  kl_chat_stream *s = kl_chat_stream_new();
  for (size_t i = 0; i < p.nchunks; i++) kl_chat_stream_feed(s, p.chunks[i] + 6, strlen(p.chunks[i]) - 8);
  assert_false(kl_chat_stream_saw_done(s));
  assert_false(kl_chat_stream_saw_finish(s));
  assert_true(kl_chat_stream_deltas(s) > 0);
  kl_chat_stream_result(s, A, &r);
  assert_false(r.usage.present);
  kl_chat_stream_free(s);

  hdrs hx = {{"x-mock-fault", "explode", NULL}};
  p = plan(REQ(""), &hx);
  assert_int_equal(p.status, 400);
}

static void test_invalid_and_models(void **state) {
  (void)state;
  kl_mock_plan p = plan("{\"model\":\"mock\",\"messages\":[{\"role\":\"wizard\"}]}", NULL);
  assert_int_equal(p.status, 400);
  assert_int_equal(p.fault, KL_MOCK_STATUS);
  cJSON *j = body_json(&p);
  const cJSON *e = cJSON_GetObjectItem(j, "error");
  assert_non_null(strstr(cJSON_GetObjectItem(e, "message")->valuestring, "messages[0].role"));
  assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "invalid_request_error");
  cJSON_Delete(j);
  p = plan("", NULL);
  assert_int_equal(p.status, 400);

  kl_mock_models(A, &p);
  assert_int_equal(p.status, 200);
  j = body_json(&p);
  assert_string_equal(cJSON_GetObjectItem(j, "object")->valuestring, "list");
  const cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_true(cJSON_GetArraySize(d) >= 3);
  const cJSON *m0 = cJSON_GetArrayItem(d, 0);
  assert_string_equal(cJSON_GetObjectItem(m0, "id")->valuestring, "mock");
  assert_string_equal(cJSON_GetObjectItem(m0, "object")->valuestring, "model");
  assert_string_equal(cJSON_GetObjectItem(m0, "owned_by")->valuestring, "keel-mock");
  cJSON_Delete(j);
}

static void test_multibyte_chunks(void **state) {
  (void)state;
  /* x-mock-chunks splits at UTF-8 boundaries; deltas still concatenate to the content */
  const char *body = "{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Grüße 日本語 🎉 ok\"}]}],\"stream\":true}";
  for (int n = 1; n <= 40; n += 3) {
    char nb[8];
    snprintf(nb, sizeof nb, "%d", n);
    hdrs h = {{"x-mock-chunks", nb, NULL}};
    kl_mock_plan p = plan(body, &h);
    kl_chat_result r;
    size_t invalid;
    assemble(&p, &r, &invalid);
    assert_int_equal(invalid, 0);
    cJSON *out = cJSON_Parse(r.output_json);
    assert_non_null(strstr(cJSON_GetObjectItem(out, "content")->valuestring, "Mock answer to: Grüße 日本語 🎉 ok."));
    cJSON_Delete(out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deterministic), cmocka_unit_test(test_stream_equals_nonstream),
      cmocka_unit_test(test_tool_calls),    cmocka_unit_test(test_json_mode),
      cmocka_unit_test(test_limits_and_usage_headers), cmocka_unit_test(test_faults),
      cmocka_unit_test(test_invalid_and_models), cmocka_unit_test(test_multibyte_chunks),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
