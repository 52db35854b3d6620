/* otlp_json.c: OTLP ExportTraceServiceRequest from OTLP/JSON (application/json).
 *
 * The OTLP JSON mapping is proto3's JSON mapping with two exceptions: trace and span ids are
 * hex strings (not base64), and enums are integers.  So, per the spec and what exporters send:
 * field names in lowerCamelCase (the original snake_case names are accepted too, as proto3
 * JSON parsers must), int64 / fixed64 as a decimal string or a number, enums as a number or
 * their proto name ("SPAN_KIND_CLIENT"), bytesValue as base64, doubles possibly "NaN" /
 * "Infinity", null meaning absent, unknown fields ignored.  A value of the wrong JSON type for
 * a known field fails the request (400), like the protobuf decoder's wrong wire type; a span
 * with unusable ids is dropped and counted (see ingest_util.c). */
#include "trace/ingest_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct jdec {
  kl_arena *a;
  kl_err *err;
} jdec;

static int jfail(jdec *d, const char *what, const char *field) {
  kl_err_set(d->err, 400, "OTLP JSON: %s %s", field, what);
  return -1;
}

/* Member by camelCase or snake_case name; NULL when absent or null. */
static const cJSON *jget(const cJSON *o, const char *camel, const char *snake) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, camel);
  if (!v && snake) v = cJSON_GetObjectItemCaseSensitive(o, snake);
  return cJSON_IsNull(v) ? NULL : v;
}

/* An optional array member: 0 with *out NULL when absent. */
static int jarray(jdec *d, const cJSON *o, const char *camel, const char *snake, const cJSON **out) {
  *out = jget(o, camel, snake);
  if (*out && !cJSON_IsArray(*out)) return jfail(d, "must be an array", camel);
  return 0;
}

static int jobject(jdec *d, const cJSON *o, const char *camel, const char *snake, const cJSON **out) {
  *out = jget(o, camel, snake);
  if (*out && !cJSON_IsObject(*out)) return jfail(d, "must be an object", camel);
  return 0;
}

static int jstring(jdec *d, const cJSON *o, const char *camel, const char *snake, const char **out) {
  const cJSON *v = jget(o, camel, snake);
  if (!v) return 0;
  if (!cJSON_IsString(v)) return jfail(d, "must be a string", camel);
  *out = kl_arena_strdup(d->a, v->valuestring);
  return 0;
}

/* int64 from a decimal string or an integral number. */
static int jint64(jdec *d, const cJSON *v, const char *field, int64_t *out) {
  if (cJSON_IsNumber(v)) {
    double x = v->valuedouble;
    if (!isfinite(x) || x != floor(x) || x >= 9223372036854775807.0 || x < -9223372036854775807.0)
      return jfail(d, "is not a 64-bit integer", field);
    *out = (int64_t)x;
    return 0;
  }
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || isspace((unsigned char)*s)) return jfail(d, "is not a 64-bit integer", field);
    *out = x;
    return 0;
  }
  return jfail(d, "must be an integer or a decimal string", field);
}

/* Enum as a number or a proto name from names[] (index = value). */
static int jenum(jdec *d, const cJSON *v, const char *field, const char *const *names, int nnames, int *out) {
  if (!v) return 0;
  if (cJSON_IsString(v)) {
    for (int i = 0; i < nnames; i++)
      if (strcmp(v->valuestring, names[i]) == 0) {
        *out = i;
        return 0;
      }
  }
  int64_t x = 0;
  if (jint64(d, v, field, &x) < 0) return -1;
  *out = x >= 0 && x < nnames ? (int)x : 0;
  return 0;
}

/* Hex id of want_len characters into out (lowercased); "" when absent or empty.  Returns 1 when
 * present but malformed. */
static int jid(const cJSON *o, const char *camel, const char *snake, size_t want_len, char *out) {
  out[0] = 0;
  const cJSON *v = jget(o, camel, snake);
  if (!v) return 0;
  if (!cJSON_IsString(v)) return 1;
  const char *s = v->valuestring;
  if (!*s) return 0;
  if (!kl_id_is_hex(s, want_len)) return 1; /* either case */
  for (size_t i = 0; i < want_len; i++) out[i] = (char)tolower((unsigned char)s[i]);
  out[want_len] = 0;
  return 0;
}

/* Standard or URL-safe base64, padding optional (proto3 JSON accepts both). */
static int jbytes(jdec *d, const char *s, kl_otlp_value *v) {
  size_t n = strlen(s);
  uint8_t *out = kl_arena_alloc(d->a, kl_base64_max(n));
  ptrdiff_t o = kl_base64_decode(s, n, out);
  if (o < 0) return jfail(d, "is not base64", "bytesValue");
  v->s = (const char *)out;
  v->len = (size_t)o;
  return 0;
}

static int dec_attrs(jdec *d, const cJSON *arr, kl_otlp_attrs *out, int depth);

static int dec_value(jdec *d, const cJSON *j, kl_otlp_value *v, int depth) {
  memset(v, 0, sizeof *v);
  if (!j) return 0;
  if (!cJSON_IsObject(j)) return jfail(d, "must be an object", "value");
  if (depth > KL_INGEST_MAX_DEPTH) return jfail(d, "is nested too deeply", "AnyValue");
  const cJSON *x;
  if ((x = jget(j, "stringValue", "string_value"))) {
    if (!cJSON_IsString(x)) return jfail(d, "must be a string", "stringValue");
    v->type = KL_OTLP_STRING;
    v->len = strlen(x->valuestring);
    v->s = kl_arena_strndup(d->a, x->valuestring, v->len);
  } else if ((x = jget(j, "boolValue", "bool_value"))) {
    if (!cJSON_IsBool(x)) return jfail(d, "must be a boolean", "boolValue");
    v->type = KL_OTLP_BOOL;
    v->b = cJSON_IsTrue(x);
  } else if ((x = jget(j, "intValue", "int_value"))) {
    v->type = KL_OTLP_INT;
    if (jint64(d, x, "intValue", &v->i) < 0) return -1;
  } else if ((x = jget(j, "doubleValue", "double_value"))) {
    v->type = KL_OTLP_DOUBLE;
    if (cJSON_IsNumber(x)) {
      v->d = x->valuedouble;
    } else if (cJSON_IsString(x) && !strcmp(x->valuestring, "NaN")) {
      v->d = NAN;
    } else if (cJSON_IsString(x) && (!strcmp(x->valuestring, "Infinity") || !strcmp(x->valuestring, "-Infinity"))) {
      v->d = x->valuestring[0] == '-' ? -INFINITY : INFINITY;
    } else if (cJSON_IsString(x)) {
      char *end;
      v->d = strtod(x->valuestring, &end);
      if (end == x->valuestring || *end) return jfail(d, "is not a number", "doubleValue");
    } else {
      return jfail(d, "must be a number", "doubleValue");
    }
  } else if ((x = jget(j, "arrayValue", "array_value"))) {
    const cJSON *vals;
    if (!cJSON_IsObject(x)) return jfail(d, "must be an object", "arrayValue");
    if (jarray(d, x, "values", NULL, &vals) < 0) return -1;
    v->type = KL_OTLP_ARRAY;
    int n = vals ? cJSON_GetArraySize(vals) : 0;
    v->items = n ? kl_arena_calloc(d->a, (size_t)n * sizeof *v->items) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, vals) {
      if (dec_value(d, it, &v->items[v->n++], depth + 1) < 0) return -1;
    }
  } else if ((x = jget(j, "kvlistValue", "kvlist_value"))) {
    const cJSON *vals;
    kl_otlp_attrs kv;
    if (!cJSON_IsObject(x)) return jfail(d, "must be an object", "kvlistValue");
    if (jarray(d, x, "values", NULL, &vals) < 0 || dec_attrs(d, vals, &kv, depth + 1) < 0) return -1;
    v->type = KL_OTLP_KVLIST;
    v->kvs = kv.kv;
    v->n = kv.n;
  } else if ((x = jget(j, "bytesValue", "bytes_value"))) {
    if (!cJSON_IsString(x)) return jfail(d, "must be a base64 string", "bytesValue");
    v->type = KL_OTLP_BYTES;
    if (jbytes(d, x->valuestring, v) < 0) return -1;
  }
  return 0;
}

static int dec_attrs(jdec *d, const cJSON *arr, kl_otlp_attrs *out, int depth) {
  out->kv = NULL;
  out->n = 0;
  int n = arr ? cJSON_GetArraySize(arr) : 0;
  if (!n) return 0;
  out->kv = kl_arena_calloc(d->a, (size_t)n * sizeof *out->kv);
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    if (!cJSON_IsObject(it)) return jfail(d, "must be {key, value} objects", "attributes");
    kl_otlp_kv *kv = &out->kv[out->n++];
    kv->key = "";
    if (jstring(d, it, "key", NULL, &kv->key) < 0) return -1;
    if (dec_value(d, jget(it, "value", NULL), &kv->value, depth) < 0) return -1;
  }
  return 0;
}

static int attrs_member(jdec *d, const cJSON *o, kl_otlp_attrs *out) {
  const cJSON *arr;
  if (jarray(d, o, "attributes", NULL, &arr) < 0) return -1;
  return dec_attrs(d, arr, out, 0);
}

static const char *const k_kinds[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
                                      "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};
static const char *const k_codes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};

static int dec_span(jdec *d, const cJSON *j, kl_otlp_spanvec *sv, const kl_otlp_resource *res,
                    const kl_otlp_scope *sc) {
  if (!cJSON_IsObject(j)) return jfail(d, "must be objects", "spans");
  kl_otlp_span *sp = kl__otlp_push(sv);
  sp->resource = res;
  sp->scope = sc;
  sp->name = "";
  const char *bad = NULL;
  if (jid(j, "traceId", "trace_id", 32, sp->trace_id)) bad = "traceId must be 32 hex digits";
  if (jid(j, "spanId", "span_id", 16, sp->span_id)) bad = "spanId must be 16 hex digits";
  if (jid(j, "parentSpanId", "parent_span_id", 16, sp->parent_span_id)) bad = "parentSpanId must be 16 hex digits";
  if (jstring(d, j, "name", NULL, &sp->name) < 0) return -1;
  if (jenum(d, jget(j, "kind", NULL), "kind", k_kinds, 6, &sp->kind) < 0) return -1;
  const cJSON *t;
  if ((t = jget(j, "startTimeUnixNano", "start_time_unix_nano")) && jint64(d, t, "startTimeUnixNano", &sp->start_ns) < 0)
    return -1;
  if ((t = jget(j, "endTimeUnixNano", "end_time_unix_nano")) && jint64(d, t, "endTimeUnixNano", &sp->end_ns) < 0)
    return -1;
  if (attrs_member(d, j, &sp->attrs) < 0) return -1;
  const cJSON *evs, *st;
  if (jarray(d, j, "events", NULL, &evs) < 0) return -1;
  int nev = evs ? cJSON_GetArraySize(evs) : 0;
  if (nev) {
    sp->events = kl_arena_calloc(d->a, (size_t)nev * sizeof *sp->events);
    const cJSON *e;
    cJSON_ArrayForEach(e, evs) {
      if (!cJSON_IsObject(e)) return jfail(d, "must be objects", "events");
      kl_otlp_event *ev = &sp->events[sp->nevents++];
      ev->name = "";
      if (jstring(d, e, "name", NULL, &ev->name) < 0) return -1;
      if ((t = jget(e, "timeUnixNano", "time_unix_nano")) && jint64(d, t, "timeUnixNano", &ev->time_ns) < 0) return -1;
      if (attrs_member(d, e, &ev->attrs) < 0) return -1;
    }
  }
  if (jobject(d, j, "status", NULL, &st) < 0) return -1;
  if (st) {
    if (jstring(d, st, "message", NULL, &sp->status_message) < 0) return -1;
    if (jenum(d, jget(st, "code", NULL), "status.code", k_codes, 3, &sp->status_code) < 0) return -1;
  }
  if (!bad) bad = kl__otlp_span_problem(sp);
  if (bad) kl__otlp_reject_last(sv, bad);
  return 0;
}

static int dec_request(jdec *d, const cJSON *root, kl_otlp_spanvec *sv) {
  if (!cJSON_IsObject(root)) return jfail(d, "must be an object", "the request");
  const cJSON *rss, *rs;
  if (jarray(d, root, "resourceSpans", "resource_spans", &rss) < 0) return -1;
  cJSON_ArrayForEach(rs, rss) {
    if (!cJSON_IsObject(rs)) return jfail(d, "must be objects", "resourceSpans");
    kl_otlp_resource *res = kl_arena_calloc(d->a, sizeof *res);
    const cJSON *r, *sss, *ss;
    if (jobject(d, rs, "resource", NULL, &r) < 0) return -1;
    if (r && attrs_member(d, r, &res->attrs) < 0) return -1;
    if (jarray(d, rs, "scopeSpans", "scope_spans", &sss) < 0) return -1;
    cJSON_ArrayForEach(ss, sss) {
      if (!cJSON_IsObject(ss)) return jfail(d, "must be objects", "scopeSpans");
      kl_otlp_scope *sc = kl_arena_calloc(d->a, sizeof *sc);
      const cJSON *s, *spans, *sp;
      if (jobject(d, ss, "scope", NULL, &s) < 0) return -1;
      if (s && (jstring(d, s, "name", NULL, &sc->name) < 0 || jstring(d, s, "version", NULL, &sc->version) < 0 ||
                attrs_member(d, s, &sc->attrs) < 0))
        return -1;
      if (jarray(d, ss, "spans", NULL, &spans) < 0) return -1;
      cJSON_ArrayForEach(sp, spans) {
        if (dec_span(d, sp, sv, res, sc) < 0) return -1;
      }
    }
  }
  return 0;
}

int kl_ingest_otlp_json(const char *body, size_t len, kl_arena *a, kl_otlp_request *out, kl_err *err) {
  memset(out, 0, sizeof *out);
  /* plain JSON (the common export) is parsed into the request's arena, without a malloc per
   * node; cJSON decides, and words the error, for anything else (\u escapes, bad UTF-8, ...) */
  cJSON *tree = kl_json_parse_arena(a, body, len);
  cJSON *root = tree ? tree : kl_json_parse(body, len, err);
  if (!root) return -1;
  jdec d = {a, err};
  kl_otlp_spanvec sv = {.a = a};
  int rc = dec_request(&d, root, &sv);
  if (!tree) cJSON_Delete(root);
  if (rc == 0) kl__otlp_finish(&sv, out);
  return rc;
}
