/* test_guard_pii_find.c: the hand-written matchers of pii_find.c (guard_find_fn) against PCRE2.
 *  - for each rule of the default pii scanner that has one (ipv4, time, date_iso, email,
 *    phone_intl, us_ssn, credit_card, street_generic, the gazetteer's capitalised words), on
 *    edge cases set in random context and on random texts drawn from the bytes that matter, at
 *    random start offsets, offset limits and subject lengths, the matcher must report exactly what
 *    pcre2_match reports with the rule's pattern as db.c compiles it (guard_rule_pcre): no
 *    match, or the same start and end;
 *  - a database of the scanner's rules finds the same hits with the matchers as without them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "guard/db.h"
#include "guard/guard_int.h"
#include "guard/kl_guard.h"

static uint64_t rng = 0x2545f4914f6cdd1du;
static size_t pick(size_t n) {
  rng = rng * 6364136223846793005u + 1442695040888963407u;
  return (size_t)(rng >> 33) % n;
}

static kl_guard_policy *pii_policy(const guard_scanner **s) {
  static const kl_guard_scanner_cfg sc = {.kind = "pii"};
  kl_guard_policy_cfg pc = {.name = "find", .scanners = &sc, .nscanners = 1};
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  assert_non_null(p);
  assert_int_equal(guard_policy_scanners(p, s), 1);
  return p;
}

static pcre2_code *compile_rule(const guard_rule *r) {
  kl_err err = {0};
  pcre2_code *c = guard_rule_pcre(r, &err);
  assert_non_null(c);
  return c;
}

typedef struct {
  const guard_rule *r;
  pcre2_code *re;
  size_t calls, matches;
} matcher;

static pcre2_match_data *md;
static pcre2_match_context *mc;

/* One call both ways; fails the test unless they agree. */
static void same(matcher *m, const char *t, size_t len, size_t slen, size_t off, size_t limit) {
  pcre2_set_offset_limit(mc, limit);
  int rc = pcre2_match(m->re, (PCRE2_SPTR)t, slen, off, slen < len ? PCRE2_NOTEOL : 0, md, mc);
  size_t ms = 0, me = 0;
  bool got = m->r->find(t, slen, off, limit, &ms, &me);
  m->calls++;
  if ((rc >= 0) != got)
    fail_msg("%s on \"%.*s\" (subject %zu, from %zu, limit %zu): PCRE2 %s, by hand %s", m->r->name, (int)len, t, slen,
             off, limit, rc >= 0 ? "matches" : "does not", got ? "does" : "does not");
  if (!got) return;
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  if (ov[0] != ms || ov[1] != me)
    fail_msg("%s on \"%.*s\" (subject %zu, from %zu, limit %zu): PCRE2 [%zu, %zu), by hand [%zu, %zu)", m->r->name,
             (int)len, t, slen, off, limit, (size_t)ov[0], (size_t)ov[1], ms, me);
  m->matches++;
}

/* Every start offset and a few limits and subject lengths. */
static void all_ways(matcher *m, const char *t, size_t len) {
  for (size_t off = 0; off <= len; off++) {
    same(m, t, len, len, off, len);
    same(m, t, len, len, off, off + pick(8));
    size_t slen = off + pick(len - off + 1);
    same(m, t, len, slen, off, off + pick(24));
  }
}

static const char *const edges[] = {
  /* ipv4 */
  "10.20.30.40", "1.2.3.4", "1.2.3.4.5", "1234.1.1.1", "1.1.1.1234", "255.255.255.255x", "1.2.3.4.", "1.2.3.4.a",
  "a1.2.3.4", "_1.2.3.4", "-1.2.3.4", ".1.2.3.4", "1..2.3.4", "1.2.3", "01.002.3.4", "1.2.3.4_", "1.2.3.4:80",
  /* time */
  "12:30", "1:05", "12:30:45", "12:30:45.123456789", "12:30:45.1234567890", "12:30:45.5x", "5pm", "5 pm", "5\tPM",
  "5 p.m.", "5 p.m", "5p.m.x", "12:30 am", "12:30am.", "12:30 a.m.", "12:30a.M", "12:30a.M.", "12:30 pmx",
  "12:30  pm", "1:2", "123:45", "12:345", "12:30:4", "12:30:45.", "12:30:45.x", ":12:30", "/12:30", "+5pm", "5pmx",
  "5 pm5", "12:30 p", "12:30 pm.5", "12:30pm:5", "12:30:45 PM", "12:30:45.5 p.m.", "9 AM.", "99am", "123pm",
  "7 a.m", "7a.m.5", "12:30:45:12", "12:30.5",
  /* date_iso */
  "2024-03-18", "2024-3-8", "2024-03-18T12:30", "2024-03-18 12:30:45.123Z", "2024-03-18T12:30+01:00",
  "2024-03-18T12:30-0500", "2024-03-18T12:30+01", "2024-03-18T12:30+01:0", "2024-03-18T", "2024-03-18x",
  "2024-03-18.5", "2024-03-18-5", "2024-03-18/1", "12024-03-18", "2024-003-18", "2024-03-181", "2024-03-18  \t 9:05",
  "2024-03-18 9:5", "2024-03-18T12:30:45.1234567890", "2024-03-18t12:30", "2024-03-18T12:30Z5", "2024-03-18T123:45",
  "2024-03-18 12:30 pm", "2024-03-18T12:30:45+0100x",
  /* email */
  "maria.rossi@example.it", "a@b.co", "a@b.c", "a@b.c0m", "a@b.com.-x", "a@b.com.x", "a@b.com.", "a@b@c.com",
  "x_y%z+w-v@mail.example.org", "a@b..com", "a@.com", "@b.com", "a@b.com-", "a@b.com_", "a.@b.com", "a@b-.com",
  "a@1.2.3.4.5.6.7.8.com", "a@1.2.3.4.5.6.7.8.9.com", "a@b.abcdefghijklmnopqrstuvwxy", "a@b.abcdefghijklmnopqrstuvwx",
  "a@b.com.2", "a@b.com.z9", "a@b.COM", ("\xC3\xA9" "a@b.com"), "a@b.c\xC3\xA9",
  /* phone_intl */
  "+39 06 6982 1234", "+390669821234", "+1 555 123 4567", "+44 (0)20 7946 0958", "+44(20)79460958", "+0 12 34",
  "+1 555 123 4567 890 12 34 56", "+1 555 123 4567 890 12 34.5", "+1 555-123-4567 ext. 12", "+1 555 1234 x12",
  "+1 555 1234x 12", "+1 555 1234 ext12a", "+1 555 1234-", "+1 555 1234.5", "+1 555 1234.", "a+1 555 1234",
  "++1 555 1234", "+1-(0)-555", "+1 (12345) 678", "+1 123456789012345678901234567890", "+12345 6",
  "+1 555 1234\text\t9", "+1.555.1234", "+1 555  1234", "+1 555 1234 e 12", "+1 555 1234\vx12",
  "+1 555 1234\fext\r12", "+1 555 1234\rx\v5",
  /* capitalised words */
  "Maria", "maria", "xMaria", "@Maria", ".Maria", "-Maria", "_Maria", "9Maria", ("\xC3\xA9" "Maria"), "Maria Rossi",
  "Maria Rossi Bianchi Verdi Neri", "New\tYork", "A B C D E F", "\xC3\x89mile", ("\xC5\x81\xC3\xB3" "d\xC5\xBA"),
  "O'Brien", "AT&T", "Mr.", "\xC3\x80\xC3\x80", "\xC3\x9Fx", "\xCE\xA9mega", "\xD0\x94\xD0\xBC\xD0\xB8",
  ("Nguy" "\xE1\xBB\x85" "n"), ("A" "\xE1\xB8"), "Maria  Rossi", "Maria Rossi\t", "Maria \xC3\x89mile",
  /* us_ssn */
  "123-45-6789", "123 45 6789", "123.45.6789", "123456789", "123-456789", "12345-6789", "123--45-6789", "1234-56-7890",
  "123-45-67890", "123-45-6789-", "123-45-6789.1", "123-45-6789.", "+123-45-6789", "a123-45-6789", "123-45-678",
  /* credit_card */
  "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "411111111111", "41111111111",
  "4111 1111 1111 1111 111", "4111111111111111111", "41111111111111111111", "4111111111111111111 2",
  "4111 1111 1111 1111-", "4111 1111 1111 1111.5", "4111  1111 1111 1111", "4111 1111 1111 111x", "-4111111111111",
  /* street_generic */
  "221 Baker Street 12", "221 Baker Street 12b", "221 Baker Street 12bc", "221 Baker Street 12b9", "221 Baker 12",
  "221  \t Baker Street Upper Lane 1234", "221 Baker Street Upper Lane Extra 12", "221 Baker Street Upper  Lane 12",
  "1 Baker 12", "1234567 Baker 12", "123456 Baker 12345", "12 baker 5", "12 B 5", "12 Baker5", "12 Baker  \t 5x",
  "12 Baker Stra\xC3\x9F" "e 7", "12 Baker \xC3\x89" "cole 7", "12 Baker \xC3\x89\xC3\xA9" "cole 7",
  "12 Baker \xC3\x89 7", "12 Baker \xCE\x91\xCE\xB1 7", "12 Baker \xD0\x94\xD0\xBC 7",
  "12 Baker \xC5\x81\xC3\xB3" "d\xC5\xBA 7", "12 Baker st 7", "a12 Baker 7", ".12 Baker 7", ",12 Baker 7",
  "/12 Baker 7", "-12 Baker 7", "_12 Baker 7", "\xC3\xA9" "12 Baker 7", "(12 Baker 7)", "12 Baker 7.5", "12 Baker 7_",
  "12 Baker 7-", "12 Baker 7\xC3\xA9", "12\tBaker\t7", "12 Baker\n7", "12 Baker Street 7 12 Main 9",
  "12 Baker \xC3\x9F" "e 7", "12 Baker \xC3\x9E" "e 7", "12 Baker \xC7\xBF" "e 7", "12 Baker \xC8\x80" "e 7",
  "12 Baker \xCE\x85\xCE\xB1 7", "12 Baker \xCE\xAB\xCF\x8E 7", "12 Baker \xD0\xAF\xD0\xB0 7",
  "12 Baker \xD0\xB0\xD1\x9F 7", "12 Baker \xD0\x94\xD1\xA0 7", "12 Baker \xCE\x91\xCF\x8F 7",
};

/* Random texts are strung from pieces of each rule's matches and of what borders them. */
static const char *const bits_ipv4[] = {"1", "12", "255", "1234", ".", ".", "1.2.", "3.4", "10.20.30.40", " ", "a",
                                        "_", "-", ":", "\xC3\xA9"};
static const char *const bits_time[] = {"1", "12", "5", "123", ":", ":30", ":45", ".5", ".123", " ", " ", "\t", "am",
                                        "pm", "a.m.", "p.m", "A", "P", "M", "x", "/", "+", "-", ".", "_", "\xC3\xA9",
                                        " 12:30", " 5:00:00", " 9:05:07.25", " 7 ", " 11"};

static const char *const bits_date[] = {"2024", "-", "-03", "-18", "-1", "1", "12", "12345", "T", " ", "\t", "12:30",
                                        ":45", ".5", "Z", "+01:00", "-0500", "+01", ":", ".", "/", "x", "_",
                                        " 2024-03-18", "\xC3\xA9"};

static const char *const bits_email[] = {"a", "xy", "9", "_", "%", "+", "-", ".", ".", "@", "@", "com", "co", "b2",
                                         "-x", " ", ",", "\xC3\xA9", "maria.rossi@example.it",
                                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"};

static const char *const bits_phone[] = {"+", "+1", "+39", "+390", "0", "06", "6982", "1234", "123456", " ", " ", ".",
                                         "-", "(", ")", "(0", "(06)", "x", "ext", "ext.", "\t", "\n", "\v", "a",
                                         "_", " x12", " +44 20 7946 0958"};

static const char *const bits_capw[] = {"Maria", "Rossi", "ro", "A", "Z", "\xC3\x89", "\xC3\xA9", "\xC3\x9F",
                                        "\xC5\x81", "\xCE\xA9", "\xCE\xB1", "\xD0\x94", "\xD0\xB4", "\xE1\xB8\x80",
                                        "\xE1\xBC\x88", "\x80", "'", ".", "&", "-", "@", "_", "9", " ", " ", "\t",
                                        "\n"};

static const char *const bits_ssn[] = {"123", "45", "6789", "-", "-", " ", ".", "1", "12", "1234", "+", "a", "_",
                                       " 123-45-6789", " 123456789", " 123 45", "-6789", " 123.45.6789", " 12345",
                                       "-45-", ", "};
static const char *const bits_street[] = {"12", "221", "1", "1234567", "5", " ", " ", "\t", "  ", "Baker", "B",
                                          "Street", "baker", "st", "x", "b", "\xC3\x89", "\xC3\xA9", "\xC3\x9F",
                                          "\xCE\x91", "\xCE\xB1", "\xD0\x94", "\xD0\xBC", "\xC5\x81", ".", ",",
                                          "-", "/", "_", "\n", " 221 Baker Street 12b", " 12 Main 5"};
static const char *const bits_card[] = {"4111", "1111", "4", " ", " ", "-", "1", "12", "4111 1111 1111 1111",
                                        "4111-1111-1111-1111", ".", "a", "_", "  ", "--"};

static size_t random_text(char *t, const char *const *bits, size_t nbits, size_t parts) {
  size_t n = 0;
  for (size_t b = 0; b < parts; b++) n += (size_t)sprintf(t + n, "%s", bits[pick(nbits)]);
  return n;
}

static void test_against_pcre2(void **state) {
  (void)state;
  const guard_scanner *s;
  kl_guard_policy *p = pii_policy(&s);
  matcher m[16];
  size_t nm = 0;
  for (size_t i = 0; i < s->nrules; i++) {  /* one rule of each name (the gazetteer's are many) */
    bool seen = false;
    for (size_t k = 0; k < nm; k++) seen = seen || !strcmp(m[k].r->name, s->rules[i].name);
    if (!s->rules[i].find || seen) continue;
    assert_true(nm < 16);
    m[nm++] = (matcher){&s->rules[i], compile_rule(&s->rules[i]), 0, 0};
  }
  /* ipv4, time, date_iso, email, phone_intl, us_ssn, credit_card, street_generic, person_first_name
   * and the four location lists */
  assert_int_equal(nm, 13);
  md = pcre2_match_data_create(8, NULL);
  mc = pcre2_match_context_create(NULL);
  char t[2048];  /* up to 24 pieces of up to 64 bytes, or an edge case between four */
  for (size_t k = 0; k < nm; k++) {
    const char *name = m[k].r->name;
    static const struct { const char *name; const char *const *bits; size_t n; } sets[] = {
      {"ipv4", bits_ipv4, sizeof bits_ipv4 / sizeof *bits_ipv4},
      {"time", bits_time, sizeof bits_time / sizeof *bits_time},
      {"date_iso", bits_date, sizeof bits_date / sizeof *bits_date},
      {"email", bits_email, sizeof bits_email / sizeof *bits_email},
      {"phone_intl", bits_phone, sizeof bits_phone / sizeof *bits_phone},
      {"us_ssn", bits_ssn, sizeof bits_ssn / sizeof *bits_ssn},
      {"credit_card", bits_card, sizeof bits_card / sizeof *bits_card},
      {"street_generic", bits_street, sizeof bits_street / sizeof *bits_street},
    };
    const char *const *bits = bits_capw;  /* the gazetteer's rules */
    size_t nbits = sizeof bits_capw / sizeof *bits_capw;
    for (size_t k2 = 0; k2 < sizeof sets / sizeof *sets; k2++)
      if (!strcmp(name, sets[k2].name)) bits = sets[k2].bits, nbits = sets[k2].n;
    for (size_t e = 0; e < sizeof edges / sizeof *edges; e++)
      for (int rep = 0; rep < 6; rep++) {  /* alone, then between random pieces */
        size_t n = rep ? random_text(t, bits, nbits, pick(3)) : 0;
        n += (size_t)sprintf(t + n, "%s", edges[e]);
        if (rep) n += random_text(t + n, bits, nbits, pick(3));
        all_ways(&m[k], t, n);
      }
    for (int it = 0; it < 3000; it++) {
      size_t n = random_text(t, bits, nbits, 1 + pick(24));
      all_ways(&m[k], t, n);
    }
    print_message("%s: %zu calls, %zu matches, the same both ways\n", m[k].r->name, m[k].calls, m[k].matches);
    assert_true(m[k].matches > m[k].calls / 50);
    pcre2_code_free(m[k].re);
  }
  pcre2_match_data_free(md);
  pcre2_match_context_free(mc);
  kl_guard_policy_free(p);
}

/* The scanner's rules with their windows as the policy finds them, with and without find. */
static void test_same_hits(void **state) {
  (void)state;
  const guard_scanner *s;
  kl_guard_policy *p = pii_policy(&s);
  guard_rule *plain = calloc(s->nrules, sizeof *plain);
  const guard_rule **ra = calloc(s->nrules, sizeof *ra), **rb = calloc(s->nrules, sizeof *rb);
  const guard_hs_hint **hp = calloc(s->nrules, sizeof *hp);
  const guard_rule_source **sp = calloc(s->nrules, sizeof *sp);
  assert_true(plain && ra && rb && hp && sp);
  for (size_t i = 0; i < s->nrules; i++) {
    plain[i] = s->rules[i];
    plain[i].find = NULL;
    ra[i] = &s->rules[i];
    rb[i] = &plain[i];
    hp[i] = &s->hints[i];
    sp[i] = s->sources ? &s->sources[i] : NULL;
  }
  kl_err err = {0};
  guard_db *a = guard_db_build_sourced(ra, hp, sp, NULL, s->nrules, &err), *b = guard_db_build_sourced(rb, hp, sp, NULL,
                                                                                                       s->nrules, &err);
  assert_true(a && b);
  static const char *const words[] = {"10.20.30.40", "1.2.3.4.5", "version", "12:30:45", "5pm", "at", "7 p.m.",
                                      "on", "2024-03-18", "12:30", "call", "+39 06 6982 1234", "maria@example.it",
                                      "\n", "1.1.1.1234", "9:05 AM", "v1.2.3", "the", "server", "12:30:45.123",
                                      "2024-03-18T12:30:45Z", "2024-3-8", "2024-03-18 09:00+01:00",
                                      "221 Baker Street 12b", "12 Main 5", "Upper"};
  char t[2048];
  size_t hits = 0, found = 0;
  for (int it = 0; it < 2000; it++) {
    size_t n = 0, parts = 5 + pick(60);
    for (size_t k = 0; k < parts; k++) n += (size_t)sprintf(t + n, "%s ", words[pick(sizeof words / sizeof *words)]);
    guard_db_hits x = {0}, y = {0};
    assert_true(guard_db_scan(a, t, n, &x, &err));
    assert_true(guard_db_scan(b, t, n, &y, &err));
    if (x.n != y.n) fail_msg("\"%.*s\": %zu hits with the matchers, %zu without", (int)n, t, x.n, y.n);
    for (size_t i = 0; i < x.n; i++) {
      if (strcmp(x.v[i].rule->name, y.v[i].rule->name) || x.v[i].start != y.v[i].start || x.v[i].end != y.v[i].end)
        fail_msg("\"%.*s\": hit %zu differs (%s)", (int)n, t, i, x.v[i].rule->name);
      found += x.v[i].rule->find != NULL;
    }
    hits += x.n;
    guard_db_hits_free(&x);
    guard_db_hits_free(&y);
  }
  print_message("%zu hits, %zu of them by the matchers' rules, the same with and without them\n", hits, found);
  assert_true(found > 2000);
  guard_db_free(a);
  guard_db_free(b);
  free(plain);
  free(ra);
  free(rb);
  free(hp);
  free(sp);
  kl_guard_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_against_pcre2),
    cmocka_unit_test(test_same_hits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
