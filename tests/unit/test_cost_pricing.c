/* test_cost_pricing.c: where a recorded cost comes from: upstream-reported costs, the
 * precedence of configured prices over the table, effective dates (overrides and table), and
 * the usage convention recorded with the observation. */
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

#define D2025 1735689600000000000LL /* 2025-01-01T00:00:00Z */
#define D2026 1767225600000000000LL /* 2026-01-01T00:00:00Z */
#define DAY 86400000000000LL

static kl_usage U(int64_t in, int64_t out) { return (kl_usage){.input = in, .output = out, .present = true}; }

/* Prices a generation through the tracer (no store) and returns its recorded cost. */
static double trace_cost(const kl_prices *table, const kl_prices *dep, const char *model, const char *upstream,
                         kl_usage u, int64_t at) {
  kl_tracer_opts o = {.prices = table};
  kl_tracer *t = kl_tracer_new(&o);
  kl_trace_ctx c = {0};
  kl_generation g = {.ctx = &c, .start_ns = at, .end_ns = at, .model = model, .upstream_model = upstream,
                     .usage = u, .deployment_prices = dep};
  double cost = -2;
  kl_err e = {0};
  assert_int_equal(kl_tracer_generation(t, &g, &cost, &e), 0);
  kl_tracer_free(t);
  return cost;
}

/* (1) the deployment's price and a `prices:` entry for the public name beat the table's
 * price for the upstream model; the table by upstream model beats the table by public name */
static void test_precedence(void **state) {
  (void)state;
  kl_err e = {0};
  kl_prices *p = kl_prices_load_default(&e);
  assert_non_null(p);
  kl_usage u = U(1000, 1000);
  double table_4o = 1000 * 2.5e-6 + 1000 * 10e-6;
  /* no override: the upstream model's table price, even though "gpt-4o-mini" is a public
   * name the table also knows */
  assert_usd(trace_cost(p, NULL, "gpt-4o-mini", "gpt-4o", u, D2026), table_4o);
  /* unknown upstream: the table by public name */
  assert_usd(trace_cost(p, NULL, "gpt-4o", "my-finetune-xyz", u, D2026), table_4o);
  /* a `prices:` override for the public name wins over the table's upstream price (the bug) */
  kl_price fast = {1e-6, -1, -1, 1e-6, -1};
  kl_prices_override(p, "fast", &fast);
  assert_usd(trace_cost(p, NULL, "fast", "gpt-4o", u, D2026), 2000 * 1e-6);
  /* a `prices:` override for the upstream model wins over the table too */
  kl_price up = {2e-6, -1, -1, 2e-6, -1};
  kl_prices_override(p, "gpt-4o", &up);
  assert_usd(trace_cost(p, NULL, "other", "gpt-4o", u, D2026), 2000 * 2e-6);
  /* ... but not over an override for the public name */
  assert_usd(trace_cost(p, NULL, "fast", "gpt-4o", u, D2026), 2000 * 1e-6);
  /* the deployment's own price beats everything configured */
  kl_prices *dep = kl_prices_load("[]", 2, &e);
  assert_non_null(dep);
  kl_price mine = {3e-6, -1, -1, 3e-6, -1};
  kl_prices_override(dep, "fast", &mine);
  assert_usd(trace_cost(p, dep, "fast", "gpt-4o", u, D2026), 2000 * 3e-6);
  /* a reported cost beats the deployment's price */
  kl_usage r = u;
  r.cost_reported = true;
  r.reported_cost = 0.0123;
  assert_usd(trace_cost(p, dep, "fast", "gpt-4o", r, D2026), 0.0123);
  kl_prices_free(dep);
  kl_prices_free(p);
}

static void test_cost_source_in_json(void **state) {
  (void)state;
  kl_err e = {0};
  kl_prices *p = kl_prices_load_default(&e);
  kl_price mine = {1e-6, -1, -1, 1e-6, -1};
  kl_prices_override(p, "gpt-4o", &mine);
  kl_usage u = U(10, 10);
  kl_buf b = KL_BUF_INIT;
  kl_cost_source src = KL_COST_NONE;
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "gpt-4o", D2026, &u, NULL, &src, &b), 20e-6);
  assert_int_equal(src, KL_COST_CONFIG);
  assert_non_null(strstr(b.data, "\"source\":\"config\""));
  kl_buf_reset(&b);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_TABLE, "gpt-4o", D2026, &u, NULL, &src, &b), 10 * 2.5e-6 + 10 * 10e-6);
  assert_int_equal(src, KL_COST_TABLE);
  assert_non_null(strstr(b.data, "\"source\":\"table\""));
  kl_buf_reset(&b);
  assert_true(kl_prices_cost_at(p, KL_PRICES_OVERRIDES, "gpt-4o-mini", D2026, &u, NULL, &src, &b) == -1);
  assert_int_equal(src, KL_COST_NONE);
  assert_int_equal(b.len, 0);
  assert_string_equal(kl_cost_source_name(KL_COST_UPSTREAM), "upstream");
  kl_buf_free(&b);
  kl_prices_free(p);
}

/* (3) overrides: the newest in effect at the call's start wins; none in effect falls through */
static void test_override_effective_dates(void **state) {
  (void)state;
  kl_err e = {0};
  kl_prices *p = kl_prices_load_default(&e);
  kl_price old = {1e-6, -1, -1, 1e-6, -1}, cur = {2e-6, -1, -1, 2e-6, -1};
  kl_prices_override_at(p, "gpt-4o", D2026, &cur); /* order of adding does not matter */
  kl_prices_override_at(p, "gpt-4o", D2025, &old);
  kl_usage u = U(1000, 0);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "gpt-4o", D2026 - 1, &u, NULL, NULL, NULL), 1000 * 1e-6);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "gpt-4o", D2026, &u, NULL, NULL, NULL), 1000 * 2e-6);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "gpt-4o", D2026 + 400 * DAY, &u, NULL, NULL, NULL), 1000 * 2e-6);
  /* before both: the table */
  kl_cost_source src;
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "gpt-4o", D2025 - DAY, &u, NULL, &src, NULL), 1000 * 2.5e-6);
  assert_int_equal(src, KL_COST_TABLE);
  assert_true(kl_prices_cost_at(p, KL_PRICES_OVERRIDES, "gpt-4o", D2025 - DAY, &u, NULL, NULL, NULL) == -1);
  /* the same date again replaces */
  kl_price repl = {5e-6, -1, -1, 5e-6, -1};
  kl_prices_override_at(p, "gpt-4o", D2026, &repl);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "gpt-4o", D2026, &u, NULL, NULL, NULL), 1000 * 5e-6);
  kl_prices_free(p);
}

/* (3) the table: dated model versions (same matchPattern) and dated default tiers */
static void test_table_effective_dates(void **state) {
  (void)state;
  kl_err e = {0};
  const char *t =
      "[{\"modelName\":\"m\",\"matchPattern\":\"^m$\",\"pricingTiers\":[{\"isDefault\":true,\"prices\":"
      "{\"input\":1,\"output\":1}}]},"
      " {\"modelName\":\"m\",\"matchPattern\":\"^m$\",\"effectiveFrom\":\"2026-01-01\",\"pricingTiers\":"
      "[{\"isDefault\":true,\"prices\":{\"input\":2,\"output\":2}}]},"
      " {\"modelName\":\"n\",\"matchPattern\":\"^n$\",\"pricingTiers\":["
      "  {\"isDefault\":true,\"prices\":{\"input\":10}},"
      "  {\"isDefault\":true,\"effective_from\":\"2025-01-01T00:00:00Z\",\"prices\":{\"input\":20}},"
      "  {\"isDefault\":false,\"priority\":1,\"effectiveFrom\":\"2026-01-01\",\"conditions\":"
      "   [{\"usageDetailPattern\":\"input\",\"operator\":\"gt\",\"value\":5}],\"prices\":{\"input\":30}}]},"
      " {\"modelName\":\"future\",\"matchPattern\":\"^future$\",\"startDate\":\"2030-01-01\",\"pricingTiers\":"
      "[{\"isDefault\":true,\"prices\":{\"input\":1}}]}]";
  kl_prices *p = kl_prices_load(t, strlen(t), &e);
  if (!p) fail_msg("load: %s", e.msg);
  kl_usage u = U(10, 0);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "m", D2026 - 1, &u, NULL, NULL, NULL), 10);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "m", D2026, &u, NULL, NULL, NULL), 20);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "n", D2025 - 1, &u, NULL, NULL, NULL), 100);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "n", D2025, &u, NULL, NULL, NULL), 200);
  assert_usd(kl_prices_cost_at(p, KL_PRICES_ANY, "n", D2026, &u, NULL, NULL, NULL), 300); /* dated tier on */
  assert_true(kl_prices_cost_at(p, KL_PRICES_ANY, "future", D2026, &u, NULL, NULL, NULL) == -1);
  kl_prices_free(p);
  /* bad dates and two undated defaults are load errors */
  static const char *const bad[] = {
      "[{\"modelName\":\"x\",\"matchPattern\":\"^x$\",\"effectiveFrom\":\"soon\",\"pricingTiers\":"
      "[{\"isDefault\":true,\"prices\":{}}]}]",
      "[{\"modelName\":\"x\",\"matchPattern\":\"^x$\",\"pricingTiers\":[{\"isDefault\":true,\"effectiveFrom\":5,"
      "\"prices\":{}}]}]",
      "[{\"modelName\":\"x\",\"matchPattern\":\"^x$\",\"pricingTiers\":[{\"isDefault\":true,\"prices\":{}},"
      "{\"isDefault\":true,\"prices\":{}}]}]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kl_err be = {0};
    kl_prices *b = kl_prices_load(bad[i], strlen(bad[i]), &be);
    if (b) fail_msg("bad[%zu] loaded", i);
    assert_true(be.code != 0);
  }
  /* the shipped table still prices as before (no dates in Langfuse's data) */
  kl_prices *d = kl_prices_load_default(&e);
  assert_usd(kl_prices_cost_at(d, KL_PRICES_ANY, "gpt-4o", 1, &u, NULL, NULL, NULL), 10 * 2.5e-6);
  kl_prices_free(d);
}

/* (4) a cost the upstream reports is parsed where usage is parsed */
static void test_reported_cost_parsed(void **state) {
  (void)state;
  cJSON *j = cJSON_Parse("{\"prompt_tokens\":10,\"completion_tokens\":5,\"cost\":0.00042}");
  kl_usage u = kl_usage_from_openai(j);
  cJSON_Delete(j);
  assert_true(u.cost_reported);
  assert_usd(u.reported_cost, 0.00042);
  j = cJSON_Parse("{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_cost\":0.5}");
  u = kl_usage_from_openai(j);
  cJSON_Delete(j);
  assert_true(u.cost_reported);
  assert_usd(u.reported_cost, 0.5);
  /* absent, negative, non-numeric: not reported */
  static const char *const none[] = {"{\"prompt_tokens\":1}", "{\"prompt_tokens\":1,\"cost\":-1}",
                                     "{\"prompt_tokens\":1,\"cost\":\"0.1\"}"};
  for (size_t i = 0; i < 3; i++) {
    j = cJSON_Parse(none[i]);
    u = kl_usage_from_openai(j);
    cJSON_Delete(j);
    assert_false(u.cost_reported);
    assert_true(u.reported_cost == -1);
  }
  j = cJSON_Parse("{\"input_tokens\":3,\"output_tokens\":4,\"cost\":0.25}");
  u = kl_usage_from_anthropic(j);
  assert_true(u.cost_reported && u.reported_cost == 0.25);
  u = kl_usage_from_responses(j);
  assert_true(u.cost_reported && u.reported_cost == 0.25);
  cJSON_Delete(j);
  /* a streamed OpenRouter-style usage chunk carries it to the assembled result */
  kl_chat_stream *s = kl_chat_stream_new();
  const char *c = "{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"cost\":0.001}}";
  assert_int_equal(kl_chat_stream_feed(s, c, strlen(c)), KL_CHUNK_USAGE_ONLY);
  kl_arena *a = kl_arena_new(0);
  kl_chat_result r;
  kl_chat_stream_result(s, a, &r);
  assert_true(r.usage.cost_reported);
  assert_usd(r.usage.reported_cost, 0.001);
  kl_arena_free(a);
  kl_chat_stream_free(s);
}

/* (4)+(5) end to end into a store: the reported cost wins and is marked; the convention is
 * stored with the usage */
static void test_reported_cost_and_convention_stored(void **state) {
  (void)state;
  char dir[] = "/tmp/keel-test-costsrc-XXXXXX";
  assert_non_null(mkdtemp(dir));
  kl_err e = {0};
  kl_store_opts so = {.data_dir = dir};
  kl_test_store_opts(&so);
  kl_store *s = kl_store_open(&so, &e);
  assert_non_null(s);
  kl_prices *p = kl_prices_load_default(&e);
  kl_tracer_opts o = {.store = s, .prices = p};
  kl_tracer *t = kl_tracer_new(&o);
  cJSON *uj = cJSON_Parse("{\"prompt_tokens\":1000,\"completion_tokens\":100,\"cost\":0.0777}");
  cJSON *rj = cJSON_Parse("{\"input_tokens\":1000,\"output_tokens\":100,"
                          "\"input_tokens_details\":{\"cached_tokens\":400}}");
  kl_usage us[2] = {kl_usage_from_openai(uj), kl_usage_from_responses(rj)};
  cJSON_Delete(uj);
  cJSON_Delete(rj);
  kl_trace_ctx c[2];
  memset(c, 0, sizeof c);
  for (int i = 0; i < 2; i++) {
    kl_id_trace(c[i].trace_id);
    kl_id_span(c[i].span_id);
    kl_generation g = {.ctx = &c[i], .name = "x", .start_ns = kl_now_ns(), .end_ns = kl_now_ns(), .model = "gpt-4o",
                       .upstream_model = "gpt-4o", .usage = us[i], .http_status = 200};
    assert_int_equal(kl_tracer_generation(t, &g, NULL, &e), 0);
  }
  kl_store_flush(s);
  const char *want_conv[2] = {"openai", "responses"};
  for (int i = 0; i < 2; i++) {
    kl_buf out = KL_BUF_INIT;
    assert_int_equal(kl_store_get_trace(s, NULL, c[i].trace_id, &out, &e), 0);
    cJSON *j = cJSON_Parse(out.data);
    cJSON *obs = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "observations"), 0);
    cJSON *cost = cJSON_GetObjectItem(obs, "cost");
    assert_string_equal(kl_json_str(cJSON_GetObjectItem(obs, "usage"), "convention"), want_conv[i]);
    if (i == 0) {
      assert_usd(cJSON_GetObjectItem(obs, "cost_usd")->valuedouble, 0.0777);
      assert_string_equal(kl_json_str(cost, "source"), "upstream");
      assert_usd(cJSON_GetObjectItem(cost, "total")->valuedouble, 0.0777);
    } else {
      assert_usd(cJSON_GetObjectItem(obs, "cost_usd")->valuedouble, 600 * 2.5e-6 + 400 * 1.25e-6 + 100 * 10e-6);
      assert_string_equal(kl_json_str(cost, "source"), "table");
    }
    cJSON_Delete(j);
    kl_buf_free(&out);
  }
  kl_tracer_free(t);
  kl_prices_free(p);
  kl_store_close(s);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

/* (5) each normaliser names its convention; keel's own estimate names none */
static void test_conventions(void **state) {
  (void)state;
  cJSON *j = cJSON_Parse("{\"input_tokens\":1}");
  assert_string_equal(kl_usage_from_anthropic(j).convention, "anthropic");
  assert_string_equal(kl_usage_from_responses(j).convention, "responses");
  assert_string_equal(kl_usage_from_openai(j).convention, "openai");
  cJSON_Delete(j);
  assert_null(kl_usage_from_openai(NULL).convention);
  kl_usage u = {.input = 1, .present = true, .estimated = true};
  kl_buf b = KL_BUF_INIT;
  kl_usage_to_json(&u, &b);
  assert_null(strstr(b.data, "convention"));
  kl_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_cost_source_in_json),
      cmocka_unit_test(test_override_effective_dates),
      cmocka_unit_test(test_table_effective_dates),
      cmocka_unit_test(test_reported_cost_parsed),
      cmocka_unit_test(test_reported_cost_and_convention_stored),
      cmocka_unit_test(test_conventions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
