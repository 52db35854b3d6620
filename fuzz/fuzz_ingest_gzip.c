/* fuzz_ingest_gzip.c: the HTTP-facing ingestion path before the store: kl_api_gunzip with a
 * small output cap (bombs must stop at the cap: 413, never more memory), then both OTLP
 * decoders and the Langfuse parser on whatever came out (or on the raw input when it was
 * not gzip), as ingest.c runs them.  Must not crash, leak or exceed the cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "trace/kl_ingest.h"

#define CAP (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kl_buf out = KL_BUF_INIT;
  kl_err err;
  kl_err_clear(&err);
  const char *body = (const char *)data;
  size_t len = size;
  int rc = kl_api_gunzip(data, size, CAP, &out, &err);
  if (rc == 0) {
    body = out.data ? out.data : "";
    len = out.len;
  } else if (err.code != 400 && err.code != 413) {
    abort(); /* only "not gzip" and "too large" are expected */
  }
  if (out.len > CAP + 1) abort();
  kl_arena *a = kl_arena_new(4096);
  kl_otlp_request rq;
  if (kl_ingest_otlp_pb(body, len, a, &rq, &err) == 0) kl_ingest_otlp_map(&rq, a);
  kl_arena_reset(a);
  if (kl_ingest_otlp_json(body, len, a, &rq, &err) == 0) kl_ingest_otlp_map(&rq, a);
  kl_arena_reset(a);
  kl_ingest_batch b;
  if (kl_ingest_langfuse(body, len, a, &b, &err) == 0) {
    kl_buf r = KL_BUF_INIT;
    kl_ingest_langfuse_reply(&b, &r);
    kl_buf_free(&r);
  }
  kl_arena_free(a);
  kl_buf_free(&out);
  return 0;
}
