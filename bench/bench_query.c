/* bench_query.c: the query API's reads over a big store.
 *
 *   bench_query [observations] [dir]
 *
 * Fills `dir` (a temp dir by default; an existing keel.db there is reused as is, so a second
 * run measures queries only) with `observations` rows (default 1M) through kl_store_submit:
 * traces of 4 observations (a root SPAN, two GENERATIONs with input/output text, an EVENT)
 * spread over 30 days, 1000 users, 20000 sessions, 5 models, 0-2 tags of 6, 2% ERROR
 * generations, 3% WARNING events; words from a 2000-word vocabulary plus "zebra" in 0.1% of
 * generations (a rare word) and "invoice" in 5% (a common one).  Then times each query
 * (median of 5 runs, ms) and prints the JSON size of the answer.  FULLTEXT=0 builds the store
 * without the full-text index (and skips the q= queries).
 *
 * Goals (issue 5): lists under 200 ms, aggregates under 1 s, on a Release build.  Measured
 * (Release, 2 shared cores, 1M observations, 950 MB): every list 0.02-3 ms except q= of a
 * word in 5% of rows (traces ~100 ms, observations ~60 ms: cost follows the matches);
 * sessions/users over all 30 days ~250-280 ms; metrics over the whole range 0.26-0.6 s.
 *
 * PostgreSQL: KEEL_STORE_URL=postgresql://... runs the same against that database (it should
 * be empty; REUSE=1 skips the fill and measures what is there). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/kl_store.h"

#define DAY_NS (86400LL * 1000000000LL)
static const char *const models[] = {"gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5",
                                     "gpt-4.1"};
static const char *const tagset[] = {"[]", "[\"prod\"]", "[\"prod\",\"eu\"]", "[\"staging\"]", "[\"prod\",\"us\"]",
                                     "[\"beta\",\"eu\"]"};
static const char *const names[] = {"support-chat", "summarize", "classify", "rag-answer", "agent-run"};

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void text(char *out, size_t words, const char *extra) {
  size_t n = 0;
  n += (size_t)sprintf(out + n, "[{\"role\":\"user\",\"content\":\"");
  for (size_t i = 0; i < words; i++) n += (size_t)sprintf(out + n, "w%04u ", (unsigned)(rnd() % 2000));
  if (extra) n += (size_t)sprintf(out + n, "%s ", extra);
  sprintf(out + n, "\"}]");
}

static int fill(kl_store *s, int n, int64_t base) {
  kl_err err;
  kl_err_clear(&err);
  int traces = n / 4;
  int64_t step = 30 * DAY_NS / traces;
  char in[1024], out[512];
  for (int t = 0; t < traces; t++) {
    char tid[33], user[16], sess[16];
    snprintf(tid, sizeof tid, "%016" PRIx64 "%016" PRIx64, (uint64_t)(base + t * step), rnd());
    snprintf(user, sizeof user, "user-%u", (unsigned)(rnd() % 1000));
    snprintf(sess, sizeof sess, "sess-%u", (unsigned)(rnd() % 20000));
    const char *tags = tagset[rnd() % 6], *name = names[rnd() % 5];
    int64_t t0 = base + t * step;
    for (int k = 0; k < 4; k++) {
      kl_obs o;
      memset(&o, 0, sizeof o);
      snprintf(o.trace_id, sizeof o.trace_id, "%s", tid);
      snprintf(o.id, sizeof o.id, "%016" PRIx64, rnd());
      o.trace_name = name;
      o.user_id = user;
      o.session_id = sess;
      o.tags_json = tags;
      o.cost_usd = -1;
      o.start_ns = t0 + k * 1000000;
      if (k == 0) {
        o.type = KL_OBS_SPAN;
        o.name = name;
        o.end_ns = t0 + 3000000000LL;
      } else if (k < 3) {
        o.type = KL_OBS_GENERATION;
        o.name = "llm";
        snprintf(o.parent_id, sizeof o.parent_id, "root");
        o.model = models[rnd() % 6];
        uint64_t r = rnd() % 1000;
        text(in, 40 + rnd() % 40, r == 0 ? "zebra" : r < 50 ? "invoice" : NULL);
        text(out, 20 + rnd() % 20, NULL);
        o.input_json = in;
        o.output_json = out;
        o.usage_input = 100 + (int64_t)(rnd() % 900);
        o.usage_output = 20 + (int64_t)(rnd() % 300);
        o.cost_usd = (double)(o.usage_input * 15 + o.usage_output * 60) / 1e8;
        int64_t lat = 200000000LL + (int64_t)(rnd() % 2800000000ULL);
        o.end_ns = o.start_ns + lat;
        o.completion_start_ns = o.start_ns + lat / 5;
        if (rnd() % 50 == 0) {
          o.level = "ERROR";
          o.status_message = "upstream 500";
        }
      } else {
        o.type = KL_OBS_EVENT;
        o.name = "guard";
        o.level = rnd() % 33 == 0 ? "WARNING" : "DEFAULT";
      }
      if (kl_store_submit(s, &o, &err) != 0) {
        fprintf(stderr, "submit: %s\n", err.msg);
        return -1;
      }
    }
  }
  return 0;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef int (*qfn)(kl_store *s, const void *f, kl_buf *out, kl_err *err);

static void timeit(kl_store *s, const char *label, qfn fn, const void *f) {
  double ms[5];
  size_t bytes = 0;
  for (int i = 0; i < 5; i++) {
    kl_buf b = KL_BUF_INIT;
    kl_err err;
    kl_err_clear(&err);
    int64_t t0 = kl_mono_ns();
    if (fn(s, f, &b, &err) != 0) {
      printf("%-58s ERROR %s\n", label, err.msg);
      kl_buf_free(&b);
      return;
    }
    ms[i] = (double)(kl_mono_ns() - t0) / 1e6;
    bytes = b.len;
    kl_buf_free(&b);
  }
  qsort(ms, 5, sizeof ms[0], cmpd);
  printf("%-58s %9.2f ms  (min %.2f, %zu bytes)\n", label, ms[2], ms[0], bytes);
}

static int list_traces(kl_store *s, const void *f, kl_buf *o, kl_err *e) { return kl_store_list_traces(s, f, o, e); }
static int list_obs(kl_store *s, const void *f, kl_buf *o, kl_err *e) { return kl_store_list_observations(s, f, o, e); }
static int sessions(kl_store *s, const void *f, kl_buf *o, kl_err *e) { return kl_store_list_sessions(s, f, o, e); }
static int users(kl_store *s, const void *f, kl_buf *o, kl_err *e) { return kl_store_list_users(s, f, o, e); }
static int metrics(kl_store *s, const void *f, kl_buf *o, kl_err *e) { return kl_store_metrics(s, f, o, e); }
static int session(kl_store *s, const void *f, kl_buf *o, kl_err *e) { return kl_store_get_session(s, NULL, f, o, e); }
static int user(kl_store *s, const void *f, kl_buf *o, kl_err *e) { return kl_store_get_user(s, NULL, f, o, e); }

/* next_cursor of the page ending at `to` (a cursor deep in the list) */
static char *cursor_at(kl_store *s, int64_t to, bool obs) {
  kl_trace_filter f = {.to_ns = to, .limit = 1};
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  if ((obs ? kl_store_list_observations(s, &f, &b, &err) : kl_store_list_traces(s, &f, &b, &err)) != 0) return NULL;
  char *c = strstr(b.data, "\"next_cursor\":\"");
  char *r = NULL;
  if (c) {
    c += strlen("\"next_cursor\":\"");
    r = strndup(c, (size_t)(strchr(c, '"') - c));
  }
  kl_buf_free(&b);
  return r;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000000;
  char tmpl[] = "/tmp/kl-bench-query-XXXXXX";
  const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
  if (n < 8 || !dir) return 2;
  bool fulltext = !getenv("FULLTEXT") || atoi(getenv("FULLTEXT")) != 0;
  char db[512];
  snprintf(db, sizeof db, "%s/keel.db", dir);
  struct stat sb;
  const char *url = getenv("KEEL_STORE_URL");
  bool pg = url && *url;
  bool reuse = pg ? getenv("REUSE") && atoi(getenv("REUSE")) : stat(db, &sb) == 0;
  kl_store_opts o = {.data_dir = dir, .queue_capacity = 1u << 20, .batch_max = 2048,
                     .fulltext = fulltext ? KL_FULLTEXT_ON : KL_FULLTEXT_OFF,
                     .backend = pg ? "postgres" : NULL, .url = pg ? url : NULL};
  kl_err err;
  kl_err_clear(&err);
  kl_store *s = kl_store_open(&o, &err);
  if (!s) {
    fprintf(stderr, "open: %s\n", err.msg);
    return 1;
  }
  int64_t base = 1767225600LL * 1000000000LL; /* 2026-01-01 */
  if (!reuse) {
    int64_t t0 = kl_mono_ns();
    if (fill(s, n, base) != 0) return 1;
    kl_store_flush(s);
    double sec = (double)(kl_mono_ns() - t0) / 1e9;
    printf("filled %d observations in %.1f s: %.0f rows/s (fulltext %s)\n", n, sec, n / sec, fulltext ? "on" : "off");
  }
  int64_t mid = base + 15 * DAY_NS;
  char *tcur = cursor_at(s, mid, false), *ocur = cursor_at(s, mid, true);
  struct { const char *label; kl_trace_filter f; } tq[] = {
      {"traces: first page", {0}},
      {"traces: deep cursor page (mid-range)", {.cursor = tcur}},
      {"traces: user_id", {.user_id = "user-7"}},
      {"traces: session_id", {.session_id = "sess-77"}},
      {"traces: model", {.model = "gpt-4.1"}},
      {"traces: name + tags=prod,eu", {.name = "summarize", .tags = "prod,eu"}},
      {"traces: status=error", {.status = "error"}},
      {"traces: level=WARNING", {.level = "WARNING"}},
      {"traces: min_cost + min_latency_ms", {.ranges = KL_RANGE_MIN_COST | KL_RANGE_MIN_LATENCY, .min_cost = 0.0004, .min_latency_ms = 2900}},
      {"traces: from/to one day + model + status=error", {.from_ns = mid, .to_ns = mid + DAY_NS, .model = "gpt-4o", .status = "error"}},
      {"traces: deep cursor + user_id", {.cursor = tcur, .user_id = "user-7"}},
      {"traces: q=zebra (rare)", {.q = "zebra"}},
      {"traces: q=invoice (5%)", {.q = "invoice"}},
      {"traces: q=invoice + model", {.q = "invoice", .model = "gpt-4o"}},
  };
  for (size_t i = 0; i < sizeof tq / sizeof tq[0]; i++) {
    if (tq[i].f.q && !fulltext) continue;
    timeit(s, tq[i].label, list_traces, &tq[i].f);
  }
  struct { const char *label; kl_trace_filter f; } oq[] = {
      {"observations: first page", {0}},
      {"observations: deep cursor page", {.cursor = ocur}},
      {"observations: type=GENERATION + model", {.type = KL_OBS_GENERATION, .model = "gpt-4.1"}},
      {"observations: user_id (via the user's traces)", {.user_id = "user-7"}},
      {"observations: session_id", {.session_id = "sess-77"}},
      {"observations: level=ERROR", {.level = "ERROR"}},
      {"observations: min_latency_ms=2990", {.ranges = KL_RANGE_MIN_LATENCY, .min_latency_ms = 2990}},
      {"observations: q=zebra", {.q = "zebra"}},
      {"observations: q=invoice", {.q = "invoice"}},
  };
  for (size_t i = 0; i < sizeof oq / sizeof oq[0]; i++) {
    if (oq[i].f.q && !fulltext) continue;
    timeit(s, oq[i].label, list_obs, &oq[i].f);
  }
  kl_group_filter g0 = {0}, g1 = {.from_ns = mid, .to_ns = mid + DAY_NS}, g2 = {.user_id = "user-7"};
  timeit(s, "sessions: first page (all 30 days)", sessions, &g0);
  timeit(s, "sessions: one day", sessions, &g1);
  timeit(s, "sessions: user_id", sessions, &g2);
  timeit(s, "session detail", session, "sess-77");
  timeit(s, "users: first page (all 30 days)", users, &g0);
  timeit(s, "user detail", user, "user-7");
  kl_metrics_filter m1 = {.group_by = KL_GROUP_MODEL, .bucket = KL_BUCKET_HOUR};
  kl_metrics_filter m2 = {0};
  kl_metrics_filter m3 = {.group_by = KL_GROUP_TAG, .bucket = KL_BUCKET_DAY};
  kl_metrics_filter m4 = {.group_by = KL_GROUP_USER};
  kl_metrics_filter m5 = {.group_by = KL_GROUP_MODEL, .bucket = KL_BUCKET_MINUTE, .from_ns = mid, .to_ns = mid + DAY_NS};
  timeit(s, "metrics: by model per hour, whole range", metrics, &m1);
  timeit(s, "metrics: none, whole range", metrics, &m2);
  timeit(s, "metrics: by tag per day, whole range", metrics, &m3);
  timeit(s, "metrics: by user, whole range", metrics, &m4);
  timeit(s, "metrics: by model per minute, one day", metrics, &m5);
  free(tcur);
  free(ocur);
  kl_store_close(s);
  if (argc <= 2) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}
