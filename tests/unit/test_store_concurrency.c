/* test_store_concurrency.c: 4 submitting threads and 2 reading threads at once (WAL reads
 * beside the writer, the reader pool), then a 100k-row throughput run that prints rows/s
 * (informational: the assertion is only that every row arrives). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/kl_store.h"
#include "store_test_pg.h"
#include "test_tmpdir.h"

static char g_dir[64];
static kl_store *g_s;
static atomic_bool g_writing;
static atomic_int g_reads;

static int open_with_queue(size_t qcap) {
  strcpy(g_dir, "/tmp/kl-conc-XXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  kl_store_opts o = {.data_dir = g_dir, .queue_capacity = qcap};
  kl_test_store_opts(&o);
  kl_err err;
  kl_err_clear(&err);
  g_s = kl_store_open(&o, &err);
  return g_s ? 0 : -1;
}

static int setup(void **state) {
  (void)state;
  return open_with_queue(0);
}

/* the queue holds all 100k, so nothing spills and the number measures the writer */
static int setup_big(void **state) {
  (void)state;
  return open_with_queue(100000);
}

static int teardown(void **state) {
  (void)state;
  kl_store_close(g_s);
  kl_test_rmtree(g_dir);
  return 0;
}

enum { THREADS = 4, PER_THREAD = 5000 };

static void *submitter(void *arg) {
  int t = (int)(intptr_t)arg;
  for (int i = 0; i < PER_THREAD; i++) {
    kl_obs o;
    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "t%d-o%d", t, i);
    snprintf(o.trace_id, sizeof o.trace_id, "t%d-tr%d", t, i / 2); /* 2 observations per trace */
    o.type = KL_OBS_GENERATION;
    o.model = (i & 2) ? "m-even" : "m-odd";
    o.user_id = t % 2 ? "u1" : "u0";
    o.start_ns = 1700000000000000000LL + (int64_t)i * 1000 + t;
    o.end_ns = o.start_ns + 500;
    o.usage_input = 1;
    o.usage_output = 2;
    o.cost_usd = 0.25;
    o.input_json = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    kl_err err;
    kl_err_clear(&err);
    if (kl_store_submit(g_s, &o, &err) != 0) return (void *)1;
  }
  return NULL;
}

static void *reader(void *arg) {
  int r = (int)(intptr_t)arg;
  kl_buf b = KL_BUF_INIT;
  while (atomic_load(&g_writing)) {
    kl_trace_filter f = {.limit = 20, .user_id = r ? "u1" : NULL, .model = r ? NULL : "m-odd"};
    kl_err err;
    kl_err_clear(&err);
    kl_buf_reset(&b);
    if (kl_store_list_traces(g_s, &f, &b, &err) != 0) return (void *)1;
    cJSON *j = cJSON_Parse(b.data);
    if (!j) return (void *)2;
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "data"), 0);
    if (first) {
      char id[64];
      snprintf(id, sizeof id, "%s", cJSON_GetObjectItemCaseSensitive(first, "id")->valuestring);
      kl_buf_reset(&b);
      if (kl_store_get_trace(g_s, NULL, id, &b, &err) != 0) return (void *)3;
      cJSON *t = cJSON_Parse(b.data);
      if (!t) return (void *)4;
      /* a trace and its observations come from one snapshot: the count always matches */
      int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "observations"));
      if (n != (int)cJSON_GetObjectItemCaseSensitive(t, "observation_count")->valuedouble) return (void *)5;
      cJSON_Delete(t);
    }
    cJSON_Delete(j);
    atomic_fetch_add(&g_reads, 1);
  }
  kl_buf_free(&b);
  return NULL;
}

static void test_concurrent_submit_and_read(void **state) {
  (void)state;
  pthread_t w[THREADS], r[2];
  atomic_store(&g_writing, true);
  for (int i = 0; i < 2; i++) pthread_create(&r[i], NULL, reader, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_create(&w[i], NULL, submitter, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) {
    void *rv;
    pthread_join(w[i], &rv);
    assert_null(rv);
  }
  kl_store_flush(g_s);
  atomic_store(&g_writing, false);
  for (int i = 0; i < 2; i++) {
    void *rv;
    pthread_join(r[i], &rv);
    assert_null(rv);
  }
  kl_store_stats st;
  kl_store_get_stats(g_s, &st);
  assert_int_equal(st.submitted, THREADS * PER_THREAD);
  assert_int_equal(st.written, THREADS * PER_THREAD);
  assert_int_equal(st.spilled, 0);
  assert_int_equal(st.queue_depth, 0);
  print_message("      %d reads ran alongside %" PRIu64 " batches\n", atomic_load(&g_reads), st.batches);

  /* every trace once, each with both of its observations summed */
  char cursor[200] = "";
  int traces = 0;
  for (;;) {
    kl_trace_filter f = {.limit = 1000, .cursor = cursor[0] ? cursor : NULL};
    kl_buf b = KL_BUF_INIT;
    assert_int_equal(kl_store_list_traces(g_s, &f, &b, NULL), 0);
    cJSON *j = cJSON_Parse(b.data);
    cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(j, "data")) {
      assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(row, "input_tokens")->valuedouble, 2);
      assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(row, "output_tokens")->valuedouble, 4);
      assert_true(cJSON_GetObjectItemCaseSensitive(row, "cost_usd")->valuedouble == 0.5);
      traces++;
    }
    cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next_cursor");
    bool last = cJSON_IsNull(next);
    if (!last) snprintf(cursor, sizeof cursor, "%s", next->valuestring);
    cJSON_Delete(j);
    kl_buf_free(&b);
    if (last) break;
  }
  assert_int_equal(traces, THREADS * PER_THREAD / 2);
}

static void test_throughput_100k(void **state) {
  (void)state;
  enum { N = 100000 };
  char input[900];
  memset(input, 'x', sizeof input);
  memcpy(input, "{\"messages\":[{\"role\":\"user\",\"content\":\"", 40);
  memcpy(input + sizeof input - 6, "\"}]}", 5); /* ~1 KB rows, as in c-stack.md */
  kl_store_stats before;
  kl_store_get_stats(g_s, &before);
  int64_t t0 = kl_mono_ns();
  for (int i = 0; i < N; i++) {
    kl_obs o;
    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "%016x", i);
    snprintf(o.trace_id, sizeof o.trace_id, "%032x", i / 4);
    o.type = KL_OBS_GENERATION;
    o.model = "gpt-4o-mini";
    o.start_ns = 1750000000000000000LL + i;
    o.end_ns = o.start_ns + 1000;
    o.usage_input = 10;
    o.usage_output = 5;
    o.cost_usd = 0.0001;
    o.input_json = input;
    assert_int_equal(kl_store_submit(g_s, &o, NULL), 0);
  }
  int64_t t1 = kl_mono_ns();
  kl_store_flush(g_s);
  int64_t t2 = kl_mono_ns();
  kl_store_stats st;
  kl_store_get_stats(g_s, &st);
  assert_int_equal(st.written - before.written, N);
  assert_int_equal(st.spilled, 0);
  print_message("      100k submits: %.0f submits/s on the caller; %.0f rows/s committed end to end"
                " (%" PRIu64 " batches)\n",
                N / ((double)(t1 - t0) / 1e9), N / ((double)(t2 - t0) / 1e9), st.batches - before.batches);
}

int main(void) {
  kl_log_set_level(KL_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_concurrent_submit_and_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_throughput_100k, setup_big, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
