/* guard_cmd.c: `keel guard scan`, the guardrails engine from the command line.
 *
 *   keel guard scan [--policy default]
 *
 * Reads lines on stdin: a JSON object {"id": any, "text": "..."} or, when a line is not such an
 * object, the line itself as plain text (its id is then the line number).  Writes one JSON line
 * per input: {"id", "action": "allow"|"block"|"redact", "findings": [...], "redacted": "..."}.
 * Only the built-in default policy exists for now (all PII scanners, action redact); policies
 * from the YAML config come later. */
#include "cli/cli.h"
#include "guard/kl_guard.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_err(const char *msg, const char *arg) {
  fprintf(stderr, "keel guard: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
  fprintf(stderr, "usage: keel guard scan [--policy default] < input\n");
  return 2;
}

static void scan_one(const kl_guard_policy *p, const char *id_json, const char *text, size_t len, kl_arena *a,
                     kl_buf *out) {
  kl_err err = {0};
  kl_guard_finding *f = NULL;
  long n = kl_guard_scan(p, text, len, a, &f, &err);
  if (n < 0) {
    kl_buf_printf(out, "{\"id\":%s,\"error\":", id_json);
    kl_buf_json_str(out, err.msg, strlen(err.msg));
    kl_buf_puts(out, "}\n");
    return;
  }
  kl_guard_action act = kl_guard_policy_action(p);
  const char *verdict = n == 0 ? "allow" : act == KL_GUARD_BLOCK ? "block" : "redact";
  kl_buf_printf(out, "{\"id\":%s,\"action\":\"%s\",\"findings\":[", id_json, verdict);
  for (long i = 0; i < n; i++)
    kl_buf_printf(out, "%s{\"scanner\":\"%s\",\"type\":\"%s\",\"rule\":\"%s\",\"start\":%zu,\"end\":%zu,\"score\":%.2f}",
                  i ? "," : "", f[i].scanner, f[i].type, f[i].rule, f[i].start, f[i].end, f[i].score);
  size_t rl = 0;
  char *red = kl_guard_apply(p, text, len, f, (size_t)n, act, a, &rl);
  kl_buf_puts(out, "],\"redacted\":");
  kl_buf_json_str(out, red, rl);
  kl_buf_puts(out, "}\n");
}

static int guard_scan(const kl_guard_policy *p) {
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
      scan_one(p, idj ? idj : "null", text->valuestring, strlen(text->valuestring), a, &out);
      cJSON_free(idj);
    } else {
      char idj[32];
      snprintf(idj, sizeof idj, "%zu", lineno);
      scan_one(p, idj, line, (size_t)n, a, &out);
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
  const char *policy = "default";
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--policy") && i + 1 < argc) policy = argv[++i];
    else return usage_err("unknown option", argv[i]);
  }
  if (strcmp(policy, "default")) return usage_err("unknown policy (only 'default' exists for now):", policy);
  kl_err err = {0};
  kl_guard_policy *p = kl_guard_policy_new("default", NULL, &err);
  if (!p) {
    fprintf(stderr, "keel guard: %s\n", err.msg);
    return 1;
  }
  int rc = guard_scan(p);
  kl_guard_policy_free(p);
  return rc;
}
