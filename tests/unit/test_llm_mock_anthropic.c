/* test_llm_mock_anthropic.c: the mock's Anthropic Messages endpoint (kl_mock_messages):
 * determinism, the event sequence and that the stream assembles to the non-streamed message,
 * tool_use, max_tokens, cache usage headers, every fault, 400s in Anthropic's error shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/anthropic.h"

#define MOCK_PLANNER kl_mock_messages
#include "mock_test_util.h"

static const char *text0(const cJSON *msg) {
  const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(msg, "content"), 0);
  return kl_json_str(b, "text");
}

/* Splits a chunk "event: E\ndata: D\n\n" (asserting that shape); returns D, E in ev. */
static const char *split_event(const char *c, char *ev, size_t evcap, size_t *dlen) {
  size_t n = strlen(c);
  assert_true(strncmp(c, "event: ", 7) == 0);
  const char *nl = strchr(c, '\n');
  assert_non_null(nl);
  snprintf(ev, evcap, "%.*s", (int)(nl - c - 7), c + 7);
  assert_true(strncmp(nl + 1, "data: ", 6) == 0);
  assert_true(n >= 2 && strcmp(c + n - 2, "\n\n") == 0);
  const char *d = nl + 7;
  *dlen = (size_t)(c + n - 2 - d);
  assert_null(memchr(d, '\n', *dlen));
  return d;
}

/* Feeds a streamed plan to the library's assembler; counts invalid events; checks that every
 * valid event's data.type equals its event name.  Returns the assembled message. */
static cJSON *assemble(const kl_mock_plan *p, size_t *invalid, bool *stopped, char names[][32], size_t *nnames) {
  assert_true(p->stream);
  assert_string_equal(p->content_type, "text/event-stream");
  kl_anth_stream *s = kl_anth_stream_new();
  *invalid = 0;
  for (size_t i = 0; i < p->nchunks; i++) {
    char ev[32];
    size_t dl;
    const char *d = split_event(p->chunks[i], ev, sizeof ev, &dl);
    cJSON *j = cJSON_ParseWithLength(d, dl);
    if (!j) (*invalid)++;
    else assert_string_equal(kl_json_str(j, "type"), ev);
    cJSON_Delete(j);
    if (names && i < 64) snprintf(names[i], 32, "%s", ev);
    kl_anth_stream_feed(s, ev, d, dl);
  }
  if (nnames) *nnames = p->nchunks;
  *stopped = kl_anth_stream_saw_stop(s);
  cJSON *m = kl_anth_stream_message(s);
  kl_anth_stream_free(s);
  return m;
}

#define REQ(extra) "{\"model\":\"claude-mock\",\"max_tokens\":1024,\"system\":\"Be brief.\"," \
                   "\"messages\":[{\"role\":\"user\",\"content\":\"What is the capital of France, and why?\"}]" extra "}"
#define SREQ(extra) REQ(",\"stream\":true" extra)
#define TOOLS ",\"tools\":[{\"name\":\"get_weather\",\"description\":\"w\",\"input_schema\":{\"type\":\"object\"," \
              "\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"}},\"required\":[\"city\"]}}," \
              "{\"name\":\"get_time\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"tz\":{\"enum\":[\"UTC\",\"CET\"]}}}}]"

static void test_deterministic(void **state) {
  (void)state;
  kl_mock_plan a = plan(REQ(""), NULL), b = plan(REQ(""), NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.fault, KL_MOCK_OK);
  assert_string_equal(a.content_type, "application/json");
  assert_int_equal(a.body_len, b.body_len);
  assert_memory_equal(a.body, b.body, a.body_len);
  kl_mock_plan c = plan(REQ(",\"temperature\":0.1"), NULL);
  assert_true(c.body_len != a.body_len || memcmp(a.body, c.body, a.body_len) != 0);

  cJSON *j = body_json(&a);
  assert_string_equal(kl_json_str(j, "type"), "message");
  assert_string_equal(kl_json_str(j, "role"), "assistant");
  assert_string_equal(kl_json_str(j, "model"), "claude-mock");
  assert_true(strncmp(kl_json_str(j, "id"), "msg_", 4) == 0);
  assert_string_equal(kl_json_str(j, "stop_reason"), "end_turn");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "stop_sequence")));
  assert_string_equal(kl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "content"), 0), "type"), "text");
  const char *t = text0(j);
  assert_non_null(t);
  /* the chat mock's generator: the same opening words */
  assert_true(strncmp(t, "Mock answer to: What is the capital of France, and why?.", 56) == 0);
  const cJSON *u = cJSON_GetObjectItem(j, "usage");
  /* (9 + 39 chars + 3) / 4 + 3 per message */
  assert_int_equal(kl_json_int(u, "input_tokens", -1), (9 + 39 + 3) / 4 + 3);
  assert_int_equal(kl_json_int(u, "cache_read_input_tokens", -1), 0);
  assert_int_equal(kl_json_int(u, "cache_creation_input_tokens", -1), 0);
  assert_int_equal(kl_json_int(u, "output_tokens", -1), (int64_t)(strlen(t) + 3) / 4);
  /* the library parses it as a message */
  kl_chat_result r;
  kl_err err;
  assert_int_equal(kl_anth_resp_parse(A, a.body, a.body_len, &r, &err), 0);
  assert_string_equal(r.finish_reason, "end_turn");
  cJSON_Delete(j);
}

static void test_stream_equals_nonstream(void **state) {
  (void)state;
  kl_mock_plan ns = plan(REQ(""), NULL);
  cJSON *nj = body_json(&ns);
  kl_mock_plan s1 = plan(SREQ(""), NULL), s2 = plan(SREQ(""), NULL);
  assert_int_equal(s1.nchunks, s2.nchunks);
  for (size_t i = 0; i < s1.nchunks; i++) assert_string_equal(s1.chunks[i], s2.chunks[i]);

  size_t invalid, n;
  bool stopped;
  char names[64][32];
  cJSON *m = assemble(&s1, &invalid, &stopped, names, &n);
  assert_int_equal(invalid, 0);
  assert_true(stopped);
  assert_string_equal(names[0], "message_start");
  assert_string_equal(names[1], "content_block_start");
  assert_string_equal(names[2], "ping");
  for (size_t i = 3; i < n - 3; i++) assert_string_equal(names[i], "content_block_delta");
  assert_string_equal(names[n - 3], "content_block_stop");
  assert_string_equal(names[n - 2], "message_delta");
  assert_string_equal(names[n - 1], "message_stop");
  /* one delta per word */
  const char *text = text0(nj);
  size_t words = 1;
  for (const char *c = text; *c; c++) words += *c == ' ';
  assert_int_equal(n - 6, words);
  assert_string_equal(text0(m), text);
  assert_string_equal(kl_json_str(m, "stop_reason"), "end_turn");
  assert_string_equal(kl_json_str(m, "id"), kl_json_str(nj, "id"));
  assert_true(cJSON_Compare(cJSON_GetObjectItem(m, "usage"), cJSON_GetObjectItem(nj, "usage"), 1));
  cJSON_Delete(m);

  /* message_start carries input usage with output_tokens 1 */
  char ev[32];
  size_t dl;
  const char *d = split_event(s1.chunks[0], ev, sizeof ev, &dl);
  cJSON *st = cJSON_ParseWithLength(d, dl);
  const cJSON *su = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "message"), "usage");
  assert_int_equal(kl_json_int(su, "output_tokens", -1), 1);
  assert_int_equal(kl_json_int(su, "input_tokens", -1), kl_json_int(cJSON_GetObjectItem(nj, "usage"), "input_tokens", -2));
  assert_non_null(cJSON_GetObjectItem(su, "cache_read_input_tokens"));
  cJSON_Delete(st);

  /* x-mock-chunks */
  hdrs h = {{"x-mock-chunks", "3"}};
  kl_mock_plan s3 = plan(SREQ(""), &h);
  m = assemble(&s3, &invalid, &stopped, NULL, NULL);
  assert_int_equal(s3.nchunks, 6 + 3);
  assert_string_equal(text0(m), text);
  cJSON_Delete(m);
  cJSON_Delete(nj);
}

static void test_tool_use(void **state) {
  (void)state;
  kl_mock_plan p = plan(REQ(TOOLS), NULL);
  cJSON *j = body_json(&p);
  assert_string_equal(kl_json_str(j, "stop_reason"), "tool_use");
  const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "content"), 0);
  assert_string_equal(kl_json_str(b, "type"), "tool_use");
  assert_string_equal(kl_json_str(b, "name"), "get_weather");
  assert_true(strncmp(kl_json_str(b, "id"), "toolu_", 6) == 0);
  const cJSON *in = cJSON_GetObjectItem(b, "input");
  assert_string_equal(kl_json_str(in, "city"), "mock");
  assert_int_equal(kl_json_int(in, "days", 0), 1);

  /* streamed: input_json_delta pieces assemble to the same input */
  kl_mock_plan s = plan(SREQ(TOOLS), NULL);
  size_t invalid;
  bool stopped;
  cJSON *m = assemble(&s, &invalid, &stopped, NULL, NULL);
  assert_int_equal(invalid, 0);
  const cJSON *mb = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "content"), 0);
  assert_string_equal(kl_json_str(mb, "type"), "tool_use");
  assert_true(cJSON_Compare(cJSON_GetObjectItem(mb, "input"), in, 1));
  assert_string_equal(kl_json_str(mb, "id"), kl_json_str(b, "id"));
  assert_string_equal(kl_json_str(m, "stop_reason"), "tool_use");
  assert_non_null(strstr(s.chunks[3], "input_json_delta"));
  cJSON_Delete(m);
  cJSON_Delete(j);

  /* the named tool; none -> text */
  p = plan(REQ(TOOLS ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_time\"}"), NULL);
  j = body_json(&p);
  b = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "content"), 0);
  assert_string_equal(kl_json_str(b, "name"), "get_time");
  assert_string_equal(kl_json_str(cJSON_GetObjectItem(b, "input"), "tz"), "UTC");
  cJSON_Delete(j);
  p = plan(REQ(TOOLS ",\"tool_choice\":{\"type\":\"none\"}"), NULL);
  j = body_json(&p);
  assert_string_equal(kl_json_str(j, "stop_reason"), "end_turn");
  assert_non_null(text0(j));
  cJSON_Delete(j);

  /* after a tool_result: a text answer quoting it */
  p = plan("{\"model\":\"m\",\"max_tokens\":100" TOOLS ",\"messages\":["
           "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
           "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"22C sunny\"}]}]}",
           NULL);
  j = body_json(&p);
  assert_string_equal(kl_json_str(j, "stop_reason"), "end_turn");
  assert_true(strncmp(text0(j), "Mock answer using the tool result: 22C sunny.", 45) == 0);
  cJSON_Delete(j);
}

static void test_max_tokens_and_usage_headers(void **state) {
  (void)state;
  kl_mock_plan p = plan("{\"model\":\"m\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}", NULL);
  cJSON *j = body_json(&p);
  assert_string_equal(kl_json_str(j, "stop_reason"), "max_tokens");
  assert_true(strlen(text0(j)) <= 12);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(j, "usage"), "output_tokens", -1), 3);
  cJSON_Delete(j);

  int64_t prompt = (9 + 39 + 3) / 4 + 3;
  hdrs h = {{"x-mock-cache-read-tokens", "5", "x-mock-cache-write-tokens", "3", "x-mock-reasoning-tokens", "10"}};
  kl_mock_plan base = plan(REQ(""), NULL);
  cJSON *bj = body_json(&base);
  int64_t out0 = kl_json_int(cJSON_GetObjectItem(bj, "usage"), "output_tokens", -1);
  p = plan(REQ(""), &h);
  j = body_json(&p);
  const cJSON *u = cJSON_GetObjectItem(j, "usage");
  assert_int_equal(kl_json_int(u, "input_tokens", -1), prompt - 8);
  assert_int_equal(kl_json_int(u, "cache_read_input_tokens", -1), 5);
  assert_int_equal(kl_json_int(u, "cache_creation_input_tokens", -1), 3);
  assert_int_equal(kl_json_int(u, "output_tokens", -1), out0 + 10);
  kl_usage ku = kl_usage_from_anthropic(u);
  assert_int_equal(kl_usage_input_total(&ku), prompt);
  cJSON_Delete(j);

  /* streamed: the cache fields are in message_start, output in message_delta */
  kl_mock_plan s = plan(SREQ(""), &h);
  size_t invalid;
  bool stopped;
  cJSON *m = assemble(&s, &invalid, &stopped, NULL, NULL);
  ku = kl_usage_from_anthropic(cJSON_GetObjectItem(m, "usage"));
  assert_int_equal(ku.input, prompt - 8);
  assert_int_equal(ku.input_cached, 5);
  assert_int_equal(ku.input_cache_write, 3);
  assert_int_equal(ku.output, out0 + 10);
  cJSON_Delete(m);

  /* clamped to the prompt; x-mock-cached-tokens is an alias of cache-read */
  hdrs big = {{"x-mock-cache-read-tokens", "100000", "x-mock-cache-write-tokens", "7"}};
  p = plan(REQ(""), &big);
  j = body_json(&p);
  u = cJSON_GetObjectItem(j, "usage");
  assert_int_equal(kl_json_int(u, "input_tokens", -1), 0);
  assert_int_equal(kl_json_int(u, "cache_read_input_tokens", -1), prompt);
  assert_int_equal(kl_json_int(u, "cache_creation_input_tokens", -1), 0);
  cJSON_Delete(j);
  hdrs alias = {{"x-mock-cached-tokens", "4"}};
  p = plan(REQ(""), &alias);
  j = body_json(&p);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(j, "usage"), "cache_read_input_tokens", -1), 4);
  cJSON_Delete(j);
  cJSON_Delete(bj);
}

static void expect_error(const kl_mock_plan *p, int status, const char *type) {
  assert_int_equal(p->fault, KL_MOCK_STATUS);
  assert_int_equal(p->status, status);
  assert_false(p->stream);
  cJSON *j = body_json(p);
  assert_string_equal(kl_json_str(j, "type"), "error");
  const cJSON *e = cJSON_GetObjectItem(j, "error");
  assert_string_equal(kl_json_str(e, "type"), type);
  assert_non_null(kl_json_str(e, "message"));
  cJSON_Delete(j);
}

static void test_faults(void **state) {
  (void)state;
  hdrs h429 = {{"x-mock-fault", "429"}};
  kl_mock_plan p = plan(SREQ(""), &h429);
  expect_error(&p, 429, "rate_limit_error");
  assert_int_equal(p.retry_after_s, 1);
  hdrs h429b = {{"x-mock-fault", "429", "x-mock-retry-after", "7"}};
  p = plan(REQ(""), &h429b);
  assert_int_equal(p.retry_after_s, 7);
  hdrs h529 = {{"x-mock-fault", "status=529"}};
  p = plan(REQ(""), &h529);
  expect_error(&p, 529, "overloaded_error");
  assert_int_equal(p.retry_after_s, 0);
  hdrs h500 = {{"x-mock-fault", "status=500"}};
  p = plan(REQ(""), &h500);
  expect_error(&p, 500, "api_error");
  hdrs bogus = {{"x-mock-fault", "explode"}};
  p = plan(REQ(""), &bogus);
  expect_error(&p, 400, "invalid_request_error");

  hdrs hang = {{"x-mock-fault", "hang", "x-mock-latency-ms", "25", "x-mock-chunk-delay-ms", "5"}};
  p = plan(REQ(""), &hang);
  assert_int_equal(p.fault, KL_MOCK_HANG);
  assert_int_equal(p.latency_ms, 25);
  assert_int_equal(p.chunk_delay_ms, 5);

  hdrs reset = {{"x-mock-fault", "reset"}};
  p = plan(REQ(""), &reset);
  assert_int_equal(p.fault, KL_MOCK_RESET);
  assert_null(p.body);
  p = plan(SREQ(""), &reset);
  assert_int_equal(p.fault, KL_MOCK_RESET);
  assert_true(p.stream);
  assert_true(p.reset_after > 0 && p.reset_after < p.nchunks);

  hdrs mal = {{"x-mock-fault", "malformed"}};
  p = plan(REQ(""), &mal);
  assert_int_equal(p.fault, KL_MOCK_MALFORMED);
  assert_int_equal(p.status, 200);
  cJSON *j = cJSON_ParseWithLength(p.body, p.body_len);
  assert_null(j);
  p = plan(SREQ(""), &mal);
  kl_mock_plan ok = plan(SREQ(""), NULL);
  assert_int_equal(p.nchunks, ok.nchunks + 1);
  size_t invalid;
  bool stopped;
  cJSON *m = assemble(&p, &invalid, &stopped, NULL, NULL);
  assert_int_equal(invalid, 1);
  assert_true(stopped);
  cJSON_Delete(m);

  hdrs tr = {{"x-mock-fault", "truncate"}};
  p = plan(REQ(""), &tr);
  assert_null(cJSON_ParseWithLength(p.body, p.body_len));
  p = plan(SREQ(""), &tr);
  assert_int_equal(p.fault, KL_MOCK_TRUNCATE);
  char names[64][32];
  size_t n;
  m = assemble(&p, &invalid, &stopped, names, &n);
  assert_false(stopped);
  assert_true(n > 3 && n < ok.nchunks);
  for (size_t i = 0; i < n; i++) {
    assert_string_not_equal(names[i], "message_delta");
    assert_string_not_equal(names[i], "message_stop");
  }
  assert_string_equal(names[n - 1], "content_block_delta");
  cJSON_Delete(m);
}

static void test_invalid(void **state) {
  (void)state;
  const char *bad[] = {
      "",
      "not json",
      "[]",
      "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",          /* no max_tokens */
      "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[]}",                              /* empty */
      "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
      "{\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_mock_plan p = plan(bad[i], NULL);
    expect_error(&p, 400, "invalid_request_error");
  }
  /* a multi-byte prompt streams in valid UTF-8 pieces */
  hdrs h = {{"x-mock-chunks", "7"}};
  kl_mock_plan p = plan("{\"model\":\"m\",\"max_tokens\":50,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
                        "[{\"type\":\"text\",\"text\":\"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}]}]}",
                        &h);
  size_t invalid;
  bool stopped;
  cJSON *m = assemble(&p, &invalid, &stopped, NULL, NULL);
  assert_int_equal(invalid, 0);
  assert_true(strstr(text0(m), "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e") != NULL);
  cJSON_Delete(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deterministic), cmocka_unit_test(test_stream_equals_nonstream),
      cmocka_unit_test(test_tool_use),      cmocka_unit_test(test_max_tokens_and_usage_headers),
      cmocka_unit_test(test_faults),        cmocka_unit_test(test_invalid),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
