/* text.c: scanners of the text's form rather than its words: invisible characters and the
 * token limit, plus the UTF-8 decoding the text scanners share.
 *
 * invisible: one byte-level rule (no UTF mode: Hyperscan's UTF-8 mode is undefined on invalid
 * input, and the set is a handful of fixed 2..4-byte sequences anyway) finds runs of
 * zero-width, bidi-control, tag, variation-selector, soft-hyphen and BOM code points in the
 * shared pass.  `finish` merges adjacent hits into runs and judges each code point in its
 * context, because most of these characters have honest uses that must not block a prompt:
 *   ZWJ between emoji (family, profession sequences) or between Indic/Arabic letters;
 *   ZWNJ between Arabic-script (Persian) or Indic letters;  ZWSP between Thai/Lao/Khmer/
 *   Myanmar/Tibetan letters (word separation);  LRM/RLM/ALM next to right-to-left letters;
 *   a single variation selector right after a visible character (emoji presentation, CJK
 *   ideographic variants);  tags forming an emoji flag sequence (black flag + "gbeng" +
 *   cancel tag);  U+FEFF at text start (a BOM);  one soft hyphen inside a word.
 * What remains scores by what it can carry: any tag character (ASCII smuggling) 1.0, a bidi
 * embedding/override/isolate (Trojan Source) 0.9, otherwise by count: 8+ 1.0, 4+ 0.9, 2+ 0.75,
 * a single one inside a word 0.6 (a filter-evasion split), a single stray one 0.4 (below the
 * default threshold 0.5: copy-pasted text is full of them).
 *
 * token_limit: tiktoken counting costs ~25 µs per KiB, so it is skipped when the length alone
 * decides.  Every token covers at least one byte of the text (an invalid byte counts as one
 * U+FFFD, itself a single token), so len <= limit is never over; the longest o200k/cl100k
 * token is 128 bytes, so len > 128 * limit is always over.  Only texts in between are
 * tokenized (o200k_base). */
#include "guard/guard_int.h"
#include "llm/kl_llm.h"

#include <stdlib.h>
#include <string.h>

#define CP_BAD 0xFFFFFFFFu

/* The code point at t[i] (n = its length; CP_BAD with n = 1 for an invalid byte). */
uint32_t guard_utf8_next(const char *t, size_t len, size_t i, size_t *n) {
  const unsigned char *s = (const unsigned char *)t + i;
  size_t left = len - i;
  *n = 1;
  if (i >= len) return CP_BAD;
  if (s[0] < 0x80) return s[0];
  size_t k = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
  if (!k || s[0] > 0xF4 || left < k) return CP_BAD;
  uint32_t c = s[0] & (0x7F >> k);
  for (size_t j = 1; j < k; j++) {
    if ((s[j] & 0xC0) != 0x80) return CP_BAD;
    c = c << 6 | (s[j] & 0x3F);
  }
  if ((k == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) || (k == 4 && (c < 0x10000 || c > 0x10FFFF)))
    return CP_BAD;
  *n = k;
  return c;
}

/* The code point ending at t[i] (CP_BAD if none or invalid). */
uint32_t guard_utf8_prev(const char *t, size_t i, size_t *n) {
  *n = 1;
  if (!i) return CP_BAD;
  size_t b = i - 1;
  while (b > 0 && i - b < 4 && ((unsigned char)t[b] & 0xC0) == 0x80) b--;
  size_t k;
  uint32_t c = guard_utf8_next(t, i, b, &k);
  if (c == CP_BAD || b + k != i) return CP_BAD;
  *n = k;
  return c;
}

static bool in(uint32_t c, uint32_t lo, uint32_t hi) { return c >= lo && c <= hi; }

/* Scripts written without spaces between words: any neighbour of theirs is a word boundary. */
static bool cp_unspaced(uint32_t c) {
  return in(c, 0x0E00, 0x0FFF) || in(c, 0x1000, 0x109F) || in(c, 0x1780, 0x17FF) || in(c, 0x3040, 0x30FF) ||
         in(c, 0x3400, 0x4DBF) || in(c, 0x4E00, 0x9FFF) || in(c, 0xF900, 0xFAFF) || in(c, 0x20000, 0x3FFFF);
}

/* A word character for whole-word matching: ASCII alphanumerics and '_', and non-ASCII code
 * points outside the punctuation, symbol, space, invisible and emoji blocks and the unspaced
 * scripts.  Invalid bytes are not. */
bool guard_cp_is_word(uint32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
  if (c == CP_BAD || c < 0xC0 || c == 0xD7 || c == 0xF7) return false;
  if (in(c, 0x2000, 0x2BFF) || in(c, 0x3000, 0x303F) || in(c, 0xFE00, 0xFE6F) || in(c, 0xFEFF, 0xFF0F) ||
      in(c, 0xFF1A, 0xFF20) || in(c, 0xFF3B, 0xFF40) || in(c, 0xFF5B, 0xFF65) || in(c, 0x1F000, 0x1FAFF) ||
      in(c, 0xE0000, 0xE01EF) || c == 0x00AD || c == 0x061C || c == 0x180E)
    return false;
  return !cp_unspaced(c);
}

/* ---- invisible characters ---- */
enum { C_NONE, C_SHY, C_ZWSP, C_ZWNJ, C_ZWJ, C_MARK, C_WJ, C_BOM, C_VS, C_BIDI, C_TAG };

static int cp_class(uint32_t c) {
  switch (c) {
  case 0x00AD: return C_SHY;
  case 0x200B: return C_ZWSP;
  case 0x200C: return C_ZWNJ;
  case 0x200D: return C_ZWJ;
  case 0x200E: case 0x200F: case 0x061C: return C_MARK;
  case 0xFEFF: return C_BOM;
  }
  if (in(c, 0x2060, 0x2064)) return C_WJ;
  if (in(c, 0x202A, 0x202E) || in(c, 0x2066, 0x2069)) return C_BIDI;
  if (in(c, 0xFE00, 0xFE0F) || in(c, 0xE0100, 0xE01EF)) return C_VS;
  if (in(c, 0xE0000, 0xE007F)) return C_TAG;
  return C_NONE;
}

static bool cp_emoji(uint32_t c) {
  return in(c, 0x1F000, 0x1FAFF) || in(c, 0x2600, 0x27BF) || in(c, 0x2B00, 0x2BFF) || in(c, 0x2190, 0x21FF) ||
         c == 0x00A9 || c == 0x00AE || c == 0x203C || c == 0x2049 || c == 0x2122 || c == 0x2139 ||
         in(c, 0x2300, 0x23FF) || c == 0x3030 || c == 0x303D || c == 0x3297 || c == 0x3299;
}

static bool cp_rtl(uint32_t c) {
  return in(c, 0x0590, 0x08FF) || in(c, 0xFB1D, 0xFDFF) || in(c, 0xFE70, 0xFEFC) || in(c, 0x10800, 0x10FFF) ||
         in(c, 0x1E800, 0x1EFFF);
}

static bool cp_joining(uint32_t c) { return in(c, 0x0600, 0x08FF) || in(c, 0xFB50, 0xFDFF) || in(c, 0xFE70, 0xFEFC) || in(c, 0x0900, 0x0DFF); }

static bool cp_seasian(uint32_t c) {
  return in(c, 0x0E00, 0x0FFF) || in(c, 0x1000, 0x109F) || in(c, 0x1780, 0x17FF);
}

/* A visible character a selector may follow: valid, not invisible, not a space or control. */
static bool cp_base(uint32_t c) { return c != CP_BAD && c > 0x20 && c != 0x7F && cp_class(c) == C_NONE; }

/* Byte forms: U+00AD; U+200B-200F, U+202A-202E; U+2060-2064, U+2066-2069; U+FEFF; U+FE00-FE0F;
 * U+E0000-E007F and U+E0100-E01EF; U+061C. */
static const char invisible_re[] =
  "(?:\\xC2\\xAD|\\xE2\\x80[\\x8B-\\x8F\\xAA-\\xAE]|\\xE2\\x81[\\xA0-\\xA4\\xA6-\\xA9]|\\xEF\\xBB\\xBF|"
  "\\xEF\\xB8[\\x80-\\x8F]|\\xF3\\xA0(?:[\\x80\\x81\\x84-\\x86][\\x80-\\xBF]|\\x87[\\x80-\\xAF])|\\xD8\\x9C)+";

static bool invisible_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  (void)cfg; (void)err;
  guard_rule r = {
    .type = "INVISIBLE_TEXT", .name = "invisible", .re = invisible_re, .max_len = 256, .score = 0.6,
  };
  guard_scanner_add_rule(s, &r);
  return true;
}

static const char *const class_rule[] = {
  [C_SHY] = "soft_hyphen", [C_ZWSP] = "zero_width", [C_ZWNJ] = "zero_width", [C_ZWJ] = "zero_width",
  [C_MARK] = "bidi_mark", [C_WJ] = "zero_width", [C_BOM] = "zero_width", [C_VS] = "variation_selector",
  [C_BIDI] = "bidi_control", [C_TAG] = "tag",
};
/* which class names a mixed run: the most dangerous */
static const int class_rank[] = {
  [C_SHY] = 1, [C_MARK] = 2, [C_ZWSP] = 3, [C_ZWNJ] = 3, [C_ZWJ] = 3, [C_WJ] = 3, [C_BOM] = 3, [C_VS] = 4,
  [C_BIDI] = 5, [C_TAG] = 6,
};

/* An emoji tag sequence: U+1F3F4, 1..6 tags U+E0020-E007E, cancel tag U+E007F (England's flag). */
static bool tag_flag(const char *t, size_t len, size_t at, size_t *skip) {
  size_t n, i = at, k = 0;
  if (guard_utf8_prev(t, at, &n) != 0x1F3F4) return false;
  for (;;) {
    uint32_t c = guard_utf8_next(t, len, i, &n);
    if (c == 0xE007F && k >= 1) { *skip = i + n - at; return true; }
    if (!in(c, 0xE0020, 0xE007E) || ++k > 6) return false;
    i += n;
  }
}

/* Judges the run t[rs, re) of invisible code points and pushes a finding if it deserves one. */
static void judge_run(const guard_scanner *s, const char *t, size_t len, size_t rs, size_t re, guard_out *out) {
  size_t n, bad = 0, bs = 0, be = 0;
  int worst = C_NONE;
  bool tag = false, bidi = false;
  uint32_t before = guard_utf8_prev(t, rs, &n), after = guard_utf8_next(t, len, re, &n);
  uint32_t prev = before;
  for (size_t i = rs; i < re;) {
    size_t nn;
    uint32_t c = guard_utf8_next(t, len, i, &n), next = i + n < re ? guard_utf8_next(t, len, i + n, &nn) : after;
    int cl = cp_class(c);
    size_t skip = 0;
    bool ok;
    switch (cl) {
    case C_BOM: ok = i == 0; break;
    case C_SHY: ok = guard_cp_is_word(prev) && guard_cp_is_word(next); break;
    case C_ZWSP: ok = cp_seasian(prev) && cp_seasian(next); break;
    case C_ZWNJ: ok = cp_joining(prev) && cp_joining(next); break;
    case C_ZWJ: ok = ((cp_emoji(prev) || prev == 0xFE0F) && cp_emoji(next)) || (cp_joining(prev) && cp_joining(next)); break;
    case C_MARK: ok = cp_rtl(prev) || cp_rtl(next); break;
    case C_VS: ok = cp_base(prev); break;
    case C_TAG: ok = tag_flag(t, re, i, &skip); break;
    case C_WJ: case C_BIDI: ok = false; break;
    default: ok = true; break;  /* not ours (cannot happen: the rule matches only the classes) */
    }
    if (ok && skip) {  /* a whole flag sequence */
      prev = 0xE007F;
      i += skip;
      continue;
    }
    if (!ok) {
      if (!bad) bs = i;
      be = i + n;
      bad++;
      tag |= cl == C_TAG;
      bidi |= cl == C_BIDI;
      if (class_rank[cl] > class_rank[worst]) worst = cl;
    }
    prev = c;
    i += n;
  }
  if (!bad) return;
  double score;
  if (tag || bad >= 8) score = 1.0;
  else if (bidi || bad >= 4) score = 0.9;
  else if (bad >= 2) score = 0.75;
  else score = guard_cp_is_word(before) && guard_cp_is_word(after) ? 0.6 : 0.4;
  if (score < s->threshold) return;
  guard_out_push(out, s, "INVISIBLE_TEXT", class_rule[worst], bs, be, score);
}

static void invisible_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                             kl_arena *a, guard_out *out) {
  (void)a;
  for (size_t i = 0; i < nhits;) {
    size_t rs = hits[i].start, re = hits[i].end;
    for (i++; i < nhits && hits[i].start <= re; i++)
      if (hits[i].end > re) re = hits[i].end;
    judge_run(s, in->text, in->len, rs, re, out);
  }
}

const guard_kind guard_kind_invisible = {
  .kind = "invisible",
  .stages = (1u << KL_GUARD_INPUT) | (1u << KL_GUARD_DURING) | (1u << KL_GUARD_OUTPUT),
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = invisible_init,
  .finish = invisible_finish,
};

/* ---- token limit ---- */
#define TOKEN_MAX_BYTES 128  /* the longest o200k_base / cl100k_base token */

static bool token_limit_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  if (cfg->limit <= 0) {
    kl_err_set(err, 400, "guard: scanner %s: token_limit needs a limit > 0 (got %ld)", s->name, cfg->limit);
    return false;
  }
  kl_tokenizer *tok = kl_tokenizer_get("o200k_base", err);
  if (!tok) return false;
  s->state = tok;  /* shared, lives until exit: not freed with the scanner */
  return true;
}

/* Whether text[0, len) has more than limit tokens; *count gets the count when it was taken. */
static bool token_over(const kl_tokenizer *tok, const char *text, size_t len, long limit, size_t *count) {
  *count = 0;
  if (len <= (size_t)limit) return false;
  if ((size_t)limit <= SIZE_MAX / TOKEN_MAX_BYTES && len > (size_t)limit * TOKEN_MAX_BYTES) return true;
  *count = kl_tokenizer_count(tok, text, len);
  return *count > (size_t)limit;
}

static void token_limit_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                               kl_arena *a, guard_out *out) {
  (void)hits; (void)nhits;
  size_t count;
  if (!token_over(s->state, in->text, in->len, s->cfg.limit, &count)) return;
  const char *rule = count ? kl_arena_sprintf(a, "%zu > %ld tokens", count, s->cfg.limit)
                           : kl_arena_sprintf(a, "> %ld tokens", s->cfg.limit);
  guard_out_push(out, s, "TOKEN_LIMIT", rule, 0, in->len, 1.0);
}

const guard_kind guard_kind_token_limit = {
  .kind = "token_limit",
  .stages = (1u << KL_GUARD_INPUT) | (1u << KL_GUARD_DURING) | (1u << KL_GUARD_OUTPUT),
  .whole_text = true,
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = token_limit_init,
  .finish = token_limit_finish,
};
