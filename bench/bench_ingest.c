/* bench_ingest.c: how fast ingested spans get decoded and committed into SQLite.
 *
 *   bench_ingest [spans] [spans_per_trace] [dir]
 *
 * 1. decode: an OTLP/JSON body of 512 GenAI spans (~1 KB each, like an OTel SDK export
 *    batch) and the same in protobuf, decoded and mapped (kl_ingest_otlp_json/pb +
 *    kl_ingest_otlp_map) over and over: MB/s and spans/s on one core.  This is what sets
 *    ingest.c's INLINE_MAX (decode on the loop below it, on the thread pool above).
 * 2. store: `spans` mapped records through kl_store_submit_patch -> writer -> SQLite, end to
 *    end (first submit to the flush of the last), as
 *      a. new spans (OTLP: every record a create; the INSERT .. DO NOTHING fast path),
 *      b. Langfuse-style pairs: a create and later an update of each observation (the merge
 *         path: lookup, kl_ingest_merge, replace, trace recompute),
 *      c. the same rows as keel's own observations (kl_store_submit), for comparison.
 * BATCH=N sets the store's batch_max (default 512); MODES=ab runs only those store modes;
 * NO_DECODE=1 skips step 1.  CPU/span is the writer thread's user+system time over the store
 * run (the process's minus the submitting thread's): steadier than spans/s on a shared box.  Span ids are random; trace ids are random too, as OTel SDKs make them (W3C), unless
 * ORDERED_IDS=1 asks for keel's time-ordered ones.  The observations primary key leads with
 * the trace id, so random trace ids mean random B-tree inserts: that is the store's cost. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RUSAGE_THREAD */
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/kl_api.h"
#include "trace/kl_ingest.h"

#define BATCH 512

static void hex(char *out, size_t nbytes) {
  unsigned char b[32];
  kl_random_bytes(b, nbytes);
  for (size_t i = 0; i < nbytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* An OTLP/JSON ExportTraceServiceRequest of n GenAI spans. */
static void json_body(kl_buf *b, int n) {
  char trace[33], span[17];
  kl_buf_puts(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"bench\"}}]},"
                 "\"scopeSpans\":[{\"scope\":{\"name\":\"bench\",\"version\":\"1\"},\"spans\":[");
  for (int i = 0; i < n; i++) {
    if (i % 4 == 0) hex(trace, 16);
    hex(span, 8);
    kl_buf_printf(b,
                  "%s{\"traceId\":\"%s\",\"spanId\":\"%s\",\"name\":\"chat gpt-4o-mini\",\"kind\":3,"
                  "\"startTimeUnixNano\":\"1767225600000000000\",\"endTimeUnixNano\":\"1767225600500000000\","
                  "\"attributes\":[{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
                  "{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"gpt-4o-mini\"}},"
                  "{\"key\":\"gen_ai.provider.name\",\"value\":{\"stringValue\":\"openai\"}},"
                  "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"120\"}},"
                  "{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":\"30\"}},"
                  "{\"key\":\"user.id\",\"value\":{\"stringValue\":\"user-1\"}},"
                  "{\"key\":\"gen_ai.input.messages\",\"value\":{\"stringValue\":\"[{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"%0500d\\\"}]\"}}],"
                  "\"status\":{\"code\":1}}",
                  i ? "," : "", trace, span, i);
  }
  kl_buf_puts(b, "]}]}]}");
}

/* Protobuf: the captured one-span request repeated n times (concatenated messages merge:
 * n resource_spans of one span each). */
static int pb_body(kl_buf *b, int n) {
  const char *src = getenv("KEEL_SOURCE_DIR") ? getenv("KEEL_SOURCE_DIR") : ".";
  char path[512];
  snprintf(path, sizeof path, "%s/tests/data/captures/otlp-http-protobuf-01.bin", src);
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  char buf[65536];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  for (int i = 0; i < n; i++) kl_buf_append(b, buf, len);
  return 0;
}

static double secs(int64_t t0) { return (double)(kl_mono_ns() - t0) / 1e9; }

/* CPU seconds (user + system) of the threads other than this one: during a store run, the
 * writer's (the store's only thread).  *sys gets the system part. */
static double cpu_secs(double *sys) {
  struct rusage all, me;
  getrusage(RUSAGE_SELF, &all);
  getrusage(RUSAGE_THREAD, &me);
  double as = (double)all.ru_stime.tv_sec + all.ru_stime.tv_usec / 1e6, ms = (double)me.ru_stime.tv_sec + me.ru_stime.tv_usec / 1e6;
  double au = (double)all.ru_utime.tv_sec + all.ru_utime.tv_usec / 1e6, mu = (double)me.ru_utime.tv_sec + me.ru_utime.tv_usec / 1e6;
  *sys = as - ms;
  return au - mu + as - ms;
}

static void bench_decode(const char *what, const kl_buf *body, bool json) {
  kl_arena *a = kl_arena_new(1 << 20);
  int iters = 0;
  size_t spans = 0;
  int64_t t0 = kl_mono_ns();
  while (secs(t0) < 1.0) {
    kl_otlp_request rq;
    kl_err err;
    kl_err_clear(&err);
    int rc = json ? kl_ingest_otlp_json(body->data, body->len, a, &rq, &err) : kl_ingest_otlp_pb(body->data, body->len, a, &rq, &err);
    if (rc != 0) {
      fprintf(stderr, "decode %s: %s\n", what, err.msg);
      exit(1);
    }
    kl_ingest_otlp_map(&rq, a);
    spans += rq.nspans;
    iters++;
    kl_arena_reset(a);
  }
  double s = secs(t0);
  printf("decode+map %-9s %7.1f MB/s %9.0f spans/s  (%zu-byte body of %zu spans: %.3f ms each)\n", what,
         (double)body->len * iters / s / 1e6, (double)spans / s, body->len, spans / (size_t)iters, s * 1e3 / iters);
  kl_arena_free(a);
}

static kl_store *open_store(const char *dir, int n) {
  kl_store_opts o = {.data_dir = dir, .queue_capacity = (size_t)n * 2 + 16, .merge = kl_api_ingest_merge,
                     .batch_max = getenv("BATCH") ? (size_t)atoi(getenv("BATCH")) : 0,
                     .fulltext = getenv("FTS") && atoi(getenv("FTS")) ? KL_FULLTEXT_ON : KL_FULLTEXT_OFF};
  kl_err err;
  kl_err_clear(&err);
  kl_store *s = kl_store_open(&o, &err);
  if (!s) {
    fprintf(stderr, "open: %s\n", err.msg);
    exit(1);
  }
  return s;
}

/* mode 'a' new spans, 'b' create + update pairs, 'c' plain observations */
static void bench_store(const char *dir, int n, int per_trace, char mode, const kl_ingest_obs *tmpl) {
  bool ordered = getenv("ORDERED_IDS") && atoi(getenv("ORDERED_IDS"));
  bool same_time = getenv("SAME_TIME") && atoi(getenv("SAME_TIME"));
  kl_store *s = open_store(dir, n);
  char trace[33] = "";
  kl_err err;
  kl_err_clear(&err);
  double sys0, sys1;
  double cpu0 = cpu_secs(&sys0);
  int64_t t0 = kl_mono_ns();
  for (int i = 0; i < n; i++) {
    kl_obs_patch p;
    memset(&p, 0, sizeof p);
    p.obs = tmpl->obs;
    p.set = tmpl->set;
    if (i % per_trace == 0) {
      if (ordered) kl_id_trace(trace);
      else hex(trace, 16);
    }
    kl_id_span(p.obs.id);
    memcpy(p.obs.trace_id, trace, sizeof trace);
    if (!same_time) { /* spans start 20 us apart, as a live stream does; each lasts 500 ms */
      p.obs.start_ns = tmpl->obs.start_ns + (int64_t)i * 20000;
      p.obs.end_ns = p.obs.start_ns + 500000000;
    }
    int rc;
    if (mode == 'c') {
      rc = kl_store_submit(s, &p.obs, &err);
    } else {
      rc = kl_store_submit_patch(s, &p, &err);
      if (rc == 0 && mode == 'b') {
        kl_obs_patch u;
        memset(&u, 0, sizeof u);
        memcpy(u.obs.id, p.obs.id, sizeof u.obs.id);
        memcpy(u.obs.trace_id, trace, sizeof trace);
        u.update = true;
        u.received_ns = 1;
        u.obs.output_json = "{\"role\":\"assistant\",\"content\":\"done\"}";
        u.obs.end_ns = p.obs.end_ns + 1;
        u.obs.cost_usd = -1;
        u.set = KL_OBS_F_OUTPUT | KL_OBS_F_END;
        rc = kl_store_submit_patch(s, &u, &err);
      }
    }
    if (rc != 0) {
      fprintf(stderr, "submit: %s\n", err.msg);
      exit(1);
    }
  }
  double submit_s = secs(t0);
  kl_store_flush(s);
  double total = secs(t0);
  double cpu = cpu_secs(&sys1) - cpu0;
  kl_store_stats st;
  kl_store_get_stats(s, &st);
  static const char *const names[] = {"a: new spans (OTLP)", "b: create+update pairs", "c: keel's own rows"};
  printf("store %-24s %8.0f spans/s end to end, %5.1f us CPU/span (%.1f sys) (%d spans, %" PRIu64 " records in %" PRIu64
         " batches; submit %.0f/s)\n",
         names[mode - 'a'], n / total, cpu * 1e6 / n, (sys1 - sys0) * 1e6 / n, n, st.written, st.batches, (mode == 'b' ? 2.0 : 1.0) * n / submit_s);
  kl_store_close(s);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200000;
  int per_trace = argc > 2 ? atoi(argv[2]) : 4;
  char tmpl[] = "/tmp/kl-bench-ingest-XXXXXX";
  const char *base = argc > 3 ? argv[3] : mkdtemp(tmpl);
  if (n <= 0 || per_trace <= 0 || !base) return 2;
  kl_log_set_level(KL_LOG_WARN);

  kl_buf js = KL_BUF_INIT, pb = KL_BUF_INIT;
  json_body(&js, BATCH);
  if (!getenv("NO_DECODE")) {
    bench_decode("json", &js, true);
    if (pb_body(&pb, BATCH) == 0) bench_decode("protobuf", &pb, false);
    else printf("decode+map protobuf: capture not found (set KEEL_SOURCE_DIR)\n");
  }

  /* one mapped span is the template of every stored record */
  kl_arena *a = kl_arena_new(1 << 16);
  kl_otlp_request rq;
  kl_err err;
  kl_err_clear(&err);
  if (kl_ingest_otlp_json(js.data, js.len, a, &rq, &err) != 0 || rq.nspans == 0) return 1;
  kl_ingest_obs *recs = kl_ingest_otlp_map(&rq, a);
  const char *modes = getenv("MODES") ? getenv("MODES") : "abc";
  for (char mode = 'a'; mode <= 'c'; mode++) {
    if (!strchr(modes, mode)) continue;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%c", base, mode);
    bench_store(dir, n, per_trace, mode, &recs[0]);
  }
  kl_arena_free(a);
  kl_buf_free(&js);
  kl_buf_free(&pb);
  printf("data left in %s\n", base);
  return 0;
}
