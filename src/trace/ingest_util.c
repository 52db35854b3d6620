/* ingest_util.c: what both OTLP decoders and both mappers share: the span list the decoders
 * build, span validation (one rule set, so JSON and protobuf reject the same spans), OTLP
 * values as JSON, and small JSON/text helpers.
 *
 * Spans are validated after decoding rather than failing the request: OTLP's partialSuccess
 * exists so that one bad span (a zero trace id from a broken exporter) does not make the
 * client retry, forever, a batch whose other spans are fine. */
#include "trace/ingest_int.h"

#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

kl_otlp_span *kl__otlp_push(kl_otlp_spanvec *sv) {
  sv->v = kl_arena_grow(sv->a, sv->v, sv->n, &sv->cap, sizeof *sv->v, 8);
  kl_otlp_span *sp = &sv->v[sv->n++];
  memset(sp, 0, sizeof *sp);
  return sp;
}

void kl__otlp_reject_last(kl_otlp_spanvec *sv, const char *msg) {
  if (sv->n) sv->n--;
  if (!sv->rejected++) sv->reject_msg = msg;
}

void kl__otlp_finish(kl_otlp_spanvec *sv, kl_otlp_request *out) {
  out->spans = sv->v;
  out->nspans = sv->n;
  out->rejected = sv->rejected;
  out->reject_msg = sv->reject_msg;
}

void kl__hex(const uint8_t *b, size_t n, char *out) {
  static const char k[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = k[b[i] >> 4];
    out[2 * i + 1] = k[b[i] & 15];
  }
  out[2 * n] = 0;
}

static bool all_zero(const char *hex) {
  for (; *hex; hex++)
    if (*hex != '0') return false;
  return true;
}

const char *kl__otlp_span_problem(const kl_otlp_span *sp) {
  if (!sp->trace_id[0]) return "span without a trace id";
  if (!sp->span_id[0]) return "span without a span id";
  if (all_zero(sp->trace_id)) return "span with an all-zero trace id";
  if (all_zero(sp->span_id)) return "span with an all-zero span id";
  if (sp->start_ns < 0 || sp->end_ns < 0) return "span with a negative time";
  return NULL;
}

const kl_otlp_value *kl_otlp_attr(const kl_otlp_attrs *attrs, const char *key) {
  for (size_t i = 0; attrs && i < attrs->n; i++)
    if (strcmp(attrs->kv[i].key, key) == 0) return &attrs->kv[i].value;
  return NULL;
}

void kl__base64(const uint8_t *b, size_t n, kl_buf *out) {
  static const char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)b[i] << 16;
    if (i + 1 < n) v |= (uint32_t)b[i + 1] << 8;
    if (i + 2 < n) v |= b[i + 2];
    char q[4] = {k[(v >> 18) & 63], k[(v >> 12) & 63], i + 1 < n ? k[(v >> 6) & 63] : '=',
                 i + 2 < n ? k[v & 63] : '='};
    kl_buf_append(out, q, 4);
  }
}

cJSON *kl__otlp_value_cjson(const kl_otlp_value *v, int depth) {
  switch (v->type) {
  case KL_OTLP_STRING: return cJSON_CreateString(v->s);
  case KL_OTLP_BOOL: return cJSON_CreateBool(v->b);
  case KL_OTLP_INT:
    if (v->i > 9007199254740992LL || v->i < -9007199254740992LL) {
      char s[24];
      snprintf(s, sizeof s, "%lld", (long long)v->i);
      return cJSON_CreateString(s);
    }
    return cJSON_CreateNumber((double)v->i);
  case KL_OTLP_DOUBLE:
    if (!isfinite(v->d)) return cJSON_CreateString(isnan(v->d) ? "NaN" : v->d > 0 ? "Infinity" : "-Infinity");
    return cJSON_CreateNumber(v->d);
  case KL_OTLP_BYTES: {
    kl_buf b = KL_BUF_INIT;
    kl__base64((const uint8_t *)v->s, v->len, &b);
    cJSON *j = cJSON_CreateString(b.data ? b.data : "");
    kl_buf_free(&b);
    return j;
  }
  case KL_OTLP_ARRAY: {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < v->n; i++)
      cJSON_AddItemToArray(arr, depth < KL_INGEST_MAX_DEPTH ? kl__otlp_value_cjson(&v->items[i], depth + 1)
                                                            : cJSON_CreateNull());
    return arr;
  }
  case KL_OTLP_KVLIST: {
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i < v->n; i++)
      kl__json_set(obj, v->kvs[i].key,
                   depth < KL_INGEST_MAX_DEPTH ? kl__otlp_value_cjson(&v->kvs[i].value, depth + 1)
                                               : cJSON_CreateNull());
    return obj;
  }
  default: return cJSON_CreateNull();
  }
}

void kl_otlp_value_json(const kl_otlp_value *v, kl_buf *out) {
  cJSON *j = kl__otlp_value_cjson(v, 0);
  char *p = cJSON_PrintUnformatted(j);
  kl_buf_puts(out, p ? p : "null");
  cJSON_free(p);
  cJSON_Delete(j);
}

void kl__json_set(cJSON *obj, const char *key, cJSON *item) {
  if (!item) return;
  if (cJSON_GetObjectItemCaseSensitive(obj, key))
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
  else
    cJSON_AddItemToObject(obj, key, item);
}

const char *kl__json_print(kl_arena *a, const cJSON *j) {
  return j ? kl_json_print_arena(a, j) : NULL;
}

const char *kl__json_text(kl_arena *a, const char *s, size_t n) {
  /* the first-byte test only spares cJSON the plain-text case; a string that is a whole JSON
   * document (including "123" or "true") is taken as JSON, as Langfuse does */
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) i++;
  if (i < n && memchr("{[\"-0123456789tfn", s[i], 17)) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    bool whole = j && end;
    while (whole && (size_t)(end - s) < n && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')) end++;
    if (whole && (size_t)(end - s) == n) {
      const char *r = kl_json_print_arena(a, j); /* normalised: no stray whitespace */
      cJSON_Delete(j);
      return r;
    }
    cJSON_Delete(j);
  }
  kl_buf b = KL_BUF_INIT;
  kl_buf_json_str(&b, s, n);
  const char *r = kl_arena_strndup(a, b.data, b.len);
  kl_buf_free(&b);
  return r;
}

const char *kl__obs_type(const char *name) {
  static const char *const k[] = {KL_OBS_SPAN,      KL_OBS_GENERATION, KL_OBS_EVENT,     KL_OBS_AGENT,
                                  KL_OBS_TOOL,      KL_OBS_CHAIN,      KL_OBS_RETRIEVER, KL_OBS_EVALUATOR,
                                  KL_OBS_EMBEDDING, KL_OBS_GUARDRAIL};
  for (size_t i = 0; name && i < sizeof k / sizeof k[0]; i++)
    if (strcasecmp(name, k[i]) == 0) return k[i];
  return NULL;
}

const char *kl__obs_level(const char *name) {
  static const char *const k[] = {"DEBUG", "DEFAULT", "WARNING", "ERROR"};
  for (size_t i = 0; name && i < 4; i++)
    if (strcasecmp(name, k[i]) == 0) return k[i];
  return NULL;
}

bool kl__id_copy(char dst[KL_OBS_ID_MAX + 1], const char *src) {
  size_t n = strlen(src);
  if (n > KL_OBS_ID_MAX) return false;
  memcpy(dst, src, n + 1);
  return true;
}

/* ---- OTLP reply ---- */

static void pb_varint(kl_buf *b, uint64_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    if (v) c |= 0x80;
    kl_buf_append(b, &c, 1);
  } while (v);
}

void kl_ingest_otlp_reply(const kl_otlp_request *req, bool json, kl_buf *out) {
  const char *msg = req->reject_msg ? req->reject_msg : "";
  if (json) {
    if (!req->rejected) {
      kl_buf_puts(out, "{}");
      return;
    }
    kl_buf_printf(out, "{\"partialSuccess\":{\"rejectedSpans\":\"%zu\",\"errorMessage\":", req->rejected);
    kl_buf_json_str(out, msg, strlen(msg));
    kl_buf_puts(out, "}}");
    return;
  }
  if (!req->rejected) return; /* an empty ExportTraceServiceResponse */
  kl_buf inner = KL_BUF_INIT;
  pb_varint(&inner, 1 << 3 | 0); /* ExportTracePartialSuccess.rejected_spans */
  pb_varint(&inner, req->rejected);
  pb_varint(&inner, 2 << 3 | 2); /* .error_message */
  pb_varint(&inner, strlen(msg));
  kl_buf_append(&inner, msg, strlen(msg));
  pb_varint(out, 1 << 3 | 2); /* ExportTraceServiceResponse.partial_success */
  pb_varint(out, inner.len);
  kl_buf_append(out, inner.data, inner.len);
  kl_buf_free(&inner);
}
