/* test_llm_anthropic.c: Anthropic usage, request validation, request/response translation
 * (fixtures, every 400), error bodies.  Round trips and streams: test_llm_anthropic_rt.c.
 * Fixtures are written with single quotes (J() turns them into double quotes). */
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

/* Asserts got (consumed) equals the fixture. */
static void expect_json(cJSON *got, const char *want_sq) {
  assert_non_null(got);
  cJSON *want = J(want_sq);
  if (!cJSON_Compare(got, want, 1)) {
    char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
    fprintf(stderr, "got:  %s\nwant: %s\n", g, w);
    free(g);
    free(w);
    fail();
  }
  cJSON_Delete(want);
  cJSON_Delete(got);
}

static void expect_msg(const kl_err *err, int code, const char *msg) {
  assert_int_equal(err->code, code);
  if (!strstr(err->msg, msg)) fail_msg("error '%s' does not contain '%s'", err->msg, msg);
}

/* ---------------- usage ---------------- */

static void test_usage(void **st) {
  (void)st;
  cJSON *j = J("{'input_tokens':100,'output_tokens':40,'cache_read_input_tokens':2000,'cache_creation_input_tokens':300}");
  kl_usage u = kl_usage_from_anthropic(j);
  cJSON_Delete(j);
  assert_true(u.present);
  assert_int_equal(u.input, 100);  /* excludes cache reads and writes: no subtraction */
  assert_int_equal(u.input_cached, 2000);
  assert_int_equal(u.input_cache_write, 300);
  assert_int_equal(u.output, 40);
  assert_int_equal(u.output_reasoning, 0);
  assert_int_equal(kl_usage_input_total(&u), 2400);

  assert_false(kl_usage_from_anthropic(NULL).present);
  j = J("[1]");
  assert_false(kl_usage_from_anthropic(j).present);
  cJSON_Delete(j);
  j = J("{'input_tokens':-5,'output_tokens':'x'}");
  u = kl_usage_from_anthropic(j);
  cJSON_Delete(j);
  assert_true(u.present);
  assert_int_equal(u.input, 0);
  assert_int_equal(u.output, 0);

  kl_usage b = {.input = 100, .input_cached = 2000, .input_cache_write = 300, .output = 40, .output_reasoning = 7};
  expect_json(kl_anth_usage_new(&b), "{'input_tokens':100,'cache_creation_input_tokens':300,"
                                     "'cache_read_input_tokens':2000,'output_tokens':47}");
  expect_json(kl_anth_openai_usage_new(&b),
              "{'prompt_tokens':2400,'completion_tokens':47,'total_tokens':2447,"
              "'prompt_tokens_details':{'cached_tokens':2000},'completion_tokens_details':{'reasoning_tokens':7}}");
  kl_buf out = KL_BUF_INIT;
  kl_anth_openai_usage_write(&b, &out);
  j = cJSON_Parse(out.data);
  /* through OpenAI's convention and back: cached and reasoning survive, cache writes become input */
  kl_usage back = kl_usage_from_openai(j);
  cJSON_Delete(j);
  assert_int_equal(back.input, 400);
  assert_int_equal(back.input_cached, 2000);
  assert_int_equal(back.output, 40);
  assert_int_equal(back.output_reasoning, 7);
  kl_buf_reset(&out);
  kl_anth_usage_write(NULL, &out);
  assert_string_equal(out.data, "{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
                                "\"output_tokens\":0}");
  kl_buf_free(&out);
}

/* ---------------- validation ---------------- */

static void expect_invalid(const char *body_sq, const char *msg) {
  cJSON *j = J(body_sq);
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  kl_anth_req r;
  kl_err err;
  kl_err_clear(&err);
  if (kl_anth_req_parse(s, strlen(s), &r, &err) == 0) {
    cJSON_Delete(r.root);
    fail_msg("accepted: %s", s);
  }
  free(s);
  assert_null(r.root);
  expect_msg(&err, 400, msg);
}

#define M1 "'messages':[{'role':'user','content':'hi'}]"
#define HEAD "'model':'claude','max_tokens':10,"

static void test_validate(void **st) {
  (void)st;
  kl_anth_req r;
  kl_err err;
  const char *ok = "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"system\":[{\"type\":\"text\",\"text\":\"be brief\","
                   "\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                   "\"stream\":true,\"metadata\":{\"user_id\":\"u-1\"},\"tools\":[{\"name\":\"w\",\"input_schema\":{}}],"
                   "\"future_field\":{\"x\":1},\"temperature\":null}";
  assert_int_equal(kl_anth_req_parse(ok, strlen(ok), &r, &err), 0);
  assert_string_equal(r.model, "claude-sonnet-4-5");
  assert_int_equal(r.max_tokens, 1024);
  assert_true(r.stream);
  assert_string_equal(r.user, "u-1");
  assert_true(cJSON_IsArray(r.system));
  assert_int_equal(cJSON_GetArraySize(r.messages), 1);
  assert_non_null(cJSON_GetObjectItem(r.root, "future_field")); /* unknown fields kept */
  cJSON_Delete(r.root);

  kl_err_clear(&err);
  assert_int_equal(kl_anth_req_parse("{", 1, &r, &err), -1);
  assert_int_equal(err.code, 400);
  expect_invalid("[1]", "JSON object");
  expect_invalid("{'max_tokens':10," M1 "}", "model: required string");
  expect_invalid("{'model':''," M1 ",'max_tokens':1}", "model: must not be empty");
  expect_invalid("{'model':'m'," M1 "}", "max_tokens: required positive integer");
  expect_invalid("{'model':'m','max_tokens':0," M1 "}", "max_tokens: required positive integer");
  expect_invalid("{'model':'m','max_tokens':1.5," M1 "}", "max_tokens: required positive integer");
  expect_invalid("{'model':'m','max_tokens':'5'," M1 "}", "max_tokens: required positive integer");
  expect_invalid("{" HEAD "'messages':[]}", "messages: must not be empty");
  expect_invalid("{" HEAD "'messages':{}}", "messages: required array");
  expect_invalid("{" HEAD "'messages':[1]}", "messages[0]: expected an object");
  expect_invalid("{" HEAD "'messages':[{'role':'system','content':'x'}]}", "messages[0].role: expected user or assistant");
  expect_invalid("{" HEAD "'messages':[{'role':'user'}]}", "messages[0].content: expected a string or an array");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'text':'x'}]}]}", "messages[0].content[0].type: required");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':['x']}]}", "messages[0].content[0]: expected a content block");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'text'}]}]}", "messages[0].content[0].text: required");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'image'}]}]}", "messages[0].content[0].source: required");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'image','source':{'type':'base64','data':'x'}}]}]}",
                 "messages[0].content[0].source.media_type");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'image','source':{'type':'url'}}]}]}",
                 "messages[0].content[0].source.url");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'image','source':{'type':'ftp'}}]}]}",
                 "messages[0].content[0].source.type: expected base64, url or file");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'tool_use','id':'t','name':'n','input':{}}]}]}",
                 "messages[0].content[0]: tool_use blocks belong in assistant");
  expect_invalid("{" HEAD "'messages':[{'role':'assistant','content':[{'type':'tool_use','id':'t','name':'n','input':[]}]}]}",
                 "messages[0].content[0].input: required object");
  expect_invalid("{" HEAD "'messages':[{'role':'assistant','content':[{'type':'tool_use','name':'n','input':{}}]}]}",
                 "messages[0].content[0].id: required");
  expect_invalid("{" HEAD "'messages':[{'role':'assistant','content':[{'type':'tool_result','tool_use_id':'t'}]}]}",
                 "messages[0].content[0]: tool_result blocks belong in user");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'tool_result'}]}]}",
                 "messages[0].content[0].tool_use_id: required");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':5}]}]}",
                 "messages[0].content[0].content: expected a string or an array");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':[{'type':'text'}]}]}]}",
                 "messages[0].content[0].content[0].text: required");
  expect_invalid("{" HEAD "'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','is_error':1}]}]}",
                 "messages[0].content[0].is_error: expected a boolean");
  expect_invalid("{" HEAD M1 ",'system':5}", "system: expected a string or an array");
  expect_invalid("{" HEAD M1 ",'system':[{'type':'image'}]}", "system[0]: expected a text block");
  expect_invalid("{" HEAD M1 ",'tools':{}}", "tools: expected an array");
  expect_invalid("{" HEAD M1 ",'tools':[{'input_schema':{}}]}", "tools[0].name: required");
  expect_invalid("{" HEAD M1 ",'tools':[{'name':'x'}]}", "tools[0].input_schema: required object");
  expect_invalid("{" HEAD M1 ",'tools':[{'name':'x','input_schema':{},'description':1}]}", "tools[0].description");
  expect_invalid("{" HEAD M1 ",'tool_choice':'auto'}", "tool_choice: expected an object");
  expect_invalid("{" HEAD M1 ",'tool_choice':{'type':'required'}}", "tool_choice.type: expected auto, any, tool or none");
  expect_invalid("{" HEAD M1 ",'tool_choice':{'type':'tool'}}", "tool_choice.name: required");
  expect_invalid("{" HEAD M1 ",'stream':'yes'}", "stream: expected a boolean");
  expect_invalid("{" HEAD M1 ",'temperature':'hot'}", "temperature: expected a number");
  expect_invalid("{" HEAD M1 ",'top_k':[]}", "top_k: expected a number");
  expect_invalid("{" HEAD M1 ",'stop_sequences':'x'}", "stop_sequences: expected an array");
  expect_invalid("{" HEAD M1 ",'stop_sequences':['a',1]}", "stop_sequences[1]: expected a string");
  expect_invalid("{" HEAD M1 ",'metadata':[]}", "metadata: expected an object");
  expect_invalid("{" HEAD M1 ",'metadata':{'user_id':5}}", "metadata.user_id: expected a string");
  expect_invalid("{" HEAD M1 ",'thinking':{'budget_tokens':5}}", "thinking: expected an object");
  /* server tools and unknown block types pass validation */
  cJSON *j = J("{" HEAD "'messages':[{'role':'user','content':[{'type':'document','source':{}}]}],"
               "'tools':[{'type':'web_search_20250305','name':'web_search'}]}");
  kl_err_clear(&err);
  assert_int_equal(kl_anth_req_validate(j, &err), 0);
  cJSON_Delete(j);
}

/* ---------------- OpenAI -> Anthropic requests ---------------- */

static void test_from_openai_conversation(void **st) {
  (void)st;
  /* a tool-use conversation: system + developer, an image, parallel tool calls, two results */
  cJSON *o = J("{'model':'claude-sonnet-4-5','messages':["
               "{'role':'system','content':'You are terse.'},"
               "{'role':'developer','content':[{'type':'text','text':'Use metric units.'}]},"
               "{'role':'user','content':[{'type':'text','text':'Weather in these two cities?'},"
               " {'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0KGgo=','detail':'low'}},"
               " {'type':'image_url','image_url':{'url':'https://example.com/map.jpg'}}]},"
               "{'role':'assistant','content':null,'tool_calls':["
               " {'id':'call_1','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}},"
               " {'id':'call_2','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Oslo\\'}'}}]},"
               "{'role':'tool','tool_call_id':'call_1','content':'18C sunny'},"
               "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'4C rain'}]},"
               "{'role':'user','content':'Thanks. Which is warmer?'}],"
               "'tools':[{'type':'function','function':{'name':'get_weather','description':'Current weather',"
               " 'parameters':{'type':'object','properties':{'city':{'type':'string'}},'required':['city']}}},"
               " {'type':'function','function':{'name':'noop'}}],"
               "'tool_choice':'required','parallel_tool_calls':false,'max_completion_tokens':512,"
               "'temperature':0.2,'top_p':0.9,'stop':'END','user':'alice','stream':true,"
               "'stream_options':{'include_usage':true},'n':1,'presence_penalty':0,'seed':null}");
  kl_err err;
  kl_err_clear(&err);
  cJSON *a = kl_anth_req_from_openai(o, &err);
  if (!a) fail_msg("%s", err.msg);
  expect_json(a, "{'model':'claude-sonnet-4-5','max_tokens':512,"
                 "'system':[{'type':'text','text':'You are terse.'},{'type':'text','text':'Use metric units.'}],"
                 "'messages':["
                 "{'role':'user','content':[{'type':'text','text':'Weather in these two cities?'},"
                 " {'type':'image','source':{'type':'base64','media_type':'image/png','data':'iVBORw0KGgo='}},"
                 " {'type':'image','source':{'type':'url','url':'https://example.com/map.jpg'}}]},"
                 "{'role':'assistant','content':["
                 " {'type':'tool_use','id':'call_1','name':'get_weather','input':{'city':'Paris'}},"
                 " {'type':'tool_use','id':'call_2','name':'get_weather','input':{'city':'Oslo'}}]},"
                 "{'role':'user','content':["
                 " {'type':'tool_result','tool_use_id':'call_1','content':'18C sunny'},"
                 " {'type':'tool_result','tool_use_id':'call_2','content':[{'type':'text','text':'4C rain'}]},"
                 " {'type':'text','text':'Thanks. Which is warmer?'}]}],"
                 "'tools':[{'name':'get_weather','description':'Current weather',"
                 " 'input_schema':{'type':'object','properties':{'city':{'type':'string'}},'required':['city']}},"
                 " {'name':'noop','input_schema':{'type':'object','properties':{}}}],"
                 "'tool_choice':{'type':'any','disable_parallel_tool_use':true},"
                 "'temperature':0.2,'top_p':0.9,'stop_sequences':['END'],'metadata':{'user_id':'alice'},'stream':true}");
  cJSON_Delete(o);

  /* single system string, string user, assistant text + tool call; defaults */
  o = J("{'model':'m','messages':[{'role':'system','content':'S'},{'role':'user','content':'hi'},"
        "{'role':'assistant','content':'Let me check.','tool_calls':[{'id':'c','type':'function',"
        " 'function':{'name':'f','arguments':''}}]},{'role':'user','content':'a'},{'role':'user','content':'b'}],"
        "'tool_choice':{'type':'function','function':{'name':'f'}},'max_tokens':7,'stop':['x','y'],'service_tier':'default'}");
  a = kl_anth_req_from_openai(o, &err);
  expect_json(a, "{'model':'m','max_tokens':7,'system':'S','messages':[{'role':'user','content':'hi'},"
                 "{'role':'assistant','content':[{'type':'text','text':'Let me check.'},"
                 " {'type':'tool_use','id':'c','name':'f','input':{}}]},"
                 "{'role':'user','content':[{'type':'text','text':'a'},{'type':'text','text':'b'}]}],"
                 "'tool_choice':{'type':'tool','name':'f'},'stop_sequences':['x','y'],'service_tier':'standard_only'}");
  cJSON_Delete(o);
  o = J("{'model':'m','messages':[{'role':'user','content':'hi'}],'parallel_tool_calls':false,'tool_choice':'none'}");
  expect_json(kl_anth_req_from_openai(o, &err), "{'model':'m','max_tokens':4096,'messages':[{'role':'user','content':'hi'}],"
                                                "'tool_choice':{'type':'none'}}");
  cJSON_Delete(o);
  o = J("{'model':'m','messages':[{'role':'user','content':'hi'}],'parallel_tool_calls':false}");
  expect_json(kl_anth_req_from_openai(o, &err), "{'model':'m','max_tokens':4096,'messages':[{'role':'user','content':'hi'}],"
                                                "'tool_choice':{'type':'auto','disable_parallel_tool_use':true}}");
  cJSON_Delete(o);
}

static void expect_from_openai_400(const char *body_sq, const char *msg) {
  cJSON *o = J(body_sq);
  kl_err err;
  kl_err_clear(&err);
  cJSON *a = kl_anth_req_from_openai(o, &err);
  cJSON_Delete(o);
  if (a) {
    char *p = cJSON_PrintUnformatted(a);
    fail_msg("translated %s -> %s", body_sq, p);
  }
  expect_msg(&err, 400, msg);
}

#define OM "'model':'m','messages':[{'role':'user','content':'hi'}]"

static void test_from_openai_400(void **st) {
  (void)st;
  expect_from_openai_400("[]", "JSON object");
  expect_from_openai_400("{'messages':[{'role':'user','content':'hi'}]}", "model: required");
  expect_from_openai_400("{'model':'m'}", "messages: required");
  expect_from_openai_400("{'model':'m','messages':[]}", "messages: required non-empty");
  expect_from_openai_400("{'model':'m','messages':[{'role':'system','content':'s'}]}", "messages: no user or assistant");
  expect_from_openai_400("{'model':'m','messages':[5]}", "messages[0]: expected an object");
  expect_from_openai_400("{'model':'m','messages':[{'content':'x'}]}", "messages[0].role: required");
  expect_from_openai_400("{'model':'m','messages':[{'role':'function','name':'f','content':'x'}]}", "messages[0].name");
  expect_from_openai_400("{'model':'m','messages':[{'role':'function','content':'x'}]}", "messages[0].role: 'function'");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','name':'bob','content':'x'}]}",
                         "messages[0].name: not supported");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':5}]}", "messages[0].content: expected");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':[{'type':'input_audio','input_audio':{}}]}]}",
                         "messages[0].content[0].type: 'input_audio'");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':[{'type':'file','file':{}}]}]}",
                         "messages[0].content[0].type: 'file'");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':[{'text':'x'}]}]}", "messages[0].content[0].type: required");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':[{'type':'text'}]}]}", "messages[0].content[0].text");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{}}]}]}",
                         "messages[0].content[0].image_url.url: required");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{'url':'data:text/plain,hello'}}]}]}",
                         "messages[0].content[0].image_url.url: only base64 data: URLs");
  expect_from_openai_400("{'model':'m','messages':[{'role':'user','content':[{'type':'image_url','image_url':{'url':'file:///etc/passwd'}}]}]}",
                         "messages[0].content[0].image_url.url: expected a data: or http(s) URL");
  expect_from_openai_400("{'model':'m','messages':[{'role':'system','content':[{'type':'image_url','image_url':{'url':'https://x'}}]}]}",
                         "messages[0].content[0].type: 'image_url'");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','content':[{'type':'refusal','refusal':'no'}]}]}",
                         "messages[0].content[0].type: 'refusal'");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','content':'x','refusal':'no'}]}", "messages[0].refusal");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','audio':{'id':'a'}}]}", "messages[0].audio");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','function_call':{}}]}", "messages[0].function_call");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','tool_calls':{}}]}", "messages[0].tool_calls: expected an array");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','tool_calls':[{'id':'c','type':'function','function':{'name':'f','arguments':'{bad'}}]}]}",
                         "messages[0].tool_calls[0].function.arguments: must be a JSON object");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','tool_calls':[{'id':'c','type':'function','function':{'name':'f','arguments':'[1]'}}]}]}",
                         "messages[0].tool_calls[0].function.arguments: must be a JSON object");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','tool_calls':[{'id':'c','type':'custom','function':{'name':'f','arguments':'{}'}}]}]}",
                         "messages[0].tool_calls[0].type: only function");
  expect_from_openai_400("{'model':'m','messages':[{'role':'assistant','tool_calls':[{'type':'function','function':{'name':'f','arguments':'{}'}}]}]}",
                         "messages[0].tool_calls[0]: id, function.name");
  expect_from_openai_400("{'model':'m','messages':[{'role':'tool','content':'x'}]}", "messages[0].tool_call_id: required");
  expect_from_openai_400("{'model':'m','messages':[{'role':'tool','tool_call_id':'c','content':[{'type':'image_url','image_url':{'url':'https://x'}}]}]}",
                         "messages[0].content[0].type: 'image_url'");
  expect_from_openai_400("{" OM ",'n':2}", "n: this value cannot be translated");
  expect_from_openai_400("{" OM ",'logprobs':true}", "logprobs: this value");
  expect_from_openai_400("{" OM ",'top_logprobs':3}", "top_logprobs: this value");
  expect_from_openai_400("{" OM ",'presence_penalty':0.5}", "presence_penalty: this value");
  expect_from_openai_400("{" OM ",'frequency_penalty':-1}", "frequency_penalty: this value");
  expect_from_openai_400("{" OM ",'logit_bias':{'50256':-100}}", "logit_bias: this value");
  expect_from_openai_400("{" OM ",'modalities':['text','audio']}", "modalities: this value");
  expect_from_openai_400("{" OM ",'response_format':{'type':'json_object'}}", "response_format: this value");
  expect_from_openai_400("{" OM ",'response_format':{'type':'json_schema','json_schema':{}}}", "response_format: this value");
  expect_from_openai_400("{" OM ",'audio':{'voice':'alloy'}}", "audio: not supported");
  expect_from_openai_400("{" OM ",'seed':42}", "seed: not supported when translating to the Anthropic");
  expect_from_openai_400("{" OM ",'reasoning_effort':'high'}", "reasoning_effort: not supported");
  expect_from_openai_400("{" OM ",'prediction':{}}", "prediction: not supported");
  expect_from_openai_400("{" OM ",'functions':[]}", "functions: not supported");
  expect_from_openai_400("{" OM ",'max_tokens':0}", "max_tokens: must be a positive integer");
  expect_from_openai_400("{" OM ",'max_completion_tokens':2.5}", "max_completion_tokens: must be a positive integer");
  expect_from_openai_400("{" OM ",'temperature':1.5}", "temperature: must be a number between 0 and 1");
  expect_from_openai_400("{" OM ",'temperature':'x'}", "temperature: must be a number");
  expect_from_openai_400("{" OM ",'top_p':'x'}", "top_p: must be a number");
  expect_from_openai_400("{" OM ",'stop':[1]}", "stop: expected a string or an array of strings");
  expect_from_openai_400("{" OM ",'user':5}", "user: expected a string");
  expect_from_openai_400("{" OM ",'stream':1}", "stream: expected a boolean");
  expect_from_openai_400("{" OM ",'service_tier':'flex'}", "service_tier: only auto and default");
  expect_from_openai_400("{" OM ",'tools':{}}", "tools: expected an array");
  expect_from_openai_400("{" OM ",'tools':[{'type':'custom','custom':{}}]}", "tools[0].type: only function tools");
  expect_from_openai_400("{" OM ",'tools':[{'type':'function','function':{}}]}", "tools[0].function.name: required");
  expect_from_openai_400("{" OM ",'tools':[{'type':'function','function':{'name':'f','strict':true}}]}",
                         "tools[0].function.strict: strict schemas");
  expect_from_openai_400("{" OM ",'tools':[{'type':'function','function':{'name':'f','parameters':[]}}]}",
                         "tools[0].function.parameters: expected an object");
  expect_from_openai_400("{" OM ",'tools':[{'type':'function','function':{'name':'f','description':1}}]}",
                         "tools[0].function.description");
  expect_from_openai_400("{" OM ",'tool_choice':'sometimes'}", "tool_choice: expected auto, none, required");
  expect_from_openai_400("{" OM ",'tool_choice':{'type':'function'}}", "tool_choice: expected auto");
  expect_from_openai_400("{" OM ",'parallel_tool_calls':'no'}", "parallel_tool_calls: expected a boolean");
}

/* ---------------- Anthropic -> OpenAI requests ---------------- */

static void test_to_openai_conversation(void **st) {
  (void)st;
  cJSON *a = J("{'model':'gpt-4o','max_tokens':256,"
               "'system':[{'type':'text','text':'You are terse.','cache_control':{'type':'ephemeral'}},{'type':'text','text':'Metric.'}],"
               "'messages':["
               "{'role':'user','content':[{'type':'text','text':'Weather?'},"
               " {'type':'image','source':{'type':'base64','media_type':'image/jpeg','data':'/9j/4AAQ'}},"
               " {'type':'image','source':{'type':'url','url':'https://example.com/a.png'}}]},"
               "{'role':'assistant','content':[{'type':'text','text':'Checking '},{'type':'text','text':'both.'},"
               " {'type':'tool_use','id':'toolu_1','name':'get_weather','input':{'city':'Paris','days':[1,2]}},"
               " {'type':'tool_use','id':'toolu_2','name':'get_weather','input':{}}]},"
               "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_1','content':'18C'},"
               " {'type':'tool_result','tool_use_id':'toolu_2','is_error':true,'content':[{'type':'text','text':'timeout'},{'type':'text','text':'retry later'}]},"
               " {'type':'text','text':'And now?'}]},"
               "{'role':'assistant','content':[{'type':'tool_use','id':'toolu_3','name':'noop','input':{}}]},"
               "{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_3'}]}],"
               "'tools':[{'name':'get_weather','description':'Weather','input_schema':{'type':'object'},'cache_control':{'type':'ephemeral'}},"
               " {'name':'noop','input_schema':{'type':'object','properties':{}}}],"
               "'tool_choice':{'type':'tool','name':'noop','disable_parallel_tool_use':true},"
               "'temperature':0.5,'top_p':0.8,'stop_sequences':['END'],'metadata':{'user_id':'alice'},'stream':false,"
               "'thinking':{'type':'disabled'},'service_tier':'auto'}");
  kl_err err;
  kl_err_clear(&err);
  cJSON *o = kl_anth_req_to_openai(a, &err);
  if (!o) fail_msg("%s", err.msg);
  expect_json(o, "{'model':'gpt-4o','messages':["
                 "{'role':'system','content':'You are terse.'},{'role':'system','content':'Metric.'},"
                 "{'role':'user','content':[{'type':'text','text':'Weather?'},"
                 " {'type':'image_url','image_url':{'url':'data:image/jpeg;base64,/9j/4AAQ'}},"
                 " {'type':'image_url','image_url':{'url':'https://example.com/a.png'}}]},"
                 "{'role':'assistant','content':'Checking both.','tool_calls':["
                 " {'id':'toolu_1','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\',\\'days\\':[1,2]}'}},"
                 " {'id':'toolu_2','type':'function','function':{'name':'get_weather','arguments':'{}'}}]},"
                 "{'role':'tool','tool_call_id':'toolu_1','content':'18C'},"
                 "{'role':'tool','tool_call_id':'toolu_2','content':'[tool error] timeout\\nretry later'},"
                 "{'role':'user','content':[{'type':'text','text':'And now?'}]},"
                 "{'role':'assistant','content':null,'tool_calls':[{'id':'toolu_3','type':'function','function':{'name':'noop','arguments':'{}'}}]},"
                 "{'role':'tool','tool_call_id':'toolu_3','content':''}],"
                 "'max_completion_tokens':256,"
                 "'tools':[{'type':'function','function':{'name':'get_weather','description':'Weather','parameters':{'type':'object'}}},"
                 " {'type':'function','function':{'name':'noop','parameters':{'type':'object','properties':{}}}}],"
                 "'tool_choice':{'type':'function','function':{'name':'noop'}},'parallel_tool_calls':false,"
                 "'temperature':0.5,'top_p':0.8,'stream':false,'stop':['END'],'user':'alice','service_tier':'auto'}");
  cJSON_Delete(a);

  a = J("{'model':'m','max_tokens':5,'system':'S','messages':[{'role':'user','content':'hi'},{'role':'assistant','content':'yo'}],"
        "'tool_choice':{'type':'any'}}");
  expect_json(kl_anth_req_to_openai(a, &err), "{'model':'m','messages':[{'role':'system','content':'S'},"
                                              "{'role':'user','content':'hi'},{'role':'assistant','content':'yo'}],"
                                              "'max_completion_tokens':5,'tool_choice':'required'}");
  cJSON_Delete(a);
}

static void expect_to_openai_400(const char *body_sq, const char *msg) {
  cJSON *a = J(body_sq);
  kl_err err;
  kl_err_clear(&err);
  cJSON *o = kl_anth_req_to_openai(a, &err);
  cJSON_Delete(a);
  if (o) fail_msg("translated %s", body_sq);
  expect_msg(&err, 400, msg);
}

#define AM "'model':'m','max_tokens':5,'messages':[{'role':'user','content':'hi'}]"

static void test_to_openai_400(void **st) {
  (void)st;
  expect_to_openai_400("{'model':'m','messages':[{'role':'user','content':'hi'}]}", "max_tokens: required positive integer");
  expect_to_openai_400("{" AM ",'top_k':40}", "top_k: no OpenAI equivalent");
  expect_to_openai_400("{" AM ",'thinking':{'type':'enabled','budget_tokens':1024}}", "thinking: extended thinking");
  expect_to_openai_400("{" AM ",'metadata':{'user_id':'u','tenant':'t'}}", "metadata.tenant: cannot be translated");
  expect_to_openai_400("{" AM ",'service_tier':'priority'}", "service_tier: only auto and standard_only");
  expect_to_openai_400("{" AM ",'container':'c'}", "container: not supported when translating to the OpenAI");
  expect_to_openai_400("{" AM ",'mcp_servers':[]}", "mcp_servers: not supported");
  expect_to_openai_400("{" AM ",'tools':[{'type':'web_search_20250305','name':'web_search'}]}",
                       "tools[0].type: server tool 'web_search_20250305'");
  expect_to_openai_400("{'model':'m','max_tokens':5,'messages':[{'role':'user','content':[{'type':'document','source':{}}]}]}",
                       "messages[0].content[0].type: 'document' blocks cannot be translated to OpenAI");
  expect_to_openai_400("{'model':'m','max_tokens':5,'messages':[{'role':'user','content':[{'type':'text','text':'a'},"
                       "{'type':'image','source':{'type':'file','file_id':'f'}}]}]}",
                       "messages[0].content[1].type: 'image' blocks");
  expect_to_openai_400("{'model':'m','max_tokens':5,'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t',"
                       "'content':[{'type':'text','text':'a'},{'type':'image','source':{'type':'url','url':'https://x'}}]}]}]}",
                       "messages[0].content[0].content[1].type: 'image' blocks in tool results");
  expect_to_openai_400("{'model':'m','max_tokens':5,'messages':[{'role':'user','content':'q'},{'role':'assistant','content':["
                       "{'type':'thinking','thinking':'hmm','signature':'s'},{'type':'text','text':'a'}]}]}",
                       "messages[1].content[0].type: 'thinking'");
  expect_to_openai_400("{'model':'m','max_tokens':5,'messages':[{'role':'assistant','content':[{'type':'redacted_thinking','data':'x'}]}]}",
                       "messages[0].content[0].type: 'redacted_thinking'");
}

/* ---------------- responses ---------------- */

static void test_responses(void **st) {
  (void)st;
  cJSON *a = J("{'id':'msg_01','type':'message','role':'assistant','model':'claude-sonnet-4-5',"
               "'content':[{'type':'thinking','thinking':'They want weather.','signature':'sig'},"
               " {'type':'text','text':'Checking '},{'type':'text','text':'now.'},"
               " {'type':'tool_use','id':'toolu_1','name':'get_weather','input':{'city':'Paris'}},"
               " {'type':'tool_use','id':'toolu_2','name':'get_weather','input':{'city':'Oslo'}},"
               " {'type':'server_tool_use','id':'x','name':'web_search','input':{}}],"
               "'stop_reason':'tool_use','stop_sequence':null,"
               "'usage':{'input_tokens':12,'cache_creation_input_tokens':100,'cache_read_input_tokens':2000,'output_tokens':55}}");
  kl_err err;
  kl_err_clear(&err);
  cJSON *o = kl_anth_resp_to_openai(a, 1700000000, &err);
  expect_json(o, "{'id':'msg_01','object':'chat.completion','created':1700000000,'model':'claude-sonnet-4-5',"
                 "'choices':[{'index':0,'message':{'role':'assistant','content':'Checking now.',"
                 " 'reasoning_content':'They want weather.','tool_calls':["
                 " {'id':'toolu_1','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}},"
                 " {'id':'toolu_2','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Oslo\\'}'}}]},"
                 " 'logprobs':null,'finish_reason':'tool_calls'}],"
                 "'usage':{'prompt_tokens':2112,'completion_tokens':55,'total_tokens':2167,"
                 " 'prompt_tokens_details':{'cached_tokens':2000},'completion_tokens_details':{'reasoning_tokens':0}}}");
  cJSON_Delete(a);
  a = J("{'content':5}");
  assert_null(kl_anth_resp_to_openai(a, 0, &err));
  assert_int_equal(err.code, 502);
  cJSON_Delete(a);

  static const char *const stops[][2] = {{"end_turn", "stop"}, {"max_tokens", "length"}, {"stop_sequence", "stop"},
                                         {"tool_use", "tool_calls"}, {"refusal", "content_filter"}, {"pause_turn", "stop"}};
  for (size_t i = 0; i < 6; i++) assert_string_equal(kl_anth_finish_reason(stops[i][0]), stops[i][1]);
  assert_null(kl_anth_finish_reason(NULL));
  assert_string_equal(kl_anth_stop_reason("stop"), "end_turn");
  assert_string_equal(kl_anth_stop_reason("length"), "max_tokens");
  assert_string_equal(kl_anth_stop_reason("tool_calls"), "tool_use");
  assert_string_equal(kl_anth_stop_reason("content_filter"), "refusal");

  cJSON *c = J("{'id':'chatcmpl-1','object':'chat.completion','created':1,'model':'gpt-4o','choices':[{'index':0,"
               "'message':{'role':'assistant','content':'Sure.','tool_calls':[{'id':'call_1','type':'function',"
               " 'function':{'name':'f','arguments':'{\\'a\\':1}'}},{'id':'call_2','type':'function','function':{'name':'g','arguments':''}}]},"
               "'finish_reason':'tool_calls'}],'usage':{'prompt_tokens':2400,'completion_tokens':47,"
               "'prompt_tokens_details':{'cached_tokens':2000},'completion_tokens_details':{'reasoning_tokens':7}}}");
  expect_json(kl_anth_resp_from_openai(c, &err),
              "{'id':'chatcmpl-1','type':'message','role':'assistant','model':'gpt-4o','content':["
              " {'type':'text','text':'Sure.'},{'type':'tool_use','id':'call_1','name':'f','input':{'a':1}},"
              " {'type':'tool_use','id':'call_2','name':'g','input':{}}],"
              "'stop_reason':'tool_use','stop_sequence':null,"
              "'usage':{'input_tokens':400,'cache_creation_input_tokens':0,'cache_read_input_tokens':2000,'output_tokens':47}}");
  cJSON_Delete(c);
  c = J("{'id':'x','model':'m','choices':[{'message':{'role':'assistant','content':null,'refusal':'I cannot help.'},"
        "'finish_reason':'content_filter'}]}");
  expect_json(kl_anth_resp_from_openai(c, &err),
              "{'id':'x','type':'message','role':'assistant','model':'m','content':[{'type':'text','text':'I cannot help.'}],"
              "'stop_reason':'refusal','stop_sequence':null,"
              "'usage':{'input_tokens':0,'cache_creation_input_tokens':0,'cache_read_input_tokens':0,'output_tokens':0}}");
  cJSON_Delete(c);
  c = J("{'choices':[{'message':{'tool_calls':[{'id':'c','function':{'name':'f','arguments':'{\\'a\\':'}}]},'finish_reason':'length'}]}");
  kl_err_clear(&err);
  assert_null(kl_anth_resp_from_openai(c, &err));
  expect_msg(&err, 502, "tool_calls[0].function.arguments is not a JSON object");
  cJSON_Delete(c);
  c = J("{'choices':[]}");
  assert_null(kl_anth_resp_from_openai(c, &err));
  assert_int_equal(err.code, 502);
  cJSON_Delete(c);
}

static void test_resp_parse(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(1024);
  kl_chat_result r;
  kl_err err;
  const char *body = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":"
                     "[{\"type\":\"text\",\"text\":\"hi\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":3,"
                     "\"cache_read_input_tokens\":10,\"output_tokens\":2}}";
  assert_int_equal(kl_anth_resp_parse(a, body, strlen(body), &r, &err), 0);
  assert_string_equal(r.id, "msg_1");
  assert_string_equal(r.model, "claude");
  assert_string_equal(r.finish_reason, "end_turn");
  assert_int_equal(r.usage.input, 3);
  assert_int_equal(r.usage.input_cached, 10);
  assert_string_equal(r.output_json, "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}");
  const char *e = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
  kl_err_clear(&err);
  assert_int_equal(kl_anth_resp_parse(a, e, strlen(e), &r, &err), -1);
  expect_msg(&err, 502, "Overloaded");
  assert_int_equal(kl_anth_resp_parse(a, "nope", 4, &r, &err), -1);
  assert_int_equal(kl_anth_resp_parse(a, "{}", 2, &r, &err), -1);
  expect_msg(&err, 502, "'content' is not an array");
  kl_arena_free(a);
}

/* ---------------- errors ---------------- */

static void test_errors(void **st) {
  (void)st;
  static const struct { int status; const char *type; } types[] = {
      {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
      {404, "not_found_error"},       {413, "request_too_large"},    {429, "rate_limit_error"},
      {500, "api_error"},             {529, "overloaded_error"},     {422, "invalid_request_error"}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    assert_string_equal(kl_anth_error_type(types[i].status), types[i].type);
  kl_buf b = KL_BUF_INIT;
  kl_anth_error(&b, 429, NULL, "slow \"down\"");
  assert_string_equal(b.data, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow \\\"down\\\"\"}}");

  kl_buf_reset(&b);
  const char *ae = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
  kl_anth_error_to_openai(&b, 529, ae, strlen(ae));
  expect_json(cJSON_Parse(b.data), "{'error':{'message':'Overloaded','type':'api_error','param':null,'code':'overloaded'}}");
  kl_buf_reset(&b);
  ae = "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}";
  kl_anth_error_to_openai(&b, 401, ae, strlen(ae));
  expect_json(cJSON_Parse(b.data), "{'error':{'message':'invalid x-api-key','type':'authentication_error','param':null,'code':null}}");
  kl_buf_reset(&b);
  ae = "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\",\"message\":\"big\"}}";
  kl_anth_error_to_openai(&b, 413, ae, strlen(ae));
  expect_json(cJSON_Parse(b.data), "{'error':{'message':'big','type':'invalid_request_error','param':null,'code':'request_too_large'}}");
  kl_buf_reset(&b);
  kl_anth_error_to_openai(&b, 502, "<html>bad gateway</html>", 24);
  expect_json(cJSON_Parse(b.data), "{'error':{'message':'<html>bad gateway</html>','type':'upstream_error','param':null,'code':null}}");

  kl_buf_reset(&b);
  const char *oe = "{\"error\":{\"message\":\"Rate limit\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
  kl_anth_error_from_openai(&b, 429, oe, strlen(oe));
  expect_json(cJSON_Parse(b.data), "{'type':'error','error':{'type':'rate_limit_error','message':'Rate limit'}}");
  kl_buf_reset(&b);
  oe = "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}";
  kl_anth_error_from_openai(&b, 503, oe, strlen(oe));
  expect_json(cJSON_Parse(b.data), "{'type':'error','error':{'type':'overloaded_error','message':'boom'}}");
  kl_buf_reset(&b);
  oe = "{\"object\":\"error\",\"message\":\"vllm says no\",\"type\":\"BadRequestError\"}";
  kl_anth_error_from_openai(&b, 400, oe, strlen(oe));
  expect_json(cJSON_Parse(b.data), "{'type':'error','error':{'type':'invalid_request_error','message':'vllm says no'}}");
  kl_buf_reset(&b);
  kl_anth_error_from_openai(&b, 500, NULL, 0);
  expect_json(cJSON_Parse(b.data), "{'type':'error','error':{'type':'api_error','message':''}}");
  kl_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_usage),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_from_openai_conversation),
      cmocka_unit_test(test_from_openai_400),
      cmocka_unit_test(test_to_openai_conversation),
      cmocka_unit_test(test_to_openai_400),
      cmocka_unit_test(test_responses),
      cmocka_unit_test(test_resp_parse),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
