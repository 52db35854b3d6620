/* chat.c: POST /v1/chat/completions, the chat-specific half of the pipeline (call.c has the rest).
 *
 *   validate -> resolve model -> trace context -> provider call -> relay -> record
 *
 * Non-streamed answers are buffered, checked (an upstream 200 that is not a chat.completion
 * becomes a 502: an upstream failure is never answered 200) and relayed byte for byte.
 * Streamed answers go through the SSE parser and the chunk assembler event by event and each
 * event is written to the client as soon as it is parsed; the usage-only chunk keel asked for
 * on the client's behalf is swallowed unless the client asked for it too.  A stream that dies
 * after bytes went out ends with an error event and no [DONE], so clients see the failure
 * instead of a silently short answer.
 *
 * Anthropic deployments are called natively (Messages API): the request is translated with
 * kl_anth_req_from_openai (a 400 for what cannot map), answers back with
 * kl_anth_resp_to_openai, streams event by event with the kl_anth_a2o translator, whose
 * chat.completion.chunk output then runs through exactly the same relay as an OpenAI stream. */
#include "gateway/gw_internal.h"
#include "llm/anthropic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chat_call {
  kl_gw_call c;               /* first: the common head */
  kl_chat_req req;
  const char *url;
  kl_chat_stream *acc;
  bool native_anth;           /* the upstream speaks Anthropic Messages */
  kl_anth_a2o *a2o;           /* its streams: Anthropic events -> OpenAI chunks */
} chat_call;

/* ---------- recording ---------- */

static const char *input_json(chat_call *cc) {
  const cJSON *tools = kl_json_get(cc->req.root, "tools");
  if (!tools) return kl_json_print_arena(cc->c.arena, cc->req.messages);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemReferenceToObject(o, "messages", (cJSON *)cc->req.messages);
  cJSON_AddItemReferenceToObject(o, "tools", (cJSON *)tools);
  const char *s = kl_json_print_arena(cc->c.arena, o);
  cJSON_Delete(o);
  return s;
}

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
static void estimate_usage(chat_call *cc, kl_usage *u, const char *output_json) {
  if (!kl_gw_should_estimate(&cc->c, u)) return;
  kl_err err = {0};
  const kl_tokenizer *t = kl_tokenizer_get(kl_tokenizer_for_model(cc->c.m->upstream_model), &err);
  if (!t) return;
  *u = (kl_usage){.present = true, .estimated = true, .reported_cost = -1};
  u->input = kl_tokenizer_count_chat(t, cc->req.messages);
  u->output = count_output(t, output_json);
}

static void chat_record(kl_gw_call *c, const kl_gw_outcome *o) {
  chat_call *cc = (chat_call *)c;
  kl_chat_result sres;
  const kl_chat_result *res = o->res;
  if (!res && cc->acc) {
    kl_chat_stream_result(cc->acc, c->arena, &sres);
    res = &sres;
  }
  kl_usage u = res ? res->usage : (kl_usage){0};
  /* the stream translator knows Anthropic's usage even when the chunks did not carry it */
  if (cc->a2o && !u.present) u = kl_anth_a2o_usage(cc->a2o);
  /* chat counts input with OpenAI's message recipe, more exact than the generic estimate */
  estimate_usage(cc, &u, res ? res->output_json : NULL);
  const char *output_json = res ? res->output_json : NULL;
  if (c->guard) {
    /* answers a reask replaced were billed too */
    u.input += c->guard->spent.input;
    u.input_cached += c->guard->spent.input_cached;
    u.output += c->guard->spent.output;
    u.output_reasoning += c->guard->spent.output_reasoning;
    /* a filtered stream is stored as released (rewritten), never as the upstream sent it */
    if (c->guard->stream_rails) output_json = kl_gw_guard_stored_output(c, output_json);
  }
  kl_buf params = KL_BUF_INIT;
  kl_chat_req_params_json(&cc->req, &params);
  kl_generation gen = {
      .name = "chat.completions",
      .model_params_json = params.len ? params.data : NULL,
      .input_json = input_json(cc),
      .output_json = output_json,
      .finish_reason = res ? res->finish_reason : NULL,
      .usage = u,
      .params = cc->req.root,
      .stream = cc->req.stream,
  };
  kl_gw_record(c, &gen, o);
  kl_buf_free(&params);
}

static void chat_release(kl_gw_call *c) {
  chat_call *cc = (chat_call *)c;
  kl_chat_stream_free(cc->acc);
  cc->acc = NULL;
  kl_anth_a2o_free(cc->a2o);
  cc->a2o = NULL;
  kl_chat_req_free(&cc->req);
}

/* ---------- non-streamed answers ---------- */

static int anthropic_body(chat_call *cc, kl_err *err);

/* Output rails asked for another answer: the same request plus the rejected answer and the
 * validation error.  The first answer's usage is kept (it was billed). */
static void chat_reask(chat_call *cc, const kl_usage *spent) {
  kl_gw_call *c = &cc->c;
  c->guard->spent.input += spent->input;
  c->guard->spent.input_cached += spent->input_cached;
  c->guard->spent.output += spent->output;
  c->guard->spent.output_reasoning += spent->output_reasoning;
  size_t len;
  char *body = kl_gw_guard_reask_body(c, cc->req.root, c->m->upstream_model, &len);
  if (cc->native_anth) {
    kl_err err = {0};
    cJSON *r = cJSON_Parse(body);
    free(body);
    cJSON *a = r ? kl_anth_req_from_openai(r, &err) : NULL;
    cJSON_Delete(r);
    if (!a) {
      kl_gw_fail(c, 500, "server_error", "guardrail_error", "cannot translate the reask request");
      return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(a, "model", cJSON_CreateString(c->m->upstream_model));
    kl_buf b = KL_BUF_INIT;
    if (!kl_json_write(&b, a)) abort();
    cJSON_Delete(a);
    len = b.len;
    body = kl_buf_steal(&b);
  }
  kl_gw_retry(c, body, len);
}

static void chat_body_done(kl_gw_call *c) {
  kl_chat_result res;
  kl_err e = {0};
  char m[400];
  if (((chat_call *)c)->native_anth) {
    /* translate the Anthropic message into a chat.completion, then treat it as one */
    cJSON *msg = kl_json_parse(c->body.data ? c->body.data : "", c->body.len, &e);
    cJSON *oa = msg ? kl_anth_resp_to_openai(msg, c->start_unix_ns / 1000000000, &e) : NULL;
    cJSON_Delete(msg);
    if (!oa) {
      snprintf(m, sizeof m, "upstream returned an invalid Anthropic message: %s", e.msg);
      kl_gw_fail(c, 502, "upstream_error", "upstream_invalid_response", m);
      return;
    }
    kl_buf_reset(&c->body);
    if (!kl_json_write(&c->body, oa)) abort();
    cJSON_Delete(oa);
  }
  if (kl_chat_resp_parse(c->arena, c->body.data ? c->body.data : "", c->body.len, &res, &e) != 0) {
    snprintf(m, sizeof m, "upstream returned an invalid chat completion: %s", e.msg);
    kl_gw_fail(c, 502, "upstream_error", "upstream_invalid_response", m);
    return;
  }
  const char *client_body = c->body.data;
  size_t client_len = c->body.len;
  if (c->guard) {
    bool rewritten;
    switch (kl_gw_guard_output(c, &c->body, res.tree, &client_body, &client_len, &rewritten)) {
      case KL_GW_GUARD_DONE: return;
      case KL_GW_GUARD_REASK: chat_reask((chat_call *)c, &res.usage); return;
      case KL_GW_GUARD_PASS: break;
    }
    /* the trace keeps the answer as rewritten (placeholders, redactions) */
    if (rewritten && kl_chat_resp_parse(c->arena, c->body.data ? c->body.data : "", c->body.len, &res, &e) != 0) {
      kl_gw_fail(c, 500, "server_error", "guardrail_error", "output rails produced an invalid answer");
      return;
    }
  }
  c->first_token_ns = 0;
  kl_gw_outcome o = {.status = 200, .res = &res};
  kl_gw_complete_json(c, &o, client_body, client_len);
}

/* ---------- streamed answers ---------- */

static void chat_stream_begin(kl_gw_call *c) {
  chat_call *cc = (chat_call *)c;
  cc->acc = kl_chat_stream_new();
  if (c->guard) kl_gw_guard_stream_on(c);
}

/* One chat.completion.chunk (or [DONE]) from the upstream or from the Anthropic translator. */
static void on_chunk(void *ud, const char *event, const char *data, size_t len) {
  chat_call *cc = ud;
  kl_gw_call *c = &cc->c;
  if (c->fail) return;
  size_t before = kl_chat_stream_deltas(cc->acc);
  kl_chunk_kind k = kl_chat_stream_feed(cc->acc, data, len);
  switch (k) {
    case KL_CHUNK_CONTENT:
      if (!c->first_token_ns && kl_chat_stream_deltas(cc->acc) > before) c->first_token_ns = kl_gw_now(c);
      if (c->guard && c->guard->stream_rails) kl_gw_guard_stream_chunk(c, event, data, len, kl_chat_stream_choice0(cc->acc));
      else kl_gw_stream_event(c, event, data, len);
      break;
    case KL_CHUNK_USAGE_ONLY:  /* after the text the rails still hold for this round (guard_stream.c) */
      if (!kl_gw_guard_stream_due(c)) break;
      if (cc->req.client_include_usage) kl_gw_stream_event(c, event, data, len);
      break;
    case KL_CHUNK_DONE:
      if (c->guard && !kl_gw_guard_stream_finish(c)) break;  /* blocked: no [DONE] */
      kl_gw_stream_event(c, event, data, len);
      break;
    case KL_CHUNK_ERROR:
      if (!kl_gw_guard_stream_due(c)) break;
      kl_gw_stream_event(c, event, data, len);
      c->fail = "upstream sent an error event mid-stream";
      break;
    case KL_CHUNK_INVALID:
      c->fail = "upstream sent a stream event that is not a valid chat.completion.chunk";
      break;
  }
}

static void on_anth_event(void *ud, const char *event, const char *data, size_t len) {
  chat_call *cc = ud;
  if (cc->c.fail) return;
  if (!cc->a2o) cc->a2o = kl_anth_a2o_new(true, cc->c.start_unix_ns / 1000000000, on_chunk, cc);
  kl_anth_ev ev = kl_anth_a2o_feed(cc->a2o, event, data, len);
  if (ev == KL_ANTH_EV_INVALID && !cc->c.fail)
    cc->c.fail = "upstream sent a stream event that is not a valid Anthropic event";
}

static void chat_on_event(void *ud, const char *event, const char *data, size_t len) {
  chat_call *cc = ud;
  if (cc->native_anth) on_anth_event(ud, event, data, len);
  else on_chunk(ud, event, data, len);
}

static void chat_stream_end(kl_gw_call *c, bool pending) {
  chat_call *cc = (chat_call *)c;
  if (c->guard && !kl_gw_guard_stream_finish(c)) {
    kl_gw_stream_done(c, false);  /* c->fail says how */
    return;
  }
  if (!kl_chat_stream_saw_done(cc->acc)) {
    kl_gw_fail(c, 502, "upstream_error", "upstream_stream_truncated",
               pending ? "upstream stream ended in the middle of an event"
                       : "upstream stream ended before its final chunk and [DONE]");
    return;
  }
  kl_chat_result res;
  kl_chat_stream_result(cc->acc, c->arena, &res);
  if (cc->a2o && !res.usage.present) res.usage = kl_anth_a2o_usage(cc->a2o);
  kl_gw_outcome o = {.status = 200, .res = &res};
  kl_gw_complete_stream(c, &o);
}

static const kl_gw_ops chat_ops = {
    .route = "chat",
    .fmt = KL_GW_FMT_OPENAI,
    .stream_begin = chat_stream_begin,
    .on_event = chat_on_event,
    .stream_end = chat_stream_end,
    .body_done = chat_body_done,
    .record = chat_record,
    .release = chat_release,
};

/* ---------- entry point ---------- */

static void chat_start(kl_gw_call *c) { kl_gw_start(c, ((chat_call *)c)->url, NULL, 0, kl_mock_chat); }

/* Anthropic deployments: the request translated to a Messages request (400 when it cannot be). */
static int anthropic_body(chat_call *cc, kl_err *err) {
  cJSON *a = kl_anth_req_from_openai(cc->req.root, err);
  if (!a) return -1;
  cJSON_ReplaceItemInObjectCaseSensitive(a, "model", cJSON_CreateString(cc->c.m->upstream_model));
  kl_buf b = KL_BUF_INIT;
  if (!kl_json_write(&b, a)) abort();
  cJSON_Delete(a);
  cc->c.up_len = b.len;
  cc->c.up_owned = kl_buf_steal(&b);
  cc->c.up_body = cc->c.up_owned;
  cc->c.errconv = KL_GW_ERR_A2O;
  cc->native_anth = true;
  return 0;
}

kl_gw_call *kl_gw_chat(const kl_gw_request *r, const kl_gw_reply *reply) {
  chat_call *cc = kl_arena_calloc(r->arena, sizeof *cc);
  kl_gw_call *c = &cc->c;
  kl_gw_call_init(c, &chat_ops, r, reply);

  kl_err err = {0};
  if (kl_chat_req_parse(r->arena, r->body, r->body_len, &cc->req, &err) != 0) {
    kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
    return NULL;
  }
  if (kl_gw_resolve(c, cc->req.model) != 0 || kl_gw_trace_init(c, cc->req.user, cc->req.metadata) != 0) {
    kl_chat_req_free(&cc->req);
    return NULL;
  }
  c->want_stream = cc->req.stream;
  bool changed = false;
  if (kl_gw_guard_input(c, cc->req.root, !cc->req.owned, &changed) != 0) {
    kl_chat_req_free(&cc->req);
    return NULL;
  }
  if (c->guard && c->guard->r->local[KL_GUARD_OUTPUT] && cc->req.stream &&
      cJSON_GetNumberValue(kl_json_get(cc->req.root, "n")) > 1) {
    kl_gw_reject(c, 400, "invalid_request_error", "output guardrails filter streams of one choice: n must be 1", "n",
                 "invalid_request");
    kl_chat_req_free(&cc->req);
    return NULL;
  }
  const kl_model_cfg *m = c->m;
  const char *url;
  if (m->provider == KL_PROVIDER_ANTHROPIC) {
    if (anthropic_body(cc, &err) != 0) {
      kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
      kl_chat_req_free(&cc->req);
      return NULL;
    }
    url = kl_arena_concat(c->arena, m->base_url, "/v1/messages");
  } else {
    if (!cc->req.stream && !changed && !strcmp(cc->req.model, m->upstream_model)) {
      /* nothing to rewrite: forward the client's bytes as they came (saves a serialisation) */
      c->up_body = r->body;
      c->up_len = r->body_len;
    } else {
      c->up_owned = kl_chat_req_upstream_body(&cc->req, m->upstream_model, &c->up_len);
      c->up_body = c->up_owned;
    }
    url = kl_arena_concat(c->arena, m->base_url, "/chat/completions");
  }
  cc->url = url;
  switch (kl_gw_guard_classify(c, cc->req.root, chat_start)) {
    case -1: return NULL;  /* answered */
    case 0: return c;      /* the call starts when the input classifiers pass */
    default: break;
  }
  if (kl_gw_start(c, url, NULL, 0, kl_mock_chat) != 0) return NULL;
  return c;
}
