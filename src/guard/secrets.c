/* secrets.c: the `secrets` scanner: gitleaks' rule set (API keys, tokens, private keys,
 * passwords in assignments), embedded as data/secrets.json (scripts/gen_secrets.py makes it).
 *
 * Each gitleaks rule becomes one guard rule, so all ~220 expressions run in the stage's single
 * Hyperscan pass with every other scanner's rules.  The engine finds whole matches
 * ("API_KEY = 'abc...'\n"); gitleaks reports the secret, a capture group.  So the scanner keeps
 * its own ANCHORED PCRE2 copy of each rule and re-matches at the candidate's start (cheap: it
 * only runs on candidates) to recover the groups, then applies gitleaks' filters in its order,
 * in validate_rule so the engine drops a rejected candidate at once:
 *   keywords   one of the rule's keywords in the match or the 256 bytes before it, ignoring
 *              case (gitleaks: anywhere in the file);
 *   entropy    Shannon entropy of the secret above the rule's threshold, and a "generic*"
 *              rule's secret must hold a digit (gitleaks' cheap "not a word" test);
 *   allow-lists  the global one (regexes and stopwords on the secret) and the rule's own
 *              (regexes on the secret, the match or the line; stopwords on the secret).
 * The "keyword = value" rules lose their lazy [\w.-]{0,50}? identifier prefix in the JSON (it
 * made PCRE2 try 50 prefix lengths at every byte of a window); the match start is walked back
 * over the identifier here instead, which is where that prefix would have put it.
 * finish re-matches once more to narrow each hit to its secret: findings cover the secret only,
 * so redaction keeps "api_key = " readable.  Two rules on one secret (generic-api-key and the
 * provider's rule) yield one finding, the higher-scoring (specific) rule's.
 *
 * The JSON is parsed once per policy at init; nothing is shared between policies, so there is
 * no global state and no locking.  Match data is allocated per candidate: candidates are rare. */
#include "guard/guard_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { SEC_ON_SECRET = 0, SEC_ON_MATCH, SEC_ON_LINE };

/* A set of lowercase words (keywords, stopwords) bucketed by their first two bytes, so that
 * "does this text hold one of them" costs about one probe per byte of text whatever the number
 * of words (generic-api-key has ~1450 stopwords). */
#define SEC_NB 1024
typedef struct sec_words {
  const char **w;   /* sorted by bucket; strings in scanner memory */
  size_t *len;
  size_t n;
  unsigned *start;  /* SEC_NB + 1 offsets into w; NULL when n == 0 */
  bool has_short;   /* words of 0 or 1 byte, checked one by one (none in gitleaks' set) */
} sec_words;

/* One allow-list: the candidate is allowed (dropped) when a regex matches its target or a
 * stopword is in the secret; with `all`, when every non-empty part does. */
typedef struct sec_allow {
  int target;
  bool all;
  pcre2_code **re;
  size_t nre;
  sec_words stop;
} sec_allow;

struct sec_state;

typedef struct sec_rule {
  const struct sec_state *st;
  pcre2_code *re;     /* the rule's expression, compiled ANCHORED: recovers the capture groups */
  int group;          /* gitleaks secretGroup; 0: the first non-empty group, else the match */
  unsigned prefix;    /* the match starts up to this many [\w.-] bytes before the expression's */
  double entropy;     /* 0: no entropy test */
  bool generic;       /* id starts with "generic": the secret needs a digit */
  sec_words kw;
  sec_allow *allow;
  size_t nallow;
} sec_rule;

typedef struct sec_state {
  sec_allow global;
  sec_rule *rules;
  size_t n;
} sec_state;

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) abort();
  return p;
}

/* ---- matching helpers ---- */

static unsigned bucket(unsigned char a, unsigned char b) { return (a * 31u + b) & (SEC_NB - 1); }

/* Whether lowercase s[0..n) contains one of the words. */
static bool words_in(const sec_words *ws, const char *s, size_t n) {
  if (ws->has_short)
    for (size_t j = 0; j < ws->n; j++)
      if (ws->len[j] < 2 && (!ws->len[j] || memchr(s, ws->w[j][0], n))) return true;
  for (size_t i = 0; i + 1 < n; i++) {
    unsigned b = bucket((unsigned char)s[i], (unsigned char)s[i + 1]);
    for (unsigned j = ws->start[b]; j < ws->start[b + 1]; j++)
      if (ws->len[j] <= n - i && !memcmp(s + i, ws->w[j], ws->len[j])) return true;
  }
  return false;
}

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static bool has_digit(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] >= '0' && s[i] <= '9') return true;
  return false;
}

static bool any_regex(pcre2_code *const *re, size_t n, const char *s, size_t len, pcre2_match_data *md) {
  for (size_t i = 0; i < n; i++)
    if (pcre2_match(re[i], (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0) return true;
  return false;
}

/* The spans a candidate is judged on. */
typedef struct { size_t ms, me, gs, ge; } sec_span;

/* lsec: the secret, lowercased. */
static bool allowed_by(const sec_allow *l, const char *t, size_t len, const sec_span *sp, const char *lsec,
                       pcre2_match_data *md) {
  size_t s = sp->gs, e = sp->ge;
  if (l->target == SEC_ON_MATCH) {
    s = sp->ms;
    e = sp->me;
  } else if (l->target == SEC_ON_LINE) {
    s = sp->ms;
    e = sp->me;
    /* bounded, so a megabyte of minified JS on one line stays linear */
    for (size_t k = 0; k < 1024 && s > 0 && t[s - 1] != '\n'; k++) s--;
    for (size_t k = 0; k < 1024 && e < len && t[e] != '\n'; k++) e++;
  }
  bool re_hit = l->nre && any_regex(l->re, l->nre, t + s, e - s, md);
  if (!l->all && re_hit) return true;
  bool sw_hit = l->stop.n && words_in(&l->stop, lsec, sp->ge - sp->gs);
  if (l->all) return (l->nre || l->stop.n) && (!l->nre || re_hit) && (!l->stop.n || sw_hit);
  return sw_hit;
}

/* Re-matches rule r at start: the match and the secret (secretGroup, else the first non-empty
 * group, else the whole match).  false if it does not match there. */
static bool find_span(const sec_rule *r, const char *t, size_t len, size_t start, pcre2_match_data *md,
                      sec_span *sp) {
  int rc = pcre2_match(r->re, (PCRE2_SPTR)t, len, start, 0, md, NULL);
  if (rc < 0) return false;
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
  if (rc == 0) rc = (int)pcre2_get_ovector_count(md);  /* ovector too small: cannot happen */
  sp->ms = ov[0];
  sp->me = ov[1];
  sp->gs = ov[0];
  sp->ge = ov[1];
  /* gitleaks' lazy "[\w.-]{0,50}?" prefix (cut from the expression): back to the start of the
   * identifier that holds the keyword */
  for (unsigned k = 0; k < r->prefix && sp->ms > 0; k++) {
    unsigned char c = (unsigned char)t[sp->ms - 1];
    bool ident = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 c == '.' || c == '-';
    if (!ident) break;
    sp->ms--;
  }
  if (r->group > 0) {
    if (r->group < rc && ov[2 * r->group] != PCRE2_UNSET) {
      sp->gs = ov[2 * r->group];
      sp->ge = ov[2 * r->group + 1];
    }
    return true;
  }
  for (int g = 1; g < rc; g++)
    if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g]) {
      sp->gs = ov[2 * g];
      sp->ge = ov[2 * g + 1];
      break;
    }
  return true;
}

/* gitleaks' filters, in its order.  md comes from the rule's pattern (enough groups). */
static bool judge(const sec_rule *r, const char *t, size_t len, size_t start, pcre2_match_data *md, sec_span *sp) {
  if (!find_span(r, t, len, start, md, sp) || sp->ge <= sp->gs) return false;
  /* gitleaks wants a keyword anywhere in the file; here: in the match or the 256 bytes before it
   * (facebook-access-token and airtable-personnal-access-token never hold theirs) */
  size_t lo = sp->ms > 256 ? sp->ms - 256 : 0, n = sp->me - lo;
  char buf[1024], *lw = n <= sizeof buf ? buf : malloc(n);  /* [lo, me) lowercased: holds the secret */
  if (!lw) abort();
  for (size_t i = 0; i < n; i++) lw[i] = ascii_lower(t[lo + i]);
  const char *sec = t + sp->gs, *lsec = lw + (sp->gs - lo);
  size_t sl = sp->ge - sp->gs;
  bool ok = !r->kw.n || words_in(&r->kw, lw, n);
  if (ok && r->entropy > 0)
    ok = guard_entropy(sec, sl) > r->entropy && (!r->generic || has_digit(sec, sl));
  if (ok) ok = !allowed_by(&r->st->global, t, len, sp, lsec, md);
  for (size_t i = 0; ok && i < r->nallow; i++) ok = !allowed_by(&r->allow[i], t, len, sp, lsec, md);
  if (lw != buf) free(lw);
  return ok;
}

static bool sec_validate(const guard_rule *rule, const char *t, size_t len, size_t start, size_t *end,
                         double *score) {
  (void)score;
  const sec_rule *r = rule->data;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->re, NULL);
  if (!md) abort();
  sec_span sp;
  bool ok = judge(r, t, len, start, md, &sp);
  pcre2_match_data_free(md);
  if (ok && sp.me < *end) *end = sp.me;  /* the engine's subject may be cut; ours is not */
  return ok;
}

/* ---- findings ---- */
typedef struct { size_t s, e; double score; const char *rule; } sec_found;

static int cmp_found(const void *a, const void *b) {
  const sec_found *x = a, *y = b;
  if (x->s != y->s) return x->s < y->s ? -1 : 1;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->e > y->e ? -1 : x->e < y->e;
}

static void sec_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                       kl_arena *a, guard_out *out) {
  if (!nhits) return;
  sec_found *f = kl_arena_alloc(a, nhits * sizeof *f);
  size_t n = 0;
  for (size_t i = 0; i < nhits; i++) {
    const sec_rule *r = hits[i].rule->data;
    if (hits[i].score < s->threshold) continue;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->re, NULL);
    if (!md) abort();
    sec_span sp;
    bool ok = find_span(r, in->text, in->len, hits[i].start, md, &sp);
    pcre2_match_data_free(md);
    if (ok && sp.ge > sp.gs) f[n++] = (sec_found){sp.gs, sp.ge, hits[i].score, hits[i].rule->name};
  }
  if (n > 1) qsort(f, n, sizeof *f, cmp_found);
  /* one finding per secret: an overlap keeps the higher score (the provider's rule over
   * generic-api-key), at equal scores the first, widened to cover both */
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k && f[i].s < f[k - 1].e) {
      sec_found *l = &f[k - 1];
      if (f[i].score > l->score) {
        size_t s0 = l->s;
        *l = f[i];
        l->s = s0;
      }
      if (f[i].e > l->e) l->e = f[i].e;
      continue;
    }
    f[k++] = f[i];
  }
  for (size_t i = 0; i < k; i++) guard_out_push(out, s, "SECRET", f[i].rule, f[i].s, f[i].e, f[i].score);
}

/* ---- building from the embedded JSON ---- */
static pcre2_code *compile(const char *pat, uint32_t opts, const char *what, kl_err *err) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
  if (!re) {
    PCRE2_UCHAR msg[128];
    pcre2_get_error_message(ec, msg, sizeof msg);
    kl_err_set(err, 500, "secrets: %s: pcre2: %s at %zu", what, (char *)msg, (size_t)eo);
    return NULL;
  }
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  /* falls back to the interpreter */
  return re;
}

/* Loads a JSON array of strings as a lowercase word set (counting sort by bucket). */
static void load_words(guard_scanner *s, const cJSON *arr, sec_words *ws) {
  size_t cap = (size_t)cJSON_GetArraySize(arr), n = 0;
  if (!cap) return;
  const char **tmp = xcalloc(cap, sizeof *tmp);
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    if (!cJSON_IsString(it)) continue;
    char *c = guard_scanner_strdup(s, it->valuestring, strlen(it->valuestring));
    for (char *p = c; *p; p++) *p = ascii_lower(*p);
    tmp[n++] = c;
  }
  ws->w = xcalloc(n, sizeof *ws->w);
  ws->len = xcalloc(n, sizeof *ws->len);
  ws->start = xcalloc(SEC_NB + 1, sizeof *ws->start);
  ws->n = n;
  for (size_t i = 0; i < n; i++)
    if (strlen(tmp[i]) >= 2) ws->start[bucket((unsigned char)tmp[i][0], (unsigned char)tmp[i][1]) + 1]++;
  for (unsigned b = 0; b < SEC_NB; b++) ws->start[b + 1] += ws->start[b];
  unsigned *fill = xcalloc(SEC_NB, sizeof *fill), nshort = ws->start[SEC_NB];
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(tmp[i]);
    /* short words go after every bucket: words_in's bucket loops never reach them */
    unsigned at = l >= 2 ? ws->start[bucket((unsigned char)tmp[i][0], (unsigned char)tmp[i][1])] +
                               fill[bucket((unsigned char)tmp[i][0], (unsigned char)tmp[i][1])]++
                         : nshort++;
    ws->w[at] = tmp[i];
    ws->len[at] = l;
    ws->has_short |= l < 2;
  }
  free(fill);
  free(tmp);
}

static void free_words(sec_words *ws) {
  free(ws->w);
  free(ws->len);
  free(ws->start);
}

static bool load_allow(guard_scanner *s, const cJSON *j, sec_allow *l, const char *what, kl_err *err) {
  const char *t = kl_json_str(j, "target");
  l->target = t && !strcmp(t, "match") ? SEC_ON_MATCH : t && !strcmp(t, "line") ? SEC_ON_LINE : SEC_ON_SECRET;
  l->all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "and"));
  load_words(s, cJSON_GetObjectItemCaseSensitive(j, "stopwords"), &l->stop);
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "regexes"), *it;
  l->re = xcalloc((size_t)cJSON_GetArraySize(res), sizeof *l->re);
  cJSON_ArrayForEach(it, res) {
    if (!cJSON_IsString(it)) continue;
    if (!(l->re[l->nre] = compile(it->valuestring, 0, what, err))) return false;
    l->nre++;
  }
  return true;
}

static void free_allow(sec_allow *l) {
  for (size_t i = 0; i < l->nre; i++) pcre2_code_free(l->re[i]);
  free(l->re);
  free_words(&l->stop);
}

static void sec_free(guard_scanner *s) {
  sec_state *st = s->state;
  if (!st) return;
  free_allow(&st->global);
  for (size_t i = 0; i < st->n; i++) {
    sec_rule *r = &st->rules[i];
    pcre2_code_free(r->re);
    free_words(&r->kw);
    for (size_t j = 0; j < r->nallow; j++) free_allow(&r->allow[j]);
    free(r->allow);
  }
  free(st->rules);
  free(st);
  s->state = NULL;
}

/* Search forms (guard_scanner_hs_hint) for the rules that cost the Hyperscan pass most, keyed by
 * id and the exact expression (a regenerated rule set drops a stale form instead of misusing it).
 * Each is contained in every match of its rule (test_guard_pii_forms checks it):
 *   facebook-access-token  the last digit, the separator and 27 bytes after it: not the leading
 *                    digit run (awake at every digit), nor the separator alone ('|' starts every
 *                    cell of a Markdown table); at most 15 digits before it, so 44 bytes of lead;
 *   vault-service-token  "s." and the 24 letters or digits after it, "hvs." and 90 bytes: the
 *                    rule's \b before "s." made Hyperscan check the frequent "s." (every plural
 *                    at a sentence's end) for a word boundary; 94 bytes of lead.
 *   generic-api-key  the keyword alone, with generic_key_may_match: the identifier tail, quotes
 *                    and operator after the keyword ran as an automaton from every "token",
 *                    "key" and "auth" ("prompt_tokens", "author"): 27k of the 128k Hyperscan
 *                    spent on bench_guard's sample (the keywords alone: 6.6k).  The pre-check
 *                    does that walk in C and opens a window only where ten value bytes can
 *                    follow the operator ("\"tokens\":12" opens none); 10 bytes of lead, the
 *                    longest keyword.
 * Measured (the secrets rules' Hyperscan pass per 4 KiB, instructions), for the first two: prose
 * 63k -> 37k, MT-Bench questions 47k -> 38k, bench_guard's sample 49k -> 49k, Presidio texts 27k
 * -> 25k; for generic-api-key, every-kind checks: the sample 439k -> 415k, MT-Bench 271k ->
 * 267k, prose 177k -> 172k, Presidio texts 575k -> 574k.
 * Tried and left out: generic-api-key cut after its operator (keyword, identifier tail, quotes,
 * the operator's first byte) halves its Hyperscan cost, but every "tokens\":" then opens a
 * window, and PCRE2 costs more than Hyperscan saved (secrets per 4 KiB check 75k -> 87k). */
#define GENERIC_KEY_RE                                                                                          \
  "(?:access|auth|(?-i:[Aa]pi|API)|credential|creds|key|passw(?:or)?d|secret|token)(?:[ \\t\\w.-]{0,20})"      \
  "[\\s'\"]{0,3}(?:=|>|:{1,3}=|\\|\\||:|=>|\\?=|,)[\\x60'\"\\s=]{0,5}([\\w.=-]{10,150}|[a-z0-9][a-z0-9+/]{11,}={0,3})" \
  "(?:[\\x60'\"\\s;]|\\\\[nr]|$)"

/* generic_key_may_match's byte classes: the identifier tail and quotes before the operator
 * ([ \t\w.-] and [\s'"]), an operator's first byte, what may come between it and the value
 * (the rest of "::=", "||", "=>", "?=" and [\x60'"\s=]), a value byte ([\w.=-], [a-z0-9+/]). */
enum { GK_GAP = 1, GK_OP = 2, GK_SEP = 4, GK_VALUE = 8 };
#define GK_W(c) ((unsigned)(((c) | 0x20) - 'a') < 26u || ((c) >= '0' && (c) <= '9') || (c) == '_')
#define GK_S(c) ((c) == ' ' || ((c) >= '\t' && (c) <= '\r'))
#define GK_CLASS(c)                                                                                             \
  ((GK_W(c) || GK_S(c) || (c) == '.' || (c) == '-' || (c) == '\'' || (c) == '"' ? GK_GAP : 0) |                   \
   ((c) == '=' || (c) == '>' || (c) == ':' || (c) == '|' || (c) == '?' || (c) == ',' ? GK_OP : 0) |               \
   ((c) == ':' || (c) == '=' || (c) == '|' || (c) == '>' || (c) == '`' || (c) == '\'' || (c) == '"' || GK_S(c)     \
        ? GK_SEP                                                                                                \
        : 0) |                                                                                                  \
   (GK_W(c) || (c) == '.' || (c) == '=' || (c) == '+' || (c) == '/' || (c) == '-' ? GK_VALUE : 0))
static const unsigned char gk_class[256] = GUARD_BYTE_TABLE(GK_CLASS);

/* generic-api-key after a keyword ending at `end`: [ \t\w.-]{0,20} then [\s'"]{0,3} (together:
 * up to 23 bytes of [\s\w.'"-]), an operator (its first byte is the first byte past them), at
 * most three more operator bytes (":::=") and five of [\x60'"\s=], and a value of ten bytes or
 * more, of [\w.=-] or [a-z0-9+/] (caseless).  So: the first byte not in the first class, within
 * 23 bytes, starts an operator, and ten value bytes in a row start after it, at most 9 bytes on
 * and after nothing but operator and separator bytes.  A superset of the rule's matches
 * (test_guard_pii_forms); the window stays the keyword's. */
static bool generic_key_may_match(const char *t, size_t len, size_t end, size_t *start) {
  (void)start;
  const unsigned char *u = (const unsigned char *)t;
  size_t q = end;
  while (q < len && q - end <= 23 && (gk_class[u[q]] & GK_GAP)) q++;
  if (q >= len || q - end > 23 || !(gk_class[u[q]] & GK_OP)) return false;
  for (size_t p = q + 1; p < len && p <= q + 9; p++) {
    size_t r = p;
    while (r < len && r - p < 10 && (gk_class[u[r]] & GK_VALUE)) r++;
    if (r - p == 10) return true;
    if (!(gk_class[u[p]] & GK_SEP)) return false;  /* the value cannot start later */
  }
  return false;
}

/* vault-service-token's window source.  Its form's "s." is two bytes that end every plural at
 * the end of a sentence: as a Hyperscan literal it cost 10.5k instructions of the LINES
 * database's pass over MT-Bench's 4 KiB, 6k over prose.  This pass finds the same ends without
 * Hyperscan: each '.' after an 's' (SSE2 compares, 32 bytes a step), then the 24 letters or
 * digits of "s\.[a-zA-Z0-9]{24}" (end 24 bytes after the dot) and, after "hvs", the 90 bytes of
 * "hvs\.[\w-]{90}" (end 90 bytes after it): exactly the ends Hyperscan reports for the form,
 * slot 0 (test_guard_secrets_vault compares the two). */
static bool vault_alnum(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26 || (unsigned char)(c - '0') < 10; }

static void vault_dot(const char *t, size_t len, size_t i, guard_source_report_fn report, void *ctx) {
  const unsigned char *u = (const unsigned char *)t;
  size_t k = i + 1;
  while (k < len && k - i <= 90 && (vault_alnum(u[k]) || u[k] == '_' || u[k] == '-')) k++;
  /* [i + 1, k): the run of [\w-] after the dot, at most 91 bytes looked at */
  size_t alnum = i + 1;
  while (alnum < k && alnum - i <= 24 && vault_alnum(u[alnum])) alnum++;
  if (alnum - i - 1 >= 24) report(ctx, 0, GUARD_SOURCE_LEAD, i + 25);
  if (k - i - 1 >= 90 && i >= 3 && u[i - 3] == 'h' && u[i - 2] == 'v') report(ctx, 0, GUARD_SOURCE_LEAD, i + 91);
}

static void vault_scan(const char *t, size_t len, guard_source_report_fn report, void *ctx) {
  size_t i = 1;  /* a dot at i with an 's' at i - 1 */
#ifdef __SSE2__
  const __m128i dot = _mm_set1_epi8('.'), ess = _mm_set1_epi8('s');
  for (; i + 32 <= len; i += 32) {
    const __m128i d0 = _mm_loadu_si128((const __m128i *)(t + i)), d1 = _mm_loadu_si128((const __m128i *)(t + i + 16));
    const __m128i s0 = _mm_loadu_si128((const __m128i *)(t + i - 1)), s1 = _mm_loadu_si128((const __m128i *)(t + i + 15));
    uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(d0, dot), _mm_cmpeq_epi8(s0, ess))) |
                 (uint32_t)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(d1, dot), _mm_cmpeq_epi8(s1, ess))) << 16;
    for (; m; m &= m - 1) vault_dot(t, len, i + (unsigned)__builtin_ctz(m), report, ctx);
  }
#endif
  for (; i < len; i++)
    if (t[i] == '.' && t[i - 1] == 's') vault_dot(t, len, i, report, ctx);
}

static const guard_window_source vault_source = {vault_scan};

static const struct {
  const char *id, *re, *hs;
  unsigned lead;
  guard_may_match_fn check;           /* a pre-check of the form's ends, or NULL */
  const guard_window_source *source;  /* what finds the form's ends instead of Hyperscan, or NULL */
} sec_forms[] = {
  {"facebook-access-token", "\\b(\\d{15,16}(\\||%)[0-9a-z\\-_]{27,40})(?:[\\x60'\"\\s;]|\\\\[nr]|$)",
   "\\d[|%][0-9a-z\\-_]{27}", 44, NULL, NULL},
  {"vault-service-token", "\\b((?:hvs\\.[\\w-]{90,120}|s\\.(?i:[a-z0-9]{24})))(?:[\\x60'\"\\s;]|\\\\[nr]|$)",
   "s\\.[a-zA-Z0-9]{24}|hvs\\.[\\w-]{90}", 94, NULL, &vault_source},
  {"generic-api-key", GENERIC_KEY_RE, "access|auth|(?-i:[Aa]pi|API)|credential|creds|key|passw(?:or)?d|secret|token", 10,
   generic_key_may_match, NULL},
};

static bool load_rule(guard_scanner *s, sec_state *st, const cJSON *j, kl_err *err) {
  const char *id = kl_json_str(j, "id"), *re = kl_json_str(j, "regex");
  if (!id || !re) {
    kl_err_set(err, 500, "secrets: rule %zu has no id or regex", st->n);
    return false;
  }
  sec_rule *r = &st->rules[st->n++];
  r->st = st;
  bool caseless = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "caseless"));
  const cJSON *num = cJSON_GetObjectItemCaseSensitive(j, "entropy");
  r->entropy = cJSON_IsNumber(num) ? num->valuedouble : 0;
  r->group = (int)kl_json_int(j, "secret_group", 0);
  r->prefix = (unsigned)kl_json_int(j, "prefix", 0);
  r->generic = !strncmp(id, "generic", 7);
  load_words(s, cJSON_GetObjectItemCaseSensitive(j, "keywords"), &r->kw);
  guard_rule g = {
    .type = "SECRET",
    .name = guard_scanner_strdup(s, id, strlen(id)),
    .re = guard_scanner_strdup(s, re, strlen(re)),
    .pre = "",
    .post = "",
    .flags = caseless ? GUARD_RE_CASELESS : 0,
    .max_len = (unsigned)kl_json_int(j, "max_len", 256),
    .score = 1,
    .validate_rule = sec_validate,
    .data = r,
  };
  num = cJSON_GetObjectItemCaseSensitive(j, "score");
  if (cJSON_IsNumber(num)) g.score = num->valuedouble;
  /* the same text the engine compiles, anchored: used only to recover the groups */
  kl_buf pat = KL_BUF_INIT;
  kl_buf_printf(&pat, "(?:%s)", g.re);
  r->re = compile(pat.data, PCRE2_ANCHORED | (caseless ? PCRE2_CASELESS : 0), id, err);
  kl_buf_free(&pat);
  if (!r->re) return false;
  const cJSON *als = cJSON_GetObjectItemCaseSensitive(j, "allowlists"), *it;
  r->allow = xcalloc((size_t)cJSON_GetArraySize(als), sizeof *r->allow);
  cJSON_ArrayForEach(it, als) {
    if (!load_allow(s, it, &r->allow[r->nallow++], id, err)) return false;
  }
  const guard_rule *added = guard_scanner_add_rule(s, &g);
  for (size_t i = 0; i < sizeof sec_forms / sizeof sec_forms[0]; i++)
    if (!strcmp(id, sec_forms[i].id) && !strcmp(re, sec_forms[i].re)) {
      guard_scanner_hs_hint(s, added, sec_forms[i].hs, sec_forms[i].lead);
      if (sec_forms[i].check) guard_scanner_hs_check(s, added, sec_forms[i].check);
      if (sec_forms[i].source) guard_scanner_hs_source(s, added, sec_forms[i].source, 0);
    }
  return true;
}

static bool sec_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  (void)cfg;
  cJSON *doc = kl_json_parse((const char *)kl_embed_secrets, kl_embed_secrets_len, err);
  if (!doc) return false;
  sec_state *st = xcalloc(1, sizeof *st);
  s->state = st;
  const cJSON *rules = cJSON_GetObjectItemCaseSensitive(doc, "rules"), *it;
  bool ok = cJSON_IsArray(rules) && cJSON_GetArraySize(rules) > 0;
  if (!ok) kl_err_set(err, 500, "secrets: embedded rule set has no rules");
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(doc, "allowlist");
  if (ok && g) ok = load_allow(s, g, &st->global, "global allow-list", err);
  if (ok) {
    st->rules = xcalloc((size_t)cJSON_GetArraySize(rules), sizeof *st->rules);
    cJSON_ArrayForEach(it, rules) {
      if (!(ok = load_rule(s, st, it, err))) break;
    }
  }
  cJSON_Delete(doc);
  if (!ok) {
    sec_free(s);
    s->nrules = 0;  /* their data died with the state */
  }
  return ok;
}

/* ---- streams: a private key still open ----
 * The private-key rule matches a PEM block from its BEGIN line to its END line, 1-3 KB: more
 * than a stream window holds (256 bytes of released text and the hold-back).  Waiting for the
 * END line, the windows let the key's lines out before it, and the whole-text check at the
 * stream's end blocked what had already left (~1.6 KB of a 2048-bit key reached the client).
 * So a window says where a BEGIN ... PRIVATE KEY----- line with no END line after it starts
 * (kl_guard_result.hold_from), and the stream holds its text from there until the END line
 * comes (the rule then matches and blocks) or the answer ends (the whole-text check decides).
 * The header is the rule's, case folded as its (?i) is: -----BEGIN, [ A-Z0-9_-]{0,100},
 * PRIVATE KEY, an optional " BLOCK", -----; the END line is KEY----- or KEY BLOCK----- at
 * least 64 bytes after the header, as the rule's [\s\S-]{64,}? puts it. */

static bool ci_at(const char *t, size_t len, size_t at, const char *lit) {
  size_t n = strlen(lit);
  if (at > len || len - at < n) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)t[at + i];
    if ((c >= 'a' && c <= 'z' ? c - 32 : c) != (unsigned char)lit[i]) return false;
  }
  return true;
}

static bool header_byte(unsigned char c) {
  return c == ' ' || c == '_' || c == '-' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The end of the PEM private-key header at p ("-----BEGIN" there), or 0 if there is none.
 * The latest end, as the rule's greedy [ A-Z0-9_-]{0,100} finds it: that class holds "PRIVATE
 * KEY" and dashes, so "-----BEGIN X PRIVATE KEY-------BEGIN X PRIVATE KEY-----" is one header
 * to the rule (fuzz_guard_secrets compares this with PCRE2 running the rule's patterns). */
static size_t key_header_end(const char *t, size_t len, size_t p) {
  size_t end = 0;
  for (size_t q = p + 10; q <= p + 10 + 100 && q < len; q++) {
    if (ci_at(t, len, q, "PRIVATE KEY")) {
      size_t e = q + 11;
      if (ci_at(t, len, e, " BLOCK")) e += 6;
      if (ci_at(t, len, e, "-----")) end = e + 5;
    }
    if (!header_byte((unsigned char)t[q])) break;
  }
  return end;
}

size_t guard_secrets_open_key(const char *t, size_t len) {
  size_t last_end = SIZE_MAX;  /* where the last END line starts: found once, at the first header */
  bool have_last = false;
  for (size_t p = 0; len >= 10 && p <= len - 10; p++) {
    const char *d = memchr(t + p, '-', len - p);
    if (!d) break;
    p = (size_t)(d - t);
    if (!ci_at(t, len, p, "-----BEGIN")) continue;
    size_t h = key_header_end(t, len, p);
    if (!h) continue;
    if (!have_last) {
      have_last = true;
      for (size_t q = len; q-- > 0 && last_end == SIZE_MAX;)
        if (ci_at(t, len, q, "KEY-----") || ci_at(t, len, q, "KEY BLOCK-----")) last_end = q;
    }
    /* closed: an END line 64 bytes or more after the header (the rule's), i.e. the last one */
    if (last_end == SIZE_MAX || last_end < h + 64) return p;
  }
  return SIZE_MAX;
}

const guard_kind guard_kind_secrets = {
  .kind = "secrets",
  .stages = (1u << KL_GUARD_INPUT) | (1u << KL_GUARD_DURING) | (1u << KL_GUARD_OUTPUT),
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .rewrites = true,
  .init = sec_init,
  .finish = sec_finish,
  .free = sec_free,
};
