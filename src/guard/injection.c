/* injection.c: the `injection` scanner kind: prompt injection and jailbreak attempts.
 *
 * A detector built from keywords alone fails both ways: "ignore" and "system prompt" are all
 * over benign code, docs and chat ("ignore the typo"), while attacks rephrase endlessly.  So the
 * phrase table (injection_phrases.c) is mostly building blocks, and the verdict is made here,
 * once per text, from what fired:
 *
 *   1. pairs: an override verb near a reference to the model's rules ("forget ... your previous
 *      instructions", "之前的规则 ... 无视"), a disclosure verb near an extraction target ("spell
 *      out ... your system prompt"); either order, so object-verb languages work too.  A pair
 *      whose object is the user's own ("the previous instructions I gave", "my last message")
 *      or whose verb is negated ("never ignore your rules") scores low.
 *   2. signals: every strong phrase and weak cue is a signal with a weight; each signal name
 *      keeps its best weight and the names combine by noisy-OR, so one weak cue ("act as",
 *      "hypothetically", "no restrictions") stays below the threshold and two or three agree.
 *   3. framing: texts ABOUT attacks quote them.  Evidence inside quotes next to meta words
 *      ("prompt injection", "red team", "the phrase", "phishing") or inside a code fence is
 *      damped; unquoted evidence is damped a little per meta word.
 *   4. disguises: trigger rows mark ROT13 or "reversed" mentions, acrostics, quoted pieces to
 *      join, tag characters and invisible characters; one byte loop (guard_norm_survey) finds
 *      the disguises that are character classes rather than phrases: base64/hex runs, %XX
 *      text, leetspeak, letter spacing and look-alike letters (class automata without a
 *      literal cost Hyperscan more per byte than that loop).  The disguise is undone
 *      (normalise.c), locally where it is local, and the result rescanned with this scanner's
 *      own Hyperscan database (guard_scanner_rescan); what is found there counts as a signal
 *      named after the disguise, a little above the hidden text's own score.  Tag characters
 *      hiding any ASCII text are suspicious by themselves.
 *
 * Cost: the phrase rules ride in the stage's single Hyperscan pass, as cheaper superset forms
 * where Hyperscan was slow (hs_form: PCRE2 still confirms the rows); finish pairs a few hits,
 * surveys the bytes once, and decodes only what the survey or a trigger found.  One finding per text at most: the strongest
 * evidence's span, typed PROMPT_INJECTION or JAILBREAK, with the combined score. */
#include "guard/injection_int.h"
#include "guard/db.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SIGNALS 40
#define PAIR_GAP 64      /* bytes between a verb and its object */
#define OWN_GAP 48       /* bytes after an object where "I gave", "my last message" still refer to it */
#define MAX_DEPTH 2      /* base64 inside base64 (or ROT13 inside base64) */

typedef struct signal {
  const char *name;
  bool jailbreak;
  double score;
  size_t start, end;
} signal;

typedef struct verdict {
  signal sig[MAX_SIGNALS];
  size_t n;
  const char *t;  /* the text the evidence lies in, for framing */
  size_t len;
  size_t meta;    /* meta words in it ("prompt injection", "the phrase", ...) */
  bool fences;    /* it has a ``` code fence */
} verdict;

typedef struct result {
  double score;
  const char *name;
  bool jailbreak;
  size_t start, end;
} result;

static const inj_phrase *phrase_of(const guard_hit *h) { return (const inj_phrase *)h->rule->data; }

static bool quoted(const char *t, size_t len, size_t start);
static bool in_code_fence(const char *t, size_t start);

/* Evidence inside a code fence, or quoted in a text that talks about attacks, is an example
 * rather than an instruction. */
static double framing(const verdict *v, size_t start) {
  if (v->fences && in_code_fence(v->t, start)) return 0.3;
  if (v->meta && quoted(v->t, v->len, start)) return 0.35;
  return 1;
}

static void add_signal(verdict *v, const char *name, bool jb, double score, size_t start, size_t end) {
  if (score <= 0) return;
  if (score > 1) score = 1;
  for (size_t i = 0; i < v->n; i++)
    if (v->sig[i].name == name || !strcmp(v->sig[i].name, name)) {
      if (score > v->sig[i].score) {
        v->sig[i].score = score;
        v->sig[i].start = start;
        v->sig[i].end = end;
      }
      return;
    }
  if (v->n < MAX_SIGNALS) v->sig[v->n++] = (signal){name, jb, score, start, end};
}

static bool is_word_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' ||
         (unsigned char)c >= 0x80;
}

/* Whether the word(s) right before `at` negate it: "never ignore", "don't forget", "not to". */
static bool negated_before(const char *t, size_t at) {
  size_t b = at > 24 ? at - 24 : 0;
  /* the last two words before at */
  size_t i = at, words = 0;
  while (i > b && words < 2) {
    while (i > b && !is_word_byte(t[i - 1])) i--;
    size_t e = i;
    while (i > b && is_word_byte(t[i - 1])) i--;
    size_t wl = e - i;
    if (!wl) break;
    words++;
    static const char *const neg[] = {"never", "don't", "not", "dont", "cannot", "can't", "shouldn't", "won't", "nie",
                                      "nicht", "jamais", "nunca", "mai"};
    for (size_t k = 0; k < sizeof neg / sizeof neg[0]; k++)
      if (strlen(neg[k]) == wl && !strncasecmp(t + i, neg[k], wl)) return true;
  }
  return false;
}

/* Whether an INJ_OWN hit lies in [from, to]. */
static bool own_between(const char *t, const guard_hit *h, size_t n, size_t from, size_t to) {
  for (size_t i = 0; i < n; i++) {
    const inj_phrase *p = phrase_of(&h[i]);
    if (p->cls != INJ_OWN || h[i].start < from || h[i].start > to) continue;
    /* "before my first message" locates the target, it does not own it */
    size_t st = h[i].start;
    if ((st >= 7 && !strncasecmp(t + st - 7, "before ", 7)) || (st >= 6 && !strncasecmp(t + st - 6, "above ", 6)))
      continue;
    return true;
  }
  return false;
}

/* The object of a pair is the user's: "my previous instructions", or "I gave"/"my last message"
 * between the verb and shortly after the object. */
static bool own_object(const char *t, const guard_hit *h, size_t n, size_t vs, size_t oe, size_t os) {
  if (os >= 3 && !strncasecmp(t + os - 3, "my ", 3)) return true;
  return own_between(t, h, n, vs, oe + OWN_GAP);
}

/* The hits of one class, by index (hits are sorted by start, so these are too). */
typedef struct cls_list {
  const guard_hit *h[64];
  size_t n;
} cls_list;

/* Pairs of (verb, object) classes within PAIR_GAP bytes, either order.  Both lists are sorted
 * by start, so each verb only looks at objects near it. */
static void pairs(verdict *v, const char *t, const guard_hit *h, size_t n, const cls_list *verbs,
                  const cls_list *objs, const char *name, double factor) {
  size_t lo = 0;
  for (size_t i = 0; i < verbs->n; i++) {
    const guard_hit *vb = verbs->h[i];
    /* weak verbs ("drop", "remove", "reset") only count with their object right after them */
    size_t gap = phrase_of(vb)->weight < 1 ? 12 : PAIR_GAP;
    while (lo < objs->n && objs->h[lo]->end + PAIR_GAP < vb->start) lo++;
    for (size_t j = lo; j < objs->n && objs->h[j]->start <= vb->end + PAIR_GAP; j++) {
      const guard_hit *ob = objs->h[j];
      bool after = ob->start >= vb->end && ob->start - vb->end <= gap;
      bool before = ob->end <= vb->start && vb->start - ob->end <= gap * 3 / 4;
      if (!after && !before) continue;
      double s = phrase_of(vb)->weight * phrase_of(ob)->weight * factor;
      size_t st = vb->start < ob->start ? vb->start : ob->start, en = vb->end > ob->end ? vb->end : ob->end;
      if (own_object(t, h, n, st, en, ob->start)) s *= 0.3;
      if (negated_before(t, vb->start)) s *= 0.25;
      add_signal(v, name, false, s, st, en);
    }
  }
}

/* ---- framing: quotes, code fences, meta words ---- */

/* Whether [start, end) sits inside quotes in its paragraph.  Straight quotes toggle; a single
 * quote counts only at a word edge (not in "don't"). */
static bool quoted(const char *t, size_t len, size_t start) {
  size_t p = start;
  while (p > 0 && !(p >= 2 && t[p - 1] == '\n' && t[p - 2] == '\n')) p--;
  int dq = 0, sq = 0, curly = 0, guil = 0, back = 0;
  for (size_t i = p; i < start && i < len; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c == '"') dq ^= 1;
    else if (c == '`') back ^= 1;
    else if (c == '\'') {
      bool prev_w = i > 0 && is_word_byte(t[i - 1]) && t[i - 1] != '\'';
      bool next_w = i + 1 < len && is_word_byte(t[i + 1]);
      if (!prev_w && next_w) sq = 1;
      else if (prev_w && !next_w) sq = 0;
    } else if (c == 0xE2 && i + 2 < len && (unsigned char)t[i + 1] == 0x80) {
      unsigned char d = (unsigned char)t[i + 2];
      if (d == 0x9C || d == 0x9E || d == 0x98) curly = 1;
      else if (d == 0x9D || d == 0x99) curly = 0;
    } else if (c == 0xC2 && i + 1 < len) {
      if ((unsigned char)t[i + 1] == 0xAB) guil = 1;
      else if ((unsigned char)t[i + 1] == 0xBB) guil = 0;
    }
  }
  return dq || sq || curly || guil || back;
}

/* The first "```" in p[0, n), or NULL: memmem's result, found with memchr (glibc's memmem runs
 * a general search that cost ~3 instructions per byte of a text without fences, and every
 * text and rescan asks). */
static const char *find_fence(const char *p, size_t n) {
  for (const char *e = p + n; (p = memchr(p, '`', (size_t)(e - p))) && e - p >= 3; p++)
    if (p[1] == '`' && p[2] == '`') return p;
  return NULL;
}

static bool in_code_fence(const char *t, size_t start) {
  int fences = 0;
  for (const char *p = t; p + 3 <= t + start && (p = find_fence(p, (size_t)(t + start - p))); p += 3) fences++;
  return fences & 1;
}

static size_t meta_words(const guard_hit *h, size_t n) {
  size_t m = 0, last = (size_t)-1;
  for (size_t i = 0; i < n && m < 3; i++)
    if (phrase_of(&h[i])->cls == INJ_META && h[i].start != last) {
      m++;
      last = h[i].start;
    }
  return m;
}

/* ---- disguises ---- */

static void eval_text(const guard_scanner *s, const char *t, size_t len, const guard_hit *h, size_t n, int depth,
                      result *out);

static int cmp_hit(const void *a, const void *b) {
  const guard_hit *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Rescans derived text and turns what it holds into a signal named `name` over [start, end). */
static void rescan(const guard_scanner *s, verdict *v, const char *d, size_t dl, int depth, const char *name,
                   size_t start, size_t end) {
  if (!d || !dl) return;
  guard_hit *dh = NULL;
  size_t dn = guard_scanner_rescan(s, d, dl, &dh);
  if (dn > 1) qsort(dh, dn, sizeof *dh, cmp_hit);  /* the engine's order is by rule */
  result r = {0};
  eval_text(s, d, dl, dh, dn, depth + 1, &r);
  free(dh);
  /* the disguise only matters if it hid something the text did not already show */
  for (size_t i = 0; i < v->n && r.name; i++)
    if (!strcmp(v->sig[i].name, r.name) && v->sig[i].score >= r.score) return;
  /* a text about attacks may show a disguised example: it loses its quotes when decoded */
  double framing_left = 1 - 0.25 * (double)(v->meta < 2 ? v->meta : 2);
  if (r.score >= 0.35) add_signal(v, name, false, (r.score + 0.15) * framing_left, start, end);
}

static bool all_hex(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') || (p[i] >= 'A' && p[i] <= 'F'))) return false;
  return true;
}

/* Base64 and hex runs the survey found: decode, and rescan what reads as text. */
static void decode_runs(const guard_scanner *s, verdict *v, const char *t, const guard_norm_marks *m, int depth) {
  for (size_t i = 0; i < m->nrun; i++) {
    size_t a = m->run[i][0], e = m->run[i][1], b = e;
    while (b > a && t[b - 1] == '=') b--;
    size_t dl = 0;
    char *d = all_hex(t + a, b - a) ? guard_norm_hex(t + a, b - a, &dl) : NULL;
    if (!d) d = guard_norm_base64(t + a, e - a, &dl);
    if (d && guard_norm_is_text(d, dl)) {
      rescan(s, v, d, dl, depth, "encoded_payload", a, e);
      if (depth == 0) {  /* base64 of ROT13 */
        size_t rl;
        char *r = guard_norm_rot13(d, dl, &rl);
        rescan(s, v, r, rl, depth + 1, "encoded_payload", a, e);
        free(r);
      }
    }
    free(d);
  }
}

/* The trigger classes whose hits only say "rescan the text with this disguise undone": finish
 * asks whether one hit (has_class), never where or how many, so their rows are
 * GUARD_RE_FIRST_HIT and the engine confirms only their first hit (a split trigger's "\+" can
 * open a window at every plus sign of a text).  Tag and zero-width hits are not: their span
 * and count matter (class_span, zw_in_words). */
static bool presence_only(inj_class c) {
  return c == INJ_TRIG_ROT13 || c == INJ_TRIG_REV || c == INJ_TRIG_ACRO || c == INJ_TRIG_SPLIT;
}

/* Rows whose hits only matter next to an override verb (the objects of its pairs: REFQ, REF),
 * only next to a disclosure target (the disclosure verbs, REVEAL: their one pair is with
 * TARGET) or only ever lower a score (the user's own words damp a pair, meta words damp
 * everything): the stage's pass leaves them out and inj_finish scans for them when they can
 * change the verdict (GUARD_RE_LATER).  The first and last were 30% of the pass's instructions
 * on MT-Bench's questions ("your previous response", "for example", "blog post"), which seldom
 * hold an override verb.  The disclosure verbs ("print", "show", "give me", "what is") are in
 * most prompts but their targets ("your system prompt", "the text above") are rare, so the
 * verbs wait for a target rather than the other way round: on a short prompt holding "give me"
 * they were 40% of the Hyperscan pass (1.8k of 4.5k instructions). */
static bool later_class(inj_class c) {
  return c == INJ_REFQ || c == INJ_REF || c == INJ_OWN || c == INJ_META || c == INJ_REVEAL;
}

static bool has_class(const guard_hit *h, size_t n, inj_class c) {
  for (size_t i = 0; i < n; i++)
    if (phrase_of(&h[i])->cls == c) return true;
  return false;
}

/* Span of the hits of one class: [first start, last end). */
static bool class_span(const guard_hit *h, size_t n, inj_class c, size_t *start, size_t *end, size_t *count) {
  *count = 0;
  for (size_t i = 0; i < n; i++)
    if (phrase_of(&h[i])->cls == c) {
      if (!*count) *start = h[i].start;
      *end = h[i].end;
      ++*count;
    }
  return *count > 0;
}

/* Zero-width characters between two ASCII letters: interleaving, not emoji or Indic joining. */
static size_t zw_in_words(const char *t, size_t len, const guard_hit *h, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (phrase_of(&h[i])->cls != INJ_TRIG_ZW) continue;
    size_t a = h[i].start, b = h[i].end;
    if (a > 0 && b < len && ((t[a - 1] | 0x20) >= 'a' && (t[a - 1] | 0x20) <= 'z') &&
        ((t[b] | 0x20) >= 'a' && (t[b] | 0x20) <= 'z'))
      k++;
  }
  return k;
}

/* [a, b) widened by some context, on code point boundaries: what a local disguise's rescan reads. */
static void region(const char *t, size_t len, size_t a, size_t b, size_t *ra, size_t *rb) {
  enum { CONTEXT = 200 };
  *ra = a > CONTEXT ? a - CONTEXT : 0;
  *rb = b + CONTEXT < len ? b + CONTEXT : len;
  while (*ra < a && ((unsigned char)t[*ra] & 0xC0) == 0x80) (*ra)++;
  while (*rb < len && ((unsigned char)t[*rb] & 0xC0) == 0x80) (*rb)++;
}

static void disguises(const guard_scanner *s, verdict *v, const char *t, size_t len, const guard_hit *h, size_t n,
                      int depth) {
  guard_norm_marks m;
  if (depth > 0) guard_norm_runs(t, len, &m);  /* all that is used below the top */
  else guard_norm_survey(t, len, &m);
  size_t a = 0, b = 0, k = 0, dl = 0;
  char *d;
  /* whole-text disguises span the text from its first code point (stray continuation bytes
   * at the start of invalid UTF-8 are not one) */
  size_t w0 = 0;
  while (w0 < len && ((unsigned char)t[w0] & 0xC0) == 0x80) w0++;
  decode_runs(s, v, t, &m, depth);
  if (depth > 0) return;
  if (class_span(h, n, INJ_TRIG_TAG, &a, &b, &k) && (d = guard_norm_tags(t, len, 4, &dl))) {
    /* readable ASCII smuggled in tag characters has no business in a prompt */
    add_signal(v, "tag_characters", false, dl >= 8 ? 0.6 : 0.4, a, b);
    rescan(s, v, d, dl, depth, "tag_characters", a, b);
    free(d);
  }
  /* one fold undoes look-alikes, invisible characters and letter spacing together; the
   * finding spans every disguised stretch */
  size_t fa = len, fb = 0;
  bool looks = m.homo || m.spaced, any = looks;
  if (m.homo) { fa = m.homo_a; fb = m.homo_b; }
  if (m.spaced) {
    if (m.spaced_a < fa) fa = m.spaced_a;
    if (m.spaced_b > fb) fb = m.spaced_b;
  }
  /* invisible characters between Latin letters (not joiners in emoji or Indic scripts) */
  size_t inword = class_span(h, n, INJ_TRIG_ZW, &a, &b, &k) ? zw_in_words(t, len, h, n) : 0;
  if (inword) {
    any = true;
    if (a < fa) fa = a;
    if (b > fb) fb = b;
    if (inword >= 6) add_signal(v, "invisible_characters", false, 0.45, a, b);
  }
  if (any) {  /* only the disguised stretch and some context around it */
    size_t ra, rb;
    region(t, len, fa, fb, &ra, &rb);
    d = guard_norm_fold(t + ra, rb - ra, &dl);
    if (dl != rb - ra || memcmp(d, t + ra, dl))
      rescan(s, v, d, dl, depth, looks ? "homoglyph_obfuscation" : "invisible_characters", fa, fb);
    free(d);
  }
  if (m.pct >= 3) {
    d = guard_norm_percent(t, len, &dl);
    if (guard_norm_is_text(d, dl)) rescan(s, v, d, dl, depth, "encoded_payload", m.pct_a, m.pct_b);
    free(d);
  }
  if (has_class(h, n, INJ_TRIG_ROT13)) {
    d = guard_norm_rot13(t, len, &dl);
    rescan(s, v, d, dl, depth, "encoded_payload", w0, len);
    free(d);
  }
  if (has_class(h, n, INJ_TRIG_REV)) {
    d = guard_norm_reverse(t, len, &dl);
    rescan(s, v, d, dl, depth, "encoded_payload", w0, len);
    free(d);
  }
  if (has_class(h, n, INJ_TRIG_ACRO)) {
    d = guard_norm_acrostic(t, len, &dl);
    rescan(s, v, d, dl, depth, "encoded_payload", w0, len);
    free(d);
  }
  if (m.leet >= 3) {
    size_t ra, rb;
    region(t, len, m.leet_a, m.leet_b, &ra, &rb);
    d = guard_norm_leet(t + ra, rb - ra, &dl);
    rescan(s, v, d, dl, depth, "encoded_payload", m.leet_a, m.leet_b);
    free(d);
  }
  if (has_class(h, n, INJ_TRIG_SPLIT)) {
    char *spaced;
    size_t sl;
    guard_norm_quoted_join2(t, len, 0, &d, &dl, ' ', &spaced, &sl);
    rescan(s, v, d, dl, depth, "payload_splitting", w0, len);
    rescan(s, v, spaced, sl, depth, "payload_splitting", w0, len);
    free(d);
    free(spaced);
  }
}

/* ---- the verdict ---- */

static void eval_text(const guard_scanner *s, const char *t, size_t len, const guard_hit *h, size_t n, int depth,
                      result *out) {
  verdict v = {.n = 0, .t = t, .len = len, .meta = meta_words(h, n), .fences = find_fence(t, len) != NULL};
  for (size_t i = 0; i < n; i++) {
    const inj_phrase *p = phrase_of(&h[i]);
    if (p->cls == INJ_STRONG || p->cls == INJ_WEAK) {
      double w = p->weight;
      if (p->cls == INJ_STRONG && negated_before(t, h[i].start)) w *= 0.5;
      add_signal(&v, p->signal, p->jailbreak, w, h[i].start, h[i].end);
    }
  }
  cls_list verb = {.n = 0}, refq = {.n = 0}, ref = {.n = 0}, reveal = {.n = 0}, target = {.n = 0};
  for (size_t i = 0; i < n; i++) {
    cls_list *l = NULL;
    switch (phrase_of(&h[i])->cls) {
    case INJ_VERB: l = &verb; break;
    case INJ_REFQ: l = &refq; break;
    case INJ_REF: l = &ref; break;
    case INJ_REVEAL: l = &reveal; break;
    case INJ_TARGET: l = &target; break;
    default: break;
    }
    if (l && l->n < sizeof l->h / sizeof l->h[0]) l->h[l->n++] = &h[i];
  }
  pairs(&v, t, h, n, &verb, &refq, "instruction_override", 0.95);
  pairs(&v, t, h, n, &verb, &ref, "instruction_override", 0.9);
  pairs(&v, t, h, n, &verb, &target, "instruction_override", 0.9);
  pairs(&v, t, h, n, &reveal, &target, "system_prompt_extraction", 0.95);
  if (depth < MAX_DEPTH) disguises(s, &v, t, len, h, n, depth);

  /* noisy-OR over signal names; the strongest names the finding */
  double keep = 1;
  const signal *best = NULL;
  for (size_t i = 0; i < v.n; i++) {
    v.sig[i].score *= framing(&v, v.sig[i].start);
    keep *= 1 - v.sig[i].score;
    if (!best || v.sig[i].score > best->score) best = &v.sig[i];
  }
  if (!best) return;
  double score = (1 - keep) * (1 - 0.12 * (double)v.meta);
  *out = (result){score, best->name, best->jailbreak, best->start, best->end};
}

/* ---- the kind ---- */

/* Hyperscan has no \b in UCP mode, so the UTF-8 rows lose theirs to a PCRE2-only `pre`: a word
 * boundary, or a start on a script written without spaces (where \b never holds).  Their \w
 * becomes "not a space or punctuation": Unicode \w is hundreds of ranges, which made the
 * database four times larger for no gain in these rows. */
static const char utf8_pre[] =
  "(?:\\b|(?=[\\p{Han}\\p{Hiragana}\\p{Katakana}\\p{Hangul}\\p{Arabic}\\p{Devanagari}\\p{Thai}]))";

static const char *utf8_row(guard_scanner *s, const char *re) {
  kl_buf b = KL_BUF_INIT;
  for (const char *p = re; *p; p++) {
    if (p[0] == '\\' && p[1] == 'b') { p++; continue; }
    if (p[0] == '\\' && p[1] == 'w') { kl_buf_puts(&b, "[^\\s.,;:!?\"'()]"); p++; continue; }
    if (p[0] == '\\' && p[1]) kl_buf_putc(&b, *p++);
    kl_buf_putc(&b, *p);
  }
  char *out = guard_scanner_strdup(s, b.data ? b.data : "", b.len);
  kl_buf_free(&b);
  return out;
}

/* PCRE2 finds no start-of-match shortcut past utf8_pre's alternation of assertions, so it
 * tried the row's whole caseless Unicode alternation at every byte of every confirmation window
 * (measured: most of the scanner's PCRE2 time).  A lookahead for the characters a match can
 * start with gives it one back: PCRE2's own first-code-unit bitmap of the core expression
 * (a superset of every match's first byte), written as a class of whole code points, one range
 * per UTF-8 lead byte.  A zero-width condition every match meets already: matches are the same.
 * NULL when PCRE2 has no bitmap for the expression (then the row stays as it is). */
static const char *lead_lookahead(guard_scanner *s, const char *re, unsigned flags) {
  uint32_t opts = 0;
  if (flags & GUARD_RE_CASELESS) opts |= PCRE2_CASELESS;
  if (flags & GUARD_RE_UTF8) opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (flags & GUARD_RE_DOTALL) opts |= PCRE2_DOTALL;
  if (flags & GUARD_RE_MULTILINE) opts |= PCRE2_MULTILINE;
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
  if (!c) return NULL;  /* the engine reports the bad row */
  const uint8_t *bm = NULL;
  const char *out = NULL;
  if (pcre2_pattern_info(c, PCRE2_INFO_FIRSTBITMAP, &bm) == 0 && bm) {
    kl_buf b = KL_BUF_INIT;
    kl_buf_puts(&b, "(?=[");
    for (unsigned v = 0; v < 256; v++) {
      if (!(bm[v / 8] & (1u << (v % 8)))) continue;
      char x[48];
      if (v < 0x80) snprintf(x, sizeof x, "\\x{%x}", v);
      else if (v >= 0xC2 && v <= 0xDF) snprintf(x, sizeof x, "\\x{%x}-\\x{%x}", (v & 0x1F) << 6, ((v & 0x1F) << 6) | 0x3F);
      else if (v >= 0xE0 && v <= 0xEF)  /* 0xED: no surrogates */
        snprintf(x, sizeof x, "\\x{%x}-\\x{%x}", (v & 0xF) << 12, v == 0xED ? 0xD7FF : ((v & 0xF) << 12) | 0xFFF);
      else if (v >= 0xF0 && v <= 0xF4)
        snprintf(x, sizeof x, "\\x{%x}-\\x{%x}", (v & 7) << 18, v == 0xF4 ? 0x10FFFF : ((v & 7) << 18) | 0x3FFFF);
      else continue;  /* never the first byte of a valid character */
      kl_buf_puts(&b, x);
    }
    kl_buf_puts(&b, "])");
    kl_buf_puts(&b, utf8_pre);
    out = guard_scanner_strdup(s, b.data, b.len);
    kl_buf_free(&b);
  }
  pcre2_code_free(c);
  return out;
}

/* The expression without its \b: Hyperscan pays for word boundaries (measured: the meta row
 * alone 16 -> 7.6 µs per 4 KiB of hard negatives), PCRE2 checks them anyway, and a match of the
 * row is a match of it over the same span.  The rows hold no literal backslash, so "\\b" is always the
 * assertion. */
static const char *without_word_boundaries(guard_scanner *s, const char *re) {
  kl_buf b = KL_BUF_INIT;
  for (const char *p = re; *p; p++) {
    if (p[0] == '\\' && p[1] == 'b') { p++; continue; }
    if (p[0] == '\\' && p[1]) kl_buf_putc(&b, *p++);
    kl_buf_putc(&b, *p);
  }
  char *out = guard_scanner_strdup(s, b.data ? b.data : "", b.len);
  kl_buf_free(&b);
  return out;
}

/* What the Hyperscan pass runs for a row (NULL: the row itself): its hand-written form
 * (injection_phrases.c) in the row's dialect, else the row without \b.  UTF-8 rows lost their \b
 * already (utf8_row). */
static const char *hs_form(guard_scanner *s, const inj_phrase *p, bool wb) {
  for (size_t i = 0; i < guard_inj_nhs_forms; i++)
    if (!strncmp(p->re, guard_inj_hs_forms[i].re_start, strlen(guard_inj_hs_forms[i].re_start)))
      return wb ? utf8_row(s, guard_inj_hs_forms[i].hs) : guard_inj_hs_forms[i].hs;
  if (!(p->flags & GUARD_RE_UTF8) && strstr(p->re, "\\b")) return without_word_boundaries(s, p->re);
  return NULL;
}

static bool inj_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  (void)cfg;
  (void)err;
  for (size_t i = 0; i < guard_inj_nphrases; i++) {
    const inj_phrase *p = &guard_inj_phrases[i];
    bool wb = (p->flags & GUARD_RE_UTF8) && (strstr(p->re, "\\b") || strstr(p->re, "\\w"));
    const char *re = wb ? utf8_row(s, p->re) : p->re, *pre = wb ? lead_lookahead(s, re, p->flags) : NULL;
    guard_rule r = {
      .pre = wb ? (pre ? pre : utf8_pre) : NULL,
      .type = p->jailbreak ? "JAILBREAK" : "PROMPT_INJECTION",
      .name = p->signal,
      .re = re,
      /* PREFILTER: compile time (see guard_int.h); FIRST_HIT: see presence_only */
      .flags = p->flags | GUARD_RE_PREFILTER | (presence_only(p->cls) ? GUARD_RE_FIRST_HIT : 0) |
               (later_class(p->cls) ? GUARD_RE_LATER : 0),
      .max_len = p->max_len,
      .score = p->weight,
      .data = p,
    };
    const guard_rule *added = guard_scanner_add_rule(s, &r);
    const char *hs = hs_form(s, p, wb);
    if (hs) guard_scanner_hs_hint(s, added, hs, 0);  /* lead 0: the row's max_len */
    guard_may_match_fn check = guard_inj_check_of(p);
    if (check) guard_scanner_hs_check(s, added, check);
  }
  guard_scanner_want_own_db(s);
  return true;
}

/* By start, then by rule: the order check.c gives a scanner's hits (a stable sort by start of
 * the engine's by-rule order). */
static int cmp_start_rule(const guard_hit *x, const guard_hit *y) {
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->rule < y->rule ? -1 : x->rule > y->rule;
}
static int cmp_start_rule_q(const void *a, const void *b) { return cmp_start_rule(a, b); }

/* The stage's hits (in check.c's order) and the later rows' hits as one list in that order
 * (malloc'd). */
static guard_hit *merge_hits(const guard_hit *a, size_t na, guard_hit *b, size_t nb) {
  qsort(b, nb, sizeof *b, cmp_start_rule_q);
  guard_hit *m = malloc((na + nb) * sizeof *m);
  if (!m) abort();
  size_t i = 0, j = 0, k = 0;
  while (i < na || j < nb) m[k++] = j == nb || (i < na && cmp_start_rule(&a[i], &b[j]) <= 0) ? a[i++] : b[j++];
  return m;
}

static void inj_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                       kl_arena *a, guard_out *out) {
  (void)a;  /* runs without hits too: the survey looks for disguises no phrase rule sees */
  result r = {0};
  /* Without an override verb or a disclosure target the later rows can only lower the score
   * (their pairs need one of those; framing() <= 1, the meta factor < 1, own words x0.3), so a
   * text below the threshold without them is below it with them: done.  Otherwise they are
   * scanned for and the verdict is taken from every hit, in the order one pass over every row
   * would have given (test_guard_inj_later). */
  bool pairing = has_class(hits, nhits, INJ_VERB) || has_class(hits, nhits, INJ_TARGET);
  if (!pairing) {
    eval_text(s, in->text, in->len, hits, nhits, 0, &r);
    if (!r.name || r.score < s->threshold) return;
  }
  guard_hit *later = NULL, *all = NULL;
  size_t nl = guard_scanner_later(s, in->text, in->len, &later);
  if (nl || pairing) {
    r = (result){0};
    all = nl ? merge_hits(hits, nhits, later, nl) : NULL;
    eval_text(s, in->text, in->len, all ? all : hits, nhits + nl, 0, &r);
  }
  free(all);
  free(later);
  if (r.name && r.score >= s->threshold)
    guard_out_push(out, s, r.jailbreak ? "JAILBREAK" : "PROMPT_INJECTION", r.name, r.start, r.end,
                   r.score > 1 ? 1 : r.score);
}

const guard_kind guard_kind_injection = {
  .kind = "injection",
  .stages = (1u << KL_GUARD_INPUT) | (1u << KL_GUARD_DURING) | (1u << KL_GUARD_OUTPUT),
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = inj_init,
  .finish = inj_finish,
  .free = NULL,
};
