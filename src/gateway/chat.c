/* chat.c: one POST /v1/chat/completions call, from request bytes to trace.
 *
 *   validate -> resolve model -> trace context -> provider call -> relay -> record
 *
 * The provider side is three callbacks (on_response, on_data, on_done) from either kl_upstream
 * (HTTP) or the in-process mock.  Non-streamed answers are buffered, checked (an upstream
 * 200 that is not a chat.completion becomes a 502: an upstream failure is never answered
 * 200) and relayed byte for byte.  Streamed answers go through the SSE parser and the chunk
 * assembler event by event and each event is written to the client as soon as it is parsed;
 * the usage-only chunk keel asked for on the client's behalf is swallowed unless the client
 * asked for it too.  A stream that dies after bytes went out ends with an error event and no
 * [DONE], so clients see the failure instead of a silently short answer.
 *
 * Lifetime: the call struct lives in the request arena; everything finish() needs from the
 * arena is used before the reply is completed, because completing it frees the arena. */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_UPSTREAM_BODY (64u << 20)

struct kl_gw_call {
  kl_gw_worker *w;
  kl_gateway *g;
  kl_arena *arena;
  kl_gw_reply reply;
  kl_header_fn hdr;
  void *hdr_ud;
  int64_t start_unix_ns, start_mono_ns;
  kl_chat_req req;
  const kl_model_cfg *m;
  kl_trace_ctx ctx;
  const char *up_body;        /* what goes upstream: the client's bytes, or up_owned */
  char *up_owned;             /* a rewritten body (malloc'd), or NULL */
  size_t up_len;
  kl_upstream_call *up;
  kl_mock_call *mock;
  uv_timer_t *timer;          /* mock only: the deployment's timeouts */
  /* response */
  int up_status;
  bool got_response;
  bool event_stream;
  const char *retry_after;
  kl_buf body;
  kl_sse_parser sse;
  kl_chat_stream *acc;
  bool sse_ready;
  bool stream_started;
  int64_t first_token_ns;
  const char *fail;           /* set by on_data when it aborts the call */
  bool finished;
};

/* ---------- small helpers ---------- */

static void reply_error(kl_gw_call *c, int status, const char *type, const char *msg,
                        const char *param, const char *code) {
  kl_buf b = KL_BUF_INIT;
  kl_openai_error(&b, status, type, msg, param, code);
  kl_http_header extra[1];
  size_t n = 0;
  if (status == 429 && c && c->retry_after) extra[n++] = (kl_http_header){"Retry-After", c->retry_after};
  c->reply.respond(c->reply.ud, status, "application/json", extra, n, b.data, b.len);
  kl_buf_free(&b);
}

static void timer_closed(uv_handle_t *h) { free(h); }

static void release(kl_gw_call *c) {
  if (c->timer) {
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, timer_closed);
    c->timer = NULL;
  }
  if (c->sse_ready) kl_sse_free(&c->sse);
  kl_chat_stream_free(c->acc);
  c->acc = NULL;
  kl_buf_free(&c->body);
  free(c->up_owned);
  c->up_owned = NULL;
  c->up_body = NULL;
  cJSON_Delete(c->req.root);
  c->req.root = NULL;
}

static const char *input_json(kl_gw_call *c) {
  const cJSON *tools = cJSON_GetObjectItemCaseSensitive(c->req.root, "tools");
  if (!tools) return kl_json_print_arena(c->arena, c->req.messages);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemReferenceToObject(o, "messages", (cJSON *)c->req.messages);
  cJSON_AddItemReferenceToObject(o, "tools", (cJSON *)tools);
  const char *s = kl_json_print_arena(c->arena, o);
  cJSON_Delete(o);
  return s;
}

/* Largest request keel will count tokens for itself: BPE merging is superlinear on
 * pathological pieces, and this runs on the event loop. */
#define MAX_ESTIMATE_BYTES (1u << 20)

/* Text of an assistant message for counting: content plus tool-call names and arguments. */
static int64_t count_output(const kl_tokenizer *t, const char *message_json) {
  if (!message_json) return 0;
  cJSON *m = cJSON_Parse(message_json);
  int64_t n = 0;
  const char *content = kl_json_str(m, "content");
  if (content) n += (int64_t)kl_tokenizer_count(t, content, strlen(content));
  const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
  for (const cJSON *tc = calls ? calls->child : NULL; tc; tc = tc->next) {
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
    const char *name = kl_json_str(fn, "name"), *args = kl_json_str(fn, "arguments");
    if (name) n += (int64_t)kl_tokenizer_count(t, name, strlen(name));
    if (args) n += (int64_t)kl_tokenizer_count(t, args, strlen(args));
  }
  cJSON_Delete(m);
  return n;
}

/* When the upstream reported no usage (a stream cut short, a server that never sends it),
 * count with the model's BPE tokenizer and mark the usage as estimated. */
static void estimate_usage(kl_gw_call *c, kl_usage *u, const char *output_json) {
  if (u->present || c->up_len > MAX_ESTIMATE_BYTES) return;
  kl_err err = {0};
  const kl_tokenizer *t = kl_tokenizer_get(kl_tokenizer_for_model(c->m->upstream_model), &err);
  if (!t) return;
  u->input = kl_tokenizer_count_chat(t, c->req.messages);
  u->output = count_output(t, output_json);
  u->present = u->estimated = true;
}

/* Records the generation and metrics, then completes the reply via `complete`. */
typedef struct outcome {
  int status;                /* HTTP status the client got */
  const char *error;         /* NULL = success */
  const char *error_type;    /* metrics label */
  const kl_chat_result *res; /* may be NULL */
} outcome;

static void record(kl_gw_call *c, const outcome *o) {
  kl_gateway *g = c->g;
  int64_t end = c->start_unix_ns + (kl_mono_ns() - c->start_mono_ns);
  kl_usage u = o->res ? o->res->usage : (kl_usage){0};
  /* only a call the upstream accepted (200) was billed; an error status was not */
  if (c->got_response && c->up_status == 200) estimate_usage(c, &u, o->res ? o->res->output_json : NULL);
  kl_buf params = KL_BUF_INIT;
  kl_chat_req_params_json(&c->req, &params);
  kl_generation gen = {
      .ctx = &c->ctx,
      .name = "chat.completions",
      .start_ns = c->start_unix_ns,
      .end_ns = end,
      .first_token_ns = c->first_token_ns,
      .model = c->m->name,
      .provider = kl_provider_name(c->m->provider),
      .upstream_model = c->m->upstream_model,
      .model_params_json = params.len ? params.data : NULL,
      .input_json = input_json(c),
      .output_json = o->res ? o->res->output_json : NULL,
      .finish_reason = o->res ? o->res->finish_reason : NULL,
      .usage = u,
      .params = c->req.root,
      .http_status = o->status,
      .error = o->error,
      .stream = c->req.stream,
  };
  kl_err err = {0};
  double cost = -1;
  if (kl_tracer_generation(g->tracer, &gen, &cost, &err) != 0) kl_warn("trace: generation not recorded: %s", err.msg);
  kl_metrics_obs mo = {
      .model = c->m->name,
      .status = o->status,
      .error_type = o->error ? (o->error_type ? o->error_type : "error") : NULL,
      .duration_s = (double)(end - c->start_unix_ns) / 1e9,
      .ttft_s = c->first_token_ns ? (double)(c->first_token_ns - c->start_unix_ns) / 1e9 : -1,
      .usage = &u,
      .cost_usd = cost,
      .stream = c->req.stream,
  };
  kl_metrics_record(g->metrics, &mo);
  kl_metrics_http(g->metrics, "chat", o->status);
  kl_buf_free(&params);
}

static void finish_begin(kl_gw_call *c) {
  c->finished = true;
  c->w->active--;
  kl_metrics_inflight(c->g->metrics, -1);
  if (c->up) {
    kl_upstream_cancel(c->up);
    c->up = NULL;
  }
  if (c->mock) {
    kl_mock_call_cancel(c->mock);
    c->mock = NULL;
  }
}

/* ---------- failures ---------- */

static void fail_call(kl_gw_call *c, int status, const char *type, const char *code, const char *msg) {
  if (c->finished) return;
  finish_begin(c);
  kl_chat_result res = {0};
  bool have = false;
  if (c->acc) {
    kl_chat_stream_result(c->acc, c->arena, &res);
    have = true;
  }
  const char *emsg = kl_arena_strdup(c->arena, msg);
  outcome o = {.status = c->stream_started ? 200 : status, .error = emsg, .error_type = code, .res = have ? &res : NULL};
  record(c, &o);
  kl_gw_reply reply = c->reply;
  if (c->stream_started) {
    /* bytes already went out: the only honest end is an error event and no [DONE] */
    kl_buf b = KL_BUF_INIT, e = KL_BUF_INIT;
    kl_openai_error(&e, status, type, emsg, NULL, code);
    kl_buf_puts(&b, "data: ");
    kl_buf_append(&b, e.data, e.len);
    kl_buf_puts(&b, "\n\n");
    reply.stream_write(reply.ud, b.data, b.len);
    kl_buf_free(&b);
    kl_buf_free(&e);
    release(c);
    reply.stream_end(reply.ud);
  } else {
    kl_buf b = KL_BUF_INIT;
    kl_openai_error(&b, status, type, emsg, NULL, code);
    kl_http_header extra[1];
    size_t n = 0;
    char ra[32] = "";
    if (status == 429 && c->retry_after) {
      snprintf(ra, sizeof ra, "%s", c->retry_after);
      extra[n++] = (kl_http_header){"Retry-After", ra};
    }
    release(c);
    reply.respond(reply.ud, status, "application/json", extra, n, b.data, b.len);
    kl_buf_free(&b);
  }
}

static void fail_transport(kl_gw_call *c, kl_upstream_status st, const char *msg) {
  char m[300];
  switch (st) {
    case KL_UP_TIMEOUT:
      snprintf(m, sizeof m, "upstream timed out (%s): %s", c->m->name, msg ? msg : "");
      fail_call(c, 504, "timeout_error", "upstream_timeout", m);
      return;
    case KL_UP_TTFB_TIMEOUT:
      snprintf(m, sizeof m, "upstream sent no first token within %ld ms (%s)", c->m->first_token_timeout_ms, c->m->name);
      fail_call(c, 504, "timeout_error", "upstream_timeout", m);
      return;
    case KL_UP_CONNECT:
      snprintf(m, sizeof m, "could not connect to the upstream of %s: %s", c->m->name, msg ? msg : "");
      fail_call(c, 502, "upstream_error", "upstream_unreachable", m);
      return;
    case KL_UP_RESET:
      snprintf(m, sizeof m, "upstream connection reset (%s): %s", c->m->name, msg ? msg : "");
      fail_call(c, 502, "upstream_error", "upstream_reset", m);
      return;
    default:
      snprintf(m, sizeof m, "upstream error (%s): %s", c->m->name, c->fail ? c->fail : msg ? msg : "");
      fail_call(c, 502, "upstream_error", "upstream_error", m);
      return;
  }
}

/* ---------- non-streamed answers and upstream errors ---------- */

static void finish_buffered(kl_gw_call *c) {
  if (c->up_status < 200 || c->up_status >= 300) {
    /* relay the upstream's error: its status, its body when it is an error object */
    int status = c->up_status >= 400 && c->up_status <= 599 ? c->up_status : 502;
    kl_err e;
    cJSON *j = c->body.len ? kl_json_parse(c->body.data, c->body.len, &e) : NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const char *emsg = err ? kl_json_str(err, "message") : NULL;
    if (!emsg && cJSON_IsString(err)) emsg = err->valuestring;
    char m[400];
    snprintf(m, sizeof m, "upstream returned HTTP %d: %s", c->up_status, emsg ? emsg : "(no error message)");
    if (err && cJSON_IsObject(err) && status == c->up_status) {
      finish_begin(c);
      outcome o = {.status = status, .error = kl_arena_strdup(c->arena, m), .error_type = "upstream_status"};
      record(c, &o);
      kl_gw_reply reply = c->reply;
      char *body = kl_arena_strndup(c->arena, c->body.data, c->body.len);
      size_t blen = c->body.len;
      kl_http_header extra[1];
      size_t n = 0;
      if (c->retry_after) extra[n++] = (kl_http_header){"Retry-After", c->retry_after};
      cJSON_Delete(j);
      release(c);
      reply.respond(reply.ud, status, "application/json", extra, n, body, blen);
      return;
    }
    cJSON_Delete(j);
    fail_call(c, status, NULL, "upstream_status", m);
    return;
  }
  kl_chat_result res;
  kl_err e = {0};
  if (kl_chat_resp_parse(c->arena, c->body.data ? c->body.data : "", c->body.len, &res, &e) != 0) {
    char m[400];
    snprintf(m, sizeof m, "upstream returned an invalid chat completion: %s", e.msg);
    fail_call(c, 502, "upstream_error", "upstream_invalid_response", m);
    return;
  }
  finish_begin(c);
  c->first_token_ns = 0;
  outcome o = {.status = 200, .res = &res};
  record(c, &o);
  kl_gw_reply reply = c->reply;
  char *body = kl_arena_strndup(c->arena, c->body.data, c->body.len);
  size_t blen = c->body.len;
  release(c);
  reply.respond(reply.ud, 200, "application/json", NULL, 0, body, blen);
}

/* ---------- streamed answers ---------- */

static int ensure_stream(kl_gw_call *c) {
  if (c->stream_started) return 0;
  c->stream_started = true;
  kl_http_header extra[] = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  return c->reply.stream_begin(c->reply.ud, 200, "text/event-stream", extra, 2);
}

static void relay_event(kl_gw_call *c, const char *event, const char *data, size_t len) {
  ensure_stream(c);
  kl_buf b = KL_BUF_INIT;
  if (event && *event) kl_buf_printf(&b, "event: %s\n", event);
  kl_buf_puts(&b, "data: ");
  kl_buf_append(&b, data, len);
  kl_buf_puts(&b, "\n\n");
  c->reply.stream_write(c->reply.ud, b.data, b.len);
  kl_buf_free(&b);
}

static void on_sse_event(void *ud, const char *event, const char *data, size_t len) {
  kl_gw_call *c = ud;
  if (c->fail) return;
  size_t before = kl_chat_stream_deltas(c->acc);
  kl_chunk_kind k = kl_chat_stream_feed(c->acc, data, len);
  switch (k) {
    case KL_CHUNK_CONTENT:
      if (!c->first_token_ns && kl_chat_stream_deltas(c->acc) > before)
        c->first_token_ns = c->start_unix_ns + (kl_mono_ns() - c->start_mono_ns);
      relay_event(c, event, data, len);
      break;
    case KL_CHUNK_USAGE_ONLY:
      if (c->req.client_include_usage) relay_event(c, event, data, len);
      break;
    case KL_CHUNK_DONE:
      relay_event(c, event, data, len);
      break;
    case KL_CHUNK_ERROR:
      relay_event(c, event, data, len);
      c->fail = "upstream sent an error event mid-stream";
      break;
    case KL_CHUNK_INVALID:
      c->fail = "upstream sent a stream event that is not a valid chat.completion.chunk";
      break;
  }
}

static void finish_stream(kl_gw_call *c, kl_upstream_status st, const char *msg) {
  bool pending = kl_sse_finish(&c->sse);
  if (st != KL_UP_OK && !c->fail) {
    fail_transport(c, st, msg);
    return;
  }
  if (c->fail) {
    fail_call(c, 502, "upstream_error", "upstream_invalid_stream", c->fail);
    return;
  }
  if (!kl_chat_stream_saw_done(c->acc)) {
    fail_call(c, 502, "upstream_error", "upstream_stream_truncated",
              pending ? "upstream stream ended in the middle of an event"
                      : "upstream stream ended before its final chunk and [DONE]");
    return;
  }
  finish_begin(c);
  kl_chat_result res;
  kl_chat_stream_result(c->acc, c->arena, &res);
  outcome o = {.status = 200, .res = &res};
  record(c, &o);
  kl_gw_reply reply = c->reply;
  release(c);
  /* relaying [DONE] began the stream, so there is always one to end */
  reply.stream_end(reply.ud);
}

/* ---------- provider callbacks ---------- */

static void up_response(void *ud, int status, const kl_http_header *h, size_t n) {
  kl_gw_call *c = ud;
  c->got_response = true;
  c->up_status = status;
  for (size_t i = 0; i < n; i++) {
    if (!strcasecmp(h[i].name, "content-type") && strstr(h[i].value, "text/event-stream")) c->event_stream = true;
    else if (!strcasecmp(h[i].name, "retry-after")) c->retry_after = kl_arena_strdup(c->arena, h[i].value);
  }
  if (c->req.stream && status == 200 && c->event_stream) {
    kl_sse_init(&c->sse, 0);
    c->sse_ready = true;
    c->acc = kl_chat_stream_new();
  }
}

static int up_data(void *ud, const char *data, size_t len) {
  kl_gw_call *c = ud;
  if (c->acc) {
    if (kl_sse_feed(&c->sse, data, len, on_sse_event, c) != 0) c->fail = "upstream stream event too large";
    return c->fail ? 1 : 0;
  }
  if (c->body.len + len > MAX_UPSTREAM_BODY) {
    c->fail = "upstream response too large";
    return 1;
  }
  kl_buf_append(&c->body, data, len);
  return 0;
}

static void up_done(void *ud, kl_upstream_status st, const char *msg) {
  kl_gw_call *c = ud;
  c->up = NULL;
  c->mock = NULL;
  if (c->finished) return;
  if (c->acc) {
    finish_stream(c, st, msg);
    return;
  }
  if (st != KL_UP_OK) {
    fail_transport(c, st, msg);
    return;
  }
  if (c->req.stream && c->up_status == 200) {
    fail_call(c, 502, "upstream_error", "upstream_invalid_stream",
              "upstream answered a streaming request without text/event-stream");
    return;
  }
  finish_buffered(c);
}

static void mock_timeout(uv_timer_t *t) {
  kl_gw_call *c = t->data;
  if (c->finished) return;
  kl_upstream_status st = KL_UP_TIMEOUT;
  if (c->m->first_token_timeout_ms > 0 && !c->got_response) st = KL_UP_TTFB_TIMEOUT;
  if (c->mock) {
    kl_mock_call_cancel(c->mock);
    c->mock = NULL;
  }
  if (c->acc) finish_stream(c, st, "mock timed out");
  else fail_transport(c, st, "mock timed out");
}

/* ---------- entry points ---------- */

static const char *fwd_headers[] = {"x-mock-fault", "x-mock-retry-after", "x-mock-latency-ms",
                                    "x-mock-chunk-delay-ms", "x-mock-cached-tokens",
                                    "x-mock-reasoning-tokens", "x-mock-chunks"};

static int start_http(kl_gw_call *c, kl_err *err) {
  const kl_model_cfg *m = c->m;
  size_t cap = 8 + m->nheaders + sizeof fwd_headers / sizeof *fwd_headers;
  const char **h = kl_arena_alloc(c->arena, cap * sizeof *h);
  size_t n = 0;
  h[n++] = "Content-Type: application/json";
  h[n++] = c->req.stream ? "Accept: text/event-stream" : "Accept: application/json";
  h[n++] = "User-Agent: keel/0.1";
  if (m->api_key && *m->api_key) {
    h[n++] = kl_arena_sprintf(c->arena, "Authorization: Bearer %s", m->api_key);
    if (m->provider == KL_PROVIDER_ANTHROPIC) h[n++] = kl_arena_sprintf(c->arena, "x-api-key: %s", m->api_key);
  }
  if (m->provider == KL_PROVIDER_ANTHROPIC) h[n++] = "anthropic-version: 2023-06-01";
  for (size_t i = 0; i < m->nheaders; i++) h[n++] = m->headers[i];
  for (size_t i = 0; i < sizeof fwd_headers / sizeof *fwd_headers; i++) {
    const char *v = c->hdr ? c->hdr(c->hdr_ud, fwd_headers[i]) : NULL;
    if (v) h[n++] = kl_arena_sprintf(c->arena, "%s: %s", fwd_headers[i], v);
  }
  /* Anthropic deployments use Anthropic's OpenAI-compatible endpoint for now. */
  const char *url = m->provider == KL_PROVIDER_ANTHROPIC
                        ? kl_arena_sprintf(c->arena, "%s/v1/chat/completions", m->base_url)
                        : kl_arena_sprintf(c->arena, "%s/chat/completions", m->base_url);
  kl_upstream_opts o = {
      .method = "POST",
      .url = url,
      .headers = h,
      .nheaders = n,
      .body = c->up_body,
      .body_len = c->up_len,
      .connect_timeout_ms = m->connect_timeout_ms,
      .total_timeout_ms = m->timeout_ms,
      .first_byte_timeout_ms = m->first_token_timeout_ms,
      .insecure_tls = m->insecure_tls,
  };
  kl_upstream_cbs cbs = {up_response, up_data, up_done};
  c->up = kl_upstream_start(c->w->upstream, &o, &cbs, c, err);
  return c->up ? 0 : -1;
}

static void start_mock(kl_gw_call *c) {
  const kl_config *cfg = c->g->cfg;
  kl_mock_opts mo = {.latency_ms = cfg->mock_latency_ms, .chunk_delay_ms = cfg->mock_chunk_delay_ms};
  kl_upstream_cbs cbs = {up_response, up_data, up_done};
  long tmo = c->m->first_token_timeout_ms > 0 ? c->m->first_token_timeout_ms : c->m->timeout_ms;
  if (c->m->timeout_ms > 0 && c->m->timeout_ms < tmo) tmo = c->m->timeout_ms;
  if (tmo > 0) {
    c->timer = malloc(sizeof *c->timer);
    if (!c->timer) abort();
    uv_timer_init(c->w->loop, c->timer);
    c->timer->data = c;
    uv_timer_start(c->timer, mock_timeout, (uint64_t)tmo, 0);
  }
  c->mock = kl_mock_call_start(c->w->loop, c->arena, c->up_body, c->up_len, c->hdr, c->hdr_ud, &mo, &cbs, c);
}

kl_gw_call *kl_gw_chat(const kl_gw_request *r, const kl_gw_reply *reply) {
  kl_gw_worker *w = r->worker;
  kl_gateway *g = w->gw;
  kl_gw_call *c = kl_arena_calloc(r->arena, sizeof *c);
  c->w = w;
  c->g = g;
  c->arena = r->arena;
  c->reply = *reply;
  c->hdr = r->header;
  c->hdr_ud = r->header_ud;
  c->start_unix_ns = r->start_unix_ns;
  c->start_mono_ns = r->start_mono_ns;

  kl_err err = {0};
  if (kl_chat_req_parse(r->body, r->body_len, &c->req, &err) != 0) {
    kl_metrics_http(g->metrics, "chat", 400);
    reply_error(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
    return NULL;
  }
  c->m = kl_config_model(g->cfg, c->req.model);
  if (!c->m) {
    char m[512];
    snprintf(m, sizeof m, "The model '%.200s' does not exist or is not served by this gateway", c->req.model);
    kl_metrics_http(g->metrics, "chat", 404);
    reply_error(c, 404, "invalid_request_error", m, "model", "model_not_found");
    cJSON_Delete(c->req.root);
    return NULL;
  }
  if (kl_trace_ctx_init(&c->ctx, c->arena, r->header, r->header_ud, c->req.user, c->req.metadata, &err) != 0) {
    reply_error(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
    cJSON_Delete(c->req.root);
    return NULL;
  }
  if (!c->req.stream && !strcmp(c->req.model, c->m->upstream_model)) {
    /* nothing to rewrite: forward the client's bytes as they came (saves a serialisation) */
    c->up_body = r->body;
    c->up_len = r->body_len;
  } else {
    c->up_owned = kl_chat_req_upstream_body(&c->req, c->m->upstream_model, &c->up_len);
    c->up_body = c->up_owned;
  }
  w->active++;
  kl_metrics_inflight(g->metrics, 1);
  if (c->m->provider == KL_PROVIDER_MOCK) {
    start_mock(c);
  } else if (start_http(c, &err) != 0) {
    fail_call(c, 502, "upstream_error", "upstream_error", err.msg);
    return NULL;
  }
  return c;
}

void kl_gw_call_abort(kl_gw_call *c) {
  if (!c || c->finished) return;
  fail_call(c, 499, "client_closed_request", "client_disconnected", "client disconnected before the answer completed");
}
