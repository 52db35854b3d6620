/* config_export.c: the `export:` section of keel.yaml (format in kl_config.h).
 *
 * Only `export.otlp` exists today; the extra level leaves room for other sinks without a
 * breaking change.  The section is checked here (known keys, ranges, URL, protocol, header
 * names) so a typo fails at start-up with a line number; the gateway turns the result into
 * kl_exporter_opts.  An empty endpoint (e.g. `endpoint: ${OTLP_ENDPOINT}` with the variable
 * unset) means "no export", so one keel.yaml serves deployments with and without a collector. */
#include "gateway/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EXPORT_HEADERS 64
#define MAX_RESOURCE_ATTRS 64

static const field export_fields[] = {OTHER("otlp")};
static const field otlp_fields[] = {
    OTHER("endpoint"), OTHER("protocol"), OTHER("headers"), OTHER("resource"),
    {"gzip", F_BOOL, offsetof(kl_export_cfg, gzip), 0, 0},
    {"capture_content", F_BOOL, offsetof(kl_export_cfg, capture_content), 0, 0},
    {"insecure_tls", F_BOOL, offsetof(kl_export_cfg, insecure_tls), 0, 0},
    {"batch_max", F_SIZE, offsetof(kl_export_cfg, batch_max), 1, 1 << 20},
    {"queue_capacity", F_SIZE, offsetof(kl_export_cfg, queue_capacity), 1, 1 << 24},
    {"flush_interval_ms", F_INT, offsetof(kl_export_cfg, flush_interval_ms), 1, 3600000},
    {"timeout_ms", F_INT, offsetof(kl_export_cfg, timeout_ms), 1, 600000},
    {"max_attempts", F_INT, offsetof(kl_export_cfg, max_attempts), 1, 100},
    {"shutdown_timeout_ms", F_INT, offsetof(kl_export_cfg, shutdown_timeout_ms), 1, 600000},
};

static bool header_token(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          strchr("!#$%&'*+-.^_`|~", *s)))
      return false;
  return true;
}

/* A mapping of scalar keys to scalar values; `check` validates a key (NULL = any non-empty). */
static bool load_map(walk *w, const yaml_node_t *n, const char *where, size_t max, bool (*check)(const char *),
                     char ***keys, char ***vals, size_t *cnt) {
  if (!n || kl_cfg_is_null(n)) return true;
  if (n->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, n, "%s: expected a mapping, got %s", where, kl_cfg_kind(n));
  size_t total = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  if (total > max) return kl_cfg_fail(w, n, "%s: too many entries (%zu, at most %zu)", where, total, max);
  *keys = kl_cfg_calloc(total ? total : 1, sizeof **keys);
  *vals = kl_cfg_calloc(total ? total : 1, sizeof **vals);
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = kl_cfg_node(w, p->key);
    if (k->type != YAML_SCALAR_NODE) return kl_cfg_fail(w, k, "%s: expected a name, got %s", where, kl_cfg_kind(k));
    const char *name = (const char *)k->data.scalar.value;
    if (memchr(name, 0, k->data.scalar.length) || !*name || (check && !check(name)))
      return kl_cfg_fail(w, k, "%s: bad name '%.40s'", where, name);
    for (size_t j = 0; j < *cnt; j++)
      if (!strcasecmp((*keys)[j], name)) return kl_cfg_fail(w, k, "%s: duplicate '%.40s'", where, name);
    char wh[200];
    snprintf(wh, sizeof wh, "%s.%.60s", where, name);
    char *v = kl_cfg_value(w, kl_cfg_node(w, p->value), wh);
    if (!v) return false; /* kl_cfg_value refuses control characters: no header injection */
    (*keys)[*cnt] = kl_cfg_strdup(name);
    (*vals)[(*cnt)++] = v;
  }
  return true;
}

static bool load_endpoint(walk *w, kl_export_cfg *x, const yaml_node_t *n) {
  char *s = kl_cfg_value(w, n, "export.otlp.endpoint");
  if (!s) return false;
  if (!*s) { /* unset variable: export off */
    free(s);
    return true;
  }
  char why[KL_CFG_WHY];
  char *u = kl_cfg_base_url(s, why);
  free(s);
  if (!u) return kl_cfg_fail(w, n, "export.otlp.endpoint: %s", why);
  const char *host = strstr(u, "://") + 3;
  if (!strchr(host, '/')) { /* a bare collector address: the standard traces path */
    kl_buf b = KL_BUF_INIT;
    kl_buf_printf(&b, "%s/v1/traces", u);
    free(u);
    u = kl_cfg_strdup(b.data);
    kl_buf_free(&b);
  }
  x->endpoint = u;
  return true;
}

static bool load_protocol(walk *w, kl_export_cfg *x, const yaml_node_t *n) {
  char *s = kl_cfg_value(w, n, "export.otlp.protocol");
  if (!s) return false;
  bool ok = true;
  if (!strcmp(s, "http/protobuf")) x->json = false;
  else if (!strcmp(s, "http/json")) x->json = true;
  else if (!strcmp(s, "grpc"))
    ok = kl_cfg_fail(w, n, "export.otlp.protocol: grpc is not supported; use http/protobuf (collector port 4318)");
  else ok = kl_cfg_fail(w, n, "export.otlp.protocol: expected http/protobuf or http/json, got '%.40s'", s);
  free(s);
  return ok;
}

bool kl_cfg_load_export(walk *w, kl_config *c, const yaml_node_t *n) {
  if (kl_cfg_is_null(n)) return true;
  if (n->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, n, "export: expected a mapping, got %s", kl_cfg_kind(n));
  if (!kl_cfg_check_keys(w, n, export_fields, NF(export_fields), "export")) return false;
  const yaml_node_t *o = kl_cfg_get(w, n, "otlp");
  if (!o || kl_cfg_is_null(o)) return true;
  if (o->type != YAML_MAPPING_NODE)
    return kl_cfg_fail(w, o, "export.otlp: expected a mapping, got %s", kl_cfg_kind(o));
  kl_export_cfg *x = &c->export_otlp;
  x->capture_content = true;
  if (!kl_cfg_apply_fields(w, o, otlp_fields, NF(otlp_fields), x, "export.otlp")) return false;
  const yaml_node_t *v = kl_cfg_get(w, o, "endpoint");
  if (!v) return kl_cfg_fail(w, o, "export.otlp: missing 'endpoint'");
  if (!load_endpoint(w, x, v)) return false;
  if ((v = kl_cfg_get(w, o, "protocol")) && !load_protocol(w, x, v)) return false;
  char **vals = NULL;
  if (!load_map(w, kl_cfg_get(w, o, "headers"), "export.otlp.headers", MAX_EXPORT_HEADERS, header_token,
                &x->headers, &vals, &x->nheaders)) {
    for (size_t i = 0; i < x->nheaders; i++) free(vals[i]);
    free(vals);
    return false;
  }
  for (size_t i = 0; i < x->nheaders; i++) { /* "Name: value", what kl_upstream takes */
    kl_buf b = KL_BUF_INIT;
    kl_buf_printf(&b, "%s: %s", x->headers[i], vals[i]);
    free(x->headers[i]);
    explicit_bzero(vals[i], strlen(vals[i]));
    free(vals[i]);
    x->headers[i] = kl_buf_steal(&b);
  }
  free(vals);
  return load_map(w, kl_cfg_get(w, o, "resource"), "export.otlp.resource", MAX_RESOURCE_ATTRS, NULL,
                  &x->resource_keys, &x->resource_values, &x->nresource);
}

void kl_cfg_free_export(kl_config *c) {
  kl_export_cfg *x = &c->export_otlp;
  free(x->endpoint);
  for (size_t i = 0; i < x->nheaders; i++) {
    explicit_bzero(x->headers[i], strlen(x->headers[i])); /* Authorization values */
    free(x->headers[i]);
  }
  free(x->headers);
  for (size_t i = 0; i < x->nresource; i++) {
    free(x->resource_keys[i]);
    free(x->resource_values[i]);
  }
  free(x->resource_keys);
  free(x->resource_values);
  memset(x, 0, sizeof *x);
}
