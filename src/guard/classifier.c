/* classifier.c: the `classifier` scanner kind: an external model server (a prompt-injection or
 * toxicity classifier) that keel posts the text to.
 *
 * The guard pillar knows no event loop, so this kind only validates its config here; the
 * gateway finds classifier scanners with kl_guard_policy_classifiers, runs the HTTP call on
 * its loop in parallel with the upstream call, and turns the answer into a finding with
 * kl_guard_classifier_verdict.  The wire format is the one text-classification servers (HF
 * text-embeddings-inference /predict, simple FastAPI wrappers) agree on: POST {"text": ...},
 * answer {"label": "INJECTION", "score": 0.97} or a list of such objects. */
#include "guard/guard_int.h"

#include <cjson/cJSON.h>
#include <string.h>
#include <strings.h>

static bool classifier_init(guard_scanner *s, const kl_guard_scanner_cfg *cfg, kl_err *err) {
  (void)s;
  if (!cfg->url || (strncmp(cfg->url, "http://", 7) && strncmp(cfg->url, "https://", 8))) {
    kl_err_set(err, 400, "classifier needs url: http://... or https://...");
    return false;
  }
  if (cfg->timeout_ms < 0 || cfg->timeout_ms > 600000) {
    kl_err_set(err, 400, "classifier timeout_ms must be within 0..600000");
    return false;
  }
  return true;
}

const guard_kind guard_kind_classifier = {
  .kind = "classifier",
  .stages = 1u << KL_GUARD_INPUT | 1u << KL_GUARD_DURING | 1u << KL_GUARD_OUTPUT,
  .action = KL_GUARD_BLOCK,
  .threshold = 0.5,
  .init = classifier_init,
};

/* Labels that mean "safe" in the common classifiers' vocabularies. */
static bool benign_label(const char *l) {
  static const char *const ok[] = {"SAFE", "BENIGN", "LEGIT", "LABEL_0", "NEGATIVE", "OK", "NONE", "NEUTRAL"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    if (!strcasecmp(l, ok[i])) return true;
  return false;
}

int kl_guard_classifier_verdict(const kl_guard_scanner_cfg *cfg, const char *body, size_t n, double *score,
                                const char **label, kl_arena *a, kl_err *err) {
  cJSON *j = cJSON_ParseWithLength(body, n);
  if (!j) {
    kl_err_set(err, 502, "classifier %s: answer is not JSON", cfg->url);
    return -1;
  }
  /* {"label","score"} | [{"label","score"}, ...] | [[{...}]]: the worst non-benign label wins */
  const cJSON *list = j;
  if (cJSON_IsArray(list) && cJSON_IsArray(cJSON_GetArrayItem(list, 0))) list = cJSON_GetArrayItem(list, 0);
  double best = 0;
  const char *best_label = NULL;
  bool any = false;
  const cJSON *it = cJSON_IsArray(list) ? list->child : list;
  for (; it; it = cJSON_IsArray(list) ? it->next : NULL) {
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(it, "label"), *s = cJSON_GetObjectItemCaseSensitive(it, "score");
    if (!cJSON_IsString(l) || !cJSON_IsNumber(s)) continue;
    any = true;
    double v = benign_label(l->valuestring) ? 1 - s->valuedouble : s->valuedouble;
    if (!best_label || v > best) {
      best = v;
      best_label = l->valuestring;
    }
    if (!cJSON_IsArray(list)) break;
  }
  if (!any) {
    cJSON_Delete(j);
    kl_err_set(err, 502, "classifier %s: answer has no {label, score}", cfg->url);
    return -1;
  }
  *score = best < 0 ? 0 : best > 1 ? 1 : best;
  *label = kl_arena_strdup(a, best_label);
  cJSON_Delete(j);
  return 0;
}
