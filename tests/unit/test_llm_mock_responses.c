/* test_llm_mock_responses.c: the mock's Responses endpoint (kl_mock_responses): shape and
 * determinism, the streamed event sequence (types, sequence numbers, deltas = text, the final
 * response = the non-streamed body), function calls, max_output_tokens, usage headers, every
 * fault, 400s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"

#define MOCK_PLANNER kl_mock_responses
#include "mock_test_util.h"

static const cJSON *out0(const cJSON *resp) { return cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "output"), 0); }
static const char *text_of(const cJSON *resp) {
  return kl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(out0(resp), "content"), 0), "text");
}

/* A parsed stream: event names, parsed data (NULL when invalid), and what they add up to. */
typedef struct parsed {
  size_t n, invalid;
  char names[128][48];
  cJSON *data[128];
  kl_buf deltas;         /* output_text.delta / function_call_arguments.delta concatenated */
  const cJSON *final;    /* the response of response.completed / response.incomplete */
} parsed;

static void parse_stream(const kl_mock_plan *p, parsed *ps) {
  assert_true(p->stream);
  assert_string_equal(p->content_type, "text/event-stream");
  memset(ps, 0, sizeof *ps);
  assert_true(p->nchunks <= 128);
  int seq = 0;
  for (size_t i = 0; i < p->nchunks; i++) {
    const char *c = p->chunks[i];
    size_t n = strlen(c);
    assert_true(strncmp(c, "event: ", 7) == 0);
    const char *nl = strchr(c, '\n');
    snprintf(ps->names[i], sizeof ps->names[i], "%.*s", (int)(nl - c - 7), c + 7);
    assert_true(strncmp(nl + 1, "data: ", 6) == 0 && strcmp(c + n - 2, "\n\n") == 0);
    const char *d = nl + 7;
    size_t dl = (size_t)(c + n - 2 - d);
    assert_null(memchr(d, '\n', dl));
    cJSON *j = ps->data[i] = cJSON_ParseWithLength(d, dl);
    ps->n++;
    if (!j) {
      ps->invalid++;
      continue;
    }
    assert_string_equal(kl_json_str(j, "type"), ps->names[i]);
    assert_int_equal(kl_json_int(j, "sequence_number", -1), seq++);
    if (strstr(ps->names[i], ".delta")) kl_buf_puts(&ps->deltas, kl_json_str(j, "delta"));
    if (!strcmp(ps->names[i], "response.completed") || !strcmp(ps->names[i], "response.incomplete"))
      ps->final = cJSON_GetObjectItem(j, "response");
  }
}

static void parsed_free(parsed *ps) {
  for (size_t i = 0; i < ps->n; i++) cJSON_Delete(ps->data[i]);
  kl_buf_free(&ps->deltas);
}

#define REQ(extra) "{\"model\":\"gpt-mock\",\"instructions\":\"Be brief.\",\"input\":[{\"role\":\"user\"," \
                   "\"content\":[{\"type\":\"input_text\",\"text\":\"What is the capital of France, and why?\"}]}]" extra "}"
#define SREQ(extra) REQ(",\"stream\":true" extra)
#define TOOLS ",\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"," \
              "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}," \
              "{\"type\":\"function\",\"name\":\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"tz\":{\"enum\":[\"UTC\"]}}}}]"

static void test_shape_and_determinism(void **state) {
  (void)state;
  kl_mock_plan a = plan(REQ(""), NULL), b = plan(REQ(""), NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.body_len, b.body_len);
  assert_memory_equal(a.body, b.body, a.body_len);
  kl_mock_plan c = plan(REQ(",\"temperature\":0.2"), NULL);
  assert_true(c.body_len != a.body_len || memcmp(a.body, c.body, a.body_len) != 0);
  cJSON *j = body_json(&a);
  assert_true(strncmp(kl_json_str(j, "id"), "resp_", 5) == 0);
  assert_string_equal(kl_json_str(j, "object"), "response");
  assert_string_equal(kl_json_str(j, "status"), "completed");
  assert_string_equal(kl_json_str(j, "model"), "gpt-mock");
  assert_string_equal(kl_json_str(j, "instructions"), "Be brief.");
  assert_true(kl_json_int(j, "created_at", 0) >= 1700000000);
  const cJSON *o = out0(j);
  assert_string_equal(kl_json_str(o, "type"), "message");
  assert_string_equal(kl_json_str(o, "role"), "assistant");
  assert_string_equal(kl_json_str(o, "status"), "completed");
  assert_non_null(kl_json_str(o, "id"));
  const cJSON *part = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "content"), 0);
  assert_string_equal(kl_json_str(part, "type"), "output_text");
  assert_true(cJSON_IsArray(cJSON_GetObjectItem(part, "annotations")));
  const char *t = text_of(j);
  assert_true(strncmp(t, "Mock answer to: What is the capital of France, and why?.", 56) == 0);
  const cJSON *u = cJSON_GetObjectItem(j, "usage");
  int64_t in = (9 + 39 + 3) / 4 + 3, out = (int64_t)(strlen(t) + 3) / 4;
  assert_int_equal(kl_json_int(u, "input_tokens", -1), in);
  assert_int_equal(kl_json_int(u, "output_tokens", -1), out);
  assert_int_equal(kl_json_int(u, "total_tokens", -1), in + out);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(u, "input_tokens_details"), "cached_tokens", -1), 0);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(u, "output_tokens_details"), "reasoning_tokens", -1), 0);
  cJSON_Delete(j);

  /* a plain string input */
  kl_mock_plan s = plan("{\"model\":\"m\",\"input\":\"Tell me a joke\"}", NULL);
  j = body_json(&s);
  assert_true(strncmp(text_of(j), "Mock answer to: Tell me a joke.", 31) == 0);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "instructions")));
  cJSON_Delete(j);
}

static void test_stream(void **state) {
  (void)state;
  kl_mock_plan ns = plan(REQ(""), NULL);
  cJSON *nj = body_json(&ns);
  kl_mock_plan s = plan(SREQ(""), NULL), s2 = plan(SREQ(""), NULL);
  assert_int_equal(s.nchunks, s2.nchunks);
  for (size_t i = 0; i < s.nchunks; i++) assert_string_equal(s.chunks[i], s2.chunks[i]);
  parsed ps;
  parse_stream(&s, &ps);
  assert_int_equal(ps.invalid, 0);
  static const char *const head[] = {"response.created", "response.in_progress", "response.output_item.added",
                                     "response.content_part.added"};
  static const char *const tail[] = {"response.output_text.done", "response.content_part.done",
                                     "response.output_item.done", "response.completed"};
  for (int i = 0; i < 4; i++) assert_string_equal(ps.names[i], head[i]);
  for (int i = 0; i < 4; i++) assert_string_equal(ps.names[ps.n - 4 + (size_t)i], tail[i]);
  for (size_t i = 4; i < ps.n - 4; i++) assert_string_equal(ps.names[i], "response.output_text.delta");
  const char *text = text_of(nj);
  size_t words = 1;
  for (const char *c = text; *c; c++) words += *c == ' ';
  assert_int_equal(ps.n - 8, words);
  assert_string_equal(ps.deltas.data, text);
  assert_string_equal(kl_json_str(ps.data[ps.n - 4], "text"), text);
  /* in_progress states, then the final response equals the non-streamed body */
  const cJSON *created = cJSON_GetObjectItem(ps.data[0], "response");
  assert_string_equal(kl_json_str(created, "status"), "in_progress");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(created, "output")), 0);
  assert_true(cJSON_Compare(ps.final, nj, 1));
  /* every delta names the item */
  assert_string_equal(kl_json_str(ps.data[5], "item_id"), kl_json_str(out0(nj), "id"));
  assert_int_equal(kl_json_int(ps.data[5], "output_index", -1), 0);
  assert_int_equal(kl_json_int(ps.data[5], "content_index", -1), 0);
  parsed_free(&ps);

  hdrs h = {{"x-mock-chunks", "2"}};
  kl_mock_plan s3 = plan(SREQ(""), &h);
  parse_stream(&s3, &ps);
  assert_int_equal(ps.n, 8 + 2);
  assert_string_equal(ps.deltas.data, text);
  parsed_free(&ps);
  cJSON_Delete(nj);
}

static void test_function_calls(void **state) {
  (void)state;
  kl_mock_plan p = plan(REQ(TOOLS), NULL);
  cJSON *j = body_json(&p);
  const cJSON *o = out0(j);
  assert_string_equal(kl_json_str(o, "type"), "function_call");
  assert_string_equal(kl_json_str(o, "name"), "get_weather");
  assert_true(strncmp(kl_json_str(o, "call_id"), "call_", 5) == 0);
  assert_non_null(kl_json_str(o, "id"));
  cJSON *args = cJSON_Parse(kl_json_str(o, "arguments"));
  assert_string_equal(kl_json_str(args, "city"), "mock");
  cJSON_Delete(args);

  kl_mock_plan s = plan(SREQ(TOOLS), NULL);
  parsed ps;
  parse_stream(&s, &ps);
  assert_int_equal(ps.invalid, 0);
  assert_string_equal(ps.deltas.data, kl_json_str(o, "arguments"));
  assert_string_equal(ps.names[3], "response.function_call_arguments.delta");
  assert_string_equal(ps.names[ps.n - 3], "response.function_call_arguments.done");
  assert_string_equal(kl_json_str(ps.data[ps.n - 3], "arguments"), kl_json_str(o, "arguments"));
  assert_true(cJSON_Compare(ps.final, j, 1));
  parsed_free(&ps);
  cJSON_Delete(j);

  p = plan(REQ(TOOLS ",\"tool_choice\":{\"type\":\"function\",\"name\":\"get_time\"}"), NULL);
  j = body_json(&p);
  assert_string_equal(kl_json_str(out0(j), "name"), "get_time");
  assert_string_equal(kl_json_str(out0(j), "arguments"), "{\"tz\":\"UTC\"}");
  cJSON_Delete(j);
  p = plan(REQ(TOOLS ",\"tool_choice\":\"none\""), NULL);
  j = body_json(&p);
  assert_string_equal(kl_json_str(out0(j), "type"), "message");
  cJSON_Delete(j);
  /* after the function's output: a message quoting it */
  p = plan("{\"model\":\"m\"" TOOLS ",\"input\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
           "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
           "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"22C sunny\"}]}",
           NULL);
  j = body_json(&p);
  assert_string_equal(kl_json_str(out0(j), "type"), "message");
  assert_true(strncmp(text_of(j), "Mock answer using the tool result: 22C sunny.", 45) == 0);
  cJSON_Delete(j);
}

static void test_limits_and_usage(void **state) {
  (void)state;
  kl_mock_plan p = plan(REQ(",\"max_output_tokens\":3"), NULL);
  cJSON *j = body_json(&p);
  assert_string_equal(kl_json_str(j, "status"), "incomplete");
  assert_string_equal(kl_json_str(cJSON_GetObjectItem(j, "incomplete_details"), "reason"), "max_output_tokens");
  assert_true(strlen(text_of(j)) <= 12);
  assert_int_equal(kl_json_int(j, "max_output_tokens", -1), 3);
  kl_mock_plan s = plan(SREQ(",\"max_output_tokens\":3"), NULL);
  parsed ps;
  parse_stream(&s, &ps);
  assert_string_equal(ps.names[ps.n - 1], "response.incomplete");
  assert_true(cJSON_Compare(ps.final, j, 1));
  parsed_free(&ps);
  cJSON_Delete(j);

  hdrs h = {{"x-mock-cached-tokens", "5", "x-mock-reasoning-tokens", "7"}};
  kl_mock_plan base = plan(REQ(""), NULL);
  cJSON *bj = body_json(&base);
  int64_t in = kl_json_int(cJSON_GetObjectItem(bj, "usage"), "input_tokens", -1);
  int64_t out = kl_json_int(cJSON_GetObjectItem(bj, "usage"), "output_tokens", -1);
  p = plan(REQ(""), &h);
  j = body_json(&p);
  const cJSON *u = cJSON_GetObjectItem(j, "usage");
  assert_int_equal(kl_json_int(u, "input_tokens", -1), in); /* cached tokens are included */
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(u, "input_tokens_details"), "cached_tokens", -1), 5);
  assert_int_equal(kl_json_int(u, "output_tokens", -1), out + 7);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(u, "output_tokens_details"), "reasoning_tokens", -1), 7);
  assert_int_equal(kl_json_int(u, "total_tokens", -1), in + out + 7);
  cJSON_Delete(j);
  hdrs big = {{"x-mock-cached-tokens", "99999"}};
  p = plan(REQ(""), &big);
  j = body_json(&p);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "input_tokens_details"),
                               "cached_tokens", -1), in);
  cJSON_Delete(j);
  cJSON_Delete(bj);
}

static void expect_error(const kl_mock_plan *p, int status) {
  assert_int_equal(p->fault, KL_MOCK_STATUS);
  assert_int_equal(p->status, status);
  cJSON *j = body_json(p);
  assert_non_null(kl_json_str(cJSON_GetObjectItem(j, "error"), "message"));
  cJSON_Delete(j);
}

static void test_faults_and_invalid(void **state) {
  (void)state;
  hdrs h429 = {{"x-mock-fault", "429"}};
  kl_mock_plan p = plan(SREQ(""), &h429);
  expect_error(&p, 429);
  assert_int_equal(p.retry_after_s, 1);
  hdrs h502 = {{"x-mock-fault", "status=502"}};
  p = plan(REQ(""), &h502);
  expect_error(&p, 502);
  hdrs bogus = {{"x-mock-fault", "??"}};
  p = plan(REQ(""), &bogus);
  expect_error(&p, 400);
  hdrs hang = {{"x-mock-fault", "hang"}};
  p = plan(SREQ(""), &hang);
  assert_int_equal(p.fault, KL_MOCK_HANG);
  hdrs reset = {{"x-mock-fault", "reset"}};
  p = plan(REQ(""), &reset);
  assert_int_equal(p.fault, KL_MOCK_RESET);
  assert_null(p.body);
  p = plan(SREQ(""), &reset);
  assert_true(p.stream && p.reset_after > 0 && p.reset_after < p.nchunks);

  kl_mock_plan ok = plan(SREQ(""), NULL);
  hdrs mal = {{"x-mock-fault", "malformed"}};
  p = plan(REQ(""), &mal);
  assert_null(cJSON_ParseWithLength(p.body, p.body_len));
  p = plan(SREQ(""), &mal);
  parsed ps;
  parse_stream(&p, &ps);
  assert_int_equal(ps.invalid, 1);
  assert_int_equal(ps.n, ok.nchunks + 1);
  assert_non_null(ps.final);
  parsed_free(&ps);
  hdrs tr = {{"x-mock-fault", "truncate"}};
  p = plan(REQ(""), &tr);
  assert_null(cJSON_ParseWithLength(p.body, p.body_len));
  p = plan(SREQ(""), &tr);
  assert_int_equal(p.fault, KL_MOCK_TRUNCATE);
  parse_stream(&p, &ps);
  assert_int_equal(ps.invalid, 0);
  assert_null(ps.final);
  assert_true(ps.n > 4 && ps.n < ok.nchunks);
  assert_string_equal(ps.names[ps.n - 1], "response.output_text.delta");
  parsed_free(&ps);

  const char *bad[] = {
      "",
      "{]",
      "\"x\"",
      "{\"input\":\"x\"}",
      "{\"model\":\"m\"}",
      "{\"model\":\"m\",\"input\":[]}",
      "{\"model\":\"m\",\"input\":5}",
      "{\"model\":\"m\",\"input\":[\"x\"]}",
      "{\"model\":\"m\",\"input\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
      "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":5}]}",
      "{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"output\":\"x\"}]}",
      "{\"model\":\"m\",\"input\":\"x\",\"stream\":1}",
      "{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}",
      "{\"model\":\"m\",\"input\":\"x\",\"instructions\":[]}",
      "{\"model\":\"m\",\"input\":\"x\",\"tools\":{}}",
      "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    p = plan(bad[i], NULL);
    if (p.status != 400) fail_msg("%s: %d", bad[i], p.status);
    expect_error(&p, 400);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_and_determinism), cmocka_unit_test(test_stream),
      cmocka_unit_test(test_function_calls),        cmocka_unit_test(test_limits_and_usage),
      cmocka_unit_test(test_faults_and_invalid),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
