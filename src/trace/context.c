/* context.c: where a call's trace context comes from.
 *
 * A caller that already traces (OpenTelemetry, Langfuse) sends W3C `traceparent`; keel then
 * records its generation as a child of the caller's span in the caller's trace, so the
 * gateway call shows up inside the application's own trace.  Otherwise keel starts a trace.
 * Attribution comes from x-keel-* headers (set by a proxy or the app without touching the
 * body) or the OpenAI body's `user` / `metadata` fields. */
#include "trace/kl_trace.h"

#include <ctype.h>
#include <string.h>

/* traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags> */
static int parse_traceparent(const char *v, kl_trace_ctx *ctx) {
  size_t n = strlen(v);
  if (n < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return -1;
  char ver[3] = {v[0], v[1], 0}, tid[33], pid[17];
  memcpy(tid, v + 3, 32);
  tid[32] = 0;
  memcpy(pid, v + 36, 16);
  pid[16] = 0;
  if (!kl_id_is_hex(ver, 2) || !strcmp(ver, "ff") || !kl_id_is_hex(tid, 32) || !kl_id_is_hex(pid, 16))
    return -1;
  if (!strcmp(tid, "00000000000000000000000000000000") || !strcmp(pid, "0000000000000000")) return -1;
  for (int i = 0; i < 32; i++) ctx->trace_id[i] = (char)tolower((unsigned char)tid[i]);
  ctx->trace_id[32] = 0;
  for (int i = 0; i < 16; i++) ctx->parent_id[i] = (char)tolower((unsigned char)pid[i]);
  ctx->parent_id[16] = 0;
  return 0;
}

static const char *tags_from_header(kl_arena *a, const char *v, kl_err *err) {
  while (*v == ' ') v++;
  if (*v == '[') {
    kl_err e;
    cJSON *j = kl_json_parse(v, strlen(v), &e);
    bool ok = cJSON_IsArray(j);
    for (cJSON *it = j ? j->child : NULL; ok && it; it = it->next) ok = cJSON_IsString(it);
    if (!ok) {
      cJSON_Delete(j);
      kl_err_set(err, 400, "x-keel-tags: expected a JSON array of strings or a comma-separated list");
      return NULL;
    }
    const char *r = kl_json_print_arena(a, j);
    cJSON_Delete(j);
    return r;
  }
  kl_buf b = KL_BUF_INIT;
  kl_buf_putc(&b, '[');
  int n = 0;
  const char *p = v;
  while (*p) {
    const char *e = strchr(p, ',');
    if (!e) e = p + strlen(p);
    const char *s = p, *t = e;
    while (s < t && isspace((unsigned char)*s)) s++;
    while (t > s && isspace((unsigned char)t[-1])) t--;
    if (t > s) {
      if (n++) kl_buf_putc(&b, ',');
      kl_buf_json_str(&b, s, (size_t)(t - s));
    }
    p = *e ? e + 1 : e;
  }
  kl_buf_putc(&b, ']');
  const char *r = n ? kl_arena_strdup(a, b.data) : NULL;
  kl_buf_free(&b);
  return r;
}

int kl_trace_ctx_init(kl_trace_ctx *ctx, kl_arena *a, kl_header_fn hdr, void *ud,
                      const char *body_user, const cJSON *body_metadata, kl_err *err) {
  memset(ctx, 0, sizeof *ctx);
  const char *v;
  if (hdr && (v = hdr(ud, "traceparent")) != NULL && parse_traceparent(v, ctx) != 0) {
    kl_err_set(err, 400, "traceparent: malformed (expected 00-<32 hex>-<16 hex>-<2 hex>)");
    return -1;
  }
  if (!ctx->trace_id[0] && hdr && (v = hdr(ud, "x-keel-trace-id")) != NULL) {
    if (!kl_id_is_hex(v, 32)) {
      kl_err_set(err, 400, "x-keel-trace-id: expected 32 hex characters");
      return -1;
    }
    for (int i = 0; i < 32; i++) ctx->trace_id[i] = (char)tolower((unsigned char)v[i]);
  }
  if (!ctx->trace_id[0]) kl_id_trace(ctx->trace_id);
  kl_id_span(ctx->span_id);

  ctx->user_id = hdr ? hdr(ud, "x-keel-user") : NULL;
  if (!ctx->user_id && body_user && *body_user) ctx->user_id = body_user;
  ctx->session_id = hdr ? hdr(ud, "x-keel-session") : NULL;
  ctx->trace_name = hdr ? hdr(ud, "x-keel-trace-name") : NULL;
  if (hdr && (v = hdr(ud, "x-keel-tags")) != NULL) {
    ctx->tags_json = tags_from_header(a, v, err);
    if (!kl_err_ok(err)) return -1;
  }

  cJSON *meta = NULL;
  if (cJSON_IsObject(body_metadata)) meta = cJSON_Duplicate(body_metadata, 1);
  if (hdr && (v = hdr(ud, "x-keel-metadata")) != NULL) {
    kl_err e;
    cJSON *hm = kl_json_parse(v, strlen(v), &e);
    if (!cJSON_IsObject(hm)) {
      cJSON_Delete(hm);
      cJSON_Delete(meta);
      kl_err_set(err, 400, "x-keel-metadata: expected a JSON object");
      return -1;
    }
    if (!meta) {
      meta = hm;
    } else {
      while (hm->child) {
        cJSON *it = cJSON_DetachItemViaPointer(hm, hm->child);
        cJSON_DeleteItemFromObjectCaseSensitive(meta, it->string);
        cJSON_AddItemToObject(meta, it->string, it);
      }
      cJSON_Delete(hm);
    }
  }
  if (meta) {
    ctx->metadata_json = kl_json_print_arena(a, meta);
    cJSON_Delete(meta);
  }
  /* the session can also come from metadata.session_id (LiteLLM / Langfuse convention) */
  if (!ctx->session_id && cJSON_IsObject(body_metadata)) {
    const char *s = kl_json_str(body_metadata, "session_id");
    if (s && *s) ctx->session_id = s;
  }
  return 0;
}
