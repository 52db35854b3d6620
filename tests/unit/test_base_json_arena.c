/* test_base_json_arena.c: kl_json_parse_arena against cJSON on generated documents.
 *
 * The arena parser cuts nodes and strings from bump regions, copies short strings sixteen
 * bytes at a time and checks UTF-8 only inside strings; these tests aim at the edges of
 * that: documents of many nodes (several regions), strings of every length around 16, 256
 * and the region sizes, strings ending within 16 bytes of the input's end, non-ASCII text
 * valid and invalid at every offset, and random mutations of all of it.  Whenever the arena
 * parser answers, cJSON must give the same tree (types, keys, strings, numbers bit for bit,
 * valueint, links); whenever the input is plain JSON it must answer; and it never accepts
 * invalid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kl_base.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void same_tree(const cJSON *a, const cJSON *b) {
  assert_int_equal(a->type, b->type);
  if (a->string || b->string) {
    assert_non_null(a->string);
    assert_non_null(b->string);
    assert_string_equal(a->string, b->string);
  }
  if (a->valuestring || b->valuestring) {
    assert_non_null(a->valuestring);
    assert_non_null(b->valuestring);
    assert_string_equal(a->valuestring, b->valuestring);
  }
  assert_memory_equal(&a->valuedouble, &b->valuedouble, sizeof(double));
  assert_int_equal(a->valueint, b->valueint);
  const cJSON *x = a->child, *y = b->child;
  if (x || y) {
    assert_non_null(x);
    assert_non_null(y);
    /* head->prev is the last sibling, as cJSON links it */
    const cJSON *lx = x, *ly = y;
    while (lx->next) lx = lx->next;
    while (ly->next) ly = ly->next;
    assert_ptr_equal(x->prev, lx);
    assert_ptr_equal(y->prev, ly);
  }
  for (; x || y; x = x->next, y = y->next) {
    assert_non_null(x);
    assert_non_null(y);
    if (x != a->child) assert_ptr_equal(x->prev->next, x);
    same_tree(x, y);
  }
}

/* Parses s both ways; plain: the arena parser must accept it. */
static void check(const char *in, size_t n, bool plain) {
  char *s = malloc(n ? n : 1); /* exactly n bytes: AddressSanitizer sees any read past them */
  memcpy(s, in, n);
  kl_arena *a = kl_arena_new(256);
  cJSON *t = kl_json_parse_arena(a, s, n);
  if (plain && !t) fail_msg("arena parser refused plain JSON (%zu bytes): %.200s", n, s);
  if (t) {
    assert_true(kl_utf8_valid(s, n));
    cJSON *c = cJSON_ParseWithLength(s, n);
    if (!c) fail_msg("arena parser accepted what cJSON refuses: %.200s", s);
    same_tree(t, c);
    cJSON_Delete(c);
  }
  kl_arena_free(a);
  free(s);
}

static const char *const texts[] = {"", "a", "Hi there", "0123456789abcde", "0123456789abcdef", "\xc3\xa9",
                                    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "tab\\there", "q\\\"uote\\\\",
                                    "\\/\\b\\f\\n\\r\\t"};

/* A string of len bytes, ASCII letters with escapes and UTF-8 sprinkled in when mixed. */
static void gen_string(kl_buf *b, size_t len, bool mixed) {
  kl_buf_putc(b, '"');
  for (size_t i = 0; i < len; i++) {
    uint64_t r = next() % 40;
    if (mixed && r == 0) kl_buf_puts(b, "\\n");
    else if (mixed && r == 1) kl_buf_puts(b, "\xc3\xa9");
    else if (mixed && r == 2) kl_buf_puts(b, "\xe2\x82\xac");
    else kl_buf_putc(b, (char)('a' + r % 26));
  }
  kl_buf_putc(b, '"');
}

static void gen_value(kl_buf *b, int depth) {
  uint64_t r = next() % (depth > 5 ? 6 : 9);
  switch (r) {
    case 0: kl_buf_printf(b, "%d", (int)(next() % 2000001) - 1000000); break;
    case 1: kl_buf_printf(b, "%.17g", (double)(int64_t)next() / 1e7); break;
    case 2: kl_buf_puts(b, next() % 2 ? "true" : "false"); break;
    case 3: kl_buf_puts(b, "null"); break;
    case 4: kl_buf_printf(b, "\"%s\"", texts[next() % (sizeof texts / sizeof *texts)]); break;
    case 5: gen_string(b, (size_t)(next() % 300), next() % 2); break;
    case 6:
    case 7: {
      int n = (int)(next() % 6);
      kl_buf_putc(b, '{');
      for (int i = 0; i < n; i++) {
        if (i) kl_buf_puts(b, next() % 4 ? "," : " ,\n ");
        gen_string(b, (size_t)(next() % 20), false);
        kl_buf_puts(b, next() % 4 ? ":" : " : ");
        gen_value(b, depth + 1);
      }
      kl_buf_putc(b, '}');
      break;
    }
    default: {
      int n = (int)(next() % 6);
      kl_buf_putc(b, '[');
      for (int i = 0; i < n; i++) {
        if (i) kl_buf_puts(b, next() % 4 ? "," : "\t,\r\n");
        gen_value(b, depth + 1);
      }
      kl_buf_putc(b, ']');
      break;
    }
  }
}

static void test_generated(void **st) {
  (void)st;
  kl_buf b = KL_BUF_INIT;
  for (int i = 0; i < 3000; i++) {
    kl_buf_reset(&b);
    gen_value(&b, 0);
    check(b.data, b.len, true);
    /* the same bytes, not NUL-terminated, with garbage after the n bytes that count */
    char *copy = malloc(b.len + 16);
    memcpy(copy, b.data, b.len);
    memset(copy + b.len, '"', 16);
    check(copy, b.len, true);
    /* mutations: every parser path that refuses, and the ones that still accept */
    for (int m = 0; m < 8; m++) {
      memcpy(copy, b.data, b.len);
      size_t at = (size_t)(next() % b.len);
      static const char bytes[] = {'"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '-', 'e', '.', 'u', 0x01,
                                   (char)0x80, (char)0xc3, (char)0xff, (char)0xed, (char)0xf4};
      copy[at] = bytes[next() % sizeof bytes];
      check(copy, b.len - (next() % 4 == 0 ? (size_t)(next() % (b.len - at)) : 0), false);
    }
    free(copy);
  }
  kl_buf_free(&b);
}

/* Strings of every length near the copy and region limits, at the end of the input or not. */
static void test_string_lengths(void **st) {
  (void)st;
  kl_buf b = KL_BUF_INIT;
  for (size_t len = 0; len < 600; len++) {
    for (int form = 0; form < 4; form++) {
      kl_buf_reset(&b);
      if (form & 1) kl_buf_puts(&b, "[");
      kl_buf_putc(&b, '"');
      for (size_t i = 0; i < len; i++) kl_buf_putc(&b, (char)('A' + i % 26));
      if (form & 2 && len) kl_buf_puts(&b, "\\t"); /* an escape at the end */
      kl_buf_putc(&b, '"');
      if (form & 1) kl_buf_puts(&b, "]");
      check(b.data, b.len, true);
    }
  }
  /* one string larger than any region; many nodes filling several regions */
  kl_buf_reset(&b);
  kl_buf_puts(&b, "{\"big\":\"");
  for (int i = 0; i < 20000; i++) kl_buf_putc(&b, (char)('a' + i % 26));
  kl_buf_puts(&b, "\",\"arr\":[");
  for (int i = 0; i < 5000; i++) kl_buf_printf(&b, "%s{\"k%d\":[%d,\"v\",true]}", i ? "," : "", i, i);
  kl_buf_puts(&b, "]}");
  check(b.data, b.len, true);
  kl_buf_free(&b);
}

/* UTF-8 inside strings: a valid or broken sequence at every offset of a 40-byte string (so
 * both the 16-byte scan and the byte loop near the end see it). */
static void test_utf8(void **st) {
  (void)st;
  static const char *good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"};
  static const char *bad[] = {"\xc3",         "\x80",         "\xc0\xaf",     "\xe0\x80\xaf", "\xed\xa0\x80",
                              "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xff", "\xe2\x82", "\xf0\x9f\x98"};
  char doc[128];
  for (size_t at = 0; at <= 40; at++) {
    for (size_t g = 0; g < sizeof good / sizeof *good; g++) {
      int n = snprintf(doc, sizeof doc, "{\"k\":\"%.*s%s%.*s\"}", (int)at, "0123456789012345678901234567890123456789",
                       good[g], (int)(40 - at), "abcdefghijabcdefghijabcdefghijabcdefghij");
      check(doc, (size_t)n, true);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
      int n = snprintf(doc, sizeof doc, "[\"%.*s%s%.*s\"]", (int)at, "0123456789012345678901234567890123456789", bad[i],
                       (int)(40 - at), "abcdefghijabcdefghijabcdefghijabcdefghij");
      kl_arena *a = kl_arena_new(64);
      assert_null(kl_json_parse_arena(a, doc, (size_t)n));
      kl_arena_free(a);
    }
  }
  /* non-ASCII outside strings is refused too (as a syntax error) */
  const char *outside[] = {"[1,\xc3\xa9]", "{\"a\":1}\xc2\xa0", "\xc2\xa0[]", "[tru\xc3\xa9]"};
  for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
    kl_arena *a = kl_arena_new(64);
    assert_null(kl_json_parse_arena(a, outside[i], strlen(outside[i])));
    kl_arena_free(a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generated),
      cmocka_unit_test(test_string_lengths),
      cmocka_unit_test(test_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
