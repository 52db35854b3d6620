/* obs.c: copying and (de)serialising kl_obs.
 *
 * A queued observation must outlive the caller's buffers, so kl_store_submit clones it.
 * The clone is ONE malloc block (struct first, then every string back to back): one
 * allocation per submit instead of twenty, and kl_obs_free is a plain free().
 *
 * The JSON form is the spill file's line format.  It names every field after the struct
 * member, keeps JSON-text fields as strings (so they round-trip byte for byte even when a
 * caller stored invalid JSON) and writes int64 values as decimal strings because unix
 * nanoseconds do not fit a double exactly. */
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Every string member, with its name in the JSON form: the single list that clone, to_json
 * and from_json walk, so adding a field to kl_obs means adding one line here. */
typedef struct { const char *key; size_t off; } str_field;
#define SF(m) {#m, offsetof(kl_obs, m)}
static const str_field k_strs[] = {
    SF(project_id), SF(type), SF(name), SF(level), SF(status_message), SF(model),
    SF(provider), SF(upstream_model), SF(model_params_json), SF(input_json), SF(output_json),
    SF(metadata_json), SF(finish_reason), SF(usage_json), SF(cost_json), SF(trace_name),
    SF(user_id), SF(session_id), SF(tags_json), SF(environment), SF(release),
};
#define NSTR (sizeof k_strs / sizeof k_strs[0])

typedef struct { const char *key; size_t off; } i64_field;
#define IF(m) {#m, offsetof(kl_obs, m)}
static const i64_field k_i64s[] = {
    IF(start_ns), IF(end_ns), IF(completion_start_ns), IF(usage_input), IF(usage_input_cached),
    IF(usage_input_cache_write), IF(usage_output), IF(usage_output_reasoning),
};
#define NI64 (sizeof k_i64s / sizeof k_i64s[0])

static inline const char **str_at(const kl_obs *o, size_t i) {
  return (const char **)((char *)o + k_strs[i].off);
}
static inline int64_t *i64_at(const kl_obs *o, size_t i) {
  return (int64_t *)((char *)o + k_i64s[i].off);
}

/* Copies an id into a fixed KL_OBS_ID_MAX+1-byte field, truncating (never inside a UTF-8 sequence) and
 * always terminating. */
static void copy_id(char dst[KL_OBS_ID_MAX + 1], const char *src) {
  size_t n = strnlen(src, KL_OBS_ID_MAX);
  if (n == KL_OBS_ID_MAX && src[KL_OBS_ID_MAX] != 0)
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--; /* src[n] continues a sequence */
  memcpy(dst, src, n);
  dst[n] = 0;
}

size_t kl_obs_strings_size(const kl_obs *o) {
  size_t total = 0;
  for (size_t i = 0; i < NSTR; i++) {
    const char *v = *str_at(o, i);
    total += v ? strlen(v) + 1 : 0;
  }
  return total;
}

/* The struct copy already holds the ids byte for byte; copy_id changes them only when one is
 * not terminated within KL_OBS_ID_MAX bytes. */
static void fix_id(char dst[KL_OBS_ID_MAX + 1], const char *src) {
  if (!memchr(src, 0, KL_OBS_ID_MAX)) copy_id(dst, src);
}

void kl_obs_copy_into(kl_obs *c, const kl_obs *o, char **pp) {
  *c = *o;
  fix_id(c->id, o->id);
  fix_id(c->trace_id, o->trace_id);
  fix_id(c->parent_id, o->parent_id);
  char *p = *pp;
  for (size_t i = 0; i < NSTR; i++) {
    const char *v = *str_at(o, i);
    if (!v) continue;
    *str_at(c, i) = p;
    p = stpcpy(p, v) + 1; /* one pass where strlen and memcpy were two */
  }
  *pp = p;
}

kl_obs *kl_obs_clone(const kl_obs *o) {
  size_t total = sizeof(kl_obs) + kl_obs_strings_size(o);
  kl_obs *c = malloc(total);
  if (!c) {
    fprintf(stderr, "keel: out of memory (observation of %zu bytes)\n", total);
    abort();
  }
  char *p = (char *)(c + 1);
  kl_obs_copy_into(c, o, &p);
  return c;
}

void kl_obs_to_json(const kl_obs *o, kl_buf *b) {
  kl_buf_puts(b, "{\"id\":");
  kl_buf_json_str(b, o->id, strnlen(o->id, KL_OBS_ID_MAX));
  kl_buf_puts(b, ",\"trace_id\":");
  kl_buf_json_str(b, o->trace_id, strnlen(o->trace_id, KL_OBS_ID_MAX));
  kl_buf_puts(b, ",\"parent_id\":");
  kl_buf_json_str(b, o->parent_id, strnlen(o->parent_id, KL_OBS_ID_MAX));
  for (size_t i = 0; i < NSTR; i++) {
    const char *v = *str_at(o, i);
    if (!v) continue; /* absent = NULL */
    kl_buf_printf(b, ",\"%s\":", k_strs[i].key);
    kl_buf_json_str(b, v, strlen(v));
  }
  for (size_t i = 0; i < NI64; i++)
    kl_buf_printf(b, ",\"%s\":\"%" PRId64 "\"", k_i64s[i].key, *i64_at(o, i));
  double cost = isfinite(o->cost_usd) ? o->cost_usd : -1;
  kl_buf_printf(b, ",\"http_status\":%d,\"usage_estimated\":%s,\"cost_usd\":%.17g}", o->http_status,
                o->usage_estimated ? "true" : "false", cost);
}

/* int64 from a string ("123") or a number; false when neither (absent: true, *out kept).
 * Spill records carry ns times as strings (JSON numbers lose precision past 2^53). */
bool kl_rec_json_i64(const cJSON *j, const char *key, int64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!v) return true; /* absent: keep 0 */
  if (cJSON_IsNumber(v)) {
    *out = kl_json_int(j, key, 0);
    return true;
  }
  if (!cJSON_IsString(v)) return false;
  char *end;
  errno = 0;
  long long x = strtoll(v->valuestring, &end, 10);
  if (errno || end == v->valuestring || *end) return false;
  *out = x;
  return true;
}

kl_obs *kl_obs_from_json(const char *s, size_t n, kl_err *err) {
  cJSON *j = kl_json_parse(s, n, err);
  if (!j) return NULL;
  kl_obs o;
  memset(&o, 0, sizeof o);
  o.cost_usd = -1;
  if (!cJSON_IsObject(j)) goto bad;
  const char *id = kl_json_str(j, "id"), *tid = kl_json_str(j, "trace_id");
  const char *pid = kl_json_str(j, "parent_id");
  if (!id || !*id || !tid) goto bad;
  copy_id(o.id, id);
  copy_id(o.trace_id, tid);
  copy_id(o.parent_id, pid ? pid : "");
  for (size_t i = 0; i < NSTR; i++) *str_at(&o, i) = kl_json_str(j, k_strs[i].key);
  for (size_t i = 0; i < NI64; i++)
    if (!kl_rec_json_i64(j, k_i64s[i].key, i64_at(&o, i))) goto bad;
  o.http_status = (int)kl_json_int(j, "http_status", 0);
  o.usage_estimated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "usage_estimated"));
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "cost_usd");
  if (cJSON_IsNumber(c)) o.cost_usd = c->valuedouble;
  kl_obs *r = kl_obs_clone(&o);
  cJSON_Delete(j);
  return r;
bad:
  cJSON_Delete(j);
  kl_err_set(err, 400, "not a spilled observation (missing id/trace_id or bad field)");
  return NULL;
}
