/* test_store_tagg.c: the per-batch trace aggregation of ingested spans (store/ingest_tagg.c)
 * gives exactly the traces one-span-at-a-time maintenance gives.
 *
 * The same records go into two SQLite stores: one with batch_max 1 (every record its own
 * transaction: the aggregate of one span is the old per-span upsert) and one paused while
 * they are queued, so each phase is a single batch in which the spans of a trace are
 * summed before one upsert.  The traces (get_trace: the row and its observations) and the
 * trace list must come out byte-identical.  The records exercise every aggregated column
 * (sums, min start, max end, first model with a tie, latest name/user, levels, errors,
 * costs present and absent) and the orderings the aggregation must respect: keel's own
 * observation in the middle of a trace's spans, a Langfuse trace record between spans of its
 * trace, an update replacing a span created in the same batch (recomputed at the end), and
 * a trace that already has a row from an earlier batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/kl_api.h"
#include "store/store_int.h"
#include "test_tmpdir.h"

static kl_store *open_store(const char *dir, size_t batch_max) {
  kl_store_opts o = {.data_dir = dir, .flush_interval_ms = 5, .merge = kl_api_ingest_merge, .batch_max = batch_max};
  kl_err err;
  kl_err_clear(&err);
  kl_store *s = kl_store_open(&o, &err);
  if (!s) fail_msg("open: %s", err.msg);
  return s;
}

static kl_obs_patch span(const char *trace, int i) {
  kl_obs_patch p;
  memset(&p, 0, sizeof p);
  snprintf(p.obs.id, sizeof p.obs.id, "s%s-%d", trace, i);
  snprintf(p.obs.trace_id, sizeof p.obs.trace_id, "%s", trace);
  p.obs.type = i % 3 == 2 ? KL_OBS_SPAN : KL_OBS_GENERATION;
  p.obs.name = "chat";
  static const char *const models[] = {"m-a", "m-b", NULL, "m-c", "m-d"};
  p.obs.model = models[i % 5];
  p.obs.start_ns = 1000000 + (i % 4) * 1000 - (i == 3 ? 2000 : 0); /* spans 0 and 4 tie; 3 is earliest */
  p.obs.end_ns = i % 4 == 1 ? 0 : p.obs.start_ns + 500 * (i + 1);
  static const char *const levels[] = {NULL, "ERROR", "WARNING", "DEBUG", "ERROR"};
  p.obs.level = levels[i % 5];
  p.obs.usage_input = 10 * (i + 1);
  p.obs.usage_input_cached = i;
  p.obs.usage_output = 3 + i;
  p.obs.usage_output_reasoning = i % 2;
  p.obs.cost_usd = i % 3 == 1 ? -1 : 0.25 * (i + 1); /* exact binary fractions: sums are exact */
  p.obs.trace_name = i % 2 || i == 4 ? NULL : i == 6 ? "renamed" : "first"; /* T1: keel's own row (between spans 2 and 3) has the latest name after phase 1 */
  p.obs.user_id = i == 1 ? "u1" : i == 3 ? "u3" : NULL;
  p.obs.session_id = i == 2 ? "sess" : NULL;
  p.obs.tags_json = i == 0 ? "[\"a\"]" : NULL;
  p.obs.input_json = "\"hi\"";
  p.set = KL_OBS_F_TYPE | KL_OBS_F_NAME | KL_OBS_F_MODEL | KL_OBS_F_START | KL_OBS_F_END | KL_OBS_F_LEVEL |
          KL_OBS_F_USAGE | KL_OBS_F_COST | KL_OBS_F_TRACE_NAME | KL_OBS_F_USER | KL_OBS_F_SESSION | KL_OBS_F_TAGS |
          KL_OBS_F_INPUT;
  return p;
}

static kl_obs own_obs(const char *trace) {
  kl_obs o;
  memset(&o, 0, sizeof o);
  snprintf(o.id, sizeof o.id, "own-%s", trace);
  snprintf(o.trace_id, sizeof o.trace_id, "%s", trace);
  o.type = KL_OBS_GENERATION;
  o.name = "gateway";
  o.model = "m-own";
  o.start_ns = 998000; /* the earliest generation: its model wins */
  o.end_ns = 999000;
  o.usage_input = 7;
  o.usage_output = 1;
  o.cost_usd = 0.125;
  o.trace_name = "own-name";
  o.user_id = "own-user";
  return o;
}

static kl_obs_patch trace_record(const char *trace) {
  kl_obs_patch p;
  memset(&p, 0, sizeof p);
  snprintf(p.obs.id, sizeof p.obs.id, "%s", trace);
  snprintf(p.obs.trace_id, sizeof p.obs.trace_id, "%s", trace);
  p.trace_record = true;
  p.received_ns = 5000;
  p.obs.trace_name = p.obs.name = "from-record";
  p.obs.user_id = "rec-user";
  p.obs.start_ns = 990000;
  p.obs.cost_usd = -1;
  p.set = KL_OBS_F_TRACE_NAME | KL_OBS_F_NAME | KL_OBS_F_USER | KL_OBS_F_START;
  return p;
}

static void submit_patch(kl_store *s, const kl_obs_patch *p) {
  kl_err err;
  kl_err_clear(&err);
  if (kl_store_submit_patch(s, p, &err) != 0) fail_msg("submit: %s", err.msg);
}

static void feed(kl_store *s, int phase) {
  kl_err err;
  kl_err_clear(&err);
  if (phase == 1) {
    for (int i = 0; i < 3; i++) {
      kl_obs_patch p = span("T1", i);
      submit_patch(s, &p);
    }
    kl_obs o = own_obs("T1");
    if (kl_store_submit(s, &o, &err) != 0) fail_msg("submit: %s", err.msg);
    for (int i = 3; i < 5; i++) {
      kl_obs_patch p = span("T1", i);
      submit_patch(s, &p);
    }
    for (int i = 0; i < 2; i++) {
      kl_obs_patch p = span("T2", i);
      submit_patch(s, &p);
    }
    kl_obs_patch r = trace_record("T2");
    submit_patch(s, &r);
    for (int i = 2; i < 5; i++) {
      kl_obs_patch p = span("T2", i);
      submit_patch(s, &p);
    }
    kl_obs_patch c = span("T3", 0), u;
    submit_patch(s, &c);
    kl_obs_patch c2 = span("T3", 1);
    submit_patch(s, &c2);
    memset(&u, 0, sizeof u);
    memcpy(u.obs.id, c.obs.id, sizeof u.obs.id);
    memcpy(u.obs.trace_id, c.obs.trace_id, sizeof u.obs.trace_id);
    u.update = true;
    u.received_ns = 1;
    u.obs.end_ns = 2000000;
    u.obs.output_json = "\"done\"";
    u.obs.cost_usd = -1;
    u.set = KL_OBS_F_END | KL_OBS_F_OUTPUT;
    submit_patch(s, &u);
  } else { /* phase 2: more spans of traces that already have rows */
    for (int i = 5; i < 10; i++) {
      kl_obs_patch p = span("T1", i);
      submit_patch(s, &p);
      p = span("T3", i);
      submit_patch(s, &p);
    }
  }
}

static void run(kl_store *s, bool one_batch, int phase) {
  if (one_batch) kl_store__test_pause(s, true);
  feed(s, phase);
  if (one_batch) kl_store__test_pause(s, false);
  kl_store_flush(s);
}

static void dump(kl_store *s, kl_buf *out) {
  kl_err err;
  kl_err_clear(&err);
  static const char *const traces[] = {"T1", "T2", "T3"};
  for (int i = 0; i < 3; i++) {
    if (kl_store_get_trace(s, "default", traces[i], out, &err) != 0) fail_msg("get_trace: %s", err.msg);
    kl_buf_puts(out, "\n");
  }
  kl_trace_filter f;
  memset(&f, 0, sizeof f);
  if (kl_store_list_traces(s, &f, out, &err) != 0) fail_msg("list: %s", err.msg);
}

static void test_batched_equals_per_span(void **state) {
  (void)state;
  char d1[] = "/tmp/kl-tagg-XXXXXX", d2[] = "/tmp/kl-tagg-XXXXXX";
  assert_non_null(mkdtemp(d1));
  assert_non_null(mkdtemp(d2));
  kl_store *ref = open_store(d1, 1), *agg = open_store(d2, 1024);
  kl_buf a = KL_BUF_INIT, b = KL_BUF_INIT;
  for (int phase = 1; phase <= 2; phase++) {
    run(ref, false, phase);
    run(agg, true, phase);
    kl_buf_reset(&a);
    kl_buf_reset(&b);
    dump(ref, &a);
    dump(agg, &b);
    kl_buf_putc(&a, 0);
    kl_buf_putc(&b, 0);
    if (strcmp(a.data, b.data) != 0) fail_msg("phase %d differs:\nper span:\n%s\nbatched:\n%s", phase, a.data, b.data);
  }
  kl_store_stats st;
  kl_store_get_stats(agg, &st);
  assert_int_equal(st.batches, 2); /* the aggregating store really wrote each phase as one batch */
  if (getenv("TAGG_DUMP")) printf("%s\n", b.data);
  /* and they are the sums expected, not merely equal */
  assert_non_null(strstr(b.data, "{\"id\":\"T1\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"name\":\"first\","
                                 "\"user_id\":\"u3\",\"session_id\":\"sess\",\"tags\":[\"a\"],\"model\":\"m-own\","
                                 "\"input_tokens\":602,\"output_tokens\":81,\"cost_usd\":10.125,\"latency_ms\":0.009,"
                                 "\"status\":\"error\",\"observation_count\":11,\"level\":\"ERROR\"}"));
  assert_non_null(strstr(b.data, "\"model\":\"m-a\",\"input_tokens\":466,\"output_tokens\":61,\"cost_usd\":8.25,"
                                 "\"latency_ms\":1,\"status\":\"error\",\"observation_count\":7"));
  kl_buf_free(&a);
  kl_buf_free(&b);
  kl_store_close(ref);
  kl_store_close(agg);
  kl_test_rmtree(d1);
  kl_test_rmtree(d2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batched_equals_per_span),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
