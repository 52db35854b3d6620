/* prices.c: the price table and cost = buckets x prices.
 *
 * Format: Langfuse's model price list (data/prices.json, embedded in the binary), so users
 * can paste Langfuse model definitions unchanged.  Each model has a `matchPattern` regex
 * (PCRE2, JIT-compiled at load; a leading "(?i)" becomes PCRE2_CASELESS) and `pricingTiers`:
 * one default tier plus conditional tiers.  Langfuse evaluates conditional tiers in ascending
 * `priority` (1 before 2: the lower number is the higher priority); the first whose
 * conditions all hold wins, else the default.  Conditions are either
 *   {usageDetailPattern, operator gt|gte|lt|lte|eq|neq, value}: sum of the usage keys whose
 *     name matches the regex, compared to value; or
 *   {source:"model_parameters"|"metadata", key, operator in|not_in, values}: request params.
 *
 * Usage keys.  keel's buckets are exposed to usage conditions under the names Langfuse uses
 * (input; input_cached_tokens/input_cache_read/cache_read_input_tokens; input_cache_creation/
 * cache_write_tokens/cache_write; output; output_reasoning/...): a bucket counts once if ANY
 * of its names matches.  The names are fixed, so each condition's bucket mask is computed at
 * load and no regex runs when pricing a request.
 *
 * Prices per bucket come from the first Langfuse key present (see the alias lists below);
 * missing cache-read / cache-write prices fall back to the input price and a missing
 * reasoning price to the output price; models priced only by "total" (old completions,
 * embeddings) use it for every bucket.
 *
 * Name resolution.  Matching a name against all 167 patterns costs about 15 us even with JIT
 * (measured, -O2), too much per request, so resolutions (including "no match") are cached per
 * thread in a small 2-way set-associative table (64 sets, ~12 KB of TLS) keyed by (table id,
 * name); a hit is one hash and one strcmp (~0.04 us).  Table ids are never reused, so a freed
 * table's entries are just dead weight that gets evicted.
 * Names longer than the slot are simply not cached.  Several patterns could match one name;
 * the first model in file order wins (the shipped table has no overlaps; checked by
 * expanding every finite pattern).  Overrides (exact names) are checked before the table.
 *
 * Effective dates.  Prices change; a call is priced with the price in effect when it
 * started.  A table model or tier may carry "effectiveFrom" (also "effective_from", or
 * Langfuse's "startDate"); undated means "always".  Models sharing one matchPattern string
 * are versions of each other: the newest version whose date is <= the call's time wins (the
 * versions are linked at load, so resolution stays one cached lookup plus a short walk).
 * Within a model, several default tiers may exist if their dates differ (the newest in
 * effect wins) and a dated conditional tier is skipped before its date.  Nothing in effect
 * means no price (-1), never a stale or future one.  Overrides work the same way per name.
 * The shipped Langfuse data has no dates, so it behaves exactly as an undated table. */
#include "llm/kl_llm.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

enum { B_INPUT, B_CACHED, B_WRITE, B_OUTPUT, B_REASON, B_N };
static const char *const bucket_json[B_N] = {"input", "input_cached", "input_cache_write", "output",
                                              "output_reasoning"};
/* Langfuse price keys per bucket, in order of preference. */
static const char *const price_keys[B_N][6] = {
    {"input", "input_tokens", "input_text_tokens", "input_text", NULL},
    {"input_cache_read", "input_cached_tokens", "cache_read_input_tokens", "input_cached_text_tokens", NULL},
    {"input_cache_creation", "cache_creation_input_tokens", "cache_write_tokens", "input_cache_creation_5m", NULL},
    {"output", "output_tokens", "output_text_tokens", "output_text", NULL},
    {"output_reasoning", "output_reasoning_tokens", "reasoning_tokens", NULL},
};
/* Names under which each bucket is visible to usageDetailPattern conditions. */
static const char *const usage_names[B_N][5] = {
    {"input", NULL},
    {"input_cached_tokens", "input_cache_read", "cache_read_input_tokens", NULL},
    {"input_cache_creation", "cache_write_tokens", "cache_write", "cache_creation_input_tokens", NULL},
    {"output", NULL},
    {"output_reasoning", "output_reasoning_tokens", "reasoning_tokens", NULL},
};

typedef enum { OP_GT, OP_GTE, OP_LT, OP_LTE, OP_EQ, OP_NEQ, OP_IN, OP_NOT_IN } cond_op;

typedef struct cond {
  bool is_param;        /* model_parameters condition (else usage) */
  bool never;           /* a source keel cannot evaluate (metadata): never holds */
  cond_op op;
  unsigned mask;        /* usage: buckets whose names match the pattern */
  double value;
  char *key;
  char **values;
  size_t nvalues;
} cond;

typedef struct tier {
  int priority;
  int64_t from;         /* effective from (unix ns); 0 = always */
  cond *conds;
  size_t nconds;
  kl_price price;       /* raw: -1 where the table has no price */
} tier;

typedef struct model {
  char *name;
  char *pattern;
  pcre2_code *re;
  int64_t from;         /* effective from (unix ns); 0 = always */
  int next_version;     /* next model with the same pattern, -1 = none */
  tier *dflts;          /* default tiers, newest first (usually one, undated) */
  size_t ndflts;
  tier *tiers;          /* conditional tiers, sorted by ascending priority */
  size_t ntiers;
} model;

typedef struct override {
  char *name;
  int64_t from;
  kl_price price;
} override;

struct kl_prices {
  uint64_t id;          /* unique per load: keys the per-thread cache */
  model *models;
  size_t nmodels;
  override *ovr;
  size_t novr;
};

static _Atomic uint64_t next_table_id = 1;

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) abort();
  return p;
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) abort();
  return p;
}

/* Compiles a Langfuse regex; "(?i)" prefixes become PCRE2_CASELESS.  NULL + err on failure. */
static pcre2_code *compile_re(const char *pat, bool caseless, const char *what, kl_err *err) {
  uint32_t opts = PCRE2_UTF | PCRE2_NO_UTF_CHECK;
  if (strncmp(pat, "(?i)", 4) == 0) {
    pat += 4;
    caseless = true;
  }
  if (caseless) opts |= PCRE2_CASELESS;
  int ec;
  PCRE2_SIZE off;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
  if (!re) {
    PCRE2_UCHAR msg[128];
    pcre2_get_error_message(ec, msg, sizeof msg);
    kl_err_set(err, 400, "%s: bad regex at offset %zu: %s", what, (size_t)off, (char *)msg);
    return NULL;
  }
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
  return re;
}

static bool re_match(const pcre2_code *re, const char *s, pcre2_match_data *md) {
  return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) >= 0;
}

static void tier_free(tier *t) {
  for (size_t i = 0; i < t->nconds; i++) {
    cond *c = &t->conds[i];
    free(c->key);
    for (size_t j = 0; j < c->nvalues; j++) free(c->values[j]);
    free(c->values);
  }
  free(t->conds);
}

void kl_prices_free(kl_prices *p) {
  if (!p) return;
  for (size_t i = 0; i < p->nmodels; i++) {
    model *m = &p->models[i];
    free(m->name);
    free(m->pattern);
    pcre2_code_free(m->re);
    for (size_t j = 0; j < m->ndflts; j++) tier_free(&m->dflts[j]);
    free(m->dflts);
    for (size_t j = 0; j < m->ntiers; j++) tier_free(&m->tiers[j]);
    free(m->tiers);
  }
  free(p->models);
  for (size_t i = 0; i < p->novr; i++) free(p->ovr[i].name);
  free(p->ovr);
  free(p);
}

static double price_of(const cJSON *prices, const char *const *keys) {
  for (; *keys; keys++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(prices, *keys);
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0) return v->valuedouble;
  }
  return -1;
}

static void parse_prices(const cJSON *prices, kl_price *out) {
  double b[B_N];
  for (int i = 0; i < B_N; i++) b[i] = price_of(prices, price_keys[i]);
  static const char *const total_key[] = {"total", NULL};
  double total = price_of(prices, total_key);
  if (total >= 0 && b[B_INPUT] < 0 && b[B_OUTPUT] < 0) b[B_INPUT] = b[B_OUTPUT] = total;
  *out = (kl_price){b[B_INPUT], b[B_CACHED], b[B_WRITE], b[B_OUTPUT], b[B_REASON]};
}

static int parse_op(const char *s, cond_op *op) {
  static const struct { const char *n; cond_op op; } ops[] = {
      {"gt", OP_GT}, {"gte", OP_GTE}, {"lt", OP_LT}, {"lte", OP_LTE}, {"eq", OP_EQ},
      {"neq", OP_NEQ}, {"ne", OP_NEQ}, {"in", OP_IN}, {"not_in", OP_NOT_IN}, {"nin", OP_NOT_IN}};
  for (size_t i = 0; s && i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(s, ops[i].n) == 0) return *op = ops[i].op, 0;
  return -1;
}

static int parse_cond(const cJSON *j, cond *c, const char *where, pcre2_match_data *md, kl_err *err) {
  if (!cJSON_IsObject(j)) return kl_err_set(err, 400, "%s: condition must be an object", where), -1;
  const char *opname = kl_json_str(j, "operator");
  if (parse_op(opname, &c->op) < 0)
    return kl_err_set(err, 400, "%s: unknown operator '%s'", where, opname ? opname : "(missing)"), -1;
  const char *pat = kl_json_str(j, "usageDetailPattern");
  if (pat) {
    if (c->op == OP_IN || c->op == OP_NOT_IN)
      return kl_err_set(err, 400, "%s: operator '%s' needs model parameters", where, opname), -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
    if (!cJSON_IsNumber(v)) return kl_err_set(err, 400, "%s: 'value' must be a number", where), -1;
    c->value = v->valuedouble;
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(j, "caseSensitive");
    pcre2_code *re = compile_re(pat, !cJSON_IsTrue(cs), where, err);
    if (!re) return -1;
    for (int b = 0; b < B_N; b++)
      for (const char *const *n = usage_names[b]; *n; n++)
        if (re_match(re, *n, md)) c->mask |= 1u << b;
    pcre2_code_free(re);
    return 0;
  }
  const char *src = kl_json_str(j, "source");
  const char *key = kl_json_str(j, "key");
  const cJSON *vals = cJSON_GetObjectItemCaseSensitive(j, "values");
  if (!src || !key || !cJSON_IsArray(vals) || (c->op != OP_IN && c->op != OP_NOT_IN))
    return kl_err_set(err, 400, "%s: expected {usageDetailPattern, operator, value} or "
                                "{source, key, operator: in, values}", where), -1;
  c->is_param = true;
  c->never = strcmp(src, "model_parameters") != 0;
  c->key = xstrdup(key);
  c->values = xcalloc((size_t)cJSON_GetArraySize(vals), sizeof(char *));
  const cJSON *v;
  cJSON_ArrayForEach(v, vals) if (cJSON_IsString(v)) c->values[c->nvalues++] = xstrdup(v->valuestring);
  return 0;
}

/* The optional effective date of a model or tier into *out (0 when absent).  -1 on a bad one. */
static int parse_from(const cJSON *j, int64_t *out, const char *where, kl_err *err) {
  static const char *const keys[] = {"effectiveFrom", "effective_from", "startDate"};
  *out = 0;
  for (size_t i = 0; i < 3; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
    if (!v || cJSON_IsNull(v)) continue;
    int64_t t = cJSON_IsString(v) ? kl_time_parse(v->valuestring) : -1;
    if (t < 0) return kl_err_set(err, 400, "%s: '%s' must be a date (YYYY-MM-DD or RFC 3339)", where, keys[i]), -1;
    *out = t;
    return 0;
  }
  return 0;
}

static int parse_tier(const cJSON *j, tier *t, const char *where, pcre2_match_data *md, kl_err *err) {
  const cJSON *prices = cJSON_GetObjectItemCaseSensitive(j, "prices");
  if (!cJSON_IsObject(prices)) return kl_err_set(err, 400, "%s: 'prices' must be an object", where), -1;
  parse_prices(prices, &t->price);
  if (parse_from(j, &t->from, where, err) < 0) return -1;
  t->priority = (int)kl_json_int(j, "priority", 0);
  const cJSON *conds = cJSON_GetObjectItemCaseSensitive(j, "conditions");
  if (conds && !cJSON_IsArray(conds)) return kl_err_set(err, 400, "%s: 'conditions' must be an array", where), -1;
  int n = cJSON_GetArraySize(conds);
  t->conds = xcalloc((size_t)n, sizeof(cond));
  const cJSON *c;
  cJSON_ArrayForEach(c, conds) {
    if (parse_cond(c, &t->conds[t->nconds], where, md, err) < 0) return -1;
    t->nconds++;
  }
  return 0;
}

static int tier_cmp(const void *a, const void *b) {
  const tier *x = a, *y = b;
  return (x->priority > y->priority) - (x->priority < y->priority);
}

static int newest_first(const void *a, const void *b) {
  const tier *x = a, *y = b;
  return (x->from < y->from) - (x->from > y->from);
}

static int parse_model(const cJSON *j, model *m, size_t idx, pcre2_match_data *md, kl_err *err) {
  char where[160];
  const char *name = kl_json_str(j, "modelName");
  snprintf(where, sizeof where, "prices[%zu] (%s)", idx, name ? name : "?");
  const char *pat = kl_json_str(j, "matchPattern");
  if (!cJSON_IsObject(j) || !name || !pat)
    return kl_err_set(err, 400, "%s: modelName and matchPattern are required strings", where), -1;
  m->name = xstrdup(name);
  m->pattern = xstrdup(pat);
  m->next_version = -1;
  if (!(m->re = compile_re(pat, false, where, err))) return -1;
  if (parse_from(j, &m->from, where, err) < 0) return -1;
  const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(j, "pricingTiers");
  if (!cJSON_IsArray(tiers)) {
    m->dflts = xcalloc(1, sizeof(tier));
    m->ndflts = 1;
    m->dflts[0].price = (kl_price){-1, -1, -1, -1, -1};
    /* older flat format: prices (or inputPrice/outputPrice/totalPrice) on the model itself */
    const cJSON *prices = cJSON_GetObjectItemCaseSensitive(j, "prices");
    if (cJSON_IsObject(prices)) {
      parse_prices(prices, &m->dflts[0].price);
    } else {
      static const char *const ik[] = {"inputPrice", NULL}, *const ok[] = {"outputPrice", NULL},
                               *const tk[] = {"totalPrice", NULL};
      double in = price_of(j, ik), out = price_of(j, ok), tot = price_of(j, tk);
      if (in < 0 && out < 0) in = out = tot;
      m->dflts[0].price = (kl_price){in, -1, -1, out, -1};
    }
    return 0;
  }
  size_t n = (size_t)cJSON_GetArraySize(tiers);
  m->tiers = xcalloc(n, sizeof(tier));
  m->dflts = xcalloc(n, sizeof(tier));
  const cJSON *t;
  cJSON_ArrayForEach(t, tiers) {
    if (!cJSON_IsObject(t)) return kl_err_set(err, 400, "%s: pricing tier must be an object", where), -1;
    bool is_default = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "isDefault"));
    tier *nt = is_default ? &m->dflts[m->ndflts++] : &m->tiers[m->ntiers++];
    if (parse_tier(t, nt, where, md, err) < 0) return -1;
    /* several defaults are versions of one price: each needs its own date */
    for (size_t i = 0; is_default && i + 1 < m->ndflts; i++)
      if (m->dflts[i].from == nt->from)
        return kl_err_set(err, 400, "%s: more than one default tier with the same effective date", where), -1;
  }
  if (!m->ndflts) return kl_err_set(err, 400, "%s: no default pricing tier", where), -1;
  qsort(m->tiers, m->ntiers, sizeof(tier), tier_cmp);
  qsort(m->dflts, m->ndflts, sizeof(tier), newest_first);
  return 0;
}

kl_prices *kl_prices_load(const char *json, size_t len, kl_err *err) {
  cJSON *root = kl_json_parse(json, len, err);
  if (!root) return NULL;
  if (!cJSON_IsArray(root)) {
    cJSON_Delete(root);
    kl_err_set(err, 400, "price table: expected a JSON array of models");
    return NULL;
  }
  kl_prices *p = xcalloc(1, sizeof *p);
  p->id = atomic_fetch_add(&next_table_id, 1);
  p->models = xcalloc((size_t)cJSON_GetArraySize(root), sizeof(model));
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  if (!md) abort();
  const cJSON *m;
  size_t idx = 0;
  int rc = 0;
  cJSON_ArrayForEach(m, root) {
    rc = parse_model(m, &p->models[p->nmodels], idx++, md, err);
    p->nmodels++; /* count it even on failure so kl_prices_free releases what was parsed */
    if (rc < 0) break;
  }
  pcre2_match_data_free(md);
  cJSON_Delete(root);
  if (rc < 0) {
    kl_prices_free(p);
    return NULL;
  }
  /* link the versions of each pattern (n^2 string compares over ~170 models, once) */
  for (size_t i = 0; i < p->nmodels; i++)
    for (size_t j = i + 1; j < p->nmodels; j++)
      if (!strcmp(p->models[i].pattern, p->models[j].pattern)) {
        p->models[i].next_version = (int)j;
        break;
      }
  return p;
}

kl_prices *kl_prices_load_default(kl_err *err) {
  return kl_prices_load((const char *)kl_embed_prices, kl_embed_prices_len, err);
}

void kl_prices_override_at(kl_prices *p, const char *model, int64_t effective_from_ns, const kl_price *price) {
  if (!p || !model || !price) return;
  if (effective_from_ns < 0) effective_from_ns = 0;
  for (size_t i = 0; i < p->novr; i++)
    if (strcmp(p->ovr[i].name, model) == 0 && p->ovr[i].from == effective_from_ns) {
      p->ovr[i].price = *price;
      return;
    }
  override *n = realloc(p->ovr, (p->novr + 1) * sizeof *n);
  if (!n) abort();
  p->ovr = n;
  p->ovr[p->novr++] = (override){xstrdup(model), effective_from_ns, *price};
}

void kl_prices_override(kl_prices *p, const char *model, const kl_price *price) {
  kl_prices_override_at(p, model, 0, price);
}

const char *kl_cost_source_name(kl_cost_source s) {
  switch (s) {
    case KL_COST_TABLE: return "table";
    case KL_COST_CONFIG: return "config";
    case KL_COST_UPSTREAM: return "upstream";
    default: return "none";
  }
}

/* ---- per-thread resolution cache ---- */
#define CACHE_SETS 64
#define CACHE_NAME 72
typedef struct cache_ent {
  uint64_t table;  /* 0 = empty */
  uint32_t hash;
  int32_t idx;     /* model index or -1 for "no model matches" */
  char name[CACHE_NAME];
} cache_ent;
static _Thread_local cache_ent tl_cache[CACHE_SETS][2];
static _Thread_local uint8_t tl_victim[CACHE_SETS];

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static int resolve(const kl_prices *p, const char *name) {
  size_t n = strlen(name);
  uint32_t h = name_hash(name);
  cache_ent *set = tl_cache[h % CACHE_SETS];
  bool cacheable = n < CACHE_NAME;
  if (cacheable)
    for (int w = 0; w < 2; w++)
      if (set[w].table == p->id && set[w].hash == h && strcmp(set[w].name, name) == 0) return set[w].idx;
  int idx = -1;
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  if (!md) abort();
  for (size_t i = 0; i < p->nmodels; i++)
    if (re_match(p->models[i].re, name, md)) {
      idx = (int)i;
      break;
    }
  pcre2_match_data_free(md);
  if (cacheable) {
    int w = (set[0].table == 0) ? 0 : (set[1].table == 0) ? 1 : tl_victim[h % CACHE_SETS]++ & 1;
    set[w].table = p->id;
    set[w].hash = h;
    set[w].idx = idx;
    memcpy(set[w].name, name, n + 1);
  }
  return idx;
}

/* ---- tiers and cost ---- */
static bool param_in(const cJSON *params, const cond *c) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, c->key);
  char num[64];
  const char *s = NULL;
  if (cJSON_IsString(v)) s = v->valuestring;
  else if (cJSON_IsBool(v)) s = cJSON_IsTrue(v) ? "true" : "false";
  else if (cJSON_IsNumber(v)) snprintf(num, sizeof num, "%.17g", v->valuedouble), s = num;
  if (!s) return false;
  for (size_t i = 0; i < c->nvalues; i++)
    if (strcmp(c->values[i], s) == 0) return true;
  return false;
}

static bool cond_holds(const cond *c, const int64_t *buckets, const cJSON *params) {
  if (c->never) return false;
  if (c->is_param) {
    bool in = cJSON_IsObject(params) && param_in(params, c);
    return c->op == OP_IN ? in : !in;
  }
  double sum = 0;
  for (int b = 0; b < B_N; b++)
    if (c->mask & (1u << b)) sum += (double)buckets[b];
  switch (c->op) {
    case OP_GT: return sum > c->value;
    case OP_GTE: return sum >= c->value;
    case OP_LT: return sum < c->value;
    case OP_LTE: return sum <= c->value;
    case OP_EQ: return sum == c->value;
    case OP_NEQ: return sum != c->value;
    default: return false;
  }
}

static const tier *pick_tier(const model *m, const int64_t *buckets, const cJSON *params, int64_t at) {
  for (size_t i = 0; i < m->ntiers; i++) {
    const tier *t = &m->tiers[i];
    if (t->from > at) continue;
    bool ok = true;
    for (size_t j = 0; ok && j < t->nconds; j++) ok = cond_holds(&t->conds[j], buckets, params);
    if (ok) return t;
  }
  for (size_t i = 0; i < m->ndflts; i++) /* newest first */
    if (m->dflts[i].from <= at) return &m->dflts[i];
  return NULL;
}

/* The version of the model resolved to idx in effect at `at` (newest date <= at), or NULL. */
static const model *pick_version(const kl_prices *p, int idx, int64_t at) {
  const model *best = NULL;
  for (; idx >= 0; idx = p->models[idx].next_version) {
    const model *m = &p->models[idx];
    if (m->from <= at && (!best || m->from > best->from)) best = m;
  }
  return best;
}

static void fmt_usd(kl_buf *out, double v) {
  /* 15 significant digits hide binary noise (3 * 1.25e-6 prints as 3.75e-06, not ...0001) */
  kl_buf_g15(out, v);
}

double kl_prices_cost_at(const kl_prices *p, kl_prices_part part, const char *model_name, int64_t at,
                         const kl_usage *usage, const cJSON *params, kl_cost_source *src, kl_buf *cost_json) {
  if (src) *src = KL_COST_NONE;
  if (!p || !model_name || !*model_name) return -1;
  const kl_price *price = NULL;
  kl_cost_source from = KL_COST_CONFIG;
  if (part != KL_PRICES_TABLE) {
    int64_t best = -1;
    for (size_t i = 0; i < p->novr; i++)
      if (p->ovr[i].from <= at && p->ovr[i].from > best && strcmp(p->ovr[i].name, model_name) == 0) {
        price = &p->ovr[i].price;
        best = p->ovr[i].from;
      }
  }
  kl_usage zero = {0};
  if (!usage) usage = &zero;
  int64_t buckets[B_N] = {usage->input, usage->input_cached, usage->input_cache_write, usage->output,
                          usage->output_reasoning};
  for (int b = 0; b < B_N; b++)
    if (buckets[b] < 0) buckets[b] = 0;
  if (!price) {
    if (part == KL_PRICES_OVERRIDES) return -1;
    int idx = resolve(p, model_name);
    const model *m = idx < 0 ? NULL : pick_version(p, idx, at);
    const tier *t = m ? pick_tier(m, buckets, params, at) : NULL;
    if (!t) return -1;
    price = &t->price;
    from = KL_COST_TABLE;
  }
  double in = price->input >= 0 ? price->input : 0;
  double out = price->output >= 0 ? price->output : 0;
  double per[B_N] = {in, price->input_cached >= 0 ? price->input_cached : in,
                     price->input_cache_write >= 0 ? price->input_cache_write : in, out,
                     price->output_reasoning >= 0 ? price->output_reasoning : out};
  double cost[B_N], total = 0;
  for (int b = 0; b < B_N; b++) total += cost[b] = (double)buckets[b] * per[b];
  if (cost_json) {
    kl_buf_putc(cost_json, '{');
    for (int b = 0; b < B_N; b++) {
      kl_buf_putc(cost_json, '"');
      kl_buf_puts(cost_json, bucket_json[b]);
      kl_buf_puts(cost_json, "\":");
      fmt_usd(cost_json, cost[b]);
      kl_buf_putc(cost_json, ',');
    }
    kl_buf_puts(cost_json, "\"total\":");
    fmt_usd(cost_json, total);
    kl_buf_puts(cost_json, ",\"source\":\"");
    kl_buf_puts(cost_json, kl_cost_source_name(from));
    kl_buf_puts(cost_json, "\"}");
  }
  if (src) *src = from;
  return total;
}

double kl_prices_cost(const kl_prices *p, const char *model_name, const kl_usage *usage, const cJSON *params,
                      kl_buf *cost_json) {
  return kl_prices_cost_at(p, KL_PRICES_ANY, model_name, kl_now_ns(), usage, params, NULL, cost_json);
}
