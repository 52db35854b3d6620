/* json.c: the few things keel needs on top of cJSON.  cJSON accepts invalid UTF-8
 * and stores numbers as doubles, so: inputs are UTF-8-checked before parsing, and
 * integers are read from valuedouble (valueint saturates at INT_MAX). */
#include "base/kl_base.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

int64_t kl_json_int(const cJSON *obj, const char *key, int64_t def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v)) return def;
  double d = v->valuedouble;
  if (!isfinite(d) || d > 9007199254740992.0 || d < -9007199254740992.0) return def;
  return (int64_t)d;
}

const char *kl_json_str(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

cJSON *kl_json_parse(const char *s, size_t n, kl_err *err) {
  if (n == 0) {
    kl_err_set(err, 400, "empty body: expected a JSON object");
    return NULL;
  }
  if (!kl_utf8_valid(s, n)) {
    kl_err_set(err, 400, "body is not valid UTF-8");
    return NULL;
  }
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
  if (!j) {
    size_t off = end ? (size_t)(end - s) : 0;
    if (off > n) off = n;
    kl_err_set(err, 400, "malformed JSON near byte %zu", off);
    return NULL;
  }
  /* trailing garbage (other than whitespace) is an error too */
  if (end) {
    while ((size_t)(end - s) < n && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
    if ((size_t)(end - s) < n) {
      kl_err_set(err, 400, "malformed JSON: trailing data at byte %zu", (size_t)(end - s));
      cJSON_Delete(j);
      return NULL;
    }
  }
  return j;
}

char *kl_json_print_arena(kl_arena *a, const cJSON *j) {
  char *p = cJSON_PrintUnformatted(j);
  if (!p) return NULL;
  char *r = kl_arena_strdup(a, p);
  cJSON_free(p);
  return r;
}

size_t kl_json_pick(kl_buf *out, const cJSON *obj, const char *const *keys, size_t nkeys) {
  size_t n = 0;
  for (size_t k = 0; obj && k < nkeys; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[k]);
    if (!v || cJSON_IsNull(v)) continue;
    char *p = cJSON_PrintUnformatted(v);
    if (!p) continue;
    if (n++) kl_buf_putc(out, ',');
    kl_buf_json_str(out, keys[k], strlen(keys[k]));
    kl_buf_putc(out, ':');
    kl_buf_puts(out, p);
    cJSON_free(p);
  }
  return n;
}
