/* gw_internal.h: the gateway's private structures, shared by its own files only. */
#ifndef KL_GW_INTERNAL_H
#define KL_GW_INTERNAL_H

#include "gateway/kl_gateway.h"

struct kl_gateway {
  const kl_config *cfg;
  kl_store *store;
  kl_prices *prices;
  kl_prices **dep_prices;  /* per cfg->models[i]: that deployment's own `price:`, or NULL */
  kl_tracer *tracer;
  kl_metrics *metrics;
  int64_t created_unix;
};

struct kl_gw_worker {
  kl_gateway *gw;
  uv_loop_t *loop;
  kl_upstream *upstream;
  int active;
};

/* A provider call looks the same to the endpoints whether it goes over HTTP (kl_upstream) or to
 * the in-process mock: the same three callbacks.  provider_mock.c implements the mock side. */
typedef struct kl_mock_call kl_mock_call;
kl_mock_call *kl_mock_call_start(uv_loop_t *loop, kl_arena *a, kl_mock_planner plan, const char *body,
                                 size_t len, kl_header_fn hdr, void *hdr_ud, const kl_mock_opts *opts,
                                 const kl_upstream_cbs *cbs, void *ud);
/* No callback fires after this; memory is released when its timer handle has closed. */
void kl_mock_call_cancel(kl_mock_call *c);

/* ---------- call.c: what every endpoint's call shares ---------- */

/* How keel's own errors are written to the client (the endpoint's wire format). */
typedef enum {
  KL_GW_FMT_OPENAI = 0,  /* {"error":{...}}; in a stream: data: {"error":{...}} */
  KL_GW_FMT_RESPONSES,   /* as OPENAI; in a stream: event: error, data: {"type":"error",...} */
  KL_GW_FMT_ANTHROPIC,   /* {"type":"error","error":{...}}; in a stream: event: error */
} kl_gw_fmt;

/* How an upstream error body is relayed (upstream format -> client format). */
typedef enum { KL_GW_ERR_SAME = 0, KL_GW_ERR_A2O, KL_GW_ERR_O2A } kl_gw_errconv;

/* How a call ended, for the endpoint's record hook. */
typedef struct kl_gw_outcome {
  int status;               /* HTTP status the client got */
  const char *error;        /* NULL = success */
  const char *error_type;   /* metrics label */
  const void *res;          /* endpoint-specific result, may be NULL */
} kl_gw_outcome;

/* The endpoint's part of a call.  Every hook gets the call head (the endpoint struct starts
 * with it, so it casts back). */
typedef struct kl_gw_ops {
  const char *route;  /* metrics route label */
  kl_gw_fmt fmt;
  /* upstream answered 200 with text/event-stream to a streaming request: set up the stream
   * state; events then go to on_event */
  void (*stream_begin)(kl_gw_call *c);
  kl_sse_cb on_event;  /* ud = the call */
  /* the stream closed cleanly with no transport error and no c->fail; pending = it ended in
   * the middle of an event.  Must complete the call (kl_gw_complete_stream or kl_gw_fail). */
  void (*stream_end)(kl_gw_call *c, bool pending);
  /* a complete 2xx body is in c->body: must complete the call */
  void (*body_done)(kl_gw_call *c);
  /* record the trace and metrics (kl_gw_record) for this outcome */
  void (*record)(kl_gw_call *c, const kl_gw_outcome *o);
  /* free endpoint state (may be NULL); runs before the reply completes */
  void (*release)(kl_gw_call *c);
} kl_gw_ops;

struct kl_gw_call {
  void (*abort)(kl_gw_call *c);  /* first member: kl_gw_call_abort dispatches through it */
  const kl_gw_ops *ops;
  kl_gw_worker *w;
  kl_gateway *g;
  kl_arena *arena;
  kl_gw_reply reply;
  kl_header_fn hdr;
  void *hdr_ud;
  int64_t start_unix_ns, start_mono_ns;
  const kl_model_cfg *m;
  kl_trace_ctx ctx;
  bool want_stream;            /* the upstream request asks for a stream */
  kl_gw_errconv errconv;
  const char *up_body;         /* what goes upstream: the client's bytes, or up_owned */
  char *up_owned;              /* a rewritten body (malloc'd), or NULL */
  size_t up_len;
  kl_upstream_call *up;
  kl_mock_call *mock;
  uv_timer_t *timer;           /* mock only: the deployment's timeouts */
  /* response */
  int up_status;
  bool got_response;
  bool event_stream;
  const char *retry_after;
  kl_buf body;
  kl_sse_parser sse;
  bool sse_ready;
  bool stream_started;
  int64_t first_token_ns;
  const char *fail;            /* set when the call is to be aborted (on_data / on_event) */
  bool finished;
};

void kl_gw_call_init(kl_gw_call *c, const kl_gw_ops *ops, const kl_gw_request *r, const kl_gw_reply *reply);
/* Rejects a request before any provider call (counted in metrics, nothing traced). */
void kl_gw_reject(kl_gw_call *c, int status, const char *type, const char *msg, const char *param, const char *code);
/* Looks the public model name up; 0, or -1 after replying 404 model_not_found. */
int kl_gw_resolve(kl_gw_call *c, const char *model);
/* Builds the trace context; 0, or -1 after replying 400. */
int kl_gw_trace_init(kl_gw_call *c, const char *body_user, const cJSON *body_metadata);
/* The upstream body: the client's bytes when the model name needs no rewriting, else root
 * re-serialised with the deployment's upstream model. */
void kl_gw_body_model(kl_gw_call *c, const cJSON *root, const char *body, size_t len);
/* Starts the provider call: the in-process mock with `plan` for mock deployments, else POST
 * url with the deployment's headers and timeouts plus `extra` header lines.  The call is
 * active from here.  0, or -1 after completing the call with a 502. */
int kl_gw_start(kl_gw_call *c, const char *url, const char *const *extra, size_t nextra, kl_mock_planner plan);
/* Fails the call: records, then replies with an error (or an error event when the stream began). */
void kl_gw_fail(kl_gw_call *c, int status, const char *type, const char *code, const char *msg);
void kl_gw_fail_transport(kl_gw_call *c, kl_upstream_status st, const char *msg);
/* Completes successfully with a JSON body / ends the stream, recording `o` first. */
void kl_gw_complete_json(kl_gw_call *c, const kl_gw_outcome *o, const char *body, size_t len);
void kl_gw_complete_stream(kl_gw_call *c, const kl_gw_outcome *o);
/* Writes one SSE event to the client (beginning the stream if needed); event may be NULL. */
void kl_gw_stream_event(kl_gw_call *c, const char *event, const char *data, size_t len);
/* The current time on the call's clock (unix ns). */
int64_t kl_gw_now(const kl_gw_call *c);
/* Fills gen's common fields (ctx, times, models, status, error, stream) from the call, submits
 * it to the tracer and records the metrics. */
/* Records the observation and metrics.  Usage the upstream did not report is estimated with
 * the tokenizer (from gen->input_json and gen->output_json) when kl_gw_should_estimate says
 * the call was billed; an endpoint with a more exact count (chat) estimates first. */
void kl_gw_record(kl_gw_call *c, kl_generation *gen, const kl_gw_outcome *o);
bool kl_gw_should_estimate(const kl_gw_call *c, const kl_usage *u);
/* Params of a request root (temperature, max_tokens, ... that are present) as JSON. */
void kl_gw_params_json(const cJSON *root, const char *const *keys, size_t nkeys, kl_buf *out);

#endif
