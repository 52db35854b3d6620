/* tracer.c: builds GENERATION observations and submits them to the store.
 *
 * Cost, most specific first: a cost the upstream reported itself (it knows its own discounts
 * and surcharges); then a price the operator configured (the deployment's own `price:`, then
 * a `prices:` entry for the public name, then for the upstream model), because an operator
 * who wrote a price means it even for a model the table knows; then the table by upstream
 * model (that is what the provider bills), then by public name, so an alias like "fast" ->
 * gpt-4o-mini is still priced.  Prices are those in effect at the call's start.  An
 * unpriced model records cost -1 (unknown), never 0: a zero would look like a free call.
 *
 * Scrubbing: a handful of registered secrets is searched with memmem in each stored
 * string; that is a few hundred ns per KiB and only runs once per call, off the streaming
 * path.  "Bearer xxx" tokens are masked too. */
#include "trace/kl_trace.h"
#include "trace/kl_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECRETS 64
#define REDACTED "[REDACTED]"

struct kl_tracer {
  kl_store *store;
  kl_exporter *exporter;   /* OTLP export (kl_export.h), or NULL */
  const kl_prices *prices;
  bool capture_content;
  char *environment;
  char *secrets[MAX_SECRETS];
  size_t nsecrets;
};

kl_tracer *kl_tracer_new(const kl_tracer_opts *opts) {
  kl_tracer *t = calloc(1, sizeof *t);
  if (!t) abort();
  t->store = opts->store;
  t->exporter = opts->exporter;
  t->prices = opts->prices;
  t->capture_content = opts->capture_content;
  t->environment = strdup(opts->environment ? opts->environment : "default");
  return t;
}

void kl_tracer_free(kl_tracer *t) {
  if (!t) return;
  for (size_t i = 0; i < t->nsecrets; i++) free(t->secrets[i]);
  free(t->environment);
  free(t);
}

void kl_tracer_add_secret(kl_tracer *t, const char *secret) {
  /* very short "secrets" would mangle ordinary text; real keys are long */
  if (!secret || strlen(secret) < 8 || t->nsecrets >= MAX_SECRETS) return;
  for (size_t i = 0; i < t->nsecrets; i++)
    if (!strcmp(t->secrets[i], secret)) return;
  t->secrets[t->nsecrets++] = strdup(secret);
}

/* "Bearer " or "bearer ": one pass for "earer " instead of one per spelling */
static bool contains_bearer(const char *s) {
  for (const char *p = s; (p = strstr(p, "earer ")) != NULL; p++)
    if (p > s && (p[-1] == 'B' || p[-1] == 'b')) return true;
  return false;
}

static bool needs_scrub(const kl_tracer *t, const char *s) {
  if (!s) return false;
  bool hit = contains_bearer(s);
  for (size_t i = 0; !hit && i < t->nsecrets; i++) hit = strstr(s, t->secrets[i]) != NULL;
  return hit;
}

const char *kl_tracer_scrub(kl_tracer *t, kl_arena *a, const char *s) {
  if (!needs_scrub(t, s)) return s;
  kl_buf b = KL_BUF_INIT;
  kl_buf_puts(&b, s);
  for (size_t i = 0; i < t->nsecrets; i++) {
    const char *sec = t->secrets[i];
    size_t sl = strlen(sec);
    char *p;
    while ((p = strstr(b.data, sec)) != NULL) {
      size_t off = (size_t)(p - b.data);
      kl_buf tmp = KL_BUF_INIT;
      kl_buf_append(&tmp, b.data, off);
      kl_buf_puts(&tmp, REDACTED);
      kl_buf_puts(&tmp, b.data + off + sl);
      kl_buf_free(&b);
      b = tmp;
    }
  }
  /* "Bearer <token>": mask the token up to the next quote, space or backslash */
  for (size_t off = 0;;) {
    char *p = strstr(b.data + off, "Bearer ");
    if (!p) p = strstr(b.data + off, "bearer ");
    if (!p) break;
    char *tok = p + 7, *e = tok;
    while (*e && *e != '"' && *e != ' ' && *e != '\\' && *e != '\'' && *e != ',') e++;
    if (e - tok >= 8 && strncmp(tok, REDACTED, strlen(REDACTED)) != 0) {
      kl_buf tmp = KL_BUF_INIT;
      kl_buf_append(&tmp, b.data, (size_t)(tok - b.data));
      kl_buf_puts(&tmp, REDACTED);
      off = tmp.len;
      kl_buf_puts(&tmp, e);
      kl_buf_free(&b);
      b = tmp;
    } else {
      off = (size_t)(e - b.data);
    }
  }
  const char *r = kl_arena_strdup(a, b.data);
  kl_buf_free(&b);
  return r;
}

/* Scrubs into an arena made on the first hit: nearly every call has nothing to scrub, and a
 * 4 KiB arena per call was a malloc/free pair large enough to make glibc consolidate its
 * fast bins each time. */
static const char *scrub_lazy(kl_tracer *t, kl_arena **a, const char *s) {
  if (!needs_scrub(t, s)) return s;
  if (!*a) *a = kl_arena_new(4096);
  return kl_tracer_scrub(t, *a, s);
}

/* snprintf("%s") into a fixed id field, without printf */
static void copy_id(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = 0;
}

/* OTLP export hook (keel issue 5): every observation that goes to the store also goes to the
 * exporter, which copies it and never blocks; either may be absent. */
static int submit(kl_tracer *t, const kl_obs *o, kl_err *err) {
  if (t->exporter) kl_exporter_submit(t->exporter, o);
  return t->store ? kl_store_submit(t->store, o, err) : 0;
}

/* The recorded cost and its JSON (see the top of the file for the order); -1 = unpriced. */
static double price_generation(const kl_tracer *t, const kl_generation *g, kl_buf *cost) {
  const kl_usage *u = &g->usage;
  int64_t at = g->start_ns > 0 ? g->start_ns : kl_now_ns();
  if (u->cost_reported && u->reported_cost >= 0) {
    kl_buf_puts(cost, "{\"total\":");
    kl_buf_g15(cost, u->reported_cost);
    kl_buf_puts(cost, ",\"source\":\"upstream\"}");
    return u->reported_cost;
  }
  struct { const kl_prices *p; kl_prices_part part; const char *name; } steps[] = {
      {g->deployment_prices, KL_PRICES_OVERRIDES, g->model},
      {t->prices, KL_PRICES_OVERRIDES, g->model},
      {t->prices, KL_PRICES_OVERRIDES, g->upstream_model},
      {t->prices, KL_PRICES_TABLE, g->upstream_model},
      {t->prices, KL_PRICES_TABLE, g->model},
  };
  bool same_name = g->model && g->upstream_model && !strcmp(g->model, g->upstream_model);
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    if (!steps[i].p || !steps[i].name) continue;
    /* model == upstream_model: steps [2] and [4] would ask again what [1] and [3] asked */
    if (same_name && (i == 2 || i == 4)) continue;
    kl_buf_reset(cost);
    double c = kl_prices_cost_at(steps[i].p, steps[i].part, steps[i].name, at, u, g->params, NULL, cost);
    if (c >= 0) return c;
  }
  kl_buf_reset(cost);
  return -1;
}

int kl_tracer_generation(kl_tracer *t, const kl_generation *g, double *cost_usd, kl_err *err) {
  kl_arena *a = NULL;
  const kl_trace_ctx *ctx = g->ctx;
  kl_obs o;
  memset(&o, 0, sizeof o);
  copy_id(o.id, sizeof o.id, ctx->span_id);
  copy_id(o.trace_id, sizeof o.trace_id, ctx->trace_id);
  copy_id(o.parent_id, sizeof o.parent_id, ctx->parent_id);
  o.type = g->type ? g->type : KL_OBS_GENERATION;
  o.name = g->name;
  o.level = g->error ? "ERROR" : "DEFAULT";
  o.status_message = scrub_lazy(t, &a, g->error);
  o.http_status = g->http_status;
  o.start_ns = g->start_ns;
  o.end_ns = g->end_ns;
  o.completion_start_ns = g->first_token_ns;
  o.model = g->model;
  o.provider = g->provider;
  o.upstream_model = g->upstream_model;
  o.model_params_json = g->model_params_json;
  if (t->capture_content) {
    o.input_json = scrub_lazy(t, &a, g->input_json);
    o.output_json = scrub_lazy(t, &a, g->output_json);
  }
  o.metadata_json = scrub_lazy(t, &a, ctx->metadata_json);
  o.finish_reason = g->finish_reason;
  o.usage_input = g->usage.input;
  o.usage_input_cached = g->usage.input_cached;
  o.usage_input_cache_write = g->usage.input_cache_write;
  o.usage_output = g->usage.output;
  o.usage_output_reasoning = g->usage.output_reasoning;
  o.usage_estimated = g->usage.estimated;
  kl_buf usage = KL_BUF_INIT, cost = KL_BUF_INIT;
  kl_usage_to_json(&g->usage, &usage);
  o.usage_json = usage.data;
  o.cost_usd = price_generation(t, g, &cost);
  o.cost_json = o.cost_usd >= 0 && cost.len ? cost.data : NULL;
  if (cost_usd) *cost_usd = o.cost_usd;
  o.trace_name = ctx->trace_name ? ctx->trace_name : g->name;
  o.user_id = ctx->user_id;
  o.session_id = ctx->session_id;
  o.tags_json = ctx->tags_json;
  o.environment = t->environment;
  int rc = submit(t, &o, err);
  kl_buf_free(&usage);
  kl_buf_free(&cost);
  kl_arena_free(a);
  return rc;
}

int kl_tracer_span(kl_tracer *t, const kl_span *s, kl_err *err) {
  if (!t->store && !t->exporter) return 0;
  kl_arena *a = NULL; /* only when something needs scrubbing, as for generations */
  const kl_trace_ctx *ctx = s->ctx;
  kl_obs o;
  memset(&o, 0, sizeof o);
  if (s->id && *s->id) copy_id(o.id, sizeof o.id, s->id);
  else kl_id_span(o.id);
  copy_id(o.trace_id, sizeof o.trace_id, ctx->trace_id);
  copy_id(o.parent_id, sizeof o.parent_id, s->parent_id ? s->parent_id : ctx->span_id);
  o.type = s->type ? s->type : KL_OBS_SPAN;
  o.name = s->name;
  o.level = s->level ? s->level : "DEFAULT";
  o.status_message = scrub_lazy(t, &a, s->status_message);
  o.start_ns = s->start_ns;
  o.end_ns = s->end_ns;
  if (t->capture_content) {
    o.input_json = scrub_lazy(t, &a, s->input_json);
    o.output_json = scrub_lazy(t, &a, s->output_json);
  }
  o.metadata_json = scrub_lazy(t, &a, s->metadata_json);
  o.cost_usd = -1;
  o.trace_name = ctx->trace_name ? ctx->trace_name : s->trace_name;
  o.user_id = ctx->user_id;
  o.session_id = ctx->session_id;
  o.tags_json = ctx->tags_json;
  o.environment = t->environment;
  int rc = submit(t, &o, err);
  if (a) kl_arena_free(a);
  return rc;
}
