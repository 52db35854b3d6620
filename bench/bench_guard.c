/* bench_guard.c: guard scan speed with the default policy (all PII scanners).
 *
 *   bench_guard [seconds]
 *
 * Scans a 4 KiB prompt-like text (prose, code, JSON and a few PII values, so the PCRE2
 * confirmation path runs too) over and over, single-threaded, and prints µs per 4 KiB for
 * scan alone and for scan + redact, plus the policy build time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

static const char *sample =
    "Hi, I'm writing about my order from 2024-03-18 (ref 1183-22). The gateway records every call: model, "
    "latency, tokens and cost. Please reach me at maria.rossi@example.it or +39 06 6982 1234 after 5pm.\n"
    "```python\ndef total(items):\n    return sum(i.price * i.qty for i in items)  # v1.2.3\n```\n"
    "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion\",\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\n"
    "Our server 10.20.30.40 logged it. Grüße aus Köln, café naïve Straße — 日本語のテキスト 🎉.\n"
    "Numbers like 3.14159, 1,234,567 and 42 are not PII; neither is version 1.2.3.4.5 nor 12:30:45.\n";

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 2.0;
  kl_buf text = KL_BUF_INIT;
  while (text.len < 4096) kl_buf_puts(&text, sample);
  text.len = 4096;
  while (text.len && ((unsigned char)text.data[text.len] & 0xC0) == 0x80) text.len--;  /* whole code points */
  text.data[text.len] = 0;
  kl_err err = {0};
  int64_t t0 = kl_mono_ns();
  kl_guard_policy *p = kl_guard_policy_new("default", NULL, &err);
  if (!p) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double build_ms = (double)(kl_mono_ns() - t0) / 1e6;
  kl_arena *a = kl_arena_new(1 << 16);
  for (int redact = 0; redact <= 1; redact++) {
    long iters = 0, nf = 0;
    int64_t start = kl_mono_ns(), end = start + (int64_t)(secs * 1e9), now;
    do {
      for (int k = 0; k < 100; k++) {
        kl_guard_finding *f;
        nf = kl_guard_scan(p, text.data, text.len, a, &f, &err);
        if (redact) kl_guard_apply(p, text.data, text.len, f, (size_t)nf, KL_GUARD_REDACT, a, NULL);
        kl_arena_reset(a);
      }
      iters += 100;
      now = kl_mono_ns();
    } while (now < end);
    double us = (double)(now - start) / 1e3 / (double)iters * 4096.0 / (double)text.len;
    printf("%s bytes=%zu findings=%ld us_per_4KiB=%.2f MB_s=%.1f build_ms=%.1f\n", redact ? "scan+redact" : "scan",
           text.len, nf, us, 4096.0 / us, build_ms);
  }
  kl_arena_free(a);
  kl_guard_policy_free(p);
  kl_buf_free(&text);
  return 0;
}
