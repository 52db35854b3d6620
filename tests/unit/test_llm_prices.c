/* test_llm_prices.c: the Langfuse price table, tiers, fallbacks, overrides, cost JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "llm/kl_llm.h"

static void usd_eq(double got, double want, int line) {
  if (!(fabs(got - want) < 1e-12 + fabs(want) * 1e-9)) fail_msg("line %d: cost %.17g, want %.17g", line, got, want);
}
#define assert_usd(got, want) usd_eq((got), (double)(want), __LINE__)

static kl_prices *P;

static int setup(void **state) {
  (void)state;
  kl_err err;
  kl_err_clear(&err);
  P = kl_prices_load_default(&err);
  if (!P) fprintf(stderr, "load: %s\n", err.msg);
  return P ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  kl_prices_free(P);
  return 0;
}

static kl_usage U(int64_t in, int64_t cached, int64_t write, int64_t out, int64_t reasoning) {
  return (kl_usage){.input = in, .input_cached = cached, .input_cache_write = write, .output = out,
                    .output_reasoning = reasoning, .present = true};
}

static double cost(const char *model, kl_usage u, const char *params) {
  cJSON *pj = params ? cJSON_Parse(params) : NULL;
  double c = kl_prices_cost(P, model, &u, pj, NULL);
  cJSON_Delete(pj);
  return c;
}

/* Every one of the 167 models loads on its own, and resolves in the full table exactly as in
 * a table holding only itself (so the first-match rule never hides a model). */
static void test_loads_all_models(void **state) {
  (void)state;
  cJSON *root = cJSON_ParseWithLength((const char *)kl_embed_prices, kl_embed_prices_len);
  assert_non_null(root);
  assert_int_equal(cJSON_GetArraySize(root), 167);
  int resolved = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, root) {
    cJSON *one = cJSON_CreateArray();
    cJSON_AddItemToArray(one, cJSON_Duplicate(m, 1));
    char *s = cJSON_PrintUnformatted(one);
    kl_err err;
    kl_err_clear(&err);
    kl_prices *p1 = kl_prices_load(s, strlen(s), &err);
    if (!p1) fail_msg("%s", err.msg);
    const char *name = cJSON_GetObjectItem(m, "modelName")->valuestring;
    kl_usage u = U(1000, 100, 10, 500, 50);
    double a = kl_prices_cost(p1, name, &u, NULL, NULL);
    double b = kl_prices_cost(P, name, &u, NULL, NULL);
    assert_usd(b, a);
    if (a >= 0) resolved++;
    kl_prices_free(p1);
    cJSON_free(s);
    cJSON_Delete(one);
  }
  cJSON_Delete(root);
  /* a few Langfuse modelNames are not matched by their own pattern (e.g. claude-3.5-sonnet-20241022) */
  assert_true(resolved >= 155);
}

static void test_gpt4o(void **state) {
  (void)state;
  /* 1000 uncached + 500 cached input, 200 output */
  assert_usd(cost("gpt-4o", U(1000, 500, 0, 200, 0), NULL), 1000 * 2.5e-6 + 500 * 1.25e-6 + 200 * 10e-6);
  assert_usd(cost("openai/gpt-4o", U(1000, 0, 0, 0, 0), NULL), 2.5e-3);
  assert_usd(cost("GPT-4O", U(1000, 0, 0, 0, 0), NULL), 2.5e-3); /* (?i) */
  assert_usd(cost("gpt-4o-mini", U(1000, 1000, 0, 1000, 0), NULL), 1000 * 1.5e-7 + 1000 * 7.5e-8 + 1000 * 6e-7);
  /* zero usage costs zero, not -1 */
  assert_usd(cost("gpt-4o", U(0, 0, 0, 0, 0), NULL), 0);
}

static void test_service_tier(void **state) {
  (void)state;
  assert_usd(cost("gpt-4o", U(1000, 0, 0, 1000, 0), "{\"service_tier\":\"priority\"}"), 1000 * 4.25e-6 + 1000 * 17e-6);
  assert_usd(cost("gpt-4o", U(1000, 0, 0, 1000, 0), "{\"service_tier\":\"fast\"}"), 1000 * 4.25e-6 + 1000 * 17e-6);
  assert_usd(cost("gpt-4o", U(1000, 0, 0, 1000, 0), "{\"service_tier\":\"default\"}"), 1000 * 2.5e-6 + 1000 * 10e-6);
  assert_usd(cost("gpt-4o", U(1000, 0, 0, 1000, 0), "{\"temperature\":1}"), 1000 * 2.5e-6 + 1000 * 10e-6);
  assert_usd(cost("o3", U(1000, 0, 0, 100, 900), "{\"service_tier\":\"flex\"}"), 1000 * 1e-6 + 1000 * 4e-6);
}

static void test_claude_cache(void **state) {
  (void)state;
  double want = 100 * 3e-6 + 1000 * 3e-7 + 2000 * 3.75e-6 + 500 * 1.5e-5;
  assert_usd(cost("claude-sonnet-4-5", U(100, 1000, 2000, 500, 0), NULL), want);
  assert_usd(cost("claude-sonnet-4-5-20250929", U(100, 1000, 2000, 500, 0), NULL), want);
  assert_usd(cost("anthropic/claude-sonnet-4-5", U(100, 1000, 2000, 500, 0), NULL), want);
  assert_usd(cost("us.anthropic.claude-sonnet-4-5-20250929-v1:0", U(100, 1000, 2000, 500, 0), NULL), want);
}

static void test_reasoning(void **state) {
  (void)state;
  /* o3: completion 1000 of which 900 reasoning, both at the output price */
  assert_usd(cost("o3", U(1000, 0, 0, 100, 900), NULL), 1000 * 2e-6 + 1000 * 8e-6);
  assert_usd(cost("o4-mini", U(1000, 1000, 0, 100, 900), NULL), 1000 * 1.1e-6 + 1000 * 2.75e-7 + 1000 * 4.4e-6);
  /* o3-pro has no cached price: cache reads fall back to the input price */
  assert_usd(cost("o3-pro", U(0, 1000, 0, 0, 0), NULL), 1000 * 2e-5);
}

static void test_large_context_tiers(void **state) {
  (void)state;
  /* gemini-2.5-pro: (input|prompt|cached) > 200k counts uncached + cached input */
  assert_usd(cost("gemini-2.5-pro", U(150000, 40000, 0, 1000, 0), NULL), 150000 * 1.25e-6 + 40000 * 1.25e-7 + 1000 * 1e-5);
  assert_usd(cost("gemini-2.5-pro", U(150000, 60000, 0, 1000, 0), NULL), 150000 * 2.5e-6 + 60000 * 2.5e-7 + 1000 * 1.5e-5);
  assert_usd(cost("gemini-2.5-pro", U(200000, 0, 0, 0, 0), NULL), 200000 * 1.25e-6); /* gt, not gte */
  /* gpt-5.4: tiers evaluated by ascending priority, most specific first */
  assert_usd(cost("gpt-5.4", U(300000, 0, 0, 1000, 0), NULL), 300000 * 5e-6 + 1000 * 2.25e-5);
  assert_usd(cost("gpt-5.4", U(300000, 0, 0, 1000, 0), "{\"service_tier\":\"flex\"}"), 300000 * 2.5e-6 + 1000 * 1.125e-5);
  assert_usd(cost("gpt-5.4", U(1000, 0, 0, 1000, 0), "{\"service_tier\":\"flex\"}"), 1000 * 1.25e-6 + 1000 * 7.5e-6);
  assert_usd(cost("gpt-5.4", U(1000, 0, 0, 1000, 0), NULL), 1000 * 2.5e-6 + 1000 * 1.5e-5);
  /* gpt-5.6-sol: (input|cache_write) > 272k includes cache writes */
  assert_usd(cost("gpt-5.6-sol", U(200000, 0, 100000, 0, 0), NULL), 200000 * 1e-5 + 100000 * 1.25e-5);
  assert_usd(cost("gpt-5.6-sol", U(200000, 0, 10000, 0, 0), NULL), 200000 * 5e-6 + 10000 * 6.25e-6);
}

static void test_unknown_and_json(void **state) {
  (void)state;
  kl_buf b = KL_BUF_INIT;
  kl_usage u = U(1000, 500, 0, 200, 0);
  assert_true(kl_prices_cost(P, "no-such-model", &u, NULL, &b) == -1);
  assert_int_equal(b.len, 0);
  assert_true(kl_prices_cost(P, "", &u, NULL, &b) == -1);
  assert_true(kl_prices_cost(P, "no-such-model", &u, NULL, NULL) == -1); /* cached "no match" */
  double c = kl_prices_cost(P, "gpt-4o", &u, NULL, &b);
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  assert_usd(cJSON_GetObjectItem(j, "input")->valuedouble, 1000 * 2.5e-6);
  assert_usd(cJSON_GetObjectItem(j, "input_cached")->valuedouble, 500 * 1.25e-6);
  assert_usd(cJSON_GetObjectItem(j, "input_cache_write")->valuedouble, 0);
  assert_usd(cJSON_GetObjectItem(j, "output")->valuedouble, 200 * 10e-6);
  assert_usd(cJSON_GetObjectItem(j, "output_reasoning")->valuedouble, 0);
  assert_usd(cJSON_GetObjectItem(j, "total")->valuedouble, c);
  cJSON_Delete(j);
  kl_buf_free(&b);
}

static void test_override(void **state) {
  (void)state;
  kl_err err;
  kl_prices *p = kl_prices_load_default(&err);
  assert_non_null(p);
  kl_price mine = {1e-6, -1, -1, 2e-6, -1};
  kl_prices_override(p, "my-model", &mine);
  kl_usage u = U(1000, 1000, 1000, 1000, 1000);
  /* unpriced buckets fall back: cached and cache writes to input, reasoning to output */
  assert_usd(kl_prices_cost(p, "my-model", &u, NULL, NULL), 3000 * 1e-6 + 2000 * 2e-6);
  assert_true(kl_prices_cost(p, "My-Model", &u, NULL, NULL) == -1); /* exact names only */
  kl_price g = {1e-3, 0, 0, 0, 0};
  kl_prices_override(p, "gpt-4o", &g);
  assert_usd(kl_prices_cost(p, "gpt-4o", &u, NULL, NULL), 1.0);
  assert_usd(kl_prices_cost(p, "openai/gpt-4o", &u, NULL, NULL), 1000 * (2.5e-6 + 1.25e-6 + 2.5e-6 + 10e-6 + 10e-6));
  kl_price g2 = {2e-3, 0, 0, 0, 0};
  kl_prices_override(p, "gpt-4o", &g2); /* replacing an override */
  assert_usd(kl_prices_cost(p, "gpt-4o", &u, NULL, NULL), 2.0);
  kl_prices_free(p);
}

static void test_custom_tables(void **state) {
  (void)state;
  kl_err err;
  const char *t1 = "[{\"modelName\":\"x\",\"matchPattern\":\"(?i)^x$\",\"pricingTiers\":[{\"isDefault\":true,"
                   "\"priority\":0,\"conditions\":[],\"prices\":{\"input\":1,\"output\":2}}]}]";
  const char *t2 = "[{\"modelName\":\"x\",\"matchPattern\":\"^x$\",\"pricingTiers\":[{\"isDefault\":true,"
                   "\"priority\":0,\"conditions\":[],\"prices\":{\"total\":5}}]}]";
  kl_prices *a = kl_prices_load(t1, strlen(t1), &err), *b = kl_prices_load(t2, strlen(t2), &err);
  assert_non_null(a);
  assert_non_null(b);
  kl_usage u = U(1, 0, 0, 1, 0);
  /* the per-thread cache is keyed by table: the same name resolves per table */
  assert_usd(kl_prices_cost(a, "X", &u, NULL, NULL), 3);
  assert_true(kl_prices_cost(b, "X", &u, NULL, NULL) == -1); /* case-sensitive pattern */
  assert_usd(kl_prices_cost(b, "x", &u, NULL, NULL), 10);    /* total-only prices */
  assert_usd(kl_prices_cost(a, "x", &u, NULL, NULL), 3);
  kl_prices_free(a);
  kl_prices_free(b);

  static const char *const bad[] = {
      "{}",
      "[{\"modelName\":\"x\",\"matchPattern\":\"(unclosed\",\"pricingTiers\":[{\"isDefault\":true,\"prices\":{}}]}]",
      "[{\"modelName\":\"x\",\"matchPattern\":\"^x$\",\"pricingTiers\":[{\"isDefault\":false,\"prices\":{}}]}]",
      ("[{\"modelName\":\"x\",\"matchPattern\":\"^x$\",\"pricingTiers\":[{\"isDefault\":true,\"prices\":{}},"
       "{\"priority\":1,\"conditions\":[{\"usageDetailPattern\":\"input\",\"operator\":\"between\",\"value\":1}],\"prices\":{}}]}]"),
      "[{\"matchPattern\":\"^x$\"}]",
      "not json",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_err_clear(&err);
    assert_null(kl_prices_load(bad[i], strlen(bad[i]), &err));
    assert_int_not_equal(err.code, 0);
    assert_true(strlen(err.msg) > 0);
  }
}

static void *thread_main(void *arg) {
  int *bad = arg;
  static const char *const names[] = {"gpt-4o", "o3", "claude-sonnet-4-5", "nope", "gemini-2.5-pro"};
  for (int i = 0; i < 2000; i++) {
    kl_usage u = U(1000, 0, 0, 0, 0);
    double c = kl_prices_cost(P, names[i % 5], &u, NULL, NULL);
    double want[] = {2.5e-3, 2e-3, 3e-3, -1, 1.25e-3};
    if (fabs(c - want[i % 5]) > 1e-12) (*bad)++;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pthread_t t[4];
  int bad[4] = {0};
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_main, &bad[i]);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) assert_int_equal(bad[i], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loads_all_models), cmocka_unit_test(test_gpt4o),
      cmocka_unit_test(test_service_tier),     cmocka_unit_test(test_claude_cache),
      cmocka_unit_test(test_reasoning),        cmocka_unit_test(test_large_context_tiers),
      cmocka_unit_test(test_unknown_and_json), cmocka_unit_test(test_override),
      cmocka_unit_test(test_custom_tables),    cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
