/* test_base_id_hex.c: trace and span ids are written sixteen nibbles at a time (id.c, SSE2):
 * every character is a lowercase hex digit, every digit turns up at every random position,
 * ids are terminated, and a trace id's first twelve digits are the time in milliseconds,
 * most significant nibble first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/kl_base.h"

static int digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  fail_msg("not a lowercase hex digit: 0x%02x", (unsigned char)c);
  return -1;
}

static void test_span_ids(void **st) {
  (void)st;
  unsigned seen[16] = {0}; /* per position, a bit per digit */
  for (int i = 0; i < 4000; i++) {
    char s[18];
    memset(s, 'X', sizeof s);
    kl_id_span(s);
    assert_int_equal(s[16], 0);
    assert_int_equal(s[17], 'X'); /* nothing written past the terminator */
    for (int k = 0; k < 16; k++) seen[k] |= 1u << digit(s[k]);
  }
  for (int k = 0; k < 16; k++) assert_int_equal(seen[k], 0xffff);
}

static void test_trace_ids(void **st) {
  (void)st;
  unsigned seen[32] = {0};
  for (int i = 0; i < 4000; i++) {
    char t[34];
    memset(t, 'X', sizeof t);
    int64_t before = kl_now_ns() / 1000000;
    kl_id_trace(t);
    int64_t after = kl_now_ns() / 1000000;
    assert_int_equal(t[32], 0);
    assert_int_equal(t[33], 'X');
    uint64_t ms = 0;
    for (int k = 0; k < 32; k++) {
      int d = digit(t[k]);
      if (k < 12) ms = ms * 16 + (uint64_t)d;
      seen[k] |= 1u << d;
    }
    assert_true((int64_t)ms >= before && (int64_t)ms <= after);
  }
  for (int k = 12; k < 32; k++) assert_int_equal(seen[k], 0xffff); /* the random part */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_span_ids),
      cmocka_unit_test(test_trace_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
