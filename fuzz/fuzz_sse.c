/* fuzz_sse.c: the SSE parser must produce the same events (and the same failure, and the
 * same "pending" verdict) however the stream is split into feeds.
 *
 * Input layout: byte 0 picks the event size limit (small, so the -1 path is reached), bytes
 * 1..4 seed the generator of feed sizes, the rest is the stream.  The stream is parsed
 * whole, byte by byte, and in generated chunks (0..31 bytes, empty feeds included); the
 * three transcripts must be identical. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/kl_net.h"

typedef struct {
  kl_buf out;
  size_t max;
} transcript;

static void on_ev(void *ud, const char *event, const char *data, size_t len) {
  transcript *t = ud;
  if (len > t->max || data[len] != 0) abort(); /* limit enforced, data NUL-terminated */
  kl_buf_printf(&t->out, "E%zu:%s|", strlen(event), event);
  kl_buf_printf(&t->out, "D%zu:", len);
  kl_buf_append(&t->out, data, len);
  kl_buf_putc(&t->out, '\n');
}

static uint32_t next(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* mode 0: whole; 1: byte by byte; 2: generated chunk sizes. */
static void run(const char *in, size_t len, size_t max, int mode, uint32_t seed, transcript *t) {
  kl_sse_parser p;
  kl_sse_init(&p, max);
  t->max = max;
  int rc = 0;
  size_t off = 0;
  while (rc == 0 && (off < len || mode == 0)) {
    size_t n = len - off;
    if (mode == 1 && n > 1) n = 1;
    if (mode == 2) {
      size_t want = next(&seed) % 32;
      if (want < n) n = want;
    }
    rc = kl_sse_feed(&p, in + off, n, on_ev, t);
    off += n;
    if (mode == 0) break;
  }
  if (rc) {
    kl_buf_puts(&t->out, "FAIL\n");
    if (kl_sse_feed(&p, "\n\n", 2, on_ev, t) != -1) abort(); /* stays dead */
  } else {
    kl_buf_puts(&t->out, kl_sse_finish(&p) ? "PENDING\n" : "END\n");
  }
  kl_sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5) return 0;
  size_t max = 1 + (size_t)data[0] * 4;
  uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
  if (!seed) seed = 1;
  const char *in = (const char *)data + 5;
  size_t len = size - 5;

  transcript t[3];
  for (int m = 0; m < 3; m++) {
    t[m].out = (kl_buf)KL_BUF_INIT;
    run(in, len, max, m, seed, &t[m]);
  }
  for (int m = 1; m < 3; m++) {
    if (t[m].out.len != t[0].out.len || memcmp(t[m].out.data, t[0].out.data, t[0].out.len) != 0) {
      fprintf(stderr, "mode %d differs from whole:\n--- whole\n%s\n--- split\n%s\n", m, t[0].out.data, t[m].out.data);
      abort();
    }
  }
  for (int m = 0; m < 3; m++) kl_buf_free(&t[m].out);
  return 0;
}
