/* test_store_obs.c: kl_obs clone and the spill-line JSON round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "store/store_int.h"

static kl_obs sample(void) {
  kl_obs o;
  memset(&o, 0, sizeof o);
  strcpy(o.id, "00f067aa0ba902b7");
  strcpy(o.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  strcpy(o.parent_id, "aaaaaaaaaaaaaaaa");
  o.project_id = "p1";
  o.type = KL_OBS_GENERATION;
  o.name = "chat \"quoted\"\n\ttab \\ back";
  o.level = "ERROR";
  o.status_message = "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80";
  o.http_status = 502;
  o.start_ns = 1764184176123456789LL;
  o.end_ns = 1764184176987654321LL;
  o.completion_start_ns = 1764184176200000001LL;
  o.model = "gpt-4o";
  o.input_json = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\\u0000\"}]}";
  o.usage_input = 9007199254740993LL; /* 2^53 + 1: must not pass through a double */
  o.usage_output_reasoning = 7;
  o.usage_estimated = true;
  o.cost_usd = 0.1 + 0.2;
  o.tags_json = "[\"a\",\"b\"]";
  o.release = "";
  return o;
}

static void test_clone_is_deep(void **state) {
  (void)state;
  char name[] = "mutable";
  kl_obs o = sample();
  o.name = name;
  kl_obs *c = kl_obs_clone(&o);
  name[0] = 'X';
  assert_string_equal(c->name, "mutable");
  assert_ptr_not_equal(c->model, o.model);
  assert_string_equal(c->model, "gpt-4o");
  assert_null(c->output_json);
  assert_string_equal(c->release, "");
  assert_string_equal(c->trace_id, o.trace_id);
  kl_obs_free(c);
}

static void test_clone_truncates_long_ids(void **state) {
  (void)state;
  kl_obs o = sample();
  memset(o.id, 'x', sizeof o.id); /* not terminated */
  kl_obs *c = kl_obs_clone(&o);
  assert_int_equal(strlen(c->id), KL_OBS_ID_MAX);
  kl_obs_free(c);
}

static void test_json_round_trip(void **state) {
  (void)state;
  kl_obs o = sample();
  kl_buf b = KL_BUF_INIT;
  kl_obs_to_json(&o, &b);
  assert_null(strchr(b.data, '\n')); /* one line */
  kl_err err;
  kl_err_clear(&err);
  kl_obs *r = kl_obs_from_json(b.data, b.len, &err);
  assert_non_null(r);
  assert_string_equal(r->id, o.id);
  assert_string_equal(r->parent_id, o.parent_id);
  assert_string_equal(r->name, o.name);
  assert_string_equal(r->status_message, o.status_message);
  assert_string_equal(r->input_json, o.input_json);
  assert_string_equal(r->release, "");
  assert_null(r->user_id);
  assert_true(r->start_ns == o.start_ns);
  assert_true(r->end_ns == o.end_ns);
  assert_true(r->completion_start_ns == o.completion_start_ns);
  assert_true(r->usage_input == o.usage_input);
  assert_int_equal(r->usage_output_reasoning, 7);
  assert_int_equal(r->http_status, 502);
  assert_true(r->usage_estimated);
  assert_true(r->cost_usd == o.cost_usd);
  kl_obs_free(r);
  kl_buf_free(&b);
}

static void test_from_json_rejects(void **state) {
  (void)state;
  const char *bad[] = {"", "{", "[]", "{\"trace_id\":\"t\"}", "{\"id\":\"a\"}",
                       "{\"id\":\"a\",\"trace_id\":\"t\",\"start_ns\":\"12x\"}",
                       "{\"id\":\"a\",\"trace_id\":\"t\",\"start_ns\":true}", "{\"id\":\"\",\"trace_id\":\"t\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_err err;
    kl_err_clear(&err);
    assert_null(kl_obs_from_json(bad[i], strlen(bad[i]), &err));
    assert_int_equal(err.code, 400);
  }
  const char *ok = "{\"id\":\"a\",\"trace_id\":\"t\",\"start_ns\":12}";
  kl_obs *o = kl_obs_from_json(ok, strlen(ok), NULL);
  assert_non_null(o);
  assert_int_equal(o->start_ns, 12);
  assert_true(o->cost_usd < 0);
  kl_obs_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clone_is_deep),
      cmocka_unit_test(test_clone_truncates_long_ids),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_from_json_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
