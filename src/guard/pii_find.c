/* pii_find.c: hand-written stand-ins (guard_find_fn, guard_int.h) for the PCRE2 patterns of rules
 * whose windows almost always hold a match: ipv4, time, date_iso, email, phone_intl, us_ssn,
 * credit_card, street_generic and the gazetteer's capitalised words (person_first_name,
 * location_country, ...).
 *
 * Why: a window's confirmation is a pcre2_jit_match call, ~530 instructions for these patterns
 * however short the match; on bench_guard's sample (an address, a version number, "5pm" and
 * "12:30:45" in every 600 bytes) ipv4 and time made 26 of its 47 calls per 4 KiB.  By hand a
 * window costs ~250: PCRE2 25.9k -> 12.2k instructions per 4 KiB, the matchers 6.6k, the
 * every-scanner check 332.3k -> 324.2k (callgrind, bench_guard_check); date_iso's 7 calls, a
 * further 307.5k -> 305.5k (at -O3); email's 7, 305.5k -> 302.3k (the rails bench's prompt, an
 * address in every paragraph: 324.9k -> 316.3k); phone_intl's 7, 302.3k -> 301.4k, after which
 * the sample makes no PCRE2 call.  On the Presidio texts the gazetteer's words, us_ssn and
 * credit_card took 29 of ~60 calls: 469.4k -> 459.2k; street_generic, the most of the rest (9 of
 * 39), 453.2k -> 449.5k.
 *
 * Exactness: each function reports what pcre2_match reports for the rule's pattern, pre(?:re)post,
 * on the subject text[0..slen) with start offset `off` and offset limit `limit`: the leftmost
 * start s in [off, limit], and for it the end PCRE2's backtracking reaches first.  So the
 * choices below are tried in the order PCRE2 tries them (greedy quantifiers longest first, the
 * last choice undone first), each ending checked against the lookahead.  Lookbehinds read before
 * off, as PCRE2's do; nothing at or after slen exists (a lookahead there succeeds, \b there sees a
 * non-word).  The patterns have no UTF flag: \d and \w are ASCII, and the gazetteer's classes
 * are bytes.  test_guard_pii_find compares each matcher with PCRE2 on edge cases and random
 * texts, and a policy's database with and without them; fuzz_guard_find does the same. */
#include "guard/pii_ner.h"

typedef struct {
  const unsigned char *u;
  size_t n;  /* slen */
} subj;

static inline int at(const subj *s, size_t i) { return i < s->n ? s->u[i] : -1; }  /* -1: no byte */
static inline bool digit(const subj *s, size_t i) { return i < s->n && guard_is_digit(s->u[i]); }
static inline bool word(int c) { return c >= 0 && (guard_is_alnum((unsigned char)c) || c == '_'); }
static inline bool blank(int c) { return c == ' ' || c == '\t'; }
static inline bool ap(int c) { return c == 'A' || c == 'a' || c == 'P' || c == 'p'; }
static inline bool em(int c) { return c == 'M' || c == 'm'; }
static inline bool digit_or_letter(int c) { return c >= 0 && guard_is_alnum((unsigned char)c); }

/* Bytes a start may not follow (the lookbehinds; after \w a digit also fails time's \b). */
#define WORD_(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || (c) == '_')
#define IPV4_NOT_AFTER_(c) (WORD_(c) || (c) == '.')
#define TIME_NOT_AFTER_(c) (WORD_(c) || (c) == '.' || (c) == ':' || (c) == '/' || (c) == '+' || (c) == '-')
static const bool ipv4_not_after[256] = GUARD_BYTE_TABLE(IPV4_NOT_AFTER_);
static const bool time_not_after[256] = GUARD_BYTE_TABLE(TIME_NOT_AFTER_);

/* The next start to try from b on, below end: a digit after none of the bytes not_after holds.
 * A digit after another starts nothing, so a run is skipped whole.  end if none. */
static inline size_t next_start(const subj *s, size_t b, size_t end, const bool *not_after) {
  for (; b < end; b++) {
    if (!guard_is_digit(s->u[b])) continue;
    if (!b || !not_after[s->u[b - 1]]) return b;
    while (b + 1 < end && guard_is_digit(s->u[b + 1])) b++;
  }
  return end;
}

/* The digits at i, counting at most cap + 1 of them (a longer run is longer than cap either way). */
static size_t run(const subj *s, size_t i, size_t cap) {
  size_t k = 0;
  while (k <= cap && digit(s, i + k)) k++;
  return k;
}

/* ---- ipv4: (?<![\w.])(?:(?:\d{1,3}\.){3}\d{1,3})(?![\w]|\.\d)
 * A group's digits cannot stop short of its run: a '.' must follow each of the first three, and
 * a digit left after the last would be \w.  So each group is a whole run of 1-3 digits, and the
 * pattern has one way to match from a start. */
bool guard_find_ipv4(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; (b = next_start(&s, b, end, ipv4_not_after)) < end; b++) {
    size_t p = b;
    bool ok = true;
    for (int g = 0; g < 4 && ok; g++) {
      size_t k = run(&s, p, 3);
      ok = k >= 1 && k <= 3;
      p += k;
      if (ok && g < 3) ok = at(&s, p++) == '.';
    }
    if (ok && !word(at(&s, p)) && !(at(&s, p) == '.' && digit(&s, p + 1))) {
      *ms = b;
      *me = p;
      return true;
    }
  }
  return false;
}

/* ---- time: (?<![\w.:/+-])(?:\b(?:T(?:[ \t]?[AaPp]\.?[Mm]\.?)?|\d{1,2}[ \t]?(?:[AaPp]\.[Mm]\.|
 * [AaPp][Mm]\b)))(?![\w]|[.:]\d), T = \d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?
 * From a start, \d{1,2} can only be the whole run of 1-2 digits (one digit less leaves a digit
 * where ':', a blank or a letter must be). */

/* The lookahead after a candidate end e. */
static bool time_after_ok(const subj *s, size_t e) {
  int c = at(s, e);
  return !word(c) && !((c == '.' || c == ':') && digit(s, e + 1));
}

/* After T's end e: (?:[ \t]?[AaPp]\.?[Mm]\.?)? and the lookahead.  The first end that passes, or
 * 0 (T is at least four bytes: no end is 0). */
static size_t time_suffix(const subj *s, size_t e) {
  for (int bl = 1; bl >= 0; bl--) {  /* [ \t]? longest first; then \.?, then \.?: undone last first */
    if (bl && !blank(at(s, e))) continue;
    size_t p = e + (size_t)bl;
    if (!ap(at(s, p))) continue;
    for (int dot = 1; dot >= 0; dot--) {
      if (dot && at(s, p + 1) != '.') continue;
      size_t q = p + 1 + (size_t)dot;
      if (!em(at(s, q))) continue;
      if (at(s, q + 1) == '.' && time_after_ok(s, q + 2)) return q + 2;
      if (time_after_ok(s, q + 1)) return q + 1;
    }
  }
  return time_after_ok(s, e) ? e : 0;  /* the optional group left out */
}

/* \d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)? from b, its 1-2 digits l, each way of it (longest first)
 * followed by what `then` accepts after it (the first end that passes, or 0): the end, or 0. */
typedef size_t (*after_clock_fn)(const subj *s, size_t e);
static size_t clock_then(const subj *s, size_t b, size_t l, after_clock_fn then) {
  size_t p = b + l, e;
  if (at(s, p) != ':' || !digit(s, p + 1) || !digit(s, p + 2)) return 0;
  p += 3;
  if (at(s, p) == ':' && digit(s, p + 1) && digit(s, p + 2)) {  /* seconds, tried first */
    size_t q = p + 3;
    if (at(s, q) == '.') {  /* a fraction, \d{1,9} longest first */
      size_t f = run(s, q + 1, 9);
      for (f = f > 9 ? 9 : f; f >= 1; f--)
        if ((e = then(s, q + 1 + f))) return e;
    }
    if ((e = then(s, q))) return e;
  }
  return then(s, p);
}

/* The second alternative: [ \t]? longest first, then each branch of the alternation. */
static size_t time_ampm(const subj *s, size_t b, size_t l) {
  for (int bl = 1; bl >= 0; bl--) {
    if (bl && !blank(at(s, b + l))) continue;
    size_t q = b + l + (size_t)bl;
    if (!ap(at(s, q))) continue;
    if (at(s, q + 1) == '.' && em(at(s, q + 2)) && at(s, q + 3) == '.' && time_after_ok(s, q + 4)) return q + 4;
    if (em(at(s, q + 1)) && !word(at(s, q + 2)) && time_after_ok(s, q + 2)) return q + 2;  /* \b: q + 2 no \w */
  }
  return 0;
}

bool guard_find_time(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; (b = next_start(&s, b, end, time_not_after)) < end; b++) {
    size_t l = run(&s, b, 2), e;
    if (l > 2) continue;
    if ((e = clock_then(&s, b, l, time_suffix)) || (e = time_ampm(&s, b, l))) {
      *ms = b;
      *me = e;
      return true;
    }
  }
  return false;
}

/* ---- date_iso: (?<![\w.:/+-])(?:\d{4}-\d{1,2}-\d{1,2}(?:(?:T|[ \t]+)C(?:Z|[+-]\d{2}:?\d{2})?)?)
 * (?![\w]|[.:/-]\d), C the clock above.  Each group of digits is its whole run (a shorter one
 * leaves a digit where '-', 'T', a blank or the lookahead's non-word must be), and [ \t]+ all of
 * the blanks (fewer leave one where the clock's digit must be). */

static bool date_after_ok(const subj *s, size_t e) {
  int c = at(s, e);
  return !word(c) && !((c == '.' || c == ':' || c == '/' || c == '-') && digit(s, e + 1));
}

/* After the clock's end e: (?:Z|[+-]\d{2}:?\d{2})? (':' tried first) and the lookahead. */
static size_t zone_then(const subj *s, size_t e) {
  int c = at(s, e);
  if (c == 'Z' && date_after_ok(s, e + 1)) return e + 1;
  if ((c == '+' || c == '-') && digit(s, e + 1) && digit(s, e + 2)) {
    size_t p = e + 3;
    if (at(s, p) == ':' && digit(s, p + 1) && digit(s, p + 2) && date_after_ok(s, p + 3)) return p + 3;
    if (digit(s, p) && digit(s, p + 1) && date_after_ok(s, p + 2)) return p + 2;
  }
  return date_after_ok(s, e) ? e : 0;  /* no zone */
}

bool guard_find_date_iso(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; (b = next_start(&s, b, end, time_not_after)) < end; b++) {  /* the same lookbehind */
    if (run(&s, b, 4) != 4 || at(&s, b + 4) != '-') continue;
    size_t p = b + 5, l = run(&s, p, 2);
    if (!l || l > 2 || at(&s, p + l) != '-') continue;
    p += l + 1;
    l = run(&s, p, 2);
    if (!l || l > 2) continue;
    size_t day = p + l, h = 0, e = 0;
    if (at(&s, day) == 'T') {
      h = day + 1;
    } else if (blank(at(&s, day))) {
      for (h = day; blank(at(&s, h)); h++) {}
    }
    if (h) {  /* the time, tried first */
      size_t hl = run(&s, h, 2);
      if (hl && hl <= 2) e = clock_then(&s, h, hl, zone_then);
    }
    if (!e && date_after_ok(&s, day)) e = day;
    if (e) {
      *ms = b;
      *me = e;
      return true;
    }
  }
  return false;
}

/* ---- email: (?<![A-Za-z0-9._%+-])(?:[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}
 * [A-Za-z]{2,24})(?![A-Za-z0-9-]|\.[A-Za-z0-9])
 * The local part is the whole run of its class before '@' (the lookbehind starts it at the run's
 * start, and '@' is not in the class), and each label the whole run before its '.'.  The choice
 * left is how many labels: as many as there are (at most 8) first, then fewer, the top-level
 * domain being the letters that start the segment after them; its letters are all of them (a
 * letter left after it fails the lookahead) and at most 24. */
#define LOCAL_(c) (WORD_(c) || (c) == '.' || (c) == '%' || (c) == '+' || (c) == '-')
#define LABEL_(c) ((WORD_(c) && (c) != '_') || (c) == '-')
static const bool local_ch[256] = GUARD_BYTE_TABLE(LOCAL_);
static const bool label_ch[256] = GUARD_BYTE_TABLE(LABEL_);

bool guard_find_email(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; b < end; b++) {
    if (!local_ch[s.u[b]] || (b && local_ch[s.u[b - 1]])) continue;
    size_t p = b;
    while (p < slen && local_ch[s.u[p]]) p++;
    if (p - b > 64 || at(&s, p) != '@') continue;
    size_t seg[9] = {p + 1}, k = 0;  /* seg[i]: where the segment after i labels starts */
    while (k < 8) {
      size_t q = seg[k], r = q;
      while (r < slen && label_ch[s.u[r]]) r++;
      if (r == q || r - q > 63 || at(&s, r) != '.') break;
      seg[++k] = r + 1;
    }
    for (size_t j = k; j >= 1; j--) {
      size_t t = seg[j];
      while (t < slen && t - seg[j] < 24 && guard_is_letter(s.u[t])) t++;
      int c = at(&s, t);
      if (t - seg[j] < 2 || (c >= 0 && label_ch[c]) || (c == '.' && digit_or_letter(at(&s, t + 1)))) continue;
      *ms = b;
      *me = t;
      return true;
    }
  }
  return false;
}

/* ---- phone_intl: (?<![\w+])(?:\+[1-9]\d{0,2}(?:[ .-]?\(0?\d{1,4}\))?(?:[ .-]?\d{1,5}){1,6}
 * (?:\s?(?:x|ext\.?)\s?\d{1,5})?)(?![\w-]|[.]\d)
 * Here the digit groups may split a run of digits anywhere, so the walk is PCRE2's own: depth
 * first over the same choices in the same order (an optional part tried first, a count longest
 * first; after a group, another group before stopping).  Where the walk has been is remembered:
 * what follows a position with so many groups matched does not depend on how it was reached, so
 * a (position, groups) pair that failed once fails again.  PCRE2 has no such memory, and a "+1"
 * with 30 digits and a letter after them took it every split of the digits into six groups: a
 * 4 KiB text of such numbers cost 236M instructions to check (and this walk without the memory
 * 199M); with it, 9.1M, of which this rule is 2.4M. */

static inline bool sep_ch(int c) { return c == ' ' || c == '.' || c == '-'; }
static inline bool space_ch(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }  /* \s without UTF */

static bool phone_after_ok(const subj *s, size_t e) {
  int c = at(s, e);
  return !word(c) && c != '-' && !(c == '.' && digit(s, e + 1));
}

/* 1..max digits at p, the most first: the most there are (at most max); 0 if none. */
static size_t up_to(const subj *s, size_t p, size_t max) {
  size_t n = run(s, p, max);
  return n > max ? max : n;
}

/* The extension (\s?(?:x|ext\.?)\s?\d{1,5})? after e, then the lookahead: the end, or 0. */
static size_t phone_finish(const subj *s, size_t e) {
  for (int s1 = 1; s1 >= 0; s1--) {
    if (s1 && !space_ch(at(s, e))) continue;
    size_t p = e + (size_t)s1, word_end[2], nw = 0;
    if (at(s, p) == 'x') {
      word_end[nw++] = p + 1;
    } else if (at(s, p) == 'e' && at(s, p + 1) == 'x' && at(s, p + 2) == 't') {
      if (at(s, p + 3) == '.') word_end[nw++] = p + 4;
      word_end[nw++] = p + 3;
    }
    for (size_t w = 0; w < nw; w++)
      for (int s2 = 1; s2 >= 0; s2--) {
        if (s2 && !space_ch(at(s, word_end[w]))) continue;
        size_t q = word_end[w] + (size_t)s2;
        for (size_t k = up_to(s, q, 5); k >= 1; k--)
          if (phone_after_ok(s, q + k)) return q + k;
      }
  }
  return phone_after_ok(s, e) ? e : 0;  /* no extension */
}

/* The walk from one '+': its text, where it starts, and the (position, groups) pairs that failed
 * (positions relative to the '+'; a match is at most 3 + 9 + 6 * 6 + 12 bytes long). */
typedef struct {
  const subj *s;
  size_t base;
  uint64_t failed[7][2];
} phone_walk;

/* (?:[ .-]?\d{1,5}){1,6} from p with `done` groups matched, then the rest: the end, or 0. */
static size_t phone_groups(phone_walk *w, size_t p, int done) {
  size_t rel = p - w->base;
  if (rel < 128 && (w->failed[done][rel / 64] >> (rel % 64) & 1)) return 0;
  const subj *s = w->s;
  size_t e = 0;
  for (int sp = 1; done < 6 && sp >= 0 && !e; sp--) {
    if (sp && !sep_ch(at(s, p))) continue;
    size_t q = p + (size_t)sp;
    for (size_t k = up_to(s, q, 5); k >= 1 && !e; k--) e = phone_groups(w, q + k, done + 1);
  }
  if (!e && done) e = phone_finish(s, p);
  if (!e && rel < 128) w->failed[done][rel / 64] |= (uint64_t)1 << (rel % 64);
  return e;
}

/* After the country code: (?:[ .-]?\(0?\d{1,4}\))? tried first, then the groups. */
static size_t phone_after_country(phone_walk *w, size_t p) {
  const subj *s = w->s;
  for (int sp = 1; sp >= 0; sp--) {
    if ((sp && !sep_ch(at(s, p))) || at(s, p + (size_t)sp) != '(') continue;
    size_t q = p + (size_t)sp + 1, e;
    for (int z = 1; z >= 0; z--) {
      if (z && at(s, q) != '0') continue;
      size_t r = q + (size_t)z;
      for (size_t k = up_to(s, r, 4); k >= 1; k--)
        if (at(s, r + k) == ')' && (e = phone_groups(w, r + k + 1, 0))) return e;
    }
  }
  return phone_groups(w, p, 0);
}

bool guard_find_phone_intl(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; b < end; b++) {
    if (s.u[b] != '+' || (b && (word(s.u[b - 1]) || s.u[b - 1] == '+'))) continue;
    if (!digit(&s, b + 1) || s.u[b + 1] == '0') continue;
    size_t p = b + 2, e;
    phone_walk w = {&s, b, {{0}}};
    for (size_t k = up_to(&s, p, 2) + 1; k-- > 0;)  /* \d{0,2}, the most first */
      if ((e = phone_after_country(&w, p + k))) {
        *ms = b;
        *me = e;
        return true;
      }
  }
  return false;
}

/* ---- the gazetteer rules (pii_ner.c): a capitalised word, CAPW = UP LT*+, after WB
 *   person_first_name and the like:  WB(?:CAPW)
 *   location_country and the like:   WB(?:CAPW(?:[ \t]CAPW){0,3})
 * UP = [A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC7][\x80-\xBF]|\xCE[\x86-\xAB]|\xD0[\x80-\xAF],
 * LT = [A-Za-z'.&-]|[\xC3-\xC9][\x80-\xBF]|[\xCE-\xD3][\x80-\xBF]|\xE1[\xB8-\xBB][\x80-\xBF],
 * WB = (?<![A-Za-z0-9_@.\x80-\xBF-]); bytes, no UTF flag.  LT*+ is possessive and each of its
 * branches starts with its own bytes, so a word is read one way; nothing follows the pattern,
 * so the first way PCRE2 tries, the most words ({0,3} longest first), is the match. */
#define WB_NOT_AFTER_(c) (WORD_(c) || (c) == '@' || (c) == '.' || (c) == '-' || ((c) >= 0x80 && (c) <= 0xBF))
static const bool wb_not_after[256] = GUARD_BYTE_TABLE(WB_NOT_AFTER_);

static inline bool in(int c, int lo, int hi) { return c >= lo && c <= hi; }

/* The length of UP at p, or 0. */
static size_t up_at(const subj *s, size_t p) {
  int a = at(s, p), b = at(s, p + 1);
  if (in(a, 'A', 'Z')) return 1;
  if ((a == 0xC3 && in(b, 0x80, 0x9E)) || (in(a, 0xC4, 0xC7) && in(b, 0x80, 0xBF)) ||
      (a == 0xCE && in(b, 0x86, 0xAB)) || (a == 0xD0 && in(b, 0x80, 0xAF)))
    return 2;
  return 0;
}

/* The length of LT at p, or 0. */
static size_t lt_at(const subj *s, size_t p) {
  int a = at(s, p), b = at(s, p + 1);
  if (in(a, 'A', 'Z') || in(a, 'a', 'z') || a == '\'' || a == '.' || a == '&' || a == '-') return 1;
  if ((in(a, 0xC3, 0xC9) || in(a, 0xCE, 0xD3)) && in(b, 0x80, 0xBF)) return 2;
  if (a == 0xE1 && in(b, 0xB8, 0xBB) && in(at(s, p + 2), 0x80, 0xBF)) return 3;
  return 0;
}

/* The end of CAPW at p, or 0 (no word ends at 0). */
static size_t capw_end(const subj *s, size_t p) {
  size_t n = up_at(s, p);
  if (!n) return 0;
  for (p += n; (n = lt_at(s, p)); p += n) {}
  return p;
}

static bool find_capw(const char *text, size_t slen, size_t off, size_t limit, size_t more, size_t *ms,
                      size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; b < end; b++) {
    size_t e;
    if ((b && wb_not_after[s.u[b - 1]]) || !(e = capw_end(&s, b))) continue;
    for (size_t k = 0, f; k < more && blank(at(&s, e)) && (f = capw_end(&s, e + 1)); k++) e = f;
    *ms = b;
    *me = e;
    return true;
  }
  return false;
}

bool guard_find_capw(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  return find_capw(text, slen, off, limit, 0, ms, me);
}

bool guard_find_capw_run(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  return find_capw(text, slen, off, limit, 3, ms, me);
}

/* ---- us_ssn: (?<![\w.+-])(?:\d{3}([- .]?)\d{2}[- .]?\d{4})(?![\w-]|[.]\d)
 * The groups are fixed counts of digits, and a separator, where there is one, must be taken
 * (left out, the next group would start on it): one way to match. */
#define SSN_NOT_AFTER_(c) (WORD_(c) || (c) == '.' || (c) == '+' || (c) == '-')
static const bool ssn_not_after[256] = GUARD_BYTE_TABLE(SSN_NOT_AFTER_);

static inline bool ssn_sep(int c) { return c == '-' || c == ' ' || c == '.'; }

bool guard_find_us_ssn(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; (b = next_start(&s, b, end, ssn_not_after)) < end; b++) {
    static const unsigned char group[3] = {3, 2, 4};
    size_t p = b;
    bool ok = true;
    for (int g = 0; g < 3 && ok; g++) {
      if (g && ssn_sep(at(&s, p))) p++;
      for (unsigned k = 0; k < group[g] && ok; k++) ok = digit(&s, p++);
    }
    int c = at(&s, p);
    if (ok && !word(c) && c != '-' && !(c == '.' && digit(&s, p + 1))) {
      *ms = b;
      *me = p;
      return true;
    }
  }
  return false;
}

/* ---- credit_card: (?<![\w.-])(?:\d(?:[ -]?\d){11,18})(?![\w-]|\.\d)
 * Each step of the repetition is read one way (a separator only with a digit after it), so the
 * choice is how many steps: all there are (at most 18) first, then fewer, down to 11, each end
 * checked against the lookahead. */
#define CARD_NOT_AFTER_(c) (WORD_(c) || (c) == '.' || (c) == '-')
static const bool card_not_after[256] = GUARD_BYTE_TABLE(CARD_NOT_AFTER_);

bool guard_find_credit_card(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; (b = next_start(&s, b, end, card_not_after)) < end; b++) {
    size_t ends[18], n = 0, p = b + 1;  /* ends[k - 1]: the end after k steps */
    while (n < 18) {
      int c = at(&s, p);
      size_t q = (c == ' ' || c == '-') ? p + 1 : p;
      if (!digit(&s, q)) break;
      ends[n++] = p = q + 1;
    }
    for (size_t k = n; k >= 11; k--) {
      int c = at(&s, ends[k - 1]);
      if (!word(c) && c != '-' && !(c == '.' && digit(&s, ends[k - 1] + 1))) {
        *ms = b;
        *me = ends[k - 1];
        return true;
      }
    }
  }
  return false;
}

/* ---- street_generic: (?<![A-Za-z0-9.,/_\x80-\xBF-])(?:\b\d{2,6}[ \t]+[A-Z])[a-z]+
 * (?:[ \t]UP LW+){0,2}[ \t]+\d{1,4}[A-Za-z]?(?![A-Za-z0-9])  ("221 Baker Street 12b"; UP and LW:
 * an upper or lower case letter, ASCII or one of a few two-byte UTF-8 ranges, pii_ner_addr.c;
 * UP is the capitalised words' UP, up_at).
 * Every run here is taken whole: giving back a digit, a blank or a letter leaves one where the
 * next item wants another class ([ \t] after the digits, [A-Z] after the blanks, [ \t] after
 * the words, and \d, not a blank, after the last blanks).  The \b is the lookbehind's already
 * (it refuses every \w before a digit).  So the one choice is the number of words after the
 * first (two, one, none: greedy), and after the house number's digits (1-4, all of them: a
 * digit left over fails the lookahead), the letter: taken if the byte after it passes. */
#define STREET_NOT_AFTER_(c) \
  (((c) >= '0' && (c) <= '9') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || (c) == '.' || \
   (c) == ',' || (c) == '/' || (c) == '_' || (c) == '-' || ((c) >= 0x80 && (c) <= 0xBF))
static const bool street_not_after[256] = GUARD_BYTE_TABLE(STREET_NOT_AFTER_);

static inline bool ascii_lower(int c) { return c >= 'a' && c <= 'z'; }
static inline bool ascii_letter(int c) { return c >= 0 && guard_is_letter((unsigned char)c); }

/* LW+ at i: the bytes of the whole run (0: none). */
static size_t street_lw_run(const subj *s, size_t i) {
  size_t p = i;
  for (;;) {
    int c = at(s, p), d = at(s, p + 1);
    if (ascii_lower(c)) p++;
    else if ((c == 0xC3 && in(d, 0x9F, 0xBF)) || (in(c, 0xC4, 0xC9) && in(d, 0x80, 0xBF)) ||
             (c == 0xCE && in(d, 0xAC, 0xBF)) || (c == 0xCF && in(d, 0x80, 0x8E)) || (c == 0xD0 && in(d, 0xB0, 0xBF)) ||
             (c == 0xD1 && in(d, 0x80, 0x9F)))
      p += 2;
    else
      return p - i;
  }
}

/* [ \t]+\d{1,4}[A-Za-z]?(?![A-Za-z0-9]) at q: the end, or 0. */
static size_t street_number(const subj *s, size_t q) {
  size_t p = q;
  while (blank(at(s, p))) p++;
  if (p == q) return 0;
  size_t d = run(s, p, 4);
  if (d < 1 || d > 4) return 0;
  p += d;
  int c = at(s, p);
  if (ascii_letter(c)) return digit_or_letter(at(s, p + 1)) ? 0 : p + 1;
  return p;  /* no digit follows (the run is whole), and no letter */
}

bool guard_find_street_generic(const char *text, size_t slen, size_t off, size_t limit, size_t *ms, size_t *me) {
  subj s = {(const unsigned char *)text, slen};
  size_t end = limit < slen ? limit + 1 : slen;
  for (size_t b = off; (b = next_start(&s, b, end, street_not_after)) < end; b++) {
    size_t k = run(&s, b, 6);
    if (k < 2 || k > 6) continue;
    size_t p = b + k, q = p;
    while (blank(at(&s, q))) q++;
    if (q == p || !in(at(&s, q), 'A', 'Z') || !ascii_lower(at(&s, q + 1))) continue;
    p = q + 1;
    while (ascii_lower(at(&s, p))) p++;
    size_t words[3] = {p}, n = 0;  /* where each count of later words leaves off */
    while (n < 2 && blank(at(&s, p))) {
      size_t u = up_at(&s, p + 1), l = u ? street_lw_run(&s, p + 1 + u) : 0;
      if (!l) break;
      words[++n] = p = p + 1 + u + l;
    }
    for (size_t w = n + 1; w-- > 0;) {
      size_t e = street_number(&s, words[w]);
      if (e) {
        *ms = b;
        *me = e;
        return true;
      }
    }
  }
  return false;
}
