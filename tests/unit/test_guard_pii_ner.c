/* test_guard_pii_ner.c: the pii scanner's named entities (PERSON, LOCATION, STREET_ADDRESS,
 * DATE_TIME, NRP, ORGANIZATION): positives with exact spans, the hard negatives (first names
 * that are words, sentence-initial capitals, organisations, versions and plain numbers),
 * Unicode names, and texts in other scripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "guard/guard_int.h"
#include "guard/pii_ner.h"
#include "guard_test_policy.h"

static int setup(void **state) {
  (void)state;
  return policy_setup("default", NULL); /* every type, the default threshold */
}

/* Asserts that text holds a finding of type spanning exactly value (its first occurrence
 * after `after`, or its first occurrence if after is NULL). */
static void expect(const char *text, const char *type, const char *value, const char *after) {
  kl_guard_finding *f;
  long n = scan(text, &f);
  const char *from = after ? strstr(text, after) : text;
  assert_non_null(from);
  const char *at = strstr(from, value);
  assert_non_null(at);
  size_t s = (size_t)(at - text), e = s + strlen(value);
  for (long k = 0; k < n; k++)
    if (!strcmp(f[k].type, type) && f[k].start == s && f[k].end == e) {
      assert_true(f[k].score >= KL_GUARD_DEFAULT_MIN_SCORE && f[k].score <= 1);
      return;
    }
  for (long k = 0; k < n; k++)
    print_message("  got %s [%zu,%zu) '%.*s' %.2f\n", f[k].type, f[k].start, f[k].end, (int)(f[k].end - f[k].start),
                  text + f[k].start, f[k].score);
  fail_msg("'%s': no %s '%s' at [%zu,%zu)", text, type, value, s, e);
}

/* Asserts that no finding of type (any type if NULL) is in text. */
static void expect_no(const char *text, const char *type) {
  kl_guard_finding *f;
  long n = scan(text, &f);
  for (long k = 0; k < n; k++)
    if (!type || !strcmp(f[k].type, type))
      fail_msg("'%s': unexpected %s '%.*s' (%s %.2f)", text, f[k].type, (int)(f[k].end - f[k].start), text + f[k].start,
               f[k].rule, f[k].score);
}

static void test_person(void **state) {
  (void)state;
  expect("Please ask John Smith about it.", "PERSON", "John Smith", NULL);
  expect("My name is Rubija", "PERSON", "Rubija", NULL);
  expect("correct it to Dr. Anette Lahtela?", "PERSON", "Anette Lahtela", NULL);  /* the title stays out */
  expect("Ms. Barajas flew home.", "PERSON", "Barajas", NULL);
  expect("have you heard Barbara M. Probst speak yet?", "PERSON", "Barbara M. Probst", NULL);
  expect("As promised, here's Anna's address", "PERSON", "Anna", NULL);  /* no possessive 's */
  expect("Hi Will, can you call me?", "PERSON", "Will", NULL);             /* a word, but a greeting */
  expect("Sincerely,\nMark", "PERSON", "Mark", NULL);
  expect("What's your last name? Magnusson", "PERSON", "Magnusson", NULL);
  expect("The book by Faina D. Yefremova is out", "PERSON", "Faina D. Yefremova", NULL);
  expect("Jean-Pierre Dubois called", "PERSON", "Jean-Pierre Dubois", NULL);
}

static void test_person_unicode(void **state) {
  (void)state;
  expect("José García and Zoë Müller signed.", "PERSON", "José García", NULL);
  expect("José García and Zoë Müller signed.", "PERSON", "Zoë Müller", NULL);
  expect("Bot: name? User: Šárka Ottová", "PERSON", "Šárka Ottová", NULL);
  expect("I want to add Zoltán Kovács as a beneficiary", "PERSON", "Zoltán Kovács", NULL);
  /* byte offsets on code point boundaries: "É" is two bytes */
  kl_guard_finding *f;
  long n = scan("Élise: Mr. Łukasz Żółw", &f);
  assert_true(n >= 1);
  assert_string_equal(f[n - 1].type, "PERSON");
  assert_int_equal(f[n - 1].start, strlen("Élise: Mr. "));
  assert_int_equal(f[n - 1].end, strlen("Élise: Mr. Łukasz Żółw"));
}

/* Words that are first names, capitals that begin sentences, organisations, products. */
static void test_person_negatives(void **state) {
  (void)state;
  expect_no("Will it rain tomorrow? May I come in? Mark the page.", "PERSON");
  expect_no("Bill the customer and grant the rose a page.", "PERSON");
  expect_no("Grant access to the Page for Rose.", "PERSON");
  expect_no("Will Microsoft ship it?", "PERSON");
  expect_no("Russell Investments and Dora Creek Capital reported.", "PERSON");
  expect_no("The Princess Royal arrived.", "PERSON");
  expect_no("The quick brown fox. Then the API returned JSON.", NULL);
  expect_no("john smith wrote this in lowercase", "PERSON");  /* no capitals: out of reach */
  expect_no("write to anna.smith@example.com", "PERSON");     /* inside an email */
  expect_no("see https://example.com/Anna/Smith", "PERSON");
}

static void test_location(void **state) {
  (void)state;
  expect("I will be travelling to Canada next week", "LOCATION", "Canada", NULL);
  expect("She moved here from Hungary", "LOCATION", "Hungary", NULL);
  expect("Russell Investments is an agency based in KURZENKIRCHEN.", "LOCATION", "KURZENKIRCHEN", NULL);
  expect("We moved here from Kenosha", "LOCATION", "Kenosha", NULL);
  expect("The office is in New York and Texas.", "LOCATION", "Texas", NULL);
  expect_no("Paris Hilton and Jordan Peterson", "LOCATION");  /* the first word of a longer name */
  expect_no("a nice reading of the turkey recipe", "LOCATION");
}

static void test_street_address(void **state) {
  (void)state;
  expect("Send it to 69 Farnell Street, LOOMBAH please", "STREET_ADDRESS", "69 Farnell Street, LOOMBAH", NULL);
  expect("He lives at 6138 Via Roma 131", "STREET_ADDRESS", "6138 Via Roma 131", NULL);
  expect("Billing address: Sara Schwarz\n    28245 Puruntie 82 Apt. 595\n   LAPPEENRANTA\n    SK\n    53650", "STREET_ADDRESS",
         "28245 Puruntie 82 Apt. 595\n   LAPPEENRANTA\n    SK\n    53650", NULL);
  expect("The address of Persint is 6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677", "STREET_ADDRESS",
         "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677", NULL);
  expect("Ship to 1600 Pennsylvania Avenue NW", "STREET_ADDRESS", "1600 Pennsylvania Avenue", NULL);
  expect("Meet me at P.O. Box 149 tomorrow", "STREET_ADDRESS", "P.O. Box 149", NULL);
  expect("PSC 3294, Box 9168\nAPO AA 61487", "STREET_ADDRESS", "PSC 3294, Box 9168\nAPO AA 61487", NULL);
  expect("update it to 75956 Rákóczi út 66. Apt. 268, Beder, Denmark 56905", "STREET_ADDRESS",
         "75956 Rákóczi út 66. Apt. 268, Beder, Denmark 56905", NULL);
  /* the block ends where the prose starts */
  expect("The letter arrived at 636 1812 Rue De La Gare\n Apt. 271\n St Felicien\n Canada 36523 last night.",
         "STREET_ADDRESS", "636 1812 Rue De La Gare\n Apt. 271\n St Felicien\n Canada 36523", NULL);
  /* the next line is a phone, not part of the block */
  expect("Debra Neal\n\n3536 1659 Hoog St\n Apt. 839\n Brakpan\n082 490 1693", "STREET_ADDRESS",
         "3536 1659 Hoog St\n Apt. 839\n Brakpan", NULL);
  expect_no("In 2019 Apple sold 5 million units; Spring 2024 was busy.", "STREET_ADDRESS");
  expect_no("see chapter 12 Section 4 and the Main Street scene", "STREET_ADDRESS");
}

static void test_date_time(void **state) {
  (void)state;
  expect("When: 2000-04-16 11:34:35\nWhere: here", "DATE_TIME", "2000-04-16 11:34:35", NULL);
  expect("She was born on 9/20/1968.", "DATE_TIME", "9/20/1968", NULL);
  expect("due 31.12.2024 at noon", "DATE_TIME", "31.12.2024", NULL);
  expect("on March 5th, 2024 we met", "DATE_TIME", "March 5th, 2024", NULL);
  expect("the 3 of May 2021", "DATE_TIME", "3 of May 2021", NULL);
  expect("We'll meet Monday at noon", "DATE_TIME", "Monday", NULL);
  expect("The orchestra was founded in 1977.", "DATE_TIME", "1977", NULL);
  expect("appointment at 5:30 pm", "DATE_TIME", "5:30 pm", NULL);
  expect_no("version 1.2.3 and 1.2.34, build 13/45/2020, 2024-13-01, 10.0.0.1", "DATE_TIME");
  expect_no("ratio 12:75 and 99:99", "DATE_TIME");
  expect_no("see you after 5pm", "DATE_TIME");  /* a bare time scores below the threshold */
}

static void test_nrp_org(void **state) {
  (void)state;
  expect("It serves great Slovenian food.", "NRP", "Slovenian", NULL);
  expect_no("She is studying English and French.", "NRP");
  expect_no("Translate this into German.", "NRP");
  expect("Dzhambek is from Civic Impulse LLC", "ORGANIZATION", "Civic Impulse LLC", NULL);
  expect("The Shepherd Ltd. Orchestra", "ORGANIZATION", "Shepherd Ltd.", NULL);  /* not "The" */
}

/* Other scripts, emoji, invalid UTF-8, long runs of capitals: no crash, offsets in range. */
static void test_robust(void **state) {
  (void)state;
  static const char *const texts[] = {
    "日本語のテキスト 東京都 山田太郎", "Москва, ул. Тверская 7", "Αθήνα ΛΕΥΚΩΣΙΑ", "مرحبا محمد", "🎉 John 🎉 Smith 🎉",
    "\xff\xfe Anna \xc3 Smith \xe2\x80", "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", "Mr. Mr. Mr. Mr. Dr. Dr.", "Street Street Street 1 Street",
  };
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    kl_guard_finding *f;
    long n = scan(texts[i], &f);
    for (long k = 0; k < n; k++) assert_true(f[k].start < f[k].end && f[k].end <= strlen(texts[i]));
  }
  char big[20000];
  for (size_t i = 0; i + 12 < sizeof big; i += 12) memcpy(big + i, "Anna Smith, ", 12);
  big[sizeof big - 1] = 0;
  big[(sizeof big - 1) / 12 * 12] = 0;
  kl_guard_finding *f;
  assert_true(scan(big, &f) > 1000);
}

/* A policy of the structured types only finds none of these. */
static void test_types(void **state) {
  (void)state;
  kl_err err = {0};
  kl_guard_opts o = {.types = KL_GUARD_STRUCTURED_PII};
  kl_guard_policy *p = kl_guard_policy_new("s", &o, &err);
  assert_non_null(p);
  const char *t = "John Smith, 12 Main Street, Canada, 2024-03-18, Danish, Acme Inc.";
  kl_guard_finding *f;
  assert_int_equal(kl_guard_scan(p, t, strlen(t), arena, &f, &err), 0);
  kl_guard_policy_free(p);
  o.types = 1u << KL_GUARD_PERSON;
  p = kl_guard_policy_new("p", &o, &err);
  assert_non_null(p);
  long n = kl_guard_scan(p, t, strlen(t), arena, &f, &err);
  assert_int_equal(n, 1);
  assert_string_equal(f[0].type, "PERSON");
  kl_guard_policy_free(p);
  assert_string_equal(kl_guard_type_name(KL_GUARD_STREET_ADDRESS), "STREET_ADDRESS");
  assert_string_equal(kl_guard_type_name(KL_GUARD_ORGANIZATION), "ORGANIZATION");
}

/* ner_stopword: whole words of the list only, at any offset, whatever follows. */
static void test_stopwords(void **state) {
  (void)state;
  static const char *const yes[] = {"About", "GmbH", "LLC", "Pharmaceuticals", "Yesterday"};  /* no prefix listed */
  static const char *const no[] = {"Abou", "Abouts", "about", "ABOUT", "Pharmaceuticalss", "Aa", "Yourself", "Zebra",
                                   "I'm", ("\xC3\x89" "cole"), "A", "", "Monday,"};
  char buf[64];
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    size_t n = strlen(yes[i]);
    snprintf(buf, sizeof buf, "x %s y", yes[i]);
    assert_true(ner_stopword(buf, 2, 2 + n));
    assert_false(ner_stopword(buf, 2, 1 + n));  /* a prefix */
    assert_false(ner_stopword(buf, 2, 3 + n));  /* with the space after it */
  }
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) assert_false(ner_stopword(no[i], 0, strlen(no[i])));
  assert_true(ner_stopword("I", 0, 1));
  assert_true(ner_stopword("Monday,", 0, 6));
}

/* ner_word_end and ner_word_before as they were before their ASCII shortcuts: every byte decoded.
 * Their answers must be the same for any bytes. */
static bool ref_apos(const char *t, size_t len, size_t i, size_t *n) {
  if (i < len && t[i] == '\'') return *n = 1, true;
  if (i + 2 < len && !memcmp(t + i, "\xE2\x80\x99", 3)) return *n = 3, true;
  return false;
}

static size_t ref_word_end(const char *t, size_t len, size_t i) {
  size_t n, e = i;
  while (e < len) {
    uint32_t c = guard_utf8_next(t, len, e, &n);
    if (ner_cp_letter(c)) { e += n; continue; }
    size_t an = 0;
    bool joiner = c == '-' || ref_apos(t, len, e, &an);
    if (!joiner || e == i) break;
    size_t k = e + (an ? an : 1), m;
    if (k >= len || !ner_cp_letter(guard_utf8_next(t, len, k, &m))) break;
    if (an && (t[k] == 's' || t[k] == 'S') && (k + 1 >= len || !ner_cp_letter(guard_utf8_next(t, len, k + 1, &m))))
      break;
    e = k;
  }
  return e;
}

static bool ref_word_before(const char *t, size_t s, const char *also) {
  if (s == 0) return false;
  size_t n;
  uint32_t c = guard_utf8_prev(t, s, &n);
  return guard_cp_is_word(c) || (c < 0x80 && strchr(also, (int)c));
}

/* Every pair of bytes after "Ab" and before "cd" (a joiner, an apostrophe, a possessive, UTF-8
 * leads and continuations, NUL), the curly apostrophe, and long runs of letters ending in every
 * byte: the same ends and the same "word before" as the decoding reference. */
static void test_word_edges(void **state) {
  (void)state;
  char t[8] = "Ab..cd";
  for (unsigned x = 0; x < 256; x++)
    for (unsigned y = 0; y < 256; y++) {
      t[2] = (char)x, t[3] = (char)y;
      for (size_t len = 2; len <= 6; len++) {
        assert_int_equal(ner_word_end(t, len, 0), ref_word_end(t, len, 0));
        assert_int_equal(ner_word_end(t, len, 2), ref_word_end(t, len, 2));
      }
      for (size_t s = 1; s <= 6; s++)
        assert_int_equal(ner_word_before(t, s, "@._/\\-#"), ref_word_before(t, s, "@._/\\-#"));
    }
  static const char *const curly[] = {"O\xE2\x80\x99Neil x", "Ann\xE2\x80\x99s x", "Ann\xE2\x80\x99", "Jean-Luc's"};
  for (size_t i = 0; i < sizeof curly / sizeof *curly; i++)
    assert_int_equal(ner_word_end(curly[i], strlen(curly[i]), 0), ref_word_end(curly[i], strlen(curly[i]), 0));
  /* long words: ner_word_end takes ASCII letters 16 at a time where 16 bytes remain.  Runs of
   * letters of every length up to 40, then every byte value, then more letters, at every start
   * and cut at every length (so the 16-byte step meets the text's end at every place) */
  char w[64];
  for (size_t run = 0; run <= 40; run++)
    for (unsigned x = 0; x < 256; x++) {
      for (size_t k = 0; k < sizeof w; k++) w[k] = (char)("aZqMz"[k % 5]);
      w[run] = (char)x;
      for (size_t len = run; len <= sizeof w; len += len < run + 20 ? 1 : 7)
        for (size_t i = 0; i + 1 < len && i <= run; i += i < 3 ? 1 : 5)
          assert_int_equal(ner_word_end(w, len, i), ref_word_end(w, len, i));
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_word_edges),     cmocka_unit_test(test_stopwords),      cmocka_unit_test(test_person),
    cmocka_unit_test(test_person_unicode), cmocka_unit_test(test_person_negatives),
    cmocka_unit_test(test_location),       cmocka_unit_test(test_street_address), cmocka_unit_test(test_date_time),
    cmocka_unit_test(test_nrp_org),        cmocka_unit_test(test_robust),         cmocka_unit_test(test_types),
  };
  return cmocka_run_group_tests(tests, setup, policy_teardown);
}
