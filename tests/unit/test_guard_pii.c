/* test_guard_pii.c: the PII scanners, one entity type at a time, with positives and the hard
 * negatives each validator exists for (Luhn, mod-97, SSN invalidation, octets, dates...). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "guard_test_policy.h"

static int setup(void **state) {
  (void)state;
  /* the structured types (names, places and dates: test_guard_pii_ner.c) */
  kl_guard_opts o = {.types = KL_GUARD_STRUCTURED_PII, .min_score = KL_GUARD_DEFAULT_MIN_SCORE};
  return policy_setup("default", &o);
}

/* Asserts that text holds exactly one finding, of type, covering value. */
static void expect_one(const char *text, const char *type, const char *value) {
  kl_guard_finding *f;
  long n = scan(text, &f);
  if (n != 1) fail_msg("'%s': %ld findings, want 1 %s", text, n, type);
  assert_string_equal(f[0].type, type);
  const char *at = strstr(text, value);
  assert_non_null(at);
  if (f[0].start != (size_t)(at - text) || f[0].end != f[0].start + strlen(value))
    fail_msg("'%s': span [%zu,%zu), want '%s'", text, f[0].start, f[0].end, value);
  assert_true(f[0].score > 0 && f[0].score <= 1);
}

static void expect_none(const char *text) {
  kl_guard_finding *f;
  long n = scan(text, &f);
  if (n) fail_msg("'%s': unexpected %s '%.*s'", text, f[0].type, (int)(f[0].end - f[0].start), text + f[0].start);
}

static void test_email(void **state) {
  (void)state;
  expect_one("write to john.doe+x@mail.example.co.uk today", "EMAIL_ADDRESS", "john.doe+x@mail.example.co.uk");
  expect_one("<a@b.io>", "EMAIL_ADDRESS", "a@b.io");
  expect_none("user@localhost and foo@ and @bar.com and a..b@x.com");
}

static void test_phone(void **state) {
  (void)state;
  expect_one("call (415) 555-2671 now", "PHONE_NUMBER", "(415) 555-2671");
  expect_one("tel 415-555-2671x123", "PHONE_NUMBER", "415-555-2671x123");
  expect_one("UK office +44 20 7946 0958.", "PHONE_NUMBER", "+44 20 7946 0958");
  expect_one("Paris: 01 23 45 67 89", "PHONE_NUMBER", "01 23 45 67 89");
  expect_one("Berlin +49 30 901820", "PHONE_NUMBER", "+49 30 901820");
  expect_one("London 020 7946 0958", "PHONE_NUMBER", "020 7946 0958");
  expect_one("Mumbai +91 98765 43210", "PHONE_NUMBER", "+91 98765 43210");
  expect_none("on 2024-01-15 or 15.01.2024 or 01-02-2024, total 1500 2000 and 12345678");
  expect_none("order #12345-678 shipped, ref 42");
  expect_none("years 1999 2004 2010");
}

static void test_credit_card(void **state) {
  (void)state;
  expect_one("card 4111 1111 1111 1111 exp 12/29", "CREDIT_CARD", "4111 1111 1111 1111");
  expect_one("amex 378282246310005", "CREDIT_CARD", "378282246310005");
  expect_one("mc 5555-5555-5555-4444", "CREDIT_CARD", "5555-5555-5555-4444");
  expect_none("card 4111 1111 1111 1112");      /* fails Luhn */
  expect_none("id 0000000000000000 and 9111111111111111");  /* no known IIN */
  expect_none("mixed 4111-1111 1111-1111");     /* inconsistent separators */
}

static void test_iban(void **state) {
  (void)state;
  expect_one("IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32");
  expect_one("to DE89370400440532013000.", "IBAN_CODE", "DE89370400440532013000");
  expect_one("lower gb82west12345698765432", "IBAN_CODE", "gb82west12345698765432");
  expect_none("bad GB82WEST12345698765433 and DE88370400440532013000");  /* check digits */
  expect_none("short GB82WEST123456987654");  /* wrong length for GB */
}

static void test_ssn(void **state) {
  (void)state;
  expect_one("ssn 078-05-1120", "US_SSN", "078-05-1120");
  expect_one("my social security number is 123456789", "US_SSN", "123456789");
  expect_none("000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000 111-11-1111");
  expect_none("123-45 6789");  /* mixed separators */
}

static void test_ip(void **state) {
  (void)state;
  expect_one("from 192.168.1.10:8080", "IP_ADDRESS", "192.168.1.10");
  expect_one("v6 2001:db8::ff00:42:8329 ok", "IP_ADDRESS", "2001:db8::ff00:42:8329");
  expect_one("loopback ::1", "IP_ADDRESS", "::1");
  expect_one("full fe80:0:0:0:1ff:fe23:4567:890a", "IP_ADDRESS", "fe80:0:0:0:1ff:fe23:4567:890a");
  expect_none("999.1.1.1 and 256.0.0.1 and version 1.2.3.4.5 and 10:30:00");
}

static void test_mac_crypto(void **state) {
  (void)state;
  expect_one("nic 00:1A:2B:3C:4D:5E up", "MAC_ADDRESS", "00:1A:2B:3C:4D:5E");
  expect_one("cisco 001a.2b3c.4d5e", "MAC_ADDRESS", "001a.2b3c.4d5e");
  expect_none("00:1A:2B-3C:4D:5E");
  expect_one("pay 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "CRYPTO", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
  expect_one("p2sh 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "CRYPTO", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy");
  expect_one("seg bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "CRYPTO", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
  expect_one("eth 0x52908400098527886E0F7030069857D2E4169EE7", "CRYPTO", "0x52908400098527886E0F7030069857D2E4169EE7");
  expect_none("bad 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp");
}

/* Offsets are bytes, right after multi-byte characters. */
static void test_utf8_offsets(void **state) {
  (void)state;
  const char *t = "Grüße aus Köln 🎉 — écrivez à zoe.x@exemple.fr, →4111 1111 1111 1111";
  kl_guard_finding *f;
  long n = scan(t, &f);
  assert_int_equal(n, 2);
  const char *at = strstr(t, "zoe.x@");
  assert_int_equal(f[0].start, (size_t)(at - t));
  assert_int_equal(f[0].end, f[0].start + strlen("zoe.x@exemple.fr"));
  at = strstr(t, "4111");
  assert_string_equal(f[1].type, "CREDIT_CARD");
  assert_int_equal(f[1].start, (size_t)(at - t));
  assert_int_equal(f[1].end, strlen(t));
  /* a non-ASCII local part is not taken in halves */
  assert_int_equal(scan("zoë.x@exemple.fr", &f), 0);
}

/* Context words raise the score; weak shapes need them to pass the default threshold. */
static void test_context(void **state) {
  (void)state;
  kl_guard_finding *f;
  assert_int_equal(scan("reference 3536 1659 Hoog St", &f), 0);
  assert_int_equal(scan("phone: 3536 1659", &f), 1);
  assert_true(f[0].score > 0.5);
  assert_int_equal(scan("ip 10.0.0.1", &f), 1);
  double boosted = f[0].score;
  assert_int_equal(scan("at 10.0.0.1", &f), 1);
  assert_true(boosted > f[0].score);
}

/* Overlaps: an SSN-shaped phone resolves to one finding; a card is not also a phone. */
static void test_overlaps(void **state) {
  (void)state;
  expect_one("num 078-05-1120", "US_SSN", "078-05-1120");
  expect_one("4111 1111 1111 1111", "CREDIT_CARD", "4111 1111 1111 1111");
  kl_guard_finding *f;
  long n = scan("a@b.io, c@d.io 415-555-2671 415-555-2672", &f);
  assert_int_equal(n, 4);
  for (long i = 1; i < n; i++) assert_true(f[i].start >= f[i - 1].end);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_email),       cmocka_unit_test(test_phone),     cmocka_unit_test(test_credit_card),
    cmocka_unit_test(test_iban),        cmocka_unit_test(test_ssn),       cmocka_unit_test(test_ip),
    cmocka_unit_test(test_mac_crypto),  cmocka_unit_test(test_utf8_offsets), cmocka_unit_test(test_context),
    cmocka_unit_test(test_overlaps),
  };
  return cmocka_run_group_tests(tests, setup, policy_teardown);
}
