/* fuzz_guard_validated.c: the window pre-checks that apply a validator before PCRE2 (pii.c:
 * credit_card's card_may_match, phone_national's nat_may_match; pii_ner.c: person_pair's
 * pair_may_match, person_first_name's first_may_match), which fuzz_guard_prechecks cannot hold
 * to "every match of the pattern".
 * Invariant: the pii rules find exactly the same hits with each pre-check as without it
 * (guard_test_validated.h; texts whose only differences are matches no window of their own
 * holds, which PCRE2 runs into where windows overlap, are left out).
 * Each input is also tried as digits (every byte mapped into "0123456789 .-()" with a few
 * others kept) and as words (bytes mapped to capitalised and lowercase words, first names,
 * surnames, stopwords and the bytes between them), so that the groups, separators, names and
 * lookarounds these rules care about come up at once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#define assert_non_null(x) \
  do {                     \
    if (!(x)) abort();     \
  } while (0)
#include "../tests/unit/guard_test_validated.h"

#define NRULES 4
static validated_ref g_ref[NRULES];

/* what a byte becomes in the words form: names, words v_pair refuses, initials, and the bytes
 * inside and between words that person_pair's pattern and pre-check look at */
static const char *const g_words[] = {
  "John ", "Smith ", "Mary", "Kennedy", "The ", "In ", "Our ", "the ", "and ", "M. ", "F.", "Dr. ", "Rock&Roll ",
  "O'Neil ", "d'Artagnan ", "Jean-Luc ", "José ", "García", "Ávila", "É", "Ölçer ", "Abby", "Laidlaw", "Köln ",
  "Ann", "Ava", "sen", "belle", "Mark", "eting",
  " ", " ", "  ", "\t", "\n", ".", ",", "&", "'", "-", "@", "_", "1", "A", "Ab", "Zz ",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const names[NRULES] = {"credit_card", "phone_national", "person_pair", "person_first_name"};
  if (!g_ref[0].rule)
    for (int i = 0; i < NRULES; i++)
      if (!validated_open(&g_ref[i], names[i])) abort();
  if (size > 512) return 0;
  static const char digitish[] = "0123456789012345678901234567890123456789 .-() .-() ,:/+x_a\n";
  size_t nw = sizeof g_words / sizeof g_words[0], wlen = 0;
  char *raw = malloc(size ? size : 1), *dig = malloc(size ? size : 1), *words = malloc(size * 12 + 1);
  if (!raw || !dig || !words) abort();
  for (size_t i = 0; i < size; i++) {
    raw[i] = (char)data[i];
    dig[i] = digitish[data[i] % (sizeof digitish - 1)];
    const char *w = g_words[data[i] % nw];
    memcpy(words + wlen, w, strlen(w));
    wlen += strlen(w);
  }
  char *exact = malloc(wlen ? wlen : 1);  /* exact: ASan sees overreads */
  if (!exact) abort();
  if (wlen) memcpy(exact, words, wlen);
  const char *texts[3] = {raw, dig, exact};
  const size_t lens[3] = {size, size, wlen};
  char why[512];
  for (int i = 0; i < NRULES; i++)
    for (int k = 0; k < 3; k++)
      if (validated_diff(&g_ref[i], texts[k], lens[k], why, sizeof why) == -1) {
        fprintf(stderr, "%s: %s, text \"%.*s\"\n", names[i], why, (int)lens[k], texts[k]);
        abort();
      }
  free(raw);
  free(dig);
  free(words);
  free(exact);
  return 0;
}
