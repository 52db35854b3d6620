/* test_gateway_endpoints.c: /v1/embeddings, /v1/responses and /v1/messages through the gateway
 * with the in-process mock provider and a fake reply sink (no HTTP server): answers, streams,
 * faults, rejections, and the observation each call leaves in the store (type, usage buckets,
 * cost). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway/kl_gateway.h"
#include "gw_test_sink.h"


static int setup(void **state) {
  const char *yaml =
      "models:\n"
      "  - name: mock\n    provider: mock\n"
      "  - name: emb\n    provider: mock\n    model: text-embedding-3-small\n"
      "  - name: gpt\n    provider: mock\n    model: gpt-4o-mini\n"
      "  - name: claude\n    provider: mock\n    model: claude-haiku-4-5\n"
      "  - name: mock-slow\n    provider: mock\n    timeout_ms: 200\n"
      "  - name: anth\n    provider: anthropic\n    model: claude-haiku-4-5\n"
      "    base_url: http://127.0.0.1:1\n    api_key: sk-ant-test-0123456789\n    connect_timeout_ms: 300\n";
  return gw_setup(state, yaml);
}

static int64_t ubucket(const cJSON *o, const char *k) { return kl_json_int(cJSON_GetObjectItem(o, "usage"), k, -1); }
static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ======================= embeddings ======================= */

static void test_embeddings_answer_traced(void **state) {
  fixture *f = *state;
  sink s = {0};
  const char *body = "{\"model\":\"emb\",\"user\":\"u-emb\",\"input\":[\"the cat sat\",\"a dog ran far\"],\"dimensions\":64}";
  run_call(f, kl_gw_embeddings, body, NULL, &s);
  assert_int_equal(s.status, 200);
  cJSON *r = cJSON_Parse(s.body.data);
  assert_string_equal(kl_json_str(r, "object"), "list");
  cJSON *data = cJSON_GetObjectItem(r, "data");
  assert_int_equal(cJSON_GetArraySize(data), 2);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(data, 0), "embedding")), 64);
  int64_t pt = kl_json_int(cJSON_GetObjectItem(r, "usage"), "prompt_tokens", -1);
  assert_true(pt > 0);

  cJSON *o = last_observation(f, "u-emb");
  assert_string_equal(kl_json_str(o, "type"), "EMBEDDING");
  assert_string_equal(kl_json_str(o, "level"), "DEFAULT");
  assert_string_equal(kl_json_str(o, "upstream_model"), "text-embedding-3-small");
  assert_int_equal(ubucket(o, "input"), pt);
  assert_int_equal(ubucket(o, "output"), 0);
  /* text-embedding-3-small: $0.02 per million tokens */
  assert_true(fabs(num(o, "cost_usd") - (double)pt * 0.02e-6) < 1e-15);
  /* the texts are recorded, the vectors are not */
  char *in = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "input"));
  assert_non_null(strstr(in, "the cat sat"));
  free(in);
  cJSON *out = cJSON_GetObjectItem(o, "output");
  assert_int_equal(kl_json_int(out, "count", -1), 2);
  assert_int_equal(kl_json_int(out, "dimensions", -1), 64);
  cJSON_Delete(o);
  cJSON_Delete(r);
  kl_buf_free(&s.body);
}

static void test_embeddings_rejections(void **state) {
  fixture *f = *state;
  struct { const char *body; int status; const char *needle; } cases[] = {
      {"{\"model\":\"emb\"}", 400, "input: required"},
      {"{\"model\":\"emb\",\"input\":\"\"}", 400, "empty string"},
      {"{\"model\":\"emb\",\"input\":[]}", 400, "empty array"},
      {"{\"model\":\"emb\",\"input\":[\"a\",3]}", 400, "input[1]"},
      {"{\"model\":\"emb\",\"input\":[[1,2],[]]}", 400, "input[1]"},
      {"{\"model\":\"emb\",\"input\":[1,-2]}", 400, "non-negative"},
      {"{\"model\":\"emb\",\"input\":{\"x\":1}}", 400, "input"},
      {"{\"input\":\"x\"}", 400, "model"},
      {"{\"model\":\"nope\",\"input\":\"x\"}", 404, "model_not_found"},
      {"{\"model\":\"anth\",\"input\":\"x\"}", 400, "embeddings are not available for anthropic deployments"},
      {"nope", 400, "JSON"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sink s = {0};
    run_call(f, kl_gw_embeddings, cases[i].body, NULL, &s);
    if (s.status != cases[i].status || !strstr(s.body.data, cases[i].needle))
      fail_msg("case %zu: %d %s", i, s.status, s.body.data);
    kl_buf_free(&s.body);
  }
  /* token inputs are accepted */
  const char *ok[] = {"{\"model\":\"emb\",\"input\":[1,2,3]}", "{\"model\":\"emb\",\"input\":[[1,2],[3]]}",
                      "{\"model\":\"emb\",\"input\":\"plain\"}"};
  for (size_t i = 0; i < 3; i++) {
    sink s = {0};
    run_call(f, kl_gw_embeddings, ok[i], NULL, &s);
    if (s.status != 200) fail_msg("ok %zu: %d %s", i, s.status, s.body.data);
    kl_buf_free(&s.body);
  }
}

static void test_embeddings_faults(void **state) {
  fixture *f = *state;
  struct { const char *fault; int status; const char *expect; } cases[] = {
      {"status=503", 503, "error"},
      {"429", 429, "rate"},
      {"reset", 502, "upstream_reset"},
      {"malformed", 502, "upstream_invalid_response"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sink s = {0};
    char body[128], user[32];
    snprintf(user, sizeof user, "u-embf-%zu", i);
    snprintf(body, sizeof body, "{\"model\":\"emb\",\"user\":\"%s\",\"input\":\"hello\"}", user);
    hdrs h = {{"x-mock-fault", "x-mock-retry-after"}, {cases[i].fault, "3"}, 2};
    run_call(f, kl_gw_embeddings, body, &h, &s);
    if (s.status != cases[i].status || !strstr(s.body.data, cases[i].expect))
      fail_msg("%s: %d %s", cases[i].fault, s.status, s.body.data);
    if (cases[i].status == 429) assert_string_equal(s.retry_after, "3");
    cJSON *o = last_observation(f, user);
    assert_string_equal(kl_json_str(o, "type"), "EMBEDDING");
    assert_string_equal(kl_json_str(o, "level"), "ERROR");
    cJSON_Delete(o);
    kl_buf_free(&s.body);
  }
  /* a hang runs into the deployment's timeout */
  sink s = {0};
  hdrs h = {{"x-mock-fault"}, {"hang"}, 1};
  run_call(f, kl_gw_embeddings, "{\"model\":\"mock-slow\",\"input\":\"x\"}", &h, &s);
  assert_int_equal(s.status, 504);
  kl_buf_free(&s.body);
}

static void test_embeddings_abort(void **state) {
  fixture *f = *state;
  sink s = {0};
  hdrs h = {{"x-mock-latency-ms"}, {"5000"}, 1};
  kl_arena *a = kl_arena_new(0);
  kl_gw_call *c = start(f, kl_gw_embeddings, a, "{\"model\":\"emb\",\"user\":\"u-emb-abort\",\"input\":\"x\"}", &h, &s);
  assert_non_null(c);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_false(s.completed);
  kl_gw_call_abort(c);
  assert_int_equal(s.completions, 1);
  assert_int_equal(s.status, 499);
  assert_int_equal(kl_gw_worker_active(f->w), 0);
  kl_arena_free(a);
  cJSON *o = last_observation(f, "u-emb-abort");
  assert_non_null(strstr(kl_json_str(o, "status_message"), "client disconnected"));
  cJSON_Delete(o);
  kl_buf_free(&s.body);
}

/* ======================= responses ======================= */

static void test_responses_answer_traced(void **state) {
  fixture *f = *state;
  sink s = {0};
  const char *body = "{\"model\":\"gpt\",\"user\":\"u-resp\",\"instructions\":\"be brief\",\"input\":\"tell me about cats\"}";
  hdrs h = {{"x-mock-cached-tokens", "x-mock-reasoning-tokens"}, {"4", "5"}, 2};
  run_call(f, kl_gw_responses, body, &h, &s);
  assert_int_equal(s.status, 200);
  assert_false(s.streamed);
  cJSON *r = cJSON_Parse(s.body.data);
  assert_string_equal(kl_json_str(r, "object"), "response");
  const cJSON *u = cJSON_GetObjectItem(r, "usage");
  int64_t in = kl_json_int(u, "input_tokens", -1), out = kl_json_int(u, "output_tokens", -1);
  assert_true(in > 4 && out > 5);

  cJSON *o = last_observation(f, "u-resp");
  assert_string_equal(kl_json_str(o, "type"), "GENERATION");
  assert_string_equal(kl_json_str(o, "name"), "responses");
  /* Responses counts cached inside input and reasoning inside output: keel splits them */
  assert_int_equal(ubucket(o, "input"), in - 4);
  assert_int_equal(ubucket(o, "input_cached"), 4);
  assert_int_equal(ubucket(o, "output"), out - 5);
  assert_int_equal(ubucket(o, "output_reasoning"), 5);
  /* gpt-4o-mini: 0.15/M input, 0.075/M cached, 0.6/M output (reasoning billed as output) */
  double expect = (double)(in - 4) * 0.15e-6 + 4 * 0.075e-6 + (double)out * 0.6e-6;
  if (fabs(num(o, "cost_usd") - expect) > 1e-12) fail_msg("cost %g vs %g", num(o, "cost_usd"), expect);
  char *ins = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "input"));
  assert_non_null(strstr(ins, "be brief"));
  assert_non_null(strstr(ins, "tell me about cats"));
  free(ins);
  /* output = the response's output items */
  char *outs = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "output"));
  char *want = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "output"));
  assert_string_equal(outs, want);
  free(outs);
  free(want);
  cJSON_Delete(o);
  cJSON_Delete(r);
  kl_buf_free(&s.body);
}

static void test_responses_stream(void **state) {
  fixture *f = *state;
  sink s = {0};
  const char *body = "{\"model\":\"gpt\",\"user\":\"u-resp-stream\",\"stream\":true,\"input\":\"stream about dogs\"}";
  run_call(f, kl_gw_responses, body, NULL, &s);
  assert_int_equal(s.status, 200);
  assert_true(s.streamed);
  /* event lines are kept, the final event is there */
  assert_non_null(strstr(s.body.data, "event: response.created\ndata: {"));
  assert_non_null(strstr(s.body.data, "event: response.output_text.delta\n"));
  const char *fin = strstr(s.body.data, "event: response.completed\ndata: ");
  assert_non_null(fin);
  cJSON *done = cJSON_Parse(fin + strlen("event: response.completed\ndata: "));
  assert_non_null(done);
  const cJSON *u = cJSON_GetObjectItem(cJSON_GetObjectItem(done, "response"), "usage");
  cJSON *o = last_observation(f, "u-resp-stream");
  assert_int_equal(ubucket(o, "input"), kl_json_int(u, "input_tokens", -1));
  assert_int_equal(ubucket(o, "output"), kl_json_int(u, "output_tokens", -1));
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "ttft_ms")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "stream")) || !cJSON_GetObjectItem(o, "stream"));
  assert_string_equal(kl_json_str(o, "level"), "DEFAULT");
  cJSON_Delete(o);
  cJSON_Delete(done);
  kl_buf_free(&s.body);
}

static void test_responses_faults(void **state) {
  fixture *f = *state;
  struct { const char *fault; bool stream; int status; const char *expect; } cases[] = {
      {"status=500", false, 500, "error"},
      {"429", false, 429, "rate"},
      {"malformed", false, 502, "upstream_invalid_response"},
      {"reset", true, 200, "upstream_reset"},
      {"truncate", true, 200, "upstream_stream_truncated"},
      {"malformed", true, 200, "event: error"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sink s = {0};
    char body[160], user[32];
    snprintf(user, sizeof user, "u-respf-%zu", i);
    snprintf(body, sizeof body, "{\"model\":\"gpt\",\"user\":\"%s\",\"stream\":%s,\"input\":\"a few words here\"}", user,
             cases[i].stream ? "true" : "false");
    hdrs h = {{"x-mock-fault", "x-mock-retry-after"}, {cases[i].fault, "2"}, 2};
    run_call(f, kl_gw_responses, body, &h, &s);
    if (s.status != cases[i].status || !strstr(s.body.data, cases[i].expect))
      fail_msg("%s/%d: %d %s", cases[i].fault, cases[i].stream, s.status, s.body.data);
    if (cases[i].stream) {
      if (strstr(s.body.data, "event: response.completed")) fail_msg("%s: completed:\n%s", cases[i].fault, s.body.data);
      assert_non_null(strstr(s.body.data, "event: error\ndata: {\"type\":\"error\""));
    }
    cJSON *o = last_observation(f, user);
    assert_string_equal(kl_json_str(o, "level"), "ERROR");
    if (cases[i].stream && strcmp(cases[i].fault, "malformed")) {
      /* the stream never delivered response.completed and its usage: keel counted it */
      assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "usage_estimated")));
      assert_true(kl_json_int(cJSON_GetObjectItem(o, "usage"), "input", 0) > 0);
    }
    cJSON_Delete(o);
    kl_buf_free(&s.body);
  }
  struct { const char *body; int status; const char *needle; } rej[] = {
      {"{\"model\":\"anth\",\"input\":\"x\"}", 400, "not available for anthropic"},
      {"{\"model\":\"nope\",\"input\":\"x\"}", 404, "model_not_found"},
      {"{\"model\":\"gpt\",\"input\":5}", 400, "input"},
      {"[]", 400, "object"},
  };
  for (size_t i = 0; i < sizeof rej / sizeof *rej; i++) {
    sink s = {0};
    run_call(f, kl_gw_responses, rej[i].body, NULL, &s);
    if (s.status != rej[i].status || !strstr(s.body.data, rej[i].needle)) fail_msg("rej %zu: %d %s", i, s.status, s.body.data);
    kl_buf_free(&s.body);
  }
}

/* ======================= messages ======================= */

#define MSG_REQ(extra) "{\"model\":\"claude\",\"max_tokens\":200,\"metadata\":{\"user_id\":\"%s\"}," \
  "\"system\":\"be kind\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there messages\"}]" extra "}"

static void test_messages_answer_traced(void **state) {
  fixture *f = *state;
  sink s = {0};
  char body[512];
  snprintf(body, sizeof body, MSG_REQ(""), "u-msg");
  hdrs h = {{"x-mock-cached-tokens"}, {"3"}, 1};
  run_call(f, kl_gw_messages, body, &h, &s);
  if (s.status != 200) fail_msg("%d %s", s.status, s.body.data);
  cJSON *r = cJSON_Parse(s.body.data);
  assert_string_equal(kl_json_str(r, "type"), "message");
  assert_string_equal(kl_json_str(r, "role"), "assistant");
  assert_string_equal(kl_json_str(r, "stop_reason"), "end_turn");
  const cJSON *blk = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "content"), 0);
  assert_string_equal(kl_json_str(blk, "type"), "text");
  const cJSON *u = cJSON_GetObjectItem(r, "usage");
  int64_t in = kl_json_int(u, "input_tokens", -1), cached = kl_json_int(u, "cache_read_input_tokens", -1);
  int64_t out = kl_json_int(u, "output_tokens", -1);
  assert_int_equal(cached, 3);
  assert_true(in > 0 && out > 0);

  cJSON *o = last_observation(f, "u-msg");
  assert_string_equal(kl_json_str(o, "type"), "GENERATION");
  assert_string_equal(kl_json_str(o, "name"), "messages");
  assert_int_equal(ubucket(o, "input"), in);
  assert_int_equal(ubucket(o, "input_cached"), 3);
  assert_int_equal(ubucket(o, "output"), out);
  /* claude-haiku-4-5: $1/M input, $0.10/M cache read, $5/M output */
  double expect = (double)in * 1e-6 + 3 * 0.1e-6 + (double)out * 5e-6;
  if (fabs(num(o, "cost_usd") - expect) > 1e-12) fail_msg("cost %g vs %g", num(o, "cost_usd"), expect);
  assert_string_equal(kl_json_str(o, "finish_reason"), "end_turn");
  const cJSON *oc = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "output"), "content"), 0);
  assert_string_equal(kl_json_str(oc, "text"), kl_json_str(blk, "text"));
  assert_string_equal(kl_json_str(cJSON_GetObjectItem(o, "input"), "system"), "be kind");
  cJSON_Delete(o);
  cJSON_Delete(r);
  kl_buf_free(&s.body);
}

static void test_messages_stream(void **state) {
  fixture *f = *state;
  sink s = {0};
  char body[512];
  snprintf(body, sizeof body, MSG_REQ(",\"stream\":true"), "u-msg-stream");
  run_call(f, kl_gw_messages, body, NULL, &s);
  assert_true(s.streamed);
  const char *seq[] = {"event: message_start\n", "event: content_block_start\n", "event: content_block_delta\n",
                       "event: content_block_stop\n", "event: message_delta\n", "event: message_stop\n"};
  const char *p = s.body.data;
  for (size_t i = 0; i < 6; i++) {
    const char *q = strstr(p, seq[i]);
    if (!q) fail_msg("missing %s in:\n%s", seq[i], s.body.data);
    p = q;
  }
  assert_null(strstr(s.body.data, "[DONE]"));
  assert_null(strstr(s.body.data, "chat.completion"));
  cJSON *o = last_observation(f, "u-msg-stream");
  assert_string_equal(kl_json_str(o, "level"), "DEFAULT");
  assert_true(ubucket(o, "input") > 0);
  assert_true(ubucket(o, "output") > 0);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(o, "usage_estimated")));
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "ttft_ms")));
  assert_true(num(o, "cost_usd") > 0);
  const cJSON *oc = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "output"), "content"), 0);
  assert_true(strlen(kl_json_str(oc, "text")) > 0);
  cJSON_Delete(o);
  kl_buf_free(&s.body);
}

static void test_messages_tool_use(void **state) {
  fixture *f = *state;
  sink s = {0};
  const char *body =
      "{\"model\":\"claude\",\"max_tokens\":100,\"metadata\":{\"user_id\":\"u-msg-tool\"},"
      "\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}],"
      "\"messages\":[{\"role\":\"user\",\"content\":\"weather in Paris?\"}]}";
  run_call(f, kl_gw_messages, body, NULL, &s);
  assert_int_equal(s.status, 200);
  cJSON *r = cJSON_Parse(s.body.data);
  assert_string_equal(kl_json_str(r, "stop_reason"), "tool_use");
  const cJSON *tu = NULL;
  cJSON_ArrayForEach(tu, cJSON_GetObjectItem(r, "content")) if (!strcmp(kl_json_str(tu, "type"), "tool_use")) break;
  assert_non_null(tu);
  assert_string_equal(kl_json_str(tu, "name"), "get_weather");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(tu, "input")));
  cJSON *o = last_observation(f, "u-msg-tool");
  assert_string_equal(kl_json_str(o, "finish_reason"), "tool_use");
  cJSON_Delete(o);

  /* the tool result goes back in, the answer is text */
  char body2[2048];
  char *tu_s = cJSON_PrintUnformatted(tu);
  snprintf(body2, sizeof body2,
           "{\"model\":\"claude\",\"max_tokens\":100,\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\"}}],"
           "\"messages\":[{\"role\":\"user\",\"content\":\"weather in Paris?\"},{\"role\":\"assistant\",\"content\":[%s]},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"%s\",\"content\":\"sunny, 21C\"}]}]}",
           tu_s, kl_json_str(tu, "id"));
  free(tu_s);
  sink s2 = {0};
  run_call(f, kl_gw_messages, body2, NULL, &s2);
  if (s2.status != 200) fail_msg("%d %s", s2.status, s2.body.data);
  cJSON *r2 = cJSON_Parse(s2.body.data);
  assert_string_equal(kl_json_str(r2, "stop_reason"), "end_turn");
  cJSON_Delete(r2);
  cJSON_Delete(r);
  kl_buf_free(&s.body);
  kl_buf_free(&s2.body);
}

static void test_messages_errors(void **state) {
  fixture *f = *state;
  struct { const char *fault; bool stream; int status; const char *expect; } cases[] = {
      {"status=503", false, 503, "\"type\":\"error\""},
      {"429", false, 429, "rate_limit_error"},
      {"reset", false, 502, "upstream connection reset"},
      {"malformed", false, 502, "\"type\":\"error\""},
      {"reset", true, 200, "event: error\ndata: {\"type\":\"error\""},
      {"truncate", true, 200, "event: error\ndata: {\"type\":\"error\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sink s = {0};
    char body[512], user[32];
    snprintf(user, sizeof user, "u-msgf-%zu", i);
    snprintf(body, sizeof body, cases[i].stream ? MSG_REQ(",\"stream\":true") : MSG_REQ(""), user);
    hdrs h = {{"x-mock-fault", "x-mock-retry-after"}, {cases[i].fault, "4"}, 2};
    run_call(f, kl_gw_messages, body, &h, &s);
    if (s.status != cases[i].status || !strstr(s.body.data, cases[i].expect))
      fail_msg("%s/%d: %d %s", cases[i].fault, cases[i].stream, s.status, s.body.data);
    if (!cases[i].stream) {
      /* Anthropic's error shape, never OpenAI's */
      cJSON *j = cJSON_Parse(s.body.data);
      assert_string_equal(kl_json_str(j, "type"), "error");
      assert_non_null(kl_json_str(cJSON_GetObjectItem(j, "error"), "type"));
      cJSON_Delete(j);
    } else {
      assert_null(strstr(s.body.data, "event: message_stop"));
    }
    if (cases[i].status == 429) assert_string_equal(s.retry_after, "4");
    cJSON *o = last_observation(f, user);
    assert_string_equal(kl_json_str(o, "level"), "ERROR");
    if (cases[i].stream) {
      /* a cut stream carried no usage: estimated, and said so */
      assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "usage_estimated")));
      assert_true(kl_json_int(cJSON_GetObjectItem(o, "usage"), "input", 0) > 0);
    }
    cJSON_Delete(o);
    kl_buf_free(&s.body);
  }
  struct { const char *body; int status; const char *needle; } rej[] = {
      {"{\"model\":\"nope\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 404, "not_found_error"},
      {"{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400, "max_tokens"},
      {"{\"model\":\"claude\",\"max_tokens\":5,\"top_k\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400, "top_k"},
      /* an anthropic deployment is called natively: here its upstream is unreachable */
      {"{\"model\":\"anth\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 502, "api_error"},
  };
  for (size_t i = 0; i < sizeof rej / sizeof *rej; i++) {
    sink s = {0};
    run_call(f, kl_gw_messages, rej[i].body, NULL, &s);
    if (s.status != rej[i].status || !strstr(s.body.data, rej[i].needle)) fail_msg("rej %zu: %d %s", i, s.status, s.body.data);
    assert_non_null(strstr(s.body.data, "{\"type\":\"error\""));
    kl_buf_free(&s.body);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_embeddings_answer_traced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_embeddings_rejections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_embeddings_faults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_embeddings_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_responses_answer_traced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_responses_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_responses_faults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages_answer_traced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages_tool_use, setup, teardown),
      cmocka_unit_test_setup_teardown(test_messages_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
