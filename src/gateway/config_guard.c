/* config_guard.c: the `guardrails:` section of keel.yaml (format in kl_config.h).
 *
 * Policies become kl_guard_scanner_cfg arrays the gateway hands to kl_guard_policy_build at
 * start-up, so a scanner's own checks (an unknown PII type, a regex that does not compile, a
 * classifier without a URL) are reported by the guard library; this file checks the shape:
 * known keys, stages, actions, lists, and that every model's policy exists. */
#include "gateway/config_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const field guard_fields[] = {
    OTHER("default"), OTHER("policies"),
    {"memo_bytes", F_SIZE, offsetof(kl_config, guard_memo_bytes), 0, 1LL << 30},
};
static const field policy_fields[] = {
    {"name", F_STR, offsetof(kl_policy_cfg, name), 1, 0},
    {"canary", F_BOOL, offsetof(kl_policy_cfg, canary), 0, 0},
    {"stream_holdback", F_SIZE, offsetof(kl_policy_cfg, stream_holdback), 0, 1 << 20},
    {"observe_clean", F_BOOL, offsetof(kl_policy_cfg, observe_clean), 0, 0},
    OTHER("scanners"),
};
static const field scanner_fields[] = {
    OTHER("kind"), OTHER("name"), OTHER("stage"), OTHER("action"), OTHER("threshold"), OTHER("types"),
    OTHER("list"), {"limit", F_LONG, offsetof(kl_guard_scanner_cfg, limit), 1, LONG_MAX},
    {"must_match", F_BOOL, offsetof(kl_guard_scanner_cfg, must_match), 0, 0}, OTHER("url"),
    {"timeout_ms", F_LONG, offsetof(kl_guard_scanner_cfg, timeout_ms), 1, 600000},
    {"fail_open", F_BOOL, offsetof(kl_guard_scanner_cfg, fail_open), 0, 0},
};

/* A scalar key of a scanner into a malloc'd string (NULL when absent). */
static bool str_key(walk *w, const yaml_node_t *n, const char *key, const char *where, char **out) {
  *out = NULL;
  const yaml_node_t *v = kl_cfg_get(w, n, key);
  if (!v) return true;
  char wh[256];
  snprintf(wh, sizeof wh, "%.180s.%.60s", where, key);
  *out = kl_cfg_value(w, v, wh);
  return *out != NULL;
}

static bool load_scanner(walk *w, kl_guard_scanner_cfg *sc, const yaml_node_t *n, const char *where) {
  if (n->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, n, "%s: expected a mapping, got %s", where, kl_cfg_kind(n));
  if (!kl_cfg_apply_fields(w, n, scanner_fields, NF(scanner_fields), sc, where)) return false;
  char *kind = NULL, *name = NULL, *stage = NULL, *action = NULL, *thr = NULL, *url = NULL;
  bool ok = str_key(w, n, "kind", where, &kind) && str_key(w, n, "name", where, &name) &&
            str_key(w, n, "stage", where, &stage) && str_key(w, n, "action", where, &action) &&
            str_key(w, n, "threshold", where, &thr) && str_key(w, n, "url", where, &url);
  sc->kind = kind;
  sc->name = name && *name ? name : NULL;
  if (name && !*name) free(name);
  sc->url = url;
  char wh[256];
  if (ok && !kind) ok = kl_cfg_fail(w, n, "%s: missing 'kind'", where);
  if (ok) {
    bool known = false;
    for (const char *const *k = kl_guard_kinds(); *k && !known; k++) known = !strcmp(*k, kind);
    if (!known) {
      const char *const *ks = kl_guard_kinds();
      size_t nk = 0;
      while (ks[nk]) nk++;
      const char *sug = kl_cfg_suggest(kind, ks, nk);
      ok = kl_cfg_fail(w, kl_cfg_get(w, n, "kind"), "%s.kind: unknown scanner kind '%.40s'%s%s%s", where, kind,
                       sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    }
  }
  if (ok && stage) {
    if (!strcmp(stage, "input")) sc->stage = KL_GUARD_INPUT;
    else if (!strcmp(stage, "during")) sc->stage = KL_GUARD_DURING;
    else if (!strcmp(stage, "output")) sc->stage = KL_GUARD_OUTPUT;
    else ok = kl_cfg_fail(w, kl_cfg_get(w, n, "stage"), "%s.stage: expected input, during or output, got '%.40s'",
                          where, stage);
  } else if (ok) {
    /* output-only kinds default to the output stage */
    static const char *const out_kinds[] = {"canary", "json", "refusal", "urls"};
    for (size_t i = 0; i < NF(out_kinds); i++)
      if (!strcmp(kind, out_kinds[i])) sc->stage = KL_GUARD_OUTPUT;
  }
  if (ok && action && !kl_guard_action_parse(action, &sc->action))
    ok = kl_cfg_fail(w, kl_cfg_get(w, n, "action"),
                     "%s.action: expected one of flag, redact, mask, hash, restore, reask, block, got '%.40s'", where,
                     action);
  if (ok && action && sc->action == KL_GUARD_ALLOW)
    ok = kl_cfg_fail(w, kl_cfg_get(w, n, "action"), "%s.action: 'allow' is a verdict; use flag", where);
  if (ok && thr) {
    char *end;
    double v = strtod(thr, &end);
    if (*end || end == thr || !(v > 0 && v <= 1))
      ok = kl_cfg_fail(w, kl_cfg_get(w, n, "threshold"), "%s.threshold: expected a number in (0, 1], got '%.40s'",
                       where, thr);
    else sc->threshold = v;
  }
  if (ok) {
    snprintf(wh, sizeof wh, "%.200s.list", where);
    ok = kl_cfg_str_list(w, kl_cfg_get(w, n, "list"), wh, (const char ***)&sc->list, &sc->nlist);
  }
  const yaml_node_t *tv = ok ? kl_cfg_get(w, n, "types") : NULL;
  if (tv) {
    const char **types = NULL;
    size_t nt = 0;
    snprintf(wh, sizeof wh, "%.200s.types", where);
    ok = kl_cfg_str_list(w, tv, wh, &types, &nt);
    for (size_t i = 0; ok && i < nt; i++) {
      int t = -1;
      for (int k = 0; k < KL_GUARD_NTYPES; k++)
        if (!strcmp(types[i], kl_guard_type_name((kl_guard_type)k))) t = k;
      if (t < 0) ok = kl_cfg_fail(w, tv, "%s[%zu]: unknown PII type '%.40s'", wh, i, types[i]);
      else sc->types |= 1u << t;
    }
    for (size_t i = 0; i < nt; i++) free((char *)types[i]);
    free(types);
  }
  free(stage);
  free(action);
  free(thr);
  return ok;
}

static bool load_policy(walk *w, kl_config *c, size_t idx, const yaml_node_t *n) {
  kl_policy_cfg *p = &c->policies[idx];
  p->stream_holdback = 128;
  p->observe_clean = true;
  p->line = (int)kl_cfg_line_of(n);
  char where[64];
  snprintf(where, sizeof where, "guardrails.policies[%zu]", idx);
  if (n->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, n, "%s: expected a mapping, got %s", where, kl_cfg_kind(n));
  if (!kl_cfg_apply_fields(w, n, policy_fields, NF(policy_fields), p, where)) return false;
  if (!p->name) return kl_cfg_fail(w, n, "%s: missing 'name'", where);
  if (!strcmp(p->name, "default") || !strcmp(p->name, "none"))
    return kl_cfg_fail(w, kl_cfg_get(w, n, "name"), "%s.name: '%s' is reserved (built in)", where, p->name);
  for (size_t j = 0; j < idx; j++)
    if (!strcmp(c->policies[j].name, p->name))
      return kl_cfg_fail(w, kl_cfg_get(w, n, "name"), "%s.name: duplicate policy '%.60s' (first on line %d)", where,
                         p->name, c->policies[j].line);
  const yaml_node_t *sv = kl_cfg_get(w, n, "scanners");
  if (!sv || sv->type != YAML_SEQUENCE_NODE)
    return kl_cfg_fail(w, sv ? sv : n, "%s.scanners: expected a list of scanners", where);
  size_t cnt = (size_t)(sv->data.sequence.items.top - sv->data.sequence.items.start);
  p->scanners = kl_cfg_calloc(cnt ? cnt : 1, sizeof *p->scanners);
  for (size_t i = 0; i < cnt; i++) {
    char wh[256];
    snprintf(wh, sizeof wh, "%.200s.scanners[%zu]", where, i);
    p->nscanners = i + 1;
    if (!load_scanner(w, &p->scanners[i], kl_cfg_node(w, sv->data.sequence.items.start[i]), wh)) return false;
  }
  return true;
}

bool kl_cfg_load_guardrails(walk *w, kl_config *c, const yaml_node_t *n) {
  if (kl_cfg_is_null(n)) return true;
  if (n->type != YAML_MAPPING_NODE) return kl_cfg_fail(w, n, "guardrails: expected a mapping, got %s", kl_cfg_kind(n));
  if (!kl_cfg_apply_fields(w, n, guard_fields, NF(guard_fields), c, "guardrails")) return false;
  const yaml_node_t *v = kl_cfg_get(w, n, "default");
  if (v) {
    char *s = kl_cfg_value(w, v, "guardrails.default");
    if (!s) return false;
    free(c->default_policy);
    c->default_policy = *s && strcmp(s, "none") ? s : NULL;
    if (!c->default_policy) free(s);
  }
  v = kl_cfg_get(w, n, "policies");
  if (!v || kl_cfg_is_null(v)) return true;
  if (v->type != YAML_SEQUENCE_NODE)
    return kl_cfg_fail(w, v, "guardrails.policies: expected a list of policies, got %s", kl_cfg_kind(v));
  size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  c->policies = kl_cfg_calloc(cnt ? cnt : 1, sizeof *c->policies);
  for (size_t i = 0; i < cnt; i++) {
    c->npolicies = i + 1;
    if (!load_policy(w, c, i, kl_cfg_node(w, v->data.sequence.items.start[i]))) return false;
  }
  return true;
}

static bool policy_exists(const kl_config *c, const char *name) {
  if (!strcmp(name, "default") || !strcmp(name, "none")) return true;
  for (size_t i = 0; i < c->npolicies; i++)
    if (!strcmp(c->policies[i].name, name)) return true;
  return false;
}

bool kl_cfg_check_policies(walk *w, kl_config *c) {
  const yaml_node_t *root = yaml_document_get_root_node(w->doc);
  if (c->default_policy && !policy_exists(c, c->default_policy))
    return kl_cfg_fail(w, kl_cfg_get(w, kl_cfg_get(w, root, "guardrails"), "default"),
                       "guardrails.default: no policy named '%.60s'", c->default_policy);
  const yaml_node_t *models = kl_cfg_get(w, root, "models");
  for (size_t i = 0; i < c->nmodels; i++) {
    const char *g = c->models[i].guardrails;
    if (!g || policy_exists(c, g)) continue;
    const yaml_node_t *mn = models && models->type == YAML_SEQUENCE_NODE
                                ? kl_cfg_node(w, models->data.sequence.items.start[i]) : root;
    return kl_cfg_fail(w, kl_cfg_get(w, mn, "guardrails"), "models[%zu].guardrails: no policy named '%.60s'", i, g);
  }
  return true;
}

void kl_cfg_free_guardrails(kl_config *c) {
  for (size_t i = 0; i < c->npolicies; i++) {
    kl_policy_cfg *p = &c->policies[i];
    for (size_t j = 0; j < p->nscanners; j++) {
      kl_guard_scanner_cfg *s = &p->scanners[j];
      free((char *)s->kind);
      free((char *)s->name);
      free((char *)s->url);
      for (size_t k = 0; k < s->nlist; k++) free((char *)s->list[k]);
      free((void *)s->list);
    }
    free(p->scanners);
    free(p->name);
  }
  free(c->policies);
  free(c->default_policy);
}
