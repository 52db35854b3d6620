/* test_store_query.c: the store's query API (issue 5): trace and observation filters,
 * keyset pagination that neither skips nor repeats while the writer inserts, full-text
 * search (including rows replaced and the index switched off and on), scores, sessions and
 * users, metrics with hand-computed nearest-rank percentiles, and retention deleting in
 * small batches while leaving newer rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "store/store_int.h"
#include "store_test_pg.h"
#include "test_tmpdir.h"

#define S 1000000000LL
#define MS 1000000LL

typedef struct {
  char dir[64];
  kl_store *s;
} fx;

static kl_store *open_opts(fx *f, kl_store_opts o) {
  o.data_dir = f->dir;
  o.flush_interval_ms = 5;
  o.merge = kl_api_ingest_merge;
  return kl_test_store_open(o);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/kl-query-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  f->s = open_opts(f, (kl_store_opts){0});
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

typedef int (*list_fn)(kl_store *, const void *, kl_buf *, kl_err *);
static int l_traces(kl_store *s, const void *f, kl_buf *b, kl_err *e) { return kl_store_list_traces(s, f, b, e); }
static int l_obs(kl_store *s, const void *f, kl_buf *b, kl_err *e) { return kl_store_list_observations(s, f, b, e); }
static int l_scores(kl_store *s, const void *f, kl_buf *b, kl_err *e) { return kl_store_list_scores(s, f, b, e); }
static int l_sessions(kl_store *s, const void *f, kl_buf *b, kl_err *e) { return kl_store_list_sessions(s, f, b, e); }
static int l_users(kl_store *s, const void *f, kl_buf *b, kl_err *e) { return kl_store_list_users(s, f, b, e); }
static int l_metrics(kl_store *s, const void *f, kl_buf *b, kl_err *e) { return kl_store_metrics(s, f, b, e); }

/* Runs fn; the parsed JSON, or NULL with *code (and msg) set. */
static cJSON *call(kl_store *s, list_fn fn, const void *f, int *code, char *msg) {
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  kl_err_clear(&err);
  int rc = fn(s, f, &b, &err);
  if (msg) snprintf(msg, 256, "%s", err.msg);
  *code = rc == 0 ? 200 : err.code;
  cJSON *j = rc == 0 ? cJSON_Parse(b.data) : NULL;
  if (rc == 0 && !j) fail_msg("invalid JSON: %s", b.data);
  kl_buf_free(&b);
  return j;
}

static cJSON *data(cJSON *j) { return cJSON_GetObjectItemCaseSensitive(j, "data"); }
static const char *str(const cJSON *o, const char *k) { return kl_json_str(o, k); }
static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v)) fail_msg("%s is not a number", k);
  return v->valuedouble;
}
static bool is_null(const cJSON *o, const char *k) { return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, k)); }

/* Pages through a list with `limit`, collecting ids; returns how many. */
#define page_all(S_, FN_, F_, FIELD_, LIM_, IDS_, MAX_) page_all_l(S_, FN_, F_, &(F_)->cursor, &(F_)->limit, LIM_, IDS_, MAX_)
static int page_all_l(kl_store *s, list_fn fn, void *f, const char **cursor_field, int *limit_field, int limit,
                      char ids[][65], int max) {
  char cursor[256] = "";
  int n = 0;
  for (int guard = 0; guard < 1000; guard++) {
    *cursor_field = cursor[0] ? cursor : NULL;
    *limit_field = limit;
    int code;
    char msg[256];
    cJSON *j = call(s, fn, f, &code, msg);
    if (!j) fail_msg("page: %d %s", code, msg);
    (void)0;
    cJSON *row;
    cJSON_ArrayForEach(row, data(j)) {
      if (n < max) snprintf(ids[n], 65, "%s", str(row, "id"));
      n++;
    }
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next_cursor");
    bool last = !cJSON_IsString(next);
    if (!last) snprintf(cursor, sizeof cursor, "%s", next->valuestring);
    cJSON_Delete(j);
    if (last) break;
  }
  *cursor_field = NULL;
  return n;
}

static int count_traces(kl_store *s, kl_trace_filter f) {
  char ids[200][65];
  return page_all(s, l_traces, &f, &f.cursor, 3, ids, 200);
}
static int count_obs(kl_store *s, kl_trace_filter f) {
  char ids[200][65];
  return page_all(s, l_obs, &f, &f.cursor, 4, ids, 200);
}

/* 12 traces t00..t11 at i seconds: a root span and a generation; trace i has name n(i%2),
 * user u(i%3), session s(i%4), tags by i%3 (0: [a], 1: [a,b], 2: none), cost 0.001*i,
 * latency (i+1)*100 ms, an ERROR generation when i%4 == 0, a WARNING event when i == 5.
 * Generation text: "alpha" in every one, "beta" in odd ones, "gamma delta" in t07's output. */
static void dataset(kl_store *s) {
  static char names[2][8] = {"n0", "n1"}, users[3][8] = {"u0", "u1", "u2"}, sess[4][8] = {"s0", "s1", "s2", "s3"};
  static const char *tags[3] = {"[\"a\"]", "[\"a\",\"b\"]", NULL};
  for (int i = 0; i < 12; i++) {
    char tr[8], g[12], in[64], out[64];
    snprintf(tr, sizeof tr, "t%02d", i);
    kl_obs r = mk(tr, tr, (i + 1) * S);
    r.trace_name = names[i % 2];
    r.user_id = users[i % 3];
    r.session_id = sess[i % 4];
    r.tags_json = tags[i % 3];
    r.end_ns = r.start_ns + (i + 1) * 100 * MS;
    submit(s, &r);
    snprintf(g, sizeof g, "%s-g", tr);
    kl_obs o = mk(g, tr, (i + 1) * S + 1);
    snprintf(o.parent_id, sizeof o.parent_id, "%s", tr);
    o.type = KL_OBS_GENERATION;
    o.name = "llm";
    o.model = i < 6 ? "m-small" : "m-big";
    o.end_ns = o.start_ns + 50 * MS;
    o.cost_usd = 0.001 * i;
    o.usage_input = 10;
    o.usage_output = 5;
    o.user_id = users[i % 3];
    o.session_id = sess[i % 4];
    o.tags_json = tags[i % 3];
    snprintf(in, sizeof in, "[\"alpha %s\"]", i % 2 ? "beta" : "zeta");
    snprintf(out, sizeof out, "\"%s\"", i == 7 ? "gamma delta" : "ok");
    o.input_json = in;
    o.output_json = out;
    if (i % 4 == 0) o.level = "ERROR";
    submit(s, &o);
    if (i == 5) {
      kl_obs e = mk("t05-e", tr, (i + 1) * S + 2);
      e.type = KL_OBS_EVENT;
      e.level = "WARNING";
      submit(s, &e);
    }
  }
  kl_store_flush(s);
}

static void test_trace_filters(void **state) {
  fx *f = *state;
  dataset(f->s);
  struct { kl_trace_filter f; int want; } cases[] = {
      {{0}, 12},
      {{.name = "n1"}, 6},
      {{.tags = "a"}, 8},
      {{.tags = "a, b"}, 4},           /* all must be present */
      {{.tags = "b,zzz"}, 0},
      {{.status = "error"}, 3},         /* 0, 4, 8 */
      {{.status = "ok"}, 9},
      {{.level = "ERROR"}, 3},
      {{.level = "WARNING"}, 1},
      {{.level = "DEBUG"}, 0},
      {{.ranges = KL_RANGE_MIN_COST, .min_cost = 0.005}, 7},                    /* 5..11 */
      {{.ranges = KL_RANGE_MIN_COST | KL_RANGE_MAX_COST, .min_cost = 0.002, .max_cost = 0.004}, 3},
      {{.ranges = KL_RANGE_MIN_LATENCY, .min_latency_ms = 1000}, 3},            /* 1000, 1100, 1200 ms */
      {{.ranges = KL_RANGE_MAX_LATENCY, .max_latency_ms = 300}, 3},
      {{.q = "beta"}, 6},
      {{.q = "alpha beta"}, 6},
      {{.q = "gamma"}, 1},
      {{.q = "alpha", .user_id = "u1", .name = "n1"}, 2},                       /* 1, 7 */
      {{.q = "nothing-like-this"}, 0},
      {{.name = "n0", .tags = "a", .status = "error"}, 2},                     /* 0, 4 (8 has no tags) */
      {{.from_ns = 3 * S, .to_ns = 6 * S, .model = "m-small"}, 3},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int n = count_traces(f->s, cases[k].f);
    if (n != cases[k].want) fail_msg("trace filter case %zu: %d rows, want %d", k, n, cases[k].want);
  }
  /* the row's fields */
  int code;
  kl_trace_filter lf = {.level = "WARNING"};
  cJSON *j = call(f->s, l_traces, &lf, &code, NULL);
  cJSON *row = cJSON_GetArrayItem(data(j), 0);
  assert_string_equal(str(row, "id"), "t05");
  assert_string_equal(str(row, "level"), "WARNING");
  assert_string_equal(str(row, "status"), "ok");
  assert_int_equal((int)num(row, "observation_count"), 3);
  assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(row, "tags")));
  cJSON_Delete(j);
  /* live tail: after t09's timestamp (10 s), oldest first */
  lf = (kl_trace_filter){.since_ns = 10 * S};
  j = call(f->s, l_traces, &lf, &code, NULL);
  assert_int_equal(cJSON_GetArraySize(data(j)), 2);
  assert_string_equal(str(cJSON_GetArrayItem(data(j), 0), "id"), "t10");
  assert_string_equal(str(cJSON_GetArrayItem(data(j), 1), "id"), "t11");
  cJSON_Delete(j);
  /* bad input: 400 naming the parameter */
  struct { kl_trace_filter f; const char *param; } bad[] = {
      {{.status = "meh"}, "status"}, {{.level = "LOUD"}, "level"}, {{.cursor = "%%%"}, "cursor"},
      {{.limit = -1}, "limit"},      {{.ranges = KL_RANGE_MIN_COST, .min_cost = -1}, "min_cost"},
      {{.tags = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"}, "tags"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char msg[256];
    assert_null(call(f->s, l_traces, &bad[k].f, &code, msg));
    assert_int_equal(code, 400);
    if (strncmp(msg, bad[k].param, strlen(bad[k].param))) fail_msg("case %zu: %s", k, msg);
  }
}

static void test_observation_filters(void **state) {
  fx *f = *state;
  dataset(f->s);
  struct { kl_trace_filter f; int want; } cases[] = {
      {{0}, 25},
      {{.type = KL_OBS_GENERATION}, 12},
      {{.type = KL_OBS_GENERATION, .model = "m-big"}, 6},
      {{.trace_id = "t05"}, 3},
      {{.user_id = "u2"}, 8},         /* 4 traces, 2 observations each (via the user's traces) */
      {{.session_id = "s1", .type = KL_OBS_SPAN}, 3},
      {{.level = "ERROR"}, 3},
      {{.level = "WARNING"}, 1},
      {{.name = "llm", .ranges = KL_RANGE_MIN_COST, .min_cost = 0.010}, 2},
      {{.ranges = KL_RANGE_MIN_LATENCY | KL_RANGE_MAX_LATENCY, .min_latency_ms = 50, .max_latency_ms = 100}, 13},
      {{.q = "zeta"}, 6},
      {{.q = "delta gamma"}, 1},
      {{.q = "\"alpha\""}, 12},       /* quotes in q are text, not syntax */
      {{.q = "alpha", .trace_id = "t03"}, 1},
      {{.from_ns = 11 * S}, 4},
      /* more words than PostgreSQL gets as separate parameters (24; the rest go as one text[]) */
      {{.q = "delta delta delta delta delta delta delta delta delta delta delta delta delta delta delta "
             "delta delta delta delta delta delta delta delta delta delta delta delta delta delta gamma"}, 1},
      {{.q = "delta delta delta delta delta delta delta delta delta delta delta delta delta delta delta "
             "delta delta delta delta delta delta delta delta delta delta delta delta delta delta omicron"}, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int n = count_obs(f->s, cases[k].f);
    if (n != cases[k].want) fail_msg("observation filter case %zu: %d rows, want %d", k, n, cases[k].want);
  }
  int code;
  kl_trace_filter lf = {.q = "gamma"};
  cJSON *j = call(f->s, l_obs, &lf, &code, NULL);
  cJSON *row = cJSON_GetArrayItem(data(j), 0);
  const char *keys[] = {"id", "trace_id", "parent_id", "type", "name", "start", "end", "model", "level",
                        "status_message", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "ttft_ms"};
  assert_int_equal(cJSON_GetArraySize(row), 15);
  for (size_t i = 0; i < 15; i++) assert_non_null(cJSON_GetObjectItemCaseSensitive(row, keys[i]));
  assert_string_equal(str(row, "id"), "t07-g");
  assert_int_equal((int)num(row, "latency_ms"), 50);
  cJSON_Delete(j);
  /* keel's own observation by id: found with its trace, and without (a scan) */
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  assert_int_equal(kl_store_find_observation(f->s, NULL, "t07", "t07-g", &b, &err), 0);
  assert_non_null(strstr(b.data, "\"gamma delta\""));
  kl_buf_reset(&b);
  assert_int_equal(kl_store_get_observation(f->s, NULL, "t07-g", &b, &err), 0);
  kl_buf_reset(&b);
  assert_int_equal(kl_store_find_observation(f->s, NULL, "t06", "t07-g", &b, &err), -1);
  assert_int_equal(err.code, 404);
  kl_buf_free(&b);
}

/* ---- pagination while the writer inserts ---- */

typedef struct {
  kl_store *s;
  volatile int stop;
  int inserted;
} inserter;

static void *insert_loop(void *arg) {
  inserter *in = arg;
  for (int i = 0; !in->stop && i < 2000; i++) {
    char id[16];
    snprintf(id, sizeof id, "new%04d", i);
    /* half newer than everything, half inside the range being paged (same timestamps) */
    kl_obs o = mk(id, id, i % 2 ? (int64_t)(1000 + i) * S : (int64_t)(1 + i % 50) * S);
    submit(in->s, &o);
    in->inserted++;
    if (i % 20 == 0) kl_store_flush(in->s);
  }
  return NULL;
}

static void test_pagination_under_inserts(void **state) {
  fx *f = *state;
  enum { N = 300 };
  for (int i = 0; i < N; i++) {
    char id[16];
    snprintf(id, sizeof id, "old%03d", (i * 7) % N);
    kl_obs o = mk(id, id, (int64_t)(1 + i / 6) * S); /* 6 traces per timestamp */
    submit(f->s, &o);
  }
  kl_store_flush(f->s);
  inserter in = {.s = f->s};
  pthread_t th;
  pthread_create(&th, NULL, insert_loop, &in);
  /* page newest-first through everything; every old trace must appear exactly once */
  static char ids[3000][65];
  kl_trace_filter lf = {0};
  int n = page_all(f->s, l_traces, &lf, &lf.cursor, 7, ids, 3000);
  in.stop = 1;
  pthread_join(th, NULL);
  assert_true(n <= 3000);
  int seen[N] = {0};
  for (int i = 0; i < n; i++) {
    if (strncmp(ids[i], "old", 3)) continue;
    seen[atoi(ids[i] + 3)]++;
  }
  for (int i = 0; i < N; i++)
    if (seen[i] != 1) fail_msg("old%03d seen %d times", i, seen[i]);
  /* the same for observations, by start */
  kl_trace_filter of = {.type = KL_OBS_SPAN};
  n = page_all(f->s, l_obs, &of, &of.cursor, 11, ids, 3000);
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < n; i++)
    if (!strncmp(ids[i], "old", 3)) seen[atoi(ids[i] + 3)]++;
  for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
}

/* ---- full text ---- */

static void test_fulltext(void **state) {
  fx *f = *state;
  kl_obs o = mk("g1", "T1", 5 * S);
  o.input_json = "{\"messages\":[{\"role\":\"user\",\"content\":\"Where is my parcel?\"}]}";
  o.output_json = "\"It left the Rotterdam depot\"";
  submit(f->s, &o);
  kl_store_flush(f->s);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "parcel"}), 1);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "ROTTERDAM parcel"}), 1); /* case-folded, AND */
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "parcel london"}), 0);
  assert_int_equal(count_traces(f->s, (kl_trace_filter){.q = "depot"}), 1);
  /* a re-sent observation replaces its row: the old words leave the index */
  o.output_json = "\"It reached Utrecht\"";
  submit(f->s, &o);
  kl_store_flush(f->s);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "rotterdam"}), 0);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "utrecht"}), 1);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "  "}), 1); /* no words: no text filter */
  /* switched off: q is refused (400 naming q); switched on again: rebuilt */
  kl_store_close(f->s);
  f->s = open_opts(f, (kl_store_opts){.fulltext = KL_FULLTEXT_OFF});
  kl_obs o2 = mk("g2", "T2", 6 * S);
  o2.input_json = "\"written while the index was off: utrecht\"";
  submit(f->s, &o2);
  kl_store_flush(f->s);
  int code;
  char msg[256];
  kl_trace_filter lf = {.q = "utrecht"};
  assert_null(call(f->s, l_obs, &lf, &code, msg));
  assert_int_equal(code, 400);
  assert_memory_equal(msg, "q:", 2);
  kl_store_close(f->s);
  f->s = open_opts(f, (kl_store_opts){.fulltext = KL_FULLTEXT_ON});
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "utrecht"}), 2);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "rotterdam"}), 0);
}

/* ---- scores ---- */

static void score(kl_store *s, const char *id, const char *trace, const char *name, const char *source,
                  const char *dtype, int64_t ts) {
  kl_score sc;
  memset(&sc, 0, sizeof sc);
  snprintf(sc.id, sizeof sc.id, "%s", id);
  snprintf(sc.trace_id, sizeof sc.trace_id, "%s", trace);
  sc.name = name;
  sc.source = source;
  sc.data_type = dtype;
  sc.value = 1;
  sc.string_value = dtype && strcmp(dtype, "NUMERIC") ? "x" : NULL;
  sc.timestamp_ns = ts;
  kl_err err;
  if (kl_store_submit_score(s, &sc, &err) != 0) fail_msg("%s", err.msg);
}

static void test_scores(void **state) {
  fx *f = *state;
  for (int i = 0; i < 10; i++) {
    char id[8];
    snprintf(id, sizeof id, "sc%d", i);
    score(f->s, id, i < 4 ? "T1" : "T2", i % 2 ? "helpful" : "correct", i < 3 ? "EVAL" : "API",
          i == 9 ? "CATEGORICAL" : "NUMERIC", (1 + i / 3) * S); /* timestamps shared by 3 */
  }
  kl_store_flush(f->s);
  char ids[20][65];
  struct { kl_score_filter f; int want; } cases[] = {
      {{0}, 10},
      {{.trace_id = "T1"}, 4},
      {{.name = "helpful"}, 5},
      {{.source = "eval"}, 3},
      {{.data_type = "categorical"}, 1},
      {{.trace_id = "T2", .source = "API", .name = "correct"}, 3},
      {{.from_ns = 2 * S, .to_ns = 4 * S}, 6},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int n = page_all(f->s, l_scores, &cases[k].f, &cases[k].f.cursor, 2, ids, 20);
    if (n != cases[k].want) fail_msg("score case %zu: %d, want %d", k, n, cases[k].want);
  }
  kl_score_filter all = {0};
  assert_int_equal(page_all(f->s, l_scores, &all, &all.cursor, 3, ids, 20), 10);
  assert_string_equal(ids[0], "sc9"); /* newest first, ties by id descending */
  int code;
  char msg[256];
  kl_score_filter bad = {.source = "robot"};
  assert_null(call(f->s, l_scores, &bad, &code, msg));
  assert_int_equal(code, 400);
  assert_memory_equal(msg, "source:", 7);
  kl_score_filter bad2 = {.data_type = "float"}, bad3 = {.source = "annotation-and-then-some-more"};
  assert_null(call(f->s, l_scores, &bad2, &code, msg));
  assert_int_equal(code, 400);
  assert_memory_equal(msg, "data_type:", 10);
  assert_null(call(f->s, l_scores, &bad3, &code, msg));
  assert_int_equal(code, 400);
  /* 17 tags: more than a list filters by */
  kl_trace_filter many = {.tags = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"};
  assert_null(call(f->s, l_traces, &many, &code, msg));
  assert_int_equal(code, 400);
  assert_memory_equal(msg, "tags:", 5);
}

/* ---- sessions, users, metrics ---- */

static void test_sessions_users(void **state) {
  fx *f = *state;
  dataset(f->s);
  int code;
  kl_group_filter g = {0};
  cJSON *j = call(f->s, l_sessions, &g, &code, NULL);
  assert_int_equal(cJSON_GetArraySize(data(j)), 4);
  cJSON *s3 = cJSON_GetArrayItem(data(j), 0); /* s3 holds t03, t07, t11: the newest */
  assert_string_equal(str(s3, "id"), "s3");
  assert_int_equal((int)num(s3, "traces"), 3);
  assert_int_equal((int)num(s3, "input_tokens"), 30);
  assert_int_equal((int)num(s3, "errors"), 0);
  assert_true(fabs(num(s3, "cost_usd") - 0.021) < 1e-12);          /* 3 + 7 + 11 */
  assert_true(fabs(num(s3, "latency_ms_total") - 2400) < 1e-9);     /* 400 + 800 + 1200 */
  cJSON *uids = cJSON_GetObjectItemCaseSensitive(s3, "user_ids");   /* u0 (3), u1 (7), u2 (11) */
  assert_int_equal(cJSON_GetArraySize(uids), 3);
  cJSON *s0 = cJSON_GetArrayItem(data(j), 3);
  assert_string_equal(str(s0, "id"), "s0");
  assert_int_equal((int)num(s0, "errors"), 3);
  cJSON_Delete(j);
  char ids[20][65];
  kl_group_filter pg = {0};
  assert_int_equal(page_all(f->s, l_sessions, &pg, &pg.cursor, 1, ids, 20), 4);
  assert_string_equal(ids[3], "s0");
  kl_group_filter byuser = {.user_id = "u0"}; /* u0: t00 s0, t03 s3, t06 s2, t09 s1 */
  assert_int_equal(page_all(f->s, l_sessions, &byuser, &byuser.cursor, 2, ids, 20), 4);
  kl_group_filter window = {.from_ns = 9 * S}; /* t08..t11 */
  j = call(f->s, l_sessions, &window, &code, NULL);
  assert_int_equal(cJSON_GetArraySize(data(j)), 4);
  assert_int_equal((int)num(cJSON_GetArrayItem(data(j), 0), "traces"), 1);
  cJSON_Delete(j);
  /* one session: aggregates + traces oldest first */
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  assert_int_equal(kl_store_get_session(f->s, NULL, "s3", &b, &err), 0);
  j = cJSON_Parse(b.data);
  assert_int_equal((int)num(j, "trace_count"), 3);
  cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "traces");
  assert_int_equal(cJSON_GetArraySize(tr), 3);
  assert_string_equal(str(cJSON_GetArrayItem(tr, 0), "id"), "t03");
  assert_string_equal(str(cJSON_GetArrayItem(tr, 2), "id"), "t11");
  cJSON_Delete(j);
  kl_buf_reset(&b);
  assert_int_equal(kl_store_get_session(f->s, NULL, "nope", &b, &err), -1);
  assert_int_equal(err.code, 404);
  /* users */
  kl_group_filter ug = {0};
  j = call(f->s, l_users, &ug, &code, NULL);
  assert_int_equal(cJSON_GetArraySize(data(j)), 3);
  cJSON *u2 = cJSON_GetArrayItem(data(j), 0); /* t11 is u2's */
  assert_string_equal(str(u2, "id"), "u2");
  assert_int_equal((int)num(u2, "traces"), 4);
  assert_int_equal((int)num(u2, "sessions"), 4);   /* s2, s1, s0, s3 */
  assert_int_equal((int)num(u2, "errors"), 1);     /* t08 */
  cJSON_Delete(j);
  kl_buf_reset(&b);
  assert_int_equal(kl_store_get_user(f->s, NULL, "u2", &b, &err), 0);
  j = cJSON_Parse(b.data);
  tr = cJSON_GetObjectItemCaseSensitive(j, "traces");
  assert_int_equal(cJSON_GetArraySize(tr), 4);
  assert_string_equal(str(cJSON_GetArrayItem(tr, 0), "id"), "t11"); /* latest first */
  cJSON_Delete(j);
  kl_buf_free(&b);
}

static void test_metrics_percentiles(void **state) {
  fx *f = *state;
  /* model A: 20 generations, latencies 1..20 ms, ttft = latency/2 for the even ones only;
   * model B: 3 generations at 100, 300, 200 ms, one ERROR; all within hour 0 except B's
   * last (hour 1).  Plus a span, which metrics ignore. */
  int64_t h0 = 1767225600LL * S; /* 2026-01-01T00:00:00Z */
  for (int i = 1; i <= 20; i++) {
    char id[8];
    snprintf(id, sizeof id, "a%02d", i);
    kl_obs o = mk(id, "TA", h0 + i * S);
    o.type = KL_OBS_GENERATION;
    o.model = "A";
    o.tags_json = i <= 10 ? "[\"x\",\"y\"]" : "[\"x\"]";
    o.end_ns = o.start_ns + i * MS;
    if (i % 2 == 0) o.completion_start_ns = o.start_ns + i * MS / 2;
    o.usage_input = 1;
    o.usage_output = 2;
    o.cost_usd = 0.5;
    submit(f->s, &o);
  }
  int64_t lb[] = {100, 300, 200};
  for (int i = 0; i < 3; i++) {
    char id[8];
    snprintf(id, sizeof id, "b%d", i);
    kl_obs o = mk(id, "TB", h0 + (i == 2 ? 3700 : 30 + i) * S);
    o.type = KL_OBS_GENERATION;
    o.model = "B";
    o.end_ns = o.start_ns + lb[i] * MS;
    if (i == 1) o.level = "ERROR";
    submit(f->s, &o);
  }
  kl_obs sp = mk("sp", "TA", h0);
  sp.end_ns = h0 + 999 * S;
  submit(f->s, &sp);
  kl_store_flush(f->s);
  int code;
  kl_metrics_filter mf = {.group_by = KL_GROUP_MODEL};
  cJSON *j = call(f->s, l_metrics, &mf, &code, NULL);
  assert_int_equal(cJSON_GetArraySize(data(j)), 2);
  cJSON *a = cJSON_GetArrayItem(data(j), 0), *b = cJSON_GetArrayItem(data(j), 1);
  assert_string_equal(str(a, "group"), "A");
  assert_true(is_null(a, "bucket"));
  assert_int_equal((int)num(a, "requests"), 20);
  assert_int_equal((int)num(a, "input_tokens"), 20);
  assert_int_equal((int)num(a, "output_tokens"), 40);
  assert_true(num(a, "cost_usd") == 10.0);
  /* nearest rank over 1..20: p50 = 10th, p95 = 19th, p99 = 20th */
  assert_true(num(a, "latency_p50_ms") == 10.0);
  assert_true(num(a, "latency_p95_ms") == 19.0);
  assert_true(num(a, "latency_p99_ms") == 20.0);
  /* ttft over {1,2,...,10} (even i / 2): p50 = 5th = 5, p95 = 10th = 10, p99 = 10 */
  assert_true(num(a, "ttft_p50_ms") == 5.0);
  assert_true(num(a, "ttft_p95_ms") == 10.0);
  assert_true(num(a, "ttft_p99_ms") == 10.0);
  assert_int_equal((int)num(a, "errors"), 0);
  /* B: {100, 200, 300}: p50 = 2nd = 200, p95 = p99 = 300; no ttft; 1 error of 3; no cost */
  assert_string_equal(str(b, "group"), "B");
  assert_true(num(b, "latency_p50_ms") == 200.0);
  assert_true(num(b, "latency_p95_ms") == 300.0);
  assert_true(is_null(b, "ttft_p50_ms"));
  assert_true(is_null(b, "cost_usd"));
  assert_int_equal((int)num(b, "errors"), 1);
  assert_true(fabs(num(b, "error_rate") - 1.0 / 3) < 1e-12);
  cJSON_Delete(j);
  /* per hour: A@0, B@0, B@1 */
  mf.bucket = KL_BUCKET_HOUR;
  j = call(f->s, l_metrics, &mf, &code, NULL);
  assert_int_equal(cJSON_GetArraySize(data(j)), 3);
  assert_string_equal(str(cJSON_GetArrayItem(data(j), 0), "bucket"), "2026-01-01T00:00:00.000Z");
  assert_string_equal(str(cJSON_GetArrayItem(data(j), 1), "group"), "B");
  assert_int_equal((int)num(cJSON_GetArrayItem(data(j), 1), "requests"), 2);
  assert_string_equal(str(cJSON_GetArrayItem(data(j), 2), "bucket"), "2026-01-01T01:00:00.000Z");
  cJSON_Delete(j);
  /* by tag: null (B's), x (all 20 A), y (10) */
  kl_metrics_filter tf = {.group_by = KL_GROUP_TAG};
  j = call(f->s, l_metrics, &tf, &code, NULL);
  assert_int_equal(cJSON_GetArraySize(data(j)), 3);
  assert_true(is_null(cJSON_GetArrayItem(data(j), 0), "group"));
  assert_int_equal((int)num(cJSON_GetArrayItem(data(j), 0), "requests"), 3);
  assert_int_equal((int)num(cJSON_GetArrayItem(data(j), 1), "requests"), 20);
  cJSON *y = cJSON_GetArrayItem(data(j), 2);
  assert_int_equal((int)num(y, "requests"), 10);
  assert_true(num(y, "latency_p95_ms") == 10.0); /* ceil(9.5) = 10th of 1..10 */
  cJSON_Delete(j);
  /* none, a window, another type */
  kl_metrics_filter nf = {.from_ns = h0 + 25 * S, .to_ns = h0 + 3600 * S};
  j = call(f->s, l_metrics, &nf, &code, NULL);
  assert_int_equal((int)num(cJSON_GetArrayItem(data(j), 0), "requests"), 2);
  cJSON_Delete(j);
  kl_metrics_filter sf = {.type = KL_OBS_SPAN};
  j = call(f->s, l_metrics, &sf, &code, NULL);
  assert_int_equal((int)num(cJSON_GetArrayItem(data(j), 0), "requests"), 1);
  cJSON_Delete(j);
  /* bad group and bucket: the same 400 on every backend */
  char msg[256];
  kl_metrics_filter bg = {.group_by = (kl_group_by)99}, bb = {.bucket = (kl_bucket)99};
  assert_null(call(f->s, l_metrics, &bg, &code, msg));
  assert_int_equal(code, 400);
  assert_memory_equal(msg, "group_by:", 9);
  assert_null(call(f->s, l_metrics, &bb, &code, msg));
  assert_int_equal(code, 400);
  assert_memory_equal(msg, "bucket:", 7);
}

/* ---- retention ---- */

static void test_retention(void **state) {
  fx *f = *state;
  kl_store_close(f->s);
  f->s = open_opts(f, (kl_store_opts){.retention_days = 7, .retention_batch = 10, .retention_interval_ms = 10});
  int64_t now = kl_now_ns(), old = now - 10 * 86400 * S, fresh = now - 86400 * S;
  kl_store__test_pause(f->s, true); /* everything lands in one batch, before any pass sees it */
  for (int i = 0; i < 95; i++) { /* 95 expired observations in 19 traces */
    char id[16], tr[16];
    snprintf(id, sizeof id, "old%02d", i);
    snprintf(tr, sizeof tr, "T%02d", i / 5);
    kl_obs o = mk(id, tr, old + i * S);
    o.input_json = "\"expired words\"";
    submit(f->s, &o);
  }
  kl_obs span_old = mk("x-old", "TX", old), span_new = mk("x-new", "TX", fresh); /* a trace across the cutoff */
  span_new.usage_input = 7;
  submit(f->s, &span_old);
  submit(f->s, &span_new);
  for (int i = 0; i < 5; i++) {
    char id[16];
    snprintf(id, sizeof id, "new%d", i);
    kl_obs o = mk(id, id, fresh + i * S);
    submit(f->s, &o);
  }
  score(f->s, "s-old", "T01", "q", NULL, NULL, old);
  score(f->s, "s-new", "new1", "q", NULL, NULL, fresh);
  kl_store__test_pause(f->s, false);
  kl_store_flush(f->s);
  /* 96 observations + 19 traces + 1 score expire; wait for the writer's passes */
  kl_store_stats st;
  for (int i = 0; i < 1000; i++) {
    kl_store_get_stats(f->s, &st);
    if (st.expired >= 96 + 19 + 1) break;
    usleep(10000);
  }
  kl_store_get_stats(f->s, &st);
  assert_int_equal(st.expired, 96 + 19 + 1);
  assert_true(st.expire_batches >= 10); /* 96 observations, at most 10 per transaction */
  assert_int_equal(count_traces(f->s, (kl_trace_filter){0}), 6);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){0}), 6);
  assert_int_equal(count_obs(f->s, (kl_trace_filter){.q = "expired"}), 0);
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  assert_int_equal(kl_store_get_trace(f->s, NULL, "TX", &b, &err), 0);
  cJSON *j = cJSON_Parse(b.data);
  assert_int_equal((int)num(j, "observation_count"), 1); /* recomputed from what is left */
  assert_int_equal((int)num(j, "input_tokens"), 7);
  cJSON_Delete(j);
  kl_buf_reset(&b);
  assert_int_equal(kl_store_get_score(f->s, NULL, "s-old", &b, &err), -1);
  assert_int_equal(kl_store_get_score(f->s, NULL, "s-new", &b, &err), 0);
  kl_buf_free(&b);
  /* nothing more to do: another pass deletes nothing */
  usleep(50000);
  kl_store_stats st2;
  kl_store_get_stats(f->s, &st2);
  assert_int_equal(st2.expired, st.expired);
}

/* Cursors are user input: any string is a 400 or a valid page, never a crash or a 500. */
static void test_cursor_garbage(void **state) {
  fx *f = *state;
  kl_obs o = mk("x", "T", 5 * S);
  submit(f->s, &o);
  kl_store_flush(f->s);
  static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=%:";
  unsigned seed = 12345;
  for (int i = 0; i < 2000; i++) {
    char cur[160];
    int n = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 150;
    for (int k = 0; k < n; k++) cur[k] = alpha[((seed = seed * 1103515245u + 12345u) >> 16) % (sizeof alpha - 1)];
    cur[n] = 0;
    kl_trace_filter tf = {.cursor = cur};
    kl_score_filter sf = {.cursor = cur};
    kl_group_filter gf = {.cursor = cur};
    int code;
    cJSON *j = call(f->s, l_traces, &tf, &code, NULL);
    if (!j && code != 400) fail_msg("traces cursor %s: %d", cur, code);
    cJSON_Delete(j);
    j = call(f->s, l_obs, &tf, &code, NULL);
    if (!j && code != 400) fail_msg("observations cursor %s: %d", cur, code);
    cJSON_Delete(j);
    j = call(f->s, l_scores, &sf, &code, NULL);
    if (!j && code != 400) fail_msg("scores cursor %s: %d", cur, code);
    cJSON_Delete(j);
    j = call(f->s, l_sessions, &gf, &code, NULL);
    if (!j && code != 400) fail_msg("sessions cursor %s: %d", cur, code);
    cJSON_Delete(j);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_trace_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_observation_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pagination_under_inserts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fulltext, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scores, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sessions_users, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metrics_percentiles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cursor_garbage, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
