/* call.c: what every endpoint's call shares, from model resolution to the recorded trace.
 *
 * An endpoint (chat.c, embeddings.c, responses.c, messages.c) owns a struct that starts with
 * a kl_gw_call head and a small table of hooks (kl_gw_ops).  This file does everything that
 * does not depend on the wire format: the 404 for an unknown model, the trace context, the
 * provider call (HTTP through the loop's kl_upstream with the deployment's headers and
 * timeouts, or the in-process mock with the endpoint's planner and a timer standing in for
 * the timeouts), buffering or SSE-parsing the answer, mapping transport failures (timeout
 * 504, connect 502, reset 502), relaying upstream error statuses, and recording the trace and
 * metrics.  The hooks turn bytes into the endpoint's result; keel's own errors are written in
 * the endpoint's format (OpenAI, Responses or Anthropic), so every client sees errors its SDK
 * can parse.
 *
 * Lifetime: the call lives in the request arena; everything needed from the arena is used
 * before the reply is completed, because completing it frees the arena. */
#include "gateway/gw_internal.h"
#include "llm/anthropic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_UPSTREAM_BODY (64u << 20)

static void abort_default(kl_gw_call *c) {
  kl_gw_fail(c, 499, "client_closed_request", "client_disconnected", "client disconnected before the answer completed");
}

void kl_gw_call_abort(kl_gw_call *c) {
  if (!c || c->finished) return;
  c->abort(c);
}

void kl_gw_call_init(kl_gw_call *c, const kl_gw_ops *ops, const kl_gw_request *r, const kl_gw_reply *reply) {
  c->abort = abort_default;
  c->ops = ops;
  c->w = r->worker;
  c->g = r->worker->gw;
  c->arena = r->arena;
  c->reply = *reply;
  c->hdr = r->header;
  c->hdr_each = r->header_each;
  c->hdr_ud = r->header_ud;
  c->start_unix_ns = r->start_unix_ns;
  c->start_mono_ns = r->start_mono_ns;
}

int64_t kl_gw_now(const kl_gw_call *c) { return c->start_unix_ns + (kl_mono_ns() - c->start_mono_ns); }

/* ---------- error bodies in the endpoint's format ---------- */

static void error_body(const kl_gw_call *c, kl_buf *b, int status, const char *type, const char *msg,
                       const char *param, const char *code) {
  if (c->ops->fmt == KL_GW_FMT_ANTHROPIC) kl_anth_error(b, status, NULL, msg);
  else kl_openai_error(b, status, type, msg, param, code);
}

/* The error event that ends a stream which already sent bytes. */
static void error_event(const kl_gw_call *c, kl_buf *b, int status, const char *type, const char *msg,
                        const char *code) {
  kl_buf e = KL_BUF_INIT;
  switch (c->ops->fmt) {
    case KL_GW_FMT_OPENAI:
      kl_openai_error(&e, status, type, msg, NULL, code);
      kl_buf_puts(b, "data: ");
      break;
    case KL_GW_FMT_RESPONSES:
      kl_buf_puts(&e, "{\"type\":\"error\",\"code\":");
      kl_buf_json_str(&e, code ? code : "error", strlen(code ? code : "error"));
      kl_buf_puts(&e, ",\"message\":");
      kl_buf_json_str(&e, msg, strlen(msg));
      kl_buf_puts(&e, ",\"param\":null}");
      kl_buf_puts(b, "event: error\ndata: ");
      break;
    case KL_GW_FMT_ANTHROPIC:
      kl_anth_error(&e, status, NULL, msg);
      kl_buf_puts(b, "event: error\ndata: ");
      break;
  }
  kl_buf_append(b, e.data, e.len);
  kl_buf_puts(b, "\n\n");
  kl_buf_free(&e);
}

void kl_gw_reject(kl_gw_call *c, int status, const char *type, const char *msg, const char *param, const char *code) {
  kl_metrics_http(c->g->metrics, c->ops->route, status);
  kl_buf b = KL_BUF_INIT;
  error_body(c, &b, status, type, msg, param, code);
  c->reply.respond(c->reply.ud, status, "application/json", NULL, 0, b.data, b.len);
  kl_buf_free(&b);
}

int kl_gw_resolve(kl_gw_call *c, const char *model) {
  c->m = kl_config_model(c->g->cfg, model);
  if (c->m) return 0;
  char m[512];
  snprintf(m, sizeof m, "The model '%.200s' does not exist or is not served by this gateway", model);
  kl_gw_reject(c, 404, "invalid_request_error", m, "model", "model_not_found");
  return -1;
}

int kl_gw_trace_init(kl_gw_call *c, const char *body_user, const cJSON *body_metadata) {
  kl_err err = {0};
  if (kl_trace_ctx_init(&c->ctx, c->arena, c->hdr, c->hdr_ud, body_user, body_metadata, &err) == 0) return 0;
  kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
  return -1;
}

void kl_gw_body_model(kl_gw_call *c, const cJSON *root, const char *body, size_t len) {
  if (!(c->guard && c->guard->changed) && !strcmp(kl_json_str(root, "model"), c->m->upstream_model)) {
    c->up_body = body;
    c->up_len = len;
    return;
  }
  cJSON *copy = cJSON_Duplicate(root, 1);
  cJSON_ReplaceItemInObjectCaseSensitive(copy, "model", cJSON_CreateString(c->m->upstream_model));
  kl_buf b = KL_BUF_INIT;
  if (!kl_json_write(&b, copy)) abort();
  cJSON_Delete(copy);
  c->up_len = b.len;
  c->up_owned = kl_buf_steal(&b);
  c->up_body = c->up_owned;
}

/* ---------- ending a call ---------- */

static void timer_closed(uv_handle_t *h) { free(h); }

static void flush_unlink(kl_gw_call *c);
static void flush_events(kl_gw_call *c);

static void release(kl_gw_call *c) {
  if (c->timer) {
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, timer_closed);
    c->timer = NULL;
  }
  if (c->guard) kl_gw_guard_release(c);
  if (c->sse_ready) kl_sse_free(&c->sse);
  c->sse_ready = false;
  flush_unlink(c);
  kl_buf_free(&c->events);
  kl_buf_free(&c->body);
  free(c->up_owned);
  c->up_owned = NULL;
  c->up_body = NULL;
  if (c->ops->release) c->ops->release(c);
}

static void finish_begin(kl_gw_call *c) {
  c->finished = true;
  if (c->active) {
    c->active = false;
    c->w->active--;
    kl_metrics_inflight(c->g->metrics, -1);
  }
  if (c->up) {
    kl_upstream_cancel(c->up);
    c->up = NULL;
  }
  if (c->mock) {
    kl_mock_call_cancel(c->mock);
    c->mock = NULL;
  }
}

/* Largest request keel counts tokens for itself: BPE merging is superlinear on pathological
 * pieces, and this runs on the event loop. */
#define MAX_ESTIMATE_BYTES (1u << 20)

/* Tokens of every string in a JSON tree: a format-independent estimate (the role names and
 * block types it also counts are a few tokens per message, which is about what the
 * providers' own message framing costs). */
static int64_t count_strings(const kl_tokenizer *t, const cJSON *j) {
  int64_t n = 0;
  for (; j; j = j->next) {
    if (cJSON_IsString(j) && j->valuestring) n += (int64_t)kl_tokenizer_count(t, j->valuestring, strlen(j->valuestring));
    else if (j->child) n += count_strings(t, j->child);
  }
  return n;
}

static int64_t count_json_text(const kl_tokenizer *t, const char *json) {
  if (!json) return 0;
  cJSON *j = cJSON_Parse(json);
  int64_t n = j ? count_strings(t, j) : 0;
  cJSON_Delete(j);
  return n;
}

bool kl_gw_should_estimate(const kl_gw_call *c, const kl_usage *u) {
  /* Usage that is "present" but all zero comes from a stream cut before its usage arrived
   * (Anthropic's message_start placeholder, a translator's initial state): a billed call
   * always has input tokens, so it counts as absent. */
  bool reported = u->present && (kl_usage_input_total(u) > 0 || kl_usage_output_total(u) > 0 || u->cost_reported);
  /* only a call the upstream accepted (200) was billed; an error status was not */
  return !reported && c->got_response && c->up_status == 200 && c->up_len <= MAX_ESTIMATE_BYTES;
}

/* The upstream reported no usage (a stream cut short, a server that never sends it): count
 * what was sent and received with the upstream model's tokenizer, marked as estimated. */
static void estimate_usage(kl_gw_call *c, kl_generation *gen) {
  if (!kl_gw_should_estimate(c, &gen->usage)) return;
  kl_err err = {0};
  const kl_tokenizer *t = kl_tokenizer_get(kl_tokenizer_for_model(c->m->upstream_model), &err);
  if (!t) return;
  kl_usage u = {.present = true, .estimated = true, .reported_cost = -1};
  u.input = count_json_text(t, gen->input_json);
  u.output = gen->type && !strcmp(gen->type, KL_OBS_EMBEDDING) ? 0 : count_json_text(t, gen->output_json);
  gen->usage = u;
}

void kl_gw_record(kl_gw_call *c, kl_generation *gen, const kl_gw_outcome *o) {
  kl_gateway *g = c->g;
  estimate_usage(c, gen);
  int64_t end = kl_gw_now(c);
  gen->ctx = &c->ctx;
  gen->start_ns = c->start_unix_ns;
  gen->end_ns = end;
  gen->first_token_ns = c->first_token_ns;
  gen->model = c->m->name;
  gen->provider = kl_provider_name(c->m->provider);
  gen->upstream_model = c->m->upstream_model;
  size_t mi = (size_t)(c->m - g->cfg->models); /* c->m points into cfg->models (kl_gw_resolve) */
  gen->deployment_prices = mi < g->cfg->nmodels ? g->dep_prices[mi] : NULL;
  gen->http_status = o->status;
  gen->error = o->error;
  kl_err err = {0};
  double cost = -1;
  if (kl_tracer_generation(g->tracer, gen, &cost, &err) != 0) kl_warn("trace: observation not recorded: %s", err.msg);
  kl_metrics_obs mo = {
      .model = c->m->name,
      .status = o->status,
      .error_type = o->error ? (o->error_type ? o->error_type : "error") : NULL,
      .duration_s = (double)(end - c->start_unix_ns) / 1e9,
      .ttft_s = c->first_token_ns ? (double)(c->first_token_ns - c->start_unix_ns) / 1e9 : -1,
      .usage = &gen->usage,
      .cost_usd = cost,
      .stream = gen->stream,
  };
  kl_metrics_record(g->metrics, &mo);
  kl_metrics_http(g->metrics, c->ops->route, o->status);
}

void kl_gw_params_json(const cJSON *root, const char *const *keys, size_t nkeys, kl_buf *out) {
  kl_buf_putc(out, '{');
  kl_json_pick(out, root, keys, nkeys);
  kl_buf_putc(out, '}');
}

void kl_gw_fail(kl_gw_call *c, int status, const char *type, const char *code, const char *msg) {
  if (c->finished) return;
  finish_begin(c);
  const char *emsg = kl_arena_strdup(c->arena, msg);
  kl_gw_outcome o = {.status = c->stream_started ? 200 : status, .error = emsg, .error_type = code};
  c->ops->record(c, &o);
  kl_gw_reply reply = c->reply;
  kl_buf b = KL_BUF_INIT;
  if (c->stream_started) {
    /* bytes already went out: the only honest end is an error event and no end marker */
    flush_events(c);
    error_event(c, &b, status, type, emsg, code);
    reply.stream_write(reply.ud, b.data, b.len);
    release(c);
    reply.stream_end(reply.ud);
  } else {
    error_body(c, &b, status, type, emsg, NULL, code);
    kl_http_header extra[1];
    size_t n = 0;
    char ra[32] = "";
    if (status == 429 && c->retry_after) {
      snprintf(ra, sizeof ra, "%s", c->retry_after);
      extra[n++] = (kl_http_header){"Retry-After", ra};
    }
    release(c);
    reply.respond(reply.ud, status, "application/json", extra, n, b.data, b.len);
  }
  kl_buf_free(&b);
}

void kl_gw_fail_transport(kl_gw_call *c, kl_upstream_status st, const char *msg) {
  char m[300];
  switch (st) {
    case KL_UP_TIMEOUT:
      snprintf(m, sizeof m, "upstream timed out (%s): %s", c->m->name, msg ? msg : "");
      kl_gw_fail(c, 504, "timeout_error", "upstream_timeout", m);
      return;
    case KL_UP_TTFB_TIMEOUT:
      snprintf(m, sizeof m, "upstream sent no first token within %ld ms (%s)", c->m->first_token_timeout_ms, c->m->name);
      kl_gw_fail(c, 504, "timeout_error", "upstream_timeout", m);
      return;
    case KL_UP_CONNECT:
      snprintf(m, sizeof m, "could not connect to the upstream of %s: %s", c->m->name, msg ? msg : "");
      kl_gw_fail(c, 502, "upstream_error", "upstream_unreachable", m);
      return;
    case KL_UP_RESET:
      snprintf(m, sizeof m, "upstream connection reset (%s): %s", c->m->name, msg ? msg : "");
      kl_gw_fail(c, 502, "upstream_error", "upstream_reset", m);
      return;
    default:
      snprintf(m, sizeof m, "upstream error (%s): %s", c->m->name, c->fail ? c->fail : msg ? msg : "");
      kl_gw_fail(c, 502, "upstream_error", "upstream_error", m);
      return;
  }
}

void kl_gw_complete_json(kl_gw_call *c, const kl_gw_outcome *o, const char *body, size_t len) {
  finish_begin(c);
  c->ops->record(c, o);
  kl_gw_reply reply = c->reply;
  char *copy = kl_arena_strndup(c->arena, body, len);
  release(c);
  reply.respond(reply.ud, o->status, "application/json", NULL, 0, copy, len);
}

void kl_gw_complete_stream(kl_gw_call *c, const kl_gw_outcome *o) {
  finish_begin(c);
  c->ops->record(c, o);
  kl_gw_reply reply = c->reply;
  if (!c->stream_started) {
    /* an empty but complete stream still needs its head */
    c->stream_started = true;
    kl_http_header extra[] = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    reply.stream_begin(reply.ud, 200, "text/event-stream", extra, 2);
  }
  flush_events(c);
  release(c);
  reply.stream_end(reply.ud);
}

static void put_event(kl_buf *b, const char *event, const char *data, size_t len) {
  if (event && *event) {
    kl_buf_puts(b, "event: ");
    kl_buf_puts(b, event);
    kl_buf_putc(b, '\n');
  }
  kl_buf_puts(b, "data: ");
  kl_buf_append(b, data, len);
  kl_buf_puts(b, "\n\n");
}

/* ---------- stream events: written once per loop round ----------
 *
 * A streamed answer used to be relayed an event at a time: every SSE event became its own
 * chunk and its own write(2) to the client.  An upstream that is ahead of keel (a fast model,
 * a loaded loop) hands over dozens of events per read, and HTTP/1.1 upstreams that send each
 * event as a chunk of their chunked body make llhttp call back once per event, so the write
 * per event was most of what a plain stream cost.  Events now collect in the call's `events`
 * and the worker's check handle writes each call's collection once the loop has run the I/O
 * callbacks of this round: every event still leaves in the round its bytes arrived in,
 * nothing waits for later input.  Whatever ends a stream (kl_gw_fail, kl_gw_complete_stream)
 * writes what is pending first; release() drops the call from the list.  A call whose output
 * rails left a window due (guard_stream.c: one window for the round's chunks) is in the list
 * too, with or without events; the check handle runs that window first. */

static void flush_unlink(kl_gw_call *c) {
  if (!c->flush_linked) return;
  if (c->flush_prev) c->flush_prev->flush_next = c->flush_next;
  else c->w->flush_head = c->flush_next;
  if (c->flush_next) c->flush_next->flush_prev = c->flush_prev;
  c->flush_prev = c->flush_next = NULL;
  c->flush_linked = false;
}

static void flush_events(kl_gw_call *c) {
  flush_unlink(c);
  if (c->events.len) c->reply.stream_write(c->reply.ud, c->events.data, c->events.len);
  kl_buf_reset(&c->events);
}

/* A rail marked the call failed outside the upstream's callbacks: end it now. */
static void fail_marked(kl_gw_call *c) {
  kl_gw_fail(c, c->fail_status ? c->fail_status : 502, c->fail_type ? c->fail_type : "upstream_error",
             c->fail_code ? c->fail_code : "upstream_invalid_stream", c->fail);
}

/* Each call's due output-rail window first (guard_stream.c: it may queue an event, which links
 * the call again, or block the stream), then its events. */
static void flush_cb(uv_check_t *h) {
  kl_gw_worker *w = h->data;
  while (w->flush_head) {
    kl_gw_call *c = w->flush_head;
    flush_unlink(c);
    if (c->guard && c->guard->due && !kl_gw_guard_stream_due(c)) fail_marked(c);
    else flush_events(c);
  }
  uv_check_stop(h);
}

void kl_gw_stream_event(kl_gw_call *c, const char *event, const char *data, size_t len) {
  if (!c->stream_started) {
    c->stream_started = true;
    kl_http_header extra[] = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    c->reply.stream_begin(c->reply.ud, 200, "text/event-stream", extra, 2);
  }
  put_event(&c->events, event, data, len);
  kl_gw_at_round_end(c);
}

void kl_gw_at_round_end(kl_gw_call *c) {
  if (c->flush_linked) return;
  kl_gw_worker *w = c->w;
  c->flush_next = w->flush_head;
  if (w->flush_head) w->flush_head->flush_prev = c;
  w->flush_head = c;
  c->flush_linked = true;
  if (!uv_is_active((uv_handle_t *)w->flush)) uv_check_start(w->flush, flush_cb);
}

/* ---------- upstream error statuses ---------- */

/* Relays the upstream's error: its status, and its body when it is an error object (in the
 * client's format); anything else becomes keel's own error with that status. */
static void relay_error(kl_gw_call *c) {
  int status = c->up_status >= 400 && c->up_status <= 599 ? c->up_status : 502;
  kl_err e;
  cJSON *j = c->body.len ? kl_json_parse(c->body.data, c->body.len, &e) : NULL;
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
  const char *emsg = err ? kl_json_str(err, "message") : NULL;
  if (!emsg && cJSON_IsString(err)) emsg = err->valuestring;
  char m[400];
  snprintf(m, sizeof m, "upstream returned HTTP %d: %s", c->up_status, emsg ? emsg : "(no error message)");
  if (!(err && cJSON_IsObject(err) && status == c->up_status)) {
    cJSON_Delete(j);
    kl_gw_fail(c, status, NULL, "upstream_status", m);
    return;
  }
  cJSON_Delete(j);
  finish_begin(c);
  kl_gw_outcome o = {.status = status, .error = kl_arena_strdup(c->arena, m), .error_type = "upstream_status"};
  c->ops->record(c, &o);
  kl_gw_reply reply = c->reply;
  kl_buf conv = KL_BUF_INIT;
  if (c->errconv == KL_GW_ERR_A2O) kl_anth_error_to_openai(&conv, status, c->body.data, c->body.len);
  else if (c->errconv == KL_GW_ERR_O2A) kl_anth_error_from_openai(&conv, status, c->body.data, c->body.len);
  else kl_buf_append(&conv, c->body.data, c->body.len);
  char *body = kl_arena_strndup(c->arena, conv.data ? conv.data : "", conv.len);
  size_t blen = conv.len;
  kl_buf_free(&conv);
  kl_http_header extra[1];
  size_t n = 0;
  if (c->retry_after) extra[n++] = (kl_http_header){"Retry-After", c->retry_after};
  release(c);
  reply.respond(reply.ud, status, "application/json", extra, n, body, blen);
}

/* ---------- provider callbacks ---------- */

void kl_gw_stream_done(kl_gw_call *c, bool pending) {
  if (c->fail) {
    fail_marked(c);
    return;
  }
  c->ops->stream_end(c, pending);
}

static void finish_stream(kl_gw_call *c, kl_upstream_status st, const char *msg) {
  bool pending = kl_sse_finish(&c->sse);
  if (st != KL_UP_OK && !c->fail) {
    kl_gw_fail_transport(c, st, msg);
    return;
  }
  if (c->guard && !c->fail && kl_gw_guard_holding(c)) {
    /* a `during` rail has not answered yet: the end waits with the events */
    c->guard->held_end = true;
    c->guard->held_end_pending = pending;
    return;
  }
  kl_gw_stream_done(c, pending);
}

static void up_response(void *ud, int status, const kl_http_header *h, size_t n) {
  kl_gw_call *c = ud;
  c->got_response = true;
  c->up_status = status;
  for (size_t i = 0; i < n; i++) {
    /* the first letter, either case (| 0x20), picks the one name strcasecmp may then match */
    char first = (char)(h[i].name[0] | 0x20);
    if (first == 'c' && !strcasecmp(h[i].name, "content-type") && strstr(h[i].value, "text/event-stream"))
      c->event_stream = true;
    else if (first == 'r' && !strcasecmp(h[i].name, "retry-after"))
      c->retry_after = kl_arena_strdup(c->arena, h[i].value);
  }
  if (c->want_stream && status == 200 && c->event_stream) {
    kl_sse_init(&c->sse, 0);
    c->sse_ready = true;
    c->ops->stream_begin(c);
  }
}

/* Events while a `during` rail is pending are kept (name NUL, 8-byte length, data) and replayed
 * by guard_classify.c once it passes. */
static void gated_event(void *ud, const char *event, const char *data, size_t len) {
  kl_gw_call *c = ud;
  if (!kl_gw_guard_holding(c)) {
    c->ops->on_event(ud, event, data, len);
    return;
  }
  kl_buf *h = &c->guard->held_events;
  kl_buf_puts(h, event ? event : "");
  kl_buf_putc(h, 0);
  uint64_t n = len;
  kl_buf_append(h, (const char *)&n, sizeof n);
  kl_buf_append(h, data, len);
}

static int up_data(void *ud, const char *data, size_t len) {
  kl_gw_call *c = ud;
  if (c->sse_ready) {
    if (kl_sse_feed(&c->sse, data, len, c->guard ? gated_event : c->ops->on_event, c) != 0)
      c->fail = "upstream stream event too large";
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
  if (c->sse_ready) {
    finish_stream(c, st, msg);
    return;
  }
  if (st != KL_UP_OK) {
    kl_gw_fail_transport(c, st, msg);
    return;
  }
  if (c->want_stream && c->up_status == 200) {
    kl_gw_fail(c, 502, "upstream_error", "upstream_invalid_stream",
               "upstream answered a streaming request without text/event-stream");
    return;
  }
  if (c->up_status < 200 || c->up_status >= 300) {
    relay_error(c);
    return;
  }
  if (c->guard && kl_gw_guard_holding(c)) {
    c->guard->held_body = true;  /* delivered when the `during` rails pass */
    return;
  }
  c->ops->body_done(c);
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
  if (c->sse_ready) finish_stream(c, st, "mock timed out");
  else kl_gw_fail_transport(c, st, "mock timed out");
}

/* ---------- starting the provider call ---------- */

/* A deployment's `forward_headers` (config.c keeps credentials and keel's own headers out of
 * them): the client's matching headers go upstream as they came, e.g. `x-mock-*` so that
 * `keel mock-upstream` behind an openai deployment is driven like the in-process mock. */
typedef struct {
  kl_gw_call *c;
  const char **h;
  size_t n, cap;
} fwd_list;

static bool forwarded(const kl_model_cfg *m, const char *name) {
  for (size_t i = 0; i < m->nforward_headers; i++) {
    const char *p = m->forward_headers[i];
    size_t l = strlen(p);
    if (l && p[l - 1] == '*' ? !strncmp(name, p, l - 1) : !strcmp(name, p)) return true;
  }
  return false;
}

static void forward_one(void *ctx, const char *name, const char *value) {
  fwd_list *f = ctx;
  if (!forwarded(f->c->m, name)) return;
  f->h = kl_arena_grow(f->c->arena, (void *)f->h, f->n, &f->cap, sizeof *f->h, 8);
  char *line = kl_arena_alloc(f->c->arena, strlen(name) + 2 + strlen(value) + 1);
  strcpy(stpcpy(stpcpy(line, name), ": "), value);
  f->h[f->n++] = line;
}

static int start_http(kl_gw_call *c, const char *url, const char *const *extra, size_t nextra, kl_err *err) {
  const kl_model_cfg *m = c->m;
  size_t cap = 8 + m->nheaders + nextra + 8;
  const char **h = kl_arena_alloc(c->arena, cap * sizeof *h);
  size_t n = 0;
  h[n++] = "Content-Type: application/json";
  h[n++] = c->want_stream ? "Accept: text/event-stream" : "Accept: application/json";
  h[n++] = "User-Agent: keel/0.1";
  if (m->api_key && *m->api_key) {
    /* Anthropic authenticates with x-api-key alone (a Bearer token means OAuth there) */
    if (m->provider == KL_PROVIDER_ANTHROPIC) h[n++] = kl_arena_concat(c->arena, "x-api-key: ", m->api_key);
    else h[n++] = kl_arena_concat(c->arena, "Authorization: Bearer ", m->api_key);
  }
  if (m->provider == KL_PROVIDER_ANTHROPIC) h[n++] = "anthropic-version: " KL_ANTH_VERSION;
  for (size_t i = 0; i < nextra; i++) h[n++] = extra[i];
  for (size_t i = 0; i < m->nheaders; i++) h[n++] = m->headers[i];
  if (m->nforward_headers && c->hdr_each) {
    fwd_list f = {c, h, n, cap};
    c->hdr_each(c->hdr_ud, forward_one, &f);
    h = f.h;
    n = f.n;
  }
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

static void start_mock(kl_gw_call *c, kl_mock_planner plan) {
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
  c->mock = kl_mock_call_start(c->w->loop, c->arena, plan, c->up_body, c->up_len, c->hdr, c->hdr_ud, &mo, &cbs, c);
}

void kl_gw_activate(kl_gw_call *c) {
  if (c->active) return;
  c->active = true;
  c->w->active++;
  kl_metrics_inflight(c->g->metrics, 1);
}

int kl_gw_start(kl_gw_call *c, const char *url, const char *const *extra, size_t nextra, kl_mock_planner plan) {
  kl_gw_activate(c);
  c->url = url;
  c->extra = extra;
  c->nextra = nextra;
  c->plan = plan;
  if (c->m->provider == KL_PROVIDER_MOCK) {
    start_mock(c, plan);
    return 0;
  }
  kl_err err = {0};
  if (start_http(c, url, extra, nextra, &err) == 0) return 0;
  kl_gw_fail(c, 502, "upstream_error", "upstream_error", err.msg);
  return -1;
}

int kl_gw_retry(kl_gw_call *c, char *body, size_t len) {
  free(c->up_owned);
  c->up_owned = body;
  c->up_body = body;
  c->up_len = len;
  c->got_response = false;
  c->up_status = 0;
  c->event_stream = false;
  c->retry_after = NULL;
  c->first_token_ns = 0;
  kl_buf_reset(&c->body);
  if (c->timer) {
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, timer_closed);
    c->timer = NULL;
  }
  if (c->m->provider == KL_PROVIDER_MOCK) {
    start_mock(c, c->plan);
    return 0;
  }
  kl_err err = {0};
  if (start_http(c, c->url, c->extra, c->nextra, &err) == 0) return 0;
  kl_gw_fail(c, 502, "upstream_error", "upstream_error", err.msg);
  return -1;
}

void kl_gw_refuse(kl_gw_call *c, int status, const char *type, const char *msg, const char *param, const char *code) {
  const char *emsg = kl_arena_strdup(c->arena, msg);
  kl_gw_outcome o = {.status = status, .error = emsg, .error_type = code};
  c->ops->record(c, &o);  /* records the metrics (kl_metrics_http included) */
  kl_buf b = KL_BUF_INIT;
  error_body(c, &b, status, type, emsg, param, code);
  c->reply.respond(c->reply.ud, status, "application/json", NULL, 0, b.data, b.len);
  kl_buf_free(&b);
}
