/* ingest_merge.c: applying partial records (see "Partial records" in kl_ingest.h).
 *
 * Langfuse's SDKs send an observation as a create plus any number of updates, in no
 * guaranteed order and possibly more than once (retries resend whole batches).  Folding them
 * with presence bits makes the result independent of arrival order for every field the
 * sender set once, and idempotent for replays: merging the same record twice changes nothing
 * (metadata merge and tag union are idempotent too).  When two records set the same field,
 * the one applied later wins: kl_ingest_order() makes that "creates, then updates by envelope
 * timestamp", which is what the SDK meant. */
#include "trace/ingest_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  kl_ingest_obs *r;
  size_t idx;
} ordered;

static int cmp_order(const void *x, const void *y) {
  const ordered *a = x, *b = y;
  if (a->r->op != b->r->op) return a->r->op == KL_INGEST_CREATE ? -1 : 1;
  if (a->r->received_ns != b->r->received_ns) return a->r->received_ns < b->r->received_ns ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

void kl_ingest_order(kl_ingest_obs **recs, size_t n) {
  if (n < 2) return;
  ordered *v = malloc(n * sizeof *v);
  if (!v) abort();
  for (size_t i = 0; i < n; i++) v[i] = (ordered){recs[i], i};
  qsort(v, n, sizeof *v, cmp_order);
  for (size_t i = 0; i < n; i++) recs[i] = v[i].r;
  free(v);
}

/* Plain string fields: replaced when set in src. */
static const struct {
  uint32_t bit;
  size_t off;
} k_strs[] = {
    {KL_INGEST_F_NAME, offsetof(kl_obs, name)},
    {KL_INGEST_F_LEVEL, offsetof(kl_obs, level)},
    {KL_INGEST_F_STATUS_MESSAGE, offsetof(kl_obs, status_message)},
    {KL_INGEST_F_MODEL, offsetof(kl_obs, model)},
    {KL_INGEST_F_PROVIDER, offsetof(kl_obs, provider)},
    {KL_INGEST_F_UPSTREAM_MODEL, offsetof(kl_obs, upstream_model)},
    {KL_INGEST_F_MODEL_PARAMS, offsetof(kl_obs, model_params_json)},
    {KL_INGEST_F_INPUT, offsetof(kl_obs, input_json)},
    {KL_INGEST_F_OUTPUT, offsetof(kl_obs, output_json)},
    {KL_INGEST_F_FINISH_REASON, offsetof(kl_obs, finish_reason)},
    {KL_INGEST_F_TRACE_NAME, offsetof(kl_obs, trace_name)},
    {KL_INGEST_F_USER, offsetof(kl_obs, user_id)},
    {KL_INGEST_F_SESSION, offsetof(kl_obs, session_id)},
    {KL_INGEST_F_ENVIRONMENT, offsetof(kl_obs, environment)},
    {KL_INGEST_F_RELEASE, offsetof(kl_obs, release)},
};

static const char **str_at(kl_obs *o, size_t off) { return (const char **)((char *)o + off); }

static const char *merge_metadata(kl_arena *a, const char *dst, const char *src) {
  cJSON *d = dst ? cJSON_Parse(dst) : NULL, *s = src ? cJSON_Parse(src) : NULL;
  const char *r = src;
  if (cJSON_IsObject(d) && cJSON_IsObject(s)) {
    const cJSON *it;
    cJSON_ArrayForEach(it, s) kl__json_set(d, it->string, cJSON_Duplicate(it, true));
    r = kl__json_print(a, d);
  } else if (!s) {
    r = dst;
  }
  cJSON_Delete(d);
  cJSON_Delete(s);
  return r;
}

static const char *merge_tags(kl_arena *a, const char *dst, const char *src) {
  cJSON *d = dst ? cJSON_Parse(dst) : NULL, *s = src ? cJSON_Parse(src) : NULL;
  const char *r = src;
  if (cJSON_IsArray(d) && cJSON_IsArray(s)) {
    const cJSON *it, *have;
    cJSON_ArrayForEach(it, s) {
      bool dup = false;
      cJSON_ArrayForEach(have, d) dup = dup || cJSON_Compare(have, it, true);
      if (!dup) cJSON_AddItemToArray(d, cJSON_Duplicate(it, true));
    }
    r = kl__json_print(a, d);
  } else if (!s) {
    r = dst;
  }
  cJSON_Delete(d);
  cJSON_Delete(s);
  return r;
}

void kl_ingest_merge(kl_ingest_obs *dst, const kl_ingest_obs *src, kl_arena *a) {
  kl_obs *d = &dst->obs;
  const kl_obs *s = &src->obs;
  uint32_t set = src->set;
  if (dst->kind == KL_INGEST_NONE) dst->kind = src->kind;
  if (!d->id[0]) memcpy(d->id, s->id, sizeof d->id);
  if (!d->trace_id[0]) memcpy(d->trace_id, s->trace_id, sizeof d->trace_id);
  /* an update's type (implied by "generation-update") only fills in a missing one */
  if ((set & KL_INGEST_F_TYPE) && (!(dst->set & KL_INGEST_F_TYPE) || src->op == KL_INGEST_CREATE)) d->type = s->type;
  if (set & KL_INGEST_F_PARENT) memcpy(d->parent_id, s->parent_id, sizeof d->parent_id);
  for (size_t i = 0; i < sizeof k_strs / sizeof k_strs[0]; i++)
    if (set & k_strs[i].bit) *str_at(d, k_strs[i].off) = *str_at((kl_obs *)s, k_strs[i].off);
  if (set & KL_INGEST_F_START) d->start_ns = s->start_ns;
  if (set & KL_INGEST_F_END) d->end_ns = s->end_ns;
  if (set & KL_INGEST_F_COMPLETION_START) d->completion_start_ns = s->completion_start_ns;
  if (set & KL_INGEST_F_USAGE) {
    d->usage_input = s->usage_input;
    d->usage_input_cached = s->usage_input_cached;
    d->usage_input_cache_write = s->usage_input_cache_write;
    d->usage_output = s->usage_output;
    d->usage_output_reasoning = s->usage_output_reasoning;
    d->usage_json = s->usage_json;
    d->usage_estimated = s->usage_estimated;
  }
  if (set & KL_INGEST_F_COST) {
    d->cost_usd = s->cost_usd;
    d->cost_json = s->cost_json;
  }
  if (set & KL_INGEST_F_METADATA) d->metadata_json = merge_metadata(a, d->metadata_json, s->metadata_json);
  if (set & KL_INGEST_F_TAGS) d->tags_json = merge_tags(a, d->tags_json, s->tags_json);
  if (set & KL_INGEST_F_VERSION) dst->version = src->version;
  if (set & KL_INGEST_F_PROMPT) {
    dst->prompt_name = src->prompt_name;
    dst->prompt_version = src->prompt_version;
  }
  if (!(dst->set & KL_INGEST_F_COST) && !(set & KL_INGEST_F_COST)) d->cost_usd = -1;
  if (src->op == KL_INGEST_CREATE) dst->op = KL_INGEST_CREATE;
  if (src->received_ns > dst->received_ns) dst->received_ns = src->received_ns;
  dst->set |= set;
}
