/* test_store_sqlite.c: kl_store end to end on the SQLite backend: exact field values out of
 * get/list, trace aggregates, pagination, filters, error codes, reopening, idempotency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/kl_store.h"
#include "store/store_int.h"
#include "store_test_pg.h"
#include "test_tmpdir.h"

typedef struct {
  char dir[64];
  kl_store *s;
} fx;

static kl_store *open_store(const char *dir) {
  return kl_test_store_open((kl_store_opts){.data_dir = dir, .flush_interval_ms = 5});
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/kl-store-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  char sub[96];
  snprintf(sub, sizeof sub, "%s/a/b", f->dir); /* mkdir -p */
  f->s = open_store(sub);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  kl_store_close(f->s);
  kl_test_rmtree(f->dir);
  free(f);
  return 0;
}

static kl_obs mk(const char *id, const char *trace, int64_t start) { return kl_test_span(id, trace, start); }

static void submit(kl_store *s, const kl_obs *o) {
  kl_err err;
  kl_err_clear(&err);
  if (kl_store_submit(s, o, &err) != 0) fail_msg("submit: %s", err.msg);
}

static cJSON *get(kl_store *s, const char *project, const char *trace, int *code) {
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  kl_err_clear(&err);
  int rc = kl_store_get_trace(s, project, trace, &b, &err);
  *code = rc == 0 ? 200 : err.code;
  cJSON *j = rc == 0 ? cJSON_Parse(b.data) : NULL;
  if (rc == 0 && !j) fail_msg("get returned invalid JSON: %s", b.data);
  kl_buf_free(&b);
  return j;
}

static cJSON *list(kl_store *s, const kl_trace_filter *f, int *code) {
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  kl_err_clear(&err);
  int rc = kl_store_list_traces(s, f, &b, &err);
  *code = rc == 0 ? 200 : err.code;
  cJSON *j = rc == 0 ? cJSON_Parse(b.data) : NULL;
  if (rc == 0 && !j) fail_msg("list returned invalid JSON: %s", b.data);
  kl_buf_free(&b);
  return j;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v) fail_msg("missing key %s", k);
  return cJSON_IsNull(v) ? NULL : v->valuestring;
}
static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v)) fail_msg("key %s is not a number", k);
  return v->valuedouble;
}
static bool is_null(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v) fail_msg("missing key %s", k);
  return cJSON_IsNull(v);
}
static char *dump(const cJSON *o, const char *k) {
  return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, k));
}
static void assert_dump(const cJSON *o, const char *k, const char *want) {
  char *d = dump(o, k);
  assert_string_equal(d, want);
  free(d);
}

static const char *ODD = "quote\" back\\ nl\n tab\t ctl\x01 caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 </script>";

static void test_fields_round_trip(void **state) {
  fx *f = *state;
  kl_obs o = mk("00f067aa0ba902b7", "4bf92f3577b34da6a3ce929d0e0e4736", 1764184176123456789LL);
  strcpy(o.parent_id, "");
  o.type = KL_OBS_GENERATION;
  o.name = ODD;
  o.level = "WARNING";
  o.status_message = "upstream said \"no\"";
  o.http_status = 200;
  o.end_ns = o.start_ns + 1500000000LL;           /* 1500 ms */
  o.completion_start_ns = o.start_ns + 250500000LL; /* 250.5 ms */
  o.model = "gpt-4o";
  o.provider = "openai";
  o.upstream_model = "gpt-4o-2024-08-06";
  o.model_params_json = "{\"temperature\":0.5,\"stream\":true}";
  o.input_json = "{\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9 \\\"x\\\"\"}]}";
  o.output_json = "\"plain string output\"";
  o.metadata_json = "{not json";
  o.finish_reason = "stop";
  o.usage_input = 100;
  o.usage_input_cached = 20;
  o.usage_input_cache_write = 3;
  o.usage_output = 50;
  o.usage_output_reasoning = 7;
  o.usage_estimated = true;
  o.cost_usd = 0.00123;
  o.cost_json = "{\"input\":0.001,\"output\":0.00023}";
  o.trace_name = "chat";
  o.user_id = "user-\xc3\xa9";
  o.session_id = "sess-1";
  o.tags_json = "[\"a\",\"b\\\"c\"]";
  o.environment = "prod";
  o.release = "1.2.3";
  submit(f->s, &o);
  kl_store_flush(f->s);

  int code;
  cJSON *t = get(f->s, NULL, o.trace_id, &code);
  assert_int_equal(code, 200);
  assert_string_equal(str(t, "id"), o.trace_id);
  assert_string_equal(str(t, "timestamp"), "2025-11-26T19:09:36.123Z");
  assert_string_equal(str(t, "name"), "chat");
  assert_string_equal(str(t, "user_id"), "user-\xc3\xa9");
  assert_string_equal(str(t, "session_id"), "sess-1");
  assert_string_equal(str(t, "model"), "gpt-4o");
  assert_int_equal((int)num(t, "input_tokens"), 123);
  assert_int_equal((int)num(t, "output_tokens"), 57);
  assert_true(num(t, "cost_usd") == 0.00123);
  assert_true(num(t, "latency_ms") == 1500.0);
  assert_string_equal(str(t, "status"), "ok");
  assert_string_equal(str(t, "environment"), "prod");
  assert_string_equal(str(t, "release"), "1.2.3");
  assert_dump(t, "tags", "[\"a\",\"b\\\"c\"]");
  assert_dump(t, "metadata", "\"{not json\""); /* root's metadata, invalid JSON -> a string */
  cJSON *obs = cJSON_GetObjectItemCaseSensitive(t, "observations");
  assert_int_equal(cJSON_GetArraySize(obs), 1);
  cJSON *x = cJSON_GetArrayItem(obs, 0);
  assert_string_equal(str(x, "id"), o.id);
  assert_string_equal(str(x, "trace_id"), o.trace_id);
  assert_true(is_null(x, "parent_id"));
  assert_string_equal(str(x, "project_id"), "default");
  assert_string_equal(str(x, "type"), "GENERATION");
  assert_string_equal(str(x, "name"), "quote\" back\\ nl\n tab\t ctl\x01 caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 </script>");
  assert_string_equal(str(x, "level"), "WARNING");
  assert_string_equal(str(x, "status_message"), "upstream said \"no\"");
  assert_int_equal((int)num(x, "http_status"), 200);
  assert_string_equal(str(x, "start_time"), "2025-11-26T19:09:36.123Z");
  assert_string_equal(str(x, "end_time"), "2025-11-26T19:09:37.623Z");
  assert_string_equal(str(x, "model"), "gpt-4o");
  assert_string_equal(str(x, "provider"), "openai");
  assert_string_equal(str(x, "upstream_model"), "gpt-4o-2024-08-06");
  assert_dump(x, "model_params", "{\"temperature\":0.5,\"stream\":true}");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(
                          cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
                                                 cJSON_GetObjectItemCaseSensitive(x, "input"), "messages"), 0),
                          "content")->valuestring,
                      "h\xc3\xa9 \"x\"");
  assert_string_equal(str(x, "output"), "plain string output");
  assert_string_equal(str(x, "metadata"), "{not json");
  assert_string_equal(str(x, "finish_reason"), "stop");
  assert_int_equal((int)num(x, "usage_input"), 100);
  assert_int_equal((int)num(x, "usage_input_cached"), 20);
  assert_int_equal((int)num(x, "usage_input_cache_write"), 3);
  assert_int_equal((int)num(x, "usage_output"), 50);
  assert_int_equal((int)num(x, "usage_output_reasoning"), 7);
  assert_dump(x, "usage", "{\"input\":100,\"input_cached\":20,\"input_cache_write\":3,\"output\":50,\"output_reasoning\":7}");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "usage_estimated")));
  assert_true(num(x, "cost_usd") == 0.00123);
  assert_dump(x, "cost", "{\"input\":0.001,\"output\":0.00023}");
  assert_string_equal(str(x, "trace_name"), "chat");
  assert_string_equal(str(x, "user_id"), "user-\xc3\xa9");
  assert_string_equal(str(x, "session_id"), "sess-1");
  assert_dump(x, "tags", "[\"a\",\"b\\\"c\"]");
  assert_string_equal(str(x, "environment"), "prod");
  assert_string_equal(str(x, "release"), "1.2.3");
  assert_true(num(x, "latency_ms") == 1500.0);
  assert_true(num(x, "ttft_ms") == 250.5);
  cJSON_Delete(t);

  /* the raw ns values, exactly (beyond 2^53, so not through cJSON's doubles) */
  kl_buf b = KL_BUF_INIT;
  assert_int_equal(kl_store_get_trace(f->s, "default", o.trace_id, &b, NULL), 0);
  assert_non_null(strstr(b.data, "\"start_ns\":1764184176123456789,"));
  assert_non_null(strstr(b.data, "\"completion_start_ns\":1764184176373956789,"));
  kl_buf_free(&b);

  /* list row: exactly the documented keys */
  kl_trace_filter lf = {0};
  cJSON *l = list(f->s, &lf, &code);
  assert_int_equal(code, 200);
  cJSON *data = cJSON_GetObjectItemCaseSensitive(l, "data");
  assert_int_equal(cJSON_GetArraySize(data), 1);
  cJSON *row = cJSON_GetArrayItem(data, 0);
  const char *keys[] = {"id", "timestamp", "name", "user_id", "session_id", "tags", "model", "input_tokens",
                        "output_tokens", "cost_usd", "latency_ms", "status", "observation_count", "level"};
  assert_int_equal(cJSON_GetArraySize(row), 14);
  for (size_t i = 0; i < 14; i++) assert_non_null(cJSON_GetObjectItemCaseSensitive(row, keys[i]));
  assert_int_equal((int)num(row, "input_tokens"), 123);
  assert_true(num(row, "latency_ms") == 1500.0);
  assert_true(is_null(l, "next_cursor"));
  cJSON_Delete(l);
}

static void test_open_trace_and_unknown_cost(void **state) {
  fx *f = *state;
  kl_obs o = mk("s1", "t-open", 5000000000LL); /* end_ns 0: still open; cost unknown */
  submit(f->s, &o);
  kl_store_flush(f->s);
  int code;
  cJSON *t = get(f->s, "default", "t-open", &code);
  assert_int_equal(code, 200);
  assert_true(is_null(t, "latency_ms"));
  assert_true(is_null(t, "cost_usd"));
  assert_true(is_null(t, "model"));
  assert_dump(t, "tags", "[]");
  assert_dump(t, "metadata", "{}");
  cJSON *x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "observations"), 0);
  assert_true(is_null(x, "end_ns"));
  assert_true(is_null(x, "ttft_ms"));
  assert_true(is_null(x, "http_status"));
  assert_true(is_null(x, "cost_usd"));
  assert_string_equal(str(x, "level"), "DEFAULT");
  cJSON_Delete(t);
}

static void test_trace_aggregates(void **state) {
  fx *f = *state;
  /* submitted out of start order, across two batches */
  kl_obs g2 = mk("g2", "T", 3000);
  g2.type = KL_OBS_GENERATION;
  g2.model = "late-model";
  g2.usage_input = 1;
  g2.usage_output = 2;
  g2.cost_usd = 0.5;
  g2.level = "ERROR";
  g2.end_ns = 9000;
  submit(f->s, &g2);
  kl_store_flush(f->s);
  kl_obs root = mk("root", "T", 1000);
  root.end_ns = 5000;
  root.trace_name = "agent";
  root.user_id = "u1";
  root.model = "span-model-ignored"; /* not a generation */
  submit(f->s, &root);
  kl_obs g1 = mk("g1", "T", 2000);
  strcpy(g1.parent_id, "root");
  g1.type = KL_OBS_GENERATION;
  g1.model = "first-model";
  g1.usage_input = 10;
  g1.usage_input_cached = 5;
  g1.usage_input_cache_write = 1;
  g1.usage_output = 20;
  g1.usage_output_reasoning = 3;
  g1.cost_usd = 0.25;
  g1.end_ns = 4000;
  submit(f->s, &g1);
  kl_store_flush(f->s);

  int code;
  cJSON *t = get(f->s, NULL, "T", &code);
  assert_int_equal(code, 200);
  assert_int_equal((int)num(t, "input_tokens"), 17);
  assert_int_equal((int)num(t, "output_tokens"), 25);
  assert_true(num(t, "cost_usd") == 0.75);
  assert_string_equal(str(t, "model"), "first-model");
  assert_string_equal(str(t, "name"), "agent");
  assert_string_equal(str(t, "user_id"), "u1");
  assert_string_equal(str(t, "status"), "error");
  assert_true(num(t, "latency_ms") == 0.008); /* 1000 .. 9000 ns */
  assert_int_equal((int)num(t, "observation_count"), 3);
  assert_int_equal((int)num(t, "error_count"), 1);
  cJSON *obs = cJSON_GetObjectItemCaseSensitive(t, "observations");
  assert_int_equal(cJSON_GetArraySize(obs), 3);
  assert_string_equal(str(cJSON_GetArrayItem(obs, 0), "id"), "root");
  assert_string_equal(str(cJSON_GetArrayItem(obs, 1), "id"), "g1");
  assert_string_equal(str(cJSON_GetArrayItem(obs, 2), "id"), "g2");
  cJSON_Delete(t);
}

static void test_idempotent_resubmit(void **state) {
  fx *f = *state;
  kl_obs a = mk("a", "T1", 100);
  a.type = KL_OBS_GENERATION;
  a.model = "m";
  a.usage_input = 10;
  a.usage_output = 1;
  a.cost_usd = 1.0;
  a.end_ns = 200;
  kl_obs b = mk("b", "T1", 150);
  b.usage_input = 5;
  b.cost_usd = 2.0;
  submit(f->s, &a);
  submit(f->s, &b);
  submit(f->s, &a); /* same batch, twice */
  kl_store_flush(f->s);
  submit(f->s, &a); /* later batch */
  submit(f->s, &b);
  kl_store_flush(f->s);
  int code;
  cJSON *t = get(f->s, NULL, "T1", &code);
  assert_int_equal((int)num(t, "input_tokens"), 15);
  assert_int_equal((int)num(t, "output_tokens"), 1);
  assert_true(num(t, "cost_usd") == 3.0);
  assert_int_equal((int)num(t, "observation_count"), 2);
  cJSON_Delete(t);

  /* an update replaces, not adds */
  a.usage_input = 40;
  a.level = "ERROR";
  submit(f->s, &a);
  kl_store_flush(f->s);
  t = get(f->s, NULL, "T1", &code);
  assert_int_equal((int)num(t, "input_tokens"), 45);
  assert_string_equal(str(t, "status"), "error");
  cJSON_Delete(t);

  /* an id is unique within its trace: the same id under another trace is another
   * observation, and the first trace is untouched */
  snprintf(a.trace_id, sizeof a.trace_id, "T2");
  submit(f->s, &a);
  kl_store_flush(f->s);
  t = get(f->s, NULL, "T1", &code);
  assert_int_equal((int)num(t, "input_tokens"), 45);
  assert_int_equal((int)num(t, "observation_count"), 2);
  cJSON_Delete(t);
  snprintf(b.trace_id, sizeof b.trace_id, "T2");
  submit(f->s, &b);
  kl_store_flush(f->s);
  t = get(f->s, NULL, "T2", &code);
  assert_int_equal((int)num(t, "input_tokens"), 45);
  assert_int_equal((int)num(t, "observation_count"), 2);
  assert_string_equal(str(t, "model"), "m");
  cJSON_Delete(t);
  kl_store_stats st;
  kl_store_get_stats(f->s, &st);
  assert_int_equal(st.submitted, 8);
  assert_int_equal(st.written, 8);
  assert_int_equal(st.queue_depth, 0);
}

/* Batches long enough for the multi-row inserts (64 and 16 new observations per statement,
 * kl_sqlite_runs): trace sums must match row-by-row writing, also when a run holds replays
 * of stored rows and the same observation twice.  100 rows = 64 + 16 + 16 + 4 single ones. */
static void test_runs_of_observations(void **state) {
  fx *f = *state;
  int64_t want[5] = {0}, count[5] = {0};
  char id[16], tr[8];
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "o%d", i);
    snprintf(tr, sizeof tr, "R%d", i % 5);
    kl_obs o = mk(id, tr, 1000 + i);
    o.usage_input = i + 1;
    o.cost_usd = 1.0;
    submit(f->s, &o);
    want[i % 5] += i + 1;
    count[i % 5]++;
  }
  kl_store_flush(f->s);
  /* replays of o0..o69 with new usage (a 64-row run meets stored keys), o3 twice (the later
   * one wins), and a new one */
  for (int i = 0; i < 70; i++) {
    snprintf(id, sizeof id, "o%d", i);
    snprintf(tr, sizeof tr, "R%d", i % 5);
    kl_obs o = mk(id, tr, 1000 + i);
    o.usage_input = 100 + i;
    o.cost_usd = 1.0;
    submit(f->s, &o);
    want[i % 5] += 100 + i - (i + 1);
    if (i == 3) {
      o.usage_input = 300;
      submit(f->s, &o);
      want[3] += 300 - (100 + i);
    }
  }
  kl_obs n = mk("new", "R0", 5000);
  n.usage_input = 7;
  n.cost_usd = 1.0;
  submit(f->s, &n);
  want[0] += 7;
  count[0]++;
  kl_store_flush(f->s);
  for (int t = 0; t < 5; t++) {
    snprintf(tr, sizeof tr, "R%d", t);
    int code;
    cJSON *j = get(f->s, NULL, tr, &code);
    assert_int_equal(code, 200);
    assert_int_equal((int64_t)num(j, "input_tokens"), want[t]);
    assert_int_equal((int64_t)num(j, "observation_count"), count[t]);
    assert_true(num(j, "cost_usd") == (double)count[t]);
    cJSON_Delete(j);
  }

  /* 90 stored traces each get a new generation in one batch: their sums go through the
   * multi-row upserts (64 + 16 traces, then 10 single ones) and meet the stored rows in the
   * ON CONFLICT arm */
  for (int round = 0; round < 2; round++) {
    for (int t = 0; t < 90; t++) {
      snprintf(id, sizeof id, "g%d", round);
      snprintf(tr, sizeof tr, "S%d", t);
      /* round 1 starts earlier than round 0 for even traces: their first generation changes */
      kl_obs o = mk(id, tr, round == 0 ? 1000 : (t % 2 == 0 ? 500 : 2000));
      o.type = KL_OBS_GENERATION;
      o.model = round == 0 ? "first" : "second";
      o.end_ns = o.start_ns + 10 + t;
      o.usage_input = 10 * (round + 1);
      o.usage_output = t;
      o.cost_usd = 0.5;
      if (round == 1 && t == 7) o.level = "ERROR";
      submit(f->s, &o);
    }
    kl_store_flush(f->s);
  }
  for (int t = 0; t < 90; t++) {
    snprintf(tr, sizeof tr, "S%d", t);
    int code;
    cJSON *j = get(f->s, NULL, tr, &code);
    assert_int_equal(code, 200);
    assert_int_equal((int)num(j, "input_tokens"), 30);
    assert_int_equal((int)num(j, "output_tokens"), 2 * t);
    assert_int_equal((int)num(j, "observation_count"), 2);
    assert_true(num(j, "cost_usd") == 1.0);
    assert_string_equal(str(j, "model"), t % 2 == 0 ? "second" : "first");
    assert_string_equal(str(j, "status"), t == 7 ? "error" : "ok");
    cJSON_Delete(j);
  }
}

/* The insert statements skip binding a NULL or an integer their parameter already holds
 * from the last execution (sqlite.c).  Four batches of 80 new rows (a 64-row and a 16-row
 * statement) in which every such parameter goes through each change: NULL to NULL, to an
 * integer, to the same integer, to another, back to NULL, and text or a real in between. */
static void test_run_parameters_change(void **state) {
  fx *f = *state;
  static const int64_t status[4] = {0, 200, 200, 503}, usage[4] = {0, 7, 7, 9};
  static const double cost[4] = {-1, 0.25, -1, 0.5};
  static const char *const model[4] = {NULL, "m", NULL, "n"};
  for (int round = 0; round < 4; round++) {
    kl_store__test_pause(f->s, true); /* one batch */
    for (int i = 0; i < 80; i++) {
      char id[16], tr[16];
      snprintf(id, sizeof id, "p%d-%d", round, i);
      snprintf(tr, sizeof tr, "P%d", i);
      int v = (i + round) % 4;
      kl_obs o = mk(id, tr, 1000 * (round + 1) + i);
      o.http_status = (int)status[v];
      o.end_ns = v ? o.start_ns + v : 0;
      o.usage_input = usage[v];
      o.usage_output = usage[3 - v];
      o.usage_estimated = v & 1;
      o.cost_usd = cost[v];
      o.model = model[v];
      o.status_message = v == 2 ? "two" : NULL;
      submit(f->s, &o);
    }
    kl_store__test_pause(f->s, false);
    kl_store_flush(f->s);
  }
  for (int i = 0; i < 80; i++) {
    char tr[16];
    snprintf(tr, sizeof tr, "P%d", i);
    int code;
    cJSON *t = get(f->s, NULL, tr, &code);
    assert_int_equal(code, 200);
    cJSON *obs = cJSON_GetObjectItemCaseSensitive(t, "observations"), *x;
    assert_int_equal(cJSON_GetArraySize(obs), 4);
    cJSON_ArrayForEach(x, obs) {
      int round = str(x, "id")[1] - '0', v = (i + round) % 4;
      if (status[v]) assert_int_equal((int64_t)num(x, "http_status"), status[v]);
      else assert_true(is_null(x, "http_status"));
      assert_true(is_null(x, "end_time") == (v == 0));
      assert_int_equal((int64_t)num(x, "usage_input"), usage[v]);
      assert_int_equal((int64_t)num(x, "usage_output"), usage[3 - v]);
      assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "usage_estimated")) == (v & 1));
      if (cost[v] >= 0) assert_true(num(x, "cost_usd") == cost[v]);
      else assert_true(is_null(x, "cost_usd"));
      if (model[v]) assert_string_equal(str(x, "model"), model[v]);
      else assert_true(is_null(x, "model"));
      if (v == 2) assert_string_equal(str(x, "status_message"), "two");
      else assert_true(is_null(x, "status_message"));
    }
    cJSON_Delete(t);
  }
}

static void test_projects_are_separate(void **state) {
  fx *f = *state;
  kl_obs a = mk("same", "T", 1);
  a.usage_input = 1;
  kl_obs b = a;
  b.project_id = "other";
  b.usage_input = 2;
  submit(f->s, &a);
  submit(f->s, &b);
  kl_store_flush(f->s);
  int code;
  cJSON *t = get(f->s, "other", "T", &code);
  assert_int_equal((int)num(t, "input_tokens"), 2);
  cJSON_Delete(t);
  t = get(f->s, NULL, "T", &code);
  assert_int_equal((int)num(t, "input_tokens"), 1);
  cJSON_Delete(t);
  assert_null(get(f->s, "nope", "T", &code));
  assert_int_equal(code, 404);
}

/* Pages through everything with `lim`, checking strict (start DESC, id DESC) order. */
static int page_all(kl_store *s, kl_trace_filter base, int lim, char ids[][33], int max) {
  char cursor[200] = "";
  int n = 0, pages = 0;
  int64_t prev_ts = INT64_MAX;
  char prev_id[33] = "\x7f";
  for (;;) {
    kl_trace_filter lf = base;
    lf.limit = lim;
    lf.cursor = cursor[0] ? cursor : NULL;
    int code;
    cJSON *l = list(s, &lf, &code);
    assert_int_equal(code, 200);
    cJSON *row;
    int rows = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(l, "data")) {
      int64_t ts = kl_time_parse(str(row, "timestamp"));
      const char *id = str(row, "id");
      assert_true(ts < prev_ts || (ts == prev_ts && strcmp(id, prev_id) < 0));
      prev_ts = ts;
      snprintf(prev_id, sizeof prev_id, "%s", id);
      assert_true(n < max);
      snprintf(ids[n++], 33, "%s", id);
      rows++;
    }
    pages++;
    const char *next = str(l, "next_cursor");
    if (!next) {
      cJSON_Delete(l);
      break;
    }
    assert_int_equal(rows, lim); /* only the last page may be short */
    snprintf(cursor, sizeof cursor, "%s", next);
    cJSON_Delete(l);
    assert_true(pages < 1000);
  }
  return n;
}

static void test_pagination(void **state) {
  fx *f = *state;
  enum { N = 53 };
  for (int i = 0; i < N; i++) {
    char id[33], tr[33];
    snprintf(id, sizeof id, "o%02d", i);
    snprintf(tr, sizeof tr, "t%02d", (i * 37) % N); /* ids not in start order */
    kl_obs o = mk(id, tr, 1000000000LL * (1 + i / 5)); /* groups of 5 share start_ns */
    submit(f->s, &o);
  }
  kl_store_flush(f->s);
  int lims[] = {1, 5, 7, 53, 1000};
  for (size_t k = 0; k < sizeof lims / sizeof lims[0]; k++) {
    char ids[N + 1][33];
    int n = page_all(f->s, (kl_trace_filter){0}, lims[k], ids, N + 1);
    assert_int_equal(n, N);
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) assert_string_not_equal(ids[i], ids[j]);
  }
  /* default limit is 50 */
  int code;
  kl_trace_filter lf = {0};
  cJSON *l = list(f->s, &lf, &code);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "data")), 50);
  assert_false(is_null(l, "next_cursor"));
  cJSON_Delete(l);
  lf.limit = 5000; /* clamped to 1000 */
  l = list(f->s, &lf, &code);
  assert_int_equal(code, 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "data")), N);
  cJSON_Delete(l);
}

static void test_filters(void **state) {
  fx *f = *state;
  /* trace i: user u(i%3), session s(i%2), model m(i%4) via a generation, start i s */
  for (int i = 0; i < 24; i++) {
    char tr[8], u[8], ss[8], m[8];
    snprintf(tr, sizeof tr, "t%02d", i);
    snprintf(u, sizeof u, "u%d", i % 3);
    snprintf(ss, sizeof ss, "s%d", i % 2);
    snprintf(m, sizeof m, "m%d", i % 4);
    kl_obs root = mk(tr, tr, 1000000000LL * (i + 1));
    root.user_id = u;
    root.session_id = ss;
    submit(f->s, &root);
    char gid[33];
    snprintf(gid, sizeof gid, "%s-g", tr);
    kl_obs g = mk(gid, tr, 1000000000LL * (i + 1) + 1);
    g.type = KL_OBS_GENERATION;
    g.model = m;
    submit(f->s, &g);
  }
  kl_store_flush(f->s);
  struct {
    kl_trace_filter f;
    int want;
  } cases[] = {
      {{.user_id = "u1"}, 8},
      {{.session_id = "s0"}, 12},
      {{.model = "m3"}, 6},
      {{.user_id = "u0", .session_id = "s1"}, 4}, /* i%6 == 3 */
      {{.user_id = "u2", .model = "m1"}, 2},      /* i%12 == 5 */
      {{.from_ns = 10000000000LL}, 15},           /* i >= 9 */
      {{.to_ns = 10000000000LL}, 9},              /* i < 9 */
      {{.from_ns = 5000000000LL, .to_ns = 7000000000LL}, 2},
      {{.from_ns = 5000000000LL, .to_ns = 24000000000LL, .session_id = "s0", .model = "m0"}, 5},
      {{.user_id = "nobody"}, 0},
      {{.project_id = "elsewhere"}, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char ids[30][33];
    int n = page_all(f->s, cases[k].f, 2, ids, 30);
    if (n != cases[k].want) fail_msg("filter case %zu: %d rows, want %d", k, n, cases[k].want);
    for (int i = 0; i < n; i++) {
      int idx = atoi(ids[i] + 1);
      if (cases[k].f.user_id) assert_int_equal(idx % 3, cases[k].f.user_id[1] - '0');
      if (cases[k].f.session_id) assert_int_equal(idx % 2, cases[k].f.session_id[1] - '0');
      if (cases[k].f.model) assert_int_equal(idx % 4, cases[k].f.model[1] - '0');
    }
  }
}

static void test_errors(void **state) {
  fx *f = *state;
  kl_obs o = mk("x", "T", 1);
  submit(f->s, &o);
  kl_store_flush(f->s);
  const char *bad[] = {"zz", "abc", "3132", /* "12": no colon */ "3a6162", /* ":ab" */
                       "31323a", /* "12:" */ "78783a6162", /* "xx:ab" */ "31003a6162", /* NUL */
                       "3132333435363738393031323334353637383930313233343536373839303132333435363738393031323334"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_trace_filter lf = {.cursor = bad[i]};
    int code;
    assert_null(list(f->s, &lf, &code));
    if (code != 400) fail_msg("cursor %s: code %d", bad[i], code);
  }
  kl_trace_filter lf = {.limit = -1};
  int code;
  assert_null(list(f->s, &lf, &code));
  assert_int_equal(code, 400);
  assert_null(get(f->s, NULL, "missing", &code));
  assert_int_equal(code, 404);
  kl_err err;
  kl_err_clear(&err);
  kl_obs noid = mk("", "T", 1);
  assert_int_equal(kl_store_submit(f->s, &noid, &err), -1);
  assert_int_equal(err.code, 400);
  kl_store_opts bo = {.backend = "mysql", .data_dir = f->dir};
  assert_null(kl_store_open(&bo, &err));
  assert_int_equal(err.code, 400);
  kl_store_close(NULL);
}

static int count_rows(const char *db, const char *sql) {
  sqlite3 *h;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

static void test_reopen(void **state) {
  fx *f = *state;
  char sub[96], db[128];
  snprintf(sub, sizeof sub, "%s/a/b", f->dir);
  snprintf(db, sizeof db, "%s/keel.db", sub);
  kl_obs o = mk("x", "T", 42);
  o.usage_output = 9;
  submit(f->s, &o);
  kl_store_close(f->s); /* close flushes */
  f->s = NULL;
  bool sq = !kl_test_pg(); /* the file checks are SQLite's */
  int applied = 0;
  if (sq) {
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM schema_migrations"), 4); /* every migration, once */
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM scores"), 0);
    applied = count_rows(db, "SELECT applied_at FROM schema_migrations WHERE version=1");
  }
  f->s = open_store(sub);
  if (sq) {
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM schema_migrations"), 4); /* every migration, once */
    assert_int_equal(count_rows(db, "SELECT applied_at FROM schema_migrations WHERE version=1"), applied);
  }
  int code;
  cJSON *t = get(f->s, NULL, "T", &code);
  assert_int_equal(code, 200);
  assert_int_equal((int)num(t, "output_tokens"), 9);
  cJSON_Delete(t);
  if (!sq) return;
  sqlite3 *h;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(h);
}

/* A database a newer keel has migrated is refused at open, on either backend, rather than
 * written by code that does not know its schema (gcov: this check had never run). */
static void test_newer_schema_refused(void **state) {
  fx *f = *state;
  char sub[96];
  snprintf(sub, sizeof sub, "%s/a/b", f->dir);
  kl_store_close(f->s);
  f->s = NULL;
  kl_store_opts o = {.data_dir = sub, .flush_interval_ms = 5};
  kl_test_store_opts(&o);  /* on PostgreSQL: the same database as the fixture's */
  const char *bump = "INSERT INTO schema_migrations(version, applied_at) VALUES(999, 0)";
  if (kl_test_pg()) {
    PGconn *c = PQconnectdb(o.url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, bump);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
  } else {
    char db[128];
    snprintf(db, sizeof db, "%s/keel.db", sub);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, bump, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
  }
  kl_err err;
  kl_err_clear(&err);
  assert_null(kl_store_open(&o, &err));
  assert_non_null(strstr(err.msg, "schema version 999 is newer than this keel"));
}

int main(void) {
  kl_log_set_level(KL_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fields_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_trace_and_unknown_cost, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trace_aggregates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idempotent_resubmit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_runs_of_observations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run_parameters_change, setup, teardown),
      cmocka_unit_test_setup_teardown(test_projects_are_separate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pagination, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
