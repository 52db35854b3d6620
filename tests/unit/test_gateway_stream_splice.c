/* test_gateway_stream_splice.c: kl_gw_splice_content, how a railed stream writes a chunk back
 * with its released text: only the value of the chunk's one key "content" changes, and a chunk
 * it cannot read that way (two such keys, another spelling of the value) is left to cJSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gateway/gw_internal.h"

/* The splice of `chunk` whose delta.content is `was` (decoded) with `text`; NULL if refused. */
static char *splice_of(const char *chunk, const char *was, const char *text) {
  static char res[1024];
  kl_buf old = KL_BUF_INIT, out = KL_BUF_INIT;
  kl_buf_json_str(&old, was, strlen(was));
  bool ok = kl_gw_splice_content(chunk, strlen(chunk), &old, text, strlen(text), &out);
  if (ok) {
    assert_true(out.len < sizeof res);
    memcpy(res, out.data, out.len);
    res[out.len] = 0;
  } else {
    assert_int_equal(out.len, 0);
  }
  kl_buf_free(&old);
  kl_buf_free(&out);
  return ok ? res : NULL;
}

static void test_splice(void **state) {
  (void)state;
  const char *c = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"he\"},\"finish_reason\":null}]}";
  assert_string_equal(splice_of(c, "he", "hello \"you\"\n"),
                      "{\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello \\\"you\\\"\\n\"},"
                      "\"finish_reason\":null}]}");
  /* blanks around the colon, the role before it, an empty release */
  assert_string_equal(splice_of("{\"choices\":[{\"delta\":{\"role\":\"assistant\", \"content\" : \"\"}}]}", "", ""),
                      "{\"choices\":[{\"delta\":{\"role\":\"assistant\", \"content\" : \"\"}}]}");
  assert_string_equal(splice_of("{\"choices\":[{\"delta\":{ \"content\":\"ab\"}}]}", "ab", "<EMAIL_ADDRESS_1>"),
                      "{\"choices\":[{\"delta\":{ \"content\":\"<EMAIL_ADDRESS_1>\"}}]}");
  /* "content" inside strings or as an array element is no key */
  assert_string_equal(splice_of("{\"id\":\"\\\"content\\\":\",\"tags\":[\"content\"],\"delta\":{\"content\":\"q\"}}", "q", "r"),
                      "{\"id\":\"\\\"content\\\":\",\"tags\":[\"content\"],\"delta\":{\"content\":\"r\"}}");
  /* a second key "content" (logprobs carry one): refused */
  assert_null(splice_of("{\"delta\":{\"content\":\"a\"},\"logprobs\":{\"content\":[]}}", "a", "b"));
  /* the value written otherwise than kl_buf_json_str would ("\/"), or not the one expected */
  assert_null(splice_of("{\"delta\":{\"content\":\"a\\/b\"}}", "a/b", "c"));
  assert_null(splice_of("{\"delta\":{\"content\":\"a\"}}", "b", "c"));
  assert_null(splice_of("{\"delta\":{\"text\":\"a\"}}", "a", "c"));
  assert_null(splice_of("{\"delta\":{\"content\":\"a", "a", "c"));  /* cut short */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_splice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
