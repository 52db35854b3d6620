/* test_llm_mock_embed.c: the mock's embeddings endpoint (kl_mock_embeddings): response shape,
 * determinism, the geometry evaluations rely on (identical -> 1, shared words -> close,
 * unrelated -> far, order mostly irrelevant, unit norm), token-array inputs, base64 round
 * trip, 400s and faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"

#define MOCK_PLANNER kl_mock_embeddings
#include "mock_test_util.h"

#define MAXD 3072

/* Embeds one text (JSON string literal) and returns its vector (dims set). */
static void embed(const char *json_input, double *v, int *dims) {
  char body[2048];
  snprintf(body, sizeof body, "{\"model\":\"text-embedding-3-small\",\"input\":%s}", json_input);
  kl_mock_plan p = plan(body, NULL);
  assert_int_equal(p.status, 200);
  cJSON *j = body_json(&p);
  const cJSON *e = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0), "embedding");
  assert_true(cJSON_IsArray(e));
  int n = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, e) v[n++] = x->valuedouble;
  *dims = n;
  cJSON_Delete(j);
}

static double cosine_of(const char *a, const char *b) {
  static double va[MAXD], vb[MAXD];
  int da, db;
  embed(a, va, &da);
  embed(b, vb, &db);
  assert_int_equal(da, db);
  double dot = 0, na = 0, nb = 0;
  for (int i = 0; i < da; i++) dot += va[i] * vb[i], na += va[i] * va[i], nb += vb[i] * vb[i];
  assert_true(fabs(na - 1) < 1e-5 && fabs(nb - 1) < 1e-5); /* unit vectors */
  return dot;
}

static void test_shape_and_determinism(void **state) {
  (void)state;
  const char *body = "{\"model\":\"text-embedding-3-small\",\"input\":[\"hello world\",\"good bye\"]}";
  kl_mock_plan a = plan(body, NULL), b = plan(body, NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.fault, KL_MOCK_OK);
  assert_string_equal(a.content_type, "application/json");
  assert_int_equal(a.body_len, b.body_len);
  assert_memory_equal(a.body, b.body, a.body_len);
  cJSON *j = body_json(&a);
  assert_string_equal(kl_json_str(j, "object"), "list");
  assert_string_equal(kl_json_str(j, "model"), "text-embedding-3-small");
  const cJSON *data = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(data), 2);
  for (int i = 0; i < 2; i++) {
    const cJSON *d = cJSON_GetArrayItem(data, i);
    assert_string_equal(kl_json_str(d, "object"), "embedding");
    assert_int_equal(kl_json_int(d, "index", -1), i);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "embedding")), 256);
  }
  const cJSON *u = cJSON_GetObjectItem(j, "usage");
  assert_int_equal(kl_json_int(u, "prompt_tokens", -1), (11 + 3) / 4 + (8 + 3) / 4);
  assert_int_equal(kl_json_int(u, "total_tokens", -1), kl_json_int(u, "prompt_tokens", -2));
  cJSON_Delete(j);

  static double v[MAXD];
  int d;
  kl_mock_plan p = plan("{\"model\":\"m\",\"input\":\"x y\",\"dimensions\":64}", NULL);
  j = body_json(&p);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0), "embedding")), 64);
  cJSON_Delete(j);
  p = plan("{\"model\":\"m\",\"input\":\"x y\",\"dimensions\":3072,\"encoding_format\":\"float\"}", NULL);
  j = body_json(&p);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0), "embedding")), 3072);
  cJSON_Delete(j);

  /* the empty string: a fixed valid unit vector */
  static double e2[MAXD];
  embed("\"\"", v, &d);
  embed("\"\"", e2, &d);
  double norm = 0;
  for (int i = 0; i < d; i++) norm += v[i] * v[i], assert_true(v[i] == e2[i]);
  assert_true(fabs(norm - 1) < 1e-5);
  /* tiny dimensions still give unit vectors */
  p = plan("{\"model\":\"m\",\"input\":[\"\",\"a\",\"cat dog\"],\"dimensions\":1}", NULL);
  j = body_json(&p);
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "data")) {
    double x = cJSON_GetArrayItem(cJSON_GetObjectItem(it, "embedding"), 0)->valuedouble;
    assert_true(fabs(fabs(x) - 1) < 1e-6);
  }
  cJSON_Delete(j);
}

static void test_similarity(void **state) {
  (void)state;
  /* identical texts (in separate requests), and identical up to case and punctuation */
  assert_true(cosine_of("\"What is the capital of France?\"", "\"What is the capital of France?\"") > 0.99999);
  assert_true(cosine_of("\"The capital of France is Paris.\"", "\"the CAPITAL of france, is paris\"") > 0.99999);
  /* sharing most content words */
  double close1 = cosine_of("\"What is the capital of France?\"", "\"Which city is the capital of France?\"");
  double close2 = cosine_of("\"How do I reset my account password?\"", "\"How can I reset the password of my account?\"");
  double close3 = cosine_of("\"Paris is the capital and largest city of France.\"",
                            "\"The capital of France is Paris, its largest city.\"");
  assert_true(close1 > 0.6);
  assert_true(close2 > 0.6);
  assert_true(close3 > 0.6);
  /* word order mostly irrelevant */
  assert_true(cosine_of("\"paris capital france\"", "\"france capital paris\"") > 0.8);
  /* unrelated texts: every pair of these is far apart */
  const char *unrelated[] = {
      "\"What is the capital of France?\"",
      "\"How do I bake sourdough bread at home?\"",
      "\"Explain the rules of cricket to a beginner.\"",
      "\"Kubernetes pods keep restarting with exit code 137\"",
      "\"Recommend a good science fiction novel\"",
      "\"The stock market fell sharply on Tuesday\"",
  };
  size_t n = sizeof unrelated / sizeof unrelated[0];
  for (size_t i = 0; i < n; i++)
    for (size_t k = i + 1; k < n; k++) {
      double c = cosine_of(unrelated[i], unrelated[k]);
      if (!(c < 0.2)) fail_msg("%s vs %s: %f", unrelated[i], unrelated[k], c);
      assert_true(close1 > c + 0.4);
    }
  /* a partial overlap lies in between */
  double mid = cosine_of("\"capital of France\"", "\"capital of Germany\"");
  assert_true(mid > 0.2 && mid < close1);
}

static void test_tokens(void **state) {
  (void)state;
  kl_mock_plan p = plan("{\"model\":\"m\",\"input\":[[10,20,30],[30,20,10],[7,8,9]]}", NULL);
  cJSON *j = body_json(&p);
  double v[3][256];
  for (int i = 0; i < 3; i++) {
    const cJSON *e = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), i), "embedding");
    for (int k = 0; k < 256; k++) v[i][k] = cJSON_GetArrayItem(e, k)->valuedouble;
  }
  double c01 = 0, c02 = 0;
  for (int k = 0; k < 256; k++) c01 += v[0][k] * v[1][k], c02 += v[0][k] * v[2][k];
  assert_true(c01 > 0.8);
  assert_true(fabs(c02) < 0.2);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(j, "usage"), "prompt_tokens", -1), 9);
  cJSON_Delete(j);
  /* a single token array is one input */
  p = plan("{\"model\":\"m\",\"input\":[1,2,3,4]}", NULL);
  j = body_json(&p);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 1);
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(j, "usage"), "prompt_tokens", -1), 4);
  cJSON_Delete(j);
}

static int b64val(char c) {
  const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *p = strchr(t, c);
  return c && p ? (int)(p - t) : -1;
}

static void test_base64(void **state) {
  (void)state;
  const char *fb = "{\"model\":\"m\",\"input\":[\"the quick brown fox\",\"\"],\"dimensions\":67}";
  const char *bb = "{\"model\":\"m\",\"input\":[\"the quick brown fox\",\"\"],\"dimensions\":67,\"encoding_format\":\"base64\"}";
  kl_mock_plan pf = plan(fb, NULL), pb = plan(bb, NULL);
  cJSON *jf = body_json(&pf), *jb = body_json(&pb);
  for (int i = 0; i < 2; i++) {
    const cJSON *ef = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(jf, "data"), i), "embedding");
    const char *s = kl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(jb, "data"), i), "embedding");
    assert_non_null(s);
    size_t n = strlen(s);
    assert_int_equal(n, (67 * 4 + 2) / 3 * 4);
    unsigned char raw[67 * 4 + 3];
    size_t k = 0;
    for (size_t q = 0; q < n; q += 4) {
      int a = b64val(s[q]), b = b64val(s[q + 1]), c = s[q + 2] == '=' ? 0 : b64val(s[q + 2]),
          d = s[q + 3] == '=' ? 0 : b64val(s[q + 3]);
      assert_true(a >= 0 && b >= 0 && c >= 0 && d >= 0);
      uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
      raw[k++] = (unsigned char)(v >> 16), raw[k++] = (unsigned char)(v >> 8), raw[k++] = (unsigned char)v;
    }
    for (int d = 0; d < 67; d++) {
      uint32_t u = (uint32_t)raw[d * 4] | (uint32_t)raw[d * 4 + 1] << 8 | (uint32_t)raw[d * 4 + 2] << 16 |
                   (uint32_t)raw[d * 4 + 3] << 24;
      float f;
      memcpy(&f, &u, 4);
      /* the float listing prints float32 values exactly (9 significant digits) */
      assert_true(f == (float)cJSON_GetArrayItem(ef, d)->valuedouble);
    }
  }
  cJSON_Delete(jf);
  cJSON_Delete(jb);
}

static void expect_400(const char *body) {
  kl_mock_plan p = plan(body, NULL);
  if (p.status != 400) fail_msg("%s: status %d", body, p.status);
  assert_int_equal(p.fault, KL_MOCK_STATUS);
  cJSON *j = body_json(&p);
  assert_string_equal(kl_json_str(cJSON_GetObjectItem(j, "error"), "type"), "invalid_request_error");
  cJSON_Delete(j);
}

static void test_invalid_and_faults(void **state) {
  (void)state;
  expect_400("");
  expect_400("nope");
  expect_400("[1]");
  expect_400("{\"model\":\"m\"}");
  expect_400("{\"input\":\"x\"}");
  expect_400("{\"model\":\"m\",\"input\":5}");
  expect_400("{\"model\":\"m\",\"input\":[]}");
  expect_400("{\"model\":\"m\",\"input\":[\"a\",1]}");
  expect_400("{\"model\":\"m\",\"input\":[1,\"a\"]}");
  expect_400("{\"model\":\"m\",\"input\":[-1]}");
  expect_400("{\"model\":\"m\",\"input\":[1.5]}");
  expect_400("{\"model\":\"m\",\"input\":[[1],[]]}");
  expect_400("{\"model\":\"m\",\"input\":[[1],\"a\"]}");
  expect_400("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}");
  expect_400("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":3073}");
  expect_400("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":2.5}");
  expect_400("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"hex\"}");

  const char *body = "{\"model\":\"m\",\"input\":\"hello\"}";
  hdrs h429 = {{"x-mock-fault", "429", "x-mock-retry-after", "3"}};
  kl_mock_plan p = plan(body, &h429);
  assert_int_equal(p.status, 429);
  assert_int_equal(p.retry_after_s, 3);
  cJSON *j = body_json(&p);
  assert_string_equal(kl_json_str(cJSON_GetObjectItem(j, "error"), "code"), "rate_limit_exceeded");
  cJSON_Delete(j);
  hdrs h503 = {{"x-mock-fault", "status=503"}};
  p = plan(body, &h503);
  assert_int_equal(p.status, 503);
  assert_int_equal(p.fault, KL_MOCK_STATUS);
  hdrs bogus = {{"x-mock-fault", "whatever"}};
  p = plan(body, &bogus);
  assert_int_equal(p.status, 400);
  hdrs hang = {{"x-mock-fault", "hang"}};
  p = plan(body, &hang);
  assert_int_equal(p.fault, KL_MOCK_HANG);
  hdrs reset = {{"x-mock-fault", "reset"}};
  p = plan(body, &reset);
  assert_int_equal(p.fault, KL_MOCK_RESET);
  assert_null(p.body);
  kl_mock_plan ok = plan(body, NULL);
  static const char *const cut[] = {"malformed", "truncate"};
  for (int i = 0; i < 2; i++) {
    hdrs h = {{"x-mock-fault", cut[i], "x-mock-latency-ms", "9"}};
    p = plan(body, &h);
    assert_int_equal(p.status, 200);
    assert_int_equal(p.latency_ms, 9);
    assert_false(p.stream);
    assert_true(p.body_len < ok.body_len);
    assert_memory_equal(p.body, ok.body, p.body_len);
    assert_null(cJSON_ParseWithLength(p.body, p.body_len));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shape_and_determinism), cmocka_unit_test(test_similarity),
      cmocka_unit_test(test_tokens),                cmocka_unit_test(test_base64),
      cmocka_unit_test(test_invalid_and_faults),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
