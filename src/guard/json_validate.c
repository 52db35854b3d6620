/* json_validate.c: validates a cJSON instance against a compiled schema (json_schema.c).
 *
 * Depth-first, stopping at the first error.  The instance path is a linked list on the stack
 * and is only rendered into a JSON pointer when an error is reported, so a passing validation
 * allocates nothing (except PCRE2 match data, once, when a pattern is used).
 *
 * anyOf/oneOf/not/if evaluate their branches "quietly" (errors are recorded as keyword + depth,
 * not formatted).  When no branch of anyOf/oneOf matches, the error reported is the one of the
 * branch that got furthest (deepest in the instance, or past its type check), because that is
 * what a model re-asked needs to fix: for anyOf [null, {object...}] and an object missing a
 * property, "missing required property" beats "matches no alternative".  If no branch stands
 * out, the message lists each branch's complaint.
 *
 * Costs are bounded for hostile schema/instance pairs: a step budget (every node visit and
 * every value comparison counts) and an evaluation depth limit turn runaway work into an error
 * with keyword "limit". */
#include "guard/json_schema_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 5000000u
/* Nested evaluations: 3 per level lets a 1000-deep value (cJSON's limit) through a recursive
 * items/anyOf/$ref schema.  Measured: ~240 bytes of stack each at -O2, ~1.8 KB at clang -O0 +
 * ASan, so this fits a 2 MB worker stack in release and the 8 MB main stack in sanitizer builds. */
#define MAX_EVAL_DEPTH 3200

typedef struct gs_path {
  const struct gs_path *up;
  const char *key;  /* NULL: array index */
  size_t idx;
  int depth;
} gs_path;

typedef struct vctx {
  const guard_schema *s;
  guard_schema_error *e;
  int quiet;        /* > 0: record failures, do not format them */
  int depth;
  size_t steps;
  bool exhausted;   /* the budget ran out: no point trying other branches */
  pcre2_match_data *md;
  int last_depth;   /* the last failure: instance depth and keyword */
  const char *last_kw;
} vctx;

static bool validate(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p);

/* ---- error reporting ---- */

static void render_path(const gs_path *p, char *out, size_t cap) {
  const gs_path *segs[64];
  size_t n = 0;
  bool cut = false;
  for (const gs_path *q = p; q && q->up; q = q->up) {
    if (n == 64) { cut = true; break; }
    segs[n++] = q;  /* leaf first: a deep path keeps its innermost 64 segments */
  }
  size_t len = 0;
  if (cut) len = (size_t)snprintf(out, cap, "/...");
  for (size_t i = n; i-- > 0 && len + 1 < cap;) {
    const gs_path *q = segs[i];
    out[len++] = '/';
    if (!q->key) {
      len += (size_t)snprintf(out + len, cap - len, "%zu", q->idx);
      if (len >= cap) len = cap - 1;
      continue;
    }
    for (const char *k = q->key; *k && len + 3 < cap; k++) {
      if (*k == '~' || *k == '/') out[len++] = '~', out[len++] = *k == '~' ? '0' : '1';
      else out[len++] = *k;
    }
  }
  out[len < cap ? len : cap - 1] = 0;
}

static bool fail(vctx *v, const gs_path *p, const char *kw, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool fail(vctx *v, const gs_path *p, const char *kw, const char *fmt, ...) {
  v->last_depth = p->depth;
  v->last_kw = kw;
  if (v->quiet || !v->e) return false;
  v->e->keyword = kw;
  render_path(p, v->e->path, sizeof v->e->path);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->e->message, sizeof v->e->message, fmt, ap);
  va_end(ap);
  return false;
}

static unsigned type_of(const cJSON *x) {
  switch (x->type & 0xFF) {
  case cJSON_NULL: return GS_NULL;
  case cJSON_False:
  case cJSON_True: return GS_BOOL;
  case cJSON_Object: return GS_OBJ;
  case cJSON_Array: return GS_ARR;
  case cJSON_String: return GS_STR;
  case cJSON_Number: return isfinite(x->valuedouble) && floor(x->valuedouble) == x->valuedouble ? GS_NUM | GS_INT : GS_NUM;
  }
  return 0;  /* cJSON_Raw: never produced by parsing */
}

static const char *kind(const cJSON *x) {
  unsigned t = type_of(x);
  return t & GS_INT ? "integer" : t & GS_NUM ? "number" : t & GS_STR ? "string" : t & GS_OBJ ? "object"
         : t & GS_ARR ? "array" : t & GS_BOOL ? "boolean" : "null";
}

static void type_list(unsigned t, char *out, size_t cap) {
  static const char *const names[] = {"null", "boolean", "object", "array", "number", "integer", "string"};
  size_t len = 0;
  out[0] = 0;
  for (unsigned i = 0; i < 7; i++)
    if (t & (1u << i)) len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s", len ? " or " : "", names[i]);
}

/* A value as short JSON for messages. */
static void show(const cJSON *x, char *out, size_t cap) {
  char *p = cJSON_PrintUnformatted(x);
  snprintf(out, cap, "%s", p ? p : "?");
  if (p && strlen(p) >= cap && cap > 4) memcpy(out + cap - 4, "...", 4);
  cJSON_free(p);
}

/* ---- equality and hashing (enum, const, uniqueItems): numbers compare by value ---- */

static bool budget(vctx *v) {
  if (++v->steps <= MAX_STEPS) return true;
  v->exhausted = true;
  return false;
}

static bool equal(vctx *v, const cJSON *a, const cJSON *b) {
  if (!budget(v)) return false;
  if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble == b->valuedouble;
  if ((a->type & 0xFF) != (b->type & 0xFF)) return false;
  if (cJSON_IsString(a)) return strcmp(a->valuestring, b->valuestring) == 0;
  if (cJSON_IsArray(a)) {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
      if (!equal(v, x, y)) return false;
    return !x && !y;
  }
  if (cJSON_IsObject(a)) {
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return false;
    for (const cJSON *x = a->child; x; x = x->next) {
      const cJSON *y = b->child;
      while (y && (!budget(v) || strcmp(x->string, y->string) != 0)) y = v->exhausted ? NULL : y->next;
      if (!y || !equal(v, x, y)) return false;
    }
  }
  return true;  /* null, true, false */
}

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h;
}

/* Equal values hash equally: object members are combined order-independently. */
static uint64_t hash(const cJSON *x) {
  if (cJSON_IsNumber(x)) {
    double d = x->valuedouble == 0 ? 0 : x->valuedouble;  /* -0 == 0 */
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return mix(u ^ 1);
  }
  if (cJSON_IsString(x)) return mix(hash_str(x->valuestring) ^ 2);
  uint64_t h = (uint64_t)(x->type & 0xFF) * 0x9E3779B97F4A7C15ull;
  if (cJSON_IsArray(x))
    for (const cJSON *c = x->child; c; c = c->next) h = mix(h * 31 + hash(c));
  else if (cJSON_IsObject(x))
    for (const cJSON *c = x->child; c; c = c->next) h += mix(hash_str(c->string) * 31 + hash(c));
  return h;
}

typedef struct hitem {
  uint64_t h;
  size_t i;
  const cJSON *x;
} hitem;

static int cmp_hitem(const void *a, const void *b) {
  const hitem *x = a, *y = b;
  if (x->h != y->h) return x->h < y->h ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Sorts items by hash and compares only those that collide: O(n log n), not O(n^2). */
static bool unique(vctx *v, const cJSON *arr, const gs_path *p) {
  size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
  if (n < 2) return true;
  if (n <= 8) { /* small arrays: all pairs is cheaper than hashing */
    size_t a = 0;
    for (const cJSON *x = arr->child; x; x = x->next, a++) {
      size_t b = a + 1;
      for (const cJSON *y = x->next; y; y = y->next, b++)
        if (equal(v, x, y)) return fail(v, p, "uniqueItems", "array items must be unique: items %zu and %zu are equal", a, b);
    }
    return v->exhausted ? fail(v, p, "limit", "validation exceeds the work limit") : true;
  }
  hitem *h = malloc(n * sizeof *h);
  if (!h) abort();
  for (const cJSON *c = arr->child; c; c = c->next, i++) h[i] = (hitem){hash(c), i, c};
  v->steps += n;
  qsort(h, n, sizeof *h, cmp_hitem);
  size_t da = 0, db = 0;
  bool dup = false;
  for (size_t a = 0; a < n && !dup && !v->exhausted; a++)
    for (size_t b = a + 1; b < n && h[b].h == h[a].h && !dup; b++)
      if (equal(v, h[a].x, h[b].x)) dup = true, da = h[a].i, db = h[b].i;
  free(h);
  if (v->exhausted) return fail(v, p, "limit", "validation exceeds the work limit");
  if (dup) return fail(v, p, "uniqueItems", "array items must be unique: items %zu and %zu are equal", da, db);
  return true;
}

/* ---- keywords by instance type ---- */

/* 1 match, 0 no match, -1 could not decide (match limit, invalid UTF-8).  Matching is charged
 * to the budget by length, and a match that hits PCRE2's limit costs a twentieth of it, so
 * hostile patterns inside anyOf branches cannot multiply their cost. */
static int re_match(vctx *v, const pcre2_code *re, const char *s) {
  if (!v->md) {
    v->md = pcre2_match_data_create(1, NULL);
    if (!v->md) abort();
  }
  size_t n = strlen(s);
  v->steps += n / 16;
  int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, v->md, v->s->mcx);
  if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) v->steps += MAX_STEPS / 20;
  return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

static size_t codepoints(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static bool v_string(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p) {
  const char *s = x->valuestring;
  if (n->min_len >= 0 || n->max_len >= 0) {
    size_t cp = codepoints(s);
    if (n->min_len >= 0 && cp < (size_t)n->min_len)
      return fail(v, p, "minLength", "string must be at least %ld characters long (got %zu)", n->min_len, cp);
    if (n->max_len >= 0 && cp > (size_t)n->max_len)
      return fail(v, p, "maxLength", "string must be at most %ld characters long (got %zu)", n->max_len, cp);
  }
  if (n->pattern) {
    int m = re_match(v, n->pattern, s);
    if (m < 0) return fail(v, p, "pattern", "string could not be matched against pattern %.200s", n->pattern_src);
    if (!m) return fail(v, p, "pattern", "string must match the pattern %.300s", n->pattern_src);
  }
  if (n->format && !guard_schema_format_ok(n->format, s))
    return fail(v, p, "format", "string is not a valid %s", n->format_name);
  return true;
}

static bool v_number(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p) {
  double d = x->valuedouble;
  if ((n->num & GS_MIN) && !(d >= n->min)) return fail(v, p, "minimum", "must be >= %.15g (got %.15g)", n->min, d);
  if ((n->num & GS_MAX) && !(d <= n->max)) return fail(v, p, "maximum", "must be <= %.15g (got %.15g)", n->max, d);
  if ((n->num & GS_XMIN) && !(d > n->xmin))
    return fail(v, p, "exclusiveMinimum", "must be > %.15g (got %.15g)", n->xmin, d);
  if ((n->num & GS_XMAX) && !(d < n->xmax))
    return fail(v, p, "exclusiveMaximum", "must be < %.15g (got %.15g)", n->xmax, d);
  if (n->num & GS_MULT) {
    double q = d / n->mult;  /* 0.3 / 0.1 = 2.9999999999999996: allow rounding error */
    bool ok = isfinite(q) ? fabs(q - round(q)) <= 1e-9 * fmax(1, fabs(q)) : false;
    if (!ok) return fail(v, p, "multipleOf", "must be a multiple of %.15g (got %.15g)", n->mult, d);
  }
  return true;
}

static bool v_object(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p) {
  long cnt = cJSON_GetArraySize(x);
  if (n->min_props >= 0 && cnt < n->min_props)
    return fail(v, p, "minProperties", "object must have at least %ld properties (got %ld)", n->min_props, cnt);
  if (n->max_props >= 0 && cnt > n->max_props)
    return fail(v, p, "maxProperties", "object must have at most %ld properties (got %ld)", n->max_props, cnt);
  for (const cJSON *r = n->required; r; r = r->next)
    if (!cJSON_GetObjectItemCaseSensitive(x, r->valuestring))
      return fail(v, p, "required", "missing required property \"%.200s\"", r->valuestring);
  for (const cJSON *d = n->dep_required; d; d = d->next) {
    if (!cJSON_GetObjectItemCaseSensitive(x, d->string)) continue;
    for (const cJSON *r = d->child; r; r = r->next)
      if (!cJSON_GetObjectItemCaseSensitive(x, r->valuestring))
        return fail(v, p, "dependentRequired", "property \"%.150s\" is required when \"%.150s\" is present",
                    r->valuestring, d->string);
  }
  for (const cJSON *m = x->child; m; m = m->next) {
    gs_path sub = {p, m->string, 0, p->depth + 1};
    bool matched = false;
    for (size_t i = 0; i < n->nprops; i++) {
      if (strcmp(n->props[i].name, m->string) != 0) continue;
      matched = true;
      if (!validate(v, n->props[i].s, m, &sub)) return false;
      break;
    }
    for (size_t i = 0; i < n->npprops; i++) {
      int r = re_match(v, n->pprops[i].re, m->string);
      if (r < 0) return fail(v, &sub, "patternProperties", "property name could not be matched against %.200s",
                             n->pprops[i].name);
      if (!r) continue;
      matched = true;
      if (!validate(v, n->pprops[i].s, m, &sub)) return false;
    }
    if (!matched && n->addl) {
      if (n->addl->boolean == GS_FALSE)
        return fail(v, p, "additionalProperties", "property \"%.200s\" is not allowed (no additional properties)",
                    m->string);
      if (!validate(v, n->addl, m, &sub)) return false;
    }
    if (n->names) {
      cJSON name = {0};
      name.type = cJSON_String;
      name.valuestring = m->string;
      if (!validate(v, n->names, &name, &sub)) return false;
    }
  }
  return true;
}

static bool v_array(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p) {
  long cnt = cJSON_GetArraySize(x);
  if (n->min_items >= 0 && cnt < n->min_items)
    return fail(v, p, "minItems", "array must have at least %ld items (got %ld)", n->min_items, cnt);
  if (n->max_items >= 0 && cnt > n->max_items)
    return fail(v, p, "maxItems", "array must have at most %ld items (got %ld)", n->max_items, cnt);
  size_t i = 0;
  long contained = 0;
  for (const cJSON *c = x->child; c; c = c->next, i++) {
    gs_path sub = {p, NULL, i, p->depth + 1};
    const gs_node *s = i < n->nprefix ? n->prefix[i] : n->items;
    if (s && !validate(v, s, c, &sub)) return false;
    if (n->contains) {
      v->quiet++;
      contained += validate(v, n->contains, c, &sub);
      v->quiet--;
      if (v->exhausted) return fail(v, p, "limit", "validation exceeds the work limit");
    }
  }
  if (n->contains) {
    long lo = n->min_contains >= 0 ? n->min_contains : 1;
    if (contained < lo)
      return fail(v, p, lo == 1 ? "contains" : "minContains", "array must contain at least %ld matching item%s (got %ld)",
                  lo, lo == 1 ? "" : "s", contained);
    if (n->max_contains >= 0 && contained > n->max_contains)
      return fail(v, p, "maxContains", "array must contain at most %ld matching items (got %ld)", n->max_contains,
                  contained);
  }
  return n->unique ? unique(v, x, p) : true;
}

/* ---- applicators ---- */

/* Quietly runs s on x; true if it passes.  *score rates how far a failure got. */
static bool try_branch(vctx *v, const gs_node *s, const cJSON *x, const gs_path *p, int *score) {
  v->quiet++;
  bool ok = validate(v, s, x, p);
  v->quiet--;
  if (!ok) *score = 2 * (v->last_depth - p->depth) + (strcmp(v->last_kw, "type") != 0);
  return ok;
}

/* No branch of anyOf/oneOf matched: report the best branch's error, or all of them.  (Heap
 * buffers: this recurses when branches nest, and stack frames must stay small.) */
static bool no_branch(vctx *v, const char *kw, gs_node *const *br, size_t nb, const int *score, const cJSON *x,
                      const gs_path *p) {
  if (v->exhausted) return fail(v, p, "limit", "validation exceeds the work limit");
  if (v->quiet || !v->e) return fail(v, p, kw, "no alternative matches");
  size_t best = 0, nbest = 0;
  for (size_t i = 0; i < nb; i++) {
    if (score[i] > score[best]) best = i, nbest = 0;
    if (score[i] == score[best]) nbest++;
  }
  if (nbest == 1 && score[best] > 0) {
    if (!validate(v, br[best], x, p)) return false;
    return fail(v, p, kw, "no alternative matches");  /* not reached: validation is deterministic */
  }
  size_t cap = sizeof v->e->message, len;
  char *msg = malloc(cap);
  guard_schema_error *saved = v->e, *tmp = malloc(sizeof *tmp);
  if (!msg || !tmp) abort();
  len = (size_t)snprintf(msg, cap, "value matches none of the %s alternatives:", kw);
  v->e = tmp;
  for (size_t i = 0; i < nb && len < cap; i++) {
    tmp->path[0] = 0;
    snprintf(tmp->message, sizeof tmp->message, "?");
    validate(v, br[i], x, p);
    len += (size_t)snprintf(msg + len, cap - len, " (%zu) %s%s%s;", i + 1, tmp->path, tmp->path[0] ? ": " : "",
                            tmp->message);
  }
  v->e = saved;
  if (len >= cap) memcpy(msg + cap - 4, "...", 4);
  else if (msg[len - 1] == ';') msg[len - 1] = 0;
  fail(v, p, kw, "%s", msg);
  free(msg);
  free(tmp);
  return false;
}

static bool v_applicators(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p) {
  for (size_t i = 0; i < n->nall; i++)
    if (!validate(v, n->all[i], x, p)) return false;
  if (n->nany || n->none) {
    size_t nb = n->nany > n->none ? n->nany : n->none;
    int *score = malloc(nb * sizeof *score);
    if (!score) abort();
    bool ok = true;
    if (n->nany) {
      ok = false;
      for (size_t i = 0; i < n->nany && !ok && !v->exhausted; i++) ok = try_branch(v, n->any[i], x, p, &score[i]);
      if (!ok) ok = no_branch(v, "anyOf", n->any, n->nany, score, x, p);
    }
    if (ok && n->none) {
      size_t first = 0, matches = 0;
      for (size_t i = 0; i < n->none && !v->exhausted; i++) {
        if (!try_branch(v, n->one[i], x, p, &score[i])) continue;
        if (matches++ == 0) {
          first = i;
          continue;
        }
        free(score);
        return fail(v, p, "oneOf", "value matches more than one oneOf alternative (%zu and %zu); exactly one must match",
                    first + 1, i + 1);
      }
      if (!matches || v->exhausted) ok = no_branch(v, "oneOf", n->one, n->none, score, x, p);
    }
    free(score);
    if (!ok) return false;
  }
  if (n->not_) {
    int score = 0;
    if (try_branch(v, n->not_, x, p, &score)) return fail(v, p, "not", "value must not match the schema in \"not\"");
    if (v->exhausted) return fail(v, p, "limit", "validation exceeds the work limit");
  }
  if (n->if_) {
    int score = 0;
    bool cond = try_branch(v, n->if_, x, p, &score);
    if (v->exhausted) return fail(v, p, "limit", "validation exceeds the work limit");
    const gs_node *branch = cond ? n->then_ : n->else_;
    if (branch && !validate(v, branch, x, p)) return false;
  }
  return true;
}

/* Message builders with big buffers stay out of validate's (recursive) frame. */
static __attribute__((noinline)) bool fail_type(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p) {
  char want[80];
  type_list(n->types, want, sizeof want);
  return fail(v, p, "type", "expected %s, got %s", want, kind(x));
}

static __attribute__((noinline)) bool fail_value(vctx *v, const gs_path *p, const char *kw, const cJSON *want) {
  char s[400];
  show(want, s, sizeof s);
  return fail(v, p, kw, kw[0] == 'c' ? "value must be %s" : "value must be one of %s", s);
}

static bool validate(vctx *v, const gs_node *n, const cJSON *x, const gs_path *p) {
  if (!budget(v) || v->depth >= MAX_EVAL_DEPTH) {
    v->exhausted = true;
    return fail(v, p, "limit", "validation exceeds the work or depth limit");
  }
  if (n->boolean == GS_TRUE) return true;
  if (n->boolean == GS_FALSE) return fail(v, p, "false", "no value is allowed here");
  unsigned t = type_of(x);
  if (n->types && !(n->types & t)) return fail_type(v, n, x, p);
  v->depth++;
  bool ok = !n->ref || validate(v, n->ref, x, p);
  if (ok && n->cnst && !equal(v, n->cnst, x)) ok = fail_value(v, p, "const", n->cnst);
  if (ok && n->enm) {
    bool found = false;
    for (const cJSON *e = n->enm->child; e && !found && !v->exhausted; e = e->next) found = equal(v, e, x);
    if (!found) ok = fail_value(v, p, "enum", n->enm);
  }
  if (ok && (t & GS_STR)) ok = v_string(v, n, x, p);
  if (ok && (t & GS_NUM)) ok = v_number(v, n, x, p);
  if (ok && (t & GS_OBJ)) ok = v_object(v, n, x, p);
  if (ok && (t & GS_ARR)) ok = v_array(v, n, x, p);
  if (ok) ok = v_applicators(v, n, x, p);
  v->depth--;
  return ok;
}

bool guard_schema_validate(const guard_schema *s, const cJSON *instance, guard_schema_error *e) {
  if (e) {
    e->keyword = NULL;
    e->path[0] = e->message[0] = 0;
  }
  vctx v = {.s = s, .e = e};
  gs_path root = {NULL, NULL, 0, 0};
  bool ok = instance ? validate(&v, s->root, instance, &root) : fail(&v, &root, "type", "no value");
  if (v.exhausted) /* a branch cut short may have let a value through: never pass then */
    ok = fail(&v, &root, "limit", "validation exceeds the work or depth limit");
  pcre2_match_data_free(v.md);
  return ok;
}

/* ---- formats: strict where the grammar is small (dates, uuid, ip), loose elsewhere ---- */

static bool digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* RFC 3339 full-date: YYYY-MM-DD with a real day of that month. */
static bool f_date(const char *s, size_t n) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, m, d;
  if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
    return false;
  if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return false;
  return !(m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); second 60 (leap) allowed. */
static bool f_time(const char *s, size_t n) {
  int h, m, sec, oh, om;
  if (n < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &m) || !digits(s + 6, 2, &sec))
    return false;
  if (h > 23 || m > 59 || sec > 60) return false;
  size_t i = 8;
  if (s[i] == '.') {
    size_t f = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == f) return false;
  }
  if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) return true;
  return i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' && digits(s + i + 1, 2, &oh) &&
         digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59;
}

static bool f_datetime(const char *s, size_t n) {
  return n > 11 && (s[10] == 'T' || s[10] == 't') && f_date(s, 10) && f_time(s + 11, n - 11);
}

static bool ldh(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'; }

/* RFC 1123 host name: dot-separated labels of 1-63 letters, digits, hyphens (not at the ends). */
static bool f_hostname(const char *s, size_t n) {
  if (!n || n > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      if (!label || label > 63 || s[i - 1] == '-' || s[i - label] == '-') return false;
      label = 0;
    } else if (!ldh(s[i])) {
      return false;
    } else {
      label++;
    }
  }
  return true;
}

/* Loose: one '@', a local part without spaces, quotes or leading/trailing/double dots, and a
 * host name or bracketed address literal.  (Full RFC 5322 is rarely what a schema author means.) */
static bool f_email(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  if (!at || at == s || memchr(at + 1, '@', n - (size_t)(at - s) - 1)) return false;
  size_t ll = (size_t)(at - s), dl = n - ll - 1;
  if (ll > 64 || s[0] == '.' || at[-1] == '.') return false;
  for (size_t i = 0; i < ll; i++)
    if ((unsigned char)s[i] <= ' ' || strchr("\"(),:;<>[\\]", s[i]) || (s[i] == '.' && s[i + 1] == '.')) return false;
  if (dl > 2 && at[1] == '[' && s[n - 1] == ']') return true;
  return f_hostname(at + 1, dl);
}

static bool f_uuid(const char *s, size_t n) {
  if (n != 36) return false;
  for (size_t i = 0; i < n; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = s[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

/* Loose RFC 3986 absolute URI: scheme ":" then no spaces, controls or characters URIs never
 * carry unescaped. */
static bool f_uri(const char *s, size_t n) {
  size_t i = 0;
  if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  while (i < n && (ldh(s[i]) || s[i] == '+' || s[i] == '.')) i++;
  if (i == n || s[i] != ':') return false;
  for (i++; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c >= 0x7f || strchr("\"<>\\^`{|}", c)) return false;
    if (c == '%' && !(i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2]))) return false;
  }
  return true;
}

bool guard_schema_format_ok(int format, const char *s) {
  size_t n = strlen(s);
  unsigned char buf[16];
  switch (format) {
  case GS_F_DATETIME: return f_datetime(s, n);
  case GS_F_DATE: return f_date(s, n);
  case GS_F_TIME: return f_time(s, n);
  case GS_F_EMAIL: return f_email(s, n);
  case GS_F_UUID: return f_uuid(s, n);
  case GS_F_URI: return f_uri(s, n);
  case GS_F_IPV4: return inet_pton(AF_INET, s, buf) == 1;
  case GS_F_IPV6: return inet_pton(AF_INET6, s, buf) == 1;
  case GS_F_HOSTNAME: return f_hostname(s, n);
  }
  return true;
}
