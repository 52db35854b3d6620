/* test_llm_tokenizer.c: the tiktoken-exact tokenizer.  Expected values come from npm
 * tiktoken 1.0.22 (encode_ordinary); tests/integration/tokenizer.test.mjs compares thousands
 * of generated strings against it, these are the named edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"
#include "llm/tokenizer_int.h"

static kl_tokenizer *o200k, *cl100k;

static int setup(void **state) {
  (void)state;
  kl_err err = {0};
  int64_t t0 = kl_mono_ns();
  o200k = kl_tokenizer_get("o200k_base", &err);
  int64_t t1 = kl_mono_ns();
  cl100k = kl_tokenizer_get("cl100k_base", &err);
  int64_t t2 = kl_mono_ns();
  if (!o200k || !cl100k) {
    fprintf(stderr, "load failed: %s\n", err.msg);
    return -1;
  }
  fprintf(stderr, "# load: o200k %.1f ms, cl100k %.1f ms\n", (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  kl_tokenizer_free_all();
  return 0;
}

static size_t cnt(const kl_tokenizer *t, const char *s) { return kl_tokenizer_count(t, s, strlen(s)); }

/* Both encodings' counts of s, and o200k's first ids (up to 8, 0-terminated list). */
static void check(const char *s, size_t want_o, size_t want_c, const uint32_t *ids) {
  size_t n = strlen(s);
  assert_int_equal(kl_tokenizer_count(o200k, s, n), want_o);
  assert_int_equal(kl_tokenizer_count(cl100k, s, n), want_c);
  uint32_t out[8] = {0};
  assert_int_equal(kl_tokenizer_encode(o200k, s, n, out, 8), want_o);
  for (size_t i = 0; ids && ids[i] && i < 8; i++) assert_int_equal(out[i], ids[i]);
}

static void test_known(void **state) {
  (void)state;
  uint32_t out[4] = {0};
  assert_int_equal(kl_tokenizer_encode(o200k, "hello", 5, out, 4), 1);
  assert_int_equal(out[0], 24912);
  assert_int_equal(kl_tokenizer_encode(cl100k, "hello", 5, out, 4), 1);
  assert_int_equal(out[0], 15339);
  assert_string_equal(kl_tokenizer_name(o200k), "o200k_base");
  /* shared: the same instance every time */
  kl_err err = {0};
  assert_ptr_equal(kl_tokenizer_get("o200k_base", &err), o200k);
  assert_null(kl_tokenizer_get("p50k_base", &err));
  assert_int_equal(err.code, 400);
  assert_non_null(strstr(err.msg, "p50k_base"));
}

static void test_edge_cases(void **state) {
  (void)state;
  check("", 0, 0, NULL);
  assert_int_equal(kl_tokenizer_count(o200k, NULL, 0), 0);
  check("   \t\n\n  x  \n", 5, 5, (const uint32_t[]){271, 31711, 220, 1215, 4066, 0});
  check("1234567 3.14159 -42 1e10", 14, 14, (const uint32_t[]){7633, 19354, 22, 220, 18, 13, 16926, 4621, 0});
  check("I'm sure they'll say it's fine, we've DON'T", 9, 14,
        (const uint32_t[]){15390, 3239, 57956, 2891, 4275, 8975, 11, 24716, 0});
  check("我们今天去公园散步，然后吃了午饭。日本語のテキストです。", 21, 31,
        (const uint32_t[]){24809, 47256, 13817, 5312, 37075, 84748, 24952, 174667, 0});
  check("🎉👍🏽👨‍👩‍👧‍👦 ❤️", 17, 29, (const uint32_t[]){71344, 231, 82514, 52622, 121, 28823, 101, 2524, 0});
  check("def f(x):\n    return x**2  # square\n", 13, 13, (const uint32_t[]){1314, 285, 4061, 1883, 271, 622, 1215, 410, 0});
  /* special tokens are ordinary text */
  check("<|endoftext|>", 7, 7, (const uint32_t[]){27, 91, 419, 1440, 919, 91, 29, 0});
  /* Unicode whitespace the regex must classify as tiktoken does (NEL, MVS, NBSP) */
  check("a\xc2\x85" "b\xe1\xa0\x8e" "c  \xc2\xa0 d", 11, 11, (const uint32_t[]){64, 126, 227, 65, 157, 254, 236, 66, 0});
}

static void test_long_runs(void **state) {
  (void)state;
  /* One 10000-letter piece: the heap merge; o200k and cl100k both give 1250 x "aaaaaaaa". */
  size_t n = 10000;
  char *s = malloc(n + 2);
  memset(s, 'a', n);
  s[n] = 0;
  uint32_t *ids = malloc(2000 * sizeof *ids);
  assert_int_equal(kl_tokenizer_encode(o200k, s, n, ids, 2000), 1250);
  for (int i = 0; i < 1250; i++) assert_int_equal(ids[i], 117525);
  assert_int_equal(cnt(cl100k, s), 1250);
  /* 5000 spaces then x: whitespace runs split by (?!\S) */
  memset(s, ' ', 5000);
  s[5000] = 'x';
  s[5001] = 0;
  assert_int_equal(cnt(o200k, s), 41);
  assert_int_equal(cnt(cl100k, s), 41);
  /* 256 KB of one character (one piece each, but for digits and newlines) must neither crash
   * nor crawl: the heap merge is O(n log n) where tiktoken's scan is O(n^2) */
  size_t big = 256 << 10;
  char *b = malloc(big + 1);
  const char fills[] = {'z', ' ', '7', '\n', '!'};
  for (size_t f = 0; f < sizeof fills; f++) {
    memset(b, fills[f], big);
    b[big] = 0;
    int64_t t0 = kl_mono_ns();
    size_t c = kl_tokenizer_count(o200k, b, big);
    assert_true(c > 0 && c <= big);
    assert_true(kl_mono_ns() - t0 < 20 * 1000000000ll);
  }
  memset(b, '7', big);
  assert_int_equal(kl_tokenizer_count(cl100k, b, 3000), 1000); /* \p{N}{1,3} */
  free(b);
  free(ids);
  free(s);
}

static void test_scan_equals_heap(void **state) {
  (void)state;
  const char *samples[] = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "antidisestablishmentarianism",
                           "ZmFzdGVyIHRoYW4gdGhlIHNjYW4gZm9yIGxvbmcgcGllY2Vz",
                           "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xbd\xa0\xe5\xa5\xbd",
                           "abababababababababababababcabcabcabcabc", "x"};
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    const uint8_t *p = (const uint8_t *)samples[i];
    size_t n = strlen(samples[i]);
    for (int e = 0; e < 2; e++) {
      const kl_tokenizer *t = e ? cl100k : o200k;
      uint32_t a[64], b[64];
      size_t na = kl_tok_merge_scan(t, p, n, a, 64), nb = kl_tok_merge_heap(t, p, n, b, 64);
      assert_int_equal(na, nb);
      assert_memory_equal(a, b, na * sizeof *a);
    }
  }
}

static void test_invalid_utf8(void **state) {
  (void)state;
  /* each invalid byte counts as U+FFFD: "a\xffb" == "a\uFFFDb", "\xff\xfe" == two U+FFFD */
  assert_int_equal(kl_tokenizer_count(o200k, "a\xff" "b", 3), cnt(o200k, "a\xef\xbf\xbd" "b"));
  assert_int_equal(kl_tokenizer_count(o200k, "a\xff" "b", 3), 3);
  assert_int_equal(kl_tokenizer_count(o200k, "\xff\xfe", 2), 1);
  uint32_t id = 0;
  assert_int_equal(kl_tokenizer_encode(o200k, "\xff\xfe", 2, &id, 1), 1);
  assert_int_equal(id, 10123);
  /* truncated sequence, surrogate, overlong, above U+10FFFF, lone continuation, embedded NUL */
  const char *bad[] = {"\xe4\xbd", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\x80x", "ab\xe4"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t n = strlen(bad[i]);
    assert_true(kl_tokenizer_count(o200k, bad[i], n) >= 1);
    assert_true(kl_tokenizer_count(cl100k, bad[i], n) >= 1);
  }
  assert_int_equal(kl_tokenizer_count(o200k, "a\0b", 3), 3);
}

static void test_encode_cap(void **state) {
  (void)state;
  const char *s = "The quick brown fox jumps over the lazy dog";
  uint32_t all[32], few[3] = {0, 0, 0};
  size_t n = kl_tokenizer_encode(o200k, s, strlen(s), all, 32);
  assert_int_equal(n, 9);
  assert_int_equal(kl_tokenizer_encode(o200k, s, strlen(s), few, 2), 9);
  assert_int_equal(few[0], all[0]);
  assert_int_equal(few[1], all[1]);
  assert_int_equal(few[2], 0); /* untouched */
  assert_int_equal(kl_tokenizer_encode(o200k, s, strlen(s), NULL, 0), 9);
}

static void test_for_model(void **state) {
  (void)state;
  const char *o[] = {"gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-5", "o1-preview", "o3-mini", "o4-mini",
                     "openai/gpt-4o", "claude-3-5-sonnet", "unknown", NULL};
  const char *c[] = {"gpt-4", "gpt-4-turbo", "gpt-4-0613", "gpt-3.5-turbo", "gpt-35-turbo", "text-embedding-3-small",
                     "ft:gpt-3.5-turbo:acme::abc", "azure/gpt-4-32k", NULL};
  for (int i = 0; o[i]; i++) assert_string_equal(kl_tokenizer_for_model(o[i]), "o200k_base");
  for (int i = 0; c[i]; i++) assert_string_equal(kl_tokenizer_for_model(c[i]), "cl100k_base");
  assert_string_equal(kl_tokenizer_for_model(NULL), "o200k_base");
}

static void test_count_chat(void **state) {
  (void)state;
  /* openai-cookbook's recipe computed with npm tiktoken: 46 for both encodings */
  const char *js = "[{\"role\":\"system\",\"content\":\"You are a helpful, pattern-following assistant.\"},"
                   "{\"role\":\"user\",\"name\":\"example_user\",\"content\":\"New synergies will help drive top-line growth.\"},"
                   "{\"role\":\"assistant\",\"content\":\"Things working well together will increase revenue.\"}]";
  cJSON *m = cJSON_Parse(js);
  assert_non_null(m);
  assert_int_equal(kl_tokenizer_count_chat(o200k, m), 46);
  assert_int_equal(kl_tokenizer_count_chat(cl100k, m), 46);
  /* the recipe, spelled out: 3 + per message 3 + its strings (+1 for name) */
  int64_t want = 3;
  const cJSON *msg;
  cJSON_ArrayForEach(msg, m) {
    want += 3;
    const cJSON *f;
    cJSON_ArrayForEach(f, msg) want += (int64_t)cnt(o200k, f->valuestring) + !strcmp(f->string, "name");
  }
  assert_int_equal(want, 46);
  cJSON_Delete(m);
  /* array content counts text parts; tool calls count name + arguments */
  m = cJSON_Parse("[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hello\"},"
                  "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]},"
                  "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                  "\"function\":{\"name\":\"get\",\"arguments\":\"{}\"}}]}]");
  int64_t parts = 3 + 3 + (int64_t)cnt(o200k, "user") + 1 + 3 + (int64_t)cnt(o200k, "assistant") +
                  (int64_t)cnt(o200k, "get") + (int64_t)cnt(o200k, "{}");
  assert_int_equal(kl_tokenizer_count_chat(o200k, m), parts);
  cJSON_Delete(m);
  m = cJSON_Parse("[]");
  assert_int_equal(kl_tokenizer_count_chat(o200k, m), 3);
  cJSON_Delete(m);
  m = cJSON_Parse("{}");
  assert_int_equal(kl_tokenizer_count_chat(o200k, m), -1);
  cJSON_Delete(m);
}

/* Several threads counting the same texts at once get the same answers. */
static const char *mt_text = "Concurrency: 並行処理 — counts must not depend on who else is counting. 🎉 0123456789";
static void *mt_worker(void *arg) {
  size_t *res = arg;
  for (int i = 0; i < 2000; i++) {
    size_t c = kl_tokenizer_count(i & 1 ? cl100k : o200k, mt_text, strlen(mt_text));
    if (c != res[i & 1]) res[2]++;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  size_t want[2] = {cnt(o200k, mt_text), cnt(cl100k, mt_text)};
  pthread_t th[4];
  size_t res[4][3];
  for (int i = 0; i < 4; i++) {
    res[i][0] = want[0], res[i][1] = want[1], res[i][2] = 0;
    assert_int_equal(pthread_create(&th[i], NULL, mt_worker, res[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(res[i][2], 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known),         cmocka_unit_test(test_edge_cases),
      cmocka_unit_test(test_long_runs),     cmocka_unit_test(test_scan_equals_heap),
      cmocka_unit_test(test_invalid_utf8),  cmocka_unit_test(test_encode_cap),
      cmocka_unit_test(test_for_model),     cmocka_unit_test(test_count_chat),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
