/* metrics.c: Prometheus metrics, lock-free.
 *
 * Models are known from the config, so each gets a fixed slot (plus one "other" slot for
 * names not served); status codes fold into a fixed list.  Every counter is a relaxed
 * atomic: workers on different cores increment them without locks, and /metrics reads a
 * consistent-enough snapshot.  Cost is counted in nano-dollars as an integer, so it never
 * loses cents to floating-point accumulation. */
#include "gateway/gw_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const int k_status[] = {200, 400, 401, 403, 404, 408, 413, 422, 429, 431, 499, 500, 502, 503, 504, 0};
#define NSTATUS (sizeof k_status / sizeof *k_status) /* last = other */
static const double k_lat_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
#define NLAT (sizeof k_lat_buckets / sizeof *k_lat_buckets)
static const char *k_routes[] = {"chat", "embeddings", "responses", "messages", "models", "health", "metrics", "traces", "ingest", "ui", "other"};
#define NROUTES (sizeof k_routes / sizeof *k_routes)
static const char *k_errors[] = {"invalid_request", "model_not_found", "upstream_timeout", "upstream_unreachable",
                                 "upstream_reset", "upstream_status", "upstream_invalid_response",
                                 "upstream_invalid_stream", "upstream_stream_truncated", "client_disconnected",
                                 "upstream_error", "guardrail_blocked", "guardrail_unavailable", "guardrail_error",
                                 "error"};
#define NERRORS (sizeof k_errors / sizeof *k_errors)

typedef struct hist {
  _Atomic uint64_t buckets[NLAT + 1]; /* cumulative rendering; stored per bucket */
  _Atomic uint64_t count;
  _Atomic uint64_t sum_us;
} hist;

typedef struct model_slot {
  const char *name;
  _Atomic uint64_t requests[NSTATUS];
  _Atomic uint64_t streams;
  _Atomic uint64_t errors[NERRORS];
  hist latency, ttft;
  _Atomic uint64_t tok_input, tok_cached, tok_cache_write, tok_output, tok_reasoning;
  _Atomic uint64_t cost_nusd;
  _Atomic uint64_t unpriced;
} model_slot;

/* guardrail checks by stage (input, during, output) and verdict (kl_guard_action order) */
static const char *k_gstages[] = {"input", "during", "output"};
#define NGSTAGES 3
#define NGVERDICTS 8

struct kl_metrics {
  _Atomic uint64_t guard[NGSTAGES][NGVERDICTS];
  _Atomic uint64_t guard_us[NGSTAGES];
  _Atomic uint64_t memo_hits, memo_misses, memo_admitted, memo_evictions;
  _Atomic int64_t memo_bytes;  /* all loops' memos together */
  size_t nslots;
  model_slot *slots;
  _Atomic uint64_t http[NROUTES][NSTATUS];
  _Atomic int64_t inflight;
  int64_t started_unix;
};

kl_metrics *kl_metrics_new(const kl_config *cfg) {
  kl_metrics *m = calloc(1, sizeof *m);
  if (!m) abort();
  m->nslots = cfg->nmodels + 1;
  m->slots = calloc(m->nslots, sizeof *m->slots);
  if (!m->slots) abort();
  for (size_t i = 0; i < cfg->nmodels; i++) m->slots[i].name = cfg->models[i].name;
  m->slots[cfg->nmodels].name = "other";
  m->started_unix = kl_now_ns() / 1000000000;
  return m;
}

void kl_metrics_free(kl_metrics *m) {
  if (!m) return;
  free(m->slots);
  free(m);
}

static size_t status_idx(int status) {
  for (size_t i = 0; i + 1 < NSTATUS; i++)
    if (k_status[i] == status) return i;
  return NSTATUS - 1;
}

static model_slot *slot_for(kl_metrics *m, const char *model) {
  for (size_t i = 0; model && i + 1 < m->nslots; i++)
    if (!strcmp(m->slots[i].name, model)) return &m->slots[i];
  return &m->slots[m->nslots - 1];
}

static void hist_add(hist *h, double v) {
  size_t i = 0;
  while (i < NLAT && v > k_lat_buckets[i]) i++;
  atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(v * 1e6), memory_order_relaxed);
}

#define ADD(field, v) atomic_fetch_add_explicit(&(field), (uint64_t)(v), memory_order_relaxed)

void kl_metrics_record(kl_metrics *m, const kl_metrics_obs *o) {
  model_slot *s = slot_for(m, o->model);
  ADD(s->requests[status_idx(o->status)], 1);
  if (o->stream) ADD(s->streams, 1);
  if (o->error_type) {
    size_t i = NERRORS - 1;
    for (size_t k = 0; k < NERRORS; k++)
      if (!strcmp(k_errors[k], o->error_type)) { i = k; break; }
    ADD(s->errors[i], 1);
  }
  hist_add(&s->latency, o->duration_s);
  if (o->ttft_s >= 0) hist_add(&s->ttft, o->ttft_s);
  if (o->usage) {
    ADD(s->tok_input, o->usage->input);
    ADD(s->tok_cached, o->usage->input_cached);
    ADD(s->tok_cache_write, o->usage->input_cache_write);
    ADD(s->tok_output, o->usage->output);
    ADD(s->tok_reasoning, o->usage->output_reasoning);
  }
  if (o->cost_usd >= 0) ADD(s->cost_nusd, o->cost_usd * 1e9 + 0.5);
  else if (o->usage && o->usage->present) ADD(s->unpriced, 1);
}

static size_t route_idx(const char *route) {
  for (size_t i = 0; i + 1 < NROUTES; i++)
    if (!strcmp(k_routes[i], route)) return i;
  return NROUTES - 1;
}

void kl_metrics_http(kl_metrics *m, const char *route, int status) {
  ADD(m->http[route_idx(route)][status_idx(status)], 1);
}

void kl_metrics_guard(kl_metrics *m, const char *stage, const char *verdict, double us) {
  size_t st = 0, v = 0;
  for (size_t i = 0; i < NGSTAGES; i++)
    if (!strcmp(k_gstages[i], stage)) st = i;
  kl_guard_action a;
  if (kl_guard_action_parse(verdict, &a) && (size_t)a < NGVERDICTS) v = (size_t)a;
  ADD(m->guard[st][v], 1);
  ADD(m->guard_us[st], us + 0.5);
}

void kl_metrics_guard_memo(kl_metrics *m, uint64_t hits, uint64_t misses, uint64_t admitted, uint64_t evictions,
                           int64_t bytes) {
  if (hits) ADD(m->memo_hits, hits);
  if (misses) ADD(m->memo_misses, misses);
  if (admitted) ADD(m->memo_admitted, admitted);
  if (evictions) ADD(m->memo_evictions, evictions);
  if (bytes) atomic_fetch_add_explicit(&m->memo_bytes, bytes, memory_order_relaxed);
}

void kl_metrics_inflight(kl_metrics *m, int delta) {
  atomic_fetch_add_explicit(&m->inflight, delta, memory_order_relaxed);
}

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

static void label_model(kl_buf *out, const char *name) {
  /* Prometheus label values escape \, " and newline: model names come from config, but be safe */
  kl_buf_puts(out, "model=\"");
  for (const char *p = name; *p; p++) {
    if (*p == '\\' || *p == '"') kl_buf_putc(out, '\\');
    if (*p == '\n') { kl_buf_puts(out, "\\n"); continue; }
    kl_buf_putc(out, *p);
  }
  kl_buf_putc(out, '"');
}

/* Starts one sample line: metric{model="..."[,key="val"]} ; the caller appends the value. */
static void series(kl_buf *out, const char *metric, const char *model, const char *key, const char *val) {
  kl_buf_puts(out, metric);
  kl_buf_putc(out, '{');
  label_model(out, model);
  if (key) kl_buf_printf(out, ",%s=\"%s\"", key, val);
  kl_buf_puts(out, "} ");
}

static void render_hist(kl_buf *out, const char *name, const model_slot *s, const hist *h) {
  uint64_t cum = 0;
  for (size_t i = 0; i <= NLAT; i++) {
    cum += LOAD(h->buckets[i]);
    kl_buf_printf(out, "%s_bucket{", name);
    label_model(out, s->name);
    if (i < NLAT) kl_buf_printf(out, ",le=\"%g\"} %llu\n", k_lat_buckets[i], (unsigned long long)cum);
    else kl_buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
  }
  kl_buf_printf(out, "%s_sum{", name);
  label_model(out, s->name);
  kl_buf_printf(out, "} %.6f\n%s_count{", (double)LOAD(h->sum_us) / 1e6, name);
  label_model(out, s->name);
  kl_buf_printf(out, "} %llu\n", LOAD(h->count));
}

void kl_metrics_render(kl_metrics *m, kl_store *store, kl_buf *out) {
  kl_buf_puts(out, "# HELP keel_requests_total LLM calls by public model and HTTP status returned.\n"
                   "# TYPE keel_requests_total counter\n");
  for (size_t i = 0; i < m->nslots; i++) {
    model_slot *s = &m->slots[i];
    for (size_t k = 0; k < NSTATUS; k++) {
      unsigned long long v = LOAD(s->requests[k]);
      if (!v) continue;
      kl_buf_puts(out, "keel_requests_total{");
      label_model(out, s->name);
      if (k_status[k]) kl_buf_printf(out, ",status=\"%d\"} %llu\n", k_status[k], v);
      else kl_buf_printf(out, ",status=\"other\"} %llu\n", v);
    }
  }
  kl_buf_puts(out, "# HELP keel_request_errors_total Failed LLM calls by model and error type.\n"
                   "# TYPE keel_request_errors_total counter\n");
  for (size_t i = 0; i < m->nslots; i++)
    for (size_t k = 0; k < NERRORS; k++) {
      unsigned long long v = LOAD(m->slots[i].errors[k]);
      if (!v) continue;
      series(out, "keel_request_errors_total", m->slots[i].name, "type", k_errors[k]);
      kl_buf_printf(out, "%llu\n", v);
    }
  kl_buf_puts(out, "# HELP keel_stream_requests_total Streamed LLM calls by model.\n"
                   "# TYPE keel_stream_requests_total counter\n");
  for (size_t i = 0; i < m->nslots; i++) {
    series(out, "keel_stream_requests_total", m->slots[i].name, NULL, NULL);
    kl_buf_printf(out, "%llu\n", LOAD(m->slots[i].streams));
  }
  kl_buf_puts(out, "# HELP keel_request_duration_seconds Whole-call latency as seen by keel.\n"
                   "# TYPE keel_request_duration_seconds histogram\n");
  for (size_t i = 0; i < m->nslots; i++)
    if (LOAD(m->slots[i].latency.count)) render_hist(out, "keel_request_duration_seconds", &m->slots[i], &m->slots[i].latency);
  kl_buf_puts(out, "# HELP keel_time_to_first_token_seconds Time to the first streamed token.\n"
                   "# TYPE keel_time_to_first_token_seconds histogram\n");
  for (size_t i = 0; i < m->nslots; i++)
    if (LOAD(m->slots[i].ttft.count)) render_hist(out, "keel_time_to_first_token_seconds", &m->slots[i], &m->slots[i].ttft);
  kl_buf_puts(out, "# HELP keel_tokens_total Tokens by model and non-overlapping usage bucket.\n"
                   "# TYPE keel_tokens_total counter\n");
  for (size_t i = 0; i < m->nslots; i++) {
    model_slot *s = &m->slots[i];
    struct { const char *t; unsigned long long v; } rows[] = {
        {"input", LOAD(s->tok_input)}, {"input_cached", LOAD(s->tok_cached)},
        {"input_cache_write", LOAD(s->tok_cache_write)}, {"output", LOAD(s->tok_output)},
        {"output_reasoning", LOAD(s->tok_reasoning)}};
    for (size_t k = 0; k < sizeof rows / sizeof *rows; k++) {
      series(out, "keel_tokens_total", s->name, "type", rows[k].t);
      kl_buf_printf(out, "%llu\n", rows[k].v);
    }
  }
  kl_buf_puts(out, "# HELP keel_cost_usd_total Cost in USD by model (from the price table).\n"
                   "# TYPE keel_cost_usd_total counter\n");
  for (size_t i = 0; i < m->nslots; i++) {
    series(out, "keel_cost_usd_total", m->slots[i].name, NULL, NULL);
    kl_buf_printf(out, "%.9f\n", (double)LOAD(m->slots[i].cost_nusd) / 1e9);
  }
  kl_buf_puts(out, "# HELP keel_unpriced_requests_total Calls with usage but no price for the model.\n"
                   "# TYPE keel_unpriced_requests_total counter\n");
  for (size_t i = 0; i < m->nslots; i++) {
    series(out, "keel_unpriced_requests_total", m->slots[i].name, NULL, NULL);
    kl_buf_printf(out, "%llu\n", LOAD(m->slots[i].unpriced));
  }
  kl_buf_puts(out, "# HELP keel_http_requests_total HTTP requests by route and status.\n"
                   "# TYPE keel_http_requests_total counter\n");
  for (size_t r = 0; r < NROUTES; r++)
    for (size_t k = 0; k < NSTATUS; k++) {
      unsigned long long v = LOAD(m->http[r][k]);
      if (!v) continue;
      if (k_status[k]) kl_buf_printf(out, "keel_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", k_routes[r], k_status[k], v);
      else kl_buf_printf(out, "keel_http_requests_total{route=\"%s\",status=\"other\"} %llu\n", k_routes[r], v);
    }
  kl_buf_puts(out, "# HELP keel_guardrail_checks_total Guardrail checks by stage and verdict.\n"
                   "# TYPE keel_guardrail_checks_total counter\n");
  for (size_t st = 0; st < NGSTAGES; st++)
    for (size_t v = 0; v < NGVERDICTS; v++) {
      unsigned long long n = LOAD(m->guard[st][v]);
      if (n)
        kl_buf_printf(out, "keel_guardrail_checks_total{stage=\"%s\",verdict=\"%s\"} %llu\n", k_gstages[st],
                      kl_guard_action_name((kl_guard_action)v), n);
    }
  kl_buf_puts(out, "# HELP keel_guardrail_seconds_total Time spent in guardrail checks by stage.\n"
                   "# TYPE keel_guardrail_seconds_total counter\n");
  for (size_t st = 0; st < NGSTAGES; st++)
    kl_buf_printf(out, "keel_guardrail_seconds_total{stage=\"%s\"} %.6f\n", k_gstages[st],
                  (double)LOAD(m->guard_us[st]) / 1e6);
  kl_buf_printf(out,
                "# HELP keel_guardrail_memo_lookups_total Texts looked up in the rails' memory of checked texts "
                "(hit: answered without a check).\n# TYPE keel_guardrail_memo_lookups_total counter\n"
                "keel_guardrail_memo_lookups_total{result=\"hit\"} %llu\n"
                "keel_guardrail_memo_lookups_total{result=\"miss\"} %llu\n"
                "# HELP keel_guardrail_memo_admitted_total Checked texts the memory took in.\n"
                "# TYPE keel_guardrail_memo_admitted_total counter\nkeel_guardrail_memo_admitted_total %llu\n"
                "# HELP keel_guardrail_memo_evictions_total Texts the memory let go for newer ones.\n"
                "# TYPE keel_guardrail_memo_evictions_total counter\nkeel_guardrail_memo_evictions_total %llu\n"
                "# HELP keel_guardrail_memo_bytes Bytes of texts and findings the memory keeps, "
                "all event loops together.\n"
                "# TYPE keel_guardrail_memo_bytes gauge\nkeel_guardrail_memo_bytes %lld\n",
                (unsigned long long)LOAD(m->memo_hits), (unsigned long long)LOAD(m->memo_misses),
                (unsigned long long)LOAD(m->memo_admitted), (unsigned long long)LOAD(m->memo_evictions),
                (long long)atomic_load_explicit(&m->memo_bytes, memory_order_relaxed));
  kl_buf_printf(out, "# HELP keel_inflight_requests LLM calls in progress.\n# TYPE keel_inflight_requests gauge\n"
                     "keel_inflight_requests %lld\n", (long long)atomic_load(&m->inflight));
  kl_buf_printf(out, "# HELP keel_start_time_seconds Start time of the process.\n# TYPE keel_start_time_seconds gauge\n"
                     "keel_start_time_seconds %lld\n", (long long)m->started_unix);
  if (store) {
    kl_store_stats st;
    kl_store_get_stats(store, &st);
    kl_buf_printf(out,
                  "# HELP keel_trace_observations_total Observations by fate in the trace store.\n"
                  "# TYPE keel_trace_observations_total counter\n"
                  "keel_trace_observations_total{state=\"submitted\"} %llu\n"
                  "keel_trace_observations_total{state=\"written\"} %llu\n"
                  "keel_trace_observations_total{state=\"spilled\"} %llu\n"
                  "keel_trace_observations_total{state=\"replayed\"} %llu\n"
                  "# HELP keel_trace_batches_total Transactions committed by the trace writer.\n"
                  "# TYPE keel_trace_batches_total counter\nkeel_trace_batches_total %llu\n"
                  "# HELP keel_trace_write_errors_total Failed batch writes (their rows were spilled).\n"
                  "# TYPE keel_trace_write_errors_total counter\nkeel_trace_write_errors_total %llu\n"
                  "# HELP keel_trace_queue_depth Observations waiting for the writer.\n"
                  "# TYPE keel_trace_queue_depth gauge\nkeel_trace_queue_depth %zu\n",
                  (unsigned long long)st.submitted, (unsigned long long)st.written,
                  (unsigned long long)st.spilled, (unsigned long long)st.replayed,
                  (unsigned long long)st.batches, (unsigned long long)st.write_errors, st.queue_depth);
  }
}
