/* test_llm_usage.c: OpenAI usage -> non-overlapping buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "llm/kl_llm.h"

static kl_usage from(const char *json) {
  cJSON *j = cJSON_Parse(json);
  kl_usage u = kl_usage_from_openai(j);
  cJSON_Delete(j);
  return u;
}

static void test_plain(void **state) {
  (void)state;
  kl_usage u = from("{\"prompt_tokens\":120,\"completion_tokens\":30,\"total_tokens\":150}");
  assert_true(u.present);
  assert_false(u.estimated);
  assert_int_equal(u.input, 120);
  assert_int_equal(u.input_cached, 0);
  assert_int_equal(u.input_cache_write, 0);
  assert_int_equal(u.output, 30);
  assert_int_equal(u.output_reasoning, 0);
  assert_int_equal(kl_usage_input_total(&u), 120);
  assert_int_equal(kl_usage_output_total(&u), 30);
}

static void test_cached_and_reasoning(void **state) {
  (void)state;
  kl_usage u = from("{\"prompt_tokens\":2000,\"completion_tokens\":500,\"total_tokens\":2500,"
                    "\"prompt_tokens_details\":{\"cached_tokens\":1536,\"audio_tokens\":0},"
                    "\"completion_tokens_details\":{\"reasoning_tokens\":448}}");
  assert_int_equal(u.input, 464);
  assert_int_equal(u.input_cached, 1536);
  assert_int_equal(u.output, 52);
  assert_int_equal(u.output_reasoning, 448);
  /* the totals give back what OpenAI reported: nothing counted twice */
  assert_int_equal(kl_usage_input_total(&u), 2000);
  assert_int_equal(kl_usage_output_total(&u), 500);
}

static void test_big_integers_exact(void **state) {
  (void)state;
  /* beyond INT_MAX: cJSON's valueint would saturate */
  kl_usage u = from("{\"prompt_tokens\":5000000000,\"completion_tokens\":4294967297}");
  assert_int_equal(u.input, 5000000000LL);
  assert_int_equal(u.output, 4294967297LL);
}

static void test_nonsense_clamped(void **state) {
  (void)state;
  kl_usage u = from("{\"prompt_tokens\":10,\"completion_tokens\":-5,"
                    "\"prompt_tokens_details\":{\"cached_tokens\":50},"
                    "\"completion_tokens_details\":{\"reasoning_tokens\":\"x\"}}");
  assert_true(u.present);
  assert_int_equal(u.input, 0);
  assert_int_equal(u.input_cached, 50);
  assert_int_equal(u.output, 0);
  assert_int_equal(u.output_reasoning, 0);
  u = from("{\"prompt_tokens\":10,\"completion_tokens\":5,\"completion_tokens_details\":{\"reasoning_tokens\":9}}");
  assert_int_equal(u.output, 0);
  assert_int_equal(u.output_reasoning, 9);
}

static void test_absent(void **state) {
  (void)state;
  kl_usage u = kl_usage_from_openai(NULL);
  assert_false(u.present);
  assert_int_equal(u.input + u.output + u.input_cached + u.output_reasoning, 0);
  u = from("null");
  assert_false(u.present);
  u = from("[1,2]");
  assert_false(u.present);
  u = from("{}");
  assert_true(u.present); /* an empty usage object is still a report (of zero) */
  assert_int_equal(u.input, 0);
}

static void test_json(void **state) {
  (void)state;
  kl_usage u = {.input = 1, .input_cached = 2, .input_cache_write = 3, .output = 4, .output_reasoning = 5, .present = true};
  kl_buf b = KL_BUF_INIT;
  kl_usage_to_json(&u, &b);
  assert_string_equal(b.data, "{\"input\":1,\"input_cached\":2,\"input_cache_write\":3,\"output\":4,"
                              "\"output_reasoning\":5,\"total\":15}");
  kl_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),         cmocka_unit_test(test_cached_and_reasoning),
      cmocka_unit_test(test_big_integers_exact), cmocka_unit_test(test_nonsense_clamped),
      cmocka_unit_test(test_absent),        cmocka_unit_test(test_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
