/* test_store_pg_parity.c: the PostgreSQL backend answers every read byte-for-byte as the
 * SQLite backend does.  One dataset (keel's own observations with ties on start times, NULLs,
 * invalid JSON text, tags, levels, costs; Langfuse-style patches with trace records, updates
 * and prompts; scores of every type) is written to both stores, then every list (with each
 * filter, paged with small limits by following both sides' cursors), every get, sessions,
 * users and metrics (every group x bucket) are compared as bytes (numbers to 1e-12: a float
 * sum's last bits depend on the order of its additions).  Skipped unless
 * KEEL_TEST_PG_URL names a PostgreSQL server (scripts/pg-test.sh; store_test_pg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
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
#define NTRACES 30

typedef struct {
  char dir[2][64];
  kl_store *s[2]; /* 0 SQLite, 1 PostgreSQL */
  int compared;
} fx;

static int setup(void **state) {
  if (!kl_test_pg()) return 0;
  fx *f = calloc(1, sizeof *f);
  for (int i = 0; i < 2; i++) {
    strcpy(f->dir[i], "/tmp/kl-parity-XXXXXX");
    if (!mkdtemp(f->dir[i])) return -1;
    kl_store_opts o = {.data_dir = f->dir[i], .flush_interval_ms = 5, .merge = kl_api_ingest_merge};
    if (i) kl_test_store_opts(&o);
    kl_err err;
    kl_err_clear(&err);
    if (!(f->s[i] = kl_store_open(&o, &err))) fail_msg("open %s: %s", i ? "postgres" : "sqlite", err.msg);
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (!f) return 0;
  for (int i = 0; i < 2; i++) {
    kl_store_close(f->s[i]);
    kl_test_rmtree(f->dir[i]);
  }
  free(f);
  return 0;
}

static void both_submit(fx *f, const kl_obs *o) {
  kl_err err;
  for (int i = 0; i < 2; i++)
    if (kl_store_submit(f->s[i], o, &err) != 0) fail_msg("submit: %s", err.msg);
}
static void both_patch(fx *f, const kl_obs_patch *p) {
  kl_err err;
  for (int i = 0; i < 2; i++)
    if (kl_store_submit_patch(f->s[i], p, &err) != 0) fail_msg("patch: %s", err.msg);
}
static void both_score(fx *f, const kl_score *sc) {
  kl_err err;
  for (int i = 0; i < 2; i++)
    if (kl_store_submit_score(f->s[i], sc, &err) != 0) fail_msg("score: %s", err.msg);
}

static kl_obs mk(const char *id, const char *trace, int64_t start) { return kl_test_span(id, trace, start); }

static void dataset(fx *f) {
  static const char *users[] = {"u0", "u1", "u2", NULL}, *sess[] = {"s0", "s1", NULL},
                    *tags[] = {"[\"a\"]", "[\"a\",\"b\"]", NULL, "not json", "[\"b\",\"c d\"]"},
                    *models[] = {"m-small", "m-big", "m-\"q\""}, *levels[] = {NULL, "DEBUG", "WARNING", "ERROR"};
  static const char *texts[] = {"[\"alpha beta\"]", "\"Rotterdam parcel, depot-7\"", "{\"role\":\"user\",\"content\":\"Zeppelin noon\"}",
                                "not json at all: gamma, Café Zürich, Ærø łódź, ấp", NULL};
  for (int i = 0; i < NTRACES; i++) {
    char tr[16], id[24];
    snprintf(tr, sizeof tr, "t%02d", i);
    int64_t t0 = 1700000000LL * S + (int64_t)(i / 3) * 61 * S; /* three traces share each start */
    kl_obs r = mk(tr, tr, t0);
    r.trace_name = i % 2 ? "chat" : "embed";
    r.user_id = users[i % 4];
    r.session_id = sess[i % 3];
    r.tags_json = tags[i % 5];
    r.metadata_json = i % 4 == 1 ? "{\"k\":1}" : i % 4 == 2 ? "bad{" : NULL;
    r.end_ns = i % 7 == 3 ? 0 : t0 + (i + 1) * 37 * MS + 123;
    both_submit(f, &r);
    for (int g = 0; g < 1 + i % 3; g++) {
      snprintf(id, sizeof id, "%s-g%d", tr, g);
      kl_obs o = mk(id, tr, t0 + (g == 2 ? 0 : 1 + g)); /* g2 ties with its root */
      snprintf(o.parent_id, sizeof o.parent_id, "%s", tr);
      o.type = g == 1 && i % 5 == 0 ? KL_OBS_EMBEDDING : KL_OBS_GENERATION;
      o.name = g ? "llm-2" : "llm";
      o.model = models[(i + g) % 3];
      o.provider = "mock";
      o.level = levels[(i + g) % 4];
      o.status_message = o.level && !strcmp(o.level, "ERROR") ? "upstream 500" : NULL;
      o.http_status = o.status_message ? 500 : 200;
      o.end_ns = (i + g) % 6 == 5 ? 0 : o.start_ns + ((i * 7 + g * 13) % 17 + 1) * 11 * MS + g;
      o.completion_start_ns = (i + g) % 4 == 1 ? 0 : o.start_ns + ((i * 3 + g) % 9 + 1) * 5 * MS;
      o.cost_usd = (i + g) % 5 == 4 ? -1 : 0.0001 * (i + 1) + 0.00003 * g;
      o.usage_input = 100 + i;
      o.usage_input_cached = g * 3;
      o.usage_output = 20 + i % 7;
      o.usage_output_reasoning = i % 2;
      o.usage_estimated = i % 3 == 0;
      o.usage_json = i % 6 == 0 ? "{\"input\":100,\"audio\":4}" : NULL;
      o.user_id = r.user_id;
      o.session_id = r.session_id;
      o.tags_json = r.tags_json;
      o.trace_name = r.trace_name;
      o.input_json = texts[(i + g) % 5];
      o.output_json = texts[(i + 2 * g + 1) % 5];
      o.model_params_json = "{\"temperature\":0.7}";
      o.metadata_json = g == 0 && i % 2 ? "{\"m\":[1,2]}" : NULL;
      o.environment = i % 2 ? "prod" : NULL;
      both_submit(f, &o);
    }
  }
  /* ingested records: a trace record with its own fields, a create then an update of an
   * observation, an update arriving before its create, a prompt-linked generation */
  kl_obs_patch p;
  memset(&p, 0, sizeof p);
  p.obs = mk("lf-trace", "lf-trace", 1700000100LL * S);
  p.obs.trace_name = "lf";
  p.obs.user_id = "u1";
  p.obs.session_id = "s1";
  p.obs.tags_json = "[\"a\",\"lf\"]";
  p.obs.input_json = "{\"q\":\"hello\"}";
  p.obs.metadata_json = "{\"from\":\"langfuse\"}";
  p.set = KL_OBS_F_NAME | KL_OBS_F_USER | KL_OBS_F_SESSION | KL_OBS_F_TAGS | KL_OBS_F_INPUT | KL_OBS_F_METADATA |
          KL_OBS_F_START | KL_OBS_F_VERSION;
  p.version = "v3";
  p.trace_record = true;
  p.received_ns = 1;
  both_patch(f, &p);
  memset(&p, 0, sizeof p);
  p.obs = mk("lf-gen", "lf-trace", 1700000100LL * S + 5 * MS);
  p.obs.type = KL_OBS_GENERATION;
  p.obs.model = "m-big";
  p.obs.input_json = "[\"zeppelin parcel\"]";
  p.obs.usage_input = 7;
  p.set = KL_OBS_F_TYPE | KL_OBS_F_START | KL_OBS_F_MODEL | KL_OBS_F_INPUT | KL_OBS_F_USAGE | KL_OBS_F_PROMPT;
  p.prompt_name = "greeter";
  p.prompt_version = 4;
  p.received_ns = 2;
  both_patch(f, &p);
  memset(&p, 0, sizeof p);
  p.obs = mk("lf-gen", "", 0);
  p.obs.end_ns = 1700000100LL * S + 900 * MS;
  p.obs.output_json = "\"done\"";
  p.obs.level = "WARNING";
  p.set = KL_OBS_F_END | KL_OBS_F_OUTPUT | KL_OBS_F_LEVEL;
  p.update = true;
  p.received_ns = 3;
  both_patch(f, &p);
  memset(&p, 0, sizeof p);
  p.obs = mk("lf-orphan", "", 0);
  p.obs.name = "late";
  p.set = KL_OBS_F_NAME;
  p.update = true;
  p.received_ns = 4;
  both_patch(f, &p);
  static const char *dtypes[] = {"NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT"}, *sources[] = {"API", "EVAL", "ANNOTATION"};
  for (int i = 0; i < 14; i++) {
    kl_score sc;
    memset(&sc, 0, sizeof sc);
    snprintf(sc.id, sizeof sc.id, "sc%02d", i);
    snprintf(sc.trace_id, sizeof sc.trace_id, "t%02d", i % 5);
    if (i % 3 == 0) snprintf(sc.observation_id, sizeof sc.observation_id, "t%02d-g0", i % 5);
    if (i % 4 == 0) snprintf(sc.session_id, sizeof sc.session_id, "s%d", i % 2);
    sc.name = i % 2 ? "quality" : "helpful";
    sc.data_type = dtypes[i % 4];
    sc.value = i % 4 == 1 ? i % 2 : 0.1 * i;
    sc.string_value = i % 4 >= 2 ? "good" : NULL;
    sc.source = sources[i % 3];
    sc.comment = i % 5 == 0 ? "ok \"quoted\"" : NULL;
    sc.metadata_json = i % 3 == 1 ? "{\"x\":1}" : i % 3 == 2 ? "oops" : NULL;
    sc.timestamp_ns = 1700000000LL * S + (i / 2) * S; /* pairs share a timestamp */
    both_score(f, &sc);
  }
  kl_store_flush(f->s[0]);
  kl_store_flush(f->s[1]);
}

/* ---- comparison ---- */

typedef int (*read_fn)(kl_store *s, void *f, kl_buf *b, kl_err *e);

/* Same JSON, except that numbers may differ in their last bits: a float sum's rounding
 * depends on the order of its additions, which neither database promises (metrics' cost). */
static bool json_close(const cJSON *a, const cJSON *b) {
  if (!a || !b) return a == b;
  if ((a->type & 0xff) != (b->type & 0xff)) return false;
  if (cJSON_IsNumber(a)) {
    double x = a->valuedouble, y = b->valuedouble;
    return x == y || fabs(x - y) <= 1e-12 * fmax(fabs(x), fabs(y));
  }
  if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
  if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next) {
      if (cJSON_IsObject(a) && strcmp(x->string, y->string)) return false;
      if (!json_close(x, y)) return false;
    }
    return !x && !y;
  }
  return true; /* null, true, false: the type said it all */
}
static bool same_json(const char *a, const char *b) {
  if (!strcmp(a, b)) return true;
  cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
  bool ok = x && y && json_close(x, y);
  cJSON_Delete(x);
  cJSON_Delete(y);
  return ok;
}

static void same(fx *f, const char *what, read_fn fn, void *filter, const char **cursor) {
  char cur[2][256] = {"", ""};
  for (int page = 0; page < 200; page++) {
    kl_buf b[2] = {KL_BUF_INIT, KL_BUF_INIT};
    kl_err e[2];
    int rc[2];
    for (int i = 0; i < 2; i++) {
      kl_err_clear(&e[i]);
      if (cursor) *cursor = cur[i][0] ? cur[i] : NULL;
      rc[i] = fn(f->s[i], filter, &b[i], &e[i]);
    }
    if (rc[0] != rc[1] || (rc[0] && e[0].code != e[1].code) || (rc[0] == 0 && !same_json(b[0].data, b[1].data)))
      fail_msg("%s (page %d) differs:\n sqlite   %d %s\n postgres %d %s", what, page, rc[0] ? e[0].code : 200,
               rc[0] ? e[0].msg : b[0].data, rc[1] ? e[1].code : 200, rc[1] ? e[1].msg : b[1].data);
    f->compared++;
    bool more = false;
    for (int i = 0; i < 2 && rc[0] == 0 && cursor; i++) {
      cJSON *j = cJSON_Parse(b[i].data);
      const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "next_cursor");
      if (cJSON_IsString(n)) snprintf(cur[i], sizeof cur[i], "%s", n->valuestring), more = true;
      cJSON_Delete(j);
    }
    kl_buf_free(&b[0]);
    kl_buf_free(&b[1]);
    if (!more) break;
  }
  if (cursor) *cursor = NULL;
}

static int r_traces(kl_store *s, void *f, kl_buf *b, kl_err *e) { return kl_store_list_traces(s, f, b, e); }
static int r_obs(kl_store *s, void *f, kl_buf *b, kl_err *e) { return kl_store_list_observations(s, f, b, e); }
static int r_scores(kl_store *s, void *f, kl_buf *b, kl_err *e) { return kl_store_list_scores(s, f, b, e); }
static int r_sessions(kl_store *s, void *f, kl_buf *b, kl_err *e) { return kl_store_list_sessions(s, f, b, e); }
static int r_users(kl_store *s, void *f, kl_buf *b, kl_err *e) { return kl_store_list_users(s, f, b, e); }
static int r_metrics(kl_store *s, void *f, kl_buf *b, kl_err *e) { return kl_store_metrics(s, f, b, e); }
static const char *g_id, *g_trace;
static int r_trace(kl_store *s, void *f, kl_buf *b, kl_err *e) { return (void)f, kl_store_get_trace(s, NULL, g_id, b, e); }
static int r_obs1(kl_store *s, void *f, kl_buf *b, kl_err *e) { return (void)f, kl_store_get_observation(s, NULL, g_id, b, e); }
static int r_find(kl_store *s, void *f, kl_buf *b, kl_err *e) {
  return (void)f, kl_store_find_observation(s, NULL, g_trace, g_id, b, e);
}
static int r_score(kl_store *s, void *f, kl_buf *b, kl_err *e) { return (void)f, kl_store_get_score(s, NULL, g_id, b, e); }
static int r_session(kl_store *s, void *f, kl_buf *b, kl_err *e) { return (void)f, kl_store_get_session(s, NULL, g_id, b, e); }
static int r_user(kl_store *s, void *f, kl_buf *b, kl_err *e) { return (void)f, kl_store_get_user(s, NULL, g_id, b, e); }

static void test_parity(void **state) {
  if (!kl_test_pg()) {
    print_message("skipped: KEEL_TEST_PG_URL is not set\n");
    skip();
  }
  fx *f = *state;
  dataset(f);
  const int64_t T0 = 1700000000LL * S;
  kl_trace_filter tf[] = {
      {0}, {.limit = 4}, {.limit = 1}, {.user_id = "u1", .limit = 2}, {.session_id = "s0"}, {.model = "m-big"},
      {.name = "chat", .limit = 3}, {.from_ns = T0 + 61 * S, .to_ns = T0 + 300 * S, .limit = 2}, {.since_ns = T0 + 100 * S},
      {.since_ns = T0 + 1, .limit = 4}, {.status = "error"}, {.status = "ok", .limit = 5}, {.level = "WARNING"},
      {.level = "DEBUG"}, {.level = "ERROR"}, {.level = "DEFAULT"}, {.tags = "a"}, {.tags = "a, b"}, {.tags = "c d"},
      {.tags = "zzz"}, {.q = "alpha"}, {.q = "PARCEL rotterdam", .limit = 2}, {.q = "depot-7"}, {.q = "\"zeppelin\""},
      {.q = "nothing-like-this"}, {.q = "  "}, {.q = "gamma alpha"}, {.q = "--"}, {.q = "zeppelin noon", .type = "GENERATION"},
      /* diacritics fold as SQLite's unicode61 folds them: é, ü, ó, ź do; ł, æ, ø and stacked ones (ấ) do not */
      {.q = "cafe"}, {.q = "CAFÉ zurich"}, {.q = "zürich"}, {.q = "łódź"}, {.q = "łodz"}, {.q = "lodz"}, {.q = "aero"},
      {.q = "ap"}, {.q = "ấp"}, {.q = "ÇAFE"},
      {.ranges = KL_RANGE_MIN_COST, .min_cost = 0.001}, {.ranges = KL_RANGE_MAX_COST, .max_cost = 0.0011},
      {.ranges = KL_RANGE_MIN_LATENCY | KL_RANGE_MAX_LATENCY, .min_latency_ms = 100, .max_latency_ms = 700.5},
      {.trace_id = "t04"}, {.trace_id = "lf-trace"}, {.type = "EMBEDDING"}, {.user_id = "u2", .model = "m-small"},
      {.session_id = "s1", .level = "ERROR", .limit = 2}, {.status = "bad"}, {.level = "x"}, {.cursor = "!!"},
      {.limit = -1}, {.tags = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"}, {.ranges = KL_RANGE_MIN_COST, .min_cost = -1},
  };
  /* the folded searches find rows (parity alone would pass if neither backend found any) */
  for (int i = 0; i < 2; i++) {
    kl_trace_filter cafe = {.q = "CAFE zurich"};
    kl_buf got = KL_BUF_INIT;
    kl_err e;
    kl_err_clear(&e);
    assert_int_equal(r_obs(f->s[i], &cafe, &got, &e), 0);
    cJSON *j = cJSON_Parse(got.data);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")) > 0);
    cJSON_Delete(j);
    kl_buf_free(&got);
  }
  char what[64];
  for (size_t i = 0; i < sizeof tf / sizeof tf[0]; i++) {
    snprintf(what, sizeof what, "traces #%zu", i);
    same(f, what, r_traces, &tf[i], &tf[i].cursor);
    snprintf(what, sizeof what, "observations #%zu", i);
    same(f, what, r_obs, &tf[i], &tf[i].cursor);
  }
  kl_score_filter sf[] = {{0}, {.limit = 3}, {.trace_id = "t01"}, {.observation_id = "t00-g0"}, {.session_id = "s0"},
                          {.name = "quality", .limit = 2}, {.source = "eval"}, {.data_type = "boolean"},
                          {.from_ns = T0 + 2 * S, .to_ns = T0 + 5 * S}, {.source = "bad"}, {.data_type = "x"}};
  for (size_t i = 0; i < sizeof sf / sizeof sf[0]; i++) {
    snprintf(what, sizeof what, "scores #%zu", i);
    same(f, what, r_scores, &sf[i], &sf[i].cursor);
  }
  kl_group_filter gf[] = {{0}, {.limit = 1}, {.limit = 2}, {.user_id = "u1"}, {.from_ns = T0 + 61 * S, .to_ns = T0 + 400 * S}};
  for (size_t i = 0; i < sizeof gf / sizeof gf[0]; i++) {
    snprintf(what, sizeof what, "sessions #%zu", i);
    same(f, what, r_sessions, &gf[i], &gf[i].cursor);
    snprintf(what, sizeof what, "users #%zu", i);
    same(f, what, r_users, &gf[i], &gf[i].cursor);
  }
  for (int g = KL_GROUP_NONE; g <= KL_GROUP_NAME; g++)
    for (int b = KL_BUCKET_NONE; b <= KL_BUCKET_DAY; b++) {
      kl_metrics_filter mf = {.group_by = g, .bucket = b};
      snprintf(what, sizeof what, "metrics group %d bucket %d", g, b);
      same(f, what, r_metrics, &mf, NULL);
      mf.type = KL_OBS_SPAN, mf.from_ns = T0 + 60 * S;
      same(f, what, r_metrics, &mf, NULL);
    }
  kl_metrics_filter bad = {.group_by = 9};
  same(f, "metrics bad group", r_metrics, &bad, NULL);
  static const char *ids[] = {"t00", "t03", "t07", "t10", "t29", "lf-trace", "nope"};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    g_id = ids[i];
    same(f, ids[i], r_trace, NULL, NULL);
  }
  static const char *obs[][2] = {{"lf-gen", NULL}, {"lf-orphan", NULL}, {"t02-g1", NULL}, {"t02-g1", "t02"},
                                 {"t02-g1", "t03"}, {"nope", NULL}};
  for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
    g_id = obs[i][0], g_trace = obs[i][1];
    same(f, g_id, r_obs1, NULL, NULL);
    same(f, g_id, r_find, NULL, NULL);
  }
  static const char *more[] = {"sc00", "sc05", "sc13", "nope", "s0", "s1", "u0", "u1", "u3"};
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
    g_id = more[i];
    same(f, more[i], r_score, NULL, NULL);
    same(f, more[i], r_session, NULL, NULL);
    same(f, more[i], r_user, NULL, NULL);
  }
  print_message("%d answers compared\n", f->compared);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test_setup_teardown(test_parity, setup, teardown)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
