/* config.c: loading keel.yaml into a kl_config (see kl_config.h for the format).
 *
 * libyaml composes the file into a node tree (yaml_parser_load), which keeps a start mark
 * on every node, so any error can name the exact line of the offending key or value.  The
 * tree is then walked against a fixed schema: each mapping section has a table of fields
 * (key, type, offset into the struct, allowed range), so the common cases (integers,
 * sizes, booleans, strings) are one table row each and the few structured keys (listen,
 * models, prices, headers) have their own code.  Every key is checked against its table
 * before any value is used, so a typo ("modles") fails loudly with a suggestion instead
 * of being ignored.  The schema has a fixed depth, so YAML aliases (even recursive ones)
 * cannot make the walk loop or explode.
 *
 * The result is built on top of the defaults; the default model list is only added when
 * the file has no `models` key, because a file's `models` replaces it entirely (and an
 * invalid OPENAI_BASE_URL should not break a file that never uses it).
 *
 * Ownership: every string and array in a kl_config is individually malloc'd, so callers
 * may replace a field (free + strdup, e.g. a --listen flag) and kl_config_free still
 * frees exactly what is there.  On any error the half-built config is freed with
 * kl_config_free, which is why everything is zero-initialised before it is filled. */
#include "gateway/config_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_FILE_BYTES (16u << 20)



static const field top_fields[] = {
    OTHER("listen"),
    {"data_dir", F_STR, offsetof(kl_config, data_dir), 1, 0},
    {"admin_key", F_STR, offsetof(kl_config, admin_key), 0, 0},
    {"workers", F_INT, offsetof(kl_config, workers), 0, 1024},
    OTHER("log_level"), OTHER("limits"), OTHER("trace"), OTHER("mock"), OTHER("prices"), OTHER("models"),
    OTHER("guardrails"), OTHER("export"), OTHER("store"),
};

static const field store_fields[] = {
    {"backend", F_STR, offsetof(kl_config, store_backend), 1, 0},
    {"url", F_STR, offsetof(kl_config, store_url), 0, 0},
};

static const field limit_fields[] = {
    {"max_body_bytes", F_SIZE, offsetof(kl_config, max_body_bytes), 1, 1LL << 40},
    {"max_header_bytes", F_SIZE, offsetof(kl_config, max_header_bytes), 1, 1LL << 30},
    {"header_timeout_ms", F_INT, offsetof(kl_config, header_timeout_ms), 1, INT_MAX},
    {"body_timeout_ms", F_INT, offsetof(kl_config, body_timeout_ms), 1, INT_MAX},
    {"idle_timeout_ms", F_INT, offsetof(kl_config, idle_timeout_ms), 1, INT_MAX},
    {"shutdown_timeout_ms", F_INT, offsetof(kl_config, shutdown_timeout_ms), 0, INT_MAX},
};

static const field trace_fields[] = {
    {"enabled", F_BOOL, offsetof(kl_config, trace_enabled), 0, 0},
    {"queue_capacity", F_SIZE, offsetof(kl_config, trace_queue_capacity), 1, 1LL << 30},
    {"batch_max", F_SIZE, offsetof(kl_config, trace_batch_max), 1, 1LL << 20},
    {"flush_interval_ms", F_INT, offsetof(kl_config, trace_flush_interval_ms), 1, INT_MAX},
    {"capture_content", F_BOOL, offsetof(kl_config, trace_capture_content), 0, 0},
    {"fulltext", F_BOOL, offsetof(kl_config, trace_fulltext), 0, 0},
    {"retention_days", F_INT, offsetof(kl_config, trace_retention_days), 0, 36500},
    {"secure_delete", F_BOOL, offsetof(kl_config, trace_secure_delete), 0, 0},
};

static const field mock_fields[] = {
    {"latency_ms", F_INT, offsetof(kl_config, mock_latency_ms), 0, INT_MAX},
    {"chunk_delay_ms", F_INT, offsetof(kl_config, mock_chunk_delay_ms), 0, INT_MAX},
};

static const field model_fields[] = {
    {"name", F_STR, offsetof(kl_model_cfg, name), 1, 0},
    OTHER("provider"),
    {"model", F_STR, offsetof(kl_model_cfg, upstream_model), 0, 0},
    OTHER("base_url"),
    {"api_key", F_STR, offsetof(kl_model_cfg, api_key), 0, 0},
    {"timeout_ms", F_LONG, offsetof(kl_model_cfg, timeout_ms), 1, INT_MAX},
    {"connect_timeout_ms", F_LONG, offsetof(kl_model_cfg, connect_timeout_ms), 1, INT_MAX},
    {"first_token_timeout_ms", F_LONG, offsetof(kl_model_cfg, first_token_timeout_ms), 0, INT_MAX},
    {"insecure_tls", F_BOOL, offsetof(kl_model_cfg, insecure_tls), 0, 0},
    OTHER("headers"), OTHER("forward_headers"), OTHER("price"),
    {"guardrails", F_STR, offsetof(kl_model_cfg, guardrails), 1, 0},
};

/* A deployment's `price:` is the same as a `prices:` entry minus `model` (it is the
 * deployment's): one table, with `model` last so the deployment's can leave it out. */
static const field price_fields[] = {
    {"input", F_PRICE, offsetof(kl_price_cfg, input), 0, 0},
    {"output", F_PRICE, offsetof(kl_price_cfg, output), 0, 0},
    {"input_cached", F_PRICE, offsetof(kl_price_cfg, input_cached), 0, 0},
    {"input_cache_write", F_PRICE, offsetof(kl_price_cfg, input_cache_write), 0, 0},
    {"output_reasoning", F_PRICE, offsetof(kl_price_cfg, output_reasoning), 0, 0},
    OTHER("effective_from"),
    {"model", F_STR, offsetof(kl_price_cfg, model), 1, 0},
};
#define NF_DEPLOYMENT_PRICE (NF(price_fields) - 1)

/* ---- node helpers ---- */

unsigned long kl_cfg_line_of(const yaml_node_t *n) { return (unsigned long)n->start_mark.line + 1; }

bool kl_cfg_fail(walk *w, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool kl_cfg_fail(walk *w, const yaml_node_t *n, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  kl_err_set(w->err, 1, "%s:%lu: %s", w->path, kl_cfg_line_of(n), msg);
  return false;
}

const char *kl_cfg_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE: return "a scalar";
  case YAML_SEQUENCE_NODE: return "a sequence";
  case YAML_MAPPING_NODE: return "a mapping";
  default: return "nothing";
  }
}

const yaml_node_t *kl_cfg_node(walk *w, int id) { return yaml_document_get_node(w->doc, id); }

/* An empty value, "~" or "null" (plain, not quoted). */
bool kl_cfg_is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  const char *v = (const char *)n->data.scalar.value;
  size_t l = n->data.scalar.length;
  return l == 0 || (l == 1 && v[0] == '~') ||
         (l == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4)));
}

static bool key_is(const yaml_node_t *k, const char *s) {
  size_t n = strlen(s);
  return k->type == YAML_SCALAR_NODE && k->data.scalar.length == n && !memcmp(k->data.scalar.value, s, n);
}

static bool same_key(const yaml_node_t *a, const yaml_node_t *b) {
  return a->data.scalar.length == b->data.scalar.length &&
         !memcmp(a->data.scalar.value, b->data.scalar.value, a->data.scalar.length);
}

const yaml_node_t *kl_cfg_get(walk *w, const yaml_node_t *map, const char *key) {
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
    if (key_is(kl_cfg_node(w, p->key), key)) return kl_cfg_node(w, p->value);
  return NULL;
}

/* Every key a scalar, known, and present once.  `where` names the section in messages. */
bool kl_cfg_check_keys(walk *w, const yaml_node_t *map, const field *f, size_t nf, const char *where) {
  const char *names[16];
  for (size_t i = 0; i < nf && i < 16; i++) names[i] = f[i].key;
  const char *in = where ? " in " : "", *wh = where ? where : "";
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = kl_cfg_node(w, p->key);
    if (k->type != YAML_SCALAR_NODE) return kl_cfg_fail(w, k, "expected a key%s%s, got %s", in, wh, kl_cfg_kind(k));
    const char *ks = (const char *)k->data.scalar.value;
    size_t i = 0;
    while (i < nf && !key_is(k, f[i].key)) i++;
    if (i == nf) {
      const char *s = kl_cfg_suggest(ks, names, nf < 16 ? nf : 16);
      return kl_cfg_fail(w, k, "unknown key '%.40s'%s%s%s%s%s", ks, in, wh, s ? " (did you mean '" : "", s ? s : "",
                  s ? "'?)" : "");
    }
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++)
      if (same_key(kl_cfg_node(w, q->key), k))
        return kl_cfg_fail(w, k, "duplicate key '%s'%s%s (first on line %lu)", f[i].key, in, wh,
                    kl_cfg_line_of(kl_cfg_node(w, q->key)));
  }
  return true;
}

/* A scalar value after ${ENV} expansion, malloc'd; NULL after setting the error. */
char *kl_cfg_value(walk *w, const yaml_node_t *n, const char *where) {
  if (n->type != YAML_SCALAR_NODE) {
    kl_cfg_fail(w, n, "%s: expected a single value, got %s", where, kl_cfg_kind(n));
    return NULL;
  }
  if (kl_cfg_is_null(n)) return kl_cfg_strdup("");
  const char *v = (const char *)n->data.scalar.value;
  char why[KL_CFG_WHY];
  char *s = memchr(v, 0, n->data.scalar.length) ? NULL : kl_cfg_expand(v, n->data.scalar.length, why);
  if (!s) {
    kl_cfg_fail(w, n, "%s: %s", where, memchr(v, 0, n->data.scalar.length) ? "contains a NUL byte" : why);
    return NULL;
  }
  /* no config value needs a control character, and in a header or key one is an injection */
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
      free(s);
      kl_cfg_fail(w, n, "%s: contains a control character", where);
      return NULL;
    }
  return s;
}

/* Checks the keys of `map` and stores every non-F_OTHER field into `base`. */
bool kl_cfg_apply_fields(walk *w, const yaml_node_t *map, const field *f, size_t nf, void *base,
                         const char *prefix) {
  if (!kl_cfg_check_keys(w, map, f, nf, prefix)) return false;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = kl_cfg_node(w, p->key), *vn = kl_cfg_node(w, p->value);
    size_t i = 0;
    while (!key_is(k, f[i].key)) i++; /* check_keys proved it is there */
    if (f[i].type == F_OTHER) continue;
    char where[128];
    snprintf(where, sizeof where, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", f[i].key);
    char *s = kl_cfg_value(w, vn, where);
    if (!s) return false;
    char why[KL_CFG_WHY];
    char *dst = (char *)base + f[i].off;
    long long iv = 0;
    bool ok = true;
    switch (f[i].type) {
    case F_INT:
      if ((ok = kl_cfg_int(s, f[i].min, f[i].max, &iv, why))) *(int *)dst = (int)iv;
      break;
    case F_LONG:
      if ((ok = kl_cfg_int(s, f[i].min, f[i].max, &iv, why))) *(long *)dst = (long)iv;
      break;
    case F_SIZE:
      if ((ok = kl_cfg_int(s, f[i].min, f[i].max, &iv, why))) *(size_t *)dst = (size_t)iv;
      break;
    case F_BOOL: ok = kl_cfg_bool(s, (bool *)dst, why); break;
    case F_PRICE: ok = kl_cfg_price(s, (double *)dst, why); break;
    case F_STR:
      if (!*s && f[i].min) {
        snprintf(why, sizeof why, "must not be empty");
        ok = false;
        break;
      }
      free(*(char **)dst);
      *(char **)dst = *s ? s : NULL;
      if (*s) s = NULL;
      break;
    case F_OTHER: break;
    }
    free(s);
    if (!ok) return kl_cfg_fail(w, vn, "%s: %s", where, why);
  }
  return true;
}

/* A mapping section such as `limits:`; an empty value keeps the defaults. */
static bool section(walk *w, const yaml_node_t *n, const field *f, size_t nf, void *base, const char *name) {
  if (!n || kl_cfg_is_null(n)) return true;
  if (n->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, n, "%s: expected a mapping, got %s", name, kl_cfg_kind(n));
  return kl_cfg_apply_fields(w, n, f, nf, base, name);
}

/* ---- models ---- */

static bool header_token(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          strchr("!#$%&'*+-.^_`|~", *s)))
      return false;
  return true;
}

static bool load_headers(walk *w, kl_model_cfg *m, const yaml_node_t *n, const char *where) {
  if (!n || kl_cfg_is_null(n)) return true;
  if (n->type != YAML_MAPPING_NODE)
    return kl_cfg_fail(w, n, "%s.headers: expected a mapping of header names to values, got %s", where, kl_cfg_kind(n));
  size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  if (cnt > 64) return kl_cfg_fail(w, n, "%s.headers: too many headers (%zu, at most 64)", where, cnt);
  m->headers = kl_cfg_calloc(cnt, sizeof *m->headers);
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = kl_cfg_node(w, p->key);
    if (k->type != YAML_SCALAR_NODE) return kl_cfg_fail(w, k, "%s.headers: expected a header name, got %s", where, kl_cfg_kind(k));
    const char *name = (const char *)k->data.scalar.value;
    if (memchr(name, 0, k->data.scalar.length) || !header_token(name))
      return kl_cfg_fail(w, k, "%s.headers: bad header name '%.40s'", where, name);
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
      if (!strcasecmp((const char *)kl_cfg_node(w, q->key)->data.scalar.value, name))
        return kl_cfg_fail(w, k, "%s.headers: duplicate header '%.40s'", where, name);
    char hw[200];
    snprintf(hw, sizeof hw, "%s.headers.%.60s", where, name);
    char *v = kl_cfg_value(w, kl_cfg_node(w, p->value), hw);
    if (!v) return false;
    kl_buf b = KL_BUF_INIT;
    kl_buf_printf(&b, "%s: %s", name, v);
    free(v);
    m->headers[m->nheaders++] = kl_buf_steal(&b);
  }
  return true;
}

/* Headers keel sets itself, hop-by-hop ones and credentials are never taken from the client:
 * an upstream's key is the deployment's `api_key` (or `headers:`), not whatever the caller sent. */
static const char *const k_unforwardable[] = {
    "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "host", "content-length",
    "content-type", "content-encoding", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
    "trailer", "accept", "accept-encoding", "user-agent", "expect", "anthropic-version"};

/* `forward_headers: [x-request-id, x-mock-*]`: client headers passed on to this deployment.
 * Names are matched case-insensitively; a trailing '*' makes a prefix.  Off by default: a
 * gateway that relayed every client header would hand a provider whatever a caller chose. */
static bool load_forward(walk *w, kl_model_cfg *m, const yaml_node_t *n, const char *where) {
  if (!n || kl_cfg_is_null(n)) return true;
  char wh[200];
  snprintf(wh, sizeof wh, "%s.forward_headers", where);
  const char **l;
  size_t cnt;
  if (!kl_cfg_str_list(w, n, wh, &l, &cnt)) {
    for (size_t i = 0; l && l[i]; i++) free((char *)l[i]);
    free(l);
    return false;
  }
  m->forward_headers = (char **)l;
  m->nforward_headers = cnt;
  for (size_t i = 0; i < cnt; i++) {
    char *s = m->forward_headers[i];
    size_t len = strlen(s);
    bool prefix = len > 0 && s[len - 1] == '*';
    if (prefix) s[--len] = 0;
    if (!len || !header_token(s) || strchr(s, '*'))
      return kl_cfg_fail(w, n, "%s[%zu]: bad header name '%.40s%s' (a name, or a prefix ending in '*')", wh, i, s,
                         prefix ? "*" : "");
    for (char *p = s; *p; p++) *p = (char)tolower((unsigned char)*p);
    for (size_t k = 0; k < sizeof k_unforwardable / sizeof *k_unforwardable; k++)
      if (prefix ? !strncmp(k_unforwardable[k], s, len) : !strcmp(k_unforwardable[k], s))
        return kl_cfg_fail(w, n, "%s[%zu]: '%s%s' would forward %s, which keel never takes from a client", wh, i, s,
                           prefix ? "*" : "", k_unforwardable[k]);
    if (!strncmp(s, "x-keel-", len < 7 ? len : 7) && (prefix || len >= 7))
      return kl_cfg_fail(w, n, "%s[%zu]: x-keel-* headers are keel's own and are not forwarded", wh, i);
    if (prefix) s[len] = '*';
  }
  return true;
}

/* One price mapping (a `prices:` entry, or a deployment's `price:`) into p. */
static bool load_price(walk *w, const yaml_node_t *e, kl_price_cfg *p, size_t nf, const char *where) {
  p->input = p->output = p->input_cached = p->input_cache_write = p->output_reasoning = -1;
  if (e->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, e, "%s: expected a mapping, got %s", where, kl_cfg_kind(e));
  if (!kl_cfg_apply_fields(w, e, price_fields, nf, p, where)) return false;
  const yaml_node_t *dn = kl_cfg_get(w, e, "effective_from");
  if (!dn) return true;
  char dw[80];
  snprintf(dw, sizeof dw, "%s.effective_from", where);
  char *s = kl_cfg_value(w, dn, dw);
  if (!s) return false;
  int64_t t = *s ? kl_time_parse(s) : -1;
  if (t < 0) {
    kl_cfg_fail(w, dn, "%s: expected a date (YYYY-MM-DD or RFC 3339), got '%.40s'", dw, s);
    free(s);
    return false;
  }
  free(s);
  p->effective_from = t;
  return true;
}

/* Two prices for one model with one date: which would win is a coin toss, so it is an error. */
static bool check_dup_date(walk *w, const yaml_node_t *e, const kl_price_cfg *ps, size_t i, const char *where) {
  const char *dated = ps[i].effective_from ? " with the same effective_from" : "";
  for (size_t j = 0; j < i; j++) {
    if (ps[j].effective_from != ps[i].effective_from) continue;
    if (!ps[i].model) {
      const yaml_node_t *at = kl_cfg_get(w, e, "effective_from");
      return kl_cfg_fail(w, at ? at : e, "%s: duplicate price for this deployment%s", where,
                  *dated ? dated : " (give each an effective_from)");
    }
    if (!strcmp(ps[j].model, ps[i].model))
      return kl_cfg_fail(w, kl_cfg_get(w, e, "model"), "%s.model: duplicate price entry for '%.60s'%s", where, ps[i].model, dated);
  }
  return true;
}

/* A deployment's `price:`: one mapping, or a sequence of them (dated versions). */
static bool load_model_price(walk *w, kl_model_cfg *m, const yaml_node_t *n, const char *where) {
  if (!n || kl_cfg_is_null(n)) return true;
  char pw[64];
  bool seq = n->type == YAML_SEQUENCE_NODE;
  size_t cnt = seq ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start) : 1;
  if (n->type != YAML_MAPPING_NODE && !seq)
    return kl_cfg_fail(w, n, "%s.price: expected a mapping (or a sequence of them), got %s", where, kl_cfg_kind(n));
  m->prices = kl_cfg_calloc(cnt, sizeof *m->prices);
  for (size_t i = 0; i < cnt; i++) {
    const yaml_node_t *e = seq ? kl_cfg_node(w, n->data.sequence.items.start[i]) : n;
    if (seq) snprintf(pw, sizeof pw, "%s.price[%zu]", where, i);
    else snprintf(pw, sizeof pw, "%s.price", where);
    m->nprices = i + 1;
    if (!load_price(w, e, &m->prices[i], NF_DEPLOYMENT_PRICE, pw) || !check_dup_date(w, e, m->prices, i, pw))
      return false;
  }
  return true;
}

static bool load_model(walk *w, kl_config *c, size_t idx, const yaml_node_t *n) {
  kl_model_cfg *m = &c->models[idx];
  m->timeout_ms = 600000;
  m->connect_timeout_ms = 10000;
  m->line = (int)kl_cfg_line_of(n);
  char where[40], why[KL_CFG_WHY];
  snprintf(where, sizeof where, "models[%zu]", idx);
  if (n->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, n, "%s: expected a mapping, got %s", where, kl_cfg_kind(n));
  if (!kl_cfg_apply_fields(w, n, model_fields, NF(model_fields), m, where)) return false;
  if (!m->name) return kl_cfg_fail(w, n, "%s: missing 'name'", where);
  for (size_t j = 0; j < idx; j++)
    if (!strcmp(c->models[j].name, m->name))
      return kl_cfg_fail(w, kl_cfg_get(w, n, "name"), "%s.name: duplicate model '%.60s' (first defined on line %d)", where,
                  m->name, c->models[j].line);

  const yaml_node_t *pv = kl_cfg_get(w, n, "provider");
  if (!pv) return kl_cfg_fail(w, n, "%s: missing 'provider' (openai, anthropic or mock)", where);
  char pw[64];
  snprintf(pw, sizeof pw, "%s.provider", where);
  char *prov = kl_cfg_value(w, pv, pw);
  if (!prov) return false;
  bool known = true;
  if (!strcmp(prov, "openai")) m->provider = KL_PROVIDER_OPENAI;
  else if (!strcmp(prov, "anthropic")) m->provider = KL_PROVIDER_ANTHROPIC;
  else if (!strcmp(prov, "mock")) m->provider = KL_PROVIDER_MOCK;
  else known = false;
  if (!known) {
    kl_cfg_fail(w, pv, "%s: expected one of openai, anthropic, mock, got '%.40s'", pw, prov);
    free(prov);
    return false;
  }
  free(prov);

  if (!m->upstream_model) m->upstream_model = kl_cfg_strdup(m->name);

  /* base_url: validated even for mock (a typo there is still a typo), but mock keeps NULL */
  const yaml_node_t *bv = kl_cfg_get(w, n, "base_url");
  char bw[64];
  snprintf(bw, sizeof bw, "%s.base_url", where);
  char *given = bv ? kl_cfg_value(w, bv, bw) : NULL;
  if (bv && !given) return false;
  const char *url = given && *given ? given
                    : m->provider == KL_PROVIDER_OPENAI ? "https://api.openai.com/v1"
                    : m->provider == KL_PROVIDER_ANTHROPIC ? "https://api.anthropic.com"
                    : NULL;
  if (url) {
    m->base_url = kl_cfg_base_url(url, why);
    free(given);
    if (!m->base_url) return kl_cfg_fail(w, bv ? bv : n, "%s: %s", bw, why);
    if (m->provider == KL_PROVIDER_MOCK) {
      free(m->base_url);
      m->base_url = NULL;
    }
  } else {
    free(given);
  }
  return load_headers(w, m, kl_cfg_get(w, n, "headers"), where) &&
         load_forward(w, m, kl_cfg_get(w, n, "forward_headers"), where) &&
         load_model_price(w, m, kl_cfg_get(w, n, "price"), where);
}

static bool load_models(walk *w, kl_config *c, const yaml_node_t *n) {
  if (n->type != YAML_SEQUENCE_NODE)
    return kl_cfg_fail(w, n, "models: expected a sequence of models, got %s", kl_cfg_is_null(n) ? "nothing" : kl_cfg_kind(n));
  size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (!cnt) return kl_cfg_fail(w, n, "models: at least one model is required");
  c->models = kl_cfg_calloc(cnt, sizeof *c->models);
  for (size_t i = 0; i < cnt; i++) {
    c->nmodels = i + 1; /* so kl_config_free sees the half-built entry */
    if (!load_model(w, c, i, kl_cfg_node(w, n->data.sequence.items.start[i]))) return false;
  }
  return true;
}

static bool load_prices(walk *w, kl_config *c, const yaml_node_t *n) {
  if (kl_cfg_is_null(n)) return true;
  if (n->type != YAML_SEQUENCE_NODE) return kl_cfg_fail(w, n, "prices: expected a sequence, got %s", kl_cfg_kind(n));
  size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  c->prices = kl_cfg_calloc(cnt, sizeof *c->prices);
  for (size_t i = 0; i < cnt; i++) {
    const yaml_node_t *e = kl_cfg_node(w, n->data.sequence.items.start[i]);
    kl_price_cfg *p = &c->prices[i];
    c->nprices = i + 1;
    char where[40];
    snprintf(where, sizeof where, "prices[%zu]", i);
    if (!load_price(w, e, p, NF(price_fields), where)) return false;
    if (!p->model) return kl_cfg_fail(w, e, "%s: missing 'model'", where);
    if (!check_dup_date(w, e, c->prices, i, where)) return false;
  }
  return true;
}

/* ---- top level ---- */

static bool load_top(walk *w, kl_config *c, const yaml_node_t *root, bool *models_seen) {
  if (!root || kl_cfg_is_null(root)) return true; /* an empty file is all defaults */
  if (root->type != YAML_MAPPING_NODE)
    return kl_cfg_fail(w, root, "expected a mapping of settings at the top level, got %s", kl_cfg_kind(root));
  if (!kl_cfg_apply_fields(w, root, top_fields, NF(top_fields), c, NULL)) return false;
  char why[KL_CFG_WHY];
  const yaml_node_t *n;
  if ((n = kl_cfg_get(w, root, "listen"))) {
    char *s = kl_cfg_value(w, n, "listen"), *host = NULL;
    if (!s) return false;
    bool ok = kl_cfg_listen(s, &host, &c->listen_port, why);
    free(s);
    if (!ok) return kl_cfg_fail(w, n, "listen: %s", why);
    free(c->listen_host);
    c->listen_host = host;
  }
  if ((n = kl_cfg_get(w, root, "log_level"))) {
    char *s = kl_cfg_value(w, n, "log_level");
    if (!s) return false;
    if (strcmp(s, "debug") && strcmp(s, "info") && strcmp(s, "warn") && strcmp(s, "error")) {
      kl_cfg_fail(w, n, "log_level: expected one of debug, info, warn, error, got '%.40s'", s);
      free(s);
      return false;
    }
    free(c->log_level);
    c->log_level = s;
  }
  if (!section(w, kl_cfg_get(w, root, "limits"), limit_fields, NF(limit_fields), c, "limits") ||
      !section(w, kl_cfg_get(w, root, "trace"), trace_fields, NF(trace_fields), c, "trace") ||
      !section(w, kl_cfg_get(w, root, "mock"), mock_fields, NF(mock_fields), c, "mock") ||
      !section(w, kl_cfg_get(w, root, "store"), store_fields, NF(store_fields), c, "store"))
    return false;
  if ((n = kl_cfg_get(w, root, "prices")) && !load_prices(w, c, n)) return false;
  if ((n = kl_cfg_get(w, root, "guardrails")) && !kl_cfg_load_guardrails(w, c, n)) return false;
  if ((n = kl_cfg_get(w, root, "export")) && !kl_cfg_load_export(w, c, n)) return false;
  if ((n = kl_cfg_get(w, root, "models"))) {
    *models_seen = true;
    if (!load_models(w, c, n)) return false;
  }
  return kl_cfg_check_policies(w, c);
}

/* ---- defaults ---- */

static kl_config *defaults(void) {
  kl_config *c = kl_cfg_calloc(1, sizeof *c);
  c->listen_host = kl_cfg_strdup("127.0.0.1");
  c->listen_port = 4000;
  c->data_dir = kl_cfg_strdup("./keel-data");
  const char *ak = getenv("KEEL_ADMIN_KEY");
  c->admin_key = ak && *ak ? kl_cfg_strdup(ak) : NULL;
  c->workers = 0;
  c->log_level = kl_cfg_strdup("info");
  c->max_body_bytes = 8388608;
  c->max_header_bytes = 65536;
  c->header_timeout_ms = 10000;
  c->body_timeout_ms = 30000;
  c->idle_timeout_ms = 60000;
  c->shutdown_timeout_ms = 30000;
  c->trace_enabled = true;
  c->trace_queue_capacity = 65536;
  c->trace_batch_max = 2048; /* random OTel trace ids: 2048-row commits wrote ~25% fewer bytes per span than 512 */
  c->trace_flush_interval_ms = 50;
  c->trace_capture_content = true;
  c->trace_fulltext = false;  /* ~50 us of writer CPU per observation: opt-in */
  c->trace_secure_delete = true;
  c->guard_memo_bytes = (size_t)4 << 20;
  const char *su = getenv("KEEL_STORE_URL"); /* a file's store section replaces both */
  c->store_backend = kl_cfg_strdup(su && *su ? "postgres" : "sqlite");
  c->store_url = su && *su ? kl_cfg_strdup(su) : NULL;
  return c;
}

static const char *const openai_defaults[] = {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"};
static const char *const anthropic_defaults[] = {"claude-sonnet-4-5", "claude-haiku-4-5"};

static void add_model(kl_config *c, const char *name, kl_provider_type t, const char *url, const char *key) {
  kl_model_cfg *m = &c->models[c->nmodels++];
  m->name = kl_cfg_strdup(name);
  m->upstream_model = kl_cfg_strdup(name);
  m->provider = t;
  m->base_url = kl_cfg_strdup(url);
  m->api_key = kl_cfg_strdup(key);
  m->timeout_ms = 600000;
  m->connect_timeout_ms = 10000;
}

/* The provider's base URL from `env` (or `def`), normalised; NULL + err when invalid. */
static char *env_url(const char *env, const char *def, kl_err *err) {
  const char *v = getenv(env);
  char why[KL_CFG_WHY];
  char *u = kl_cfg_base_url(v && *v ? v : def, why);
  if (!u) kl_err_set(err, 1, "%s: %s", env, why);
  return u;
}

/* "mock", plus the OpenAI / Anthropic models whose API key is in the environment. */
static bool add_default_models(kl_config *c, kl_err *err) {
  const char *ok = getenv("OPENAI_API_KEY"), *ak = getenv("ANTHROPIC_API_KEY");
  bool use_o = ok && *ok, use_a = ak && *ak;
  c->models = kl_cfg_calloc(1 + NF(openai_defaults) + NF(anthropic_defaults), sizeof *c->models);
  add_model(c, "mock", KL_PROVIDER_MOCK, NULL, NULL);
  if (use_o) {
    char *u = env_url("OPENAI_BASE_URL", "https://api.openai.com/v1", err);
    if (!u) return false;
    for (size_t i = 0; i < NF(openai_defaults); i++) add_model(c, openai_defaults[i], KL_PROVIDER_OPENAI, u, ok);
    free(u);
  }
  if (use_a) {
    char *u = env_url("ANTHROPIC_BASE_URL", "https://api.anthropic.com", err);
    if (!u) return false;
    for (size_t i = 0; i < NF(anthropic_defaults); i++)
      add_model(c, anthropic_defaults[i], KL_PROVIDER_ANTHROPIC, u, ak);
    free(u);
  }
  return true;
}

/* ---- public API ---- */

static void yaml_fail(const yaml_parser_t *p, const char *path, const char *text, size_t len, kl_err *err) {
  if (p->error == YAML_MEMORY_ERROR) {
    fprintf(stderr, "keel: out of memory (parsing %s)\n", path);
    abort();
  }
  const char *problem = p->problem ? p->problem : "unknown error";
  if (p->error == YAML_READER_ERROR) { /* encoding problems carry a byte offset, not a mark */
    size_t line = 1;
    for (size_t i = 0; i < p->problem_offset && i < len; i++) line += text[i] == '\n';
    kl_err_set(err, 1, "%s:%zu: invalid input: %s", path, line, problem);
  } else if (p->context) {
    kl_err_set(err, 1, "%s:%zu: YAML syntax error: %s (%s on line %zu)", path, p->problem_mark.line + 1, problem,
               p->context, p->context_mark.line + 1);
  } else {
    kl_err_set(err, 1, "%s:%zu: YAML syntax error: %s", path, p->problem_mark.line + 1, problem);
  }
}

kl_config *kl_config_parse(const char *yaml, size_t len, const char *path, kl_err *err) {
  kl_err_clear(err);
  const char *name = path ? path : "<config>";
  if (!yaml) yaml = "", len = 0;
  yaml_parser_t parser;
  yaml_document_t doc, extra;
  if (!yaml_parser_initialize(&parser)) {
    fprintf(stderr, "keel: out of memory (yaml parser)\n");
    abort();
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
  if (!yaml_parser_load(&parser, &doc)) {
    yaml_fail(&parser, name, yaml, len, err);
    yaml_parser_delete(&parser);
    return NULL;
  }
  kl_config *c = defaults();
  c->path = kl_cfg_strdup(path);
  walk w = {&doc, name, err};
  bool ok = true, models_seen = false;
  /* a second document is a mistake (a stray "---"); finish parsing so syntax errors win */
  if (yaml_document_get_root_node(&doc)) {
    if (!yaml_parser_load(&parser, &extra)) {
      yaml_fail(&parser, name, yaml, len, err);
      ok = false;
    } else {
      const yaml_node_t *r2 = yaml_document_get_root_node(&extra);
      if (r2) ok = kl_cfg_fail(&w, r2, "expected a single YAML document, found another one");
      yaml_document_delete(&extra);
    }
  }
  if (ok) ok = load_top(&w, c, yaml_document_get_root_node(&doc), &models_seen);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (ok && !models_seen) ok = add_default_models(c, err);
  if (!ok) {
    kl_config_free(c);
    return NULL;
  }
  return c;
}

kl_config *kl_config_load(const char *path, kl_err *err) {
  kl_err_clear(err);
  if (!path) {
    kl_config *c = defaults();
    if (!add_default_models(c, err)) {
      kl_config_free(c);
      return NULL;
    }
    return c;
  }
  kl_buf b = KL_BUF_INIT;
  if (kl_buf_read_path(&b, path, MAX_FILE_BYTES) != 0) {
    int e = errno;
    if (e == EFBIG) kl_err_set(err, 1, "%s: cannot read: file larger than %u bytes", path, MAX_FILE_BYTES);
    else kl_err_set(err, 1, "%s: cannot read: %s", path, strerror(e));
    kl_buf_free(&b);
    return NULL;
  }
  kl_config *c = kl_config_parse(b.data ? b.data : "", b.len, path, err);
  kl_buf_free(&b);
  return c;
}

static void free_secret(char *s) {
  if (!s) return;
  explicit_bzero(s, strlen(s));
  free(s);
}

void kl_config_free(kl_config *c) {
  if (!c) return;
  free(c->path);
  free(c->listen_host);
  free(c->data_dir);
  free(c->store_backend);
  free_secret(c->store_url); /* may hold a password */
  free_secret(c->admin_key);
  free(c->log_level);
  for (size_t i = 0; i < c->nmodels; i++) {
    kl_model_cfg *m = &c->models[i];
    free(m->name);
    free(m->upstream_model);
    free(m->base_url);
    free_secret(m->api_key);
    for (size_t j = 0; j < m->nheaders; j++) free_secret(m->headers[j]); /* may carry tokens */
    free(m->headers);
    for (size_t j = 0; j < m->nforward_headers; j++) free(m->forward_headers[j]);
    free(m->forward_headers);
    free(m->prices);
    free(m->guardrails);
  }
  free(c->models);
  kl_cfg_free_guardrails(c);
  kl_cfg_free_export(c);
  for (size_t i = 0; i < c->nprices; i++) free(c->prices[i].model);
  free(c->prices);
  free(c);
}

const kl_model_cfg *kl_config_model(const kl_config *c, const char *name) {
  if (!c || !name) return NULL;
  for (size_t i = 0; i < c->nmodels; i++)
    if (c->models[i].name && !strcmp(c->models[i].name, name)) return &c->models[i];
  return NULL;
}
