/* test_ingest_otlp.c: OTLP protobuf and JSON decoding and span -> observation mapping, on real
 * SDK captures (tests/data/captures) and hand-built hostile bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest_test_util.h"

static const kl_otlp_value *attr(const kl_otlp_span *sp, const char *k) { return kl_otlp_attr(&sp->attrs, k); }

static cJSON *parse(const char *s) {
  assert_non_null(s);
  cJSON *j = cJSON_Parse(s);
  assert_non_null(j);
  return j;
}

/* The captured span, as both exporters send it (ids and times differ between the captures). */
static void check_capture_span(const kl_otlp_request *req) {
  assert_int_equal(req->nspans, 1);
  assert_int_equal(req->rejected, 0);
  const kl_otlp_span *sp = &req->spans[0];
  assert_string_equal(sp->name, "chat gpt-4o-mini");
  assert_int_equal(sp->kind, 3);
  assert_string_equal(sp->parent_span_id, "");
  assert_true(sp->end_ns > sp->start_ns && sp->start_ns > 1700000000000000000LL);
  assert_int_equal(sp->attrs.n, 14);
  assert_int_equal(attr(sp, "gen_ai.request.temperature")->type, KL_OTLP_DOUBLE);
  assert_true(attr(sp, "gen_ai.request.temperature")->d == 0.2);
  assert_int_equal(attr(sp, "gen_ai.request.max_tokens")->i, 128);
  const kl_otlp_value *fr = attr(sp, "gen_ai.response.finish_reasons");
  assert_int_equal(fr->type, KL_OTLP_ARRAY);
  assert_int_equal(fr->n, 1);
  assert_string_equal(fr->items[0].s, "stop");
  assert_int_equal(sp->nevents, 1);
  assert_string_equal(sp->events[0].name, "gen_ai.client.inference.operation.details");
  assert_true(sp->events[0].time_ns > sp->start_ns);
  assert_int_equal(sp->events[0].attrs.n, 1);
  assert_int_equal(sp->status_code, 1);
  assert_int_equal(sp->resource->attrs.n, 2);
  assert_string_equal(kl_otlp_attr(&sp->resource->attrs, "service.name")->s, "llm-gateway-test");
  assert_string_equal(sp->scope->name, "gateway-instrumentation");
  assert_string_equal(sp->scope->version, "0.1.0");
}

static void check_capture_obs(const kl_otlp_request *req, kl_arena *a) {
  kl_ingest_obs *r = kl_ingest_otlp_map(req, a);
  const kl_obs *o = &r->obs;
  assert_int_equal(r->kind, KL_INGEST_OBS);
  assert_string_equal(o->id, req->spans[0].span_id);
  assert_string_equal(o->trace_id, req->spans[0].trace_id);
  assert_string_equal(o->type, KL_OBS_GENERATION);
  assert_string_equal(o->name, "chat gpt-4o-mini");
  assert_string_equal(o->trace_name, "chat gpt-4o-mini"); /* a root span names its trace */
  assert_string_equal(o->model, "gpt-4o-mini");
  assert_string_equal(o->upstream_model, "gpt-4o-mini-2024-07-18");
  assert_string_equal(o->provider, "openai");
  assert_string_equal(o->finish_reason, "stop");
  assert_string_equal(o->environment, "dev");
  assert_int_equal(o->usage_input, 10);
  assert_int_equal(o->usage_output, 5);
  assert_int_equal(o->usage_input_cached, 0);
  assert_true(o->cost_usd < 0);
  assert_null(o->level);
  cJSON *p = parse(o->model_params_json);
  assert_true(kl_json_int(p, "max_tokens", 0) == 128);
  cJSON_Delete(p);
  cJSON *in = parse(o->input_json), *out = parse(o->output_json);
  assert_string_equal(kl_json_str(cJSON_GetArrayItem(in, 0), "role"), "user");
  assert_string_equal(kl_json_str(cJSON_GetArrayItem(out, 0), "finish_reason"), "stop");
  cJSON_Delete(in);
  cJSON_Delete(out);
  cJSON *u = parse(o->usage_json);
  assert_string_equal(kl_json_str(u, "convention"), "otel_genai");
  cJSON_Delete(u);
  cJSON *m = parse(o->metadata_json);
  assert_string_equal(kl_json_str(m, "server.address"), "api.openai.com");
  assert_string_equal(kl_json_str(m, "gen_ai.operation.name"), "chat");
  assert_null(cJSON_GetObjectItem(m, "gen_ai.request.model")); /* consumed */
  assert_string_equal(kl_json_str(cJSON_GetObjectItem(m, "resource"), "service.name"), "llm-gateway-test");
  assert_string_equal(kl_json_str(cJSON_GetObjectItem(m, "scope"), "name"), "gateway-instrumentation");
  assert_string_equal(kl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "events"), 0), "name"),
                      "gen_ai.client.inference.operation.details");
  cJSON_Delete(m);
  uint32_t want = KL_INGEST_F_TYPE | KL_INGEST_F_MODEL | KL_INGEST_F_USAGE | KL_INGEST_F_INPUT | KL_INGEST_F_OUTPUT |
                  KL_INGEST_F_START | KL_INGEST_F_END | KL_INGEST_F_METADATA;
  assert_int_equal(r->set & want, want);
  assert_int_equal(r->set & (KL_INGEST_F_COST | KL_INGEST_F_LEVEL | KL_INGEST_F_USER), 0);
}

static void test_pb_capture(void **st) {
  (void)st;
  size_t n = 0;
  char *body = it_read("otlp-http-protobuf-01.bin", &n);
  assert_non_null(body);
  assert_int_equal(n, 937);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request req;
  kl_err e = {0};
  assert_int_equal(kl_ingest_otlp_pb(body, n, a, &req, &e), 0);
  check_capture_span(&req);
  assert_string_equal(req.spans[0].trace_id, "879900791612ec0eb68d824ec757eacf");
  assert_string_equal(req.spans[0].span_id, "2df36fa296ba6e0e");
  assert_int_equal(req.spans[0].start_ns, 1795717972658000000LL);
  assert_int_equal(req.spans[0].end_ns, 1795717972658568536LL);
  check_capture_obs(&req, a);
  kl_buf b = KL_BUF_INIT;
  kl_ingest_otlp_reply(&req, false, &b);
  assert_int_equal(b.len, 0); /* empty ExportTraceServiceResponse */
  kl_ingest_otlp_reply(&req, true, &b);
  assert_string_equal(b.data, "{}");
  kl_buf_free(&b);
  kl_arena_free(a);
  free(body);
}

static void test_json_capture(void **st) {
  (void)st;
  char *body = it_capture_body("otlp-http-json-01.json", 0);
  assert_non_null(body);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request req;
  kl_err e = {0};
  assert_int_equal(kl_ingest_otlp_json(body, strlen(body), a, &req, &e), 0);
  check_capture_span(&req);
  assert_string_equal(req.spans[0].trace_id, "a7fa74ac4f8e294eac85c089d8bf7277");
  assert_int_equal(req.spans[0].end_ns, 1795717964510507195LL); /* int64 as a string: exact */
  check_capture_obs(&req, a);
  kl_arena_free(a);
  free(body);
}

/* Every proper prefix of the capture is malformed (a truncated message somewhere) and must
 * fail with a 400, never crash or read past the end (ASan checks the latter: each prefix is a
 * separate heap block of exactly that size). */
static void test_pb_truncation_every_offset(void **st) {
  (void)st;
  size_t n = 0;
  char *body = it_read("otlp-http-protobuf-01.bin", &n);
  kl_arena *a = kl_arena_new(0);
  for (size_t len = 1; len < n; len++) {
    char *p = malloc(len);
    memcpy(p, body, len);
    kl_otlp_request req;
    kl_err e = {0};
    int rc = kl_ingest_otlp_pb(p, len, a, &req, &e);
    if (rc != -1 || e.code != 400 || strncmp(e.msg, "protobuf: ", 10) != 0) fail_msg("prefix of %zu bytes: rc %d", len, rc);
    free(p);
    kl_arena_reset(a);
  }
  kl_otlp_request req;
  kl_err e = {0};
  assert_int_equal(kl_ingest_otlp_pb(body, 0, a, &req, &e), 0); /* empty = no spans */
  assert_int_equal(req.nspans, 0);
  /* every single-byte corruption: any outcome but a crash; the decoder stays consistent */
  for (size_t i = 0; i < n; i++) {
    char *p = malloc(n);
    memcpy(p, body, n);
    p[i] ^= (char)0xA5;
    if (kl_ingest_otlp_pb(p, n, a, &req, &e) == 0) kl_ingest_otlp_map(&req, a);
    else assert_int_equal(e.code, 400);
    free(p);
    kl_arena_reset(a);
  }
  kl_arena_free(a);
  free(body);
}

/* A span with the given ids, one string attribute and extras appended by the caller. */
static void build_span(kl_buf *span, const uint8_t *tid, size_t tn, const uint8_t *sid, size_t sn) {
  pbw_bytes(span, 1, tid, tn);
  pbw_bytes(span, 2, sid, sn);
  pbw_str(span, 5, "op");
  pbw_fixed64(span, 7, 1000);
  pbw_fixed64(span, 8, 2000);
  pbw_attr_str(span, 9, "user.id", "u1");
}

static void wrap_request(kl_buf *req, kl_buf *spans /* already ScopeSpans.spans fields */) {
  kl_buf ss = KL_BUF_INIT, rs = KL_BUF_INIT;
  kl_buf_append(&ss, spans->data, spans->len);
  kl_buf_free(spans);
  pbw_msg(&rs, 2, &ss);
  pbw_msg(req, 1, &rs);
}

static const uint8_t k_tid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t k_sid[8] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1};

static void test_pb_unknown_fields_skipped(void **st) {
  (void)st;
  kl_buf span = KL_BUF_INIT, spans = KL_BUF_INIT, req = KL_BUF_INIT;
  pbw_varint_field(&span, 99, 12345);      /* unknown varint */
  build_span(&span, k_tid, 16, k_sid, 8);
  pbw_fixed64(&span, 100, 7);              /* unknown fixed64 */
  pbw_tag(&span, 101, 5);                  /* unknown fixed32 */
  kl_buf_append(&span, "\1\2\3\4", 4);
  pbw_str(&span, 3, "w3c=tracestate");     /* known but unused: trace_state */
  pbw_str(&span, 102, "unknown bytes");
  kl_buf ev = KL_BUF_INIT;                 /* an event with an unknown field inside */
  pbw_str(&ev, 2, "exception");
  pbw_varint_field(&ev, 4, 0);
  pbw_attr_str(&ev, 3, "exception.message", "boom");
  pbw_msg(&span, 11, &ev);
  kl_buf status = KL_BUF_INIT;
  pbw_varint_field(&status, 3, 2);
  pbw_varint_field(&status, 9, 1);
  pbw_msg(&span, 15, &status);
  pbw_msg(&spans, 2, &span);
  pbw_str(&spans, 77, "unknown in ScopeSpans");
  wrap_request(&req, &spans);
  pbw_varint_field(&req, 55, 1);           /* unknown in the request itself */
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request r;
  kl_err e = {0};
  assert_int_equal(kl_ingest_otlp_pb(req.data, req.len, a, &r, &e), 0);
  assert_int_equal(r.nspans, 1);
  assert_string_equal(r.spans[0].trace_id, "0102030405060708090a0b0c0d0e0f10");
  assert_string_equal(r.spans[0].span_id, "deadbeef00000001");
  assert_string_equal(r.spans[0].name, "op");
  assert_int_equal(r.spans[0].status_code, 2);
  assert_int_equal(r.spans[0].nevents, 1);
  kl_ingest_obs o;
  kl_ingest_otlp_span(&r.spans[0], a, &o);
  assert_string_equal(o.obs.type, KL_OBS_SPAN);
  assert_string_equal(o.obs.level, "ERROR");
  assert_string_equal(o.obs.status_message, "boom"); /* from the exception event */
  assert_string_equal(o.obs.user_id, "u1");
  kl_buf_free(&req);
  kl_arena_free(a);
}

/* Body that must be rejected as a whole with a message containing `want`. */
static void expect_pb_error(const kl_buf *body, const char *want) {
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request r;
  kl_err e = {0};
  assert_int_equal(kl_ingest_otlp_pb(body->data, body->len, a, &r, &e), -1);
  assert_int_equal(e.code, 400);
  if (!strstr(e.msg, want)) fail_msg("error \"%s\" lacks \"%s\"", e.msg, want);
  kl_arena_free(a);
}

static void test_pb_malformed(void **st) {
  (void)st;
  kl_buf b = KL_BUF_INIT;
  /* Span.name sent as a varint */
  kl_buf span = KL_BUF_INIT, spans = KL_BUF_INIT;
  build_span(&span, k_tid, 16, k_sid, 8);
  pbw_varint_field(&span, 5, 1);
  pbw_msg(&spans, 2, &span);
  wrap_request(&b, &spans);
  expect_pb_error(&b, "wrong wire type 0 for Span.name");
  kl_buf_reset(&b);
  /* group wire types */
  pbw_tag(&b, 1, 3);
  expect_pb_error(&b, "group");
  kl_buf_reset(&b);
  /* field number 0 */
  pbw_tag(&b, 0, 0);
  pbw_varint(&b, 1);
  expect_pb_error(&b, "field number 0");
  kl_buf_reset(&b);
  /* a huge length: 2^40 bytes announced, 3 present; must fail without allocating */
  pbw_tag(&b, 1, 2);
  pbw_varint(&b, 1ULL << 40);
  kl_buf_append(&b, "abc", 3);
  expect_pb_error(&b, "length beyond the end");
  kl_buf_reset(&b);
  /* an 11-byte varint */
  pbw_tag(&b, 99, 0);
  kl_buf_append(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
  expect_pb_error(&b, "varint");
  kl_buf_reset(&b);
  /* a string that is not UTF-8 */
  kl_buf span2 = KL_BUF_INIT, spans2 = KL_BUF_INIT;
  build_span(&span2, k_tid, 16, k_sid, 8);
  pbw_bytes(&span2, 5, "\xc3\x28", 2);
  pbw_msg(&spans2, 2, &span2);
  wrap_request(&b, &spans2);
  expect_pb_error(&b, "UTF-8");
  kl_buf_free(&b);
}

/* AnyValue arrays nested `depth` deep in one attribute. */
static void nested_body(kl_buf *out, int depth) {
  kl_buf v = KL_BUF_INIT;
  pbw_str(&v, 1, "leaf");
  for (int i = 0; i < depth; i++) {
    kl_buf arr = KL_BUF_INIT, any = KL_BUF_INIT;
    pbw_msg(&arr, 1, &v);    /* ArrayValue.values */
    pbw_msg(&any, 5, &arr);  /* AnyValue.array_value */
    v = any;
  }
  kl_buf kv = KL_BUF_INIT, span = KL_BUF_INIT, spans = KL_BUF_INIT;
  pbw_str(&kv, 1, "deep");
  pbw_msg(&kv, 2, &v);
  build_span(&span, k_tid, 16, k_sid, 8);
  pbw_msg(&span, 9, &kv);
  pbw_msg(&spans, 2, &span);
  wrap_request(out, &spans);
}

static void test_pb_nesting_limit(void **st) {
  (void)st;
  kl_buf b = KL_BUF_INIT;
  nested_body(&b, KL_INGEST_MAX_DEPTH);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request r;
  kl_err e = {0};
  assert_int_equal(kl_ingest_otlp_pb(b.data, b.len, a, &r, &e), 0);
  kl_ingest_obs o;
  kl_ingest_otlp_span(&r.spans[0], a, &o);
  assert_non_null(strstr(o.obs.metadata_json, "\"leaf\""));
  kl_buf_free(&b);
  nested_body(&b, KL_INGEST_MAX_DEPTH + 1);
  expect_pb_error(&b, "nested too deeply");
  kl_buf_free(&b);
  nested_body(&b, 5000); /* far beyond: still a clean error, no stack exhaustion */
  expect_pb_error(&b, "nested too deeply");
  kl_buf_free(&b);
  kl_arena_free(a);
}

static void test_pb_rejected_spans(void **st) {
  (void)st;
  static const uint8_t zero16[16] = {0};
  kl_buf spans = KL_BUF_INIT, s1 = KL_BUF_INIT, s2 = KL_BUF_INIT, s3 = KL_BUF_INIT, req = KL_BUF_INIT;
  build_span(&s1, k_tid, 15, k_sid, 8); /* short trace id */
  build_span(&s2, k_tid, 16, k_sid, 8); /* fine */
  build_span(&s3, zero16, 16, k_sid, 8); /* all-zero trace id */
  pbw_msg(&spans, 2, &s1);
  pbw_msg(&spans, 2, &s2);
  pbw_msg(&spans, 2, &s3);
  wrap_request(&req, &spans);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request r;
  kl_err e = {0};
  assert_int_equal(kl_ingest_otlp_pb(req.data, req.len, a, &r, &e), 0);
  assert_int_equal(r.nspans, 1);
  assert_int_equal(r.rejected, 2);
  assert_string_equal(r.reject_msg, "Span.trace_id has the wrong length");
  kl_buf out = KL_BUF_INIT;
  kl_ingest_otlp_reply(&r, true, &out);
  assert_string_equal(out.data,
                      "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"Span.trace_id has the wrong length\"}}");
  kl_buf_reset(&out);
  kl_ingest_otlp_reply(&r, false, &out);
  /* 0a <len> { 08 02  12 <len> "Span.trace_id has the wrong length" } */
  assert_int_equal((uint8_t)out.data[0], 0x0a);
  assert_int_equal((uint8_t)out.data[2], 0x08);
  assert_int_equal((uint8_t)out.data[3], 2);
  assert_int_equal((uint8_t)out.data[4], 0x12);
  assert_int_equal(out.len, 2u + 2 + 2 + strlen(r.reject_msg));
  kl_buf_free(&out);
  kl_buf_free(&req);
  kl_arena_free(a);
}

static kl_otlp_request json_req(kl_arena *a, const char *body) {
  kl_otlp_request r;
  kl_err e = {0};
  if (kl_ingest_otlp_json(body, strlen(body), a, &r, &e) != 0) fail_msg("json decode: %s", e.msg);
  return r;
}

static void test_json_edge_cases(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  /* snake_case names, uppercase hex, enum names, int64 as a number, bytes, big ints, kvlist */
  kl_otlp_request r = json_req(
      a, "{\"resource_spans\":[{\"scope_spans\":[{\"spans\":[{\"trace_id\":\"0102030405060708090A0B0C0D0E0F10\","
         "\"span_id\":\"DEADBEEF00000001\",\"parentSpanId\":\"\",\"name\":\"x\",\"kind\":\"SPAN_KIND_SERVER\","
         "\"startTimeUnixNano\":1000,\"endTimeUnixNano\":\"2000\",\"unknownField\":{\"a\":[1]},"
         "\"attributes\":[{\"key\":\"b\",\"value\":{\"bytesValue\":\"AQID\"}},"
         "{\"key\":\"big\",\"value\":{\"intValue\":\"9007199254740993\"}},"
         "{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":{\"boolValue\":true}}]}}},"
         "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},{\"key\":\"empty\",\"value\":{}}],"
         "\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":\"bad\"}}]}]}]}");
  assert_int_equal(r.nspans, 1);
  const kl_otlp_span *sp = &r.spans[0];
  assert_string_equal(sp->trace_id, "0102030405060708090a0b0c0d0e0f10");
  assert_string_equal(sp->span_id, "deadbeef00000001");
  assert_int_equal(sp->kind, 2);
  assert_int_equal(sp->start_ns, 1000);
  assert_int_equal(sp->end_ns, 2000);
  assert_int_equal(sp->status_code, 2);
  const kl_otlp_value *b = attr(sp, "b");
  assert_int_equal(b->type, KL_OTLP_BYTES);
  assert_int_equal(b->len, 3);
  assert_memory_equal(b->s, "\1\2\3", 3);
  assert_int_equal(attr(sp, "big")->i, 9007199254740993LL);
  kl_ingest_obs o;
  kl_ingest_otlp_span(sp, a, &o);
  assert_string_equal(o.obs.level, "ERROR");
  assert_string_equal(o.obs.status_message, "bad");
  cJSON *m = parse(o.obs.metadata_json);
  assert_string_equal(kl_json_str(m, "b"), "AQID");                /* bytes back as base64 */
  assert_string_equal(kl_json_str(m, "big"), "9007199254740993");  /* beyond 2^53: a string */
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "kv"), "k")));
  assert_string_equal(kl_json_str(m, "nan"), "NaN");
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(m, "empty")));
  cJSON_Delete(m);
  /* malformed ids drop the span; others stay */
  r = json_req(a, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"xyz\",\"spanId\":\"0000000000000001\"},"
                  "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0000000000000001\"},"
                  "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\"}]}]}]}");
  assert_int_equal(r.nspans, 1);
  assert_int_equal(r.rejected, 2);
  assert_string_equal(r.reject_msg, "traceId must be 32 hex digits");
  /* {} and empty lists are valid; whole-request errors are 400 */
  r = json_req(a, "{}");
  assert_int_equal(r.nspans, 0);
  static const char *const bad[] = {
      "", "[]", "{\"resourceSpans\":{}}", "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[1]}]}]}",
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"12x\"}]}]}]}",
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"99999999999999999999\"}]}]}]}",
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"a\",\"value\":{\"intValue\":1.5}}]}]}]}]}",
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"a\",\"value\":{\"bytesValue\":\"*\"}}]}]}]}]}",
      "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":7}]}]}]}",
      "{\"resourceSpans\":[]} trailing",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_err e = {0};
    kl_otlp_request x;
    if (kl_ingest_otlp_json(bad[i], strlen(bad[i]), a, &x, &e) != -1 || e.code != 400) fail_msg("accepted: %s", bad[i]);
  }
  /* nesting beyond the limit */
  kl_buf deep = KL_BUF_INIT;
  kl_buf_puts(&deep, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"d\",\"value\":");
  for (int i = 0; i <= KL_INGEST_MAX_DEPTH + 1; i++) kl_buf_puts(&deep, "{\"arrayValue\":{\"values\":[");
  kl_buf_puts(&deep, "{\"intValue\":1}");
  for (int i = 0; i <= KL_INGEST_MAX_DEPTH + 1; i++) kl_buf_puts(&deep, "]}}");
  kl_buf_puts(&deep, "}]}}]}");
  kl_err e = {0};
  kl_otlp_request x;
  assert_int_equal(kl_ingest_otlp_json(deep.data, deep.len, a, &x, &e), -1);
  assert_non_null(strstr(e.msg, "nested too deeply"));
  kl_buf_free(&deep);
  kl_arena_free(a);
}

/* The Langfuse v5 SDK: OTLP/JSON with langfuse.* attributes, six observation types. */
static void test_langfuse_otel_capture(void **st) {
  (void)st;
  char *body = it_capture_body("langfuse-v5-01.json", 0);
  kl_arena *a = kl_arena_new(0);
  kl_otlp_request req = json_req(a, body);
  assert_int_equal(req.nspans, 6);
  kl_ingest_obs *recs = kl_ingest_otlp_map(&req, a);
  static const char *const want[][2] = {{"search-tool", KL_OBS_TOOL},   {"pii-guardrail", KL_OBS_GUARDRAIL},
                                        {"user-feedback", KL_OBS_EVENT}, {"retrieval", KL_OBS_RETRIEVER},
                                        {"llm-call", KL_OBS_GENERATION}, {"chat-request", KL_OBS_AGENT}};
  for (size_t i = 0; i < 6; i++) {
    const kl_obs *o = &recs[i].obs;
    assert_string_equal(o->name, want[i][0]);
    assert_string_equal(o->type, want[i][1]);
    assert_string_equal(o->trace_id, "37358aac4a05a5efe66c7f364e8337c5");
    assert_string_equal(o->trace_name, "chat-request");
    assert_string_equal(o->user_id, "user-42");
    assert_string_equal(o->session_id, "sess-1");
    assert_string_equal(o->tags_json, "[\"prod\"]");
    assert_string_equal(o->environment, "staging");
    assert_string_equal(o->release, "v1.2.3");
    assert_string_equal(recs[i].version, "7");
    cJSON *m = parse(o->metadata_json);
    assert_string_equal(kl_json_str(m, "env"), "test"); /* langfuse.trace.metadata.env */
    assert_null(cJSON_GetObjectItem(m, "langfuse.internal.is_app_root"));
    assert_null(cJSON_GetObjectItem(m, "langfuse.observation.type"));
    cJSON_Delete(m);
  }
  assert_string_equal(recs[0].obs.parent_id, "ebdf23b88ab49ebd");
  assert_string_equal(recs[5].obs.parent_id, "");
  assert_string_equal(recs[1].obs.level, "WARNING");
  assert_string_equal(recs[1].obs.status_message, "pii detected");
  assert_string_equal(recs[1].obs.input_json, "\"text\""); /* plain text, kept as a JSON string */
  assert_string_equal(recs[3].obs.input_json, "{\"query\":\"hi\"}");
  assert_string_equal(recs[3].obs.output_json, "{\"docs\":2}");
  const kl_ingest_obs *g = &recs[4];
  assert_string_equal(g->obs.model, "gpt-4o-mini");
  assert_string_equal(g->obs.model_params_json, "{\"temperature\":0.2,\"max_tokens\":128}");
  assert_string_equal(g->obs.input_json, "[{\"role\":\"user\",\"content\":\"hi\"}]");
  /* Langfuse usage_details are already non-overlapping: taken as they are */
  assert_int_equal(g->obs.usage_input, 10);
  assert_int_equal(g->obs.usage_input_cached, 2);
  assert_int_equal(g->obs.usage_output, 5);
  assert_true(g->obs.cost_usd > 0.000299 && g->obs.cost_usd < 0.000301);
  cJSON *c = parse(g->obs.cost_json);
  assert_string_equal(kl_json_str(c, "source"), "client");
  cJSON_Delete(c);
  assert_int_equal(g->obs.completion_start_ns, kl_time_parse("2026-11-26T18:32:33.748Z"));
  assert_true(g->set & KL_INGEST_F_COMPLETION_START);
  kl_arena_free(a);
  free(body);
}

/* One span from a JSON attribute list (fixed ids), mapped. */
static kl_ingest_obs map_attrs(kl_arena *a, const char *attrs_json, int status) {
  char *body = kl_arena_sprintf(a,
                                "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
                                "\"spanId\":\"0000000000000001\",\"parentSpanId\":\"0000000000000002\",\"name\":\"n\","
                                "\"status\":{\"code\":%d,\"message\":\"m\"},\"attributes\":%s}]}]}]}",
                                status, attrs_json);
  kl_otlp_request r = json_req(a, body);
  assert_int_equal(r.nspans, 1);
  kl_ingest_obs o;
  kl_ingest_otlp_span(&r.spans[0], a, &o);
  return o;
}
#define S(k, v) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\"" v "\"}}"
#define I(k, v) "{\"key\":\"" k "\",\"value\":{\"intValue\":" #v "}}"
#define D(k, v) "{\"key\":\"" k "\",\"value\":{\"doubleValue\":" #v "}}"

static void test_map_conventions(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  /* OpenInference: prompt count includes cache, completion includes reasoning */
  kl_ingest_obs o = map_attrs(
      a, "[" S("openinference.span.kind", "LLM") "," S("llm.model_name", "claude-x") "," I("llm.token_count.prompt", 100) ","
         I("llm.token_count.prompt_details.cache_read", 40) "," I("llm.token_count.completion", 20) ","
         I("llm.token_count.completion_details.reasoning", 5) "," S("input.value", "hello there") ","
         S("output.value", "{\\\"a\\\":1}") "," D("llm.cost.total", 0.01) "," S("user.id", "u") "," S("session.id", "s") "]",
      2);
  assert_string_equal(o.obs.type, KL_OBS_GENERATION);
  assert_string_equal(o.obs.model, "claude-x");
  assert_int_equal(o.obs.usage_input, 60);
  assert_int_equal(o.obs.usage_input_cached, 40);
  assert_int_equal(o.obs.usage_output, 15);
  assert_int_equal(o.obs.usage_output_reasoning, 5);
  assert_string_equal(o.obs.input_json, "\"hello there\"");
  assert_string_equal(o.obs.output_json, "{\"a\":1}");
  assert_true(o.obs.cost_usd == 0.01);
  assert_string_equal(o.obs.level, "ERROR");
  assert_string_equal(o.obs.status_message, "m");
  assert_null(o.obs.trace_name); /* not a root span, no langfuse.trace.name */
  /* GenAI: input_tokens includes cache reads and writes */
  o = map_attrs(a, "[" S("gen_ai.operation.name", "chat") "," I("gen_ai.usage.input_tokens", 100) ","
                   I("gen_ai.usage.cache_read.input_tokens", 30) "," I("gen_ai.usage.cache_creation.input_tokens", 10) ","
                   I("gen_ai.usage.output_tokens", 7) "," I("gen_ai.usage.reasoning.output_tokens", 2) "]",
                1);
  assert_string_equal(o.obs.type, KL_OBS_GENERATION);
  assert_int_equal(o.obs.usage_input, 60);
  assert_int_equal(o.obs.usage_input_cached, 30);
  assert_int_equal(o.obs.usage_input_cache_write, 10);
  assert_int_equal(o.obs.usage_output, 5);
  assert_int_equal(o.obs.usage_output_reasoning, 2);
  assert_null(o.obs.level);
  /* an input smaller than its cache counts cannot include them: kept, never negative */
  o = map_attrs(a, "[" I("gen_ai.usage.input_tokens", 5) "," I("gen_ai.usage.cache_read.input_tokens", 30) "]", 0);
  assert_int_equal(o.obs.usage_input, 5);
  assert_int_equal(o.obs.usage_input_cached, 30);
  /* OpenLLMetry's indexed prompt, type from the operation name, tags from a string */
  o = map_attrs(a, "[" S("gen_ai.operation.name", "execute_tool") "," S("gen_ai.prompt.1.content", "b") ","
                   S("gen_ai.prompt.0.role", "user") "," S("gen_ai.prompt.0.content", "a") ","
                   S("langfuse.trace.tags", "[\\\"x\\\",\\\"y\\\"]") "]",
                0);
  assert_string_equal(o.obs.type, KL_OBS_TOOL);
  assert_string_equal(o.obs.input_json, "[{\"role\":\"user\",\"content\":\"a\"},{\"content\":\"b\"}]");
  assert_string_equal(o.obs.tags_json, "[\"x\",\"y\"]");
  o = map_attrs(a, "[" S("gen_ai.operation.name", "embeddings") "]", 0);
  assert_string_equal(o.obs.type, KL_OBS_EMBEDDING);
  o = map_attrs(a, "[" S("openinference.span.kind", "RERANKER") "]", 0);
  assert_string_equal(o.obs.type, KL_OBS_RETRIEVER);
  o = map_attrs(a, "[" S("langfuse.observation.type", "nonsense") "," S("http.method", "GET") "]", 0);
  assert_string_equal(o.obs.type, KL_OBS_SPAN);
  assert_string_equal(o.obs.metadata_json, "{\"langfuse.observation.type\":\"nonsense\",\"http.method\":\"GET\"}");
  /* a model alone makes a generation; observation metadata keys win over trace ones */
  o = map_attrs(a, "[" S("gen_ai.request.model", "m") "," S("langfuse.trace.metadata.k", "trace") ","
                   S("langfuse.observation.metadata.k", "obs") "," S("langfuse.observation.metadata", "{\\\"j\\\":1}") "]",
                0);
  assert_string_equal(o.obs.type, KL_OBS_GENERATION);
  assert_string_equal(o.obs.metadata_json, "{\"k\":\"obs\",\"j\":1}");
  kl_arena_free(a);
}

/* Attribute values of other types than the conventions name: SDKs send token counts as strings
 * or doubles, costs as strings, content as kvlists, ids as ints (gcov: none of these coercions
 * had run).  What cannot be read as the type stays in the metadata, unconsumed. */
static void test_map_value_shapes(void **st) {
  (void)st;
  kl_arena *a = kl_arena_new(0);
  kl_ingest_obs o = map_attrs(
      a, "[" S("gen_ai.operation.name", "chat") "," S("gen_ai.usage.input_tokens", "12") ","
         D("gen_ai.usage.output_tokens", 7.0) "," S("llm.cost.total", "0.25") ","
         "{\"key\":\"langfuse.observation.input\",\"value\":{\"kvlistValue\":{\"values\":["
         "{\"key\":\"q\",\"value\":{\"stringValue\":\"x\"}},{\"key\":\"n\",\"value\":{\"intValue\":2}}]}}},"
         S("gen_ai.response.finish_reasons", "length") "," I("langfuse.user.id", 42) ","
         S("langfuse.observation.prompt.name", "greeting") "," S("langfuse.observation.prompt.version", "3") "]",
      0);
  assert_string_equal(o.obs.type, KL_OBS_GENERATION);
  assert_int_equal(o.obs.usage_input, 12);
  assert_int_equal(o.obs.usage_output, 7);
  assert_true(o.obs.cost_usd == 0.25);
  assert_string_equal(o.obs.input_json, "{\"q\":\"x\",\"n\":2}");
  assert_string_equal(o.obs.finish_reason, "length");
  assert_string_equal(o.obs.user_id, "42");
  assert_string_equal(o.prompt_name, "greeting");
  assert_int_equal(o.prompt_version, 3);
  assert_string_equal(o.obs.metadata_json, "{\"gen_ai.operation.name\":\"chat\"}");  /* the rest was taken */
  /* not numbers: not usage or cost, kept as metadata */
  o = map_attrs(a, "[" S("gen_ai.request.model", "m") "," S("gen_ai.usage.input_tokens", "12 tokens") ","
                   D("gen_ai.usage.output_tokens", -3) "," S("llm.cost.total", "cheap") "]",
                0);
  assert_int_equal(o.obs.usage_input, 0);
  assert_int_equal(o.obs.usage_output, 0);
  assert_true(o.obs.cost_usd < 0);
  cJSON *m = parse(o.obs.metadata_json);
  assert_string_equal(kl_json_str(m, "gen_ai.usage.input_tokens"), "12 tokens");
  assert_string_equal(kl_json_str(m, "llm.cost.total"), "cheap");
  cJSON_Delete(m);
  kl_arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pb_capture),
      cmocka_unit_test(test_json_capture),
      cmocka_unit_test(test_pb_truncation_every_offset),
      cmocka_unit_test(test_pb_unknown_fields_skipped),
      cmocka_unit_test(test_pb_malformed),
      cmocka_unit_test(test_pb_nesting_limit),
      cmocka_unit_test(test_pb_rejected_spans),
      cmocka_unit_test(test_json_edge_cases),
      cmocka_unit_test(test_langfuse_otel_capture),
      cmocka_unit_test(test_map_conventions),
      cmocka_unit_test(test_map_value_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
