/* test_cost_known_failures.c: one test per cost bug other gateways and tracers have shipped.
 *
 * Each goes through the real path (the usage normalisers, the stream assembler, the shipped
 * price table, the tracer into a temporary store) and asserts the exact dollar amount, so a
 * regression shows as a wrong number, not as a vague "cost > 0". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm/anthropic.h"
#include "trace/kl_trace.h"
#include "store_test_pg.h"

static void usd_eq(double got, double want, int line) {
  if (!(fabs(got - want) < 1e-12 + fabs(want) * 1e-9)) fail_msg("line %d: cost %.17g, want %.17g", line, got, want);
}
#define assert_usd(got, want) usd_eq((got), (double)(want), __LINE__)

static kl_prices *P;

static int setup(void **state) {
  (void)state;
  kl_err err = {0};
  P = kl_prices_load_default(&err);
  return P ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  kl_prices_free(P);
  return 0;
}

static kl_usage openai_usage(const char *json) {
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  kl_usage u = kl_usage_from_openai(j);
  cJSON_Delete(j);
  return u;
}

static kl_usage anthropic_usage(const char *json) {
  cJSON *j = cJSON_Parse(json);
  assert_non_null(j);
  kl_usage u = kl_usage_from_anthropic(j);
  cJSON_Delete(j);
  return u;
}

/* Records one generation through the tracer into a fresh store and returns its observation
 * (cJSON_Delete it). */
static cJSON *trace_one(const char *model, const char *upstream, kl_usage u) {
  char dir[] = "/tmp/keel-test-cost-XXXXXX";
  assert_non_null(mkdtemp(dir));
  kl_err e = {0};
  kl_store_opts so = {.data_dir = dir};
  kl_test_store_opts(&so);
  kl_store *s = kl_store_open(&so, &e);
  assert_non_null(s);
  kl_tracer_opts o = {.store = s, .prices = P};
  kl_tracer *t = kl_tracer_new(&o);
  kl_trace_ctx c = {0};
  kl_id_trace(c.trace_id);
  kl_id_span(c.span_id);
  kl_generation g = {.ctx = &c, .name = "chat.completions", .start_ns = kl_now_ns(), .end_ns = kl_now_ns(),
                     .model = model, .provider = "openai", .upstream_model = upstream, .usage = u,
                     .http_status = 200};
  assert_int_equal(kl_tracer_generation(t, &g, NULL, &e), 0);
  kl_store_flush(s);
  kl_buf out = KL_BUF_INIT;
  assert_int_equal(kl_store_get_trace(s, NULL, c.trace_id, &out, &e), 0);
  cJSON *j = cJSON_Parse(out.data);
  assert_non_null(j);
  cJSON *obs = cJSON_DetachItemFromArray(cJSON_GetObjectItem(j, "observations"), 0);
  assert_non_null(obs);
  cJSON_Delete(j);
  kl_buf_free(&out);
  kl_tracer_free(t);
  kl_store_close(s);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  return obs;
}

/* 1. Streamed usage dropped: OpenAI sends usage only in a final chunk with empty choices
 *    (stream_options.include_usage).  A gateway that only reads usage from content chunks
 *    bills 0 tokens, or falls back to an estimate. */
static void test_streamed_usage_in_final_chunk_is_billed(void **state) {
  (void)state;
  static const char *const chunks[] = {
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":null}],\"usage\":null}",
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\" there\"},\"finish_reason\":null}],\"usage\":null}",
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
      "\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}",
      "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[],\"usage\":"
      "{\"prompt_tokens\":1200,\"completion_tokens\":300,\"total_tokens\":1500,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0}}}",
  };
  kl_chat_stream *s = kl_chat_stream_new();
  for (size_t i = 0; i < 3; i++) assert_int_equal(kl_chat_stream_feed(s, chunks[i], strlen(chunks[i])), KL_CHUNK_CONTENT);
  assert_int_equal(kl_chat_stream_feed(s, chunks[3], strlen(chunks[3])), KL_CHUNK_USAGE_ONLY);
  assert_int_equal(kl_chat_stream_feed(s, "[DONE]", 6), KL_CHUNK_DONE);
  kl_arena *a = kl_arena_new(0);
  kl_chat_result r;
  kl_chat_stream_result(s, a, &r);
  assert_true(r.usage.present);
  assert_false(r.usage.estimated);
  assert_int_equal(r.usage.input, 1200);
  assert_int_equal(r.usage.output, 300);
  assert_usd(kl_prices_cost(P, "gpt-4o", &r.usage, NULL, NULL), 1200 * 2.5e-6 + 300 * 10e-6);
  /* and the tracer records exactly that */
  cJSON *obs = trace_one("gpt-4o", "gpt-4o", r.usage);
  assert_usd(cJSON_GetObjectItem(obs, "cost_usd")->valuedouble, 0.006);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(obs, "usage_estimated")));
  cJSON_Delete(obs);
  kl_arena_free(a);
  kl_chat_stream_free(s);
}

/* 2. Cached input billed at the full price: OpenAI's prompt_tokens INCLUDES cached_tokens;
 *    billing prompt_tokens at the input price overcharges the cached part (and adding the
 *    cached part again on top double-bills it). */
static void test_cached_input_billed_at_cached_price(void **state) {
  (void)state;
  kl_usage u = openai_usage("{\"prompt_tokens\":1500,\"completion_tokens\":100,"
                            "\"prompt_tokens_details\":{\"cached_tokens\":1000}}");
  assert_int_equal(u.input, 500);
  assert_int_equal(u.input_cached, 1000);
  double want = 500 * 2.5e-6 + 1000 * 1.25e-6 + 100 * 10e-6;
  assert_usd(kl_prices_cost(P, "gpt-4o", &u, NULL, NULL), want);
  cJSON *obs = trace_one("gpt-4o", "gpt-4o", u);
  assert_usd(cJSON_GetObjectItem(obs, "cost_usd")->valuedouble, want);
  cJSON *cost = cJSON_GetObjectItem(obs, "cost");
  assert_usd(cJSON_GetObjectItem(cost, "input_cached")->valuedouble, 1000 * 1.25e-6);
  assert_string_equal(kl_json_str(cost, "source"), "table");
  cJSON_Delete(obs);
}

/* 3. Cache writes under-billed: Anthropic charges cache_creation_input_tokens at 1.25x the
 *    input price; pricing them as plain input (or not at all) under-bills. */
static void test_cache_writes_billed_at_cache_write_price(void **state) {
  (void)state;
  kl_usage u = anthropic_usage("{\"input_tokens\":10,\"cache_creation_input_tokens\":2000,"
                               "\"cache_read_input_tokens\":0,\"output_tokens\":50}");
  assert_int_equal(u.input_cache_write, 2000);
  double want = 10 * 3e-6 + 2000 * 3.75e-6 + 50 * 15e-6;
  assert_usd(kl_prices_cost(P, "claude-sonnet-4-5", &u, NULL, NULL), want);
  kl_buf b = KL_BUF_INIT;
  kl_prices_cost(P, "claude-sonnet-4-5", &u, NULL, &b);
  cJSON *j = cJSON_Parse(b.data);
  assert_usd(cJSON_GetObjectItem(j, "input_cache_write")->valuedouble, 2000 * 3.75e-6);
  cJSON_Delete(j);
  kl_buf_free(&b);
}

/* 4. Reasoning tokens not billed: o-series completion_tokens INCLUDE reasoning_tokens, which
 *    are billed at the output price; dropping them (or subtracting them twice) under-bills. */
static void test_reasoning_tokens_billed_as_output(void **state) {
  (void)state;
  kl_usage u = openai_usage("{\"prompt_tokens\":100,\"completion_tokens\":1000,"
                            "\"completion_tokens_details\":{\"reasoning_tokens\":800}}");
  assert_int_equal(u.output, 200);
  assert_int_equal(u.output_reasoning, 800);
  assert_int_equal(kl_usage_output_total(&u), 1000);
  assert_usd(kl_prices_cost(P, "o3", &u, NULL, NULL), 100 * 2e-6 + 1000 * 8e-6);
  assert_usd(kl_prices_cost(P, "o1", &u, NULL, NULL), 100 * 15e-6 + 1000 * 60e-6);
}

/* 5. Anthropic cache buckets double-counted: Anthropic's input_tokens EXCLUDES both cache
 *    buckets; treating it like OpenAI (subtracting) or adding the caches to input twice gives
 *    the wrong total.  Each bucket counts once: 100 + 1000 + 500 = 1600 input, never 2600. */
static void test_anthropic_cache_buckets_counted_once(void **state) {
  (void)state;
  kl_usage u = anthropic_usage("{\"input_tokens\":100,\"cache_read_input_tokens\":1000,"
                               "\"cache_creation_input_tokens\":500,\"output_tokens\":20}");
  assert_int_equal(u.input, 100);
  assert_int_equal(u.input_cached, 1000);
  assert_int_equal(u.input_cache_write, 500);
  assert_int_equal(kl_usage_input_total(&u), 1600);
  double want = 100 * 3e-6 + 1000 * 0.3e-6 + 500 * 3.75e-6 + 20 * 15e-6;
  assert_usd(kl_prices_cost(P, "claude-sonnet-4-5", &u, NULL, NULL), want);
  /* through the OpenAI translation and back (what a chat client of an anthropic deployment
   * sees), still 1600 and the same cost */
  cJSON *oj = kl_anth_openai_usage_new(&u);
  assert_int_equal(kl_json_int(oj, "prompt_tokens", 0), 1600);
  kl_usage back = kl_usage_from_openai(oj);
  cJSON_Delete(oj);
  assert_int_equal(kl_usage_input_total(&back), 1600);
  /* stored: usage total and cost */
  cJSON *obs = trace_one("claude-sonnet-4-5", "claude-sonnet-4-5", u);
  cJSON *uj = cJSON_GetObjectItem(obs, "usage");
  assert_int_equal(kl_json_int(uj, "total", 0), 1620);
  assert_string_equal(kl_json_str(uj, "convention"), "anthropic");
  assert_usd(cJSON_GetObjectItem(obs, "cost_usd")->valuedouble, want);
  cJSON_Delete(obs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streamed_usage_in_final_chunk_is_billed),
      cmocka_unit_test(test_cached_input_billed_at_cached_price),
      cmocka_unit_test(test_cache_writes_billed_at_cache_write_price),
      cmocka_unit_test(test_reasoning_tokens_billed_as_output),
      cmocka_unit_test(test_anthropic_cache_buckets_counted_once),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
