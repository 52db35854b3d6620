/* test_guard_pii_digits.c: the digits window source (pii_digits.c) must report exactly the ends
 * Hyperscan reports for the search forms of the eleven digit rules, which stay in their hints:
 * on edge cases of every form (each separator, groups one digit too long or too short, a
 * parenthesis missing, letters or digits glued on, a.m. against am against amx, MAC pairs and
 * quads with a bad byte, IBANs after a letter), each placed at every offset of the SIMD pass's
 * 64-byte blocks, near the text's ends (where its reads are bounds-checked) and cut short at
 * every length; and on random texts drawn from the bytes that matter.  Then a policy whose
 * rules take their windows from the source finds what the same rules find when Hyperscan runs
 * their forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/pii_ner.h"
#include "guard_test_source.h"

enum { NSLOTS = 11 };
static const char *const rule_names[NSLOTS] = {"phone_us", "phone_national", "credit_card", "iban", "us_ssn", "ipv4",
                                               "mac", "street_generic", "date_iso", "date_numeric", "time"};

static source_ref g;
static size_t seen[NSLOTS];  /* ends per slot, over the texts checked */

static void ref_open(void) {
  source_ref_open(&g, &guard_pii_digits_source);
  assert_int_equal(g.n, NSLOTS);
  for (size_t i = 0; i < NSLOTS; i++) assert_true(source_ref_has(&g, &guard_pii_digits_source, rule_names[i]));
  memset(seen, 0, sizeof seen);
}

static size_t check_text(const char *t, size_t len) {
  return source_vs_hs(g.db, g.scratch, &guard_pii_digits_source, t, len, seen, NSLOTS);
}

static const char *const pieces[] = {
  /* phones */
  "(555) 123-4567", "555-123-4567", "555.123.4567", "(555)-123-4567", "(555)123-4567", "555 123 4567 x12",
  "+1 555 123 4567", "001 555 123 4567", "55-123-4567", "(55) 123-4567", "555)123-4567", "(555 123-4567",
  "(5a5)123-4567", "(a55)123-4567", "(a55) 123-4567", "(55a)-123-4567",
  "1(555)123-4567", "06 6982 1234", "(06) 12", "(0612) 34-56", "1 23", "12345-678", "(1234567)-12",
  /* cards */
  "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "4111  1111 1111 1111", "4 1 1 1 1 1 1 1 1 1 1 1",
  "411111111111", "41111111111", "4111 1111 111-", "1234567890123456789012",
  /* IBANs */
  "DE89 3704 0044 0532 0130 00", "de89370400440532013000", "xDE89 3704", "GB82WEST12345698765432", "DE89 37",
  "DE89  3704", "1DE89 3704", "-DE89 3 7 0", "D89 3704", "DE8 3704",
  /* SSNs */
  "123-45-6789", "123 45 6789", "123456789", "123-456789", "12-345-6789", "123--45-6789", "1234-56-7890", "123.45.6789",
  /* IPv4 */
  "10.20.30.40", "1.2.3.4.5", "1234.1.1.1", "1.1.1.1234", "1..1.1.1", "1.1.1.", "255.255.255.255", ".1.1.1.1",
  /* MAC */
  "00:1A:2b:3c:4D:5e", "00-1a-2b-3c-4d-5e", "001a.2b3c.4d5e", "ab:cd:ef:ab:cd:ef:01", "00:1a-2b:3c-4d:5e",
  "00:1a:2b:3c:4d:5g", "0:1a:2b:3c:4d:5e", "001a.2b3c.4d5", "001a.2b3c:4d5e", "abcd.ef01.2345.6789",
  /* house numbers */
  "221 Baker", "12\t \tMain", "1 Main", "1234567 X", "12 main", "12 \xC3\x89", "99\tZ",
  /* dates and times */
  "2024-03-18", "2024-3-1", "12024-03-18", "2024-003-1", "12/03/24", "1.3.2024", "2024/03/18", "12-3-24", "123/45/67",
  "2024/003/1", "1/2/3", "12:30", "1:30", "12:30:45", "1:3", "5pm", "5 pm", "5 p.m.", "5 P.M.", "5pmx", "5pm_", "5 am.",
  "5\tam", "5  am", "5 a.m", "12am", "10 Pm!", "7 ap",
};

static void test_digits_edges(void **state) {
  (void)state;
  ref_open();
  size_t total = 0;
  for (size_t w = 0; w < sizeof pieces / sizeof *pieces; w++) total += check_text(pieces[w], strlen(pieces[w]));
  assert_true(total > 100);
  for (size_t i = 0; i < NSLOTS; i++)
    if (!seen[i]) fail_msg("no %s end in the edge cases", rule_names[i]);
  /* every piece at every offset of the 64-byte blocks, after and before other text, and cut */
  char buf[256];
  static const char *const fills[] = {"x", " ", "-", "1", "."};
  for (size_t pad = 0; pad < 140; pad++) {
    const char *fill = fills[pad % 5];
    for (size_t w = 0; w < sizeof pieces / sizeof *pieces; w++) {
      size_t wl = strlen(pieces[w]);
      memset(buf, *fill, pad);
      if (pad) buf[pad - 1] = ' ';
      memcpy(buf + pad, pieces[w], wl);
      for (size_t cut = 0; cut <= wl; cut += pad % 7 ? wl : 1) check_text(buf, pad + cut);
      memcpy(buf + pad + wl, " and More text 12 after it.", 27);
      check_text(buf, pad + wl + 27);
      buf[pad + wl] = *fill;  /* glued on */
      check_text(buf, pad + wl + 27);
    }
  }
  source_ref_close(&g);
}

static void test_digits_random(void **state) {
  (void)state;
  ref_open();
  static const char *const bits[] = {
    "0", "1", "2", "5", "9", "0", "3", "7", "12", "123", "1234", " ", " ", "-", "-", ".", ".", "/", ":", ":", "(", ")",
    "\t", "a", "A", "p", "m", "M", "x", "_", "e", "F", "DE", "Z", "\n", "\xC3\x89", "a.m.", "pm", "\x80", "(555)",
    "555 ", "123-", "-4567", ".4567", "ab:cd", ":ef", "-0a", "2b3c.", "10.", "7.", "255.", "2024-",
  };
  uint64_t r = 0x9e3779b97f4a7c15u;
  char text[700];
  size_t total = 0;
  for (int it = 0; it < 2000; it++) {
    total += check_text(text, source_random_text(bits, sizeof bits / sizeof *bits, &r, text));
  }
  assert_true(total > 10000);
  for (size_t i = 0; i < NSLOTS; i++) print_message("%s: %zu ends\n", rule_names[i], seen[i]);
  for (size_t i = 0; i < NSLOTS; i++)
    if (seen[i] < 20) fail_msg("only %zu %s ends in the random texts", seen[i], rule_names[i]);
  source_ref_close(&g);
}

/* A policy whose eleven rules take their windows from the source finds what the same policy
 * finds with Hyperscan running their forms. */
static void test_digits_same_hits(void **state) {
  (void)state;
  static const char *const texts[] = {
    "Call (555) 123-4567 or +1 555 123 4567 ext 12, or 06 6982 1234. Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 "
    "0130 00, SSN 123-45-6789.",
    "Server 10.20.30.40, MAC 00:1A:2B:3C:4D:5E and 001a.2b3c.4d5e; she lives at 221 Baker Street since 2024-03-18 "
    "14:30, born 12/03/1984 at 5 p.m. or 10am.",
    "Numbers like 3.14159, 1,234,567 and 42 are not PII; neither is version 1.2.3.4.5 nor 12:30:45.",
    "nothing here at all",
  };
  assert_true(source_same_hits(&guard_pii_digits_source, texts, sizeof texts / sizeof *texts) >= 12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_digits_edges),
    cmocka_unit_test(test_digits_random),
    cmocka_unit_test(test_digits_same_hits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
