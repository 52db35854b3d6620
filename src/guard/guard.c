/* guard.c: the guard engine: policy build (one Hyperscan database for every rule) and scan.
 *
 * Scan = one Hyperscan pass that only records, per rule, windows [end - max_len, end] around
 * match ends (no start-of-match tracking: HS_FLAG_SOM_LEFTMOST makes large rule sets too big);
 * then PCRE2 (JIT) re-matches each merged window with the rule's boundary lookarounds to find
 * exact spans, validators confirm, context words boost, and overlaps are resolved.  Windows
 * bound PCRE2's work, so the cost stays linear in the text.  A rule Hyperscan rejects is
 * compiled in PREFILTER mode: PCRE2 confirms anyway.  hs_scratch is not shareable between
 * threads, so the policy keeps a small mutex-guarded pool of clones: scans never block each
 * other for longer than a list pop. */
#include "guard/guard_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <hs/hs.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scratch_node {
  hs_scratch_t *s;
  struct scratch_node *next;
} scratch_node;

struct kl_guard_policy {
  char *name;
  kl_guard_opts opts;
  uint8_t key[32];
  size_t nrules;
  const guard_rule **rules;
  pcre2_code **pcre;
  hs_database_t *db;
  hs_scratch_t *proto;
  pthread_mutex_t mu;
  scratch_node *pool;
};

static const char *const type_names[KL_GUARD_NTYPES] = {
  "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "MAC_ADDRESS", "CRYPTO",
};

const char *kl_guard_type_name(kl_guard_type t) { return (unsigned)t < KL_GUARD_NTYPES ? type_names[t] : "UNKNOWN"; }

const char *kl_guard_action_name(kl_guard_action a) {
  switch (a) {
  case KL_GUARD_REDACT: return "redact";
  case KL_GUARD_MASK: return "mask";
  case KL_GUARD_HASH: return "hash";
  case KL_GUARD_BLOCK: return "block";
  }
  return "redact";
}

const char *kl_guard_policy_name(const kl_guard_policy *p) { return p->name; }
kl_guard_action kl_guard_policy_action(const kl_guard_policy *p) { return p->opts.action; }

const uint8_t *guard_policy_key(const kl_guard_policy *p, size_t *len) {
  *len = p->opts.hash_key_len;
  return p->key;
}

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) abort();
  return p;
}

static bool compile_pcre(kl_guard_policy *p, size_t i, kl_err *err) {
  const guard_rule *r = p->rules[i];
  size_t n = strlen(r->pre) + strlen(r->re) + strlen(r->post) + 8;
  char *pat = xcalloc(n, 1);
  snprintf(pat, n, "%s(?:%s)%s", r->pre, r->re, r->post);
  int ec;
  PCRE2_SIZE eo;
  p->pcre[i] = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, r->caseless ? PCRE2_CASELESS : 0, &ec, &eo, NULL);
  free(pat);
  if (!p->pcre[i]) {
    PCRE2_UCHAR msg[128];
    pcre2_get_error_message(ec, msg, sizeof msg);
    kl_err_set(err, 500, "guard: rule %s: pcre2: %s at %zu", r->name, (char *)msg, (size_t)eo);
    return false;
  }
  pcre2_jit_compile(p->pcre[i], PCRE2_JIT_COMPLETE);  /* falls back to the interpreter */
  return true;
}

static bool compile_hs(kl_guard_policy *p, kl_err *err) {
  const char **exprs = xcalloc(p->nrules, sizeof *exprs);
  unsigned *flags = xcalloc(p->nrules, sizeof *flags), *ids = xcalloc(p->nrules, sizeof *ids);
  for (size_t i = 0; i < p->nrules; i++) {
    exprs[i] = p->rules[i]->re;
    flags[i] = p->rules[i]->caseless ? HS_FLAG_CASELESS : 0;
    ids[i] = (unsigned)i;
  }
  bool ok = false;
  for (int attempt = 0; attempt <= (int)p->nrules; attempt++) {
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)p->nrules, HS_MODE_BLOCK, NULL, &p->db, &ce) == HS_SUCCESS) {
      ok = true;
      break;
    }
    int bad = ce ? ce->expression : -1;
    if (bad < 0 || (flags[bad] & HS_FLAG_PREFILTER)) {
      kl_err_set(err, 500, "guard: hyperscan: %s", ce && ce->message ? ce->message : "compile failed");
      hs_free_compile_error(ce);
      break;
    }
    hs_free_compile_error(ce);
    flags[bad] |= HS_FLAG_PREFILTER;  /* PCRE2 confirms every candidate anyway */
  }
  free(exprs);
  free(flags);
  free(ids);
  if (ok && hs_alloc_scratch(p->db, &p->proto) != HS_SUCCESS) {
    kl_err_set(err, 500, "guard: hyperscan: cannot allocate scratch");
    ok = false;
  }
  return ok;
}

kl_guard_policy *kl_guard_policy_new(const char *name, const kl_guard_opts *opts, kl_err *err) {
  kl_guard_policy *p = xcalloc(1, sizeof *p);
  p->name = strdup(name ? name : "default");
  if (!p->name) abort();
  if (opts) p->opts = *opts;
  else p->opts.min_score = KL_GUARD_DEFAULT_MIN_SCORE;
  if (!p->opts.types) p->opts.types = KL_GUARD_ALL_PII;
  if (p->opts.hash_key && p->opts.hash_key_len) {
    size_t n = p->opts.hash_key_len < sizeof p->key ? p->opts.hash_key_len : sizeof p->key;
    memcpy(p->key, p->opts.hash_key, n);
    p->opts.hash_key_len = n;
  } else {
    kl_random_bytes(p->key, sizeof p->key);
    p->opts.hash_key_len = sizeof p->key;
  }
  p->opts.hash_key = p->key;
  pthread_mutex_init(&p->mu, NULL);
  p->rules = xcalloc(guard_pii_nrules, sizeof *p->rules);
  for (size_t i = 0; i < guard_pii_nrules; i++)
    if (p->opts.types & (1u << guard_pii_rules[i].type)) p->rules[p->nrules++] = &guard_pii_rules[i];
  p->pcre = xcalloc(p->nrules, sizeof *p->pcre);
  for (size_t i = 0; i < p->nrules; i++)
    if (!compile_pcre(p, i, err)) goto fail;
  if (p->nrules && !compile_hs(p, err)) goto fail;
  return p;
fail:
  kl_guard_policy_free(p);
  return NULL;
}

void kl_guard_policy_free(kl_guard_policy *p) {
  if (!p) return;
  for (scratch_node *n = p->pool, *next; n; n = next) {
    next = n->next;
    hs_free_scratch(n->s);
    free(n);
  }
  hs_free_scratch(p->proto);
  hs_free_database(p->db);
  for (size_t i = 0; i < p->nrules; i++) pcre2_code_free(p->pcre[i]);
  free(p->pcre);
  free(p->rules);
  pthread_mutex_destroy(&p->mu);
  free(p->name);
  free(p);
}

/* ---- scan ---- */
typedef struct { unsigned rule; size_t start, end; } window;

typedef struct {
  const kl_guard_policy *p;
  window *w;
  size_t nw, cap;
  long *last;  /* per rule: index of its latest window, -1 if none */
} scan_ctx;

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *vctx) {
  (void)from; (void)flags;
  scan_ctx *c = vctx;
  size_t ml = c->p->rules[id]->max_len, end = (size_t)to, start = end > ml ? end - ml : 0;
  long li = c->last[id];
  if (li >= 0 && start <= c->w[li].end) {
    if (end > c->w[li].end) c->w[li].end = end;
    return 0;
  }
  if (c->nw == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 32;
    c->w = realloc(c->w, c->cap * sizeof *c->w);
    if (!c->w) abort();
  }
  c->w[c->nw] = (window){id, start, end};
  c->last[id] = (long)c->nw++;
  return 0;
}

static int cmp_window(const void *a, const void *b) {
  const window *x = a, *y = b;
  if (x->rule != y->rule) return x->rule < y->rule ? -1 : 1;
  return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_finding(const void *a, const void *b) {
  const kl_guard_finding *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  if (x->end != y->end) return x->end > y->end ? -1 : 1;
  return x->score > y->score ? -1 : x->score < y->score;
}

static bool has_word(const char *lw, size_t n, const char *w) {
  size_t wl = strlen(w);
  for (const char *q = lw; (q = memmem(q, n - (size_t)(q - lw), w, wl)); q++) {
    size_t i = (size_t)(q - lw);
    if ((i == 0 || !isalpha((unsigned char)lw[i - 1])) && (i + wl >= n || !isalpha((unsigned char)lw[i + wl])))
      return true;
  }
  return false;
}

/* Presidio-like context: a type's keyword in the 48 bytes before or 24 after adds 0.35.
 * The two sides are lowercased into one buffer, split by a NUL so no word spans the finding. */
static double context_boost(const char *t, size_t len, size_t s, size_t e, kl_guard_type type) {
  char lw[48 + 1 + 24];
  size_t bs = s > 48 ? s - 48 : 0, ae = e + 24 < len ? e + 24 : len, n = 0;
  for (size_t i = bs; i < s; i++) lw[n++] = (char)tolower((unsigned char)t[i]);
  lw[n++] = 0;
  for (size_t i = e; i < ae; i++) lw[n++] = (char)tolower((unsigned char)t[i]);
  for (const char *const *w = guard_context_words(type); *w; w++)
    if (has_word(lw, n, *w)) return 0.35;
  return 0;
}

typedef struct { kl_guard_finding *v; size_t n, cap; } fvec;

static void fvec_push(fvec *f, kl_guard_finding x) {
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 16;
    f->v = realloc(f->v, f->cap * sizeof *f->v);
    if (!f->v) abort();
  }
  f->v[f->n++] = x;
}

static void confirm_window(const kl_guard_policy *p, const window *w, size_t *scanned, const char *text, size_t len,
                           pcre2_match_data *md, fvec *out) {
  const guard_rule *r = p->rules[w->rule];
  /* the subject stops a little after the longest match that can start in the window */
  size_t slen = w->end + r->max_len + 16 < len ? w->end + r->max_len + 16 : len;
  size_t off = w->start > *scanned ? w->start : *scanned;
  while (off <= w->end && off < slen) {
    int rc = pcre2_match(p->pcre[w->rule], (PCRE2_SPTR)text, slen, off, 0, md, NULL);
    if (rc < 0) break;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t ms = ov[0], me = ov[1];
    if (ms > w->end) break;
    double score = r->score;
    /* a rejected candidate may hide a valid one starting inside it (the lookbehinds keep
     * this from restarting mid-token); an accepted one is skipped whole */
    if (me <= ms || (r->validate && !r->validate(text, len, ms, &me, &score))) {
      off = *scanned = ms + 1;
      continue;
    }
    off = *scanned = me;
    if (score < 1) score += context_boost(text, len, ms, me, r->type);
    if (score > 1) score = 1;
    if (score < p->opts.min_score) continue;
    fvec_push(out, (kl_guard_finding){"pii", type_names[r->type], r->name, ms, me, score});
  }
}

/* Sorted by start: overlaps of one type merge; of different types the higher score stays. */
static size_t resolve(kl_guard_finding *v, size_t n) {
  if (n < 2) return n;
  qsort(v, n, sizeof *v, cmp_finding);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k && v[i].start < v[k - 1].end) {
      kl_guard_finding *l = &v[k - 1];
      if (l->type == v[i].type) {
        if (v[i].end > l->end) l->end = v[i].end;
        if (v[i].score > l->score) l->score = v[i].score;
      } else if (v[i].score > l->score) {
        *l = v[i];
      }
      continue;
    }
    v[k++] = v[i];
  }
  return k;
}

static hs_scratch_t *take_scratch(kl_guard_policy *p) {
  pthread_mutex_lock(&p->mu);
  scratch_node *n = p->pool;
  if (n) p->pool = n->next;
  pthread_mutex_unlock(&p->mu);
  hs_scratch_t *s = NULL;
  if (n) {
    s = n->s;
    free(n);
  } else if (hs_clone_scratch(p->proto, &s) != HS_SUCCESS) {
    abort();  /* out of memory */
  }
  return s;
}

static void give_scratch(kl_guard_policy *p, hs_scratch_t *s) {
  scratch_node *n = malloc(sizeof *n);
  if (!n) abort();
  n->s = s;
  pthread_mutex_lock(&p->mu);
  n->next = p->pool;
  p->pool = n;
  pthread_mutex_unlock(&p->mu);
}

long kl_guard_scan(const kl_guard_policy *cp, const char *text, size_t len, kl_arena *a, kl_guard_finding **out,
                   kl_err *err) {
  *out = NULL;
  if (!cp->nrules || !len) return 0;
  if (len > 0xffffffffu) {
    kl_err_set(err, 413, "guard: text too large to scan (%zu bytes)", len);
    return -1;
  }
  kl_guard_policy *p = (kl_guard_policy *)cp;  /* only the scratch pool mutates, under its mutex */
  scan_ctx c = {.p = p};
  c.last = xcalloc(p->nrules, sizeof *c.last);
  for (size_t i = 0; i < p->nrules; i++) c.last[i] = -1;
  hs_scratch_t *s = take_scratch(p);
  hs_error_t rc = hs_scan(p->db, text, (unsigned)len, 0, s, on_match, &c);
  give_scratch(p, s);
  free(c.last);
  if (rc != HS_SUCCESS) {
    free(c.w);
    kl_err_set(err, 500, "guard: hyperscan scan failed (%d)", (int)rc);
    return -1;
  }
  if (c.nw > 1) qsort(c.w, c.nw, sizeof *c.w, cmp_window);
  fvec f = {0};
  pcre2_match_data *md = pcre2_match_data_create(8, NULL);
  if (!md) abort();
  size_t scanned = 0;
  for (size_t i = 0; i < c.nw; i++) {
    if (i == 0 || c.w[i].rule != c.w[i - 1].rule) scanned = 0;
    confirm_window(p, &c.w[i], &scanned, text, len, md, &f);
  }
  pcre2_match_data_free(md);
  free(c.w);
  size_t n = resolve(f.v, f.n);
  if (n) {
    *out = kl_arena_alloc(a, n * sizeof **out);
    memcpy(*out, f.v, n * sizeof **out);
  }
  free(f.v);
  return (long)n;
}
