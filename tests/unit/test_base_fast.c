/* test_base_fast.c: the hot-path replacements in base are exact: kl_buf_i64 and kl_buf_g15
 * against printf, kl_json_parse_arena against cJSON (same tree, same printed bytes, and NULL
 * for everything it leaves to cJSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kl_base.h"

static void check_g15(double v) {
  char want[64];
  snprintf(want, sizeof want, "%.15g", v);
  kl_buf b = KL_BUF_INIT;
  kl_buf_g15(&b, v);
  if (strcmp(b.data, want) != 0) fail_msg("%%.15g of %.17g: got %s, want %s", v, b.data, want);
  kl_buf_free(&b);
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_g15(void **st) {
  (void)st;
  double fixed[] = {0.0, -0.0, 1, 10, 1e14, 1e15, 1e-8, 1e-9, 9.99999999999999e14, 123456789012345.6,
                    0.1, 0.5, 3.75e-06, 3 * 1.25e-6, 2.4e-05, 0.00015, 0.0001, 0.00009999999999999999,
                    1e-5, 1.5e-5, 0.000123456789012345678, 99999999999999.95, 0.30000000000000004, 1e22,
                    -1.5, NAN, INFINITY, -INFINITY, 5e-324, 1.7976931348623157e308, 42, 1234.5};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) check_g15(fixed[i]);
  /* prices times token counts, the values the tracer prints */
  for (int64_t tok = 0; tok < 20000; tok += 7)
    for (int p = 0; p < 12; p++) {
      static const double per[] = {1.5e-7, 6e-7, 2.5e-6, 1e-5, 1.25e-6, 3e-6, 1.5e-5, 7.5e-5, 0.00006, 4e-7, 1.1e-6, 4.4e-6};
      check_g15((double)tok * per[p]);
    }
  /* random doubles over the fast range and beyond */
  for (int i = 0; i < 300000; i++) {
    uint64_t r = next();
    double m = (double)(r >> 11) / 9007199254740992.0; /* [0, 1) */
    int e = (int)(next() % 30) - 12;
    check_g15(m * pow(10, e));
  }
  /* near-ties in the 15th digit */
  for (int i = 0; i < 100000; i++) {
    double base = (double)(next() % 1000000000000000ULL) + 0.5;
    int e = (int)(next() % 22) - 8;
    check_g15(base * pow(10, e - 14));
  }
}

static void test_i64(void **st) {
  (void)st;
  int64_t v[] = {0, 1, -1, 9, 10, 123456789, -987654321, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    char want[32];
    snprintf(want, sizeof want, "%" PRId64, v[i]);
    kl_buf b = KL_BUF_INIT;
    kl_buf_puts(&b, "x");
    kl_buf_i64(&b, v[i]);
    assert_string_equal(b.data + 1, want);
    kl_buf_free(&b);
  }
}

/* Same node types, keys, strings, numbers and sibling links as cJSON's tree. */
static void same_tree(const cJSON *a, const cJSON *c) {
  for (; a || c; a = a->next, c = c->next) {
    assert_non_null(a);
    assert_non_null(c);
    assert_int_equal(a->type, c->type);
    if (c->string) assert_string_equal(a->string, c->string);
    else assert_null(a->string);
    if (c->valuestring) assert_string_equal(a->valuestring, c->valuestring);
    else assert_null(a->valuestring);
    assert_int_equal(a->valueint, c->valueint);
    assert_memory_equal(&a->valuedouble, &c->valuedouble, sizeof(double));
    assert_true((a->child == NULL) == (c->child == NULL));
    if (c->child) {
      assert_true((a->child->prev == NULL) == (c->child->prev == NULL));
      same_tree(a->child, c->child);
    }
  }
}

static void check_json(const char *s, bool fast) {
  kl_arena *a = kl_arena_new(256);
  size_t n = strlen(s);
  cJSON *t = kl_json_parse_arena(a, s, n);
  kl_err err = {0};
  cJSON *c = kl_json_parse(s, n, &err);
  if (!fast) {
    if (t) fail_msg("arena parser accepted what it should leave to cJSON: %s", s);
  } else {
    if (!t) fail_msg("arena parser refused plain JSON: %s", s);
    assert_non_null(c); /* everything it accepts, cJSON accepts */
    same_tree(t, c);
    char *pa = cJSON_PrintUnformatted(t), *pc = cJSON_PrintUnformatted(c);
    assert_string_equal(pa, pc);
    cJSON_free(pa);
    cJSON_free(pc);
  }
  cJSON_Delete(c);
  kl_arena_free(a);
}

static void test_json_arena(void **st) {
  (void)st;
  const char *ok[] = {
      "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1786924194,\"model\":\"gpt-4o-mini\","
      "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi \\\"there\\\"\\n\\t\\/\\\\ "
      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":24,\"completion_tokens\":19,\"total_tokens\":43,"
      "\"prompt_tokens_details\":{\"cached_tokens\":0}},\"system_fingerprint\":\"fp\"}",
      " [1, -0, 0.5, -1.25e-7, 1E+3, 2147483647, 2147483648, -2147483648, -2147483649, 1e400, 12345678901234567890] ",
      "\r\n\t{ \"a\" : [ ] , \"b\" : { } , \"c\" : [ true , false , null ] , \"\" : \"\" }",
      "\"just a string\"", "3", "null", "[[[[[[[[[[1]]]]]]]]]]", "{\"dup\":1,\"dup\":2}",
      "{\"esc\":\"\\b\\f\\r\"}",
      /* the integer fast path (up to 15 digits) and where it hands over to strtod */
      "[0, -0, 7, -7, 999999999999999, -999999999999999, 1000000000000000, 9007199254740993, -9007199254740993,"
      " 123456789012345, 1234567890123456, 2147483646, -2147483647, 4294967296, 10.0, 10e0, 0e5, -0.0]",
      /* strings scanned sixteen bytes at a time: escapes and the closing quote at every offset */
      "[\"0123456789abcde\\\"f0123456789abcdef\\n\", \"0123456789abcdef\", \"0123456789abcdefg\","
      " \"0123456789abcdef0123456789abcde\\\\\", \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"]",
  };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) check_json(ok[i], true);
  const char *leave[] = {
      "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[01]", "[1.]", "[.5]", "[+1]", "[-]",
      "[1e]", "[0x10]", "tru", "nul", "[1] x", "{\"u\":\"\\u00e9\"}", "{\"bad\":\"\\x\"}",
      "{\"ctl\":\"a\x01 b\"}", "\xef\xbb\xbf{}", "\f{}", "{\"a\":\"\xff\"}", "[NaN]", "[Infinity]",
      "[1111111111111111111111111111111111111111111111111111111111111111]",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "\"unterminated", "{\"a\":1}}", "[\"0123456789abcdef\x01\"]", "[\"0123456789abcdef0123456789abcde\x1f\"]",
      "[\"0123456789abcdef0123456789abcdef", "[\"0123456789abcdef\\u0041\"]",
  };
  for (size_t i = 0; i < sizeof leave / sizeof *leave; i++) check_json(leave[i], false);
  /* not NUL-terminated: only n bytes count */
  kl_arena *a = kl_arena_new(64);
  const char buf[] = {'[', '1', ']', '9'};
  cJSON *t = kl_json_parse_arena(a, buf, 3);
  assert_non_null(t);
  assert_int_equal(cJSON_GetArraySize(t), 1);
  assert_null(kl_json_parse_arena(a, buf, 4));
  kl_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_g15),
      cmocka_unit_test(test_i64),
      cmocka_unit_test(test_json_arena),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
