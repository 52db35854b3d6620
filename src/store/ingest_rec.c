/* ingest_rec.c: the queue's records (kl_rec): cloning and the spill-file form.
 *
 * Like kl_obs_clone, a record is ONE malloc block: the kl_rec, then every string it points
 * to, so kl_rec_free is a plain free() and a submit costs one allocation whatever its kind.
 *
 * Spill lines: a plain observation is written exactly as kl_obs_to_json writes it, so spill
 * files from before partial records existed still replay.  A patch is that object with
 * "rec":"patch" and its extra members added; a score is its own object with "rec":"score".
 * int64 values are decimal strings (unix ns exceed 2^53). */
#include "store/store_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

static void oom(size_t n) {
  fprintf(stderr, "keel: out of memory (record of %zu bytes)\n", n);
  abort();
}

static size_t slen(const char *s) { return s ? strlen(s) + 1 : 0; }

static const char *put_str(char **p, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  memcpy(*p, s, n);
  const char *r = *p;
  *p += n;
  return r;
}

/* Copies an id into a fixed field, truncated (never inside a UTF-8 sequence, as obs.c does)
 * and terminated; ids are validated upstream, this only keeps a torn spill line harmless. */
static void copy_id(char dst[KL_OBS_ID_MAX + 1], const char *src) {
  size_t n = strnlen(src, KL_OBS_ID_MAX);
  if (n == KL_OBS_ID_MAX && src[KL_OBS_ID_MAX] != 0)
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
  memmove(dst, src, n);
  dst[n] = 0;
}

kl_rec *kl_rec_from_obs(const kl_obs *o) {
  size_t total = sizeof(kl_rec) + kl_obs_strings_size(o);
  kl_rec *r = malloc(total);
  if (!r) oom(total);
  memset(r, 0, sizeof *r);
  r->kind = KL_REC_OBS;
  char *p = (char *)(r + 1);
  kl_obs_copy_into(&r->u.obs, o, &p);
  return r;
}

kl_rec *kl_rec_from_patch(const kl_obs_patch *pa) {
  size_t total = sizeof(kl_rec) + kl_obs_strings_size(&pa->obs) + slen(pa->version) + slen(pa->prompt_name);
  kl_rec *r = malloc(total);
  if (!r) oom(total);
  memset(r, 0, sizeof *r);
  r->kind = KL_REC_PATCH;
  r->u.patch = *pa;
  char *p = (char *)(r + 1);
  kl_obs_copy_into(&r->u.patch.obs, &pa->obs, &p);
  r->u.patch.version = put_str(&p, pa->version);
  r->u.patch.prompt_name = put_str(&p, pa->prompt_name);
  return r;
}

/* The score's string members, walked by clone, to_json and from_json alike. */
#define SS(m) {#m, offsetof(kl_score, m)}
static const struct { const char *key; size_t off; } k_score_strs[] = {
    SS(project_id), SS(name), SS(data_type), SS(string_value), SS(source), SS(comment),
    SS(config_id), SS(environment), SS(metadata_json),
};
#define NSS (sizeof k_score_strs / sizeof k_score_strs[0])
static const char **sstr(const kl_score *s, size_t i) { return (const char **)((char *)s + k_score_strs[i].off); }

#define SID(m) {#m, offsetof(kl_score, m)}
static const struct { const char *key; size_t off; } k_score_ids[] = {
    SID(id), SID(trace_id), SID(observation_id), SID(session_id), SID(dataset_run_id),
};
#define NSID (sizeof k_score_ids / sizeof k_score_ids[0])
static char *sid(const kl_score *s, size_t i) { return (char *)s + k_score_ids[i].off; }

kl_rec *kl_rec_from_score(const kl_score *sc) {
  size_t total = sizeof(kl_rec);
  for (size_t i = 0; i < NSS; i++) total += slen(*sstr(sc, i));
  kl_rec *r = malloc(total);
  if (!r) oom(total);
  memset(r, 0, sizeof *r);
  r->kind = KL_REC_SCORE;
  kl_score *d = &r->u.score;
  *d = *sc;
  for (size_t i = 0; i < NSID; i++) copy_id(sid(d, i), sid(sc, i));
  char *p = (char *)(r + 1);
  for (size_t i = 0; i < NSS; i++) *sstr(d, i) = put_str(&p, *sstr(sc, i));
  return r;
}

/* ---- spill form ---- */

static void put_opt_str(kl_buf *b, const char *key, const char *v) {
  if (!v) return;
  kl_buf_printf(b, ",\"%s\":", key);
  kl_buf_json_str(b, v, strlen(v));
}

void kl_rec_to_json(const kl_rec *r, kl_buf *b) {
  if (r->kind == KL_REC_OBS) {
    kl_obs_to_json(&r->u.obs, b);
    return;
  }
  if (r->kind == KL_REC_PATCH) {
    const kl_obs_patch *p = &r->u.patch;
    kl_obs_to_json(&p->obs, b);
    b->len--; /* reopen the object: it ends in '}' */
    kl_buf_printf(b, ",\"rec\":\"patch\",\"set\":%" PRIu32 ",\"trace_record\":%s,\"update\":%s,"
                  "\"received_ns\":\"%" PRId64 "\",\"prompt_version\":\"%" PRId64 "\"",
                  p->set, p->trace_record ? "true" : "false", p->update ? "true" : "false", p->received_ns,
                  p->prompt_version);
    put_opt_str(b, "version", p->version);
    put_opt_str(b, "prompt_name", p->prompt_name);
    kl_buf_putc(b, '}');
    return;
  }
  const kl_score *s = &r->u.score;
  kl_buf_puts(b, "{\"rec\":\"score\"");
  for (size_t i = 0; i < NSID; i++) {
    const char *v = sid(s, i);
    kl_buf_printf(b, ",\"%s\":", k_score_ids[i].key);
    kl_buf_json_str(b, v, strnlen(v, KL_OBS_ID_MAX));
  }
  for (size_t i = 0; i < NSS; i++) put_opt_str(b, k_score_strs[i].key, *sstr(s, i));
  double v = isfinite(s->value) ? s->value : 0;
  kl_buf_printf(b, ",\"value\":%.17g,\"timestamp_ns\":\"%" PRId64 "\"}", v, s->timestamp_ns);
}

kl_rec *kl_rec_from_json(const char *str, size_t n, kl_err *err) {
  cJSON *j = kl_json_parse(str, n, err);
  if (!j) return NULL;
  const char *kind = cJSON_IsObject(j) ? kl_json_str(j, "rec") : NULL;
  kl_rec *r = NULL;
  if (!kind) {
    cJSON_Delete(j);
    kl_obs *o = kl_obs_from_json(str, n, err);
    if (!o) return NULL;
    r = kl_rec_from_obs(o);
    kl_obs_free(o);
    return r;
  }
  if (strcmp(kind, "patch") == 0) {
    kl_obs *o = kl_obs_from_json(str, n, err);
    if (!o) goto out;
    kl_obs_patch p;
    memset(&p, 0, sizeof p);
    p.obs = *o;
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(j, "set");
    p.set = cJSON_IsNumber(set) && set->valuedouble >= 0 ? (uint32_t)set->valuedouble & KL_OBS_F_ALL : 0;
    p.trace_record = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "trace_record"));
    p.update = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "update"));
    p.version = kl_json_str(j, "version");
    p.prompt_name = kl_json_str(j, "prompt_name");
    if (kl_rec_json_i64(j, "received_ns", &p.received_ns) && kl_rec_json_i64(j, "prompt_version", &p.prompt_version))
      r = kl_rec_from_patch(&p);
    kl_obs_free(o);
  } else if (strcmp(kind, "score") == 0) {
    kl_score s;
    memset(&s, 0, sizeof s);
    bool ok = true;
    for (size_t i = 0; i < NSID; i++) {
      const char *v = kl_json_str(j, k_score_ids[i].key);
      if (v) copy_id(sid(&s, i), v);
    }
    for (size_t i = 0; i < NSS; i++) *sstr(&s, i) = kl_json_str(j, k_score_strs[i].key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
    if (cJSON_IsNumber(v)) s.value = v->valuedouble;
    ok = kl_rec_json_i64(j, "timestamp_ns", &s.timestamp_ns) && s.id[0] && s.name;
    if (ok) r = kl_rec_from_score(&s);
  }
out:
  cJSON_Delete(j);
  if (!r && err && !err->code) kl_err_set(err, 400, "not a spilled record (kind, id or a field is bad)");
  return r;
}
