/* bench_guard_check.c: one text, the every-kind input check, N times: the driver of the
 * "Guardrails: speed" session tables in docs/benchmarks.md (wall clock, and instructions under
 * callgrind with --toggle-collect=kl_guard_check).
 *
 *   TEXTFILE=path ./build/bench_guard_check N [KIND]
 *
 * The text is the file's first 4 KiB (cut back to a UTF-8 boundary); a shorter file is padded
 * with NUL bytes to 4 KiB, as every number since session 7 was taken (the Presidio texts'
 * file has 3,533 bytes); TEXTLEN=n checks its first n bytes instead (a chat message's size, to
 * see a check's fixed costs).  Without TEXTFILE it is bench_guard's sample repeated to 4 KiB.  The
 * policy has every in-process input kind (pii, secrets, injection, banned, topics, invisible,
 * token_limit), or KIND alone.  Prints microseconds per check and the findings of the last. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

#include "bench_guard_sample.h"

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  const char *only = argc > 2 ? argv[2] : NULL;
  static const char *const banned[] = {"project falcon", "internal only", "do not distribute"};
  static const char *const topics[] = {"weapons: rifle, ammunition, explosive", "medical: diagnosis, prescription"};
  kl_guard_scanner_cfg all[] = {{.kind = "pii"},
                                {.kind = "secrets"},
                                {.kind = "injection"},
                                {.kind = "banned", .list = banned, .nlist = 3},
                                {.kind = "topics", .list = topics, .nlist = 2},
                                {.kind = "invisible"},
                                {.kind = "token_limit", .limit = 8000}};
  size_t ns = sizeof all / sizeof all[0];
  kl_guard_scanner_cfg *sc = all;
  for (size_t i = 0; only && i < sizeof all / sizeof all[0]; i++)
    if (!strcmp(all[i].kind, only)) sc = &all[i], ns = 1;
  static char text[4097];  /* NUL past what the file gives */
  size_t len = 0;
  const char *path = getenv("TEXTFILE");
  if (path && *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
      perror(path);
      return 1;
    }
    len = fread(text, 1, 4096, f);
    fclose(f);
  } else {
    const size_t n1 = sizeof bench_guard_sample - 1;
    for (; len + n1 <= 4096; len += n1) memcpy(text + len, bench_guard_sample, n1);
    memcpy(text + len, bench_guard_sample, 4096 - len);
  }
  len = 4096;
  const char *cut = getenv("TEXTLEN");  /* a shorter text: its first TEXTLEN bytes */
  if (cut && *cut && (size_t)atol(cut) < len) len = (size_t)atol(cut);
  while (len && ((unsigned char)text[len] & 0xC0) == 0x80) len--;  /* no character cut in two */
  kl_err err = {0};
  kl_guard_policy_cfg pc = {.name = "check", .scanners = sc, .nscanners = ns};
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  kl_arena *a = kl_arena_new(1 << 16);
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_INPUT};
  kl_guard_result r = {0};
  int64_t t0 = kl_mono_ns();
  for (long i = 0; i < n; i++) {
    if (kl_guard_check(p, &in, a, &r, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    kl_arena_reset(a);
  }
  printf("%.2f us/check findings=%zu\n", (double)(kl_mono_ns() - t0) / 1e3 / (double)n, r.n);
  kl_arena_free(a);
  kl_guard_policy_free(p);
  return 0;
}
