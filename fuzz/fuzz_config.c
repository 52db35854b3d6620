/* fuzz_config.c: arbitrary bytes into kl_config_parse.
 *
 * Besides crashes, leaks and UB (the sanitizers), it checks the loader's promises: a
 * failure always carries code 1 and a "PATH:LINE: ..." message, and a success yields a
 * config whose models have names, unique names, and a base URL exactly when they need one.
 * The environment is fixed in LLVMFuzzerInitialize so ${...} expansion is exercised and
 * runs are reproducible. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/kl_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  unsetenv("KEEL_ADMIN_KEY");
  unsetenv("OPENAI_BASE_URL");
  unsetenv("ANTHROPIC_BASE_URL");
  setenv("OPENAI_API_KEY", "sk-fuzz", 1);
  unsetenv("ANTHROPIC_API_KEY");
  setenv("A", "4000", 1);
  setenv("B", "", 1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kl_err err;
  kl_config *c = kl_config_parse((const char *)data, size, "f.yaml", &err);
  if (!c) {
    if (err.code != 1 || strncmp(err.msg, "f.yaml:", 7)) {
      fprintf(stderr, "bad error: code %d msg '%s'\n", err.code, err.msg);
      abort();
    }
    return 0;
  }
  if (err.code != 0 || !c->listen_host || c->listen_port < 0 || c->listen_port > 65535 || !c->data_dir ||
      !c->log_level || c->nmodels == 0)
    abort();
  for (size_t i = 0; i < c->nmodels; i++) {
    const kl_model_cfg *m = &c->models[i];
    if (!m->name || !*m->name || !m->upstream_model || kl_config_model(c, m->name) != m) abort();
    if ((m->provider == KL_PROVIDER_MOCK) != (m->base_url == NULL)) abort();
    if (m->base_url && strncmp(m->base_url, "http", 4)) abort();
    for (size_t j = 0; j < m->nheaders; j++)
      if (!strstr(m->headers[j], ": ") || strpbrk(m->headers[j], "\r\n")) abort();
  }
  for (size_t i = 0; i < c->nprices; i++)
    if (!c->prices[i].model) abort();
  (void)kl_config_is_loopback(c->listen_host);
  kl_config_free(c);
  return 0;
}
