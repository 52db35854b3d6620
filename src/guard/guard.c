/* guard.c: policies: the scanner kinds, building a policy from its scanners, names.
 *
 * A policy owns its scanner instances (each with a deep copy of its config, its rules and its
 * private state) and one compiled rule set per stage holding the rules of every scanner of
 * that stage, so a check is one Hyperscan pass whatever the number of scanners.  Everything
 * is built up front and immutable afterwards: checks from any thread share it freely. */
#include "guard/db.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct kl_guard_policy {
  char *name;
  uint8_t key[32];
  size_t key_len;
  guard_scanner *sc;
  size_t nsc;
  guard_db *stage_db[3];
  kl_arena *mem;  /* strings of the scanners' configs and rules */
  uint64_t serial;  /* guard_policy_serial */
};

/* The registry.  Order = the order scanners of one check report in. */
static const guard_kind *const kinds[] = {
  &guard_kind_pii, &guard_kind_secrets, &guard_kind_injection, &guard_kind_banned, &guard_kind_topics,
  &guard_kind_invisible, &guard_kind_token_limit, &guard_kind_regex, &guard_kind_canary, &guard_kind_json,
  &guard_kind_refusal, &guard_kind_urls, &guard_kind_classifier,
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

const char *const *kl_guard_kinds(void) {
  static const char *names[NKINDS + 1];
  if (!names[0])
    for (size_t i = 0; i < NKINDS; i++) names[i] = kinds[i]->kind;
  return names;
}

static const guard_kind *find_kind(const char *k) {
  for (size_t i = 0; i < NKINDS; i++)
    if (k && !strcmp(kinds[i]->kind, k)) return kinds[i];
  return NULL;
}

static const char *const action_names[] = {"allow", "flag", "redact", "mask", "hash", "restore", "reask", "block"};

const char *kl_guard_action_name(kl_guard_action a) {
  return (unsigned)a < sizeof action_names / sizeof *action_names ? action_names[a] : "allow";
}

bool kl_guard_action_parse(const char *s, kl_guard_action *out) {
  for (unsigned i = 0; s && i < sizeof action_names / sizeof *action_names; i++)
    if (!strcmp(s, action_names[i])) {
      *out = (kl_guard_action)i;
      return true;
    }
  if (s && !strcmp(s, "anonymize")) return *out = KL_GUARD_RESTORE, true;
  if (s && !strcmp(s, "anonymise")) return *out = KL_GUARD_RESTORE, true;
  return false;
}

const char *kl_guard_stage_name(kl_guard_stage s) {
  return s == KL_GUARD_OUTPUT ? "output" : s == KL_GUARD_DURING ? "during" : "input";
}

const char *kl_guard_policy_name(const kl_guard_policy *p) { return p->name; }

kl_guard_action kl_guard_policy_action(const kl_guard_policy *p) {
  return p->nsc ? p->sc[0].action : KL_GUARD_ALLOW;
}

uint64_t guard_policy_serial(const kl_guard_policy *p) { return p->serial; }

const uint8_t *guard_policy_key(const kl_guard_policy *p, size_t *len) {
  *len = p->key_len;
  return p->key;
}

bool guard_policy_rewrites(const kl_guard_policy *p, const char *scanner_name) {
  for (size_t i = 0; i < p->nsc; i++)
    if (p->sc[i].name == scanner_name || !strcmp(p->sc[i].name, scanner_name)) return p->sc[i].kind->rewrites;
  return false;
}

bool kl_guard_policy_has_stage(const kl_guard_policy *p, kl_guard_stage st) {
  for (size_t i = 0; i < p->nsc; i++)
    if (p->sc[i].stage == st) return true;
  return false;
}

size_t kl_guard_policy_classifiers(const kl_guard_policy *p, kl_guard_stage st, const kl_guard_scanner_cfg **out,
                                   size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < p->nsc; i++)
    if (p->sc[i].stage == st && p->sc[i].kind == &guard_kind_classifier) {
      if (n < max) out[n] = &p->sc[i].cfg;
      n++;
    }
  return n;
}

/* ---- what scanners use ---- */
char *guard_scanner_strdup(guard_scanner *s, const char *str, size_t len) {
  return kl_arena_strndup(s->policy->mem, str, len);
}

guard_rule *guard_scanner_add_rule(guard_scanner *s, const guard_rule *r) {
  if (s->nrules == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->rules = realloc(s->rules, s->cap * sizeof *s->rules);
    if (!s->rules) abort();
    if (s->hints) {
      s->hints = realloc(s->hints, s->cap * sizeof *s->hints);
      if (!s->hints) abort();
      memset(s->hints + s->nrules, 0, (s->cap - s->nrules) * sizeof *s->hints);
    }
    if (s->sources) {
      s->sources = realloc(s->sources, s->cap * sizeof *s->sources);
      if (!s->sources) abort();
      memset(s->sources + s->nrules, 0, (s->cap - s->nrules) * sizeof *s->sources);
    }
  }
  s->rules[s->nrules] = *r;
  return &s->rules[s->nrules++];
}

void guard_scanner_hs_hint(guard_scanner *s, const guard_rule *r, const char *hs_re, unsigned lead) {
  if (r < s->rules || r >= s->rules + s->nrules) return;
  if (!s->hints) {
    s->hints = calloc(s->cap, sizeof *s->hints);
    if (!s->hints) abort();
  }
  s->hints[r - s->rules] = (guard_hs_hint){hs_re, lead, s->hints[r - s->rules].may_match};
}

void guard_scanner_hs_source(guard_scanner *s, const guard_rule *r, const guard_window_source *src, unsigned slot) {
  if (r < s->rules || r >= s->rules + s->nrules) return;
  if (!s->sources) {
    s->sources = calloc(s->cap, sizeof *s->sources);
    if (!s->sources) abort();
  }
  s->sources[r - s->rules] = (guard_rule_source){src, slot};
}

void guard_scanner_hs_check(guard_scanner *s, const guard_rule *r, guard_may_match_fn may_match) {
  if (r < s->rules || r >= s->rules + s->nrules) return;
  if (!s->hints) {
    s->hints = calloc(s->cap, sizeof *s->hints);
    if (!s->hints) abort();
  }
  s->hints[r - s->rules].may_match = may_match;
}

void guard_scanner_want_own_db(guard_scanner *s) { s->want_own_db = true; }

static size_t scan_own(const guard_db *db, const char *text, size_t len, guard_hit **hits) {
  *hits = NULL;
  guard_db_hits h = {0};
  kl_err err = {0};
  if (!db || !guard_db_scan(db, text, len, &h, &err)) {
    guard_db_hits_free(&h);
    return 0;
  }
  free(h.owner);
  *hits = h.v;
  return h.n;
}

size_t guard_scanner_rescan(const guard_scanner *s, const char *text, size_t len, guard_hit **hits) {
  return scan_own(s->own_db, text, len, hits);
}

size_t guard_scanner_later(const guard_scanner *s, const char *text, size_t len, guard_hit **hits) {
  return scan_own(s->later_db, text, len, hits);
}

/* Only the shapes the rule tables use are cut: a `\b` opening the expression, `[ \t]+` or `\s+`
 * opening it (one blank then starts the rest of every match) or closing it (one blank ends the
 * head of every match).  A lazy, possessive or counted run ("+?", "++", "+{") is left alone. */
const char *guard_re_search_form(guard_scanner *s, const char *re) {
  static const char *const runs[] = {"[ \\t]+", "\\s+"};
  size_t n = strlen(re), head = 0, lead = 0, tail = n;
  if (!strncmp(re, "\\b", 2)) head = 2;
  for (size_t k = 0; k < 2 && !lead; k++) {
    size_t rl = strlen(runs[k]);
    if (!strncmp(re + head, runs[k], rl) && re[head + rl] && !strchr("?+*{", re[head + rl])) lead = rl;
  }
  for (size_t k = 0; k < 2 && tail == n; k++) {
    size_t rl = strlen(runs[k]);
    if (n >= head + lead + rl + 1 && !strcmp(re + n - rl, runs[k]) && re[n - rl - 1] != '\\') tail = n - 1;
  }
  if (!head && !lead && tail == n) return NULL;
  kl_buf b = KL_BUF_INIT;
  if (lead) kl_buf_append(&b, re + head, lead - 1);  /* the run's class without its '+' */
  kl_buf_append(&b, re + head + lead, tail - head - lead);
  char *out = guard_scanner_strdup(s, b.data, b.len);
  kl_buf_free(&b);
  return out;
}

char *guard_re_literal(guard_scanner *s, const char *lit, size_t len) {
  kl_buf b = KL_BUF_INIT;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)lit[i];
    if (c >= 0x80) kl_buf_printf(&b, "\\x%02x", c);  /* raw bytes: the rule is not UTF-8 mode */
    else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ' ' || c == '_'))
      kl_buf_printf(&b, "\\x%02x", c);
    else kl_buf_putc(&b, (char)c);
  }
  char *out = guard_scanner_strdup(s, b.data ? b.data : "", b.len);
  kl_buf_free(&b);
  return out;
}

double guard_entropy(const char *s, size_t n) {
  if (!n) return 0;
  unsigned cnt[256] = {0};
  for (size_t i = 0; i < n; i++) cnt[(unsigned char)s[i]]++;
  double h = 0;
  for (int i = 0; i < 256; i++)
    if (cnt[i]) {
      double p = (double)cnt[i] / (double)n;
      h -= p * log2(p);
    }
  return h;
}

/* ---- building ---- */
static const char *copy_str(kl_arena *a, const char *s) { return s ? kl_arena_strdup(a, s) : NULL; }

static void copy_cfg(kl_arena *a, kl_guard_scanner_cfg *dst, const kl_guard_scanner_cfg *src) {
  *dst = *src;
  dst->kind = copy_str(a, src->kind);
  dst->name = copy_str(a, src->name);
  dst->url = copy_str(a, src->url);
  if (src->nlist) {
    const char **l = kl_arena_alloc(a, src->nlist * sizeof *l);
    for (size_t i = 0; i < src->nlist; i++) l[i] = copy_str(a, src->list[i] ? src->list[i] : "");
    dst->list = l;
  } else {
    dst->list = NULL;
  }
}

/* Rule j's hint, NULL if it has none; its window source, NULL if Hyperscan. */
static const guard_hs_hint *hint_of(const guard_scanner *s, size_t j) {
  const guard_hs_hint *h = s->hints ? &s->hints[j] : NULL;
  return h && (h->re || h->lead || h->may_match) ? h : NULL;
}

static const guard_rule_source *source_of(const guard_scanner *s, size_t j) {
  return s->sources && s->sources[j].source ? &s->sources[j] : NULL;
}

bool guard_later_in_stage = false;

/* Whether rule j of s stays out of the stage's pass (GUARD_RE_LATER). */
static bool deferred(const guard_scanner *s, size_t j) {
  return (s->rules[j].flags & GUARD_RE_LATER) && !guard_later_in_stage;
}

/* A database of one scanner's rules: all of them (own_db) or its deferred ones. */
static guard_db *scanner_db(const guard_scanner *s, bool later_only, kl_err *err) {
  const guard_rule **rules = calloc(s->nrules, sizeof *rules);
  const guard_hs_hint **hints = calloc(s->nrules, sizeof *hints);
  const guard_rule_source **sources = calloc(s->nrules, sizeof *sources);
  if (!rules || !hints || !sources) abort();
  size_t n = 0;
  for (size_t j = 0; j < s->nrules; j++) {
    if (later_only && !deferred(s, j)) continue;
    rules[n] = &s->rules[j];
    hints[n] = hint_of(s, j);
    sources[n++] = source_of(s, j);
  }
  /* the rescans of decoded text (own_db) seldom run: no whitespace variants to compile */
  guard_db *d = guard_db_build_opts(rules, hints, sources, NULL, n, later_only ? 0 : GUARD_DB_NO_WS, err);
  free(rules);
  free(hints);
  free(sources);
  return d;
}

static bool build_stage(kl_guard_policy *p, kl_guard_stage st, kl_err *err) {
  size_t n = 0;
  for (size_t i = 0; i < p->nsc; i++)
    if (p->sc[i].stage == st)
      for (size_t j = 0; j < p->sc[i].nrules; j++) n += !deferred(&p->sc[i], j);
  if (!n) return true;
  const guard_rule **rules = calloc(n, sizeof *rules);
  const guard_hs_hint **hints = calloc(n, sizeof *hints);
  const guard_rule_source **sources = calloc(n, sizeof *sources);
  unsigned *owner = calloc(n, sizeof *owner);
  if (!rules || !hints || !sources || !owner) abort();
  size_t k = 0;
  for (size_t i = 0; i < p->nsc; i++)
    if (p->sc[i].stage == st)
      for (size_t j = 0; j < p->sc[i].nrules; j++) {
        if (deferred(&p->sc[i], j)) continue;
        rules[k] = &p->sc[i].rules[j];
        hints[k] = hint_of(&p->sc[i], j);
        sources[k] = source_of(&p->sc[i], j);
        owner[k++] = (unsigned)i;
      }
  p->stage_db[st] = guard_db_build_sourced(rules, hints, sources, owner, n, err);
  free(rules);
  free(hints);
  free(sources);
  free(owner);
  return p->stage_db[st] != NULL;
}

kl_guard_policy *kl_guard_policy_build(const kl_guard_policy_cfg *cfg, kl_err *err) {
  kl_guard_policy *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->mem = kl_arena_new(4096);
  p->name = kl_arena_strdup(p->mem, cfg->name ? cfg->name : "default");
  static _Atomic uint64_t serials;
  p->serial = ++serials;
  if (cfg->hash_key && cfg->hash_key_len) {
    p->key_len = cfg->hash_key_len < sizeof p->key ? cfg->hash_key_len : sizeof p->key;
    memcpy(p->key, cfg->hash_key, p->key_len);
  } else {
    kl_random_bytes(p->key, sizeof p->key);
    p->key_len = sizeof p->key;
  }
  p->sc = calloc(cfg->nscanners ? cfg->nscanners : 1, sizeof *p->sc);
  if (!p->sc) abort();
  for (size_t i = 0; i < cfg->nscanners; i++) {
    const kl_guard_scanner_cfg *c = &cfg->scanners[i];
    const guard_kind *k = find_kind(c->kind);
    if (!k) {
      kl_err_set(err, 400, "guard: policy %s: unknown scanner kind '%s'", p->name, c->kind ? c->kind : "");
      goto fail;
    }
    if (!(k->stages & (1u << c->stage))) {
      kl_err_set(err, 400, "guard: policy %s: scanner '%s' cannot run at stage %s", p->name, k->kind,
                 kl_guard_stage_name(c->stage));
      goto fail;
    }
    guard_scanner *s = &p->sc[p->nsc++];
    s->kind = k;
    s->policy = p;
    copy_cfg(p->mem, &s->cfg, c);
    s->name = kl_arena_strdup(p->mem, c->name ? c->name : k->kind);
    s->stage = c->stage;
    s->action = c->action ? c->action : k->action;
    s->threshold = c->threshold > 0 ? c->threshold : k->threshold;
    if (k->init && !k->init(s, &s->cfg, err)) {
      kl_err kept = *err;
      kl_err_set(err, kept.code ? kept.code : 400, "guard: policy %s: scanner %s: %s", p->name, s->name, kept.msg);
      goto fail;
    }
  }
  for (int st = 0; st < 3; st++)
    if (!build_stage(p, (kl_guard_stage)st, err)) goto fail;
  for (size_t i = 0; i < p->nsc; i++) {
    guard_scanner *s = &p->sc[i];
    if (s->want_own_db && s->nrules && !(s->own_db = scanner_db(s, false, err))) goto fail;
    for (size_t j = 0; j < s->nrules; j++)
      if (deferred(s, j)) {
        if (!(s->later_db = scanner_db(s, true, err))) goto fail;
        break;
      }
  }
  return p;
fail:
  kl_guard_policy_free(p);
  return NULL;
}

void kl_guard_policy_free(kl_guard_policy *p) {
  if (!p) return;
  for (int st = 0; st < 3; st++) guard_db_free(p->stage_db[st]);
  for (size_t i = 0; i < p->nsc; i++) {
    guard_scanner *s = &p->sc[i];
    if (s->kind->free) s->kind->free(s);
    guard_db_free(s->own_db);
    guard_db_free(s->later_db);
    free(s->rules);
    free(s->hints);
    free(s->sources);
  }
  free(p->sc);
  kl_arena_free(p->mem);
  free(p);
}

kl_guard_policy *kl_guard_policy_new(const char *name, const kl_guard_opts *opts, kl_err *err) {
  kl_guard_opts o = {.min_score = KL_GUARD_DEFAULT_MIN_SCORE};
  if (opts) o = *opts;
  kl_guard_scanner_cfg sc = {.kind = "pii", .stage = KL_GUARD_INPUT, .types = o.types,
                             .action = o.action ? o.action : KL_GUARD_REDACT,
                             /* 0 keeps everything: a tiny positive threshold does the same */
                             .threshold = o.min_score > 0 ? o.min_score : 1e-9};
  kl_guard_policy_cfg pc = {.name = name, .scanners = &sc, .nscanners = 1, .hash_key = o.hash_key,
                            .hash_key_len = o.hash_key_len};
  return kl_guard_policy_build(&pc, err);
}

kl_guard_policy *kl_guard_policy_default(const char *name, kl_err *err) {
  const kl_guard_scanner_cfg sc[] = {
    {.kind = "pii", .stage = KL_GUARD_INPUT},
    {.kind = "secrets", .stage = KL_GUARD_INPUT},
    {.kind = "injection", .stage = KL_GUARD_INPUT},
    {.kind = "pii", .stage = KL_GUARD_OUTPUT},
    {.kind = "secrets", .stage = KL_GUARD_OUTPUT},
  };
  kl_guard_policy_cfg pc = {.name = name ? name : "default", .scanners = sc, .nscanners = sizeof sc / sizeof *sc};
  return kl_guard_policy_build(&pc, err);
}

/* for check.c */
size_t guard_policy_scanners(const kl_guard_policy *p, const guard_scanner **out) {
  *out = p->sc;
  return p->nsc;
}

const guard_db *guard_policy_stage_db(const kl_guard_policy *p, kl_guard_stage st) { return p->stage_db[st]; }
