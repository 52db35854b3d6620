/* fuzz_tokenizer.c: arbitrary bytes (invalid UTF-8 included) must never crash the tokenizer;
 * counting and encoding must agree; every id must be a real rank; the merge used for long
 * pieces (heap) must make exactly the choices of tiktoken's scan.
 *
 * Byte 0 picks the encoding; the rest is the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"
#include "llm/tokenizer_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  kl_err err = {0};
  const kl_tokenizer *t = kl_tokenizer_get(data[0] & 1 ? "cl100k_base" : "o200k_base", &err);
  if (!t) abort();
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  size_t c = kl_tokenizer_count(t, s, n);
  uint32_t *ids = malloc((c + 1) * sizeof *ids);
  if (kl_tokenizer_encode(t, s, n, ids, c + 1) != c) abort();
  if (n && (c == 0 || c > 3 * n)) abort(); /* at most one token per output byte (U+FFFD is 3) */
  for (size_t i = 0; i < c; i++)
    if (ids[i] >= t->nranks || !t->tok_len[ids[i]]) abort();
  free(ids);
  /* the two merges on the raw bytes as one piece */
  if (n > 0 && n <= 4096) {
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    size_t na = kl_tok_merge_scan(t, (const uint8_t *)s, n, a, n);
    size_t nb = kl_tok_merge_heap(t, (const uint8_t *)s, n, b, n);
    if (na != nb || memcmp(a, b, na * sizeof *a)) abort();
    free(a);
    free(b);
  }
  return 0;
}
