/* test_llm_anthropic_stream.c: the stream translators and the assembler.  A realistic stream
 * translated event by event must assemble to the same message as the non-streamed translation
 * of the assembled original, in both directions; errors, pings, unknown events, truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/anthropic.h"

static cJSON *J(const char *sq) {
  char *s = strdup(sq);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  cJSON *j = cJSON_Parse(s);
  if (!j) fail_msg("bad fixture: %s", s);
  free(s);
  return j;
}

static void assert_same(const cJSON *got, const cJSON *want, const char *what, unsigned seed) {
  if (cJSON_Compare(got, want, 1)) return;
  char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
  fprintf(stderr, "%s (seed %u)\ngot:  %s\nwant: %s\n", what, seed, g, w);
  free(g);
  free(w);
  fail();
}

/* ---------------- streams ---------------- */

/* Collected output events. */
typedef struct evlist {
  char *event[256];
  char *data[256];
  int n;
} evlist;

static void collect(void *ud, const char *event, const char *data, size_t len) {
  evlist *l = ud;
  assert_true(l->n < 256);
  assert_int_equal(strlen(data), len);
  l->event[l->n] = event ? strdup(event) : NULL;
  l->data[l->n] = strndup(data, len);
  l->n++;
}

static void evlist_free(evlist *l) {
  for (int i = 0; i < l->n; i++) free(l->event[i]), free(l->data[i]);
  l->n = 0;
}

/* A realistic Anthropic stream: text, two tool calls (fragmented JSON), cache usage, a ping,
 * and an event type this code does not know. */
static const char *const anth_events[][2] = {
    {"message_start", "{'type':'message_start','message':{'id':'msg_01XFD','type':'message','role':'assistant',"
                      "'model':'claude-sonnet-4-5-20250929','content':[],'stop_reason':null,'stop_sequence':null,"
                      "'usage':{'input_tokens':12,'cache_creation_input_tokens':100,'cache_read_input_tokens':2000,'output_tokens':1}}}"},
    {"content_block_start", "{'type':'content_block_start','index':0,'content_block':{'type':'text','text':''}}"},
    {"ping", "{'type':'ping'}"},
    {"content_block_delta", "{'type':'content_block_delta','index':0,'delta':{'type':'text_delta','text':'Checking '}}"},
    {"content_block_delta", "{'type':'content_block_delta','index':0,'delta':{'type':'text_delta','text':'both cities.'}}"},
    {"content_block_stop", "{'type':'content_block_stop','index':0}"},
    {"content_block_start", "{'type':'content_block_start','index':1,'content_block':{'type':'tool_use','id':'toolu_01A',"
                            "'name':'get_weather','input':{}}}"},
    {"content_block_delta", "{'type':'content_block_delta','index':1,'delta':{'type':'input_json_delta','partial_json':''}}"},
    {"content_block_delta", "{'type':'content_block_delta','index':1,'delta':{'type':'input_json_delta','partial_json':'{\\'city\\': \\'Pa'}}"},
    {"content_block_delta", "{'type':'content_block_delta','index':1,'delta':{'type':'input_json_delta','partial_json':'ris\\'}'}}"},
    {"content_block_stop", "{'type':'content_block_stop','index':1}"},
    {"future_event", "{'type':'future_event','x':1}"},
    {"content_block_start", "{'type':'content_block_start','index':2,'content_block':{'type':'tool_use','id':'toolu_01B',"
                            "'name':'get_weather','input':{}}}"},
    {"content_block_delta", "{'type':'content_block_delta','index':2,'delta':{'type':'input_json_delta','partial_json':'{\\'city\\':'}}"},
    {"content_block_delta", "{'type':'content_block_delta','index':2,'delta':{'type':'input_json_delta','partial_json':' \\'Oslo\\', \\'days\\': 3}'}}"},
    {"content_block_stop", "{'type':'content_block_stop','index':2}"},
    {"message_delta", "{'type':'message_delta','delta':{'stop_reason':'tool_use','stop_sequence':null},'usage':{'output_tokens':89}}"},
    {"message_stop", "{'type':'message_stop'}"},
};
#define N_ANTH_EVENTS (sizeof anth_events / sizeof anth_events[0])

static char *dq(const char *sq) {
  char *s = strdup(sq);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  return s;
}

/* Compares two OpenAI assistant messages, tool-call arguments as JSON values. */
static void same_openai_message(const cJSON *got, const cJSON *want) {
  cJSON *g = cJSON_Duplicate(got, 1), *w = cJSON_Duplicate(want, 1);
  cJSON *sides[2] = {g, w};
  for (int i = 0; i < 2; i++) {
    cJSON *tc;
    cJSON_ArrayForEach(tc, cJSON_GetObjectItem(sides[i], "tool_calls")) {
      cJSON *fn = cJSON_GetObjectItem(tc, "function");
      cJSON *args = cJSON_Parse(cJSON_GetObjectItem(fn, "arguments")->valuestring);
      assert_non_null(args);
      cJSON_ReplaceItemInObject(fn, "arguments", args);
    }
  }
  assert_same(g, w, "streamed vs non-streamed OpenAI message", 0);
  cJSON_Delete(g);
  cJSON_Delete(w);
}

static void test_stream_a2o(void **st) {
  (void)st;
  /* the Anthropic stream assembled, then translated as a non-streamed response */
  kl_anth_stream *as = kl_anth_stream_new();
  for (size_t i = 0; i < N_ANTH_EVENTS; i++) {
    char *d = dq(anth_events[i][1]);
    kl_anth_ev ev = kl_anth_stream_feed(as, anth_events[i][0], d, strlen(d));
    assert_int_equal(ev, i == 2 || i == 11 ? KL_ANTH_EV_IGNORED : i == N_ANTH_EVENTS - 1 ? KL_ANTH_EV_END : KL_ANTH_EV_OK);
    free(d);
  }
  assert_true(kl_anth_stream_saw_stop(as));
  cJSON *msg_a = kl_anth_stream_message(as);
  cJSON *want_a = J("{'id':'msg_01XFD','type':'message','role':'assistant','model':'claude-sonnet-4-5-20250929','content':["
                    "{'type':'text','text':'Checking both cities.'},"
                    "{'type':'tool_use','id':'toolu_01A','name':'get_weather','input':{'city':'Paris'}},"
                    "{'type':'tool_use','id':'toolu_01B','name':'get_weather','input':{'city':'Oslo','days':3}}],"
                    "'stop_reason':'tool_use','stop_sequence':null,'usage':{'input_tokens':12,"
                    "'cache_creation_input_tokens':100,'cache_read_input_tokens':2000,'output_tokens':89}}");
  assert_same(msg_a, want_a, "assembled Anthropic message", 0);
  cJSON_Delete(want_a);
  kl_arena *arena = kl_arena_new(1024);
  kl_chat_result ar;
  kl_anth_stream_result(as, arena, &ar);
  assert_int_equal(ar.usage.input_cached, 2000);
  assert_int_equal(ar.usage.input_cache_write, 100);
  assert_int_equal(ar.usage.output, 89);
  assert_string_equal(ar.finish_reason, "tool_use");
  kl_anth_stream_free(as);
  kl_err err;
  cJSON *nonstream = kl_anth_resp_to_openai(msg_a, 1700000000, &err);
  cJSON_Delete(msg_a);

  for (int include_usage = 0; include_usage < 2; include_usage++) {
    evlist out = {0};
    kl_anth_a2o *t = kl_anth_a2o_new(include_usage, 1700000000, collect, &out);
    for (size_t i = 0; i < N_ANTH_EVENTS; i++) {
      char *d = dq(anth_events[i][1]);
      /* the SSE event name is optional: data.type decides */
      kl_anth_a2o_feed(t, i % 2 ? anth_events[i][0] : "", d, strlen(d));
      free(d);
    }
    char *d = dq(anth_events[N_ANTH_EVENTS - 1][1]);
    assert_int_equal(kl_anth_a2o_feed(t, NULL, d, strlen(d)), KL_ANTH_EV_IGNORED); /* after the end */
    free(d);
    kl_usage u = kl_anth_a2o_usage(t);
    assert_int_equal(u.input, 12);
    assert_int_equal(u.output, 89);
    kl_anth_a2o_free(t);

    kl_chat_stream *cs = kl_chat_stream_new();
    for (int i = 0; i < out.n; i++) {
      assert_null(out.event[i]);
      kl_chunk_kind k = kl_chat_stream_feed(cs, out.data[i], strlen(out.data[i]));
      if (i == out.n - 1) assert_int_equal(k, KL_CHUNK_DONE);
      else if (include_usage && i == out.n - 2) assert_int_equal(k, KL_CHUNK_USAGE_ONLY);
      else assert_int_equal(k, KL_CHUNK_CONTENT);
    }
    /* role chunk first: {"role":"assistant","content":""} */
    cJSON *first = cJSON_Parse(out.data[0]);
    cJSON *delta = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(first, "choices"), 0), "delta");
    assert_string_equal(cJSON_GetObjectItem(delta, "role")->valuestring, "assistant");
    cJSON_Delete(first);
    assert_true(kl_chat_stream_saw_finish(cs));
    kl_chat_result r;
    kl_chat_stream_result(cs, arena, &r);
    cJSON *streamed = cJSON_Parse(r.output_json);
    const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(nonstream, "choices"), 0);
    same_openai_message(streamed, cJSON_GetObjectItem(c0, "message"));
    assert_string_equal(r.finish_reason, cJSON_GetObjectItem(c0, "finish_reason")->valuestring);
    assert_string_equal(r.id, "msg_01XFD");
    assert_string_equal(r.model, "claude-sonnet-4-5-20250929");
    if (include_usage) {
      kl_usage nu = kl_usage_from_openai(cJSON_GetObjectItem(nonstream, "usage"));
      assert_int_equal(r.usage.input, nu.input);
      assert_int_equal(r.usage.input_cached, nu.input_cached);
      assert_int_equal(r.usage.output, nu.output);
      assert_int_equal(kl_usage_input_total(&r.usage), 2112);
    } else {
      assert_false(r.usage.present);
    }
    cJSON_Delete(streamed);
    kl_chat_stream_free(cs);
    evlist_free(&out);
  }
  cJSON_Delete(nonstream);
  kl_arena_free(arena);
}

static const char *const oai_chunks[] = {
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{'role':'assistant','content':''},'finish_reason':null}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{'content':'Let me '},'finish_reason':null}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{'content':'look.'},'finish_reason':null}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{'tool_calls':[{'index':0,'id':'call_A','type':'function','function':{'name':'get_weather','arguments':''}}]},'finish_reason':null}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{'tool_calls':[{'index':0,'function':{'arguments':'{\\'city\\':'}}]},'finish_reason':null}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{'tool_calls':[{'index':0,'function':{'arguments':'\\'Paris\\'}'}}]},'finish_reason':null}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{'tool_calls':[{'index':1,'id':'call_B','type':'function','function':{'name':'get_time','arguments':'{\\'tz\\':\\'CET\\'}'}}]},'finish_reason':null}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[{'index':0,'delta':{},'finish_reason':'tool_calls'}]}",
    "{'id':'chatcmpl-9','object':'chat.completion.chunk','created':1,'model':'gpt-4o','choices':[],'usage':{'prompt_tokens':2400,'completion_tokens':47,'total_tokens':2447,'prompt_tokens_details':{'cached_tokens':2000},'completion_tokens_details':{'reasoning_tokens':7}}}",
    "[DONE]",
};
#define N_OAI (sizeof oai_chunks / sizeof oai_chunks[0])

static void test_stream_o2a(void **st) {
  (void)st;
  /* non-streamed: the OpenAI stream assembled into a chat.completion, then translated */
  kl_arena *arena = kl_arena_new(1024);
  kl_chat_stream *cs = kl_chat_stream_new();
  char *chunks[N_OAI];
  for (size_t i = 0; i < N_OAI; i++) {
    chunks[i] = dq(oai_chunks[i]);
    kl_chat_stream_feed(cs, chunks[i], strlen(chunks[i]));
  }
  kl_chat_result r;
  kl_chat_stream_result(cs, arena, &r);
  cJSON *cc = cJSON_CreateObject();
  cJSON_AddStringToObject(cc, "id", r.id);
  cJSON_AddStringToObject(cc, "model", r.model);
  cJSON *ch = cJSON_CreateObject();
  cJSON_AddItemToObject(ch, "message", cJSON_Parse(r.output_json));
  cJSON_AddStringToObject(ch, "finish_reason", r.finish_reason);
  cJSON_AddItemToArray(cJSON_AddArrayToObject(cc, "choices"), ch);
  cJSON_AddItemToObject(cc, "usage", kl_anth_openai_usage_new(&r.usage));
  kl_err err;
  kl_err_clear(&err);
  cJSON *want = kl_anth_resp_from_openai(cc, &err);
  if (!want) fail_msg("%s", err.msg);
  cJSON_Delete(cc);
  kl_chat_stream_free(cs);

  evlist out = {0};
  kl_anth_o2a *t = kl_anth_o2a_new(2400, collect, &out);
  for (size_t i = 0; i < N_OAI; i++)
    assert_int_equal(kl_anth_o2a_feed(t, chunks[i], strlen(chunks[i])), i == N_OAI - 1 ? KL_ANTH_EV_END : KL_ANTH_EV_OK);
  assert_int_equal(kl_anth_o2a_feed(t, "[DONE]", 6), KL_ANTH_EV_IGNORED);
  assert_true(kl_anth_o2a_finish(t));
  kl_usage u = kl_anth_o2a_usage(t);
  assert_int_equal(u.input_cached, 2000);
  assert_int_equal(u.output_reasoning, 7);
  kl_anth_o2a_free(t);
  static const char *const names[] = {"message_start", "content_block_start", "content_block_delta", "content_block_delta",
                                      "content_block_stop", "content_block_start", "content_block_delta",
                                      "content_block_delta", "content_block_stop", "content_block_start",
                                      "content_block_delta", "content_block_stop", "message_delta", "message_stop"};
  assert_int_equal(out.n, (int)(sizeof names / sizeof names[0]));
  kl_anth_stream *as = kl_anth_stream_new();
  for (int i = 0; i < out.n; i++) {
    assert_string_equal(out.event[i], names[i]);
    cJSON *e = cJSON_Parse(out.data[i]);
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, names[i]);
    cJSON_Delete(e);
    kl_anth_stream_feed(as, out.event[i], out.data[i], strlen(out.data[i]));
  }
  cJSON *ms = cJSON_Parse(out.data[0]);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "message"), "usage"), "input_tokens")->valueint, 2400);
  cJSON_Delete(ms);
  cJSON *got = kl_anth_stream_message(as);
  assert_same(got, want, "streamed vs non-streamed Anthropic message", 0);
  cJSON *fixture = J("{'id':'chatcmpl-9','type':'message','role':'assistant','model':'gpt-4o','content':["
                     "{'type':'text','text':'Let me look.'},"
                     "{'type':'tool_use','id':'call_A','name':'get_weather','input':{'city':'Paris'}},"
                     "{'type':'tool_use','id':'call_B','name':'get_time','input':{'tz':'CET'}}],"
                     "'stop_reason':'tool_use','stop_sequence':null,'usage':{'input_tokens':400,"
                     "'cache_creation_input_tokens':0,'cache_read_input_tokens':2000,'output_tokens':47}}");
  assert_same(got, fixture, "Anthropic message fixture", 0);
  cJSON_Delete(fixture);

  /* and back: the Anthropic events through a2o assemble to the original OpenAI message */
  evlist back = {0};
  kl_anth_a2o *t2 = kl_anth_a2o_new(true, 1, collect, &back);
  for (int i = 0; i < out.n; i++) kl_anth_a2o_feed(t2, out.event[i], out.data[i], strlen(out.data[i]));
  kl_anth_a2o_free(t2);
  cs = kl_chat_stream_new();
  for (int i = 0; i < back.n; i++) kl_chat_stream_feed(cs, back.data[i], strlen(back.data[i]));
  kl_chat_result r2;
  kl_chat_stream_result(cs, arena, &r2);
  cJSON *m1 = cJSON_Parse(r.output_json), *m2 = cJSON_Parse(r2.output_json);
  same_openai_message(m2, m1);
  assert_string_equal(r2.finish_reason, "tool_calls");
  assert_int_equal(r2.usage.input_cached, 2000);
  assert_int_equal(r2.usage.output + r2.usage.output_reasoning, 47);
  cJSON_Delete(m1);
  cJSON_Delete(m2);
  kl_chat_stream_free(cs);

  cJSON_Delete(got);
  cJSON_Delete(want);
  kl_anth_stream_free(as);
  evlist_free(&out);
  evlist_free(&back);
  for (size_t i = 0; i < N_OAI; i++) free(chunks[i]);
  kl_arena_free(arena);
}

static void test_stream_errors(void **st) {
  (void)st;
  evlist out = {0};
  kl_anth_a2o *t = kl_anth_a2o_new(true, 1, collect, &out);
  const char *ms = "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":3}}}";
  assert_int_equal(kl_anth_a2o_feed(t, "message_start", ms, strlen(ms)), KL_ANTH_EV_OK);
  assert_int_equal(kl_anth_a2o_feed(t, "ping", "{\"type\": \"ping\"}", 16), KL_ANTH_EV_IGNORED);
  assert_int_equal(kl_anth_a2o_feed(t, "x", "not json", 8), KL_ANTH_EV_INVALID);
  const char *e = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
  assert_int_equal(kl_anth_a2o_feed(t, "error", e, strlen(e)), KL_ANTH_EV_ERROR);
  assert_int_equal(kl_anth_a2o_feed(t, "message_stop", "{\"type\":\"message_stop\"}", 23), KL_ANTH_EV_IGNORED);
  kl_anth_a2o_free(t);
  assert_int_equal(out.n, 2); /* role chunk, error */
  kl_chat_stream *cs = kl_chat_stream_new();
  assert_int_equal(kl_chat_stream_feed(cs, out.data[1], strlen(out.data[1])), KL_CHUNK_ERROR);
  kl_chat_stream_free(cs);
  assert_non_null(strstr(out.data[1], "\"code\":\"overloaded\""));
  evlist_free(&out);

  kl_anth_o2a *o = kl_anth_o2a_new(0, collect, &out);
  const char *c1 = "{\"id\":\"c\",\"model\":\"g\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}";
  kl_anth_o2a_feed(o, c1, strlen(c1));
  assert_false(kl_anth_o2a_finish(o)); /* truncated: no finish_reason */
  const char *oe = "{\"error\":{\"message\":\"Rate limit\",\"type\":\"rate_limit_error\"}}";
  assert_int_equal(kl_anth_o2a_feed(o, oe, strlen(oe)), KL_ANTH_EV_ERROR);
  assert_int_equal(kl_anth_o2a_feed(o, c1, strlen(c1)), KL_ANTH_EV_IGNORED);
  assert_true(kl_anth_o2a_finish(o));
  kl_anth_o2a_free(o);
  assert_string_equal(out.event[out.n - 1], "error");
  assert_string_equal(out.data[out.n - 1], "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"Rate limit\"}}");
  evlist_free(&out);

  /* a finish chunk but the upstream closed without [DONE]: finish() ends the message */
  o = kl_anth_o2a_new(0, collect, &out);
  const char *c2 = "{\"id\":\"c\",\"model\":\"g\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}";
  kl_anth_o2a_feed(o, c1, strlen(c1));
  kl_anth_o2a_feed(o, c2, strlen(c2));
  assert_true(kl_anth_o2a_finish(o));
  kl_anth_o2a_free(o);
  assert_string_equal(out.event[out.n - 2], "message_delta");
  assert_non_null(strstr(out.data[out.n - 2], "\"stop_reason\":\"max_tokens\""));
  assert_string_equal(out.event[out.n - 1], "message_stop");
  evlist_free(&out);

  /* the SSE emitter */
  kl_buf b = KL_BUF_INIT;
  kl_anth_emit_sse(&b, "ping", "{}", 2);
  kl_anth_emit_sse(&b, NULL, "[DONE]", 6);
  assert_string_equal(b.data, "event: ping\ndata: {}\n\ndata: [DONE]\n\n");
  kl_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_a2o),
      cmocka_unit_test(test_stream_o2a),
      cmocka_unit_test(test_stream_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
