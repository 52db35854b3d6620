/* keys.c: `keel keys create`, a project's API key pair.
 *
 *   keel keys create [--project NAME] [--data-dir DIR | --config FILE] [--json]
 *
 * Prints the new pair once (the secret is stored only as a salted hash, so it cannot be
 * shown again): by default as shell-friendly lines
 *   KEEL_PUBLIC_KEY=pk-lf-...  KEEL_SECRET_KEY=sk-lf-...  KEEL_PROJECT=...
 * or with --json as {"project","public_key","secret_key"}.  The project (default "default")
 * is created if missing.  It writes to the database directly, without the store's writer or
 * spill file, so it is safe to run beside a serving keel (SQLite WAL; one short transaction). */
#include "api/kl_api.h"
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_err(const char *msg, const char *arg) {
  fprintf(stderr, "keel keys: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
  fprintf(stderr, "usage: keel keys create [--project NAME] [--data-dir DIR | --config FILE] [--json]\n");
  return 2;
}

int kl_cli_keys(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[2], "create") != 0) return usage_err("expected a subcommand:", "create");
  const char *project = "default", *data_dir = NULL, *config = NULL;
  bool json = false;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--project") && i + 1 < argc) project = argv[++i];
    else if (!strcmp(argv[i], "--data-dir") && i + 1 < argc) data_dir = argv[++i];
    else if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc) config = argv[++i];
    else if (!strcmp(argv[i], "--json")) json = true;
    else return usage_err("unknown or incomplete option", argv[i]);
  }
  size_t plen = strlen(project);
  if (plen == 0 || plen > 64 || strspn(project, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != plen)
    return usage_err("--project: 1 to 64 characters of letters, digits, '-', '_' or '.':", project);
  kl_err err = {0};
  kl_config *cfg = NULL;
  if (!data_dir) {
    cfg = kl_config_load(config, &err);
    if (!cfg) {
      fprintf(stderr, "keel: %s\n", err.msg);
      return 1;
    }
    data_dir = cfg->data_dir;
  }
  kl_store_opts so = {.data_dir = data_dir};
  if (cfg) { /* the store the config names; with --data-dir alone, KEEL_STORE_URL's (as serve's default) */
    so.backend = cfg->store_backend;
    so.url = cfg->store_url;
  } else if (getenv("KEEL_STORE_URL") && *getenv("KEEL_STORE_URL")) {
    so.backend = "postgres";
    so.url = getenv("KEEL_STORE_URL");
  }
  char pk[KL_API_KEY_BUF], sk[KL_API_KEY_BUF];
  int rc = kl_api_key_create(&so, project, pk, sk, &err);
  if (rc != 0) {
    fprintf(stderr, "keel keys create: %s\n", err.msg);
  } else if (json) {
    printf("{\"project\":\"%s\",\"public_key\":\"%s\",\"secret_key\":\"%s\"}\n", project, pk, sk);
  } else {
    printf("KEEL_PROJECT=%s\nKEEL_PUBLIC_KEY=%s\nKEEL_SECRET_KEY=%s\n", project, pk, sk);
    fprintf(stderr, "keel: the secret key is shown only now; store it safely.\n");
  }
  memset(sk, 0, sizeof sk);
  kl_config_free(cfg);
  if (fflush(stdout) != 0) rc = -1;
  return rc ? 1 : 0;
}
