/* kl_gateway.h: the request pipeline that composes the pillars.
 *
 * The gateway takes a parsed-enough request (body bytes, a header getter) and a reply sink,
 * and runs one LLM call: validate -> resolve the model -> trace context -> provider call
 * (HTTP upstream through kl_upstream, or the in-process mock) -> relay the answer (whole or
 * streamed, event by event as it arrives) -> record the generation (tracer) and metrics.
 * It does not know the HTTP server: the api layer adapts kl_http_req to kl_gw_reply, which
 * keeps this layer testable with a fake sink.
 *
 * Threads: one kl_gateway is shared (immutable config, price table, tracer, atomic metrics);
 * each event loop has a kl_gw_worker (its upstream client).  A call lives on one loop. */
#ifndef KL_GATEWAY_H
#define KL_GATEWAY_H

#include "gateway/kl_config.h"
#include "llm/kl_llm.h"
#include "net/kl_net.h"
#include "store/kl_store.h"
#include "trace/kl_trace.h"

typedef struct kl_gateway kl_gateway;
typedef struct kl_gw_worker kl_gw_worker;
typedef struct kl_gw_call kl_gw_call;
typedef struct kl_metrics kl_metrics;

/* The reply sink: exactly one of respond / stream_end completes the reply. */
typedef struct kl_gw_reply {
  void *ud;
  void (*respond)(void *ud, int status, const char *content_type, const kl_http_header *extra,
                  size_t nextra, const char *body, size_t len);
  int (*stream_begin)(void *ud, int status, const char *content_type, const kl_http_header *extra,
                      size_t nextra);
  int (*stream_write)(void *ud, const char *data, size_t len);
  void (*stream_end)(void *ud);
} kl_gw_reply;

/* Calls fn once per request header (names lower-cased), in order. */
typedef void (*kl_header_each_fn)(void *ud, void (*fn)(void *ctx, const char *lower_name, const char *value),
                                  void *ctx);

typedef struct kl_gw_request {
  kl_arena *arena;            /* lives until the reply completes */
  kl_gw_worker *worker;
  const char *body;
  size_t body_len;
  kl_header_fn header;
  kl_header_each_fn header_each;  /* for a deployment's forward_headers; may be NULL */
  void *header_ud;
  int64_t start_unix_ns;
  int64_t start_mono_ns;
} kl_gw_request;

/* The gateway owns the price table and the tracer; the store and config are borrowed. */
kl_gateway *kl_gateway_new(const kl_config *cfg, kl_store *store, kl_err *err);
void kl_gateway_free(kl_gateway *g);
const kl_config *kl_gateway_config(const kl_gateway *g);
kl_metrics *kl_gateway_metrics(kl_gateway *g);
kl_store *kl_gateway_store(kl_gateway *g);

/* Per-loop state; create and free on the loop's own thread. kl_gw_worker_free closes handles:
 * run the loop afterwards until they are closed. */
kl_gw_worker *kl_gw_worker_new(kl_gateway *g, uv_loop_t *loop, kl_err *err);
void kl_gw_worker_free(kl_gw_worker *w);
/* Calls still running on this worker. */
int kl_gw_worker_active(const kl_gw_worker *w);

/* POST /v1/chat/completions.  Always completes the reply (possibly later, on the loop). Returns
 * the call (for kl_gw_call_abort) or NULL when it completed synchronously. */
kl_gw_call *kl_gw_chat(const kl_gw_request *req, const kl_gw_reply *reply);
/* POST /v1/embeddings (OpenAI format; EMBEDDING observation), POST /v1/responses (OpenAI
 * Responses API), POST /v1/messages (Anthropic Messages: native to anthropic deployments,
 * translated to chat completions for the others).  Same contract as kl_gw_chat. */
kl_gw_call *kl_gw_embeddings(const kl_gw_request *req, const kl_gw_reply *reply);
kl_gw_call *kl_gw_responses(const kl_gw_request *req, const kl_gw_reply *reply);
kl_gw_call *kl_gw_messages(const kl_gw_request *req, const kl_gw_reply *reply);
/* The client went away: cancel the upstream call, record the trace, complete the reply.
 * Works for a call of any endpoint. */
void kl_gw_call_abort(kl_gw_call *c);

/* GET /v1/models body (OpenAI list format) into out. */
void kl_gw_models_json(const kl_gateway *g, kl_buf *out);

/* ---- metrics (metrics.c): Prometheus text format ---- */
typedef struct kl_metrics_obs {
  const char *model;          /* public model name (unknown names are folded into "other") */
  int status;                 /* HTTP status given to the client */
  const char *error_type;     /* NULL on success: "upstream_timeout", "upstream_error", ... */
  double duration_s;
  double ttft_s;              /* < 0 = n/a */
  const kl_usage *usage;
  double cost_usd;            /* < 0 = unknown */
  bool stream;
} kl_metrics_obs;

kl_metrics *kl_metrics_new(const kl_config *cfg);
void kl_metrics_free(kl_metrics *m);
void kl_metrics_record(kl_metrics *m, const kl_metrics_obs *o);
void kl_metrics_http(kl_metrics *m, const char *route, int status); /* every HTTP request */
void kl_metrics_inflight(kl_metrics *m, int delta);
/* One guardrail check: stage "input" | "during" | "output", verdict kl_guard_action_name(). */
void kl_metrics_guard(kl_metrics *m, const char *stage, const char *verdict, double us);
/* What one lookup in a loop's memory of checked texts changed (kl_guard_memo_stats, after minus
 * before): hits, misses, texts admitted and evicted, bytes kept. */
void kl_metrics_guard_memo(kl_metrics *m, uint64_t hits, uint64_t misses, uint64_t admitted, uint64_t evictions,
                           int64_t bytes);
/* Renders all metrics; store stats are included when store is non-NULL. */
void kl_metrics_render(kl_metrics *m, kl_store *store, kl_buf *out);

#endif
