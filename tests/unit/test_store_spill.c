/* test_store_spill.c: the overflow path.  A full queue spills to spill.jsonl, a failed batch
 * is spilled rather than lost, and kl_store_open replays the file exactly once (skipping a
 * torn last line and unparsable lines) and deletes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"
#include "store_test_pg.h"
#include "test_tmpdir.h"

typedef struct {
  char dir[64];
  char spill[96];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  strcpy(f->dir, "/tmp/kl-spill-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->spill, sizeof f->spill, "%s/spill.jsonl", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  kl_test_rmtree(f->dir);
  free(f);
  return 0;
}

/* drain_ms < 0: spilled records wait for the next open (most tests here check that path) */
static kl_store *open_store_drain(const char *dir, size_t qcap, int drain_ms) {
  return kl_test_store_open((kl_store_opts){.data_dir = dir, .queue_capacity = qcap, .batch_max = 3,
                                            .flush_interval_ms = 5, .spill_drain_ms = drain_ms});
}
static kl_store *open_store(const char *dir, size_t qcap) { return open_store_drain(dir, qcap, -1); }

static kl_obs mk(int i, const char *trace) {
  kl_obs o;
  memset(&o, 0, sizeof o);
  snprintf(o.id, sizeof o.id, "obs%03d", i);
  snprintf(o.trace_id, sizeof o.trace_id, "%s", trace);
  o.type = KL_OBS_GENERATION;
  o.name = "n\xc3\xa9\n\"";
  o.start_ns = 1700000000000000000LL + i;
  o.usage_input = i;
  o.cost_usd = 0.5;
  return o;
}

static int count_lines(const char *path) {
  FILE *fp = fopen(path, "r");
  if (!fp) return -1;
  int n = 0, c;
  while ((c = fgetc(fp)) != EOF) n += c == '\n';
  fclose(fp);
  return n;
}

/* Trace T's observation count and input-token sum, -1 when absent. */
static int trace_count(kl_store *s, const char *trace, int *tokens) {
  kl_buf b = KL_BUF_INIT;
  kl_err err;
  kl_err_clear(&err);
  if (kl_store_get_trace(s, NULL, trace, &b, &err) != 0) {
    kl_buf_free(&b);
    assert_int_equal(err.code, 404);
    return -1;
  }
  cJSON *j = cJSON_Parse(b.data);
  assert_non_null(j);
  int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "observations"));
  assert_int_equal(n, (int)cJSON_GetObjectItemCaseSensitive(j, "observation_count")->valuedouble);
  if (tokens) *tokens = (int)cJSON_GetObjectItemCaseSensitive(j, "input_tokens")->valuedouble;
  /* every observation exactly once */
  cJSON *o;
  int i = 0;
  char prev[40] = "";
  cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(j, "observations")) {
    const char *id = cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring;
    assert_string_not_equal(id, prev);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, "n\xc3\xa9\n\"");
    snprintf(prev, sizeof prev, "%s", id);
    i++;
  }
  cJSON_Delete(j);
  kl_buf_free(&b);
  return n;
}

static void test_queue_full_spills_then_replays(void **state) {
  fx *f = *state;
  kl_store *s = open_store(f->dir, 2);
  kl_store__test_pause(s, true); /* the writer takes nothing: the queue fills at 2 */
  for (int i = 0; i < 10; i++) {
    kl_obs o = mk(i, "T");
    kl_err err;
    kl_err_clear(&err);
    assert_int_equal(kl_store_submit(s, &o, &err), 0);
  }
  kl_store_stats st;
  kl_store_get_stats(s, &st);
  assert_int_equal(st.submitted, 10);
  assert_int_equal(st.spilled, 8);
  assert_int_equal(st.queue_depth, 2);
  assert_int_equal(count_lines(f->spill), 8);
  kl_store__test_pause(s, false);
  kl_store_flush(s);
  assert_int_equal(trace_count(s, "T", NULL), 2); /* spilled ones wait for the next open */
  kl_store_close(s);
  assert_int_equal(count_lines(f->spill), 8);

  s = open_store(f->dir, 2);
  kl_store_get_stats(s, &st);
  assert_int_equal(st.replayed, 8);
  assert_int_equal(access(f->spill, F_OK), -1); /* deleted after replay */
  int tokens;
  assert_int_equal(trace_count(s, "T", &tokens), 10);
  assert_int_equal(tokens, 45); /* 0+1+..+9: nothing counted twice */
  kl_store_close(s);

  s = open_store(f->dir, 2); /* nothing replayed twice */
  kl_store_get_stats(s, &st);
  assert_int_equal(st.replayed, 0);
  assert_int_equal(trace_count(s, "T", NULL), 10);
  kl_store_close(s);
}

static void test_torn_and_bad_lines(void **state) {
  fx *f = *state;
  kl_buf b = KL_BUF_INIT;
  for (int i = 0; i < 5; i++) {
    kl_obs o = mk(i, "R");
    kl_obs_to_json(&o, &b);
    kl_buf_putc(&b, '\n');
    if (i == 2) kl_buf_puts(&b, "{\"not\":\"an observation\"}\n\n");
  }
  kl_obs o = mk(5, "R");
  kl_buf line = KL_BUF_INIT;
  kl_obs_to_json(&o, &line);
  kl_buf_append(&b, line.data, line.len / 2); /* torn: no newline */
  FILE *fp = fopen(f->spill, "w");
  assert_non_null(fp);
  assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
  fclose(fp);
  kl_buf_free(&b);
  kl_buf_free(&line);

  kl_store *s = open_store(f->dir, 16);
  kl_store_stats st;
  kl_store_get_stats(s, &st);
  assert_int_equal(st.replayed, 5);
  assert_int_equal(access(f->spill, F_OK), -1);
  int tokens;
  assert_int_equal(trace_count(s, "R", &tokens), 5);
  assert_int_equal(tokens, 10);
  kl_store_close(s);
}

static void test_replay_is_idempotent(void **state) {
  fx *f = *state;
  kl_store *s = open_store(f->dir, 16);
  for (int i = 0; i < 4; i++) {
    kl_obs o = mk(i, "I");
    assert_int_equal(kl_store_submit(s, &o, NULL), 0);
  }
  kl_store_close(s);
  /* a crash during an earlier replay can leave lines that are already in the database */
  kl_buf b = KL_BUF_INIT;
  for (int i = 2; i < 6; i++) {
    kl_obs o = mk(i, "I");
    kl_obs_to_json(&o, &b);
    kl_buf_putc(&b, '\n');
  }
  FILE *fp = fopen(f->spill, "w");
  assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
  fclose(fp);
  kl_buf_free(&b);
  s = open_store(f->dir, 16);
  int tokens;
  assert_int_equal(trace_count(s, "I", &tokens), 6);
  assert_int_equal(tokens, 15);
  kl_store_close(s);
}

/* While running, the writer replays what spilled once its queue is empty: an overload's
 * records show up without a restart, exactly once, and later spills start a new file. */
static void test_live_drain(void **state) {
  fx *f = *state;
  kl_store *s = open_store_drain(f->dir, 2, 0);
  kl_store__test_pause(s, true); /* the queue fills at 2, the other 8 spill */
  for (int i = 0; i < 10; i++) {
    kl_obs o = mk(i, "L");
    assert_int_equal(kl_store_submit(s, &o, NULL), 0);
  }
  assert_int_equal(count_lines(f->spill), 8);
  kl_store__test_pause(s, false);
  kl_store_stats st;
  for (int i = 0; i < 400; i++) { /* the drain runs within a flush interval or so */
    kl_store_get_stats(s, &st);
    if (st.replayed == 8) break;
    usleep(10000);
  }
  assert_int_equal(st.replayed, 8);
  int tokens;
  assert_int_equal(trace_count(s, "L", &tokens), 10);
  assert_int_equal(tokens, 45);
  assert_int_equal(access(f->spill, F_OK), -1); /* taken and deleted */
  char drain[128];
  snprintf(drain, sizeof drain, "%s/spill.draining.jsonl", f->dir);
  assert_int_equal(access(drain, F_OK), -1);
  /* a second overload spills into a fresh file and drains too */
  kl_store__test_pause(s, true);
  for (int i = 10; i < 15; i++) {
    kl_obs o = mk(i, "L");
    assert_int_equal(kl_store_submit(s, &o, NULL), 0);
  }
  assert_int_equal(count_lines(f->spill), 3);
  kl_store__test_pause(s, false);
  for (int i = 0; i < 400; i++) {
    kl_store_get_stats(s, &st);
    if (st.replayed == 11) break;
    usleep(10000);
  }
  assert_int_equal(st.replayed, 11);
  kl_store_flush(s);
  assert_int_equal(trace_count(s, "L", &tokens), 15);
  assert_int_equal(tokens, 105); /* 0+..+14: nothing twice */
  kl_store_close(s);
  s = open_store(f->dir, 2); /* nothing left to replay at open */
  kl_store_get_stats(s, &st);
  assert_int_equal(st.replayed, 0);
  assert_int_equal(trace_count(s, "L", NULL), 15);
  kl_store_close(s);
}

/* A big spill file is drained KL_DRAIN_SLICE batches at a time, resuming where it stopped:
 * 60 lines with batch_max 3 take three slices of 24, 24 and 12; every record lands once. */
static void test_live_drain_in_slices(void **state) {
  fx *f = *state;
  kl_store *s = open_store_drain(f->dir, 2, 0);
  kl_store__test_pause(s, true);
  for (int i = 0; i < 62; i++) {
    kl_obs o = mk(i, "S");
    assert_int_equal(kl_store_submit(s, &o, NULL), 0);
  }
  assert_int_equal(count_lines(f->spill), 60);
  kl_store__test_pause(s, false);
  kl_store_stats st;
  for (int i = 0; i < 500; i++) {
    kl_store_get_stats(s, &st);
    if (st.replayed == 60) break;
    usleep(10000);
  }
  assert_int_equal(st.replayed, 60);
  int tokens;
  assert_int_equal(trace_count(s, "S", &tokens), 62);
  assert_int_equal(tokens, 61 * 62 / 2);
  char drain[128];
  snprintf(drain, sizeof drain, "%s/spill.draining.jsonl", f->dir);
  assert_int_equal(access(drain, F_OK), -1);
  kl_store_close(s);
}

/* A drain file left by an interrupted drain is replayed at the next open, before the spill file. */
static void test_drain_file_replayed_at_open(void **state) {
  fx *f = *state;
  kl_store *s = open_store(f->dir, 2);
  kl_store__test_pause(s, true);
  for (int i = 0; i < 6; i++) {
    kl_obs o = mk(i, "D");
    assert_int_equal(kl_store_submit(s, &o, NULL), 0);
  }
  kl_store__test_pause(s, false);
  kl_store_close(s);
  char drain[128];
  snprintf(drain, sizeof drain, "%s/spill.draining.jsonl", f->dir);
  assert_int_equal(rename(f->spill, drain), 0); /* as if a drain had taken it, then crashed */
  s = open_store(f->dir, 2);
  kl_store_stats st;
  kl_store_get_stats(s, &st);
  assert_int_equal(st.replayed, 4);
  assert_int_equal(access(drain, F_OK), -1);
  assert_int_equal(trace_count(s, "D", NULL), 6);
  kl_store_close(s);
}

static void test_write_error_spills_batch(void **state) {
  fx *f = *state;
  kl_store *s = open_store(f->dir, 64);
  kl_store__test_pause(s, true);
  kl_store__test_fail_writes(s, 1);
  for (int i = 0; i < 5; i++) {
    kl_obs o = mk(i, "W");
    assert_int_equal(kl_store_submit(s, &o, NULL), 0);
  }
  kl_store__test_pause(s, false);
  kl_store_flush(s);
  kl_store_stats st;
  kl_store_get_stats(s, &st);
  assert_int_equal(st.write_errors, 1);
  assert_int_equal(st.spilled, 3);  /* the failed batch (batch_max 3) */
  assert_int_equal(st.written, 2);  /* the next batch succeeded */
  assert_int_equal(count_lines(f->spill), 3);
  assert_int_equal(trace_count(s, "W", NULL), 2);
  kl_store_close(s);
  s = open_store(f->dir, 64);
  int tokens;
  assert_int_equal(trace_count(s, "W", &tokens), 5);
  assert_int_equal(tokens, 10);
  kl_store_close(s);
}

/* A kept spill file (replay failed earlier) ending in a torn line must not swallow the
 * next appended line. */
static void test_append_after_torn_tail(void **state) {
  fx *f = *state;
  kl_store *s = open_store(f->dir, 1);
  FILE *fp = fopen(f->spill, "w"); /* appears after open: as if a replay had been kept */
  fputs("{\"id\":\"torn", fp);
  fclose(fp);
  kl_store__test_pause(s, true);
  for (int i = 0; i < 3; i++) {
    kl_obs o = mk(i, "A");
    assert_int_equal(kl_store_submit(s, &o, NULL), 0);
  }
  kl_store__test_pause(s, false);
  kl_store_close(s);
  assert_int_equal(count_lines(f->spill), 3);
  s = open_store(f->dir, 1);
  assert_int_equal(trace_count(s, "A", NULL), 3);
  kl_store_close(s);
}

int main(void) {
  kl_log_set_level(KL_LOG_ERROR);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_queue_full_spills_then_replays, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_and_bad_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_is_idempotent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_error_spills_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_drain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_live_drain_in_slices, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drain_file_replayed_at_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_append_after_torn_tail, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
