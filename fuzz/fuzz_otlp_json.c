/* fuzz_otlp_json.c: the OTLP/JSON decoder and the span mapper on hostile bytes (seed with
 * the otlp-http-json-01 and langfuse-v5-01 capture bodies).  Spans that decode are mapped,
 * and each mapped record is merged into the first, exercising metadata/tag merging on
 * whatever JSON the attributes produced. */
#include <stdint.h>
#include <stdlib.h>

#include "trace/kl_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kl_arena *a = kl_arena_new(4096);
  kl_otlp_request req;
  kl_err err;
  if (kl_ingest_otlp_json((const char *)data, size, a, &req, &err) == 0) {
    kl_ingest_obs *recs = kl_ingest_otlp_map(&req, a);
    for (size_t i = 1; i < req.nspans; i++) kl_ingest_merge(&recs[0], &recs[i], a);
    kl_buf b = KL_BUF_INIT;
    kl_ingest_otlp_reply(&req, true, &b);
    kl_buf_free(&b);
  } else if (err.code != 400) {
    abort();
  }
  kl_arena_free(a);
  return 0;
}
