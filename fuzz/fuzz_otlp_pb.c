/* fuzz_otlp_pb.c: the hand-written OTLP protobuf reader on hostile bytes.  On success every
 * span is mapped to an observation and both reply encodings are written, so the mapper sees
 * whatever strange-but-valid shapes the fuzzer finds (empty keys, deep kvlists, odd ids).
 * Seed it with tests/data/captures/otlp-http-protobuf-01.bin. */
#include <stdint.h>
#include <stdlib.h>

#include "trace/kl_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kl_arena *a = kl_arena_new(4096);
  kl_otlp_request req;
  kl_err err;
  if (kl_ingest_otlp_pb(data, size, a, &req, &err) == 0) {
    kl_ingest_otlp_map(&req, a);
    kl_buf b = KL_BUF_INIT;
    kl_ingest_otlp_reply(&req, false, &b);
    kl_ingest_otlp_reply(&req, true, &b);
    kl_buf_free(&b);
  } else if (err.code != 400) {
    abort(); /* every failure is the client's fault, with a message */
  }
  kl_arena_free(a);
  return 0;
}
