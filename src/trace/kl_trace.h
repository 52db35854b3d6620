/* kl_trace.h: the tracing pillar: turns what happened in an LLM call into observations.
 *
 * The gateway fills a kl_generation as a call progresses and hands it to
 * kl_tracer_generation() when the call ends (answered, failed or abandoned).  The tracer
 * prices the usage, redacts secrets, and submits one GENERATION observation to the store
 * (which never blocks: see store/kl_store.h).  It knows nothing of HTTP: the trace context
 * (ids, user, session, tags, metadata) is read through a header getter function.
 *
 * Secrets: the tracer holds the configured provider keys and removes any occurrence of them
 * (and of "Bearer <token>" values) from every stored string, so even a client that pastes a
 * key into a prompt or an upstream that echoes it back cannot leak it into the store. */
#ifndef KL_TRACE_H
#define KL_TRACE_H

#include "base/kl_base.h"
#include "llm/kl_llm.h"
#include "store/kl_store.h"

typedef struct kl_tracer kl_tracer;
typedef struct kl_exporter kl_exporter; /* trace/kl_export.h */

typedef struct kl_tracer_opts {
  kl_store *store;           /* not owned */
  const kl_prices *prices;   /* not owned */
  bool capture_content;      /* store request messages and responses (default true) */
  const char *environment;   /* NULL = "default" */
  kl_exporter *exporter;     /* not owned; NULL = none: every observation submitted to the store
                              * is also handed to kl_exporter_submit (OTLP export) */
} kl_tracer_opts;

kl_tracer *kl_tracer_new(const kl_tracer_opts *opts);
void kl_tracer_free(kl_tracer *t);
/* Registers a secret (e.g. a provider API key) to be scrubbed from everything stored. */
void kl_tracer_add_secret(kl_tracer *t, const char *secret);

/* Trace context of one incoming call.  Strings are arena-owned. */
typedef struct kl_trace_ctx {
  char trace_id[33];
  char parent_id[17];        /* "" when the call starts a new trace */
  char span_id[17];          /* the generation's own id */
  const char *trace_name;
  const char *user_id;
  const char *session_id;
  const char *tags_json;     /* JSON array or NULL */
  const char *metadata_json; /* JSON object or NULL */
} kl_trace_ctx;

/* Reads traceparent (W3C: continue the caller's trace), x-keel-trace-id, x-keel-user,
 * x-keel-session, x-keel-tags (comma list or JSON array), x-keel-metadata (JSON object),
 * x-keel-trace-name, and from the body `user` and `metadata` (header wins for user; metadata
 * objects are merged, header keys winning).  Returns -1 with err (400) for a malformed
 * x-keel-metadata / x-keel-tags / traceparent value. */
int kl_trace_ctx_init(kl_trace_ctx *ctx, kl_arena *a, kl_header_fn hdr, void *hdr_ud,
                      const char *body_user, const cJSON *body_metadata, kl_err *err);

/* Everything known about one generation when it ends. */
typedef struct kl_generation {
  const kl_trace_ctx *ctx;
  const char *name;              /* e.g. "chat.completions" */
  int64_t start_ns, end_ns, first_token_ns;  /* unix ns; first_token_ns 0 = none */
  const char *model, *provider, *upstream_model;
  const char *model_params_json;
  const char *input_json;        /* request messages (+ tools) as JSON */
  const char *output_json;       /* response message as JSON, or NULL */
  const char *finish_reason;
  kl_usage usage;
  const cJSON *params;           /* request params for price tiers, may be NULL */
  int http_status;               /* what the client got */
  const char *error;             /* NULL on success */
  bool stream;
  const char *type;              /* KL_OBS_* observation type; NULL = KL_OBS_GENERATION */
  /* The deployment's own prices (overrides only, keyed by `model`, the public name), owned by
   * the caller; NULL = none. */
  const kl_prices *deployment_prices;
} kl_generation;

/* Builds the GENERATION observation and submits it.  The cost, priced at start_ns, comes from
 * the first of: (a) the cost the upstream reported in its usage ("source":"upstream");
 * (b) a configured price: the deployment's own, then the tracer table's overrides for the
 * public name, then for the upstream model ("config"); (c) the table by upstream model;
 * (d) the table by public name ("table").  When cost_usd is non-NULL it receives the
 * recorded cost (-1 when the model has no price). */
int kl_tracer_generation(kl_tracer *t, const kl_generation *g, double *cost_usd, kl_err *err);
/* Any other observation of a call (GUARDRAIL verdicts, ...): a child of the call's
 * generation unless parent_id is given.  Strings are copied (and scrubbed) before returning. */
typedef struct kl_span {
  const kl_trace_ctx *ctx;
  const char *id;                /* NULL: a new random span id */
  const char *parent_id;         /* NULL: ctx->span_id (the generation) */
  const char *type;              /* KL_OBS_*; NULL = KL_OBS_SPAN */
  const char *name;
  const char *trace_name;        /* used when ctx has none */
  int64_t start_ns, end_ns;      /* unix ns */
  const char *level;             /* NULL = DEFAULT */
  const char *status_message;
  const char *input_json, *output_json, *metadata_json;
} kl_span;
int kl_tracer_span(kl_tracer *t, const kl_span *s, kl_err *err);
/* Replaces every registered secret in s (in place, arena copy when changed). */
const char *kl_tracer_scrub(kl_tracer *t, kl_arena *a, const char *s);

#endif
