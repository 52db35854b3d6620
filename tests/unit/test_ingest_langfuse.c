/* test_ingest_langfuse.c: Langfuse /api/public/ingestion batches -> records and the 207 reply,
 * on real SDK captures (tests/data/captures) and hand-built edge cases; partial records
 * (update before create) folded with kl_ingest_order + kl_ingest_merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest_test_util.h"

static cJSON *parse(const char *s) {
  assert_non_null(s);
  cJSON *j = cJSON_Parse(s);
  assert_non_null(j);
  return j;
}

static kl_ingest_batch batch(kl_arena *a, const char *body) {
  kl_ingest_batch b;
  kl_err e = {0};
  if (kl_ingest_langfuse(body, strlen(body), a, &b, &e) != 0) fail_msg("batch: %s", e.msg);
  return b;
}

/* The event whose envelope id is id. */
static const kl_ingest_event *by_id(const kl_ingest_batch *b, const char *id) {
  for (size_t i = 0; i < b->n; i++)
    if (!strcmp(b->events[i].id, id)) return &b->events[i];
  fail_msg("no event %s", id);
  return NULL;
}

/* Folds every OBS/TRACE record with the given kind and id into one, the way the store will. */
static kl_ingest_obs fold(const kl_ingest_batch *b, kl_ingest_kind kind, const char *id, kl_arena *a) {
  kl_ingest_obs *v[64];
  size_t n = 0;
  for (size_t i = 0; i < b->n && n < 64; i++)
    if (b->events[i].kind == kind && !strcmp(b->events[i].obs.obs.id, id)) v[n++] = (kl_ingest_obs *)&b->events[i].obs;
  assert_true(n > 0);
  kl_ingest_order(v, n);
  kl_ingest_obs r = *v[0];
  for (size_t i = 1; i < n; i++) kl_ingest_merge(&r, v[i], a);
  return r;
}

static void test_v3_capture(void **st) {
  (void)st;
  char *body = it_capture_body("langfuse-v3-01.json", 0);
  kl_arena *a = kl_arena_new(0);
  kl_ingest_batch b = batch(a, body);
  assert_int_equal(b.n, 10);
  assert_int_equal(b.nerrors, 0);
  assert_non_null(strstr(b.metadata_json, "\"sdk_version\":\"3.39.2\""));
  /* event-create: a point in time */
  const kl_ingest_event *ev = by_id(&b, "7591e20b-9eca-44c4-a79e-0962e42402e8");
  assert_int_equal(ev->kind, KL_INGEST_OBS);
  assert_string_equal(ev->obs.obs.type, KL_OBS_EVENT);
  assert_string_equal(ev->obs.obs.level, "WARNING");
  assert_string_equal(ev->obs.obs.status_message, "pii detected");
  assert_int_equal(ev->obs.obs.end_ns, ev->obs.obs.start_ns);
  assert_string_equal(ev->obs.obs.parent_id, ""); /* null parent = root */
  /* scores: numeric, boolean, categorical */
  const kl_ingest_score *s = &by_id(&b, "74e63f53-2f00-4f70-8845-9867a258795f")->score;
  assert_int_equal(by_id(&b, "74e63f53-2f00-4f70-8845-9867a258795f")->kind, KL_INGEST_SCORE);
  assert_string_equal(s->id, "1ddf8faf-5650-419a-a93d-c2aa6f6374d3");
  assert_string_equal(s->data_type, "NUMERIC");
  assert_true(s->value == 0.9);
  assert_string_equal(s->comment, "good");
  assert_string_equal(s->source, "API");
  assert_string_equal(s->observation_id, "");
  assert_int_equal(s->timestamp_ns, kl_time_parse("2026-11-26T18:31:52.369Z"));
  s = &by_id(&b, "7ecbf6f1-4bec-4f7b-ac69-6f82fde607ee")->score;
  assert_string_equal(s->data_type, "BOOLEAN");
  assert_true(s->value == 1);
  assert_string_equal(s->string_value, "True");
  s = &by_id(&b, "c32c5115-8a03-4601-9ac6-973569496c29")->score;
  assert_string_equal(s->data_type, "CATEGORICAL");
  assert_string_equal(s->string_value, "friendly");
  assert_string_equal(s->observation_id, "eae54fb7-b13a-4867-9781-4c2e9743e28f");
  /* the trace: two trace-creates (create + upsert) fold into one */
  kl_ingest_obs t = fold(&b, KL_INGEST_TRACE, "6d391fcc-7115-48d7-89fa-648fffde7634", a);
  assert_string_equal(t.obs.trace_id, "6d391fcc-7115-48d7-89fa-648fffde7634");
  assert_string_equal(t.obs.trace_name, "chat-request");
  assert_string_equal(t.obs.user_id, "user-42");
  assert_string_equal(t.obs.session_id, "sess-1");
  assert_string_equal(t.obs.tags_json, "[\"prod\"]");
  assert_string_equal(t.obs.release, "v1.2.3");
  assert_string_equal(t.version, "7");
  assert_string_equal(t.obs.metadata_json, "{\"env\":\"test\"}");
  assert_string_equal(t.obs.input_json, "{\"q\":\"hi\"}");
  assert_string_equal(t.obs.output_json, "{\"a\":\"hello\"}"); /* from the second */
  assert_int_equal(t.obs.start_ns, kl_time_parse("2026-11-26T18:31:52.368Z")); /* later one wins */
  /* span create + update */
  kl_ingest_obs sp = fold(&b, KL_INGEST_OBS, "effa1a60-d0e1-43ed-8d5d-e28368ece16f", a);
  assert_string_equal(sp.obs.type, KL_OBS_SPAN);
  assert_string_equal(sp.obs.name, "retrieval");
  assert_string_equal(sp.obs.input_json, "{\"query\":\"hi\"}");
  assert_string_equal(sp.obs.output_json, "{\"docs\":2}");
  assert_true(sp.obs.end_ns > 0);
  /* generation-update arrives BEFORE generation-create: still one complete generation */
  const kl_ingest_event *upd = by_id(&b, "1d20b57c-6cee-4906-827a-547b50dd6d2a");
  assert_int_equal(upd->obs.op, KL_INGEST_UPDATE);
  assert_int_equal(upd->obs.set & (KL_INGEST_F_NAME | KL_INGEST_F_START | KL_INGEST_F_MODEL | KL_INGEST_F_PARENT), 0);
  kl_ingest_obs g = fold(&b, KL_INGEST_OBS, "eae54fb7-b13a-4867-9781-4c2e9743e28f", a);
  assert_int_equal(g.op, KL_INGEST_CREATE);
  assert_string_equal(g.obs.type, KL_OBS_GENERATION);
  assert_string_equal(g.obs.name, "llm-call");
  assert_string_equal(g.obs.model, "gpt-4o-mini");
  assert_string_equal(g.obs.model_params_json, "{\"temperature\":0.2,\"max_tokens\":128}");
  assert_string_equal(g.obs.input_json, "[{\"role\":\"user\",\"content\":\"hi\"}]");
  assert_string_equal(g.obs.output_json, "{\"role\":\"assistant\",\"content\":\"hello\"}");
  assert_int_equal(g.obs.start_ns, kl_time_parse("2026-11-26T18:31:52.367Z"));
  assert_int_equal(g.obs.end_ns, kl_time_parse("2026-11-26T18:31:52.367Z"));
  /* usageDetails wins over the legacy usage; Langfuse's input already excludes cache reads */
  assert_int_equal(g.obs.usage_input, 10);
  assert_int_equal(g.obs.usage_input_cached, 2);
  assert_int_equal(g.obs.usage_output, 5);
  assert_true(g.obs.cost_usd > 0.000299 && g.obs.cost_usd < 0.000301);
  cJSON *u = parse(g.obs.usage_json);
  assert_string_equal(kl_json_str(u, "convention"), "langfuse");
  cJSON_Delete(u);
  /* the reply: everything succeeded */
  kl_buf r = KL_BUF_INIT;
  kl_ingest_langfuse_reply(&b, &r);
  cJSON *j = parse(r.data);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "successes")), 10);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "errors")), 0);
  assert_string_equal(kl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "successes"), 0), "id"),
                      "7591e20b-9eca-44c4-a79e-0962e42402e8");
  assert_int_equal(kl_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "successes"), 0), "status", 0), 201);
  cJSON_Delete(j);
  kl_buf_free(&r);
  kl_arena_free(a);
  free(body);
}

static void test_prompt_flow_and_v5_scores(void **st) {
  (void)st;
  char *body = it_capture_body("langfuse-v3-prompt-flow.json", 1);
  kl_arena *a = kl_arena_new(0);
  kl_ingest_batch b = batch(a, body);
  assert_int_equal(b.n, 3);
  assert_int_equal(b.nerrors, 0);
  kl_ingest_obs g = fold(&b, KL_INGEST_OBS, "dd71ad21-f802-4ec9-800b-34d7b6f581c9", a);
  assert_string_equal(g.prompt_name, "support-answer");
  assert_int_equal(g.prompt_version, 3);
  assert_true(g.set & KL_INGEST_F_PROMPT);
  assert_string_equal(g.obs.output_json, "\"ok\"");
  free(body);
  body = it_capture_body("langfuse-v5-02.json", 0);
  b = batch(a, body);
  assert_int_equal(b.n, 2);
  assert_int_equal(b.nerrors, 0);
  assert_null(b.metadata_json);
  const kl_ingest_score *s = &b.events[0].score;
  assert_string_equal(s->trace_id, "37358aac4a05a5efe66c7f364e8337c5");
  assert_string_equal(s->data_type, "NUMERIC"); /* inferred from a number */
  s = &b.events[1].score;
  assert_string_equal(s->observation_id, "c6429902106e9822");
  assert_string_equal(s->string_value, "friendly");
  free(body);
  kl_arena_free(a);
}

static void test_body_errors(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  static const char *const bad[] = {"", "[]", "{}", "{\"batch\":{}}", "{\"batch\":[", "not json", "{\"batch\":[]}x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_ingest_batch b;
    kl_err e = {0};
    if (kl_ingest_langfuse(bad[i], strlen(bad[i]), a, &b, &e) != -1 || e.code != 400) fail_msg("accepted: %s", bad[i]);
  }
  kl_ingest_batch b = batch(a, "{\"batch\":[]}");
  assert_int_equal(b.n, 0);
  kl_buf r = KL_BUF_INIT;
  kl_ingest_langfuse_reply(&b, &r);
  assert_string_equal(r.data, "{\"successes\":[],\"errors\":[]}");
  kl_buf_free(&r);
  kl_arena_free(a);
}

#define ID65 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID64 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define TS "\"timestamp\":\"2026-11-26T18:31:52.369Z\""

static void test_mixed_valid_invalid(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  const char *body =
      "{\"batch\":["
      "{\"id\":\"ok1\",\"type\":\"span-create\"," TS ",\"body\":{\"id\":\"" ID64 "\",\"traceId\":\"t1\",\"name\":\"s\"}},"
      "{\"id\":\"e1\",\"type\":\"banana-create\"," TS ",\"body\":{}},"
      "{\"type\":\"span-create\",\"body\":{}},"
      "{\"id\":\"e3\",\"type\":\"span-create\",\"body\":[1]},"
      "{\"id\":\"e4\",\"type\":\"span-create\",\"body\":{\"id\":\"" ID65 "\"}},"
      "{\"id\":\"e5\",\"type\":\"span-create\",\"body\":{\"traceId\":\"" ID65 "\"}},"
      "{\"id\":\"e6\",\"type\":\"span-create\",\"body\":{\"level\":\"LOUD\"}},"
      "{\"id\":\"e7\",\"type\":\"score-create\",\"body\":{\"traceId\":\"t1\",\"value\":1}},"
      "{\"id\":\"e8\",\"type\":\"score-create\",\"body\":{\"traceId\":\"t1\",\"name\":\"n\",\"value\":\"x\",\"dataType\":\"NUMERIC\"}},"
      "{\"id\":\"e9\",\"type\":\"score-create\",\"body\":{\"name\":\"n\",\"value\":1}},"
      "{\"id\":\"e10\",\"type\":\"span-update\",\"body\":{\"traceId\":\"t1\"}},"
      "{\"id\":\"e11\",\"type\":\"span-create\",\"timestamp\":\"yesterday\",\"body\":{}},"
      "{\"id\":\"e12\",\"type\":\"span-create\",\"body\":{\"startTime\":\"soon\"}},"
      "{\"id\":\"e13\",\"type\":\"observation-create\",\"body\":{\"type\":\"WIDGET\"}},"
      "{\"id\":\"e14\",\"type\":\"score-create\",\"body\":{\"traceId\":\"t1\",\"name\":\"n\",\"value\":2,\"dataType\":\"BOOLEAN\"}},"
      "{\"id\":\"e15\",\"type\":\"trace-create\",\"body\":{\"tags\":\"prod\"}},"
      "{\"id\":\"e16\",\"type\":\"span-create\",\"body\":{\"name\":5}},"
      "7,"
      "{\"id\":\"ok2\",\"type\":\"sdk-log\"," TS ",\"body\":{\"log\":\"hello\"}},"
      "{\"id\":\"ok3\",\"type\":\"observation-create\"," TS ",\"body\":{\"type\":\"GENERATION\",\"model\":\"m\","
      "\"usageDetails\":{\"prompt_tokens\":100,\"completion_tokens\":20,\"prompt_tokens_details\":{\"cached_tokens\":30},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":5}}}},"
      "{\"id\":\"ok1\",\"type\":\"span-create\"," TS ",\"body\":{\"id\":\"" ID64 "\",\"traceId\":\"t1\",\"name\":\"s\"}}"
      "]}";
  kl_ingest_batch b = batch(a, body);
  assert_int_equal(b.n, 21);
  assert_int_equal(b.nerrors, 17);
  /* the valid ones */
  assert_int_equal(b.events[0].status, 201);
  assert_int_equal(b.events[0].kind, KL_INGEST_OBS);
  assert_string_equal(b.events[0].obs.obs.id, ID64); /* 64 is the limit, allowed */
  assert_int_equal(b.events[0].obs.obs.start_ns, kl_time_parse("2026-11-26T18:31:52.369Z")); /* envelope time */
  const kl_ingest_event *log = by_id(&b, "ok2");
  assert_int_equal(log->status, 201);
  assert_int_equal(log->kind, KL_INGEST_NONE);
  const kl_ingest_obs *g = &by_id(&b, "ok3")->obs;
  assert_string_equal(g->obs.type, KL_OBS_GENERATION);
  assert_string_equal(g->obs.id, "ok3");       /* no body.id: the envelope id */
  assert_string_equal(g->obs.trace_id, "ok3"); /* no traceId: roots its own trace */
  assert_int_equal(g->obs.usage_input, 70);    /* OpenAI shape: prompt_tokens includes cached */
  assert_int_equal(g->obs.usage_input_cached, 30);
  assert_int_equal(g->obs.usage_output, 15);
  assert_int_equal(g->obs.usage_output_reasoning, 5);
  /* a duplicate envelope (SDK retry): success, no second effect */
  assert_int_equal(b.events[20].status, 201);
  assert_int_equal(b.events[20].kind, KL_INGEST_NONE);
  /* errors, keyed by envelope id, with a message */
  static const char *const want[][2] = {
      {"e1", "unsupported event type"}, {"e3", "body must be an object"}, {"e4", "longer than 64"},
      {"e5", "traceId is longer than 64"}, {"e6", "LOUD"}, {"e7", "needs body.name"}, {"e8", "numeric value"},
      {"e9", "needs body.traceId"}, {"e10", "update needs body.id"}, {"e11", "timestamp"}, {"e12", "startTime"},
      {"e13", "WIDGET"}, {"e14", "0 or 1"}, {"e15", "tags"}, {"e16", "name must be a string"}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const kl_ingest_event *e = by_id(&b, want[i][0]);
    assert_int_equal(e->status, 400);
    assert_int_equal(e->kind, KL_INGEST_NONE);
    if (!strstr(e->error, want[i][1])) fail_msg("%s: \"%s\" lacks \"%s\"", want[i][0], e->error, want[i][1]);
  }
  kl_buf r = KL_BUF_INIT;
  kl_ingest_langfuse_reply(&b, &r);
  cJSON *j = parse(r.data);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "successes")), 4);
  const cJSON *errs = cJSON_GetObjectItem(j, "errors");
  assert_int_equal(cJSON_GetArraySize(errs), 17);
  assert_string_equal(kl_json_str(cJSON_GetArrayItem(errs, 0), "id"), "e1");
  assert_int_equal(kl_json_int(cJSON_GetArrayItem(errs, 0), "status", 0), 400);
  assert_non_null(kl_json_str(cJSON_GetArrayItem(errs, 0), "message"));
  assert_string_equal(kl_json_str(cJSON_GetArrayItem(errs, 1), "id"), ""); /* no envelope id */
  cJSON_Delete(j);
  kl_buf_free(&r);
  kl_arena_free(a);
}

/* An update alone is a partial record; merging is order-independent and idempotent. */
static void test_partial_merge(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  kl_ingest_batch b = batch(
      a, "{\"batch\":["
         "{\"id\":\"u2\",\"type\":\"span-update\",\"timestamp\":\"2026-01-01T00:00:02Z\",\"body\":{\"id\":\"o\",\"traceId\":\"t\","
         "\"metadata\":{\"b\":2,\"a\":9},\"output\":\"late\"}},"
         "{\"id\":\"u1\",\"type\":\"span-update\",\"timestamp\":\"2026-01-01T00:00:01Z\",\"body\":{\"id\":\"o\",\"traceId\":\"t\","
         "\"output\":\"early\",\"level\":\"ERROR\",\"statusMessage\":\"x\"}},"
         "{\"id\":\"c\",\"type\":\"agent-create\",\"timestamp\":\"2026-01-01T00:00:03Z\",\"body\":{\"id\":\"o\",\"traceId\":\"t\","
         "\"name\":\"a\",\"metadata\":{\"a\":1},\"startTime\":\"2026-01-01T00:00:00Z\"}},"
         "{\"id\":\"tr1\",\"type\":\"trace-create\",\"body\":{\"id\":\"t\",\"tags\":[\"x\",\"y\"]}},"
         "{\"id\":\"tr2\",\"type\":\"trace-create\",\"body\":{\"id\":\"t\",\"tags\":[\"y\",\"z\"],\"metadata\":7}}"
         "]}");
  assert_int_equal(b.nerrors, 0);
  const kl_ingest_obs *u = &b.events[0].obs;
  assert_int_equal(u->op, KL_INGEST_UPDATE);
  assert_int_equal(u->set & KL_INGEST_F_START, 0); /* an update never invents a start */
  assert_int_equal(u->set & (KL_INGEST_F_METADATA | KL_INGEST_F_OUTPUT), KL_INGEST_F_METADATA | KL_INGEST_F_OUTPUT);
  kl_ingest_obs m = fold(&b, KL_INGEST_OBS, "o", a);
  assert_string_equal(m.obs.type, KL_OBS_AGENT); /* the update's implied SPAN never downgrades it */
  assert_string_equal(m.obs.name, "a");
  assert_string_equal(m.obs.output_json, "\"late\""); /* updates in timestamp order */
  assert_string_equal(m.obs.level, "ERROR");
  assert_string_equal(m.obs.metadata_json, "{\"a\":9,\"b\":2}");
  assert_int_equal(m.obs.start_ns, kl_time_parse("2026-01-01T00:00:00Z"));
  /* replaying a record changes nothing */
  kl_ingest_obs again = m;
  kl_ingest_merge(&again, &b.events[0].obs, a);
  kl_ingest_merge(&again, &b.events[1].obs, a);
  assert_string_equal(again.obs.metadata_json, m.obs.metadata_json);
  kl_ingest_obs t = fold(&b, KL_INGEST_TRACE, "t", a);
  assert_string_equal(t.obs.tags_json, "[\"x\",\"y\",\"z\"]"); /* union */
  assert_string_equal(t.obs.metadata_json, "{\"metadata\":7}"); /* non-objects wrapped */
  kl_ingest_merge(&t, &b.events[4].obs, a);
  assert_string_equal(t.obs.tags_json, "[\"x\",\"y\",\"z\"]");
  kl_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v3_capture),
      cmocka_unit_test(test_prompt_flow_and_v5_scores),
      cmocka_unit_test(test_body_errors),
      cmocka_unit_test(test_mixed_valid_invalid),
      cmocka_unit_test(test_partial_merge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
