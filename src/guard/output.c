/* output.c: scanners of what the model answered: user regexes, canary leaks, refusals and
 * URLs outside an allow-list.
 *
 * regex: each pattern is checked when the policy is built, so a bad one fails the build with
 * a message naming it: PCRE2 must compile it, Hyperscan must accept it at least in PREFILTER
 * mode (the engine falls back to that for lookarounds and backreferences), and it must not
 * match the empty string (it would match everywhere).  Hyperscan's expression info gives the
 * longest match, which sizes the PCRE2 window; unbounded patterns get a 4 KiB window (a longer
 * match is then reported from a later start).  Without must_match the patterns are ordinary
 * rules of the shared pass.  With must_match the question is "did each pattern match at all",
 * which needs an answer even when nothing matched, so those patterns are run by PCRE2 (JIT)
 * here rather than through the hit list.  Patterns are byte-wise (no UTF mode): inline flags
 * like (?i) work; "." is one byte.
 *
 * canary: the per-request token is not known at build time, so it is no rule: a memmem of a
 * 32-byte needle is a few hundred nanoseconds per 4 KiB.
 *
 * refusal: phrase rules (English and the basics of FR/ES/DE/IT/PT/RU/ZH/JA), both apostrophes.
 * A refusal at the start of a short answer is a refusal; the same words deep in a long answer
 * are usually a partial caveat: the best hit scores 1.0 at the start of an answer under 300
 * bytes, down to 0.35 in the middle of one over 1000; the default threshold is 0.5.
 *
 * urls: one rule finds "http://", "https://" and "www."; `finish` parses the rest by hand
 * (cheaper than a regex that reports every byte of every URL as a match end): the authority
 * ends at / ? # \ (a backslash ends it too, as browsers read it), the host follows the last
 * '@' (userinfo) and stops at a port; trailing punctuation, unbalanced closing brackets and
 * Unicode quotes/spaces end the URL.  Hosts compare as bytes with ASCII case folding, so IDNs
 * must be listed in the form the model writes them (punycode or UTF-8).  An entry allows its
 * subdomains; "*.example.com" allows only subdomains; "*" allows every host. */
#include "guard/guard_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <hs/hs.h>
#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh canary token: 128 random bits as 32 lowercase hex characters (for the gateway to
 * put in the system prompt; the lead will declare it in kl_guard.h). */

void guard_canary_make(char out[33]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  kl_random_bytes(b, sizeof b);
  for (size_t i = 0; i < sizeof b; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[32] = 0;
}

#define OUTPUT_ONLY (1u << KL_GUARD_OUTPUT)

/* ---- regex ---- */
#define REGEX_WINDOW 4096

typedef struct regex_state {
  pcre2_code **code;  /* must_match only */
  size_t n;
} regex_state;

static void regex_free(guard_scanner *s) {
  regex_state *st = s->state;
  if (!st) return;
  for (size_t i = 0; i < st->n; i++) pcre2_code_free(st->code[i]);
  free(st->code);
  free(st);
  s->state = NULL;
}

/* Checks one pattern; its longest match (REGEX_WINDOW if unbounded) in *max_len. */
static bool regex_check(guard_scanner *s, size_t i, const char *pat, pcre2_code **keep, unsigned *max_len,
                        kl_err *err) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
  if (!c) {
    PCRE2_UCHAR msg[128];
    pcre2_get_error_message(ec, msg, sizeof msg);
    kl_err_set(err, 400, "guard: scanner %s: regex %zu \"%.60s\": %s at offset %zu", s->name, i, pat, (char *)msg,
               (size_t)eo);
    return false;
  }
  hs_expr_info_t *info = NULL;
  hs_compile_error_t *ce = NULL;
  if (hs_expression_info(pat, 0, &info, &ce) != HS_SUCCESS) {
    hs_free_compile_error(ce);
    ce = NULL;
    if (hs_expression_info(pat, HS_FLAG_PREFILTER, &info, &ce) != HS_SUCCESS) {
      kl_err_set(err, 400, "guard: scanner %s: regex %zu \"%.60s\": not supported: %s", s->name, i, pat,
                 ce && ce->message ? ce->message : "rejected by Hyperscan");
      hs_free_compile_error(ce);
      pcre2_code_free(c);
      return false;
    }
  }
  bool empty = info->min_width == 0;
  *max_len = info->max_width == UINT_MAX || info->max_width > REGEX_WINDOW ? REGEX_WINDOW : info->max_width;
  free(info);
  if (empty) {
    kl_err_set(err, 400, "guard: scanner %s: regex %zu \"%.60s\" matches the empty string", s->name, i, pat);
    pcre2_code_free(c);
    return false;
  }
  if (keep) {
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);  /* falls back to the interpreter */
    *keep = c;
  } else {
    pcre2_code_free(c);
  }
  return true;
}

static bool regex_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  if (!cfg->nlist) {
    kl_err_set(err, 400, "guard: scanner %s: regex needs a non-empty list of patterns", s->name);
    return false;
  }
  regex_state *st = NULL;
  if (cfg->must_match) {
    st = calloc(1, sizeof *st);
    if (!st || !(st->code = calloc(cfg->nlist, sizeof *st->code))) abort();
    s->state = st;
  }
  for (size_t i = 0; i < cfg->nlist; i++) {
    const char *pat = cfg->list[i] ? cfg->list[i] : "";
    unsigned max_len;
    if (!regex_check(s, i, pat, st ? &st->code[i] : NULL, &max_len, err)) return false;
    if (st) {
      st->n++;
      continue;
    }
    char idx[24];
    int n = snprintf(idx, sizeof idx, "%zu", i);
    guard_rule r = {
      .type = "REGEX", .name = guard_scanner_strdup(s, idx, (size_t)n), .re = pat, .max_len = max_len, .score = 1.0,
    };
    guard_scanner_add_rule(s, &r);
  }
  return true;
}

static void regex_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                         kl_arena *a, guard_out *out) {
  const regex_state *st = s->state;
  if (!st) {  /* must not match: every hit is a finding */
    for (size_t i = 0; i < nhits; i++)
      if (hits[i].score >= s->threshold)
        guard_out_push(out, s, "REGEX", hits[i].rule->name, hits[i].start, hits[i].end, hits[i].score);
    return;
  }
  if (in->partial) return;  /* a window of a stream: judged once the text is whole */
  /* one whole-text finding (they would all overlap) naming the patterns that did not match */
  kl_buf failed = KL_BUF_INIT;
  for (size_t i = 0; i < st->n; i++) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(st->code[i], NULL);
    if (!md) abort();
    int rc = pcre2_match(st->code[i], (PCRE2_SPTR)(in->text ? in->text : ""), in->len, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc >= 0) continue;  /* a match-limit error counts as no match: fail closed */
    kl_buf_printf(&failed, "%s%zu", failed.len ? "," : "", i);
  }
  if (failed.len) guard_out_push(out, s, "REGEX", kl_arena_strndup(a, failed.data, failed.len), 0, in->len, 1.0);
  kl_buf_free(&failed);
}

const guard_kind guard_kind_regex = {
  .kind = "regex",
  .stages = (1u << KL_GUARD_INPUT) | (1u << KL_GUARD_DURING) | OUTPUT_ONLY,
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = regex_init,
  .finish = regex_finish,
  .free = regex_free,
};

/* ---- canary ---- */
static bool canary_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  (void)s; (void)cfg; (void)err;
  return true;
}

static void canary_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                          kl_arena *a, guard_out *out) {
  (void)hits; (void)nhits; (void)a;
  size_t cl = in->canary ? strlen(in->canary) : 0;
  if (!cl || !in->text) return;
  for (const char *p = in->text, *end = in->text + in->len; (p = memmem(p, (size_t)(end - p), in->canary, cl));
       p += cl)
    guard_out_push(out, s, "CANARY_LEAK", "canary", (size_t)(p - in->text), (size_t)(p - in->text) + cl, 1.0);
}

const guard_kind guard_kind_canary = {
  .kind = "canary",
  .stages = OUTPUT_ONLY,
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = canary_init,
  .finish = canary_finish,
};

/* ---- refusal ---- */
#define AP "(?:'|\\xE2\\x80\\x99)"            /* ' or ’ */
#define CANT "(?:can" AP "t|cannot|can not|won" AP "t|will not)"
#define IM "i(?:" AP "m| am)"

static const struct { const char *name, *re; } refusal_rules[] = {
  {"sorry_cant", IM " (?:so |very |really |truly )?sorry,? (?:but )?(?:i|we) (?:" CANT "|" AP "m unable|am unable|"
                 AP "m not able|am not able|must decline)"},
  {"cant_help", "i " CANT " (?:help|assist|comply|fulfill|provide (?:that|this|any|assistance|help|information)|do that|"
                "answer that|engage|participate|continue with|support (?:that|this))"},
  {"unable", IM " (?:unable|not able|not allowed|not permitted) to (?:help|assist|comply|fulfill|provide|do that|"
             "answer|engage|create|generate|write|share|discuss)"},
  {"as_an_ai", "as an ai(?: language model| assistant| model)?,? i (?:" CANT "|don" AP "t|do not|" AP "m not|am not|"
               AP "m unable|am unable|must)"},
  {"decline", "i must (?:respectfully |politely )?decline"},
  {"policy", "(?:this|that|your) request (?:is|goes) against (?:my|our|openai" AP "s) (?:guidelines|policies|"
             "usage policies|content policy)"},
  {"fr", "(?:d(?:e|é)sol(?:e|é)e?|je suis d(?:e|é)sol(?:e|é)e?),? (?:mais )?je ne (?:peux|suis pas en mesure|vais pas)"},
  {"fr_help", "je ne peux pas (?:vous |t'|t\\xE2\\x80\\x99)?(?:aider|r(?:e|é)pondre|fournir|assister)"},
  {"es", "lo siento,? (?:pero )?no (?:puedo|me es posible)"},
  {"es_help", "no puedo (?:ayudar|ayudarte|ayudarle|asistir|proporcionar|cumplir)"},
  {"de", "es tut mir leid,? (?:aber )?(?:ich kann|das kann ich)"},
  {"de_help", "(?:ich kann|kann ich) (?:dir |ihnen |euch )?(?:dabei |damit |hierbei )?nicht (?:helfen|behilflich|weiterhelfen)"},
  {"it", "mi dispiace,? (?:ma )?non (?:posso|sono in grado)"},
  {"it_help", "non posso (?:aiutarti|aiutarla|aiutare|assisterti|fornire)"},
  {"pt", "(?:desculpe|lamento|sinto muito),? (?:mas )?n(?:ã|a)o (?:posso|consigo)"},
  {"pt_help", "n(?:ã|a)o posso (?:ajudar|te ajudar|fornecer|atender)"},
  {"ru", "(?:(?:И|и)звините|(?:К|к) сожалению),? (?:но )?я не могу"},
  {"ru_help", "я не могу (?:помочь|выполнить|предоставить)"},
  {"zh", "(?:很抱歉|抱歉|对不起)(?:，|,)? ?我(?:无法|不能)"},
  {"zh_help", "我(?:无法|不能)(?:帮助|协助|提供)"},
  {"ja", "申し訳(?:ありません|ございません)が"},
  {"ja_help", "(?:お手伝い|お答え|ご協力|対応)(?:することは|することが)?できません"},
};

/* "I can't help but notice", "I cannot help it": idioms, not refusals. */
static bool refusal_not_idiom(const guard_rule *r, const char *t, size_t len, size_t start, size_t *end, double *score) {
  (void)r; (void)start; (void)score;
  static const char *const idioms[] = {" but", " it", " myself", " thinking", " feeling", " wonder"};
  for (size_t i = 0; i < sizeof idioms / sizeof *idioms; i++) {
    size_t n = strlen(idioms[i]);
    if (*end + n <= len && !strncasecmp(t + *end, idioms[i], n) &&
        (*end + n == len || !isalnum((unsigned char)t[*end + n])))
      return false;
  }
  return true;
}

static bool refusal_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  (void)cfg; (void)err;
  for (size_t i = 0; i < sizeof refusal_rules / sizeof *refusal_rules; i++) {
    guard_rule r = {
      .type = "REFUSAL", .name = refusal_rules[i].name, .re = refusal_rules[i].re, .flags = GUARD_RE_CASELESS,
      .max_len = 160, .score = 1.0, .validate_rule = refusal_not_idiom,
    };
    guard_scanner_add_rule(s, &r);
  }
  return true;
}

/* Where the answer's words begin: past spaces, quotes and markdown emphasis. */
static size_t answer_lead(const char *t, size_t len) {
  size_t i = 0;
  while (i < len && i < 64 && (isspace((unsigned char)t[i]) || (t[i] && strchr("\"'*_>#`", t[i])))) i++;
  return i;
}

static double refusal_score(const char *t, size_t len, size_t start) {
  bool at_start = start <= answer_lead(t, len) + 48;  /* "Sure. Unfortunately, I can't ..." */
  if (len <= 300) return at_start ? 1.0 : 0.6;
  if (len <= 1000) return at_start ? 0.85 : 0.45;
  return at_start ? 0.7 : 0.35;
}

static void refusal_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                           kl_arena *a, guard_out *out) {
  (void)a;
  const guard_hit *best = NULL;
  double bs = -1;
  for (size_t i = 0; i < nhits; i++) {
    double sc = refusal_score(in->text, in->len, hits[i].start);
    if (sc > bs) best = &hits[i], bs = sc;  /* hits are sorted: ties keep the earliest */
  }
  if (best && bs >= s->threshold) guard_out_push(out, s, "REFUSAL", best->rule->name, best->start, best->end, bs);
}

const guard_kind guard_kind_refusal = {
  .kind = "refusal",
  .stages = OUTPUT_ONLY,
  .whole_text = true,
  .action = KL_GUARD_FLAG,
  .threshold = 0.5,
  .init = refusal_init,
  .finish = refusal_finish,
};

/* ---- urls ---- */
typedef struct url_allow {
  char **host;     /* lowercase, no scheme, port, path or trailing dot */
  bool *sub_only;  /* "*.example.com" */
  size_t n;
  bool all;
} url_allow;

static void urls_free(guard_scanner *s) {
  url_allow *st = s->state;
  if (!st) return;
  free(st->host);
  free(st->sub_only);
  free(st);
  s->state = NULL;
}

static bool urls_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  url_allow *st = calloc(1, sizeof *st);
  if (!st) abort();
  s->state = st;
  st->host = calloc(cfg->nlist + 1, sizeof *st->host);
  st->sub_only = calloc(cfg->nlist + 1, sizeof *st->sub_only);
  if (!st->host || !st->sub_only) abort();
  for (size_t i = 0; i < cfg->nlist; i++) {
    const char *e = cfg->list[i] ? cfg->list[i] : "", *p;
    while (isspace((unsigned char)*e)) e++;
    if ((p = strstr(e, "://"))) e = p + 3;
    bool sub = false;
    if (e[0] == '*' && e[1] == '.') e += 2, sub = true;
    size_t n = 0;
    if (*e == '[') {
      while (e[n] && e[n] != ']') n++;
      n += e[n] == ']';
    } else {
      while (e[n] && !strchr("/:?#@ \t\r\n", e[n])) n++;
    }
    while (n && e[n - 1] == '.') n--;
    if (n == 1 && *e == '*') {
      st->all = true;
      continue;
    }
    if (!n) {
      kl_err_set(err, 400, "guard: scanner %s: urls allow-list entry %zu \"%.60s\" has no host", s->name, i,
                 cfg->list[i] ? cfg->list[i] : "");
      return false;
    }
    char *h = guard_scanner_strdup(s, e, n);
    for (char *q = h; *q; q++) *q = (char)tolower((unsigned char)*q);
    st->host[st->n] = h;
    st->sub_only[st->n++] = sub;
  }
  guard_rule r = {
    .type = "URL_NOT_ALLOWED", .name = "url", .re = "https?://|www\\.", .flags = GUARD_RE_CASELESS, .max_len = 8,
    .score = 1.0,
  };
  guard_scanner_add_rule(s, &r);
  return true;
}

/* Whether the byte at t[i] ends a URL: space, control, delimiters, or a Unicode space, quote,
 * bracket or ideographic punctuation mark. */
static size_t url_stop(const unsigned char *t, size_t len, size_t i) {
  unsigned char c = t[i];
  if (c <= 0x20 || c == 0x7F || strchr("<>\"`{}|^", c)) return 1;
  if (c < 0x80) return 0;
  unsigned char c1 = i + 1 < len ? t[i + 1] : 0, c2 = i + 2 < len ? t[i + 2] : 0;
  if (c == 0xC2) return c1 == 0xA0 || c1 == 0xAB || c1 == 0xBB;
  if (c == 0xE2 && c1 == 0x80) return (c2 >= 0x80 && c2 <= 0x8F) || (c2 >= 0x98 && c2 <= 0x9F) || c2 == 0xA6 || (c2 >= 0xA8 && c2 <= 0xAF);
  if (c == 0xE3 && c1 == 0x80) return (c2 >= 0x80 && c2 <= 0x82) || (c2 >= 0x88 && c2 <= 0x91);
  if (c == 0xEF && c1 == 0xBC) return c2 == 0x81 || c2 == 0x88 || c2 == 0x89 || c2 == 0x8C || c2 == 0x8E || c2 == 0x9A || c2 == 0x9B || c2 == 0x9F;
  if (c == 0xEF && c1 == 0xBB) return c2 == 0xBF;
  return 0;
}

/* The end of a URL whose text starts at p: stop bytes, then trailing punctuation and closing
 * brackets that do not close one opened inside the URL. */
static size_t url_end(const char *t, size_t len, size_t from) {
  const unsigned char *u = (const unsigned char *)t;
  size_t e = from;
  while (e < len && !url_stop(u, len, e)) e++;
  for (;;) {
    if (e <= from) return from;
    char c = t[e - 1];
    if (strchr(".,;:!?'*_~", c)) { e--; continue; }
    char open = c == ')' ? '(' : c == ']' ? '[' : 0;
    if (!open) break;
    long bal = 0;
    for (size_t i = from; i < e; i++) bal += (t[i] == open) - (t[i] == c);
    if (bal >= 0) break;
    e--;
  }
  return e;
}

static bool host_allowed(const url_allow *st, const char *h, size_t hl) {
  if (st->all) return true;
  for (size_t i = 0; i < st->n; i++) {
    size_t el = strlen(st->host[i]);
    if (hl == el && !st->sub_only[i] && !strncasecmp(h, st->host[i], el)) return true;
    if (hl > el && h[hl - el - 1] == '.' && !strncasecmp(h + hl - el, st->host[i], el)) return true;
  }
  return false;
}

static void urls_finish(const guard_scanner *s, const kl_guard_text *in, const guard_hit *hits, size_t nhits,
                        kl_arena *a, guard_out *out) {
  const url_allow *st = s->state;
  const char *t = in->text;
  size_t len = in->len, done = 0;
  for (size_t i = 0; i < nhits; i++) {
    size_t us = hits[i].start;
    if (us < done) continue;  /* the "www." of an "https://www." already judged */
    if (us > 0 && (isalnum((unsigned char)t[us - 1]) || (t[us - 1] && strchr(".-/@_", t[us - 1])))) continue;
    size_t auth = us;
    if ((t[us] | 0x20) == 'h') {
      auth += 7 + ((t[us + 4] | 0x20) == 's');
    }
    size_t ue = url_end(t, len, auth);
    if (ue <= auth) continue;
    size_t ae = auth;
    while (ae < ue && !strchr("/?#\\", t[ae])) ae++;
    size_t hs = auth;
    for (size_t j = auth; j < ae; j++)
      if (t[j] == '@') hs = j + 1;
    size_t he = hs;
    if (he < ae && t[he] == '[') {
      while (he < ae && t[he] != ']') he++;
      he += he < ae;
    } else {
      while (he < ae && t[he] != ':') he++;
    }
    while (he > hs && t[he - 1] == '.') he--;
    if (he <= hs || (auth == us && (he <= us + 4 || !memchr(t + us + 4, '.', he - us - 4)))) continue;  /* "www." alone */
    done = ue;
    if (host_allowed(st, t + hs, he - hs)) continue;
    guard_out_push(out, s, "URL_NOT_ALLOWED", kl_arena_strndup(a, t + hs, he - hs), us, ue, 1.0);
  }
}

const guard_kind guard_kind_urls = {
  .kind = "urls",
  .stages = OUTPUT_ONLY,
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = urls_init,
  .finish = urls_finish,
  .free = urls_free,
};
