/* bench_store.c: rows/s through kl_store (submit -> writer -> SQLite) for ~1 KB rows.
 *
 *   bench_store [rows] [rows_per_trace] [dir]
 *
 * With REAL_IDS=1 in the environment the ids come from keel's own generators (random span
 * ids, time-ordered trace ids) instead of counters, as in production.  With ROWS=guardrail
 * every row is shaped like a rail's GUARDRAIL observation (no model, usage or input; a
 * small verdict as output) instead of a ~1 KB generation.
 *
 * Prints the caller-side submit rate and the end-to-end committed rate (submit of the first
 * row to the flush of the last).  FULLTEXT=0 turns the full-text index off.  Queue capacity is set to hold every row so nothing
 * spills and the number measures the writer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/kl_store.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000;
  int per_trace = argc > 2 ? atoi(argv[2]) : 4;
  char tmpl[] = "/tmp/kl-bench-XXXXXX";
  const char *dir = argc > 3 ? argv[3] : mkdtemp(tmpl);
  if (n <= 0 || per_trace <= 0 || !dir) return 2;
  kl_store_opts o = {.data_dir = dir, .queue_capacity = (size_t)n,
                     .fulltext = getenv("FULLTEXT") && !atoi(getenv("FULLTEXT")) ? KL_FULLTEXT_OFF : KL_FULLTEXT_ON};
  kl_err err;
  kl_err_clear(&err);
  kl_store *s = kl_store_open(&o, &err);
  if (!s) {
    fprintf(stderr, "open: %s\n", err.msg);
    return 1;
  }
  char input[900];
  memset(input, 'x', sizeof input);
  memcpy(input, "{\"messages\":[{\"role\":\"user\",\"content\":\"", 40);
  memcpy(input + sizeof input - 6, "\"}]}", 5);
  bool real_ids = getenv("REAL_IDS") && atoi(getenv("REAL_IDS"));
  bool rails = getenv("ROWS") && !strcmp(getenv("ROWS"), "guardrail");
  char trace[33] = "";
  int64_t t0 = kl_mono_ns();
  for (int i = 0; i < n; i++) {
    kl_obs ob;
    memset(&ob, 0, sizeof ob);
    if (real_ids) {
      if (i % per_trace == 0) kl_id_trace(trace);
      kl_id_span(ob.id);
      snprintf(ob.trace_id, sizeof ob.trace_id, "%s", trace);
    } else {
      snprintf(ob.id, sizeof ob.id, "%016x", i);
      snprintf(ob.trace_id, sizeof ob.trace_id, "%032x", i / per_trace);
    }
    ob.start_ns = kl_now_ns();
    ob.end_ns = ob.start_ns + 1000;
    if (rails) {
      ob.type = KL_OBS_GUARDRAIL;
      ob.name = "guardrail.input";
      ob.output_json = "{\"verdict\":\"allow\",\"findings\":[],\"latency_us\":21.4}";
      ob.metadata_json = "{\"policy\":\"everything\",\"stage\":\"input\",\"texts\":2}";
      ob.cost_usd = -1;
    } else {
      ob.type = KL_OBS_GENERATION;
      ob.model = "gpt-4o-mini";
      ob.user_id = "user-1";
      ob.usage_input = 10;
      ob.usage_output = 5;
      ob.cost_usd = 0.0001;
      ob.input_json = input;
    }
    if (kl_store_submit(s, &ob, &err) != 0) {
      fprintf(stderr, "submit: %s\n", err.msg);
      return 1;
    }
  }
  int64_t t1 = kl_mono_ns();
  kl_store_flush(s);
  int64_t t2 = kl_mono_ns();
  kl_store_stats st;
  kl_store_get_stats(s, &st);
  printf("%d rows, %d per trace: submit %.0f/s, committed %.0f rows/s (%" PRIu64 " batches, %" PRIu64
         " spilled)\n",
         n, per_trace, n / ((double)(t1 - t0) / 1e9), n / ((double)(t2 - t0) / 1e9), st.batches, st.spilled);
  kl_store_close(s);
  if (argc <= 3) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}
