/* pii_shapes.c: a window source (guard_window_source) for two pii rules whose search forms are
 * short shapes of character classes with no literal in them, found here instead of by
 * Hyperscan:
 *   slot 0, person_pair (pii_ner.c): "[A-Za-z'.&\x80-\xBF-][ \t]+" then a capital (UP);
 *   slot 1, btc_base58 (pii.c):      "(?:^|[^A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25}".
 *
 * Why: a form without a literal is an automaton Hyperscan runs over every byte, and these two
 * (which wake at every letter or token start) pulled the policy's automata into a slower shape.
 * Leaving them out of the input policy of bench_guard's every-scanner run cut its Hyperscan pass
 * (callgrind, per 4 KiB) over plain prose 188k -> 143k instructions, MT-Bench questions 242k
 * -> 201k, the benchmark's sample 273k -> 244k, though either alone costs only a few thousand
 * (and neither alone, nor the two rewritten as other shapes, made the pass cheaper).  This pass
 * costs ~3 instructions a byte (12k per 4 KiB of prose; 20k on the sample, dense in digits);
 * the whole check: prose 269k -> 237k, MT-Bench 383k -> 356k, the sample 532k -> 525k.
 *
 * The source reports exactly the ends Hyperscan reported for the forms (GUARD_SOURCE_LEAD:
 * the rules' leads and pre-checks then open the same windows, so findings cannot change;
 * test_guard_pii_shapes compares the ends with Hyperscan's on written and random texts):
 *   - person_pair: the form ends right after a capital (one byte, or a lead byte and the
 *     continuation UP allows) that follows a blank, when the byte before that run of blanks is
 *     one of the first class.  The blanks are a maximal run (the first class holds no blank),
 *     so each capital gives one end.
 *   - btc_base58: the form is 26 bytes from its '1' or '3', which must start the text or follow
 *     a byte that is no ASCII letter or digit; 25 base58 bytes follow.  One end per start.
 * Candidates are found with SSE2, as bit masks of 64 bytes: a blank before a capital's first
 * byte, or a '1' / '3'; each is then checked byte by byte. */
#include "guard/pii_ner.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { SLOT_PAIR = 0, SLOT_BTC = 1 };


static bool alnum(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26 || (unsigned char)(c - '0') < 10; }

/* The first class of person_pair's form: [A-Za-z'.&\x80-\xBF-]. */
static bool pair_first(unsigned char c) {
  return (unsigned char)((c | 0x20) - 'a') < 26 || c == '\'' || c == '.' || c == '&' || c == '-' ||
         (c >= 0x80 && c <= 0xBF);
}

/* Base58 (Bitcoin's alphabet: no 0, I, O or l), as a table built by the compiler. */
#define B58(c) \
  (((c) >= '1' && (c) <= '9') || ((c) >= 'A' && (c) <= 'Z' && (c) != 'I' && (c) != 'O') || \
   ((c) >= 'a' && (c) <= 'z' && (c) != 'l'))
static const bool k_base58[256] = GUARD_BYTE_TABLE(B58);

/* A candidate at i: the byte before it is a blank and it may start a capital, or it is a '1' or
 * '3' that starts a token. */
static void check_at(const unsigned char *u, size_t len, size_t i, guard_source_report_fn report, void *ctx) {
  unsigned char c = u[i];
  if (c == '1' || c == '3') {
    if ((i == 0 || !alnum(u[i - 1])) && i + 26 <= len) {
      size_t k = 1;
      while (k < 26 && k_base58[u[i + k]]) k++;
      if (k == 26) report(ctx, SLOT_BTC, GUARD_SOURCE_LEAD, i + 26);
    }
    return;
  }
  if (!i || !guard_is_blank(u[i - 1])) return;
  size_t end;
  if ((unsigned char)(c - 'A') < 26) {
    end = i + 1;
  } else {
    if (i + 1 >= len) return;
    unsigned char d = u[i + 1];
    bool ok = (c == 0xC3 && d >= 0x80 && d <= 0x9E) || (c >= 0xC4 && c <= 0xC7 && d >= 0x80 && d <= 0xBF) ||
              (c == 0xCE && d >= 0x86 && d <= 0xAB) || (c == 0xD0 && d >= 0x80 && d <= 0xAF);
    if (!ok) return;
    end = i + 2;
  }
  size_t b = i - 1;  /* the blanks' first byte */
  while (b > 0 && guard_is_blank(u[b - 1])) b--;
  if (b > 0 && pair_first(u[b - 1])) report(ctx, SLOT_PAIR, GUARD_SOURCE_LEAD, end);
}

/* Masks of 64 bytes at u (bit b: byte b): blanks, possible capitals' first bytes (A-Z and
 * 0xC3-0xD0, a superset that check_at narrows), '1' and '3' (check_at looks at the byte before
 * them: they are rare in prose, and a mask of letters and digits cost more than the looks). */
typedef struct { uint64_t blank, cap, d13; } shape_masks;

static void shape_classify(const unsigned char *u, shape_masks *m) {
#ifdef __SSE2__
  const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t'), abase = _mm_set1_epi8((char)('A' + 128)),
                alim = _mm_set1_epi8(-128 + 26), hbase = _mm_set1_epi8((char)(0xC3 + 128)),
                hlim = _mm_set1_epi8(-128 + 0xD1 - 0xC3),
                two = _mm_set1_epi8(2), three = _mm_set1_epi8('3');
  uint64_t b = 0, c = 0, d = 0;
  for (int k = 0; k < 64; k += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + k));
    b |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, tab))) << k;
    c |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(_mm_sub_epi8(x, abase), alim),
                                                            _mm_cmplt_epi8(_mm_sub_epi8(x, hbase), hlim))) << k;
    d |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(x, two), three)) << k;
  }
  *m = (shape_masks){b, c, d};
#else
  *m = (shape_masks){0, 0, 0};
  for (int k = 0; k < 64; k++) {
    unsigned char x = u[k];
    m->blank |= (uint64_t)guard_is_blank(x) << k;
    m->cap |= (uint64_t)((unsigned char)(x - 'A') < 26 || (x >= 0xC3 && x <= 0xD0)) << k;
    m->d13 |= (uint64_t)((x | 2) == '3') << k;
  }
#endif
}

static void shapes_scan(const char *t, size_t len, guard_source_report_fn report, void *ctx) {
  const unsigned char *u = (const unsigned char *)t;
  uint64_t prev_blank = 0;  /* the byte before the first: "no byte" is no blank */
  for (size_t i = 0; i < len; i += 64) {
    shape_masks m;
    unsigned char pad[64];
    shape_classify(guard_block64(u, len, i, pad, 0), &m);
    uint64_t after_blank = m.blank << 1 | prev_blank;
    prev_blank = m.blank >> 63;
    for (uint64_t c = (m.cap & after_blank) | m.d13; c; c &= c - 1)
      check_at(u, len, i + (size_t)__builtin_ctzll(c), report, ctx);
  }
}

const guard_window_source guard_pii_shapes_source = {shapes_scan};

void guard_pii_shapes_take(guard_scanner *s, const guard_rule *r) {
  if (!strcmp(r->name, "person_pair")) guard_scanner_hs_source(s, r, &guard_pii_shapes_source, SLOT_PAIR);
  else if (!strcmp(r->name, "btc_base58")) guard_scanner_hs_source(s, r, &guard_pii_shapes_source, SLOT_BTC);
}
