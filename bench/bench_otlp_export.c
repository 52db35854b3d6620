/* bench_otlp_export.c: cost of exporting one span over OTLP.
 *
 *   bench_otlp_export [SPANS]   (default 200000)
 *
 * Prints microseconds per span for: kl_exporter_submit() (what a gateway thread pays: clone +
 * queue; the exporter points at a closed port and never drains, so the queue is sized to hold
 * everything), and the exporter thread's encoding, protobuf and JSON, in batches of 512, of a
 * typical chat generation (all GenAI attributes, ~1 KiB of captured messages) and of the same
 * record without content; plus gzip of the protobuf batch when built with KEEL_HAVE_ZLIB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/kl_export.h"
#ifdef KEEL_HAVE_ZLIB
#include <zlib.h>
#endif

#define BATCH 512

static kl_obs record(void) {
  static char input[1200];
  if (!input[0]) {
    strcpy(input, "[{\"role\":\"system\",\"content\":\"You are a helpful assistant for a travel agency.\"},"
                  "{\"role\":\"user\",\"content\":\"");
    while (strlen(input) < 1000) strcat(input, "Plan a three day trip to Lisbon. ");
    strcat(input, "\"}]");
  }
  kl_obs o;
  memset(&o, 0, sizeof o);
  strcpy(o.id, "00f067aa0ba902b7");
  strcpy(o.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  o.type = KL_OBS_GENERATION;
  o.name = "chat.completions";
  o.level = "DEFAULT";
  o.http_status = 200;
  o.start_ns = 1764184176123456789LL;
  o.end_ns = o.start_ns + 812000000;
  o.completion_start_ns = o.start_ns + 250000000;
  o.model = "gpt-4o-mini";
  o.provider = "openai";
  o.upstream_model = "gpt-4o-mini-2024-07-18";
  o.model_params_json = "{\"temperature\":0.2,\"max_tokens\":256,\"stream\":true}";
  o.input_json = input;
  o.output_json = "{\"role\":\"assistant\",\"content\":\"Day 1: Alfama and the castle. Day 2: Belem. Day 3: Sintra.\"}";
  o.metadata_json = "{\"feature\":\"planner\"}";
  o.finish_reason = "stop";
  o.usage_input = 230;
  o.usage_input_cached = 64;
  o.usage_output = 41;
  o.usage_json = "{\"input\":230}";
  o.cost_usd = 0.0000713;
  o.trace_name = "planner";
  o.user_id = "user-1234";
  o.session_id = "sess-5678";
  o.tags_json = "[\"prod\"]";
  o.environment = "default";
  return o;
}

static double encode_us(const kl_obs *o, kl_export_protocol p, int spans, size_t *bytes, kl_buf *keep) {
  const kl_obs *batch[BATCH];
  for (int i = 0; i < BATCH; i++) batch[i] = o;
  kl_buf b = KL_BUF_INIT;
  int64_t t0 = kl_mono_ns();
  for (int done = 0; done < spans; done += BATCH) {
    kl_buf_reset(&b);
    kl_export_encode(batch, BATCH, p, NULL, &b);
  }
  double us = (double)(kl_mono_ns() - t0) / 1e3 / spans;
  *bytes = b.len / BATCH;
  if (keep) *keep = b;
  else kl_buf_free(&b);
  return us;
}

int main(int argc, char **argv) {
  int spans = argc > 1 ? atoi(argv[1]) : 200000;
  if (spans < BATCH) spans = BATCH;
  kl_obs full = record(), lean = record();
  lean.input_json = lean.output_json = NULL;
  size_t bytes;
  kl_buf pb = KL_BUF_INIT;
  printf("encode, batches of %d (per span):\n", BATCH);
  double us = encode_us(&full, KL_EXPORT_PROTOBUF, spans, &bytes, &pb);
  printf("  protobuf, with content     %6.2f us  %5zu bytes\n", us, bytes);
  us = encode_us(&full, KL_EXPORT_JSON, spans, &bytes, NULL);
  printf("  json,     with content     %6.2f us  %5zu bytes\n", us, bytes);
  us = encode_us(&lean, KL_EXPORT_PROTOBUF, spans, &bytes, NULL);
  printf("  protobuf, without content  %6.2f us  %5zu bytes\n", us, bytes);
  us = encode_us(&lean, KL_EXPORT_JSON, spans, &bytes, NULL);
  printf("  json,     without content  %6.2f us  %5zu bytes\n", us, bytes);
#ifdef KEEL_HAVE_ZLIB
  {
    int rounds = spans / BATCH;
    uLongf out_len = compressBound(pb.len);
    unsigned char *out = malloc(out_len);
    int64_t t0 = kl_mono_ns();
    for (int i = 0; i < rounds; i++) {
      uLongf n = compressBound(pb.len);
      compress2(out, &n, (const Bytef *)pb.data, pb.len, Z_BEST_SPEED);
      out_len = n;
    }
    printf("  gzip(1) of the protobuf    %6.2f us  %5lu bytes\n", (double)(kl_mono_ns() - t0) / 1e3 / (rounds * BATCH),
           (unsigned long)out_len / BATCH);
    free(out);
  }
#endif
  kl_buf_free(&pb);

  kl_exporter_opts o;
  memset(&o, 0, sizeof o);
  o.endpoint = "http://127.0.0.1:9/v1/traces";
  o.queue_capacity = (size_t)spans;
  o.batch_max = (size_t)spans; /* never a full batch: nothing is taken off the queue */
  o.flush_interval_ms = 3600000;
  o.shutdown_timeout_ms = 1;
  kl_err err;
  kl_exporter *e = kl_exporter_new(&o, &err);
  if (!e) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int64_t t0 = kl_mono_ns();
  for (int i = 0; i < spans; i++) kl_exporter_submit(e, &full);
  printf("kl_exporter_submit (clone + queue), with content: %.3f us\n", (double)(kl_mono_ns() - t0) / 1e3 / spans);
  kl_exporter_free(e);
  return 0;
}
