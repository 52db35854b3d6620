/* row_read.c: stored rows read back into records, for both backends' merge paths.
 *
 * A partial record (a Langfuse update, a late OTLP span) is merged with the stored row, so
 * the row must come back as exactly what was written: a kl_obs_patch with every field and the
 * ingest bookkeeping (which fields senders gave, update-only, newest envelope time).  SQLite's
 * ingest_sqlite.c and PostgreSQL's pg_ingest.c run the same merge on what this decodes, each
 * through its own kl_row (row.h); the merge's order (kl_row_merge) is here too, so the two
 * write paths cannot come to disagree on which record wins a field. */
#include "store/row.h"
#include "store/sqlite_int.h"

#include <stddef.h>
#include <string.h>

/* Column text copied into the arena (the backend's memory dies with its statement). */
static const char *col_str(kl_arena *a, const kl_row *r, int col) {
  size_t n;
  const char *t = r->ops->text(r, col, &n);
  return t ? kl_arena_strndup(a, t, n) : NULL;
}

static void col_id(char dst[KL_OBS_ID_MAX + 1], const kl_row *r, int col) {
  size_t n;
  const char *t = r->ops->text(r, col, &n);
  if (!t) n = 0;
  if (n > KL_OBS_ID_MAX) n = KL_OBS_ID_MAX;
  if (n) memcpy(dst, t, n);
  dst[n] = 0;
}

void kl_row_obs_patch(const kl_row *r, kl_arena *a, const char *project, kl_obs_patch *out) {
  memset(out, 0, sizeof *out);
  kl_obs *o = &out->obs;
  col_id(o->id, r, OC_ID);
  col_id(o->trace_id, r, OC_TRACE);
  col_id(o->parent_id, r, OC_PARENT);
  o->project_id = kl_arena_strdup(a, project);
  static const struct { int col; size_t off; } strs[] = {
      {OC_TYPE, offsetof(kl_obs, type)}, {OC_NAME, offsetof(kl_obs, name)}, {OC_LEVEL, offsetof(kl_obs, level)},
      {OC_STATUS_MSG, offsetof(kl_obs, status_message)}, {OC_MODEL, offsetof(kl_obs, model)},
      {OC_PROVIDER, offsetof(kl_obs, provider)}, {OC_UPMODEL, offsetof(kl_obs, upstream_model)},
      {OC_PARAMS, offsetof(kl_obs, model_params_json)}, {OC_INPUT, offsetof(kl_obs, input_json)},
      {OC_OUTPUT, offsetof(kl_obs, output_json)}, {OC_METADATA, offsetof(kl_obs, metadata_json)},
      {OC_FINISH, offsetof(kl_obs, finish_reason)}, {OC_USAGE, offsetof(kl_obs, usage_json)},
      {OC_COST, offsetof(kl_obs, cost_json)}, {OC_TRACE_NAME, offsetof(kl_obs, trace_name)},
      {OC_USER, offsetof(kl_obs, user_id)}, {OC_SESSION, offsetof(kl_obs, session_id)},
      {OC_TAGS, offsetof(kl_obs, tags_json)}, {OC_ENV, offsetof(kl_obs, environment)},
      {OC_RELEASE, offsetof(kl_obs, release)},
  };
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    *(const char **)((char *)o + strs[i].off) = col_str(a, r, strs[i].col);
  int64_t (*i64)(const kl_row *, int) = r->ops->i64;
  o->http_status = (int)i64(r, OC_HTTP);
  o->start_ns = i64(r, OC_START);
  o->end_ns = i64(r, OC_END);
  o->completion_start_ns = i64(r, OC_CSTART);
  o->usage_input = i64(r, OC_U_IN);
  o->usage_input_cached = i64(r, OC_U_CACHED);
  o->usage_input_cache_write = i64(r, OC_U_CWRITE);
  o->usage_output = i64(r, OC_U_OUT);
  o->usage_output_reasoning = i64(r, OC_U_REASON);
  o->usage_estimated = i64(r, OC_U_EST) != 0;
  o->cost_usd = r->ops->is_null(r, OC_COST_USD) ? -1 : r->ops->dbl(r, OC_COST_USD);
  out->version = col_str(a, r, OC_VERSION);
  out->prompt_name = col_str(a, r, OC_PROMPT_NAME);
  out->prompt_version = i64(r, OC_PROMPT_VERSION);
  if (r->ops->is_null(r, OC_INGEST_SET)) {
    out->set = KL_OBS_F_ALL; /* keel's own row: complete, a create */
  } else {
    out->set = (uint32_t)i64(r, OC_INGEST_SET) & KL_OBS_F_ALL;
    out->update = i64(r, OC_INGEST_UPDATE) != 0;
    out->received_ns = i64(r, OC_INGEST_NS);
  }
}

void kl_row_trace_fields(const kl_row *r, kl_arena *a, kl_obs_patch *p) {
  if (r->ops->is_null(r, KL_TRACE_REC_SET)) return;
  uint32_t tset = (uint32_t)r->ops->i64(r, KL_TRACE_REC_SET);
  static const struct { uint32_t bit; int col; size_t off; } f[] = {
      {KL_OBS_F_TRACE_NAME, 0, offsetof(kl_obs, trace_name)}, {KL_OBS_F_USER, 1, offsetof(kl_obs, user_id)},
      {KL_OBS_F_SESSION, 2, offsetof(kl_obs, session_id)},    {KL_OBS_F_TAGS, 3, offsetof(kl_obs, tags_json)},
      {KL_OBS_F_ENVIRONMENT, 4, offsetof(kl_obs, environment)}, {KL_OBS_F_RELEASE, 5, offsetof(kl_obs, release)},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if ((tset & f[i].bit) && !(p->set & f[i].bit)) *(const char **)((char *)&p->obs + f[i].off) = col_str(a, r, f[i].col);
}

bool kl_row_trace_record(const kl_row *r, kl_arena *a, const kl_obs_patch *rec, kl_obs_patch *out) {
  if (r->ops->is_null(r, KL_TRACE_REC_SET)) return false;
  memset(out, 0, sizeof *out);
  out->trace_record = true;
  out->obs = rec->obs; /* ids */
  kl_obs *o = &out->obs;
  o->name = o->trace_name = col_str(a, r, 0);
  o->user_id = col_str(a, r, 1);
  o->session_id = col_str(a, r, 2);
  o->tags_json = col_str(a, r, 3);
  o->environment = col_str(a, r, 4);
  o->release = col_str(a, r, 5);
  o->metadata_json = col_str(a, r, 6);
  o->input_json = col_str(a, r, 7);
  o->output_json = col_str(a, r, 8);
  out->version = col_str(a, r, 9);
  o->start_ns = r->ops->i64(r, 10);
  out->set = (uint32_t)r->ops->i64(r, KL_TRACE_REC_SET) & KL_OBS_F_ALL;
  out->received_ns = r->ops->i64(r, 12);
  return true;
}

void kl_row_merge(kl_obs_patch *dst, const kl_obs_patch *rec, const kl_obs_patch *cur, kl_obs_merge_fn merge,
                  kl_arena *a) {
  /* underneath: a create meeting a row only updates have reached, or an older envelope */
  if ((!rec->update && cur->update) || rec->received_ns < cur->received_ns) {
    *dst = *rec;
    merge(dst, cur, a);
  } else {
    *dst = *cur;
    merge(dst, rec, a);
  }
}

void kl_row_patch_defaults(kl_obs_patch *p) {
  if (!(p->set & KL_OBS_F_START)) p->obs.start_ns = p->received_ns > 0 ? p->received_ns : kl_now_ns();
  if (!(p->set & KL_OBS_F_COST)) p->obs.cost_usd = -1;
}
