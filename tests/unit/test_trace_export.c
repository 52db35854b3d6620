/* test_trace_export.c: the OTLP encoder (trace/otlp_export.c), proved against the colleague's
 * decoders: records are encoded (protobuf and JSON), decoded with kl_ingest_otlp_pb/json and
 * mapped back with kl_ingest_otlp_span, and what comes back must be what went in: ids, times,
 * kind, status, the GenAI attributes, and the observation fields Langfuse would see.  A
 * property test does the same over random records (seeded, so failures reproduce). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/kl_export.h"
#include "trace/kl_ingest.h"

/* ---------------- helpers ---------------- */

static int decode(const kl_buf *b, kl_export_protocol p, kl_arena *a, kl_otlp_request *req) {
  kl_err err;
  kl_err_clear(&err);
  int rc = p == KL_EXPORT_JSON ? kl_ingest_otlp_json(b->data, b->len, a, req, &err)
                               : kl_ingest_otlp_pb(b->data, b->len, a, req, &err);
  if (rc != 0) print_error("decode failed: %s\n", err.msg);
  return rc;
}

static const kl_otlp_value *attr(const kl_otlp_span *sp, const char *key) { return kl_otlp_attr(&sp->attrs, key); }

static const char *attr_s(const kl_otlp_span *sp, const char *key) {
  const kl_otlp_value *v = attr(sp, key);
  return v && v->type == KL_OTLP_STRING ? v->s : NULL;
}

static int64_t attr_i(const kl_otlp_span *sp, const char *key) {
  const kl_otlp_value *v = attr(sp, key);
  return v && v->type == KL_OTLP_INT ? v->i : -12345;
}

static void assert_json_eq(const char *a, const char *b) {
  assert_non_null(a);
  assert_non_null(b);
  cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
  if (!cJSON_Compare(x, y, true)) fail_msg("JSON differs:\n  %s\n  %s", a, b);
  cJSON_Delete(x);
  cJSON_Delete(y);
}

static const int64_t T0 = 1764184176123456789LL;

static kl_obs generation(void) {
  kl_obs o;
  memset(&o, 0, sizeof o);
  strcpy(o.id, "00f067aa0ba902b7");
  strcpy(o.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  strcpy(o.parent_id, "b7ad6b7169203331");
  o.type = KL_OBS_GENERATION;
  o.name = "chat.completions";
  o.level = "DEFAULT";
  o.http_status = 200;
  o.start_ns = T0;
  o.end_ns = T0 + 812000000;
  o.completion_start_ns = T0 + 250000000;
  o.model = "fast";
  o.provider = "openai";
  o.upstream_model = "gpt-4o-mini";
  o.model_params_json = "{\"temperature\":0.2,\"max_completion_tokens\":256,\"stream\":true,\"seed\":7,"
                        "\"stop\":[\"END\",\"STOP\"],\"tool_choice\":\"auto\"}";
  o.input_json = "[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"héllo \\\"q\\\"\"}]";
  o.output_json = "{\"role\":\"assistant\",\"content\":\"hi\"}";
  o.metadata_json = "{\"team\":\"search\",\"attempt\":2,\"beta\":true,\"ratio\":0.5,\"nested\":{\"a\":[1,2]}}";
  o.finish_reason = "stop";
  o.usage_input = 100;
  o.usage_input_cached = 40;
  o.usage_input_cache_write = 10;
  o.usage_output = 30;
  o.usage_output_reasoning = 12;
  o.usage_json = "{\"input\":100}";
  o.cost_usd = 0.0001234;
  o.cost_json = "{\"total\":0.0001234,\"source\":\"table\"}";
  o.trace_name = "support-bot";
  o.user_id = "alice";
  o.session_id = "s-42";
  o.tags_json = "[\"prod\",\"beta\"]";
  o.environment = "staging";
  o.release = "v1.2.3";
  return o;
}

static kl_obs guardrail(void) {
  kl_obs o;
  memset(&o, 0, sizeof o);
  strcpy(o.id, "1111111111111111");
  strcpy(o.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  strcpy(o.parent_id, "00f067aa0ba902b7");
  o.type = KL_OBS_GUARDRAIL;
  o.name = "guardrail.input";
  o.level = "WARNING";
  o.status_message = "pii redacted";
  o.start_ns = T0 + 1000;
  o.end_ns = T0 + 2000;
  o.metadata_json = "{\"verdict\":\"redact\"}";
  o.cost_usd = -1;
  o.environment = "staging";
  return o;
}

static kl_obs failed_call(void) {
  kl_obs o = generation();
  strcpy(o.id, "2222222222222222");
  o.parent_id[0] = 0;
  o.level = "ERROR";
  o.status_message = "upstream: 503 overloaded";
  o.http_status = 503;
  o.output_json = NULL;
  o.finish_reason = NULL;
  o.usage_input = o.usage_input_cached = o.usage_input_cache_write = o.usage_output = o.usage_output_reasoning = 0;
  o.cost_usd = -1;
  o.completion_start_ns = 0;
  return o;
}

/* ---------------- round trip of known records ---------------- */

static void roundtrip(kl_export_protocol p) {
  kl_obs g = generation(), r = guardrail(), f = failed_call();
  const kl_obs *recs[] = {&g, &r, &f};
  kl_buf b = KL_BUF_INIT;
  kl_export_attr res[] = {{"deployment.environment.name", "prod"}, {"host.name", "gw-1"}};
  kl_export_enc enc = {res, 2, false};
  kl_export_encode(recs, 3, p, &enc, &b);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request req;
  assert_int_equal(decode(&b, p, a, &req), 0);
  assert_int_equal(req.nspans, 3);
  assert_int_equal(req.rejected, 0);

  /* the generation: wire level */
  const kl_otlp_span *sp = &req.spans[0];
  assert_string_equal(sp->trace_id, g.trace_id);
  assert_string_equal(sp->span_id, g.id);
  assert_string_equal(sp->parent_span_id, g.parent_id);
  assert_string_equal(sp->name, "chat fast");
  assert_int_equal(sp->kind, 3);
  assert_true(sp->start_ns == g.start_ns);
  assert_true(sp->end_ns == g.end_ns);
  assert_int_equal(sp->status_code, 0);
  const kl_otlp_value *sn = kl_otlp_attr(&sp->resource->attrs, "service.name");
  assert_non_null(sn);
  assert_string_equal(sn->s, "keel");
  assert_string_equal(kl_otlp_attr(&sp->resource->attrs, "host.name")->s, "gw-1");
  assert_string_equal(sp->scope->name, "keel");
  assert_string_equal(attr_s(sp, "gen_ai.operation.name"), "chat");
  assert_string_equal(attr_s(sp, "gen_ai.provider.name"), "openai");
  assert_string_equal(attr_s(sp, "gen_ai.system"), "openai");
  assert_string_equal(attr_s(sp, "gen_ai.request.model"), "fast");
  assert_string_equal(attr_s(sp, "gen_ai.response.model"), "gpt-4o-mini");
  assert_int_equal(attr_i(sp, "gen_ai.usage.input_tokens"), 150); /* OTel counts cached input in */
  assert_int_equal(attr_i(sp, "gen_ai.usage.output_tokens"), 42);
  assert_int_equal(attr_i(sp, "gen_ai.usage.cache_read.input_tokens"), 40);
  assert_int_equal(attr_i(sp, "gen_ai.usage.cache_creation.input_tokens"), 10);
  assert_int_equal(attr_i(sp, "gen_ai.usage.reasoning.output_tokens"), 12);
  assert_int_equal(attr_i(sp, "gen_ai.request.max_tokens"), 256);
  assert_int_equal(attr_i(sp, "gen_ai.request.seed"), 7);
  const kl_otlp_value *t = attr(sp, "gen_ai.request.temperature");
  assert_true(t && t->type == KL_OTLP_DOUBLE && t->d == 0.2);
  const kl_otlp_value *st = attr(sp, "gen_ai.request.stream");
  assert_true(st && st->type == KL_OTLP_BOOL && st->b);
  const kl_otlp_value *stop = attr(sp, "gen_ai.request.stop_sequences");
  assert_true(stop && stop->type == KL_OTLP_ARRAY && stop->n == 2);
  assert_string_equal(stop->items[1].s, "STOP");
  const kl_otlp_value *fr = attr(sp, "gen_ai.response.finish_reasons");
  assert_true(fr && fr->type == KL_OTLP_ARRAY && fr->n == 1);
  assert_string_equal(fr->items[0].s, "stop");
  const kl_otlp_value *cost = attr(sp, "keel.cost_usd");
  assert_true(cost && cost->type == KL_OTLP_DOUBLE && cost->d == g.cost_usd);
  assert_int_equal(attr_i(sp, "http.response.status_code"), 200);
  assert_string_equal(attr_s(sp, "keel.observation.name"), "chat.completions");
  assert_string_equal(attr_s(sp, "langfuse.observation.type"), "GENERATION");
  const kl_otlp_value *tags = attr(sp, "langfuse.trace.tags");
  assert_true(tags && tags->type == KL_OTLP_ARRAY && tags->n == 2);
  assert_json_eq(attr_s(sp, "gen_ai.input.messages"), g.input_json);
  assert_int_equal(attr_i(sp, "langfuse.observation.metadata.attempt"), 2);
  assert_null(attr(sp, "error.type"));

  /* the generation: mapped back to an observation, as keel's own ingest would store it */
  kl_ingest_obs m;
  kl_ingest_otlp_span(sp, a, &m);
  assert_string_equal(m.obs.type, KL_OBS_GENERATION);
  assert_string_equal(m.obs.id, g.id);
  assert_string_equal(m.obs.trace_id, g.trace_id);
  assert_string_equal(m.obs.parent_id, g.parent_id);
  assert_string_equal(m.obs.model, "fast");
  assert_string_equal(m.obs.upstream_model, "gpt-4o-mini");
  assert_string_equal(m.obs.provider, "openai");
  assert_true(m.obs.usage_input == 100 && m.obs.usage_input_cached == 40 && m.obs.usage_input_cache_write == 10);
  assert_true(m.obs.usage_output == 30 && m.obs.usage_output_reasoning == 12);
  assert_true(fabs(m.obs.cost_usd - g.cost_usd) < 1e-15);
  assert_json_eq(m.obs.model_params_json, g.model_params_json);
  assert_json_eq(m.obs.input_json, g.input_json);
  assert_json_eq(m.obs.output_json, g.output_json);
  assert_string_equal(m.obs.finish_reason, "stop");
  assert_string_equal(m.obs.trace_name, "support-bot");
  assert_string_equal(m.obs.user_id, "alice");
  assert_string_equal(m.obs.session_id, "s-42");
  assert_json_eq(m.obs.tags_json, g.tags_json);
  assert_string_equal(m.obs.environment, "staging");
  assert_string_equal(m.obs.release, "v1.2.3");
  assert_true(m.obs.completion_start_ns / 1000000 == g.completion_start_ns / 1000000); /* ms on the wire */
  cJSON *md = cJSON_Parse(m.obs.metadata_json), *want = cJSON_Parse(g.metadata_json);
  for (cJSON *it = want->child; it; it = it->next) {
    cJSON *got = cJSON_GetObjectItemCaseSensitive(md, it->string);
    if (cJSON_IsObject(it)) { /* nested values travel as JSON text */
      char *s = cJSON_PrintUnformatted(it);
      assert_true(cJSON_IsString(got));
      assert_json_eq(got->valuestring, s);
      cJSON_free(s);
    } else if (!cJSON_Compare(it, got, true)) {
      fail_msg("metadata %s differs", it->string);
    }
  }
  cJSON_Delete(md);
  cJSON_Delete(want);

  /* the guardrail: INTERNAL, own name, level kept */
  sp = &req.spans[1];
  assert_int_equal(sp->kind, 1);
  assert_string_equal(sp->name, "guardrail.input");
  assert_string_equal(sp->parent_span_id, "00f067aa0ba902b7");
  assert_null(attr(sp, "gen_ai.operation.name"));
  assert_null(attr(sp, "gen_ai.usage.input_tokens"));
  assert_null(attr(sp, "keel.cost_usd"));
  kl_ingest_otlp_span(sp, a, &m);
  assert_string_equal(m.obs.type, KL_OBS_GUARDRAIL);
  assert_string_equal(m.obs.level, "WARNING");
  assert_string_equal(m.obs.status_message, "pii redacted");
  assert_true(m.obs.start_ns == r.start_ns && m.obs.end_ns == r.end_ns);

  /* the failed call: a root span with ERROR status and message */
  sp = &req.spans[2];
  assert_string_equal(sp->parent_span_id, "");
  assert_int_equal(sp->status_code, 2);
  assert_string_equal(sp->status_message, "upstream: 503 overloaded");
  assert_string_equal(attr_s(sp, "error.type"), "503");
  assert_null(attr(sp, "gen_ai.response.finish_reasons"));
  assert_null(attr(sp, "gen_ai.output.messages"));
  kl_ingest_otlp_span(sp, a, &m);
  assert_string_equal(m.obs.level, "ERROR");
  assert_string_equal(m.obs.status_message, "upstream: 503 overloaded");
  kl_arena_free(a);
  kl_buf_free(&b);
}

static void test_roundtrip_pb(void **st) {
  (void)st;
  roundtrip(KL_EXPORT_PROTOBUF);
}
static void test_roundtrip_json(void **st) {
  (void)st;
  roundtrip(KL_EXPORT_JSON);
}

static void test_embedding_and_options(void **st) {
  (void)st;
  kl_obs o = generation();
  o.type = KL_OBS_EMBEDDING;
  o.name = "embeddings";
  o.model = "text-embedding-3-small";
  o.output_json = NULL;
  o.usage_output = o.usage_output_reasoning = 0;
  o.usage_input_cached = o.usage_input_cache_write = 0;
  const kl_obs *recs[] = {&o};
  kl_export_attr res[] = {{"service.name", "my-gw"}};
  kl_export_enc enc = {res, 1, true};
  for (int p = 0; p < 2; p++) {
    kl_buf b = KL_BUF_INIT;
    kl_export_encode(recs, 1, (kl_export_protocol)p, &enc, &b);
    kl_arena *a = kl_arena_new(0);
    kl_otlp_request req;
    assert_int_equal(decode(&b, (kl_export_protocol)p, a, &req), 0);
    const kl_otlp_span *sp = &req.spans[0];
    assert_string_equal(sp->name, "embeddings text-embedding-3-small");
    assert_int_equal(sp->kind, 3);
    assert_string_equal(attr_s(sp, "gen_ai.operation.name"), "embeddings");
    assert_null(attr(sp, "gen_ai.input.messages")); /* omit_content */
    assert_int_equal(attr_i(sp, "gen_ai.usage.input_tokens"), 100);
    assert_int_equal(sp->resource->attrs.n, 1); /* service.name replaced, not doubled */
    assert_string_equal(kl_otlp_attr(&sp->resource->attrs, "service.name")->s, "my-gw");
    kl_ingest_obs m;
    kl_ingest_otlp_span(sp, a, &m);
    assert_string_equal(m.obs.type, KL_OBS_EMBEDDING);
    kl_arena_free(a);
    kl_buf_free(&b);
  }
}

static void test_ids(void **st) {
  (void)st;
  uint8_t t[16], t2[16], s[8];
  assert_true(kl_export_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736", t));
  assert_int_equal(t[0], 0x4b);
  assert_int_equal(t[15], 0x36);
  assert_true(kl_export_trace_id("4bf92f35-77b3-4da6-a3ce-929d0e0e4736", t2)); /* a UUID */
  assert_memory_equal(t, t2, 16);
  assert_false(kl_export_trace_id("lf-trace-1", t));
  assert_false(kl_export_trace_id("lf-trace-1", t2));
  assert_memory_equal(t, t2, 16); /* stable */
  assert_false(kl_export_trace_id("00000000000000000000000000000000", t)); /* invalid in OTLP */
  bool zero = true;
  for (int i = 0; i < 16; i++) zero = zero && !t[i];
  assert_false(zero);
  assert_true(kl_export_span_id("00f067aa0ba902b7", s));
  assert_false(kl_export_span_id("4bf92f3577b34da6a3ce929d0e0e4736", s)); /* too long: hashed */
  assert_false(kl_export_span_id("", s));

  /* a foreign id still encodes into a valid span that the decoder accepts */
  kl_obs o = guardrail();
  strcpy(o.id, "7c1e4a0e-6a4b-4f77-9d0c-0b5d6f4e2a10-extra");
  strcpy(o.trace_id, "my-trace");
  const kl_obs *recs[] = {&o};
  kl_buf b = KL_BUF_INIT;
  kl_export_encode(recs, 1, KL_EXPORT_PROTOBUF, NULL, &b);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request req;
  assert_int_equal(decode(&b, KL_EXPORT_PROTOBUF, a, &req), 0);
  assert_int_equal(req.nspans, 1);
  assert_int_equal(req.rejected, 0);
  kl_arena_free(a);
  kl_buf_free(&b);
}

/* ---------------- property: random records round-trip ---------------- */

static uint64_t rng_state;
static uint32_t rnd(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33);
}

/* Random valid UTF-8 (ASCII incl. quotes/backslashes/controls, 2-, 3- and 4-byte sequences);
 * sometimes long, to cross the 1- and 2-byte length-varint boundaries. */
static char *rnd_text(kl_arena *a) {
  static const char *const pieces[] = {"a", "Z", "\"", "\\", "\n", "\t", "\x01", " ", "é", "€", "😀", "{", "}", "0"};
  uint32_t k = rnd() % 10;
  size_t n = k < 6 ? rnd() % 12 : k < 9 ? 100 + rnd() % 200 : 16000 + rnd() % 1000;
  kl_buf b = KL_BUF_INIT;
  for (size_t i = 0; i < n; i++) kl_buf_puts(&b, pieces[rnd() % (sizeof pieces / sizeof pieces[0])]);
  char *s = kl_arena_strdup(a, b.data ? b.data : "");
  kl_buf_free(&b);
  return s;
}

static const char *maybe(kl_arena *a) { return rnd() % 3 ? rnd_text(a) : NULL; }

static void rnd_hex(char *out, size_t n) {
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) out[i] = hx[rnd() % 16];
  out[n] = 0;
  out[0] = '1'; /* never all zero */
}

static void test_property_roundtrip(void **st) {
  (void)st;
  static const char *const types[] = {KL_OBS_GENERATION, KL_OBS_EMBEDDING, KL_OBS_GUARDRAIL, KL_OBS_SPAN,
                                      KL_OBS_TOOL, KL_OBS_EVENT};
  static const char *const levels[] = {"DEFAULT", "WARNING", "ERROR", "DEBUG"};
  rng_state = 20261126;
  for (int iter = 0; iter < 300; iter++) {
    kl_arena *a = kl_arena_new(0);
    size_t n = 1 + rnd() % 6;
    kl_obs *recs = kl_arena_calloc(a, n * sizeof *recs);
    const kl_obs **ptrs = kl_arena_calloc(a, n * sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
      kl_obs *o = &recs[i];
      rnd_hex(o->id, 16);
      rnd_hex(o->trace_id, 32);
      if (rnd() % 2) rnd_hex(o->parent_id, 16);
      o->type = types[rnd() % 6];
      o->name = maybe(a);
      o->level = levels[rnd() % 4];
      o->status_message = maybe(a);
      o->start_ns = T0 + (int64_t)(rnd() % 1000000000);
      o->end_ns = o->start_ns + (int64_t)(rnd() % 100000000);
      o->model = maybe(a);
      o->provider = maybe(a);
      o->upstream_model = maybe(a);
      o->user_id = maybe(a);
      o->session_id = maybe(a);
      o->trace_name = maybe(a);
      o->environment = maybe(a);
      o->finish_reason = maybe(a);
      if (rnd() % 2) {
        cJSON *j = cJSON_CreateArray();
        cJSON_AddItemToArray(j, cJSON_CreateString(rnd_text(a)));
        cJSON_AddItemToArray(j, cJSON_CreateString(rnd_text(a)));
        o->input_json = kl_json_print_arena(a, j);
        cJSON_Delete(j);
      }
      o->usage_input = rnd() % 5 ? rnd() % 100000 : 0;
      o->usage_output = rnd() % 100000;
      o->usage_input_cached = rnd() % 2 ? rnd() % 1000 : 0;
      o->usage_output_reasoning = rnd() % 2 ? rnd() % 1000 : 0;
      o->cost_usd = rnd() % 2 ? (double)rnd() / 1e9 : -1;
      ptrs[i] = o;
    }
    for (int p = 0; p < 2; p++) {
      kl_buf b = KL_BUF_INIT;
      kl_export_encode(ptrs, n, (kl_export_protocol)p, NULL, &b);
      kl_otlp_request req;
      assert_int_equal(decode(&b, (kl_export_protocol)p, a, &req), 0);
      assert_int_equal(req.nspans, n);
      assert_int_equal(req.rejected, 0);
      for (size_t i = 0; i < n; i++) {
        const kl_obs *o = ptrs[i];
        const kl_otlp_span *sp = &req.spans[i];
        assert_string_equal(sp->span_id, o->id);
        assert_string_equal(sp->trace_id, o->trace_id);
        assert_string_equal(sp->parent_span_id, o->parent_id);
        assert_true(sp->start_ns == o->start_ns && sp->end_ns == o->end_ns);
        bool err = !strcmp(o->level, "ERROR");
        assert_int_equal(sp->status_code, err ? 2 : 0);
        if (err && o->status_message && *o->status_message) assert_string_equal(sp->status_message, o->status_message);
        kl_ingest_obs m;
        kl_ingest_otlp_span(sp, a, &m);
        assert_string_equal(m.obs.type, o->type);
        assert_string_equal(m.obs.level ? m.obs.level : "DEFAULT", o->level);
#define SAME(f)                                                     \
  if (o->f && *o->f) assert_string_equal(m.obs.f ? m.obs.f : "(null)", o->f); \
  else assert_null(m.obs.f)
        if (o->model && *o->model) assert_string_equal(m.obs.model, o->model);
        else if (o->upstream_model && *o->upstream_model) assert_string_equal(m.obs.model, o->upstream_model);
        else assert_null(m.obs.model);
        SAME(upstream_model);
        SAME(provider);
        SAME(user_id);
        SAME(session_id);
        SAME(environment);
        SAME(finish_reason);
        if (o->status_message && *o->status_message) assert_string_equal(m.obs.status_message, o->status_message);
        if (o->input_json) assert_json_eq(m.obs.input_json, o->input_json);
        if (o->usage_input | o->usage_output | o->usage_input_cached | o->usage_output_reasoning) {
          assert_true(m.obs.usage_input == o->usage_input);
          assert_true(m.obs.usage_input_cached == o->usage_input_cached);
          assert_true(m.obs.usage_output == o->usage_output);
          assert_true(m.obs.usage_output_reasoning == o->usage_output_reasoning);
        }
        if (o->cost_usd >= 0) assert_true(fabs(m.obs.cost_usd - o->cost_usd) <= 1e-12 * fabs(o->cost_usd) + 1e-18);
        else assert_true(m.obs.cost_usd < 0);
      }
      kl_buf_free(&b);
    }
    kl_arena_free(a);
  }
}

/* Invalid UTF-8 in a stored string must not make the whole request undecodable. */
static void test_invalid_utf8(void **st) {
  (void)st;
  kl_obs o = guardrail();
  o.name = "bad \xC3( \xFF end";
  o.status_message = "trunc \xE2\x82";
  const kl_obs *recs[] = {&o};
  for (int p = 0; p < 2; p++) {
    kl_buf b = KL_BUF_INIT;
    kl_export_encode(recs, 1, (kl_export_protocol)p, NULL, &b);
    kl_arena *a = kl_arena_new(0);
    kl_otlp_request req;
    assert_int_equal(decode(&b, (kl_export_protocol)p, a, &req), 0);
    assert_string_equal(req.spans[0].name, "bad \xEF\xBF\xBD( \xEF\xBF\xBD end");
    kl_arena_free(a);
    kl_buf_free(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_pb),    cmocka_unit_test(test_roundtrip_json),
      cmocka_unit_test(test_embedding_and_options), cmocka_unit_test(test_ids),
      cmocka_unit_test(test_property_roundtrip), cmocka_unit_test(test_invalid_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
