/* lists.c: the list scanners: banned substrings and banned topics.
 *
 * Both compile their entries into literal rules of the shared Hyperscan database, so a policy
 * with a thousand banned words still scans the text once.  Matching is byte-wise with ASCII
 * case folding (Hyperscan's and PCRE2's caseless mode without UTF): "Straße" matches
 * "STRAßE" but not "STRASSE", and no Unicode case table is consulted.  This keeps the rules
 * out of UTF mode, whose behaviour on invalid UTF-8 is undefined in Hyperscan.
 *
 * banned: a substring anywhere is a finding (rule = the substring itself), no boundaries.
 * topics: "topic: word, word two" entries; each word is a whole-word match.  Hyperscan's \b
 * knows only ASCII word characters (it would refuse " über " and accept "xköln"), so the
 * boundaries are checked by a validator that decodes the neighbouring code points: letters of
 * any script are word characters, except scripts written without spaces (CJK, kana, Thai),
 * next to which any match is whole.  A word's inner spaces match any run of 1..4 whitespace.
 * A topic scores 0.6 for one distinct word hit, 0.9 for two, 1.0 for three or more; the
 * finding spans the topic's first match. */
#include "guard/guard_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* text.c: UTF-8 decoding shared by the text scanners (see there). */

/* A topic word as an expression: its literal parts (guard_re_literal) joined by \s{1,4}, so
 * "word two" also matches "word\ntwo". */
static char *topic_re(guard_scanner *s, const char *w, size_t n) {
  kl_buf b = KL_BUF_INIT;
  for (size_t i = 0; i < n;) {
    if (isspace((unsigned char)w[i])) {
      while (i < n && isspace((unsigned char)w[i])) i++;
      kl_buf_puts(&b, "\\s{1,4}");
      continue;
    }
    size_t j = i;
    while (j < n && !isspace((unsigned char)w[j])) j++;
    kl_buf_puts(&b, guard_re_literal(s, w + i, j - i));
    i = j;
  }
  char *out = guard_scanner_strdup(s, b.data, b.len);
  kl_buf_free(&b);
  return out;
}

static const char *trim(const char *b, const char *e, size_t *n) {
  while (b < e && isspace((unsigned char)*b)) b++;
  while (e > b && isspace((unsigned char)e[-1])) e--;
  *n = (size_t)(e - b);
  return b;
}

/* ---- banned substrings ---- */
static bool banned_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  if (!cfg->nlist) {
    kl_err_set(err, 400, "guard: scanner %s: banned needs a non-empty list", s->name);
    return false;
  }
  for (size_t i = 0; i < cfg->nlist; i++) {
    size_t n = cfg->list[i] ? strlen(cfg->list[i]) : 0;
    if (!n) {
      kl_err_set(err, 400, "guard: scanner %s: banned entry %zu is empty", s->name, i);
      return false;
    }
    guard_rule r = {
      .type = "BANNED_SUBSTRING",
      .name = guard_scanner_strdup(s, cfg->list[i], n),
      .re = guard_re_literal(s, cfg->list[i], n),
      .flags = GUARD_RE_CASELESS,
      .max_len = (unsigned)n,
      .score = 1.0,
    };
    guard_scanner_add_rule(s, &r);
  }
  return true;
}

const guard_kind guard_kind_banned = {
  .kind = "banned",
  .stages = (1u << KL_GUARD_INPUT) | (1u << KL_GUARD_DURING) | (1u << KL_GUARD_OUTPUT),
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = banned_init,
};

/* ---- banned topics ---- */
typedef struct topic {
  const char *name;
  size_t first_word, nwords;  /* its words in topics_state.words */
} topic;

typedef struct topic_word {
  size_t topic, index;  /* index: in topics_state.words */
} topic_word;

typedef struct topics_state {
  topic *topics;
  size_t ntopics;
  topic_word *words;
  size_t nwords;
} topics_state;

/* Whole word: the code points around the match are not word characters.  Text a word starts
 * or ends with a non-word byte (a word "c++") needs no boundary on that side. */
static bool topic_boundary(const guard_rule *r, const char *t, size_t len, size_t start, size_t *end, double *score) {
  (void)r; (void)score;
  size_t n;
  if (start > 0 && guard_cp_is_word(guard_utf8_next(t, len, start, &n)) &&
      guard_cp_is_word(guard_utf8_prev(t, start, &n)))
    return false;
  size_t last = *end - 1;
  while (last > start && ((unsigned char)t[last] & 0xC0) == 0x80) last--;
  if (*end < len && guard_cp_is_word(guard_utf8_next(t, len, last, &n)) &&
      guard_cp_is_word(guard_utf8_next(t, len, *end, &n)))
    return false;
  return true;
}

static void topics_free(guard_scanner *s) {
  topics_state *st = s->state;
  if (!st) return;
  free(st->topics);
  free(st->words);
  free(st);
  s->state = NULL;
}

static bool topics_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  if (!cfg->nlist) {
    kl_err_set(err, 400, "guard: scanner %s: topics needs a non-empty list of \"topic: word, word\"", s->name);
    return false;
  }
  topics_state *st = calloc(1, sizeof *st);
  if (!st) abort();
  s->state = st;
  size_t maxwords = 0;
  for (size_t i = 0; i < cfg->nlist; i++)
    for (const char *p = cfg->list[i]; p && *p; p++) maxwords += *p == ',' || p == cfg->list[i];
  st->topics = calloc(cfg->nlist, sizeof *st->topics);
  st->words = calloc(maxwords ? maxwords : 1, sizeof *st->words);
  if (!st->topics || !st->words) abort();
  for (size_t i = 0; i < cfg->nlist; i++) {
    const char *e = cfg->list[i], *colon = e ? strchr(e, ':') : NULL;
    size_t nl;
    const char *name = colon ? trim(e, colon, &nl) : NULL;
    if (!colon || !nl) {
      kl_err_set(err, 400, "guard: scanner %s: topics entry %zu \"%.60s\" is not \"topic: word, word\"", s->name, i,
                 e ? e : "");
      return false;
    }
    topic *tp = &st->topics[st->ntopics];
    tp->name = guard_scanner_strdup(s, name, nl);
    tp->first_word = st->nwords;
    for (const char *p = colon + 1; *p;) {
      const char *comma = strchr(p, ','), *we = comma ? comma : p + strlen(p);
      size_t wl;
      const char *w = trim(p, we, &wl);
      p = comma ? comma + 1 : we;
      if (!wl) continue;
      topic_word *tw = &st->words[st->nwords];
      *tw = (topic_word){st->ntopics, st->nwords};
      st->nwords++;
      guard_rule r = {
        .type = "BANNED_TOPIC",
        .name = tp->name,
        .re = topic_re(s, w, wl),
        .flags = GUARD_RE_CASELESS,
        .max_len = (unsigned)(wl * 4),
        .score = 0.6,
        .validate_rule = topic_boundary,
        .data = tw,
      };
      guard_scanner_add_rule(s, &r);
    }
    tp->nwords = st->nwords - tp->first_word;
    if (!tp->nwords) {
      kl_err_set(err, 400, "guard: scanner %s: topic \"%s\" has no words", s->name, tp->name);
      return false;
    }
    st->ntopics++;
  }
  return true;
}

static void topics_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                          kl_arena *a, guard_out *out) {
  (void)in;
  const topics_state *st = s->state;
  if (!nhits) return;
  /* per topic: first hit and distinct words; per word: seen */
  size_t *first = kl_arena_alloc(a, st->ntopics * sizeof *first), *distinct = kl_arena_calloc(a, st->ntopics * sizeof *distinct);
  bool *seen = kl_arena_calloc(a, st->nwords);
  for (size_t t = 0; t < st->ntopics; t++) first[t] = SIZE_MAX;
  for (size_t i = 0; i < nhits; i++) {
    const topic_word *w = hits[i].rule->data;
    if (!w) continue;
    if (first[w->topic] == SIZE_MAX) first[w->topic] = i;
    if (!seen[w->index]) {
      seen[w->index] = true;
      distinct[w->topic]++;
    }
  }
  for (size_t t = 0; t < st->ntopics; t++) {
    if (first[t] == SIZE_MAX) continue;
    double score = distinct[t] >= 3 ? 1.0 : distinct[t] == 2 ? 0.9 : 0.6;
    if (score < s->threshold) continue;
    const guard_hit *h = &hits[first[t]];
    guard_out_push(out, s, "BANNED_TOPIC", st->topics[t].name, h->start, h->end, score);
  }
}

const guard_kind guard_kind_topics = {
  .kind = "topics",
  .stages = (1u << KL_GUARD_INPUT) | (1u << KL_GUARD_DURING) | (1u << KL_GUARD_OUTPUT),
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = topics_init,
  .finish = topics_finish,
  .free = topics_free,
};
