/* test_base.c: the base layer: arena, buffers, JSON string escaping, UTF-8 validation, time
 * formatting and parsing, ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/kl_base.h"

static void test_arena(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(64);
  char *p = kl_arena_alloc(a, 10);
  assert_int_equal((uintptr_t)p % 16, 0);
  char *big = kl_arena_alloc(a, 100000); /* larger than any chunk so far */
  memset(big, 1, 100000);
  assert_string_equal(kl_arena_strdup(a, "hello"), "hello");
  assert_null(kl_arena_strdup(a, NULL));
  assert_string_equal(kl_arena_strndup(a, "hello", 3), "hel");
  assert_string_equal(kl_arena_sprintf(a, "%d-%s", 42, "x"), "42-x");
  assert_string_equal(kl_arena_concat(a, "http://h:1/v1", "/chat/completions"), "http://h:1/v1/chat/completions");
  assert_string_equal(kl_arena_concat(a, NULL, "/x"), "/x");
  assert_string_equal(kl_arena_concat(a, "", ""), "");
  int *v = NULL;
  size_t n = 0, cap = 0;
  for (int i = 0; i < 100; i++) {
    int *before = v;
    v = kl_arena_grow(a, v, n, &cap, sizeof *v, 4);
    assert_true(cap > n && (n < 4 || (cap & (cap - 1)) == 0)); /* 4, 8, 16, ... */
    if (before && n % 4) assert_ptr_equal(v, before);        /* room left: the same array */
    v[n++] = i;
  }
  for (int i = 0; i < 100; i++) assert_int_equal(v[i], i);
  assert_int_equal(cap, 128);
  char *z = kl_arena_calloc(a, 32);
  for (int i = 0; i < 32; i++) assert_int_equal(z[i], 0);
  assert_true(kl_arena_used(a) >= 100000);
  kl_arena_reset(a);
  assert_int_equal(kl_arena_used(a), 0);
  for (int i = 0; i < 1000; i++) kl_arena_alloc(a, 100);
  kl_arena_free(a);
}

static void test_buf(void **st) {
  (void)st;
  kl_buf b = KL_BUF_INIT;
  kl_buf_reserve(&b, 10);
  assert_string_equal(b.data, ""); /* a fresh buffer is an empty string */
  kl_buf_puts(&b, "abc");
  kl_buf_putc(&b, 'd');
  kl_buf_printf(&b, "%05d", 7);
  assert_string_equal(b.data, "abcd00007");
  char longs[600];
  memset(longs, 'x', sizeof longs - 1);
  longs[599] = 0;
  kl_buf_printf(&b, "%s", longs); /* longer than the printf fast path */
  assert_int_equal(b.len, 9 + 599);
  kl_buf_consume(&b, 4);
  assert_int_equal(strncmp(b.data, "00007x", 6), 0);
  kl_buf_consume(&b, 100000);
  assert_int_equal(b.len, 0);
  kl_buf_puts(&b, "keep");
  char *s = kl_buf_steal(&b);
  assert_string_equal(s, "keep");
  assert_null(b.data);
  free(s);
  kl_buf_free(&b);
}

/* kl_buf_read_path / kl_buf_read_fd: whole files past one read's worth, appended to what the
 * buffer held, the size limit, a missing file, an empty one. */
static void test_buf_read(void **st) {
  (void)st;
  char path[] = "/tmp/keel-test-read-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  size_t n = 200000;  /* three reads of 64 KiB and a bit */
  char *want = malloc(n);
  for (size_t i = 0; i < n; i++) want[i] = (char)('a' + i % 23);
  assert_int_equal(write(fd, want, n), (ssize_t)n);
  close(fd);
  kl_buf b = KL_BUF_INIT;
  kl_buf_puts(&b, "head:");
  assert_int_equal(kl_buf_read_path(&b, path, 0), 0);
  assert_int_equal(b.len, 5 + n);
  assert_memory_equal(b.data, "head:", 5);
  assert_memory_equal(b.data + 5, want, n);
  assert_int_equal(b.data[b.len], 0);
  kl_buf_reset(&b);
  assert_int_equal(kl_buf_read_path(&b, path, n), 0);  /* exactly at the limit */
  kl_buf_reset(&b);
  errno = 0;
  assert_int_equal(kl_buf_read_path(&b, path, n - 1), -1);
  assert_int_equal(errno, EFBIG);
  assert_true(b.len >= n - 1);  /* what was read stays */
  kl_buf_reset(&b);
  FILE *f = fopen(path, "w");  /* empty */
  fclose(f);
  assert_int_equal(kl_buf_read_path(&b, path, 0), 0);
  assert_int_equal(b.len, 0);
  unlink(path);
  errno = 0;
  assert_int_equal(kl_buf_read_path(&b, path, 0), -1);
  assert_int_equal(errno, ENOENT);
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(write(p[1], "piped", 5), 5);
  close(p[1]);
  assert_int_equal(kl_buf_read_fd(&b, p[0], 0), 0);
  close(p[0]);
  assert_string_equal(b.data, "piped");
  kl_buf_free(&b);
  free(want);
}

static void test_json_str(void **st) {
  (void)st;
  kl_buf b = KL_BUF_INIT;
  const char in[] = "q\"b\\n\n\t\x01 é \xff end";
  kl_buf_json_str(&b, in, sizeof in - 1);
  assert_string_equal(b.data, "\"q\\\"b\\\\n\\n\\t\\u0001 é \\ufffd end\"");
  cJSON *j = cJSON_Parse(b.data);
  assert_true(cJSON_IsString(j));
  cJSON_Delete(j);
  kl_buf_reset(&b);
  kl_buf_error_json(&b, "bad \"x\"", "invalid_request_error", NULL, "c1");
  assert_string_equal(b.data, "{\"error\":{\"message\":\"bad \\\"x\\\"\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"c1\"}}");
  kl_buf_free(&b);
}

/* kl_buf_json_str byte by byte, as it was before its 8-byte fast path. */
static void json_str_ref(kl_buf *b, const unsigned char *p, size_t n) {
  kl_buf_putc(b, '"');
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (c >= 0x80 && l && i + l <= n && kl_utf8_valid((const char *)p + i, l)) kl_buf_append(b, p + i, l), i += l;
    else if (c >= 0x80) kl_buf_puts(b, "\\ufffd"), i++;
    else if (c == '"' || c == '\\') kl_buf_putc(b, '\\'), kl_buf_putc(b, (char)c), i++;
    else if (c == '\n') kl_buf_puts(b, "\\n"), i++;
    else if (c == '\r') kl_buf_puts(b, "\\r"), i++;
    else if (c == '\t') kl_buf_puts(b, "\\t"), i++;
    else if (c < 0x20) kl_buf_printf(b, "\\u%04x", c), i++;
    else kl_buf_putc(b, (char)c), i++;
  }
  kl_buf_putc(b, '"');
}

/* The fast path reads 8 bytes at a time: every byte that needs escaping (and some that do
 * not: 0x7f, 0x20, 0x21, 0x23, 0x5b, 0x5d, sitting next to the special ones in the SWAR
 * arithmetic) at every offset of a word, alone and beside another, in strings of every
 * length up to three words. */
static void test_json_str_words(void **st) {
  (void)st;
  static const char *const specials[] = {"\x00", "\x01", "\x1f", "\"", "\\", "\n", "\x7f", " ", "!", "#", "[", "]",
                                         "\x80", "\xff", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\xa0\x80"};
  size_t ns = sizeof specials / sizeof *specials;
  unsigned char in[64];
  kl_buf got = KL_BUF_INIT, want = KL_BUF_INIT;
  for (size_t len = 0; len <= 24; len++)
    for (size_t at = 0; at < len; at++)
      for (size_t k = 0; k < ns; k++)
        for (size_t k2 = 0; k2 < ns; k2 += 5) {
          memset(in, 'a', sizeof in);
          size_t n = len, sl = k == 0 ? 1 : strlen(specials[k]), sl2 = k2 == 0 ? 1 : strlen(specials[k2]);
          memcpy(in + at, specials[k], sl);
          if (at + sl + 3 + sl2 <= sizeof in) memcpy(in + at + sl + 3, specials[k2], sl2);
          if (n < at + sl) n = at + sl;
          kl_buf_reset(&got);
          kl_buf_reset(&want);
          kl_buf_json_str(&got, (const char *)in, n);
          json_str_ref(&want, in, n);
          if (got.len != want.len || memcmp(got.data, want.data, got.len))
            fail_msg("len %zu at %zu special %zu/%zu: %s vs %s", n, at, k, k2, got.data, want.data);
        }
  kl_buf_free(&got);
  kl_buf_free(&want);
}

static void test_utf8(void **st) {
  (void)st;
  struct { const char *s; bool ok; } cases[] = {
      {"plain ascii, long enough to use the 8-byte path", true},
      {"caf\xc3\xa9", true},
      {"\xe2\x82\xac", true},
      {"\xf0\x9f\x98\x80", true},
      {"\xc0\xaf", false},            /* overlong */
      {"\xe0\x80\xaf", false},        /* overlong */
      {"\xed\xa0\x80", false},        /* surrogate */
      {"\xf4\x90\x80\x80", false},    /* > U+10FFFF */
      {"abc\xc3", false},             /* truncated */
      {"\x80", false},                /* stray continuation */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    assert_int_equal(kl_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok);
}

static void test_json_helpers(void **st) {
  (void)st;
  kl_err e = {0};
  const char *doc = "{\"n\": 9007199254740991, \"big\": 3000000000, \"s\": \"x\", \"f\": 1.5}";
  cJSON *j = kl_json_parse(doc, strlen(doc), &e);
  assert_non_null(j);
  assert_int_equal(kl_json_int(j, "n", 0), 9007199254740991LL);
  assert_int_equal(kl_json_int(j, "big", 0), 3000000000LL); /* past INT_MAX, exact */
  assert_int_equal(kl_json_int(j, "missing", -7), -7);
  assert_int_equal(kl_json_int(j, "s", -7), -7);
  assert_string_equal(kl_json_str(j, "s"), "x");
  assert_null(kl_json_str(j, "f"));
  cJSON_Delete(j);
  assert_null(kl_json_parse("{\"a\":1} trailing", 16, &e));
  assert_non_null(strstr(e.msg, "trailing"));
  assert_null(kl_json_parse("{\"a\":", 5, &e));
  assert_int_equal(e.code, 400);
  assert_null(kl_json_parse("\"\xff\"", 3, &e));
  assert_non_null(strstr(e.msg, "UTF-8"));
  assert_null(kl_json_parse("", 0, &e));
  j = kl_json_parse("{} \n", 4, &e);
  assert_non_null(j);
  cJSON_Delete(j);
}

static void test_time(void **st) {
  (void)st;
  char out[32];
  kl_time_iso(1700000000123456789LL, out);
  assert_string_equal(out, "2023-11-14T22:13:20.123Z");
  assert_int_equal(kl_time_parse("2023-11-14T22:13:20.123Z"), 1700000000123000000LL);
  assert_int_equal(kl_time_parse("2023-11-14T23:13:20+01:00"), 1700000000000000000LL);
  assert_int_equal(kl_time_parse("2023-11-14"), 1699920000000000000LL);
  assert_int_equal(kl_time_parse("1700000000"), 1700000000000000000LL);    /* seconds */
  assert_int_equal(kl_time_parse("1700000000123"), 1700000000123000000LL); /* ms */
  assert_int_equal(kl_time_parse("2023-13-01"), -1);
  assert_int_equal(kl_time_parse("yesterday"), -1);
  assert_int_equal(kl_time_parse(""), -1);
  int64_t now = kl_now_ns();
  assert_true(now > 1700000000000000000LL);
  int64_t m1 = kl_mono_ns(), m2 = kl_mono_ns();
  assert_true(m2 >= m1);
}

static void test_ids(void **st) {
  (void)st;
  char a[33], b[33], s1[17], s2[17];
  kl_id_trace(a);
  kl_id_trace(b);
  assert_true(kl_id_is_hex(a, 32));
  assert_string_not_equal(a, b);
  /* trace ids lead with the time: ids made later sort after earlier ones (ms resolution) */
  char early[33] = "000000000000ffffffffffffffffffff";
  assert_true(strcmp(a, early) > 0);
  uint64_t ms = 0;
  for (int i = 0; i < 12; i++) ms = ms * 16 + (uint64_t)(a[i] <= '9' ? a[i] - '0' : a[i] - 'a' + 10);
  int64_t now_ms = kl_now_ns() / 1000000;
  assert_true((int64_t)ms <= now_ms && (int64_t)ms > now_ms - 5000);
  kl_id_span(s1);
  kl_id_span(s2);
  assert_true(kl_id_is_hex(s1, 16));
  assert_string_not_equal(s1, s2);
  assert_false(kl_id_is_hex("abc", 16));
  assert_false(kl_id_is_hex("zzzzzzzzzzzzzzzz", 16));
  assert_false(kl_id_is_hex(NULL, 16));
}

static void test_base64(void **state) {
  (void)state;
  unsigned char out[64];
  static const struct { const char *in; const char *want; } ok[] = {
      {"", ""}, {"YQ", "a"}, {"YQ==", "a"}, {"YWI", "ab"}, {"YWI=", "ab"}, {"YWJj", "abc"},
      {"aGVsbG8gd29ybGQh", "hello world!"},
      {"pk:sk", NULL}, /* ':' is not base64 */
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    ptrdiff_t n = kl_base64_decode(ok[i].in, strlen(ok[i].in), out);
    if (!ok[i].want) {
      assert_int_equal(n, -1);
      continue;
    }
    assert_int_equal(n, (ptrdiff_t)strlen(ok[i].want));
    assert_string_equal((char *)out, ok[i].want);
  }
  /* both alphabets: 0xfb 0xff 0xbf is "+/+/" standard, "-_-_" URL-safe */
  assert_int_equal(kl_base64_decode("+/+/", 4, out), 3);
  assert_memory_equal(out, "\xfb\xff\xbf", 3);
  assert_int_equal(kl_base64_decode("-_-_", 4, out), 3);
  assert_memory_equal(out, "\xfb\xff\xbf", 3);
  assert_int_equal(kl_base64_decode("YWJjZ", 5, out), -1);  /* one dangling character */
  assert_int_equal(kl_base64_decode("YW=Jj", 5, out), -1);  /* padding in the middle */
  assert_int_equal(kl_base64_decode("YWJj\n", 5, out), -1); /* whitespace is not skipped */
  assert_int_equal(kl_base64_decode("AAAA", 4, out), 3);    /* 'A' is 0, not "invalid" */
  assert_memory_equal(out, "\0\0\0", 3);
  assert_true(kl_base64_max(4) >= 4 && kl_base64_max(3) >= 3 && kl_base64_max(0) >= 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arena), cmocka_unit_test(test_buf),  cmocka_unit_test(test_buf_read), cmocka_unit_test(test_json_str),
      cmocka_unit_test(test_json_str_words),
      cmocka_unit_test(test_utf8),  cmocka_unit_test(test_json_helpers), cmocka_unit_test(test_time),
      cmocka_unit_test(test_ids), cmocka_unit_test(test_base64),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
