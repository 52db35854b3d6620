/* gateway.c: the shared gateway object and its per-loop workers.
 *
 * Everything in kl_gateway is immutable after kl_gateway_new (config, price table, model
 * list) or internally synchronised (tracer -> store queue, atomic metrics), so worker loops
 * share it without locks.  A kl_gw_worker holds what must not be shared across threads: the
 * libcurl multi handle (kl_upstream) and the count of calls in flight on that loop. */
#include "gateway/gw_internal.h"
#include "trace/kl_export.h"

#include <stdlib.h>
#include <string.h>

/* The config speaks USD per 1M tokens, the table per token. */
static kl_price per_token(const kl_price_cfg *p) {
  return (kl_price){
      .input = p->input >= 0 ? p->input / 1e6 : -1,
      .input_cached = p->input_cached >= 0 ? p->input_cached / 1e6 : -1,
      .input_cache_write = p->input_cache_write >= 0 ? p->input_cache_write / 1e6 : -1,
      .output = p->output >= 0 ? p->output / 1e6 : -1,
      .output_reasoning = p->output_reasoning >= 0 ? p->output_reasoning / 1e6 : -1,
  };
}

/* export.otlp -> the OTLP exporter (its own thread); NULL when not configured. */
static bool start_exporter(kl_gateway *g, const kl_export_cfg *x, kl_err *err) {
  if (!x->endpoint) return true;
  kl_export_attr *res = calloc(x->nresource ? x->nresource : 1, sizeof *res);
  if (!res) abort();
  for (size_t i = 0; i < x->nresource; i++) res[i] = (kl_export_attr){x->resource_keys[i], x->resource_values[i]};
  kl_exporter_opts o = {
      .endpoint = x->endpoint,
      .protocol = x->json ? KL_EXPORT_JSON : KL_EXPORT_PROTOBUF,
      .headers = (const char *const *)x->headers,
      .nheaders = x->nheaders,
      .resource = res,
      .nresource = x->nresource,
      .omit_content = !x->capture_content,
      .gzip = x->gzip,
      .insecure_tls = x->insecure_tls,
      .batch_max = x->batch_max,
      .queue_capacity = x->queue_capacity,
      .flush_interval_ms = x->flush_interval_ms,
      .timeout_ms = x->timeout_ms,
      .max_attempts = x->max_attempts,
      .shutdown_timeout_ms = x->shutdown_timeout_ms,
  };
  g->exporter = kl_exporter_new(&o, err);
  free(res);
  if (g->exporter) kl_info("exporting traces (OTLP %s) to %s", x->json ? "http/json" : "http/protobuf", x->endpoint);
  return g->exporter != NULL;
}

kl_gateway *kl_gateway_new(const kl_config *cfg, kl_store *store, kl_err *err) {
  kl_gateway *g = calloc(1, sizeof *g);
  if (!g) abort();
  g->cfg = cfg;
  g->store = store;
  g->prices = kl_prices_load_default(err);
  if (!g->prices) {
    free(g);
    return NULL;
  }
  for (size_t i = 0; i < cfg->nprices; i++) {
    kl_price pr = per_token(&cfg->prices[i]);
    kl_prices_override_at(g->prices, cfg->prices[i].model, cfg->prices[i].effective_from, &pr);
  }
  /* A deployment's own price lives in its own override-only table, so it can never be
   * confused with a `prices:` entry or a table model of the same name. */
  g->dep_prices = calloc(cfg->nmodels ? cfg->nmodels : 1, sizeof *g->dep_prices);
  if (!g->dep_prices) abort();
  for (size_t i = 0; i < cfg->nmodels; i++) {
    const kl_model_cfg *m = &cfg->models[i];
    if (!m->nprices) continue;
    if (!(g->dep_prices[i] = kl_prices_load("[]", 2, err))) {
      kl_gateway_free(g);
      return NULL;
    }
    for (size_t j = 0; j < m->nprices; j++) {
      kl_price pr = per_token(&m->prices[j]);
      kl_prices_override_at(g->dep_prices[i], m->name, m->prices[j].effective_from, &pr);
    }
  }
  if (!start_exporter(g, &cfg->export_otlp, err)) {
    kl_gateway_free(g);
    return NULL;
  }
  kl_tracer_opts topts = {
      .store = cfg->trace_enabled ? store : NULL,
      .prices = g->prices,
      .capture_content = cfg->trace_capture_content,
      .exporter = g->exporter,
  };
  g->tracer = kl_tracer_new(&topts);
  for (size_t i = 0; i < cfg->nmodels; i++) {
    const kl_model_cfg *m = &cfg->models[i];
    kl_tracer_add_secret(g->tracer, m->api_key);
    /* configured upstream headers often carry tokens too: scrub their values */
    for (size_t h = 0; h < m->nheaders; h++) {
      const char *colon = strchr(m->headers[h], ':');
      if (colon) kl_tracer_add_secret(g->tracer, colon + 1 + strspn(colon + 1, " "));
    }
  }
  kl_tracer_add_secret(g->tracer, cfg->admin_key);
  for (size_t h = 0; h < cfg->export_otlp.nheaders; h++) { /* a collector's credentials */
    const char *colon = strchr(cfg->export_otlp.headers[h], ':');
    if (colon) kl_tracer_add_secret(g->tracer, colon + 1 + strspn(colon + 1, " "));
  }
  g->metrics = kl_metrics_new(cfg);
  g->created_unix = kl_now_ns() / 1000000000;
  if (!kl_gw_guard_init(g, err)) {
    kl_gateway_free(g);
    return NULL;
  }
  return g;
}

void kl_gateway_free(kl_gateway *g) {
  if (!g) return;
  kl_gw_guard_free(g);
  kl_tracer_free(g->tracer);
  kl_exporter_free(g->exporter); /* after the tracer: flushes what it submitted */
  kl_metrics_free(g->metrics);
  kl_prices_free(g->prices);
  for (size_t i = 0; g->dep_prices && i < g->cfg->nmodels; i++) kl_prices_free(g->dep_prices[i]);
  free(g->dep_prices);
  free(g);
}

const kl_config *kl_gateway_config(const kl_gateway *g) { return g->cfg; }
kl_metrics *kl_gateway_metrics(kl_gateway *g) { return g->metrics; }
kl_store *kl_gateway_store(kl_gateway *g) { return g->store; }

kl_gw_worker *kl_gw_worker_new(kl_gateway *g, uv_loop_t *loop, kl_err *err) {
  kl_gw_worker *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->gw = g;
  w->loop = loop;
  w->upstream = kl_upstream_new(loop, err);
  if (!w->upstream) {
    free(w);
    return NULL;
  }
  w->guard_memo = g->cfg->guard_memo_bytes ? kl_guard_memo_new(g->cfg->guard_memo_bytes) : NULL;
  w->flush = calloc(1, sizeof *w->flush);
  if (!w->flush) abort();
  uv_check_init(loop, w->flush);
  w->flush->data = w;
  return w;
}

static void free_handle(uv_handle_t *h) { free(h); }

void kl_gw_worker_free(kl_gw_worker *w) {
  if (!w) return;
  uv_check_stop(w->flush);
  uv_close((uv_handle_t *)w->flush, free_handle);  /* no call is left to flush: the loop is stopping */
  kl_upstream_free(w->upstream);
  kl_guard_memo_free(w->guard_memo);
  free(w);
}

int kl_gw_worker_active(const kl_gw_worker *w) { return w->active; }

void kl_gw_models_json(const kl_gateway *g, kl_buf *out) {
  kl_buf_puts(out, "{\"object\":\"list\",\"data\":[");
  for (size_t i = 0; i < g->cfg->nmodels; i++) {
    const kl_model_cfg *m = &g->cfg->models[i];
    if (i) kl_buf_putc(out, ',');
    kl_buf_puts(out, "{\"id\":");
    kl_buf_json_str(out, m->name, strlen(m->name));
    kl_buf_printf(out, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"%s\"}",
                  (long long)g->created_unix, kl_provider_name(m->provider));
  }
  kl_buf_puts(out, "]}");
}
