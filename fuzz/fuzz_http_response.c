/* fuzz_http_response.c: the built-in upstream client's response path (llhttp callbacks,
 * header collection, interim responses, de-chunking, EOF handling, finish/cancel) on
 * arbitrary bytes as the upstream's answer, split at arbitrary points.
 *
 * It runs through the socketless test hooks of upstream_h1.h, so every byte goes down the
 * same path a socket read takes.  Input layout: byte 0 picks the behaviour (method HEAD,
 * cancel inside on_response / on_data, on_data aborting, EOF or reset at the end), byte 1
 * seeds the split sizes, the rest is the response stream.  Checked: exactly one on_done
 * (none after a cancel), on_response at most once and before any on_data, lower-case
 * trimmed header names/values, "" as errmsg exactly for KL_UP_OK, and no leaks (every
 * handle closes within one loop iteration after kl_h1_free). */
#include "net/upstream_h1.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct st {
  int responses, datas, dones, cancel_at_data;
  bool cancel_in_response, abort_in_data, cancelled;
  kl_upstream_call *call;
} st;

static void on_response(void *ud, int status, const kl_http_header *h, size_t n) {
  st *s = ud;
  if (s->dones || s->cancelled || s->responses || s->datas) abort();
  if (status < 200 || status > 999) abort();
  s->responses++;
  for (size_t i = 0; i < n; i++) {
    if (!h[i].name || !h[i].value) abort();
    for (const char *p = h[i].name; *p; p++)
      if (isupper((unsigned char)*p)) abort();
    size_t vl = strlen(h[i].value);
    if (vl && (h[i].value[0] == ' ' || h[i].value[vl - 1] == ' ' || h[i].value[vl - 1] == '\t')) abort();
  }
  if (s->cancel_in_response) {
    s->cancelled = true;
    kl_upstream_cancel(s->call);
  }
}

static int on_data(void *ud, const char *d, size_t len) {
  st *s = ud;
  if (s->dones || s->cancelled || !s->responses || len == 0) abort();
  volatile char sink = d[0] ^ d[len - 1]; /* the bytes must be readable */
  (void)sink;
  if (++s->datas == s->cancel_at_data) {
    s->cancelled = true;
    kl_upstream_cancel(s->call);
    return 0;
  }
  return s->abort_in_data && s->datas == 2;
}

static void on_done(void *ud, kl_upstream_status status, const char *err) {
  st *s = ud;
  if (s->dones || s->cancelled || !err) abort();
  if ((status == KL_UP_OK) != (err[0] == 0)) abort();
  if (status == KL_UP_OK && s->responses != 1) abort();
  if (status != KL_UP_OK && status != KL_UP_RESET && status != KL_UP_ERROR) abort();
  s->dones++;
}

static const kl_upstream_cbs CBS = {on_response, on_data, on_done};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uv_loop_t loop;
  static bool inited;
  if (!inited) {
    uv_loop_init(&loop);
    inited = true;
  }
  if (size < 2) return 0;
  uint8_t mode = data[0];
  uint32_t seed = data[1] * 2654435761u + 1;
  data += 2;
  size -= 2;

  st s = {0};
  s.cancel_in_response = (mode & 0x03) == 1;
  if ((mode & 0x03) == 2) s.cancel_at_data = 1 + ((mode >> 4) & 3);
  s.abort_in_data = (mode & 0x03) == 3;
  kl_h1 *p = kl_h1_new(&loop);
  if (!p) abort();
  s.call = kl_h1_test_call(p, (mode & 0x04) ? "HEAD" : "GET", &CBS, &s);
  if (!s.call) abort();

  size_t off = 0;
  while (off < size && !s.dones && !s.cancelled) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 23;
    if ((seed >> 8) % 4 == 0) n = size - off;
    if (n > size - off) n = size - off;
    kl_h1_test_input(s.call, (const char *)data + off, (ssize_t)n);
    off += n;
  }
  if (!s.dones && !s.cancelled) kl_h1_test_input(s.call, NULL, (mode & 0x08) ? UV_ECONNRESET : UV_EOF);
  if (s.dones + s.cancelled != 1) abort();
  if (kl_h1_active(p) != 0) abort();
  kl_h1_free(p);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (uv_loop_alive(&loop)) abort();
  return 0;
}
