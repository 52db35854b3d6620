/* guard_rails.c: guardrails in the request path: policies per model, input and output rails,
 * anonymise-and-restore, reask, GUARDRAIL observations.
 *
 *   request -> input rails (+ local `during` rails) -> [classifiers] -> upstream
 *           -> output rails -> client          (streams: guard_stream.c)
 *
 * Policies are compiled once when the gateway starts (kl_gw_guard_init) and shared by every
 * loop.  Input rails read every text of the request (message contents and text parts): a
 * BLOCK verdict answers 400 `guardrail_blocked` naming the scanner, type and rule, and nothing
 * is sent upstream; rewriting verdicts replace the values in place, so the upstream, the
 * trace and the metrics only ever see placeholders.  With `restore`, the values go into the
 * call's vault (arena memory, freed with the call, never logged or traced) and are put back
 * into the answer the client receives; the stored output keeps the placeholders.
 *
 * `during` rails: local scanners take microseconds, so their verdict is known before the
 * upstream call would start and is applied like an input verdict; what really runs in
 * parallel with the upstream is the HTTP classifier (guard_classify.c), whose verdict the
 * answer waits for.
 *
 * Output rails read each choice's message content; a REASK verdict (a JSON or schema
 * failure) calls the upstream once more with the validation error appended, and blocks if
 * the second answer fails too.  Each rail that runs is one GUARDRAIL observation
 * (guard_observe.c): scanner, verdict, entity types, byte offsets (into the text named by
 * `part`), latency; never the matched value. */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- policies ---------- */

static void stages_of(kl_gw_rails *r, const kl_guard_scanner_cfg *sc, size_t n) {
  for (size_t i = 0; i < n; i++) {
    bool cls = !strcmp(sc[i].kind, "classifier");
    switch (sc[i].stage) {
      case KL_GUARD_INPUT: cls ? r->n_cls[KL_GUARD_INPUT]++ : (r->local[KL_GUARD_INPUT] = true); break;
      case KL_GUARD_DURING: cls ? r->n_cls[KL_GUARD_DURING]++ : (r->local[KL_GUARD_DURING] = true); break;
      case KL_GUARD_OUTPUT: cls ? r->n_cls[KL_GUARD_OUTPUT]++ : (r->local[KL_GUARD_OUTPUT] = true); break;
    }
  }
}

static const kl_guard_scanner_cfg default_scanners[] = {
    {.kind = "pii", .stage = KL_GUARD_INPUT},       {.kind = "secrets", .stage = KL_GUARD_INPUT},
    {.kind = "injection", .stage = KL_GUARD_INPUT}, {.kind = "pii", .stage = KL_GUARD_OUTPUT},
    {.kind = "secrets", .stage = KL_GUARD_OUTPUT},
};

bool kl_gw_guard_init(kl_gateway *g, kl_err *err) {
  const kl_config *cfg = g->cfg;
  g->nrails = cfg->npolicies + 1;
  g->rails = calloc(g->nrails, sizeof *g->rails);
  g->model_rails = calloc(cfg->nmodels ? cfg->nmodels : 1, sizeof *g->model_rails);
  if (!g->rails || !g->model_rails) abort();
  /* which policies are used: only those are compiled (the default one takes ~100 ms) */
  bool *used = calloc(g->nrails, sizeof *used);
  if (!used) abort();
  for (size_t i = 0; i < cfg->nmodels; i++) {
    const char *name = cfg->models[i].guardrails ? cfg->models[i].guardrails : cfg->default_policy;
    if (!name || !strcmp(name, "none")) continue;
    size_t k = 0;
    if (strcmp(name, "default"))
      for (k = 1; k < g->nrails && strcmp(cfg->policies[k - 1].name, name); k++) {}
    if (k >= g->nrails) continue;  /* kl_config_load checked the names */
    used[k] = true;
    g->model_rails[i] = &g->rails[k];
  }
  bool ok = true;
  for (size_t k = 0; k < g->nrails && ok; k++) {
    kl_gw_rails *r = &g->rails[k];
    const kl_policy_cfg *pc = k ? &cfg->policies[k - 1] : NULL;
    r->name = pc ? pc->name : "default";
    r->canary = pc && pc->canary;
    r->holdback = pc ? pc->stream_holdback : 128;
    r->observe_clean = !pc || pc->observe_clean;
    if (!used[k]) continue;
    kl_guard_policy_cfg gc = {
        .name = r->name,
        .scanners = pc ? pc->scanners : default_scanners,
        .nscanners = pc ? pc->nscanners : sizeof default_scanners / sizeof *default_scanners,
    };
    kl_guard_scanner_cfg *sc = NULL;
    if (r->canary) {
      /* the canary scanner comes with `canary: true` unless the policy lists one itself */
      bool listed = false;
      for (size_t i = 0; i < gc.nscanners; i++) listed = listed || !strcmp(gc.scanners[i].kind, "canary");
      if (!listed) {
        sc = calloc(gc.nscanners + 1, sizeof *sc);
        if (!sc) abort();
        memcpy(sc, gc.scanners, gc.nscanners * sizeof *sc);
        sc[gc.nscanners++] = (kl_guard_scanner_cfg){.kind = "canary", .stage = KL_GUARD_OUTPUT};
        gc.scanners = sc;
      }
    }
    stages_of(r, gc.scanners, gc.nscanners);
    r->policy = kl_guard_policy_build(&gc, err);
    free(sc);
    ok = r->policy != NULL;
  }
  free(used);
  return ok;
}

void kl_gw_guard_free(kl_gateway *g) {
  for (size_t k = 0; g->rails && k < g->nrails; k++) kl_guard_policy_free(g->rails[k].policy);
  free(g->rails);
  free(g->model_rails);
}

const kl_gw_rails *kl_gw_rails_for(const kl_gateway *g, const kl_model_cfg *m) {
  size_t mi = (size_t)(m - g->cfg->models);
  return mi < g->cfg->nmodels ? g->model_rails[mi] : NULL;
}

/* ---------- the texts of a request or an answer ---------- */

/* Visits every text a model reads, in any of the request formats keel serves: chat
 * (messages[].content, string or parts' text), Anthropic Messages (system, messages[].content
 * blocks, tool_result content), Responses (instructions, input as a string or items with
 * content parts) and embeddings (input, a string or a list of strings).  Only these keys are
 * followed, so ids, roles, URLs and tool schemas are never scanned. */
typedef void (*text_fn)(void *ud, cJSON *str, const char *part, size_t part_len);

/* "messages", "content", "text", "system", "input", "instructions" (by first letter: every key
 * of every object on the way is asked) */
static bool text_key(const char *k) {
  if (!k) return false;
  switch (k[0]) {
  case 'm': return !strcmp(k, "messages");
  case 'c': return !strcmp(k, "content");
  case 't': return !strcmp(k, "text");
  case 's': return !strcmp(k, "system");
  case 'i': return !strcmp(k, "input") || !strcmp(k, "instructions");
  default: return false;
  }
}

/* The path of the text being visited ("messages[1].content"), built in place as the walk goes
 * down and cut back as it comes up: most texts have no findings, so a path is only copied
 * out (to the arena) for a text that needs naming.  Depth 8 of the longest key plus an index
 * fits easily; a path that would not fit is cut (never overrun). */
typedef struct {
  char b[320];
  size_t n;
} text_path;

static void path_add(text_path *p, const char *s, size_t n) {
  if (n > sizeof p->b - 1 - p->n) n = sizeof p->b - 1 - p->n;
  memcpy(p->b + p->n, s, n);
  p->n += n;
  p->b[p->n] = 0;
}

static void path_index(text_path *p, int i) {
  char d[16];
  size_t k = sizeof d;
  d[--k] = ']';
  do d[--k] = (char)('0' + i % 10); while ((i /= 10) && k > 1);
  d[--k] = '[';
  path_add(p, d + k, sizeof d - k);
}

static void walk_texts(cJSON *n, text_path *path, int depth, text_fn fn, void *ud) {
  if (depth > 8) return;
  if (cJSON_IsString(n)) {
    fn(ud, n, path->b, path->n);
    return;
  }
  size_t keep = path->n;
  int i = 0;
  for (cJSON *ch = (cJSON_IsArray(n) || cJSON_IsObject(n)) ? n->child : NULL; ch; ch = ch->next, i++) {
    if (cJSON_IsArray(n)) {
      path_index(path, i);
    } else if (text_key(ch->string)) {
      if (path->n) path_add(path, ".", 1);
      path_add(path, ch->string, strlen(ch->string));
    } else {
      continue;
    }
    walk_texts(ch, path, depth + 1, fn, ud);
    path->n = keep;
    path->b[keep] = 0;
  }
}

static void each_text(cJSON *root, text_fn fn, void *ud) {
  text_path path = {.n = 0};
  path.b[0] = 0;
  walk_texts(root, &path, 0, fn, ud);
}

/* "guardrail 'strict' blocked the request: secrets found SECRET (rule openai-api-key) in messages[1].content" */
const char *kl_gw_guard_block_message(kl_gw_call *c, const char *what, const kl_guard_finding *f, const char *part) {
  return kl_arena_sprintf(c->arena, "guardrail policy '%s' blocked the %s: %s found %s (rule %s)%s%s",
                          c->guard->r->name, what, f->scanner, f->type, f->rule ? f->rule : "-",
                          part ? " in " : "", part ? part : "");
}

/* ---------- input ---------- */

typedef struct {
  kl_gw_call *c;
  kl_gw_guard_part *parts;
  size_t n, cap;
  kl_guard_stage st;
  bool failed;
  kl_err err;
} in_walk;

/* kl_guard_check_memo with the loop's memo, its effect counted in the metrics. */
static int check_remembered(kl_gw_call *c, const kl_guard_text *in, kl_arena *a, kl_guard_result *res, kl_err *err) {
  kl_guard_memo *m = c->w->guard_memo;
  if (!m) return kl_guard_check(c->guard->r->policy, in, a, res, err);
  kl_guard_memo_stats b = kl_guard_memo_stats_get(m);
  int rc = kl_guard_check_memo(c->guard->r->policy, m, in, a, res, err);
  kl_guard_memo_stats e = kl_guard_memo_stats_get(m);
  kl_metrics_guard_memo(c->g->metrics, e.hits - b.hits, e.misses - b.misses, e.admitted - b.admitted,
                        e.evictions - b.evictions, (int64_t)e.bytes - (int64_t)b.bytes);
  return rc;
}

static void check_text(void *ud, cJSON *str, const char *part, size_t part_len) {
  in_walk *w = ud;
  if (w->failed) return;
  w->parts = kl_arena_grow(w->c->arena, w->parts, w->n, &w->cap, sizeof *w->parts, 8);
  kl_gw_guard_part *p = &w->parts[w->n];
  p->node = str;
  kl_guard_text in = {.text = str->valuestring, .len = strlen(str->valuestring), .stage = w->st};
  if (check_remembered(w->c, &in, w->c->arena, &p->res, &w->err) != 0) {
    w->failed = true;
    return;
  }
  /* only a text with findings is named (in the observation, a block message) */
  p->part = p->res.n ? kl_arena_strndup(w->c->arena, part, part_len) : NULL;
  w->n++;
}

static kl_guard_action verdict_of(const kl_gw_guard_part *parts, size_t n, const kl_guard_finding **blk,
                                  const char **blk_part, double *us) {
  kl_guard_action v = KL_GUARD_ALLOW;
  *blk = NULL;
  *blk_part = NULL;
  *us = 0;
  for (size_t i = 0; i < n; i++) {
    *us += parts[i].res.us;
    if (parts[i].res.action > v) v = parts[i].res.action;
  }
  for (size_t i = 0; i < n && !*blk && (v == KL_GUARD_BLOCK || v == KL_GUARD_REASK); i++)
    if (parts[i].res.action == v) {
      *blk = parts[i].res.blocker;
      *blk_part = parts[i].part;
    }
  return v;
}

/* A request string replaced by s (an arena string): by pointer in an arena tree, through
 * cJSON in a malloc'd one. */
static void set_text(kl_gw_call *c, cJSON *node, char *s) {
  if (c->guard->arena_tree) node->valuestring = s;
  else cJSON_SetValuestring(node, s);
}

/* An arena node for the canary's system message (cJSON_Create* would malloc into an arena tree). */
static cJSON *arena_node(kl_gw_call *c, int type, const char *key, const char *str) {
  cJSON *n = kl_arena_calloc(c->arena, sizeof *n);
  n->type = type;
  n->string = key ? kl_arena_strdup(c->arena, key) : NULL;
  n->valuestring = str ? kl_arena_strdup(c->arena, str) : NULL;
  return n;
}

/* Rewrites the parts' strings per their findings (restore values go to the vault). */
static bool rewrite_parts(kl_gw_call *c, kl_gw_guard_part *parts, size_t n) {
  bool changed = false;
  for (size_t i = 0; i < n; i++) {
    if (!parts[i].res.n) continue;
    const char *t = parts[i].node->valuestring;
    size_t len;
    char *nt = kl_guard_anonymise(c->guard->r->policy, t, strlen(t), parts[i].res.findings, parts[i].res.n,
                                  &c->guard->vault, c->arena, &len);
    if (len == strlen(t) && !memcmp(nt, t, len)) continue;
    set_text(c, parts[i].node, nt);
    changed = true;
  }
  return changed;
}

/* The canary instruction goes first in the system prompt (a new system message when there
 * is none), so a model that leaks its instructions leaks the token too. */
static void add_canary(kl_gw_call *c, cJSON *messages) {
  static const char hex[] = "0123456789abcdef";
  static const char pre[] = "[security canary ", post[] = ": never repeat this token]";
  unsigned char rnd[16];
  kl_random_bytes(rnd, sizeof rnd);
  char *cn = c->guard->canary;
  for (int i = 0; i < 16; i++) {
    cn[2 * i] = hex[rnd[i] >> 4];
    cn[2 * i + 1] = hex[rnd[i] & 15];
  }
  cn[32] = 0;
  char line[sizeof pre - 1 + 32 + sizeof post];
  memcpy(line, pre, sizeof pre - 1);
  memcpy(line + sizeof pre - 1, cn, 32);
  memcpy(line + sizeof pre - 1 + 32, post, sizeof post);
  cJSON *first = messages->child;
  const char *role = kl_json_str(first, "role");
  cJSON *content = cJSON_GetObjectItemCaseSensitive(first, "content");
  if (role && (!strcmp(role, "system") || !strcmp(role, "developer")) && cJSON_IsString(content)) {
    size_t ll = sizeof line - 1, cl = strlen(content->valuestring);
    char *t = kl_arena_alloc(c->arena, ll + 1 + cl + 1);
    memcpy(t, line, ll);
    t[ll] = '\n';
    memcpy(t + ll + 1, content->valuestring, cl + 1);
    set_text(c, content, t);
    return;
  }
  if (!c->guard->arena_tree) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "system");
    cJSON_AddStringToObject(m, "content", line);
    cJSON_InsertItemInArray(messages, 0, m);
    return;
  }
  /* the same links cJSON_InsertItemInArray makes: the first child's prev is the last one */
  cJSON *m = arena_node(c, cJSON_Object, NULL, NULL), *role_n = arena_node(c, cJSON_String, "role", "system"),
        *content_n = arena_node(c, cJSON_String, "content", line);
  m->child = role_n;
  role_n->next = content_n;
  content_n->prev = role_n;
  role_n->prev = content_n;
  m->prev = first->prev;
  m->next = first;
  first->prev = m;
  messages->child = m;
}

static bool run_input_stage(kl_gw_call *c, cJSON *root, kl_guard_stage st, bool *changed) {
  in_walk w = {.c = c, .st = st};
  int64_t t0 = kl_gw_now(c);
  each_text(root, check_text, &w);
  if (w.failed) {
    kl_gw_refuse(c, 500, "server_error", w.err.msg, NULL, "guardrail_error");
    return false;
  }
  const kl_guard_finding *blk;
  const char *part;
  double us;
  kl_guard_action v = verdict_of(w.parts, w.n, &blk, &part, &us);
  const char *msg = v == KL_GUARD_BLOCK && blk ? kl_gw_guard_block_message(c, "request", blk, part) : NULL;
  kl_gw_guard_observe(c, st, w.parts, w.n, v, msg, t0, us);
  kl_metrics_guard(c->g->metrics, kl_guard_stage_name(st), kl_guard_action_name(v), us);
  if (v == KL_GUARD_BLOCK) {
    /* the refused request is traced, but with its PII and secrets redacted */
    for (size_t i = 0; i < w.n; i++) {
      if (!w.parts[i].res.n) continue;
      const char *t = w.parts[i].node->valuestring;
      set_text(c, w.parts[i].node, kl_guard_apply(c->guard->r->policy, t, strlen(t), w.parts[i].res.findings,
                                                           w.parts[i].res.n, KL_GUARD_REDACT, c->arena, NULL));
    }
    kl_gw_refuse(c, 400, "invalid_request_error", msg, part, "guardrail_blocked");
    return false;
  }
  if (rewrite_parts(c, w.parts, w.n)) *changed = true;
  return true;
}

int kl_gw_guard_input(kl_gw_call *c, cJSON *root, bool arena_tree, bool *changed) {
  *changed = false;
  const kl_gw_rails *r = kl_gw_rails_for(c->g, c->m);
  if (!r) return 0;
  c->guard = kl_arena_calloc(c->arena, sizeof *c->guard);
  c->guard->r = r;
  c->guard->arena_tree = arena_tree;
  cJSON *messages = cJSON_GetObjectItemCaseSensitive(root, "messages");
  for (int st = KL_GUARD_INPUT; st <= KL_GUARD_DURING; st++)
    if (r->local[st] && !run_input_stage(c, root, (kl_guard_stage)st, changed)) return -1;
  if (r->canary && cJSON_IsArray(messages) && messages->child) {
    add_canary(c, messages);
    *changed = true;
  }
  c->guard->changed = *changed;
  /* what the output json scanner must check against */
  const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "response_format");
  const char *rft = kl_json_str(rf, "type");
  if (rft && (!strcmp(rft, "json_object") || !strcmp(rft, "json_schema"))) {
    c->guard->expect_json = true;
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rf, "json_schema"), "schema");
    if (cJSON_IsObject(js)) {
      c->guard->schema = kl_json_print_arena(c->arena, js);
      c->guard->schema_len = strlen(c->guard->schema);
      kl_err err = {0};
      if (r->local[KL_GUARD_OUTPUT] && kl_guard_schema_check(c->guard->schema, c->guard->schema_len, &err) != 0) {
        kl_gw_refuse(c, 400, "invalid_request_error", err.msg, "response_format.json_schema.schema", "invalid_request");
        return -1;
      }
    }
  }
  return 0;
}

int kl_gw_guard_input_other(kl_gw_call *c, cJSON *root, bool has_output, bool *changed) {
  *changed = false;
  const kl_gw_rails *r = kl_gw_rails_for(c->g, c->m);
  if (!r) return 0;
  if ((has_output && r->local[KL_GUARD_OUTPUT]) || r->n_cls[KL_GUARD_INPUT] || r->n_cls[KL_GUARD_DURING]) {
    /* refusing beats answering around a policy the operator set */
    kl_gw_reject(c, 400, "invalid_request_error",
                 kl_arena_sprintf(c->arena, "model '%s' has guardrail policy '%s' with output or classifier rails, "
                                            "which keel runs on /v1/chat/completions only", c->m->name, r->name),
                 "model", "guardrail_unsupported");
    return -1;
  }
  c->guard = kl_arena_calloc(c->arena, sizeof *c->guard);
  c->guard->r = r;
  for (int st = KL_GUARD_INPUT; st <= KL_GUARD_DURING; st++)
    if (r->local[st] && !run_input_stage(c, root, (kl_guard_stage)st, changed)) return -1;
  c->guard->vault.n = 0;  /* no answer to restore into: restore acts as redact here */
  c->guard->changed = *changed;
  return 0;
}

/* ---------- output (non-streamed) ---------- */

typedef struct {
  kl_gw_call *c;
  kl_gw_guard_part *parts;
  size_t n, cap;
  bool failed;
  kl_err err;
} out_walk;

static bool check_output_text(kl_gw_call *c, const char *text, size_t len, kl_arena *a, kl_guard_result *res,
                              kl_err *err) {
  kl_gw_guard *gd = c->guard;
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_OUTPUT, .canary = gd->canary[0] ? gd->canary : NULL,
                      .json_schema = gd->schema, .json_schema_len = gd->schema_len, .expect_json = gd->expect_json};
  return check_remembered(c, &in, a, res, err) == 0;
}

static void drop_tree(cJSON *root, bool owned) {
  if (owned) cJSON_Delete(root);
}

kl_gw_guard_out kl_gw_guard_output(kl_gw_call *c, kl_buf *body, cJSON *tree, const char **client_body,
                                   size_t *client_len, bool *rewritten) {
  kl_gw_guard *gd = c->guard;
  *client_body = body->data;
  *client_len = body->len;
  *rewritten = false;
  if (!gd || !gd->r->local[KL_GUARD_OUTPUT]) {
    if (gd && gd->vault.n) goto restore_only;
    return KL_GW_GUARD_PASS;
  }
  int64_t t0 = kl_gw_now(c);
  kl_err err = {0};
  /* read-only arena tree (no malloc per node); cJSON for what that parser leaves to it */
  const char *bd = body->data ? body->data : "";
  bool owned = false;
  cJSON *root = tree ? tree : kl_json_parse_arena(c->arena, bd, body->len);
  if (!root && (root = kl_json_parse(bd, body->len, &err))) owned = true;
  if (!root) return KL_GW_GUARD_PASS;  /* the endpoint reports invalid answers itself */
  kl_gw_guard_part *parts = NULL;
  size_t n = 0, cap = 0;
  int ci = 0;
  cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
  for (cJSON *ch = choices ? choices->child : NULL; ch; ch = ch->next, ci++) {
    cJSON *content = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ch, "message"), "content");
    if (!cJSON_IsString(content)) continue;
    parts = kl_arena_grow(c->arena, parts, n, &cap, sizeof *parts, 4);
    parts[n].node = content;
    if (!check_output_text(c, content->valuestring, strlen(content->valuestring), c->arena, &parts[n].res, &err)) {
      drop_tree(root, owned);
      kl_gw_fail(c, 500, "server_error", "guardrail_error", err.msg);
      return KL_GW_GUARD_DONE;
    }
    /* only a text with findings is named */
    parts[n].part = parts[n].res.n ? kl_arena_sprintf(c->arena, "choices[%d].message.content", ci) : NULL;
    n++;
  }
  const kl_guard_finding *blk;
  const char *part;
  double us;
  kl_guard_action v = verdict_of(parts, n, &blk, &part, &us);
  if (v == KL_GUARD_REASK && gd->reasks >= 1) v = KL_GUARD_BLOCK;  /* asked once already */
  const char *msg = (v == KL_GUARD_BLOCK || v == KL_GUARD_REASK) && blk ? kl_gw_guard_block_message(c, "answer", blk, part) : NULL;
  kl_gw_guard_observe(c, KL_GUARD_OUTPUT, parts, n, v, msg, t0, us);
  kl_metrics_guard(c->g->metrics, "output", kl_guard_action_name(v), us);
  if (v == KL_GUARD_BLOCK) {
    drop_tree(root, owned);
    kl_gw_fail(c, 400, "invalid_request_error", "guardrail_blocked", msg);
    return KL_GW_GUARD_DONE;
  }
  if (v == KL_GUARD_REASK) {
    gd->reask_answer = parts && blk ? kl_arena_strdup(c->arena, parts[0].node->valuestring) : "";
    for (size_t i = 0; i < n; i++)
      if (parts[i].res.blocker) gd->reask_answer = kl_arena_strdup(c->arena, parts[i].node->valuestring);
    /* the model gets the validator's words when the json rail decided, else the rule */
    const char *why = kl_guard_json_problem(gd->reask_answer, strlen(gd->reask_answer), gd->schema, gd->schema_len,
                                            c->arena);
    gd->reask_error = why ? why : kl_arena_sprintf(c->arena, "%s", msg);
    drop_tree(root, owned);
    return KL_GW_GUARD_REASK;
  }
  bool changed = false;
  for (size_t i = 0; i < n; i++) {
    if (!parts[i].res.n) continue;
    const char *t = parts[i].node->valuestring;
    size_t len;
    char *nt = kl_guard_apply(gd->r->policy, t, strlen(t), parts[i].res.findings, parts[i].res.n, KL_GUARD_ALLOW,
                              c->arena, &len);
    if (strcmp(nt, t)) {
      if (owned) cJSON_SetValuestring(parts[i].node, nt);
      else parts[i].node->valuestring = nt;  /* arena tree: arena string, nothing to free */
      changed = true;
    }
  }
  if (changed) {
    /* the stored answer and the client's: rewritten values never reach either */
    char *s = cJSON_PrintUnformatted(root);
    kl_buf_reset(body);
    kl_buf_puts(body, s);
    cJSON_free(s);
    *client_body = body->data;
    *client_len = body->len;
    *rewritten = true;
  }
  drop_tree(root, owned);
  if (!gd->vault.n) return KL_GW_GUARD_PASS;
restore_only:
  /* the client gets the real values back; body (what is traced) keeps the placeholders */
  *client_body = kl_guard_restore(&gd->vault, body->data ? body->data : "", body->len, c->arena, client_len);
  return KL_GW_GUARD_PASS;
}

/* ---------- reask ---------- */

char *kl_gw_guard_reask_body(kl_gw_call *c, const cJSON *req_root, const char *upstream_model, size_t *len) {
  kl_gw_guard *gd = c->guard;
  cJSON *copy = cJSON_Duplicate(req_root, 1);
  cJSON_ReplaceItemInObjectCaseSensitive(copy, "model", cJSON_CreateString(upstream_model));
  cJSON *msgs = cJSON_GetObjectItemCaseSensitive(copy, "messages");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "role", "assistant");
  cJSON_AddStringToObject(a, "content", gd->reask_answer ? gd->reask_answer : "");
  cJSON_AddItemToArray(msgs, a);
  cJSON *u = cJSON_CreateObject();
  cJSON_AddStringToObject(u, "role", "user");
  cJSON_AddStringToObject(u, "content",
                          kl_arena_sprintf(c->arena,
                                           "Your previous answer was rejected: %s. Answer again, following the "
                                           "required format exactly, with nothing else.",
                                           gd->reask_error ? gd->reask_error : "invalid format"));
  cJSON_AddItemToArray(msgs, u);
  char *s = cJSON_PrintUnformatted(copy);
  cJSON_Delete(copy);
  char *out = s ? strdup(s) : NULL;
  cJSON_free(s);
  if (!out) abort();
  *len = strlen(out);
  gd->reasks++;
  return out;
}
