/* injection_checks.c: the injection rows' window pre-checks (guard_hs_hint.may_match), read by
 * guard_inj_check_of when injection.c builds a scanner's rules.
 *
 * A row's Hyperscan form (injection_phrases.c, guard_inj_hs_forms) may leave the row's leading
 * words, its \b or its tail to PCRE2, so Hyperscan reports ends that no match of the row can hold
 * (a bare "+" in every phone number, "read" inside "thread", "post" in every chat about posts).
 * A pre-check looks at the bytes around such an end, before a window opens, and either drops the
 * end or narrows the window; it never opens one or moves a start past a match's, so findings do
 * not change (test_guard_inj_forms compares the confirmed hits with and without the hints).  Each
 * is a plain walk over a few bytes: a window it saves is ~5k instructions of PCRE2. */
#include "guard/injection_int.h"

#include <stdint.h>
#include <string.h>

/* Steps left from i over bytes that may belong to a run of \s: ASCII blanks and, since Unicode
 * spaces are multi-byte, any non-ASCII byte (a longer step only widens a window). */
static size_t back_blanks(const char *t, size_t i) {
  while (i > 0) {
    unsigned char c = (unsigned char)t[i - 1];
    if (!(c == ' ' || (c >= '\t' && c <= '\r') || c >= 0x80)) break;
    i--;
  }
  return i;
}

/* Steps left from i over k code points (each at most 4 bytes: a lead and 3 continuations). */
static size_t back_code_points(const char *t, size_t i, unsigned k) {
  while (k-- && i > 0) {
    i--;
    for (int c = 0; c < 3 && i > 0 && ((unsigned char)t[i] & 0xC0) == 0x80; c++) i--;
  }
  return i;
}

/* The split trigger's pre-check (guard_scanner_hs_check).  Its search form holds a bare "\+",
 * which Hyperscan reports at every plus sign ("+39 06 ..." in any phone number), and PCRE2 then
 * tried the row at each of the max_len bytes before it: ~6k instructions a window, as many
 * windows as plus signs.  A match the plus belongs to is "\w{1,3}\s*\+" or "exécute\s+\w\s*\+"
 * (the only branches with a plus), so it starts no further left than three code points before
 * the blanks before the plus, or than "exécute" (8 bytes in any case) before a code point and
 * blanks there, which needs its é (0xC3) in between.  An operand is no number ("(?!\d)": the
 * "+39" of a phone number joins no strings), so after a plus, blanks and a digit only "exécute"
 * can end there, and without its é no window opens.  Matches of the other branches hold a word
 * of the form, whose windows stay as they were. */
static bool split_may_match(const char *t, size_t len, size_t end, size_t *start) {
  if (!end || t[end - 1] != '+') return true;
  size_t blanks = back_blanks(t, end - 1);
  size_t word = back_code_points(t, blanks, 3);
  size_t verb = back_blanks(t, back_code_points(t, blanks, 1));
  verb = verb > 8 ? verb - 8 : 0;
  /* "exécute" holds its é (0xC3 0xA9, or 0xC3 0x89 for É) between there and the blanks */
  bool exec = memchr(t + verb, 0xC3, blanks - verb) != NULL;
  /* a digit after the plus and its blanks ("+39 06 ...") is no operand: then only "exécute"
   * can end at this plus */
  size_t after = end;
  while (after < len && (t[after] == ' ' || (t[after] >= '\t' && t[after] <= '\r'))) after++;
  if (after < len && t[after] >= '0' && t[after] <= '9') {
    if (!exec) return false;
    word = verb;
  }
  size_t first = word < verb || !exec ? word : verb;
  if (first > *start) *start = first;
  return true;
}

/* Pre-checks of forms that leave a row's leading words or its \b to PCRE2 (the forms are in
 * injection_phrases.c); like split_may_match they only drop ends no match of the row can hold and
 * narrow windows.  The rows are ASCII (not GUARD_RE_UTF8): \w is [A-Za-z0-9_], \s the ASCII
 * blanks, caseless is ASCII case. */
static bool word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
static bool ascii_blank(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static unsigned char ascii_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

/* Where `phrase` (lowercase; a space stands for a run of \s) ends at `end` of t, caseless: its
 * first byte, or SIZE_MAX. */
static size_t phrase_ending_at(const char *t, size_t end, const char *phrase) {
  size_t i = end;
  for (size_t k = strlen(phrase); k > 0; k--) {
    if (phrase[k - 1] == ' ') {
      size_t j = i;
      while (j > 0 && ascii_blank((unsigned char)t[j - 1])) j--;
      if (j == i) return SIZE_MAX;
      i = j;
    } else {
      if (i == 0 || ascii_lower((unsigned char)t[i - 1]) != (unsigned char)phrase[k - 1]) return SIZE_MAX;
      i--;
    }
  }
  return i;
}

/* Where `phrase` (as above) starts at i of t, and ends before a non-word byte if its last
 * character is a letter: its end, or SIZE_MAX. */
static size_t phrase_starting_at(const char *t, size_t len, size_t i, const char *phrase) {
  const char *p = phrase;
  for (; *p; p++) {
    if (*p == ' ') {
      size_t j = i;
      while (j < len && ascii_blank((unsigned char)t[j])) j++;
      if (j == i) return SIZE_MAX;
      i = j;
    } else {
      if (i == len || ascii_lower((unsigned char)t[i]) != (unsigned char)*p) return SIZE_MAX;
      i++;
    }
  }
  return p[-1] != ' ' && i < len && word_byte((unsigned char)t[i]) ? SIZE_MAX : i;
}

/* The decode-and-obey row's form is its verbs and the byte after them (as the row: not a word
 * byte, nor . ! ? \n), which Hyperscan also reports inside words ("thread", "already": 16 verbs
 * in 4 KiB of prose, 3 of them the word "read"), each a window of the row's 140 bytes, ~5k
 * instructions of PCRE2 where the sentence holds an "and".  A match of the row is a verb between
 * word boundaries, then at most 80 bytes without . ! ? or a line break, then "and" or "then",
 * blanks, at most one word and blanks, and an obey verb: no window unless that follows here (a
 * plain walk over the bytes), and the window starts at the verb. */
static const struct {
  const char *w;
  unsigned char len;
} decode_verbs[] = {{"decode", 6}, {"decipher", 8}, {"decrypt", 7}, {"translate", 9}, {"convert", 7}, {"read", 4},
                    {"join", 4}, {"combine", 7}, {"concatenate", 11}, {"assemble", 8}, {"put together", 12},
                    {"reverse", 7}, {"unscramble", 10}, {"fill in", 7}};
static const char *const obey_verbs[] = {"do",  "follow", "obey",  "execute", "carry out", "perform",
                                         "run", "apply",  "act on", "comply with"};

/* An obey verb at i, or a word, blanks and an obey verb. */
static bool obey_at(const char *t, size_t len, size_t i) {
  for (int skip = 0; skip < 2; skip++) {
    for (size_t v = 0; v < sizeof obey_verbs / sizeof obey_verbs[0]; v++)
      if (phrase_starting_at(t, len, i, obey_verbs[v]) != SIZE_MAX) return true;
    size_t j = i;
    while (j < len && word_byte((unsigned char)t[j])) j++;
    if (j == i || j == len || !ascii_blank((unsigned char)t[j])) return false;
    while (j < len && ascii_blank((unsigned char)t[j])) j++;
    i = j;
  }
  return false;
}

static bool decode_may_match(const char *t, size_t len, size_t end, size_t *start) {
  if (end < 2 || word_byte((unsigned char)t[--end])) return false;  /* end: the verb's */
  unsigned char last = ascii_lower((unsigned char)t[end - 1]);
  size_t first = SIZE_MAX;
  for (size_t i = 0; i < sizeof decode_verbs / sizeof decode_verbs[0]; i++) {
    if ((unsigned char)decode_verbs[i].w[decode_verbs[i].len - 1] != last) continue;
    size_t v = phrase_ending_at(t, end, decode_verbs[i].w);
    if (v != SIZE_MAX && (v == 0 || !word_byte((unsigned char)t[v - 1])) && v < first) first = v;
  }
  if (first == SIZE_MAX) return false;
  /* "and" or "then" after a non-word byte within the 80 bytes after the verb, before . ! ? \n,
   * then blanks and the rest */
  bool obey = false;
  for (size_t i = end; i <= end + 80 && i < len && !obey; i++) {
    unsigned char c = ascii_lower((unsigned char)t[i]);
    if (c == '.' || c == '!' || c == '?' || c == '\n') break;
    if ((c != 'a' && c != 't') || word_byte((unsigned char)t[i - 1])) continue;
    size_t w = phrase_starting_at(t, len, i, c == 'a' ? "and " : "then ");
    obey = w != SIZE_MAX && obey_at(t, len, w);
  }
  if (!obey) return false;
  if (first > *start) *start = first;
  return true;
}

/* The "send ... to x@y" row's form is its verb and one blank (the up to six words, "to" and the
 * address after it were an automaton at every "post", "email", "send" of chat text).  A match of
 * the row goes on with blanks, up to six words each followed by blanks, "to", blanks, address bytes
 * and "@": no window unless that follows here.  Ends of the form's other branches (not a blank)
 * pass. */
static bool addr_byte(unsigned char c) { return word_byte(c) || c == '.' || c == '+' || c == '-'; }
static bool send_to_may_match(const char *t, size_t len, size_t end, size_t *start) {
  (void)start;
  if (!end || !ascii_blank((unsigned char)t[end - 1])) return true;
  size_t i = end;
  while (i < len && ascii_blank((unsigned char)t[i])) i++;
  for (int words = 0; words <= 6 && i < len; words++) {
    size_t a = phrase_starting_at(t, len, i, "to "), e = a;
    while (e < len && addr_byte((unsigned char)t[e])) e++;
    if (a != SIZE_MAX && e > a && e < len && t[e] == '@') return true;
    size_t j = i;  /* the word and blanks: "(?:\\w+\\s+)" */
    while (j < len && word_byte((unsigned char)t[j])) j++;
    if (j == i || j == len || !ascii_blank((unsigned char)t[j])) return false;
    while (j < len && ascii_blank((unsigned char)t[j])) j++;
    i = j;
  }
  return false;
}

/* The forms with such a check, by their key (guard_inj_hs_forms' re_start, the same string): a
 * check reads the ends of its form, so it applies only while the row has that form. */
static const struct {
  const char *re_start;
  guard_may_match_fn check;
} inj_checks[] = {
  {"\\b(?:decode|decipher|decrypt|translate|convert|read|join|", decode_may_match},
  {"\\b(?:send|forward|email|post|upload|exfiltrate|leak)\\s+", send_to_may_match},
};

guard_may_match_fn guard_inj_check_of(const inj_phrase *p) {
  if (p->cls == INJ_TRIG_SPLIT) return split_may_match;
  for (size_t f = 0; f < guard_inj_nhs_forms; f++) {
    const char *key = guard_inj_hs_forms[f].re_start;
    if (strncmp(p->re, key, strlen(key))) continue;
    for (size_t i = 0; i < sizeof inj_checks / sizeof inj_checks[0]; i++)
      if (!strcmp(key, inj_checks[i].re_start)) return inj_checks[i].check;
    return NULL;
  }
  return NULL;
}
