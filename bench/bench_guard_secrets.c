/* bench_guard_secrets.c: cost of the `secrets` scanner (gitleaks rules) alone.
 *
 *   bench_guard_secrets [ITERATIONS]   (default 20000)
 *
 * Prints the time to build a secrets-only policy, then microseconds per check of 4 KiB of
 * ordinary English, of source code (assignments, "key"/"token" identifiers: the generic rule's
 * candidates), and of code holding two secrets.  The texts hold no secret unless stated: the
 * cost measured is mostly the Hyperscan pass plus the candidates the generic rules raise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/kl_guard.h"

static const char prose[] =
  "The committee met on Tuesday to review the quarterly results. Revenue grew by four percent, "
  "driven mostly by the new subscription plans, while costs stayed flat thanks to the move to a "
  "single cloud provider. Several members asked whether the access policy for contractors should "
  "change; the answer was that every token of trust must be earned, and that the key question is "
  "accountability rather than speed. A short discussion followed about the authentication flow "
  "for the mobile app, the password reset emails, and the secret santa party in December. ";

static const char code[] =
  "def load_config(path):\n"
  "    with open(path) as f:\n"
  "        cfg = json.load(f)\n"
  "    api_key = os.environ.get(\"API_KEY\", cfg.get(\"api_key\"))\n"
  "    token_url = cfg[\"token_url\"]  # where to refresh the access token\n"
  "    key_size = 2048\n"
  "    for key, value in cfg.items():\n"
  "        if key.startswith(\"secret_\"):\n"
  "            log.debug(\"ignoring %s\", key)\n"
  "    return Config(api_key=api_key, token_url=token_url, retries=3)\n"
  "\n"
  "static int parse_auth_header(const char *h, size_t n, struct auth *out) {\n"
  "  const char *p = memchr(h, ' ', n);\n"
  "  if (!p) return -1;  /* no scheme: password = NULL */\n"
  "  out->credential = strndup(p + 1, n - (size_t)(p + 1 - h));\n"
  "  return 0;\n"
  "}\n";

static void fill(char *buf, size_t n, const char *src) {
  size_t sl = strlen(src);
  for (size_t i = 0; i < n; i += sl) memcpy(buf + i, src, n - i < sl ? n - i : sl);
  buf[n] = 0;
}

static double run(const kl_guard_policy *p, const char *text, size_t len, int iters, size_t *nfind) {
  kl_arena *a = kl_arena_new(1 << 16);
  kl_err err = {0};
  kl_guard_text in = {.text = text, .len = len, .stage = KL_GUARD_INPUT};
  kl_guard_result res = {0};
  int64_t t0 = kl_mono_ns();
  for (int i = 0; i < iters; i++) {
    if (kl_guard_check(p, &in, a, &res, &err) < 0) {
      fprintf(stderr, "%s\n", err.msg);
      exit(1);
    }
    kl_arena_reset(a);
  }
  double us = (double)(kl_mono_ns() - t0) / 1e3 / iters;
  kl_guard_check(p, &in, a, &res, &err);
  *nfind = res.n;
  kl_arena_free(a);
  return us;
}

int main(int argc, char **argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 20000;
  kl_err err = {0};
  kl_guard_scanner_cfg sc = {.kind = "secrets", .stage = KL_GUARD_INPUT};
  kl_guard_policy_cfg pc = {.name = "secrets", .scanners = &sc, .nscanners = 1};
  int64_t t0 = kl_mono_ns();
  kl_guard_policy *p = kl_guard_policy_build(&pc, &err);
  if (!p) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  printf("policy build (secrets only): %.1f ms\n", (double)(kl_mono_ns() - t0) / 1e6);
  static char buf[4096 + 1];
  size_t nf = 0;
  double us;
  fill(buf, 4096, prose);
  us = run(p, buf, 4096, iters, &nf);
  printf("4 KiB English prose:       %7.2f us/check (%zu findings)\n", us, nf);
  fill(buf, 4096, code);
  us = run(p, buf, 4096, iters, &nf);
  printf("4 KiB source code:         %7.2f us/check (%zu findings)\n", us, nf);
  /* two secrets (assembled at run time, not real) in the code */
  char tok[64] = "ghp_";
  for (int i = 0; i < 36; i++) tok[4 + i] = "aZ09kQ7xR2mN5vB8"[(i * 7) % 16];
  memcpy(buf + 1000, tok, 40);
  memcpy(buf + 3000, "\nsecret_key = \"Zx9Qw3Er7Ty1Ui5Op2As8Df\"\n", 41);
  us = run(p, buf, 4096, iters, &nf);
  printf("4 KiB code with 2 secrets: %7.2f us/check (%zu findings)\n", us, nf);
  kl_guard_policy_free(p);
  return 0;
}
