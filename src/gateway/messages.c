/* messages.c: POST /v1/messages (the Anthropic Messages API) in front of any deployment.
 *
 * Anthropic deployments are called natively: the client's body (model renamed when needed) at
 * {base_url}/v1/messages with x-api-key and anthropic-version; answers relayed byte for byte,
 * streams event by event with their `event:` lines, while an assembler (kl_anth_stream) builds
 * the final message for the trace.  OpenAI-compatible and mock deployments get the request
 * translated to chat completions (kl_anth_req_to_openai: a 400 naming the field for what cannot
 * map), and the answer translated back (kl_anth_resp_from_openai; streams through the kl_anth_o2a
 * translator, whose events are relayed and fed to the same assembler), so the trace has the
 * same Anthropic shape either way.
 *
 * Errors are always in Anthropic's format, with the right status: keel's own, an upstream's
 * Anthropic error as it came, an OpenAI upstream's error rewritten.  A stream that ends without
 * message_stop (or, translated, without [DONE]) ends with an `event: error` and is traced as
 * an error.  Usage is Anthropic's convention (input excludes cache reads and writes), which
 * maps onto keel's buckets as is. */
#include "gateway/gw_internal.h"
#include "llm/anthropic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct msg_call {
  kl_gw_call c;              /* first: the common head */
  kl_anth_req req;
  bool native;               /* the upstream speaks Anthropic */
  kl_anth_stream *acc;       /* the stream the client got, assembled */
  kl_anth_o2a *o2a;          /* translated streams: OpenAI chunks -> Anthropic events */
  bool saw_done;             /* translated: [DONE] arrived */
} msg_call;

typedef struct msg_result {
  kl_usage usage;
  const char *output_json;
  const char *finish_reason;
} msg_result;

/* ---------- recording ---------- */

static void msg_record(kl_gw_call *c, const kl_gw_outcome *o) {
  msg_call *mc = (msg_call *)c;
  msg_result sres = {0};
  const msg_result *res = o->res;
  if (!res && mc->acc) {
    kl_chat_result cr;
    kl_anth_stream_result(mc->acc, c->arena, &cr);
    sres = (msg_result){cr.usage, cr.output_json, cr.finish_reason};
    res = &sres;
  }
  kl_usage u = res ? res->usage : (kl_usage){0};
  if (mc->o2a && kl_anth_o2a_usage(mc->o2a).present) u = kl_anth_o2a_usage(mc->o2a);
  static const char *const keys[] = {"max_tokens", "temperature", "top_p", "top_k", "stop_sequences",
                                     "stream", "tool_choice", "thinking", "service_tier"};
  kl_buf params = KL_BUF_INIT;
  kl_gw_params_json(mc->req.root, keys, sizeof keys / sizeof *keys, &params);
  cJSON *in = cJSON_CreateObject();
  if (mc->req.system) cJSON_AddItemReferenceToObject(in, "system", (cJSON *)mc->req.system);
  cJSON_AddItemReferenceToObject(in, "messages", (cJSON *)mc->req.messages);
  if (mc->req.tools) cJSON_AddItemReferenceToObject(in, "tools", (cJSON *)mc->req.tools);
  kl_generation gen = {
      .name = "messages",
      .model_params_json = params.data,
      .input_json = kl_json_print_arena(c->arena, in),
      .output_json = res ? res->output_json : NULL,
      .finish_reason = res ? res->finish_reason : NULL,
      .usage = u,
      .params = mc->req.root,
      .stream = mc->req.stream,
  };
  cJSON_Delete(in);
  kl_gw_record(c, &gen, o);
  kl_buf_free(&params);
}

static void msg_release(kl_gw_call *c) {
  msg_call *mc = (msg_call *)c;
  kl_anth_stream_free(mc->acc);
  mc->acc = NULL;
  kl_anth_o2a_free(mc->o2a);
  mc->o2a = NULL;
  cJSON_Delete(mc->req.root);
  mc->req.root = NULL;
}

/* ---------- non-streamed answers ---------- */

static void msg_body_done(kl_gw_call *c) {
  msg_call *mc = (msg_call *)c;
  kl_err e = {0};
  kl_chat_result cr;
  char m[400];
  c->first_token_ns = 0;
  if (mc->native) {
    if (kl_anth_resp_parse(c->arena, c->body.data ? c->body.data : "", c->body.len, &cr, &e) != 0) {
      snprintf(m, sizeof m, "upstream returned an invalid message: %s", e.msg);
      kl_gw_fail(c, 502, "upstream_error", "upstream_invalid_response", m);
      return;
    }
    msg_result res = {cr.usage, cr.output_json, cr.finish_reason};
    kl_gw_outcome o = {.status = 200, .res = &res};
    kl_gw_complete_json(c, &o, c->body.data, c->body.len);
    return;
  }
  cJSON *oa = NULL, *msg = NULL;
  if (kl_chat_resp_parse(c->arena, c->body.data ? c->body.data : "", c->body.len, &cr, &e) == 0 &&
      (oa = kl_json_parse(c->body.data, c->body.len, &e)) != NULL)
    msg = kl_anth_resp_from_openai(oa, &e);
  cJSON_Delete(oa);
  if (!msg) {
    snprintf(m, sizeof m, "upstream returned a chat completion that cannot be answered as a message: %s", e.msg);
    kl_gw_fail(c, 502, "upstream_error", "upstream_invalid_response", m);
    return;
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "role", "assistant");
  cJSON_AddItemReferenceToObject(out, "content", cJSON_GetObjectItemCaseSensitive(msg, "content"));
  msg_result res = {cr.usage, kl_json_print_arena(c->arena, out), kl_arena_strdup(c->arena, kl_json_str(msg, "stop_reason"))};
  cJSON_Delete(out);
  char *body = cJSON_PrintUnformatted(msg);
  cJSON_Delete(msg);
  kl_gw_outcome o = {.status = 200, .res = &res};
  kl_gw_complete_json(c, &o, body, strlen(body));
  cJSON_free(body);
}

/* ---------- streams ---------- */

static void msg_stream_begin(kl_gw_call *c) {
  msg_call *mc = (msg_call *)c;
  mc->acc = kl_anth_stream_new();
}

/* One Anthropic event for the client: relayed, assembled, first token noted. */
static void relay_anth(void *ud, const char *event, const char *data, size_t len) {
  msg_call *mc = ud;
  kl_gw_call *c = &mc->c;
  kl_anth_ev ev = kl_anth_stream_feed(mc->acc, event, data, len);
  if (ev == KL_ANTH_EV_INVALID) {
    c->fail = "upstream sent a stream event that is not a valid Anthropic event";
    return;
  }
  kl_gw_stream_event(c, event, data, len);
  if (!c->first_token_ns && event && !strcmp(event, "content_block_delta")) c->first_token_ns = kl_gw_now(c);
  if (ev == KL_ANTH_EV_ERROR) c->fail = "upstream sent an error event mid-stream";
}

static void msg_on_event(void *ud, const char *event, const char *data, size_t len) {
  msg_call *mc = ud;
  kl_gw_call *c = &mc->c;
  if (c->fail) return;
  if (mc->native) {
    relay_anth(ud, event, data, len);
    return;
  }
  if (!mc->o2a) mc->o2a = kl_anth_o2a_new(0, relay_anth, mc);
  kl_anth_ev ev = kl_anth_o2a_feed(mc->o2a, data, len);
  if (ev == KL_ANTH_EV_INVALID && !c->fail)
    c->fail = "upstream sent a stream event that is not a valid chat.completion.chunk";
  else if (ev == KL_ANTH_EV_ERROR && !c->fail)
    c->fail = "upstream sent an error event mid-stream";
  else if (ev == KL_ANTH_EV_END && len == 6 && !memcmp(data, "[DONE]", 6))
    mc->saw_done = true;
}

static void msg_stream_end(kl_gw_call *c, bool pending) {
  msg_call *mc = (msg_call *)c;
  bool complete = mc->native ? kl_anth_stream_saw_stop(mc->acc) : mc->saw_done && kl_anth_stream_saw_stop(mc->acc);
  if (!complete) {
    kl_gw_fail(c, 502, "upstream_error", "upstream_stream_truncated",
               pending ? "upstream stream ended in the middle of an event"
                       : mc->native ? "upstream stream ended before message_stop"
                                    : "upstream stream ended before its final chunk and [DONE]");
    return;
  }
  kl_gw_outcome o = {.status = 200};
  kl_gw_complete_stream(c, &o);
}

static const kl_gw_ops msg_ops = {
    .route = "messages",
    .fmt = KL_GW_FMT_ANTHROPIC,
    .stream_begin = msg_stream_begin,
    .on_event = msg_on_event,
    .stream_end = msg_stream_end,
    .body_done = msg_body_done,
    .record = msg_record,
    .release = msg_release,
};

/* ---------- entry point ---------- */

/* The chat-completions request for a non-Anthropic upstream. */
static int openai_body(msg_call *mc, kl_err *err) {
  cJSON *oa = kl_anth_req_to_openai(mc->req.root, err);
  if (!oa) return -1;
  cJSON_ReplaceItemInObjectCaseSensitive(oa, "model", cJSON_CreateString(mc->c.m->upstream_model));
  if (mc->req.stream) {
    /* keel needs usage, which OpenAI streams only send when asked */
    cJSON_DeleteItemFromObjectCaseSensitive(oa, "stream_options");
    cJSON *so = cJSON_AddObjectToObject(oa, "stream_options");
    cJSON_AddTrueToObject(so, "include_usage");
  }
  char *s = cJSON_PrintUnformatted(oa);
  cJSON_Delete(oa);
  if (!s || !(mc->c.up_owned = strdup(s))) abort();
  cJSON_free(s);
  mc->c.up_body = mc->c.up_owned;
  mc->c.up_len = strlen(mc->c.up_owned);
  return 0;
}

kl_gw_call *kl_gw_messages(const kl_gw_request *r, const kl_gw_reply *reply) {
  msg_call *mc = kl_arena_calloc(r->arena, sizeof *mc);
  kl_gw_call *c = &mc->c;
  kl_gw_call_init(c, &msg_ops, r, reply);
  kl_err err = {0};
  if (kl_anth_req_parse(r->body, r->body_len, &mc->req, &err) != 0) {
    kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
    return NULL;
  }
  bool changed = false;
  if (kl_gw_resolve(c, mc->req.model) != 0 || kl_gw_trace_init(c, mc->req.user, NULL) != 0 ||
      kl_gw_guard_input_other(c, mc->req.root, true, &changed) != 0) {
    msg_release(c);
    return NULL;
  }
  const kl_model_cfg *m = c->m;
  c->want_stream = mc->req.stream;
  mc->native = m->provider == KL_PROVIDER_ANTHROPIC;
  const char *url;
  const char *extra[1];
  size_t nextra = 0;
  if (mc->native) {
    kl_gw_body_model(c, mc->req.root, r->body, r->body_len);
    url = kl_arena_concat(c->arena, m->base_url, "/v1/messages");
    /* beta features are the client's to ask for */
    const char *beta = c->hdr ? c->hdr(c->hdr_ud, "anthropic-beta") : NULL;
    if (beta) extra[nextra++] = kl_arena_sprintf(c->arena, "anthropic-beta: %s", beta);
  } else {
    if (openai_body(mc, &err) != 0) {
      kl_gw_reject(c, 400, "invalid_request_error", err.msg, NULL, "invalid_request");
      msg_release(c);
      return NULL;
    }
    c->errconv = KL_GW_ERR_O2A;
    url = kl_arena_concat(c->arena, m->base_url, "/chat/completions");
  }
  if (kl_gw_start(c, url, extra, nextra, kl_mock_chat) != 0) return NULL;
  return c;
}
