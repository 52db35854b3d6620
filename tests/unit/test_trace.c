/* test_trace.c: trace context extraction, secret scrubbing, and generations landing in a real
 * store with their cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/kl_trace.h"
#include "store_test_pg.h"

typedef struct { const char *k[8], *v[8]; int n; } hdrs;
static const char *hget(void *ud, const char *name) {
  hdrs *h = ud;
  for (int i = 0; i < h->n; i++)
    if (!strcmp(h->k[i], name)) return h->v[i];
  return NULL;
}

static void test_ctx_defaults(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  kl_trace_ctx c;
  kl_err e = {0};
  hdrs h = {0};
  assert_int_equal(kl_trace_ctx_init(&c, a, hget, &h, NULL, NULL, &e), 0);
  assert_true(kl_id_is_hex(c.trace_id, 32));
  assert_true(kl_id_is_hex(c.span_id, 16));
  assert_string_equal(c.parent_id, "");
  assert_null(c.user_id);
  kl_trace_ctx c2;
  kl_trace_ctx_init(&c2, a, hget, &h, NULL, NULL, &e);
  assert_string_not_equal(c.trace_id, c2.trace_id);
  kl_arena_free(a);
}

static void test_ctx_headers(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  kl_trace_ctx c;
  kl_err e = {0};
  hdrs h = {{"traceparent", "x-keel-user", "x-keel-session", "x-keel-tags", "x-keel-metadata"},
            {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "alice", "s1", " a, b ,,c ",
             "{\"k\":\"header\",\"h\":1}"},
            5};
  cJSON *meta = cJSON_Parse("{\"k\":\"body\",\"b\":2}");
  assert_int_equal(kl_trace_ctx_init(&c, a, hget, &h, "body-user", meta, &e), 0);
  assert_string_equal(c.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert_string_equal(c.parent_id, "00f067aa0ba902b7");
  assert_string_equal(c.user_id, "alice");
  assert_string_equal(c.session_id, "s1");
  assert_string_equal(c.tags_json, "[\"a\",\"b\",\"c\"]");
  cJSON *m = cJSON_Parse(c.metadata_json);
  assert_string_equal(kl_json_str(m, "k"), "header");
  assert_int_equal(kl_json_int(m, "h", 0), 1);
  assert_int_equal(kl_json_int(m, "b", 0), 2);
  cJSON_Delete(m);
  cJSON_Delete(meta);
  kl_arena_free(a);
}

static void test_ctx_body_user_and_json_tags(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  kl_trace_ctx c;
  kl_err e = {0};
  hdrs h = {{"x-keel-tags"}, {"[\"x\",\"y\"]"}, 1};
  cJSON *meta = cJSON_Parse("{\"session_id\":\"from-meta\"}");
  assert_int_equal(kl_trace_ctx_init(&c, a, hget, &h, "bob", meta, &e), 0);
  assert_string_equal(c.user_id, "bob");
  assert_string_equal(c.session_id, "from-meta");
  assert_string_equal(c.tags_json, "[\"x\",\"y\"]");
  cJSON_Delete(meta);
  kl_arena_free(a);
}

static void test_ctx_errors(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  kl_trace_ctx c;
  const char *bad[][2] = {{"traceparent", "00-zz-00f067aa0ba902b7-01"},
                          {"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
                          {"x-keel-metadata", "[1,2]"},
                          {"x-keel-metadata", "{broken"},
                          {"x-keel-tags", "[1]"},
                          {"x-keel-trace-id", "abc"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kl_err e = {0};
    hdrs h = {{bad[i][0]}, {bad[i][1]}, 1};
    assert_int_equal(kl_trace_ctx_init(&c, a, hget, &h, NULL, NULL, &e), -1);
    assert_int_equal(e.code, 400);
    assert_non_null(strstr(e.msg, bad[i][0]));
  }
  kl_arena_free(a);
}

static void test_scrub(void **st) {
  (void)st;
  kl_tracer_opts o = {0};
  kl_tracer *t = kl_tracer_new(&o);
  kl_tracer_add_secret(t, "sk-live-1234567890");
  kl_tracer_add_secret(t, "short"); /* ignored: too short to be a key */
  kl_arena *a = kl_arena_new(0);
  const char *in = "{\"k\":\"sk-live-1234567890\",\"h\":\"Bearer abcdefghijkl\",\"x\":\"short text sk-live-1234567890\"}";
  const char *out = kl_tracer_scrub(t, a, in);
  assert_null(strstr(out, "sk-live-1234567890"));
  assert_null(strstr(out, "abcdefghijkl"));
  assert_non_null(strstr(out, "short text"));
  cJSON *j = cJSON_Parse(out);
  assert_non_null(j); /* still valid JSON */
  assert_string_equal(kl_json_str(j, "k"), "[REDACTED]");
  cJSON_Delete(j);
  const char *clean = "nothing to see";
  assert_ptr_equal(kl_tracer_scrub(t, a, clean), clean);
  kl_arena_free(a);
  kl_tracer_free(t);
}

static void test_generation_to_store(void **st) {
  (void)st;
  char dir[] = "/tmp/keel-test-trace-XXXXXX";
  assert_non_null(mkdtemp(dir));
  kl_err e = {0};
  kl_store_opts so = {.data_dir = dir};
  kl_test_store_opts(&so);
  kl_store *s = kl_store_open(&so, &e);
  assert_non_null(s);
  kl_prices *p = kl_prices_load_default(&e);
  assert_non_null(p);
  kl_tracer_opts o = {.store = s, .prices = p, .capture_content = true};
  kl_tracer *t = kl_tracer_new(&o);
  kl_tracer_add_secret(t, "sk-provider-key-xyz");
  kl_arena *a = kl_arena_new(0);
  kl_trace_ctx c;
  hdrs h = {{"x-keel-user"}, {"carol"}, 1};
  assert_int_equal(kl_trace_ctx_init(&c, a, hget, &h, NULL, NULL, &e), 0);
  kl_generation g = {
      .ctx = &c, .name = "chat.completions", .start_ns = 1700000000000000000LL,
      .end_ns = 1700000000250000000LL, .first_token_ns = 1700000000100000000LL,
      .model = "fast", .provider = "openai", .upstream_model = "gpt-4o",
      .input_json = "[{\"role\":\"user\",\"content\":\"key sk-provider-key-xyz\"}]",
      .output_json = "{\"role\":\"assistant\",\"content\":\"hi\"}", .finish_reason = "stop",
      .usage = {.input = 1000, .input_cached = 500, .output = 200, .present = true}, .http_status = 200};
  double cost_out = 0;
  assert_int_equal(kl_tracer_generation(t, &g, &cost_out, &e), 0);
  assert_true(cost_out > 0.005125 - 1e-12 && cost_out < 0.005125 + 1e-12);
  kl_store_flush(s);
  kl_buf out = KL_BUF_INIT;
  assert_int_equal(kl_store_get_trace(s, NULL, c.trace_id, &out, &e), 0);
  cJSON *j = cJSON_Parse(out.data);
  assert_non_null(j);
  assert_null(strstr(out.data, "sk-provider-key-xyz"));
  cJSON *obs = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "observations"), 0);
  assert_string_equal(kl_json_str(obs, "type"), "GENERATION");
  assert_string_equal(kl_json_str(obs, "upstream_model"), "gpt-4o");
  /* gpt-4o: 2.5/M input, 1.25/M cached, 10/M output */
  double cost = cJSON_GetObjectItem(obs, "cost_usd")->valuedouble;
  assert_true(cost > 0.005125 - 1e-12 && cost < 0.005125 + 1e-12); /* 1000*2.5e-6 + 500*1.25e-6 + 200*10e-6 */
  cJSON_Delete(j);
  kl_buf_free(&out);
  kl_arena_free(a);
  kl_tracer_free(t);
  kl_prices_free(p);
  kl_store_close(s);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ctx_defaults),        cmocka_unit_test(test_ctx_headers),
      cmocka_unit_test(test_ctx_body_user_and_json_tags), cmocka_unit_test(test_ctx_errors),
      cmocka_unit_test(test_scrub),               cmocka_unit_test(test_generation_to_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
