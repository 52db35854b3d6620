/* pii_digits.c: a window source (guard_window_source) for the eleven pii rules whose search
 * forms are shapes of digits and separators with no literal in them, found here instead of by
 * Hyperscan.  Each rule keeps a form in its hint (pii.c, pii_ner_addr.c), and this pass reports
 * exactly the ends Hyperscan reports for that form (GUARD_SOURCE_LEAD: the rule's lead then
 * opens the same windows, so findings cannot change; test_guard_pii_digits and
 * fuzz_guard_sources compare the ends with Hyperscan's):
 *   slot  rule            form                                                lead
 *   0     phone_us        (?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}          18
 *   1     phone_national  \(?\d{2,5}\)?[ .-]\d{2}                               10
 *   2     credit_card     \d(?:[ -]?\d){11}                                     23
 *   3     iban            (?:^|[^A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){3}, caseless 10
 *   4     us_ssn          \d{3}[- .]?\d{2}[- .]?\d{4}                           max_len
 *   5     ipv4            (?:\d{1,3}\.){3}\d                                    13
 *   6     mac             its own expression (hex pairs or quads)               max_len
 *   7     street_generic  \d{2,6}[ \t]+[A-Z]                                    max_len
 *   8     date_iso        \d{4}-\d{1,2}-\d                                      9
 *   9     date_numeric    \d{1,2}[/.-]\d{1,2}[/.-]\d{2}|\d{4}/\d{1,2}/\d        9
 *   10    time            \d{1,2}:\d{2}|\d{1,2}[ \t]?(?:[AaPp]\.[Mm]\.|[AaPp][Mm]\b)  7
 * Most forms are the shortest prefix every match of the rule begins with: the optional tails
 * (extensions, more groups, times after dates) only made Hyperscan report more ends inside
 * windows already open, and a prefix's ends are easy to reproduce by hand.
 *
 * Why: a form without a literal is an automaton Hyperscan runs over every byte.  Taking these
 * eleven out of the stage's database, together (taking out only some of them made plain prose
 * dearer: Hyperscan then picks a slower shape for the rest), cut its pass over bench_guard's
 * sample 244k -> 131k instructions per 4 KiB, Presidio's texts 207k -> 152k, prose 143k -> 125k.
 * This pass costs ~36k on the sample (229 runs of digits per 4 KiB) and 7-10k on text with few
 * digits; the whole every-scanner check: sample 524k -> 459k, prose 238k -> 230k.
 *
 * How: one SSE2 pass classifies 64 bytes at a time into digits, ':' or '-', and '.'.  Every form
 * but mac's holds a digit, and each places its end at a fixed spot of a run of digits (the run
 * that starts after the separator before the last group, or the run the form's letters follow),
 * so each maximal run [a, b) is looked at once: the ends that can fall in it are checked byte by
 * byte, backwards through the groups before it.  The checks are written from the forms: a
 * group "exactly 1-3 digits" between two separators is the whole run between them, the first
 * group of an unanchored form may be the tail of a longer run, and optional separators are
 * never digits, so every walk is deterministic.  mac's candidates are a ':' or '-' with another
 * three bytes on, and a '.' with another five bytes on. */
#include "guard/pii_ner.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum {
  SLOT_PHONE_US, SLOT_PHONE_NAT, SLOT_CARD, SLOT_IBAN, SLOT_SSN, SLOT_IPV4, SLOT_MAC, SLOT_STREET, SLOT_DATE_ISO,
  SLOT_DATE_NUM, SLOT_TIME,
};

typedef struct {
  const unsigned char *u;
  size_t len;
  guard_source_report_fn report;
  void *ctx;
  size_t chain_end;     /* credit_card: where the last run ended, and the digits of its chain */
  size_t chain_digits;
} digits_scan;

/* The byte at i; 0 (in no class) outside the text, "before 0" included: i wraps around.  Runs
 * at least NEAR bytes from both ends of the text (most of them) are checked by a copy of the
 * checks where `at` reads without the bounds test (inner == true): no check looks further than
 * NEAR bytes before a run or after it, but for the loops over blanks, which keep the test. */
enum { NEAR = 16 };
#define ALWAYS_INLINE static inline __attribute__((always_inline))
ALWAYS_INLINE unsigned char at_(const digits_scan *c, size_t i, bool inner) {
  return inner || i < c->len ? c->u[i] : 0;
}
#define at(c, i) at_((c), (i), inner)
static inline unsigned char at_checked(const digits_scan *c, size_t i) { return i < c->len ? c->u[i] : 0; }

static inline bool hexd(unsigned char x) { return guard_is_digit(x) || (unsigned char)((x | 0x20) - 'a') < 6; }
static inline bool sep3(unsigned char x) { return x == ' ' || x == '.' || x == '-'; }      /* [ .-] */
static inline bool date_sep(unsigned char x) { return x == '/' || x == '.' || x == '-'; }  /* [/.-] */

static inline void report(const digits_scan *c, unsigned slot, size_t end) {
  c->report(c->ctx, slot, GUARD_SOURCE_LEAD, end);
}

/* Whether the n bytes before p are digits. */
ALWAYS_INLINE bool digits_before(const digits_scan *c, size_t p, unsigned n, bool inner) {
  for (unsigned k = 1; k <= n; k++)
    if (!guard_is_digit(at(c, p - k))) return false;
  return true;
}

/* The first byte of a group of 1..max digits right before p, or SIZE_MAX.  The callers then
 * want a separator before the group, which a longer run of digits does not have. */
ALWAYS_INLINE size_t group_before(const digits_scan *c, size_t p, unsigned max, bool inner) {
  unsigned k = 0;
  while (k < max && guard_is_digit(at(c, p - 1 - k))) k++;
  return k ? p - k : (size_t)-1;
}

/* ipv4 at e (a '.' at e - 2, a digit at e - 1): two whole groups of 1-3 digits, each after a
 * '.', then a digit. */
ALWAYS_INLINE bool ipv4_end(const digits_scan *c, size_t e, bool inner) {
  size_t p = e - 2;
  for (int g = 0; g < 2; g++) {
    size_t q = group_before(c, p, 3, inner);
    if (q == (size_t)-1 || at(c, q - 1) != '.') return false;
    p = q - 1;
  }
  return guard_is_digit(at(c, p - 1));
}

/* date_iso at e ('-' at e - 2): a whole group of 1-2 digits after a '-', 4 digits before it.
 * date_numeric's second form is the same with '/'. */
ALWAYS_INLINE bool ymd_end(const digits_scan *c, size_t e, unsigned char s, bool inner) {
  size_t q = group_before(c, e - 2, 2, inner);
  return q != (size_t)-1 && at(c, q - 1) == s && digits_before(c, q - 1, 4, inner);
}

/* date_numeric's first form at e (a [/.-] at e - 3, digits at e - 2, e - 1). */
ALWAYS_INLINE bool dmy_end(const digits_scan *c, size_t e, bool inner) {
  size_t q = group_before(c, e - 3, 2, inner);
  return q != (size_t)-1 && date_sep(at(c, q - 1)) && guard_is_digit(at(c, q - 2));
}

/* phone_us at e ([ .-] at e - 5, four digits before e): three digits, then "ddd[ .-]",
 * "(ddd)" or "(ddd)[ .-]" before them. */
ALWAYS_INLINE bool phone_us_end(const digits_scan *c, size_t e, bool inner) {
  if (!digits_before(c, e - 5, 3, inner)) return false;
  unsigned char x = at(c, e - 9);
  if (x == ')') return digits_before(c, e - 9, 3, inner) && at(c, e - 13) == '(';
  if (!sep3(x)) return false;
  if (digits_before(c, e - 9, 3, inner)) return true;
  return at(c, e - 10) == ')' && digits_before(c, e - 10, 3, inner) && at(c, e - 14) == '(';
}

/* us_ssn at e (four digits before e): [- .]? two digits [- .]? three digits. */
ALWAYS_INLINE bool ssn_end(const digits_scan *c, size_t e, bool inner) {
  size_t p = e - 4;
  if (sep3(at(c, p - 1))) p--;
  if (!digits_before(c, p, 2, inner)) return false;
  p -= 2;
  if (sep3(at(c, p - 1))) p--;
  return digits_before(c, p, 3, inner);
}

/* iban from a run of at least two digits at a: two letters before it at a token start, then
 * three letters or digits after those two digits, each after an optional space. */
ALWAYS_INLINE void iban_at(const digits_scan *c, size_t a, bool inner) {
  if (!guard_is_letter(at(c, a - 1)) || !guard_is_letter(at(c, a - 2)) || guard_is_alnum(at(c, a - 3))) return;
  size_t p = a + 2;
  for (int k = 0; k < 3; k++) {
    if (at(c, p) == ' ') p++;
    if (!guard_is_alnum(at(c, p))) return;
    p++;
  }
  report(c, SLOT_IBAN, p);
}

/* time's second form after a run ending at b: [ \t]?, then a.m. / am with a word end. */
ALWAYS_INLINE void ampm_at(const digits_scan *c, size_t b, bool inner) {
  size_t p = b + guard_is_blank(at(c, b));
  unsigned char x = at(c, p) | 0x20, y = at(c, p + 1);
  if (x != 'a' && x != 'p') return;
  if (y == '.' && (at(c, p + 2) | 0x20) == 'm' && at(c, p + 3) == '.') {
    report(c, SLOT_TIME, p + 4);
  } else if ((y | 0x20) == 'm') {
    unsigned char z = at(c, p + 2);
    if (!guard_is_alnum(z) && z != '_') report(c, SLOT_TIME, p + 2);
  }
}

/* Every end that falls in or after the maximal run of digits [a, b). */
ALWAYS_INLINE void on_run_(digits_scan *c, size_t a, size_t b, bool inner) {
  size_t n = b - a;
  unsigned char before = at(c, a - 1);
  /* ends one digit into the run */
  if (before == '.' && ipv4_end(c, a + 1, inner)) report(c, SLOT_IPV4, a + 1);
  if (before == '-' && ymd_end(c, a + 1, '-', inner)) report(c, SLOT_DATE_ISO, a + 1);
  if (before == '/' && ymd_end(c, a + 1, '/', inner)) report(c, SLOT_DATE_NUM, a + 1);
  if (n >= 2) {  /* ends two digits into the run */
    if (date_sep(before) && dmy_end(c, a + 2, inner)) report(c, SLOT_DATE_NUM, a + 2);
    bool head = digits_before(c, a - 1, 2, inner) || (at(c, a - 2) == ')' && digits_before(c, a - 2, 2, inner));
    if (sep3(before) && head) report(c, SLOT_PHONE_NAT, a + 2);
    if (before == ':' && guard_is_digit(at(c, a - 2))) report(c, SLOT_TIME, a + 2);
    iban_at(c, a, inner);
  }
  if (n >= 4) {  /* four digits into the run, and on */
    if (sep3(before) && phone_us_end(c, a + 4, inner)) report(c, SLOT_PHONE_US, a + 4);
    for (size_t e = a + 4; e <= b; e++)
      if (e - a >= 9 || ssn_end(c, e, inner)) report(c, SLOT_SSN, e);
  }
  /* credit_card: the chain of digits, each after the last or one [ -] after it */
  size_t d = c->chain_end == a - 1 && (before == ' ' || before == '-') ? c->chain_digits : 0;
  for (size_t e = d >= 11 ? a + 1 : a + 12 - d; e <= b; e++) report(c, SLOT_CARD, e);  /* the 12th on */
  c->chain_end = b;
  c->chain_digits = d + n;
  /* after the run: street_generic's blanks and capital, time's a.m. */
  unsigned char after = at(c, b);
  if (n >= 2 && guard_is_blank(after)) {
    size_t p = b;
    while (guard_is_blank(at_checked(c, p))) p++;
    if ((unsigned char)(at_checked(c, p) - 'A') < 26) report(c, SLOT_STREET, p + 1);
  }
  if (guard_is_blank(after) || (after | 0x20) == 'a' || (after | 0x20) == 'p') ampm_at(c, b, inner);
}

static void on_run(digits_scan *c, size_t a, size_t b) {
  if (a >= NEAR && b + NEAR <= c->len) on_run_(c, a, b, true);
  else on_run_(c, a, b, false);
}

/* mac's first form from its first separator at p, its second form from its first '.'. */
static void mac_colon_at(const digits_scan *c, size_t p) {
  if (p < 2 || p + 15 > c->len) return;
  size_t s = p - 2;
  for (int k = 0; k < 6; k++)
    if (!hexd(c->u[s + 3 * k]) || !hexd(c->u[s + 3 * k + 1]) || (k < 5 && c->u[s + 3 * k + 2] != ':' &&
                                                               c->u[s + 3 * k + 2] != '-'))
      return;
  report(c, SLOT_MAC, s + 17);
}

static void mac_dot_at(const digits_scan *c, size_t p) {
  if (p < 4 || p + 10 > c->len || c->u[p + 5] != '.') return;
  size_t s = p - 4;
  for (int k = 0; k < 14; k++)
    if (k != 4 && k != 9 && !hexd(c->u[s + k])) return;
  report(c, SLOT_MAC, s + 14);
}

/* Masks of 64 bytes at u (bit b: byte b): digits, ':' or '-', '.'. */
typedef struct { uint64_t digit, colon, dot; } digit_masks;

static void digits_classify(const unsigned char *u, digit_masks *m) {
#ifdef __SSE2__
  const __m128i base = _mm_set1_epi8((char)('0' + 128)), lim = _mm_set1_epi8(-128 + 10), colon = _mm_set1_epi8(':'),
                dash = _mm_set1_epi8('-'), dot = _mm_set1_epi8('.');
  uint64_t d = 0, c = 0, p = 0;
  for (int k = 0; k < 64; k += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + k));
    d |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_sub_epi8(x, base), lim)) << k;
    c |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, colon), _mm_cmpeq_epi8(x, dash))) << k;
    p |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, dot)) << k;
  }
  *m = (digit_masks){d, c, p};
#else
  *m = (digit_masks){0, 0, 0};
  for (int k = 0; k < 64; k++) {
    m->digit |= (uint64_t)guard_is_digit(u[k]) << k;
    m->colon |= (uint64_t)(u[k] == ':' || u[k] == '-') << k;
    m->dot |= (uint64_t)(u[k] == '.') << k;
  }
#endif
}

static void digits_scan_text(const char *t, size_t len, guard_source_report_fn fn, void *ctx) {
  digits_scan c = {(const unsigned char *)t, len, fn, ctx, (size_t)-1, 0};
  uint64_t prev_digit = 0;  /* the byte before the block was a digit */
  for (size_t i = 0; i < len; i += 64) {
    digit_masks m;
    unsigned char pad[64];
    digits_classify(guard_block64(c.u, len, i, pad, 0), &m);
    for (uint64_t s = m.digit & ~(m.digit << 1 | prev_digit); s; s &= s - 1) {
      size_t o = (size_t)__builtin_ctzll(s), a = i + o, b;
      uint64_t rest = ~m.digit >> o;  /* 0 when the run reaches the block's end (bytes past the text are NUL) */
      if (rest) {
        b = a + (size_t)__builtin_ctzll(rest);
      } else {
        b = i + 64;
        while (b < len && guard_is_digit(c.u[b])) b++;
      }
      on_run(&c, a, b);
    }
    prev_digit = m.digit >> 63;
    /* a separator with another 3 bytes on (5 for '.'); the last bytes' partners are in the next block */
    for (uint64_t s = m.colon & (m.colon >> 3 | 7ull << 61); s; s &= s - 1)
      mac_colon_at(&c, i + (size_t)__builtin_ctzll(s));
    for (uint64_t s = m.dot & (m.dot >> 5 | 31ull << 59); s; s &= s - 1)
      mac_dot_at(&c, i + (size_t)__builtin_ctzll(s));
  }
}

const guard_window_source guard_pii_digits_source = {digits_scan_text};

/* The forms and leads of the table above, by rule name. */
static const struct { const char *rule, *form; unsigned slot, lead; } digit_forms[] = {
  {"phone_us", "(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}", SLOT_PHONE_US, 18},
  {"phone_national", "\\(?\\d{2,5}\\)?[ .-]\\d{2}", SLOT_PHONE_NAT, 10},
  {"credit_card", "\\d(?:[ -]?\\d){11}", SLOT_CARD, 23},
  {"iban", "(?:^|[^A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]){3}", SLOT_IBAN, 10},
  {"us_ssn", "\\d{3}[- .]?\\d{2}[- .]?\\d{4}", SLOT_SSN, 0},
  {"ipv4", "(?:\\d{1,3}\\.){3}\\d", SLOT_IPV4, 13},
  {"mac", "[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}", SLOT_MAC, 0},
  {"street_generic", "\\d{2,6}[ \\t]+[A-Z]", SLOT_STREET, 0},
  {"date_iso", "\\d{4}-\\d{1,2}-\\d", SLOT_DATE_ISO, 9},
  {"date_numeric", "\\d{1,2}[/.-]\\d{1,2}[/.-]\\d{2}|\\d{4}/\\d{1,2}/\\d", SLOT_DATE_NUM, 9},
  {"time", "\\d{1,2}:\\d{2}|\\d{1,2}[ \\t]?(?:[AaPp]\\.[Mm]\\.|[AaPp][Mm]\\b)", SLOT_TIME, 7},
};

bool guard_pii_digits_take(guard_scanner *s, const guard_rule *r) {
  for (size_t i = 0; i < sizeof digit_forms / sizeof *digit_forms; i++)
    if (!strcmp(digit_forms[i].rule, r->name)) {
      guard_scanner_hs_hint(s, r, digit_forms[i].form, digit_forms[i].lead);
      guard_scanner_hs_source(s, r, &guard_pii_digits_source, digit_forms[i].slot);
      return true;
    }
  return false;
}
