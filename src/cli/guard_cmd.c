/* guard_cmd.c: `keel guard scan`, the guardrails engine from the command line.
 *
 *   keel guard scan [--config FILE] [--policy NAME] [--stage input|output]
 *
 * Reads lines on stdin: a JSON object {"id": any, "text": "..."} or, when a line is not such an
 * object, the line itself as plain text (its id is then the line number).  Writes one JSON line
 * per input: {"id", "action": "allow"|"block"|"redact", "findings": [...], "redacted": "..."}.
 * The policy is the built-in "default" (PII, secrets, injection) unless --policy names one of
 * the config's `guardrails.policies`.  The action is the verdict folded onto the three the
 * format knows: block (and reask) -> block, redact/mask/hash/restore -> redact, flag -> allow. */
#include "cli/cli.h"
#include "gateway/kl_config.h"
#include "guard/kl_guard.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_err(const char *msg, const char *arg) {
  fprintf(stderr, "keel guard: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
  fprintf(stderr, "usage: keel guard scan [--config FILE] [--policy NAME] [--stage input|output] < input\n");
  return 2;
}

static const char *fold(kl_guard_action a) {
  switch (a) {
    case KL_GUARD_BLOCK: case KL_GUARD_REASK: return "block";
    case KL_GUARD_REDACT: case KL_GUARD_MASK: case KL_GUARD_HASH: case KL_GUARD_RESTORE: return "redact";
    default: return "allow";
  }
}

static void json_field(kl_buf *out, const char *key, const char *v) {
  kl_buf_printf(out, "\"%s\":", key);
  kl_buf_json_str(out, v ? v : "", v ? strlen(v) : 0);
}

static void scan_one(const kl_guard_policy *p, kl_guard_stage st, const char *id_json, const char *text, size_t len,
                     kl_arena *a, kl_buf *out) {
  kl_err err = {0};
  kl_guard_text in = {.text = text, .len = len, .stage = st};
  kl_guard_result res;
  if (kl_guard_check(p, &in, a, &res, &err) != 0) {
    kl_buf_printf(out, "{\"id\":%s,\"error\":", id_json);
    kl_buf_json_str(out, err.msg, strlen(err.msg));
    kl_buf_puts(out, "}\n");
    return;
  }
  const kl_guard_finding *f = res.findings;
  kl_buf_printf(out, "{\"id\":%s,\"action\":\"%s\",\"findings\":[", id_json, fold(res.action));
  for (size_t i = 0; i < res.n; i++) {
    kl_buf_puts(out, i ? ",{" : "{");
    json_field(out, "scanner", f[i].scanner);
    kl_buf_putc(out, ',');
    json_field(out, "type", f[i].type);
    kl_buf_putc(out, ',');
    json_field(out, "rule", f[i].rule);
    kl_buf_printf(out, ",\"start\":%zu,\"end\":%zu,\"score\":%.2f}", f[i].start, f[i].end, f[i].score);
  }
  size_t rl = 0;
  /* blocked texts are shown redacted too: the line says what was found and where */
  char *red = kl_guard_apply(p, text, len, f, res.n, res.action == KL_GUARD_BLOCK ? KL_GUARD_REDACT : KL_GUARD_ALLOW, a,
                             &rl);
  kl_buf_puts(out, "],\"redacted\":");
  kl_buf_json_str(out, red, rl);
  kl_buf_puts(out, "}\n");
}

static int guard_scan(const kl_guard_policy *p, kl_guard_stage st) {
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t n;
  kl_arena *a = kl_arena_new(1 << 16);
  kl_buf out = KL_BUF_INIT;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (n == 0) continue;
    cJSON *j = line[0] == '{' ? cJSON_ParseWithLength(line, (size_t)n) : NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    if (cJSON_IsString(text)) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
      char *idj = id ? cJSON_PrintUnformatted(id) : NULL;
      scan_one(p, st, idj ? idj : "null", text->valuestring, strlen(text->valuestring), a, &out);
      cJSON_free(idj);
    } else {
      char idj[32];
      snprintf(idj, sizeof idj, "%zu", lineno);
      scan_one(p, st, idj, line, (size_t)n, a, &out);
    }
    cJSON_Delete(j);
    fwrite(out.data, 1, out.len, stdout);
    kl_buf_reset(&out);
    kl_arena_reset(a);
  }
  fflush(stdout);
  kl_buf_free(&out);
  kl_arena_free(a);
  free(line);
  return 0;
}

int kl_cli_guard(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[2], "scan")) return usage_err("expected a subcommand:", "scan");
  const char *policy = "default", *config = NULL;
  kl_guard_stage st = KL_GUARD_INPUT;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--policy") && i + 1 < argc) policy = argv[++i];
    else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
    else if (!strcmp(argv[i], "--stage") && i + 1 < argc) {
      const char *s = argv[++i];
      if (!strcmp(s, "input")) st = KL_GUARD_INPUT;
      else if (!strcmp(s, "output")) st = KL_GUARD_OUTPUT;
      else return usage_err("--stage must be input or output, got", s);
    } else return usage_err("unknown option", argv[i]);
  }
  kl_err err = {0};
  kl_config *cfg = NULL;
  if (config && !(cfg = kl_config_load(config, &err))) {
    fprintf(stderr, "keel guard: %s\n", err.msg);
    return 1;
  }
  const kl_policy_cfg *pc = NULL;
  for (size_t i = 0; cfg && i < cfg->npolicies; i++)
    if (!strcmp(cfg->policies[i].name, policy)) pc = &cfg->policies[i];
  kl_guard_policy *p = NULL;
  if (pc) {
    kl_guard_policy_cfg gc = {.name = pc->name, .scanners = pc->scanners, .nscanners = pc->nscanners};
    p = kl_guard_policy_build(&gc, &err);
  } else if (!strcmp(policy, "default")) {
    p = kl_guard_policy_default("default", &err);
  } else {
    kl_config_free(cfg);
    return usage_err(config ? "no such policy in the config:" : "without --config only 'default' exists, not", policy);
  }
  kl_config_free(cfg);
  if (!p) {
    fprintf(stderr, "keel guard: %s\n", err.msg);
    return 1;
  }
  int rc = guard_scan(p, st);
  kl_guard_policy_free(p);
  return rc;
}
