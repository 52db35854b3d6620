/* fuzz_langfuse_batch.c: Langfuse ingestion batches on hostile bytes (seed with the
 * langfuse-v3-01 / v5-02 capture bodies).  Parses, writes the 207 reply, then orders and folds
 * every observation/trace record into the first one of its kind, as the store will. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace/kl_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kl_arena *a = kl_arena_new(4096);
  kl_ingest_batch b;
  kl_err err;
  if (kl_ingest_langfuse((const char *)data, size, a, &b, &err) == 0) {
    kl_buf r = KL_BUF_INIT;
    kl_ingest_langfuse_reply(&b, &r);
    kl_buf_free(&r);
    kl_ingest_obs **v = malloc((b.n + 1) * sizeof *v);
    size_t n = 0, errors = 0;
    for (size_t i = 0; i < b.n; i++) {
      if (b.events[i].status != 201 && (!b.events[i].error || !*b.events[i].error)) abort();
      errors += b.events[i].status != 201;
      if (b.events[i].kind == KL_INGEST_OBS || b.events[i].kind == KL_INGEST_TRACE) v[n++] = &b.events[i].obs;
    }
    if (errors != b.nerrors) abort();
    kl_ingest_order(v, n);
    for (size_t i = 1; i < n; i++) kl_ingest_merge(v[0], v[i], a);
    free(v);
  } else if (err.code != 400) {
    abort();
  }
  kl_arena_free(a);
  return 0;
}
