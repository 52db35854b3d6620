/* gw_internal.h: the gateway's private structures, shared by its own files only. */
#ifndef KL_GW_INTERNAL_H
#define KL_GW_INTERNAL_H

#include "gateway/kl_gateway.h"

typedef struct kl_gw_rails kl_gw_rails;

struct kl_gateway {
  const kl_config *cfg;
  kl_gw_rails *rails;      /* [0] = the built-in "default", then cfg->policies in order */
  size_t nrails;
  const kl_gw_rails **model_rails;  /* per cfg->models[i]: its policy or NULL */
  kl_store *store;
  kl_prices *prices;
  kl_prices **dep_prices;  /* per cfg->models[i]: that deployment's own `price:`, or NULL */
  kl_tracer *tracer;
  kl_exporter *exporter;   /* export.otlp, or NULL */
  kl_metrics *metrics;
  int64_t created_unix;
};

struct kl_gw_worker {
  kl_gateway *gw;
  uv_loop_t *loop;
  kl_upstream *upstream;
  kl_guard_memo *guard_memo;  /* texts this loop's rails checked (kl_guard_check_memo) */
  int active;
  uv_check_t *flush;          /* call.c writes the calls' pending stream events from it */
  kl_gw_call *flush_head;     /* the calls with events pending */
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
typedef struct kl_gw_guard kl_gw_guard;

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
  kl_header_each_fn hdr_each;
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
  kl_buf events;               /* stream events not yet written (call.c: flush_events) */
  kl_gw_call *flush_prev, *flush_next;  /* in w->flush_head's list while `events` is pending */
  bool flush_linked;
  int64_t first_token_ns;
  const char *fail;            /* set when the call is to be aborted (on_data / on_event) */
  int fail_status;             /* with fail: how to answer (0 = 502 upstream_invalid_stream) */
  const char *fail_type, *fail_code;
  bool active;                 /* counted in w->active (from kl_gw_start, or a classifier) */
  bool finished;
  /* what kl_gw_start was given, for kl_gw_retry */
  const char *url;
  const char *const *extra;
  size_t nextra;
  kl_mock_planner plan;
  kl_gw_guard *guard;          /* guardrails state, NULL when the model has no policy */
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
/* The stream's clean end (c->fail, then the endpoint's stream_end): guard_classify.c calls
 * it for an end that was held. */
void kl_gw_stream_done(kl_gw_call *c, bool pending);
/* Marks the call active (idempotent): from here it must end through kl_gw_fail / complete. */
void kl_gw_activate(kl_gw_call *c);
/* Starts the provider call again with a new body (malloc'd, taken over) after a complete
 * answer (reask); the call stays active.  0, or -1 after failing the call. */
int kl_gw_retry(kl_gw_call *c, char *body, size_t len);
/* Refuses a request before any provider call, but records it (trace + metrics) like a call:
 * guardrail blocks, which must leave a trace. */
void kl_gw_refuse(kl_gw_call *c, int status, const char *type, const char *msg, const char *param, const char *code);
/* Fails the call: records, then replies with an error (or an error event when the stream began). */
void kl_gw_fail(kl_gw_call *c, int status, const char *type, const char *code, const char *msg);
void kl_gw_fail_transport(kl_gw_call *c, kl_upstream_status st, const char *msg);
/* Completes successfully with a JSON body / ends the stream, recording `o` first. */
void kl_gw_complete_json(kl_gw_call *c, const kl_gw_outcome *o, const char *body, size_t len);
void kl_gw_complete_stream(kl_gw_call *c, const kl_gw_outcome *o);
/* Writes one SSE event to the client (beginning the stream if needed); event may be NULL. */
void kl_gw_stream_event(kl_gw_call *c, const char *event, const char *data, size_t len);
/* Asks for the call's stream events to be written, and its due window run, at the end of this
 * loop round (kl_gw_stream_event does it for the events it queues). */
void kl_gw_at_round_end(kl_gw_call *c);
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

/* ---------- guard_rails.c, guard_stream.c, guard_classify.c: guardrails ---------- */

/* A compiled policy and how the gateway runs it. */
struct kl_gw_rails {
  const char *name;
  kl_guard_policy *policy;
  bool canary;
  bool observe_clean;      /* clean rails are observations too (kl_policy_cfg.observe_clean) */
  size_t holdback;
  bool local[3];           /* per stage: a scanner that runs in-process */
  size_t n_cls[3];         /* per stage: classifier scanners */
};

/* One checked text and its result. */
typedef struct kl_gw_guard_part {
  cJSON *node;             /* the JSON string holding the text */
  const char *part;        /* "messages[1].content" */
  kl_guard_result res;
} kl_gw_guard_part;

typedef struct kl_gw_cls kl_gw_cls;

struct kl_gw_guard {
  const kl_gw_rails *r;
  bool changed;            /* input rails rewrote the request: it must be re-serialised */
  bool arena_tree;         /* the request tree lives in the call's arena: strings are replaced by
                              pointer, new nodes made in the arena (cJSON's setters would free) */
  kl_guard_vault vault;    /* restore: placeholder -> value, this call only */
  char canary[33];         /* "" = none */
  bool expect_json;
  const char *schema;      /* response_format's JSON schema, or NULL */
  size_t schema_len;
  int reasks;
  const char *reask_error, *reask_answer;
  kl_usage spent;          /* usage of answers replaced by a reask */
  /* classifiers (guard_classify.c) */
  kl_gw_cls *cls;          /* calls in flight */
  int pending;             /* DURING classifiers not yet answered: the answer is held */
  int pending_input;       /* INPUT classifiers not yet answered: the upstream call waits */
  void (*then)(kl_gw_call *c);  /* starts the upstream call once the INPUT ones passed */
  bool held_body, held_end, held_end_pending;
  kl_buf held_events;      /* SSE events received while held: event \0 data-len data ... */
  /* streamed output (guard_stream.c) */
  bool stream_rails, finished;
  kl_buf held;             /* text not yet released (the hold-back) */
  kl_buf carry;            /* the tail of the released text, re-scanned with the next window */
  kl_buf full;             /* the whole answer, for the final check */
  kl_buf stored;           /* the answer as released, before restore: what the trace keeps */
  kl_buf head;             /* text-less chunks held until the first release (event NUL data NUL) */
  bool due;                /* a window waits for the end of the loop round (kl_gw_guard_stream_due) */
  kl_buf tmpl_event, tmpl_chunk, tmpl_old;  /* a text-only chunk released text goes out in: its
                                               event name, bytes, content as the JSON they hold */
  bool tmpl_fresh;         /* tmpl_* came after the last window (no need to copy another) */
  unsigned windows;        /* windows checked so far, and their check time: the observation's */
  double windows_us;       /* metadata says what the stream's rails cost */
};

/* guard_stream.c: a stream chunk's JSON d[0, n) with the value of its one key "content", the
 * JSON string old (quotes included), replaced by text as a JSON string, appended to out; false
 * (out untouched) unless d has exactly one key "content" whose value is written as old. */
bool kl_gw_splice_content(const char *d, size_t n, const kl_buf *old, const char *text, size_t len, kl_buf *out);

typedef enum { KL_GW_GUARD_PASS = 0, KL_GW_GUARD_DONE, KL_GW_GUARD_REASK } kl_gw_guard_out;

/* "guardrail policy 'P' blocked the <what>: <scanner> found <type> (rule <rule>)[ in <part>]" */
const char *kl_gw_guard_block_message(kl_gw_call *c, const char *what, const kl_guard_finding *f, const char *part);
bool kl_gw_guard_init(kl_gateway *g, kl_err *err);
void kl_gw_guard_free(kl_gateway *g);
const kl_gw_rails *kl_gw_rails_for(const kl_gateway *g, const kl_model_cfg *m);
/* Input (and local during) rails over a chat request's messages, rewriting them in place; sets
 * up c->guard when the model has a policy.  0 = go on (*changed: root was modified), -1 =
 * the call was answered (blocked). */
int kl_gw_guard_input(kl_gw_call *c, cJSON *root, bool arena_tree, bool *changed);
/* Input rails for /v1/messages, /v1/responses (has_output) and /v1/embeddings: the same texts
 * checks; `restore` acts as `redact` (there is no output path to restore into) and a policy
 * with output or classifier rails is refused (400 guardrail_unsupported) where there is an
 * answer to check.  Same return values as kl_gw_guard_input. */
int kl_gw_guard_input_other(kl_gw_call *c, cJSON *root, bool has_output, bool *changed);
/* Output rails over a complete chat.completion in body (rewritten in place: what is traced);
 * *client_body is what the client gets (values restored).  tree: body already parsed into the
 * call's arena (kl_chat_result.tree), or NULL to parse it here; its strings may be replaced.
 * *rewritten: body changed (parse it again for the trace).  DONE: the call was failed (a
 * block); REASK: call kl_gw_guard_reask_body and kl_gw_retry. */
kl_gw_guard_out kl_gw_guard_output(kl_gw_call *c, kl_buf *body, cJSON *tree, const char **client_body,
                                   size_t *client_len, bool *rewritten);
char *kl_gw_guard_reask_body(kl_gw_call *c, const cJSON *req_root, const char *upstream_model, size_t *len);
void kl_gw_guard_observe(kl_gw_call *c, kl_guard_stage st, const kl_gw_guard_part *parts, size_t nparts,
                         kl_guard_action verdict, const char *blocked, int64_t start_ns, double us);

/* Streams (guard_stream.c): whether output rails filter this stream; one content chunk
 * (takes over relaying it); the end of the stream (flushes, runs whole-text rails).  false =
 * the call was failed. */
bool kl_gw_guard_stream_on(kl_gw_call *c);
bool kl_gw_guard_stream_chunk(kl_gw_call *c, const char *event, const char *data, size_t len,
                              const kl_chunk_choice *ch);
bool kl_gw_guard_stream_finish(kl_gw_call *c);
/* The window the round's chunks left due, if any: run at the end of the loop round (call.c's
 * check handle) or before an event that must not overtake its text.  false = blocked (c->fail). */
bool kl_gw_guard_stream_due(kl_gw_call *c);
void kl_gw_guard_release(kl_gw_call *c);
/* The assistant message to store for a filtered stream: its content as released. */
const char *kl_gw_guard_stored_output(kl_gw_call *c, const char *output_json);

/* Classifiers (guard_classify.c).  Starts the INPUT and DURING classifier calls for the
 * request's texts.  1: start the provider call now (DURING ones may be running); 0: INPUT
 * ones are pending and `then` starts the provider call when they pass; -1: the call was
 * answered (do not touch it). */
int kl_gw_guard_classify(kl_gw_call *c, const cJSON *root, void (*then)(kl_gw_call *c));
/* While DURING classifiers are pending, the answer is held: call.c asks before delivering. */
bool kl_gw_guard_holding(const kl_gw_call *c);
void kl_gw_guard_cls_cancel(kl_gw_call *c);

#endif
