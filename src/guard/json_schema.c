/* json_schema.c: a JSON Schema validator (2020-12 / draft-07 subset) for structured outputs.
 *
 * Why hand-written: Debian 12 has no C JSON Schema library (`apt-cache search json schema`
 * lists Perl, Python, Go and node validators, the json-schema-test-suite, and libvalijson-dev,
 * which is header-only C++), and the gateway needs one per request for response_format.
 *
 * A schema is compiled once into a tree of nodes (arena memory, one arena per schema): keyword
 * values are type-checked (a malformed schema is an error naming its location, so the gateway
 * can answer 400 before calling upstream), patterns are compiled once with PCRE2, and
 * local $refs are resolved to nodes.  Nodes are keyed by the cJSON value they come from, so a
 * $ref to an already compiled subschema (or a recursive one) reuses it.
 *
 * Supported: type (string or array; integer = a number with no fraction, so 1.0 is one),
 * enum, const, properties, required, additionalProperties, patternProperties, propertyNames,
 * minProperties, maxProperties, dependentRequired, items (schema; draft-07 array form =
 * prefixItems, with additionalItems), prefixItems, contains/minContains/maxContains, minItems,
 * maxItems, uniqueItems, minLength/maxLength (code points), pattern (ECMA-ish via PCRE2 with
 * \uXXXX), format (date-time, date, time, email, uuid, uri, ipv4, ipv6, hostname; asserted, as
 * OpenAI does), minimum, maximum, exclusiveMinimum/exclusiveMaximum (numbers, or draft-04
 * booleans), multipleOf, allOf, anyOf, oneOf, not, if/then/else, $ref to any local JSON
 * pointer ("#", "#/$defs/x", "#/definitions/x", ...), $defs/definitions, OpenAPI's
 * "nullable": true.  Unknown keywords are ignored, as the spec says.  Left out: remote and
 * $id-relative refs (a compile error), $anchor, $dynamicRef, unevaluated*, dependentSchemas,
 * content*.
 *
 * Validation stops at the first error: {keyword, JSON pointer of the instance, message}.
 * Untrusted schemas and outputs meet here, so every cost is bounded: $ref cycles that do not
 * descend into the instance are rejected at compile time, evaluation depth is capped, a step
 * budget bounds anyOf/oneOf backtracking and comparisons, uniqueItems hashes instead of
 * comparing all pairs, and PCRE2 runs with a match limit. */
#include "guard/json_schema_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMPILE_DEPTH 256  /* nested subschemas, $ref chains included */

typedef struct pair {
  const cJSON *k;
  gs_node *v;
} pair;

typedef struct cctx {
  guard_schema *s;
  kl_err *err;
  bool failed;
  int depth;
  char path[512];  /* schema location, for messages */
  size_t plen;
  /* cJSON value -> node (open addressing), for $ref and cycles; nodes in creation order */
  pair *map;
  size_t mcap;
  gs_node **nodes;
  size_t n, cap;
} cctx;

static void cfail(cctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cfail(cctx *c, const char *fmt, ...) {
  if (c->failed) return;
  c->failed = true;
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  kl_err_set(c->err, 400, "invalid JSON schema at #%s: %s", c->path, msg);
}

/* Appends "/seg" (RFC 6901 escaped) to the schema path; returns the old length to restore. */
static size_t push(cctx *c, const char *seg) {
  size_t old = c->plen;
  if (c->plen + 2 < sizeof c->path) c->path[c->plen++] = '/';
  for (const char *p = seg; *p && c->plen + 3 < sizeof c->path; p++) {
    if (*p == '~' || *p == '/') {
      c->path[c->plen++] = '~';
      c->path[c->plen++] = *p == '~' ? '0' : '1';
    } else {
      c->path[c->plen++] = *p;
    }
  }
  c->path[c->plen] = 0;
  return old;
}

static void pop(cctx *c, size_t old) {
  c->plen = old;
  c->path[old] = 0;
}

static void *grow(void *v, size_t *cap, size_t need, size_t sz) {
  if (need <= *cap) return v;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *r = realloc(v, nc * sz);
  if (!r) abort();
  *cap = nc;
  return r;
}

static gs_node *compile(cctx *c, const cJSON *j);

/* ---- keyword readers: absent is fine, a wrong shape fails the compile ---- */

static bool kw_count(cctx *c, const cJSON *o, const char *k, long *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  *out = -1;
  if (!v) return false;
  double d = v->valuedouble;
  if (!cJSON_IsNumber(v) || !isfinite(d) || d < 0 || floor(d) != d) {
    size_t old = push(c, k);
    cfail(c, "must be a non-negative integer");
    pop(c, old);
    return false;
  }
  *out = d > 1e15 ? (long)1e15 : (long)d;
  return true;
}

static bool kw_num(cctx *c, const cJSON *o, const char *k, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v) return false;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
    size_t old = push(c, k);
    cfail(c, "must be a number");
    pop(c, old);
    return false;
  }
  *out = v->valuedouble;
  return true;
}

static gs_node *kw_schema(cctx *c, const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v) return NULL;
  size_t old = push(c, k);
  gs_node *n = compile(c, v);
  pop(c, old);
  return n;
}

/* A non-empty array of schemas. */
static gs_node **kw_schemas(cctx *c, const cJSON *o, const char *k, size_t *n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  *n = 0;
  if (!v) return NULL;
  size_t old = push(c, k);
  gs_node **r = NULL;
  if (!cJSON_IsArray(v) || !v->child) {
    cfail(c, "must be a non-empty array of schemas");
  } else {
    size_t cnt = (size_t)cJSON_GetArraySize(v), i = 0;
    r = kl_arena_alloc(c->s->arena, cnt * sizeof *r);
    for (const cJSON *e = v->child; e && !c->failed; e = e->next, i++) {
      char idx[24];
      snprintf(idx, sizeof idx, "%zu", i);
      size_t o2 = push(c, idx);
      r[i] = compile(c, e);
      pop(c, o2);
    }
    *n = cnt;
  }
  pop(c, old);
  return c->failed ? NULL : r;
}

static pcre2_code *compile_re(cctx *c, const char *src) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_ALT_BSUX, &ec, &eo,
                                 c->s->ccx);
  if (!re) {
    PCRE2_UCHAR msg[120];
    pcre2_get_error_message(ec, msg, sizeof msg);
    cfail(c, "unsupported or invalid regular expression: %s at offset %zu", (char *)msg, (size_t)eo);
    return NULL;
  }
  /* No JIT: it costs ~25 us per pattern, more than the interpreter spends on the short strings
   * of one answer, and schemas are compiled per request. */
  gs_regex *l = kl_arena_alloc(c->s->arena, sizeof *l);
  l->re = re;
  l->next = c->s->regexes;
  c->s->regexes = l;
  return re;
}

/* properties / patternProperties / $defs: an object of schemas. */
static gs_prop *kw_schema_map(cctx *c, const cJSON *o, const char *k, size_t *n, bool regex) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  *n = 0;
  if (!v) return NULL;
  size_t old = push(c, k);
  gs_prop *r = NULL;
  if (!cJSON_IsObject(v)) {
    cfail(c, "must be an object of schemas");
  } else {
    size_t cnt = (size_t)cJSON_GetArraySize(v), i = 0;
    r = kl_arena_calloc(c->s->arena, (cnt ? cnt : 1) * sizeof *r);
    for (const cJSON *e = v->child; e && !c->failed; e = e->next, i++) {
      size_t o2 = push(c, e->string);
      r[i].name = e->string;
      if (regex) r[i].re = compile_re(c, e->string);
      if (!c->failed) r[i].s = compile(c, e);
      pop(c, o2);
    }
    *n = cnt;
  }
  pop(c, old);
  return r;
}

static const char *const type_names[] = {"null", "boolean", "object", "array", "number", "integer", "string"};

static unsigned type_bit(cctx *c, const cJSON *t) {
  if (cJSON_IsString(t))
    for (unsigned i = 0; i < sizeof type_names / sizeof *type_names; i++)
      if (strcmp(t->valuestring, type_names[i]) == 0) return 1u << i;
  cfail(c, "unknown type (want null, boolean, object, array, number, integer or string)");
  return 0;
}

static void kw_type(cctx *c, const cJSON *o, gs_node *n) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  if (!t) return;
  size_t old = push(c, "type");
  if (cJSON_IsArray(t)) {
    if (!t->child) cfail(c, "must not be an empty array");
    for (const cJSON *e = t->child; e && !c->failed; e = e->next) n->types |= type_bit(c, e);
  } else {
    n->types = type_bit(c, t);
  }
  pop(c, old);
  const cJSON *nullable = cJSON_GetObjectItemCaseSensitive(o, "nullable");  /* OpenAPI 3.0 */
  if (cJSON_IsTrue(nullable)) n->types |= GS_NULL;
}

static const struct { const char *name; int f; } formats[] = {
  {"date-time", GS_F_DATETIME}, {"date", GS_F_DATE}, {"time", GS_F_TIME}, {"email", GS_F_EMAIL},
  {"uuid", GS_F_UUID}, {"uri", GS_F_URI}, {"ipv4", GS_F_IPV4}, {"ipv6", GS_F_IPV6}, {"hostname", GS_F_HOSTNAME},
};

static void kw_string(cctx *c, const cJSON *o, gs_node *n) {
  kw_count(c, o, "minLength", &n->min_len);
  kw_count(c, o, "maxLength", &n->max_len);
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pattern");
  if (p) {
    size_t old = push(c, "pattern");
    if (!cJSON_IsString(p)) cfail(c, "must be a string");
    else n->pattern = compile_re(c, p->valuestring), n->pattern_src = p->valuestring;
    pop(c, old);
  }
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "format");
  if (f) {
    size_t old = push(c, "format");
    if (!cJSON_IsString(f)) cfail(c, "must be a string");
    else
      for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (strcmp(f->valuestring, formats[i].name) == 0) n->format = formats[i].f, n->format_name = formats[i].name;
    pop(c, old);  /* unknown formats are annotations only */
  }
}

static void kw_numeric(cctx *c, const cJSON *o, gs_node *n) {
  if (kw_num(c, o, "minimum", &n->min)) n->num |= GS_MIN;
  if (kw_num(c, o, "maximum", &n->max)) n->num |= GS_MAX;
  const cJSON *xmin = cJSON_GetObjectItemCaseSensitive(o, "exclusiveMinimum");
  const cJSON *xmax = cJSON_GetObjectItemCaseSensitive(o, "exclusiveMaximum");
  if (cJSON_IsBool(xmin)) { /* draft-04: a flag on minimum */
    if (cJSON_IsTrue(xmin) && (n->num & GS_MIN)) n->num = (n->num & ~GS_MIN) | GS_XMIN, n->xmin = n->min;
  } else if (kw_num(c, o, "exclusiveMinimum", &n->xmin)) {
    n->num |= GS_XMIN;
  }
  if (cJSON_IsBool(xmax)) {
    if (cJSON_IsTrue(xmax) && (n->num & GS_MAX)) n->num = (n->num & ~GS_MAX) | GS_XMAX, n->xmax = n->max;
  } else if (kw_num(c, o, "exclusiveMaximum", &n->xmax)) {
    n->num |= GS_XMAX;
  }
  if (kw_num(c, o, "multipleOf", &n->mult)) {
    if (n->mult <= 0) {
      size_t old = push(c, "multipleOf");
      cfail(c, "must be greater than 0");
      pop(c, old);
    }
    n->num |= GS_MULT;
  }
}

static void kw_object(cctx *c, const cJSON *o, gs_node *n) {
  n->props = kw_schema_map(c, o, "properties", &n->nprops, false);
  n->pprops = kw_schema_map(c, o, "patternProperties", &n->npprops, true);
  n->addl = kw_schema(c, o, "additionalProperties");
  n->names = kw_schema(c, o, "propertyNames");
  kw_count(c, o, "minProperties", &n->min_props);
  kw_count(c, o, "maxProperties", &n->max_props);
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "required");
  if (r) {
    size_t old = push(c, "required");
    if (!cJSON_IsArray(r)) cfail(c, "must be an array of strings");
    n->required = r->child;
    for (const cJSON *e = r->child; e; e = e->next)
      if (!cJSON_IsString(e)) cfail(c, "must be an array of strings");
    pop(c, old);
  }
  const cJSON *dr = cJSON_GetObjectItemCaseSensitive(o, "dependentRequired");
  if (dr) {
    size_t old = push(c, "dependentRequired");
    if (!cJSON_IsObject(dr)) cfail(c, "must be an object of string arrays");
    n->dep_required = dr->child;
    for (const cJSON *e = dr->child; e; e = e->next) {
      if (!cJSON_IsArray(e)) cfail(c, "must be an object of string arrays");
      for (const cJSON *s = e->child; s; s = s->next)
        if (!cJSON_IsString(s)) cfail(c, "must be an object of string arrays");
    }
    pop(c, old);
  }
}

static void kw_array(cctx *c, const cJSON *o, gs_node *n) {
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(o, "items");
  if (cJSON_IsArray(items)) { /* draft-07 tuple form */
    n->prefix = kw_schemas(c, o, "items", &n->nprefix);
    n->items = kw_schema(c, o, "additionalItems");
  } else {
    n->prefix = kw_schemas(c, o, "prefixItems", &n->nprefix);
    n->items = kw_schema(c, o, "items");
  }
  n->contains = kw_schema(c, o, "contains");
  kw_count(c, o, "minContains", &n->min_contains);
  kw_count(c, o, "maxContains", &n->max_contains);
  kw_count(c, o, "minItems", &n->min_items);
  kw_count(c, o, "maxItems", &n->max_items);
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "uniqueItems");
  if (u && !cJSON_IsBool(u)) {
    size_t old = push(c, "uniqueItems");
    cfail(c, "must be a boolean");
    pop(c, old);
  }
  n->unique = cJSON_IsTrue(u);
}

/* Resolves a local reference "#" or "#/a/b~1c/0" (RFC 6901, percent-decoded) in the document. */
static const cJSON *resolve(const cJSON *doc, const char *ref) {
  if (ref[0] != '#') return NULL;
  const char *p = ref + 1;
  if (*p && *p != '/') return NULL;  /* "#anchor": unsupported */
  const cJSON *cur = doc;
  char seg[256];
  while (*p == '/' && cur) {
    p++;
    size_t k = 0;
    while (*p && *p != '/') {
      char ch = *p++;
      if (ch == '~' && (*p == '0' || *p == '1')) ch = *p++ == '0' ? '~' : '/';
      else if (ch == '%' && p[0] && p[1] && strchr("0123456789abcdefABCDEF", p[0]) && strchr("0123456789abcdefABCDEF", p[1])) {
        char hex[3] = {p[0], p[1], 0};
        ch = (char)strtol(hex, NULL, 16);
        p += 2;
      }
      if (k + 1 >= sizeof seg) return NULL;
      seg[k++] = ch;
    }
    seg[k] = 0;
    if (cJSON_IsArray(cur)) {
      char *end;
      long i = strtol(seg, &end, 10);
      if (!k || *end || i < 0 || (k > 1 && seg[0] == '0')) return NULL;
      cur = cJSON_GetArrayItem(cur, (int)(i > 1000000000 ? -1 : i));
    } else if (cJSON_IsObject(cur)) {
      cur = cJSON_GetObjectItemCaseSensitive(cur, seg);
    } else {
      return NULL;
    }
  }
  return cur;
}

static void kw_ref(cctx *c, const cJSON *o, gs_node *n) {
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "$ref");
  if (!r) return;
  size_t old = push(c, "$ref");
  const cJSON *t = cJSON_IsString(r) ? resolve(c->s->doc, r->valuestring) : NULL;
  if (!cJSON_IsString(r)) cfail(c, "must be a string");
  else if (r->valuestring[0] != '#') cfail(c, "only local references (\"#/$defs/...\") are supported: %.80s", r->valuestring);
  else if (!t) cfail(c, "cannot resolve %.100s", r->valuestring);
  else n->ref = compile(c, t);
  pop(c, old);
}

static size_t slot(const cctx *c, const cJSON *j) {
  size_t h = ((uintptr_t)j >> 4) * 0x9E3779B97F4A7C15ull, m = c->mcap - 1;
  for (h &= m; c->map[h].k && c->map[h].k != j; h = (h + 1) & m) {}
  return h;
}

static void remember(cctx *c, const cJSON *j, gs_node *n) {
  if ((c->n + 1) * 2 > c->mcap) { /* rehash at half load */
    size_t oc = c->mcap;
    pair *old = c->map;
    c->mcap = oc ? oc * 2 : 64;
    c->map = calloc(c->mcap, sizeof *c->map);
    if (!c->map) abort();
    for (size_t i = 0; i < oc; i++)
      if (old[i].k) c->map[slot(c, old[i].k)] = old[i];
    free(old);
  }
  size_t h = slot(c, j);
  c->map[h].k = j;
  c->map[h].v = n;
  c->nodes = grow(c->nodes, &c->cap, c->n + 1, sizeof *c->nodes);
  n->idx = c->n;
  c->nodes[c->n++] = n;
}

static gs_node *compile(cctx *c, const cJSON *j) {
  if (c->mcap) {
    size_t h = slot(c, j);
    if (c->map[h].k) return c->map[h].v;
  }
  if (c->failed) return NULL;
  if (c->depth >= MAX_COMPILE_DEPTH) {
    cfail(c, "schema nested too deeply (more than %d levels)", MAX_COMPILE_DEPTH);
    return NULL;
  }
  gs_node *n = kl_arena_calloc(c->s->arena, sizeof *n);
  n->min_len = n->max_len = n->min_items = n->max_items = n->min_props = n->max_props = -1;
  n->min_contains = n->max_contains = -1;
  remember(c, j, n);
  if (cJSON_IsBool(j)) {
    n->boolean = cJSON_IsTrue(j) ? GS_TRUE : GS_FALSE;
    return n;
  }
  if (!cJSON_IsObject(j)) {
    cfail(c, "a schema must be an object or a boolean");
    return NULL;
  }
  c->depth++;
  kw_type(c, j, n);
  n->enm = cJSON_GetObjectItemCaseSensitive(j, "enum");
  if (n->enm && !cJSON_IsArray(n->enm)) {
    size_t old = push(c, "enum");
    cfail(c, "must be an array");
    pop(c, old);
  }
  n->cnst = cJSON_GetObjectItemCaseSensitive(j, "const");
  kw_string(c, j, n);
  kw_numeric(c, j, n);
  kw_object(c, j, n);
  kw_array(c, j, n);
  n->all = kw_schemas(c, j, "allOf", &n->nall);
  n->any = kw_schemas(c, j, "anyOf", &n->nany);
  n->one = kw_schemas(c, j, "oneOf", &n->none);
  n->not_ = kw_schema(c, j, "not");
  n->if_ = kw_schema(c, j, "if");
  n->then_ = kw_schema(c, j, "then");
  n->else_ = kw_schema(c, j, "else");
  size_t ndefs;
  kw_schema_map(c, j, "$defs", &ndefs, false);  /* compiled to catch errors in unused ones too */
  kw_schema_map(c, j, "definitions", &ndefs, false);
  kw_ref(c, j, n);
  c->depth--;
  return c->failed ? NULL : n;
}

/* A cycle through in-place applicators ($ref, allOf, anyOf, oneOf, not, if/then/else) would
 * recurse forever on any instance: reject it.  Colors: 0 new, 1 on the path, 2 done. */
static bool acyclic(cctx *c, const gs_node *n, unsigned char *color, int depth) {
  if (!n || color[n->idx] == 2) return true;
  if (color[n->idx] == 1 || depth > MAX_COMPILE_DEPTH) {
    cfail(c, "$ref cycle or chain too long: a schema refers to itself without descending into the value");
    return false;
  }
  color[n->idx] = 1;
  const gs_node *one[] = {n->ref, n->not_, n->if_, n->then_, n->else_};
  for (size_t i = 0; i < 5; i++)
    if (!acyclic(c, one[i], color, depth + 1)) return false;
  gs_node *const *lists[] = {n->all, n->any, n->one};
  size_t counts[] = {n->nall, n->nany, n->none};
  for (size_t l = 0; l < 3; l++)
    for (size_t i = 0; i < counts[l]; i++)
      if (!acyclic(c, lists[l][i], color, depth + 1)) return false;
  color[n->idx] = 2;
  return true;
}

/* Compiles doc, which the result owns (and frees on failure). */
static guard_schema *compile_doc(cJSON *doc, kl_err *err) {
  guard_schema *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->arena = kl_arena_new(4096);
  s->doc = doc;
  s->ccx = pcre2_compile_context_create(NULL);
  s->mcx = pcre2_match_context_create(NULL);
  if (!s->doc || !s->ccx || !s->mcx) abort();
  pcre2_set_compile_extra_options(s->ccx, PCRE2_EXTRA_ALT_BSUX);
  pcre2_set_match_limit(s->mcx, 100000);  /* bounds backtracking */
  pcre2_set_depth_limit(s->mcx, 5000);
  cctx c = {.s = s, .err = err};
  s->root = compile(&c, s->doc);
  if (!c.failed) {
    unsigned char *color = calloc(c.n ? c.n : 1, 1);
    if (!color) abort();
    for (size_t i = 0; i < c.n && !c.failed; i++) acyclic(&c, c.nodes[i], color, 0);
    free(color);
  }
  free(c.map);
  free(c.nodes);
  if (c.failed || !s->root) {
    if (!c.failed) kl_err_set(err, 400, "invalid JSON schema");
    guard_schema_free(s);
    return NULL;
  }
  return s;
}

guard_schema *guard_schema_compile(const cJSON *schema, kl_err *err) {
  if (!schema) {
    kl_err_set(err, 400, "invalid JSON schema: missing");
    return NULL;
  }
  return compile_doc(cJSON_Duplicate(schema, true), err);
}

guard_schema *guard_schema_parse(const char *text, size_t len, kl_err *err) {
  kl_err e2 = {0};
  cJSON *j = kl_json_parse(text, len, &e2);
  if (!j) {
    kl_err_set(err, 400, "invalid JSON schema: %s", e2.msg);
    return NULL;
  }
  return compile_doc(j, err);
}

void guard_schema_free(guard_schema *s) {
  if (!s) return;
  for (gs_regex *r = s->regexes; r; r = r->next) pcre2_code_free(r->re);
  pcre2_compile_context_free(s->ccx);
  pcre2_match_context_free(s->mcx);
  cJSON_Delete(s->doc);
  kl_arena_free(s->arena);
  free(s);
}
