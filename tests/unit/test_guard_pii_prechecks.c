/* test_guard_pii_prechecks.c: the window pre-checks that apply a validator before PCRE2
 * (pii.c: credit_card's card_may_match, the issuer and Luhn tests; phone_national's
 * nat_may_match, v_phone_groups itself) answer for findings, not for every match of the
 * pattern, so fuzz_guard_prechecks cannot hold them to it: the pii rules must find exactly the
 * same with each as without it.  Texts for cards: test numbers of every issuer and length, with
 * and without ' ' and '-' groups, one digit off (Luhn fails), phone and order numbers of 12 to 20
 * digits, numbers after letters, dots and dashes, runs longer than 19 digits, at the text's
 * start and end.  For national phone numbers: groups of every length with each separator,
 * parentheses, dates, IPv4s, versions, years, SSN shapes, numbers after and before the
 * bytes the rule's lookarounds refuse.  For person_pair (pii_ner.c: pair_may_match, v_pair
 * itself): names with initials and titles, words v_pair refuses, capitals after '&', '\'' and
 * '-', UTF-8 capitals, words of more parts than the check keeps, names at max_len's edge.  For
 * person_first_name (pii_ner.c: first_may_match, the validator's gazetteer test): names alone,
 * inside longer words and hyphenated, after the bytes WB refuses, in every chunk.  For
 * each, 3,000 random texts of its pieces; and the PII texts of ../shared/data when they are
 * there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard_test_validated.h"

/* One rule's texts: fixed ones written for its edges, and the pieces of random ones. */
typedef struct {
  const char *name;
  const char *const *texts;  /* NULL-terminated */
  size_t min_texts;          /* the rule's hits in them, at least */
  const char *const *bits;   /* NULL-terminated */
  uint64_t seed;
  size_t min_pii;            /* the rule's hits in the PII texts, more than */
} checked_rule;

static checked_rule k_card = {
  "credit_card",
  (const char *const[]){
    "Visa 4111 1111 1111 1111, 4111-1111-1111-1111, 4111111111111111 and 4222222222222 (13 digits)",
    "Amex 378282246310005 / 3782 822463 10005; MC 5555 5555 5555 4444, 2223003122003222; Discover 6011111111111117",
    "JCB 3530111333300000, 3566002020360505; Diners 30569309025904, 38520000023237; UnionPay 6200000000000005",
    "Maestro 6759649826438453, 6799990100000000019 and 0604 1234 5678 9012 3; Visa 19: 4111111111111111113",
    "one off: 4111 1111 1111 1112, 378282246310006, 5555555555554445",
    "call +44 20 7946 0958 or +49 30 1234 5678 90, order 2024-000-123-456-789, ref 1234 5678 9012 3456 7890",
    "x4111111111111111 a.4111111111111111 b-4111111111111111 _4111111111111111 4111111111111111x 4111111111111111-1",
    "41111111111111111111111 (23 digits) 4111  1111 1111 1111 (two spaces) 4111 1111-1111 1111 (mixed)",
    "4111111111111111", "4111 1111 1111 1111", "text ends 5555 5555 5555 444", "12345678901 2345678901234567890", NULL},
  15,
  (const char *const[]){
    "4111", "1111", "5555", "4444", "3782", "8224", "6310", "005", "0", "1", "2",
    "7", "9", " ", " ", "-", "-", ".", "x", "+", "\n", "6011", "35", "0604",
    "4111 1111 1111 1111", "378282246310005", "5555-5555-5555-4444", "6011111111111117", NULL},
  99, 10};

static checked_rule k_phone = {
  "phone_national",
  (const char *const[]){
    "UK 020 7946 0958, 0161-496-0000, 01632 960 001; DE 030 12345678, 089.1234.5678; FR 01 23 45 67 89",
    "(020) 7946 0958, (37) 788-063 and (0161)496-0000 or 12) 345 6789 and (12 3456 789",
    "dates 2024-03-18, 18.03.2024, 03-18-2024 and 1999 2000 2001 2002; ip 10.20.30.40 or 192.168.1.254",
    "ssn 123-45-6789, versions 1.2.3 and 10.20.30; ref 1183-22, 12 34 56, 3536 1659, 0536 1659",
    "+39 06 6982 1234, x0161 496 0000, a-020 7946 0958, 1 020 7946 0958, 020 7946 0958x, 020 7946 0958-1",
    "020 7946 0958.5, 020 7946 0958,1, 020 7946 0958/2, 020 7946 0958:3, 123456 789 0123, 12 123456789 12",
    "01 23 45 67 89 01 23 45, 01-23-45-67-89-01, 01 23-45 67, 01.23.45.67",
    "020 7946 0958", "(020) 7946 0958", "text ends 020 7946 09", "12 3456 7890", NULL},
  15,
  (const char *const[]){
    "12", "123", "1234", "12345", "123456", "020", "7946", "0958", "2024", "1999",
    "03", "18", "31", "0", "7", "123456789", " ", " ", " ", "-", "-", ".", ".", "(",
    ")", ",", ":", "/", "+", "x", "a", "_", "\n", "  ", "(020) 7946 0958",
    "10.20.30.40", "2024-03-18", "123-45-6789", NULL},
  7, 10};

static checked_rule k_pair = {
  "person_pair",
  (const char *const[]){
    "Name:    Abby M. Laidlaw\nMy name is  John F. Kennedy, sincerely,\tMary Smith; The Company and In March",
    "Mr. Smith and MRS Jones; Prof  Xavier met Jean-Luc Picard and José García, d'Artagnan Smith, O'Neil Ávila",
    "Rock&Roll Smith, Ab&Cd&Ef&Gh&Ij&Kl&Mn&Op&Qr&St Smith, A&B Smith, Tom&Jerry Jones, x.John Smith, _John Smith",
    "Our Team, The Smiths, Élodie Durand, Ölçer Yılmaz, Zhang Wei, Maria Rossi and Giulia Bianchi met Ann Lee.",
    /* first words of 42, 45 and 46 bytes before an initial: the start is near max_len from the end */
    "x Averyveryveryveryverylongcapitalisedwordin F. Smith, Averyveryveryveryverylongcapitalisedwordinde F. Smith",
    "Averyveryveryveryverylongcapitalisedwordindee F. Smith",
    /* a first word of 52 bytes: without the check, PCRE2 found it in overlapping windows (skipped) */
    "John AJohn John The Smith GarcíaGarcíaGarcíaGarcíaGarcíaGarcíaGarcíaOur García",
    "John Smith", "J Smith", "Jo Smith", "É Smith", "text ends John S", NULL},
  5,
  (const char *const[]){
    "John ", "Smith ", "Mary", "Kennedy", "The ", "In ", "Our ", "the ", "and ",
    "M. ", "F.", "Dr. ", "Rock&Roll ", "O'Neil ", "Jean-Luc ", "José ", "García",
    "Ávila", "É", "Abby", "Laidlaw", " ", " ", "  ", "\t", "\n", ".", ",", "&",
    "'", "-", "@", "_", "1", "A", "Ab", "Zz ", NULL},
  11, 100};

static checked_rule k_first = {
  "person_first_name",
  (const char *const[]){
    "Johannes met Christiansen, Magnusson, Jensen and Hughes; Ottová and Avalara; Anne-Marie, Annabelle and Ann.",
    "Mary, Maryland, Marketing, Mark's, x.Mark @Mark _Mark Mark-Paul d'Mark Élodie Ærø ÖMark Zoë Ana-Lucía",
    "Ava Avalon Aviva Eva Evan Evangeline Ian Iana Noah Noahs Olivia Oliviana Liam Liamh Sofia Sofias Luca Lucas",
    /* names after a short capitalised word, and after the bytes WB lets a start follow */
    "Xy Mary, Oz Ann, Qt Eva and Zed Ava; Rock&Mary, 'Mary', (Ann) and \"Eva\"; X Mary, X Ann, X Eva, X Ava, X John",
    "John", "Anna", "Annabelle", "text ends Mar", NULL},
  10,
  (const char *const[]){
    "John", "Mary", "Ann", "Anna", "Mark", "Christian", "Jens", "Ava", "Élodie",
    "sen", "son", "belle", "eting", "-", "'s", " ", " ", "  ", ".", ",", "@",
    "_", "x", "The ", "and ", "\n", "1", "Ö", "Lucía", NULL},
  13, 100};

/* The same hits with the rule's pre-check as without it; returns the rule's.  Texts where
 * either side has a hit longer than the rule's max_len are counted in *skipped instead. */
static size_t same_hits(const validated_ref *g, const char *t, size_t len, size_t *skipped) {
  char why[512];
  long found = validated_diff(g, t, len, why, sizeof why);
  if (found == VALIDATED_SKIP) {
    ++*skipped;
    return 0;
  }
  if (found < 0) fail_msg("%s: %s, text \"%.*s\"", g->rule->name, why, (int)len, t);
  return (size_t)found;
}

/* 3,000 random texts of 20-170 bytes made of bits; returns the rule's hits */
static size_t random_texts(const validated_ref *g, const char *const *bits, uint64_t r) {
  size_t nbits = 0, found = 0, skipped = 0;
  while (bits[nbits]) nbits++;
  char text[200];
  for (int it = 0; it < 3000; it++) {
    size_t k = 0;
    r = r * 6364136223846793005u + 1442695040888963407u;
    size_t len = 20 + (r >> 40) % 150;
    while (k + 4 < len) {
      r = r * 6364136223846793005u + 1442695040888963407u;
      const char *b = bits[(r >> 33) % nbits];
      size_t bl = strlen(b);
      if (k + bl > sizeof text) break;
      memcpy(text + k, b, bl);
      k += bl;
    }
    found += same_hits(g, text, k, &skipped);
  }
  assert_true(skipped * 20 < 3000);  /* few texts left out: the rest compared */
  return found;
}

/* The PII texts of ../shared/data: false when they are not there, else the rule's hits in *found */
static bool pii_texts(const validated_ref *g, size_t *found_out) {
  kl_buf all = KL_BUF_INIT;
  if (kl_buf_read_path(&all, KEEL_SOURCE_DIR "/../shared/data/pii/synth_dataset_v2.json", 0) != 0) {
    kl_buf_free(&all);
    return false;
  }
  cJSON *arr = cJSON_ParseWithLength(all.data, all.len);
  const cJSON *it;
  size_t found = 0, texts = 0, skipped = 0;
  cJSON_ArrayForEach(it, arr) {
    texts++;
    const cJSON *t = cJSON_GetObjectItem(it, "full_text");
    if (cJSON_IsString(t)) found += same_hits(g, t->valuestring, strlen(t->valuestring), &skipped);
  }
  assert_true(texts > 0 && skipped * 20 < texts);
  cJSON_Delete(arr);
  kl_buf_free(&all);
  *found_out = found;
  return true;
}

static void test_rule(void **state) {
  const checked_rule *c = *state;
  validated_ref g;
  assert_true(validated_open(&g, c->name));
  size_t found = 0, skipped = 0;
  for (size_t i = 0; c->texts[i]; i++) found += same_hits(&g, c->texts[i], strlen(c->texts[i]), &skipped);
  assert_true(found >= c->min_texts);
  assert_true(random_texts(&g, c->bits, c->seed) > 100);
  size_t pii = 0;
  if (pii_texts(&g, &pii)) assert_true(pii > c->min_pii);
  else fprintf(stderr, "%s: no PII texts (../shared/data): fixed and random texts only\n", c->name);
  validated_close(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    {"credit_card", test_rule, NULL, NULL, &k_card},
    {"phone_national", test_rule, NULL, NULL, &k_phone},
    {"person_pair", test_rule, NULL, NULL, &k_pair},
    {"person_first_name", test_rule, NULL, NULL, &k_first},
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
