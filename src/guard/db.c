/* db.c: a compiled rule set: one Hyperscan database over many rules, plus PCRE2 to confirm.
 *
 * Scan = one Hyperscan pass that only records, per rule, windows [end - max_len, end] around
 * match ends (no start-of-match tracking: HS_FLAG_SOM_LEFTMOST makes large rule sets too big);
 * then PCRE2 (JIT) re-matches each merged window with the rule's boundary lookarounds to find
 * exact spans, validators confirm and context words boost.  Windows bound PCRE2's work, so the
 * cost stays linear in the text.  A rule Hyperscan rejects is compiled in PREFILTER mode:
 * PCRE2 confirms anyway.  hs_scratch is not shareable between threads, so the set keeps a
 * small mutex-guarded pool of clones: scans never block each other for longer than a list pop.
 *
 * A policy has one set per stage (every scanner of the stage in one pass) and, for scanners
 * that rescan derived text (decoded base64...), one set of their own rules. */
#include "guard/db.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <hs/hs.h>
#include <pcre2.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct scratch_node {
  hs_scratch_t *s;
  struct scratch_node *next;
} scratch_node;

struct guard_db {
  size_t nrules;
  const guard_rule **rules;
  unsigned *owner;  /* per rule: the caller's tag (scanner index) */
  pcre2_code **pcre;
  hs_database_t *db;
  hs_scratch_t *proto;
  pthread_mutex_t mu;
  scratch_node *pool;
};

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) abort();
  return p;
}

static bool compile_pcre(guard_db *d, size_t i, kl_err *err) {
  const guard_rule *r = d->rules[i];
  const char *pre = r->pre ? r->pre : "", *post = r->post ? r->post : "";
  size_t n = strlen(pre) + strlen(r->re) + strlen(post) + 8;
  char *pat = xcalloc(n, 1);
  snprintf(pat, n, "%s(?:%s)%s", pre, r->re, post);
  uint32_t opts = 0;
  if (r->flags & GUARD_RE_CASELESS) opts |= PCRE2_CASELESS;
  if (r->flags & GUARD_RE_UTF8) opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (r->flags & GUARD_RE_DOTALL) opts |= PCRE2_DOTALL;
  if (r->flags & GUARD_RE_MULTILINE) opts |= PCRE2_MULTILINE;
  int ec;
  PCRE2_SIZE eo;
  d->pcre[i] = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
  free(pat);
  if (!d->pcre[i]) {
    PCRE2_UCHAR msg[128];
    pcre2_get_error_message(ec, msg, sizeof msg);
    kl_err_set(err, 400, "guard: rule %s: %s at offset %zu", r->name, (char *)msg, (size_t)eo);
    return false;
  }
  pcre2_jit_compile(d->pcre[i], PCRE2_JIT_COMPLETE);  /* falls back to the interpreter */
  return true;
}

static unsigned hs_flags(const guard_rule *r) {
  unsigned f = 0;
  if (r->flags & GUARD_RE_CASELESS) f |= HS_FLAG_CASELESS;
  if (r->flags & GUARD_RE_UTF8) f |= HS_FLAG_UTF8 | HS_FLAG_UCP;
  if (r->flags & GUARD_RE_DOTALL) f |= HS_FLAG_DOTALL;
  if (r->flags & GUARD_RE_MULTILINE) f |= HS_FLAG_MULTILINE;
  return f;
}

/* ---- the compile cache ----
 * Compiling the gitleaks rules takes ~0.8 s (most of a policy's build), and keel builds the
 * same databases at every start and every `keel guard scan`.  A compiled database is
 * serialised to $KEEL_CACHE_DIR (default $XDG_CACHE_HOME/keel, then ~/.cache/keel) under the
 * SHA-256 of everything that determines it: Hyperscan's version, the platform it was tuned
 * for, and each expression with its flags.  Loading it takes milliseconds.  A missing,
 * unwritable or corrupt cache only costs the compile: every failure falls back to it. */
static bool cache_dir(char *out, size_t n) {
  const char *d = getenv("KEEL_CACHE_DIR");
  if (d && !strcmp(d, "off")) return false;
  if (d && *d) return snprintf(out, n, "%s", d) < (int)n;
  const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
  if (x && *x) return snprintf(out, n, "%s/keel", x) < (int)n;
  if (h && *h) return snprintf(out, n, "%s/.cache/keel", h) < (int)n;
  return false;
}

static bool cache_path(const char *const *exprs, const unsigned *flags, size_t n, char *out, size_t outn) {
  char dir[512];
  if (!cache_dir(dir, sizeof dir)) return false;
  hs_platform_info_t pl;
  if (hs_populate_platform(&pl) != HS_SUCCESS) return false;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) abort();
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  const char *v = hs_version();
  EVP_DigestUpdate(ctx, v, strlen(v) + 1);
  EVP_DigestUpdate(ctx, &pl, sizeof pl);
  for (size_t i = 0; i < n; i++) {
    EVP_DigestUpdate(ctx, exprs[i], strlen(exprs[i]) + 1);
    EVP_DigestUpdate(ctx, &flags[i], sizeof flags[i]);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  EVP_DigestFinal_ex(ctx, md, &mdlen);
  EVP_MD_CTX_free(ctx);
  int k = snprintf(out, outn, "%s/hs-", dir);
  for (int i = 0; i < 16 && k > 0 && (size_t)k + 3 < outn; i++) k += snprintf(out + k, outn - (size_t)k, "%02x", md[i]);
  return k > 0 && (size_t)k + 4 < outn && snprintf(out + k, outn - (size_t)k, ".db") > 0;
}

static hs_database_t *cache_load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  hs_database_t *db = NULL;
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20)) {
    char *buf = malloc((size_t)st.st_size);
    if (!buf) abort();
    if (fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size &&
        hs_deserialize_database(buf, (size_t)st.st_size, &db) != HS_SUCCESS)
      db = NULL;
    free(buf);
  }
  fclose(f);
  return db;
}

static void cache_store(const char *path, const hs_database_t *db) {
  char *bytes = NULL;
  size_t n = 0;
  if (hs_serialize_database(db, &bytes, &n) != HS_SUCCESS) return;
  char dir[1024], tmp[1100];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = 0;
    for (char *p = dir + 1; *p; p++)  /* mkdir -p */
      if (*p == '/') {
        *p = 0;
        mkdir(dir, 0700);
        *p = '/';
      }
    mkdir(dir, 0700);
  }
  /* write then rename: a concurrent reader never sees half a file */
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  if (f) {
    bool ok = fwrite(bytes, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
  }
  free(bytes);
}

static bool compile_hs(guard_db *d, kl_err *err) {
  const char **exprs = xcalloc(d->nrules, sizeof *exprs);
  unsigned *flags = xcalloc(d->nrules, sizeof *flags), *ids = xcalloc(d->nrules, sizeof *ids);
  for (size_t i = 0; i < d->nrules; i++) {
    exprs[i] = d->rules[i]->re;
    flags[i] = hs_flags(d->rules[i]);
    ids[i] = (unsigned)i;
  }
  bool ok = false;
  char cpath[700];
  bool cached = cache_path(exprs, flags, d->nrules, cpath, sizeof cpath);
  if (cached && (d->db = cache_load(cpath))) {
    ok = true;
    goto compiled;
  }
  /* Each failed compile names one bad expression: retry it in PREFILTER mode, and as a last
   * resort replace it by a pattern that matches every byte (PCRE2 then scans the whole text
   * for that rule: slow but correct, and only for exotic configured patterns). */
  for (int attempt = 0; attempt <= 2 * (int)d->nrules; attempt++) {
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)d->nrules, HS_MODE_BLOCK, NULL, &d->db, &ce) == HS_SUCCESS) {
      ok = true;
      break;
    }
    int bad = ce ? ce->expression : -1;
    if (bad < 0) {
      kl_err_set(err, 500, "guard: hyperscan: %s", ce && ce->message ? ce->message : "compile failed");
      hs_free_compile_error(ce);
      break;
    }
    hs_free_compile_error(ce);
    if (!(flags[bad] & HS_FLAG_PREFILTER)) {
      flags[bad] |= HS_FLAG_PREFILTER;
    } else {
      exprs[bad] = "(?s:.)";
      flags[bad] = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
    }
  }
  /* keyed by the rules as given: the PREFILTER fallbacks are deterministic, so the same
   * rules always come to this database */
  if (ok && cached) cache_store(cpath, d->db);
compiled:
  free(exprs);
  free(flags);
  free(ids);
  if (ok && hs_alloc_scratch(d->db, &d->proto) != HS_SUCCESS) {
    kl_err_set(err, 500, "guard: hyperscan: cannot allocate scratch");
    ok = false;
  }
  return ok;
}

guard_db *guard_db_build(const guard_rule *const *rules, const unsigned *owner, size_t n, kl_err *err) {
  guard_db *d = xcalloc(1, sizeof *d);
  pthread_mutex_init(&d->mu, NULL);
  d->nrules = n;
  d->rules = xcalloc(n, sizeof *d->rules);
  d->owner = xcalloc(n, sizeof *d->owner);
  d->pcre = xcalloc(n, sizeof *d->pcre);
  for (size_t i = 0; i < n; i++) {
    d->rules[i] = rules[i];
    d->owner[i] = owner ? owner[i] : 0;
  }
  for (size_t i = 0; i < n; i++)
    if (!compile_pcre(d, i, err)) goto fail;
  if (n && !compile_hs(d, err)) goto fail;
  return d;
fail:
  guard_db_free(d);
  return NULL;
}

void guard_db_free(guard_db *d) {
  if (!d) return;
  for (scratch_node *n = d->pool, *next; n; n = next) {
    next = n->next;
    hs_free_scratch(n->s);
    free(n);
  }
  hs_free_scratch(d->proto);
  hs_free_database(d->db);
  for (size_t i = 0; i < d->nrules; i++) pcre2_code_free(d->pcre[i]);
  free(d->pcre);
  free(d->rules);
  free(d->owner);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

size_t guard_db_nrules(const guard_db *d) { return d ? d->nrules : 0; }

/* ---- scan ---- */
typedef struct { unsigned rule; size_t start, end; } window;

typedef struct {
  const guard_db *d;
  window *w;
  size_t nw, cap;
  long *last;  /* per rule: index of its latest window, -1 if none */
} scan_ctx;

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *vctx) {
  (void)from; (void)flags;
  scan_ctx *c = vctx;
  size_t ml = c->d->rules[id]->max_len, end = (size_t)to, start = end > ml ? end - ml : 0;
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

static bool has_word(const char *lw, size_t n, const char *w) {
  size_t wl = strlen(w);
  for (const char *q = lw; (q = memmem(q, n - (size_t)(q - lw), w, wl)); q++) {
    size_t i = (size_t)(q - lw);
    if ((i == 0 || !isalpha((unsigned char)lw[i - 1])) && (i + wl >= n || !isalpha((unsigned char)lw[i + wl])))
      return true;
  }
  return false;
}

/* Presidio-like context: a keyword in the 48 bytes before or 24 after adds 0.35.  The two
 * sides are lowercased into one buffer, split by a NUL so no word spans the finding. */
static double context_boost(const char *t, size_t len, size_t s, size_t e, const char *const *words) {
  char lw[48 + 1 + 24];
  size_t bs = s > 48 ? s - 48 : 0, ae = e + 24 < len ? e + 24 : len, n = 0;
  for (size_t i = bs; i < s; i++) lw[n++] = (char)tolower((unsigned char)t[i]);
  lw[n++] = 0;
  for (size_t i = e; i < ae; i++) lw[n++] = (char)tolower((unsigned char)t[i]);
  for (const char *const *w = words; *w; w++)
    if (has_word(lw, n, *w)) return 0.35;
  return 0;
}

static void hits_push(guard_db_hits *h, guard_hit x, unsigned owner) {
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 16;
    h->v = realloc(h->v, h->cap * sizeof *h->v);
    h->owner = realloc(h->owner, h->cap * sizeof *h->owner);
    if (!h->v || !h->owner) abort();
  }
  h->owner[h->n] = owner;
  h->v[h->n++] = x;
}

static void confirm_window(const guard_db *d, const window *w, size_t *scanned, const char *text, size_t len,
                           pcre2_match_data *md, guard_db_hits *out) {
  const guard_rule *r = d->rules[w->rule];
  /* the subject stops a little after the longest match that can start in the window */
  size_t slen = w->end + r->max_len + 16 < len ? w->end + r->max_len + 16 : len;
  size_t off = w->start > *scanned ? w->start : *scanned;
  while (off <= w->end && off <= slen) {
    /* a subject cut short must not let `$` match at the cut */
    int rc = pcre2_match(d->pcre[w->rule], (PCRE2_SPTR)text, slen, off, slen < len ? PCRE2_NOTEOL : 0, md, NULL);
    if (rc < 0) break;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t ms = ov[0], me = ov[1];
    if (ms > w->end) break;
    double score = r->score;
    /* a rejected candidate may hide a valid one starting inside it (the lookbehinds keep
     * this from restarting mid-token); an accepted one is skipped whole */
    if (me <= ms || (r->validate && !r->validate(text, len, ms, &me, &score)) ||
        (r->validate_rule && !r->validate_rule(r, text, len, ms, &me, &score))) {
      off = *scanned = ms + 1;
      continue;
    }
    off = *scanned = me;
    if (score < 1 && r->context) score += context_boost(text, len, ms, me, r->context);
    if (score > 1) score = 1;
    hits_push(out, (guard_hit){r, ms, me, score}, d->owner[w->rule]);
  }
}

static hs_scratch_t *take_scratch(guard_db *d) {
  pthread_mutex_lock(&d->mu);
  scratch_node *n = d->pool;
  if (n) d->pool = n->next;
  pthread_mutex_unlock(&d->mu);
  hs_scratch_t *s = NULL;
  if (n) {
    s = n->s;
    free(n);
  } else if (hs_clone_scratch(d->proto, &s) != HS_SUCCESS) {
    abort();  /* out of memory */
  }
  return s;
}

static void give_scratch(guard_db *d, hs_scratch_t *s) {
  scratch_node *n = malloc(sizeof *n);
  if (!n) abort();
  n->s = s;
  pthread_mutex_lock(&d->mu);
  n->next = d->pool;
  d->pool = n;
  pthread_mutex_unlock(&d->mu);
}

bool guard_db_scan(const guard_db *cd, const char *text, size_t len, guard_db_hits *out, kl_err *err) {
  if (!cd || !cd->nrules) return true;
  if (len > 0xffffffffu) {
    kl_err_set(err, 413, "guard: text too large to scan (%zu bytes)", len);
    return false;
  }
  guard_db *d = (guard_db *)cd;  /* only the scratch pool mutates, under its mutex */
  scan_ctx c = {.d = d};
  c.last = xcalloc(d->nrules, sizeof *c.last);
  for (size_t i = 0; i < d->nrules; i++) c.last[i] = -1;
  hs_scratch_t *s = take_scratch(d);
  static const char empty[1] = "";
  hs_error_t rc = hs_scan(d->db, len ? text : empty, (unsigned)len, 0, s, on_match, &c);
  give_scratch(d, s);
  free(c.last);
  if (rc != HS_SUCCESS) {
    free(c.w);
    kl_err_set(err, 500, "guard: hyperscan scan failed (%d)", (int)rc);
    return false;
  }
  if (c.nw > 1) qsort(c.w, c.nw, sizeof *c.w, cmp_window);
  if (c.nw) {
    pcre2_match_data *md = pcre2_match_data_create(8, NULL);
    if (!md) abort();
    size_t scanned = 0;
    for (size_t i = 0; i < c.nw; i++) {
      if (i == 0 || c.w[i].rule != c.w[i - 1].rule) scanned = 0;
      confirm_window(d, &c.w[i], &scanned, len ? text : empty, len, md, out);
    }
    pcre2_match_data_free(md);
  }
  free(c.w);
  return true;
}

void guard_db_hits_free(guard_db_hits *h) {
  free(h->v);
  free(h->owner);
  *h = (guard_db_hits){0};
}
