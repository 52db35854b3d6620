/* otlp_export.c: kl_obs records -> an OTLP ExportTraceServiceRequest (protobuf or JSON).
 *
 * One walk over the records drives both wire formats: every attribute goes through a small
 * writer (attr_str, attr_int, ...) that emits a protobuf KeyValue or a JSON
 * {"key","value":{..}} object, so the attribute table below exists once.
 *
 * Protobuf without generated code: a nested message is written in place with a one-byte
 * length placeholder; when it closes and its length needs more than one varint byte, its body
 * is moved up by the missing bytes (pb_close).  Only messages of 128 bytes or more move, about
 * once per nesting level, which costs far less than a sizing pass over every record.  Lengths
 * are therefore minimal varints, as every protobuf library writes them.
 *
 * Attributes (semantic conventions: OpenTelemetry GenAI, "development" status, plus
 * Langfuse's langfuse.* so Langfuse shows keel's spans natively, plus keel.*):
 *
 *   span kind / name    GENERATION, EMBEDDING: CLIENT, "{operation} {model}"; others INTERNAL, obs name
 *   gen_ai.operation.name       chat | embeddings | text_completion | invoke_agent | execute_tool
 *   gen_ai.provider.name, gen_ai.system (the older name, still read by many backends)
 *   gen_ai.request.model / gen_ai.response.model     model / upstream_model
 *   gen_ai.request.{temperature, top_p, max_tokens, seed, frequency_penalty, presence_penalty,
 *     stop_sequences, choice.count, stream}  from model_params_json (max_completion_tokens ->
 *     max_tokens); the whole object also as langfuse.observation.model.parameters
 *   gen_ai.response.finish_reasons              [finish_reason]
 *   gen_ai.usage.input_tokens                   input + input_cached + input_cache_write (OTel
 *                                               counts cached input in, see wire-formats.md)
 *   gen_ai.usage.output_tokens                  output + output_reasoning
 *   gen_ai.usage.cache_read.input_tokens, .cache_creation.input_tokens, .reasoning.output_tokens
 *   langfuse.observation.usage_details          non-overlapping buckets, as Langfuse wants them
 *   keel.cost_usd, langfuse.observation.cost_details {"total"}   only when priced
 *   langfuse.observation.type / .level / .status_message / .completion_start_time
 *   gen_ai.input.messages / gen_ai.output.messages   keel's stored JSON (OpenAI message shape,
 *                                               not the conventions' parts shape), opt-out
 *   langfuse.trace.name, langfuse.trace.tags, user.id, session.id, langfuse.environment,
 *   langfuse.release, langfuse.observation.metadata.KEY (one per metadata key)
 *   http.response.status_code, error.type (on errors), keel.observation.name, keel.project.id,
 *   keel.usage.estimated
 *   status: ERROR with status_message when level is ERROR, otherwise UNSET. */
#include "trace/kl_export.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------- protobuf primitives ---------------- */

static size_t varint_enc(uint64_t v, uint8_t out[10]) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}

/* Straight into the buffer: varints are most of the calls, and kl_buf_append's memcpy of one or
 * two bytes costs more than the encoding. */
static void pb_varint(kl_buf *b, uint64_t v) {
  kl_buf_reserve(b, 10);
  b->len += varint_enc(v, (uint8_t *)b->data + b->len);
  b->data[b->len] = 0;
}

static void pb_tag(kl_buf *b, unsigned field, unsigned wire) { pb_varint(b, (uint64_t)field << 3 | wire); }

static void pb_fixed64(kl_buf *b, unsigned field, uint64_t v) {
  uint8_t t[8];
  for (int i = 0; i < 8; i++) t[i] = (uint8_t)(v >> (8 * i));
  pb_tag(b, field, 1);
  kl_buf_append(b, t, 8);
}

static void pb_bytes(kl_buf *b, unsigned field, const void *p, size_t n) {
  pb_tag(b, field, 2);
  pb_varint(b, n);
  kl_buf_append(b, p, n);
}

/* proto3 strings must be UTF-8 (strict decoders reject anything else): invalid bytes become
 * U+FFFD, as kl_buf_json_str does for the JSON form. */
static void pb_text(kl_buf *b, unsigned field, const char *s, size_t n) {
  if (kl_utf8_valid(s, n)) {
    pb_bytes(b, field, s, n);
    return;
  }
  kl_buf t = KL_BUF_INIT;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len && i + len <= n && kl_utf8_valid(s + i, len)) {
      kl_buf_append(&t, s + i, len);
      i += len;
    } else {
      kl_buf_append(&t, "\xEF\xBF\xBD", 3);
      i++;
    }
  }
  pb_bytes(b, field, t.data, t.len);
  kl_buf_free(&t);
}

/* Opens a length-delimited field; returns where its body starts. */
static size_t pb_open(kl_buf *b, unsigned field) {
  pb_tag(b, field, 2);
  kl_buf_putc(b, 0);
  return b->len;
}

static void pb_close(kl_buf *b, size_t start) {
  size_t len = b->len - start;
  if (len < 0x80) {
    b->data[start - 1] = (char)len;
    return;
  }
  uint8_t t[10];
  size_t k = varint_enc(len, t);
  kl_buf_reserve(b, k - 1);
  memmove(b->data + start - 1 + k, b->data + start, len);
  memcpy(b->data + start - 1, t, k);
  b->len += k - 1;
  b->data[b->len] = 0;
}

/* ---------------- attribute writer (both formats) ---------------- */

typedef struct enc {
  kl_buf *b;
  bool json;
  unsigned field; /* protobuf field number of the attribute list: Span 9, Resource 1 */
  size_t n;       /* attributes written so far in this list (JSON commas) */
} enc;

/* Opens KeyValue{key, value: AnyValue{...}}; returns the two protobuf marks. */
static void kv_open(enc *e, const char *key, size_t m[2]) {
  if (e->json) {
    kl_buf_puts(e->b, e->n++ ? ",{\"key\":" : "{\"key\":");
    kl_buf_json_str(e->b, key, strlen(key));
    kl_buf_puts(e->b, ",\"value\":{");
  } else {
    m[0] = pb_open(e->b, e->field);
    pb_bytes(e->b, 1, key, strlen(key));
    m[1] = pb_open(e->b, 2);
  }
}

static void kv_close(enc *e, size_t m[2]) {
  if (e->json) {
    kl_buf_puts(e->b, "}}");
  } else {
    pb_close(e->b, m[1]);
    pb_close(e->b, m[0]);
  }
}

static void attr_strn(enc *e, const char *key, const char *v, size_t n) {
  size_t m[2];
  kv_open(e, key, m);
  if (e->json) {
    kl_buf_puts(e->b, "\"stringValue\":");
    kl_buf_json_str(e->b, v, n);
  } else {
    pb_text(e->b, 1, v, n);
  }
  kv_close(e, m);
}

static void attr_str(enc *e, const char *key, const char *v) {
  if (v && *v) attr_strn(e, key, v, strlen(v));
}

static void attr_int(enc *e, const char *key, int64_t v) {
  size_t m[2];
  kv_open(e, key, m);
  if (e->json) {
    kl_buf_printf(e->b, "\"intValue\":\"%" PRId64 "\"", v);
  } else {
    pb_tag(e->b, 3, 0);
    pb_varint(e->b, (uint64_t)v);
  }
  kv_close(e, m);
}

static void attr_double(enc *e, const char *key, double v) {
  if (!isfinite(v)) return;
  size_t m[2];
  kv_open(e, key, m);
  if (e->json) {
    kl_buf_printf(e->b, "\"doubleValue\":%.17g", v);
  } else {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    pb_fixed64(e->b, 4, bits);
  }
  kv_close(e, m);
}

static void attr_bool(enc *e, const char *key, bool v) {
  size_t m[2];
  kv_open(e, key, m);
  if (e->json) {
    kl_buf_puts(e->b, v ? "\"boolValue\":true" : "\"boolValue\":false");
  } else {
    pb_tag(e->b, 2, 0);
    pb_varint(e->b, v);
  }
  kv_close(e, m);
}

/* An array of strings: the n strings of `one`, or the string items of a cJSON array. */
static void attr_str_array(enc *e, const char *key, const char *const *one, size_t n, const cJSON *arr) {
  size_t m[2], am = 0;
  kv_open(e, key, m);
  if (e->json) kl_buf_puts(e->b, "\"arrayValue\":{\"values\":[");
  else am = pb_open(e->b, 5);
  size_t k = 0;
  const cJSON *it = arr ? arr->child : NULL;
  for (size_t i = 0;; i++) {
    const char *s;
    if (arr) {
      while (it && !cJSON_IsString(it)) it = it->next;
      if (!it) break;
      s = it->valuestring;
      it = it->next;
    } else {
      if (i >= n) break;
      s = one[i];
    }
    if (e->json) {
      kl_buf_puts(e->b, k++ ? ",{\"stringValue\":" : "{\"stringValue\":");
      kl_buf_json_str(e->b, s, strlen(s));
      kl_buf_putc(e->b, '}');
    } else {
      size_t vm = pb_open(e->b, 1);
      pb_text(e->b, 1, s, strlen(s));
      pb_close(e->b, vm);
    }
  }
  if (e->json) kl_buf_puts(e->b, "]}");
  else pb_close(e->b, am);
  kv_close(e, m);
}

/* A JSON value as the closest attribute type; objects and arrays as JSON text. */
static void attr_cjson(enc *e, const char *key, const cJSON *v) {
  if (cJSON_IsString(v)) {
    attr_strn(e, key, v->valuestring, strlen(v->valuestring));
  } else if (cJSON_IsBool(v)) {
    attr_bool(e, key, cJSON_IsTrue(v));
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 9007199254740992.0) attr_int(e, key, (int64_t)d);
    else attr_double(e, key, d);
  } else if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
    char *s = cJSON_PrintUnformatted(v);
    if (s) attr_strn(e, key, s, strlen(s));
    cJSON_free(s);
  }
}

/* ---------------- ids ---------------- */

static int hexval(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool nonzero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return true;
  return false;
}

/* `hex` of 2n hex digits, dashes skipped (UUIDs); false when it is not exactly that. */
static bool from_hex(const char *s, uint8_t *out, size_t n) {
  size_t k = 0;
  for (; *s; s++) {
    if (*s == '-') continue;
    int v = hexval(*s);
    if (v < 0 || k >= 2 * n) return false;
    out[k / 2] = (uint8_t)(k % 2 ? out[k / 2] << 4 | v : v);
    k++;
  }
  return k == 2 * n;
}

/* FNV-1a 64 with a per-half seed: stable across runs and builds, which is all an id needs. */
static uint64_t fnv(const char *s, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ seed;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static bool make_id(const char *id, uint8_t *out, size_t n) {
  if (id && from_hex(id, out, n) && nonzero(out, n)) return true;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t h = fnv(id ? id : "", i);
    for (size_t j = 0; j < 8; j++) out[i + j] = (uint8_t)(h >> (8 * j));
  }
  if (!nonzero(out, n)) out[n - 1] = 1;
  return false;
}

bool kl_export_trace_id(const char *id, uint8_t out[16]) { return make_id(id, out, 16); }
bool kl_export_span_id(const char *id, uint8_t out[8]) { return make_id(id, out, 8); }

static void put_id(kl_buf *b, bool json, unsigned field, const char *jname, const uint8_t *id, size_t n) {
  if (!json) {
    pb_bytes(b, field, id, n);
    return;
  }
  static const char hx[] = "0123456789abcdef";
  char t[33];
  for (size_t i = 0; i < n; i++) {
    t[2 * i] = hx[id[i] >> 4];
    t[2 * i + 1] = hx[id[i] & 15];
  }
  t[2 * n] = 0;
  kl_buf_printf(b, "\"%s\":\"%s\"", jname, t);
}

/* ---------------- one span ---------------- */

static bool is_client(const char *type) {
  return type && (!strcmp(type, KL_OBS_GENERATION) || !strcmp(type, KL_OBS_EMBEDDING));
}

static const char *operation(const kl_obs *o) {
  const char *t = o->type ? o->type : KL_OBS_SPAN;
  if (!strcmp(t, KL_OBS_EMBEDDING)) return "embeddings";
  if (!strcmp(t, KL_OBS_GENERATION)) return o->name && !strcmp(o->name, "completions") ? "text_completion" : "chat";
  if (!strcmp(t, KL_OBS_AGENT)) return "invoke_agent";
  if (!strcmp(t, KL_OBS_TOOL)) return "execute_tool";
  return NULL;
}

static void model_params(enc *e, const char *json) {
  cJSON *p = json ? cJSON_Parse(json) : NULL;
  if (!cJSON_IsObject(p)) {
    cJSON_Delete(p);
    return;
  }
  static const char *const direct[][2] = {
      {"temperature", "gen_ai.request.temperature"}, {"top_p", "gen_ai.request.top_p"},
      {"top_k", "gen_ai.request.top_k"}, {"seed", "gen_ai.request.seed"},
      {"frequency_penalty", "gen_ai.request.frequency_penalty"}, {"presence_penalty", "gen_ai.request.presence_penalty"},
      {"n", "gen_ai.request.choice.count"}, {"stream", "gen_ai.request.stream"},
  };
  for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, direct[i][0]);
    if (cJSON_IsNumber(v) || cJSON_IsBool(v)) attr_cjson(e, direct[i][1], v);
  }
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(p, "max_tokens");
  if (!cJSON_IsNumber(mt)) mt = cJSON_GetObjectItemCaseSensitive(p, "max_completion_tokens");
  if (cJSON_IsNumber(mt)) attr_cjson(e, "gen_ai.request.max_tokens", mt);
  const cJSON *stop = cJSON_GetObjectItemCaseSensitive(p, "stop");
  if (!stop) stop = cJSON_GetObjectItemCaseSensitive(p, "stop_sequences");
  if (cJSON_IsString(stop)) attr_str_array(e, "gen_ai.request.stop_sequences", (const char *const *)&stop->valuestring, 1, NULL);
  else if (cJSON_IsArray(stop)) attr_str_array(e, "gen_ai.request.stop_sequences", NULL, 0, stop);
  cJSON_Delete(p);
  attr_str(e, "langfuse.observation.model.parameters", json);
}

static void usage(enc *e, const kl_obs *o) {
  int64_t in = o->usage_input, cr = o->usage_input_cached, cw = o->usage_input_cache_write;
  int64_t out = o->usage_output, rs = o->usage_output_reasoning;
  if (!(in | cr | cw | out | rs) && !(o->usage_json && is_client(o->type))) return;
  attr_int(e, "gen_ai.usage.input_tokens", in + cr + cw);
  attr_int(e, "gen_ai.usage.output_tokens", out + rs);
  if (cr) attr_int(e, "gen_ai.usage.cache_read.input_tokens", cr);
  if (cw) attr_int(e, "gen_ai.usage.cache_creation.input_tokens", cw);
  if (rs) attr_int(e, "gen_ai.usage.reasoning.output_tokens", rs);
  char t[320];
  int k = snprintf(t, sizeof t, "{\"input\":%" PRId64 ",\"output\":%" PRId64, in, out);
  if (cr) k += snprintf(t + k, sizeof t - (size_t)k, ",\"input_cached_tokens\":%" PRId64, cr);
  if (cw) k += snprintf(t + k, sizeof t - (size_t)k, ",\"input_cache_creation\":%" PRId64, cw);
  if (rs) k += snprintf(t + k, sizeof t - (size_t)k, ",\"output_reasoning_tokens\":%" PRId64, rs);
  snprintf(t + k, sizeof t - (size_t)k, "}");
  attr_str(e, "langfuse.observation.usage_details", t);
  if (o->usage_estimated) attr_bool(e, "keel.usage.estimated", true);
}

static void metadata(enc *e, const char *json) {
  if (!json) return;
  cJSON *m = cJSON_Parse(json);
  if (cJSON_IsObject(m)) {
    char key[160];
    for (const cJSON *it = m->child; it; it = it->next) {
      if (!it->string || cJSON_IsNull(it)) continue;
      snprintf(key, sizeof key, "langfuse.observation.metadata.%s", it->string);
      attr_cjson(e, key, it);
    }
  } else if (*json) {
    attr_str(e, "langfuse.observation.metadata", json);
  }
  cJSON_Delete(m);
}

static void span_attrs(enc *e, const kl_obs *o, const kl_export_enc *opt, const char *op, const char *span_name) {
  attr_str(e, "gen_ai.operation.name", op);
  attr_str(e, "gen_ai.provider.name", o->provider);
  attr_str(e, "gen_ai.system", o->provider);
  attr_str(e, "gen_ai.request.model", o->model);
  attr_str(e, "gen_ai.response.model", o->upstream_model);
  model_params(e, o->model_params_json);
  if (o->finish_reason && *o->finish_reason)
    attr_str_array(e, "gen_ai.response.finish_reasons", &o->finish_reason, 1, NULL);
  usage(e, o);
  if (o->cost_usd >= 0 && isfinite(o->cost_usd)) {
    attr_double(e, "keel.cost_usd", o->cost_usd);
    char t[64];
    snprintf(t, sizeof t, "{\"total\":%.17g}", o->cost_usd);
    attr_str(e, "langfuse.observation.cost_details", t);
  }
  const char *level = o->level ? o->level : "DEFAULT";
  bool error = !strcmp(level, "ERROR");
  attr_str(e, "langfuse.observation.type", o->type ? o->type : KL_OBS_SPAN);
  if (!error && strcmp(level, "DEFAULT")) attr_str(e, "langfuse.observation.level", level);
  if (!error) attr_str(e, "langfuse.observation.status_message", o->status_message);
  if (o->completion_start_ns > 0) {
    char iso[32], q[40];
    kl_time_iso(o->completion_start_ns, iso);
    snprintf(q, sizeof q, "\"%s\"", iso); /* JSON-quoted, as Langfuse's SDKs send it */
    attr_str(e, "langfuse.observation.completion_start_time", q);
  }
  if (o->http_status > 0) attr_int(e, "http.response.status_code", o->http_status);
  if (error) {
    char t[16];
    snprintf(t, sizeof t, "%d", o->http_status);
    attr_str(e, "error.type", o->http_status >= 400 ? t : "_OTHER");
  }
  if (!opt || !opt->omit_content) {
    attr_str(e, "gen_ai.input.messages", o->input_json);
    attr_str(e, "gen_ai.output.messages", o->output_json);
  }
  attr_str(e, "langfuse.trace.name", o->trace_name);
  attr_str(e, "user.id", o->user_id);
  attr_str(e, "session.id", o->session_id);
  if (o->tags_json) {
    cJSON *tags = cJSON_Parse(o->tags_json);
    if (cJSON_IsArray(tags)) attr_str_array(e, "langfuse.trace.tags", NULL, 0, tags);
    cJSON_Delete(tags);
  }
  attr_str(e, "langfuse.environment", o->environment);
  attr_str(e, "langfuse.release", o->release);
  metadata(e, o->metadata_json);
  if (o->name && *o->name && strcmp(o->name, span_name)) attr_str(e, "keel.observation.name", o->name);
  attr_str(e, "keel.project.id", o->project_id);
}

static void encode_span(kl_buf *b, bool json, const kl_obs *o, const kl_export_enc *opt, bool first) {
  uint8_t tid[16], sid[8], pid[8];
  kl_export_trace_id(o->trace_id, tid);
  kl_export_span_id(o->id, sid);
  bool has_parent = o->parent_id[0] != 0;
  if (has_parent) kl_export_span_id(o->parent_id, pid);
  const char *op = operation(o);
  bool client = is_client(o->type);
  char namebuf[256];
  const char *name = o->name && *o->name ? o->name : o->type ? o->type : KL_OBS_SPAN;
  if (client && op && o->model && *o->model) {
    snprintf(namebuf, sizeof namebuf, "%s %s", op, o->model);
    name = namebuf;
  } else if (client && op) {
    name = op;
  }
  int64_t start = o->start_ns > 0 ? o->start_ns : o->end_ns;
  int64_t end = o->end_ns >= start ? o->end_ns : start;
  bool error = o->level && !strcmp(o->level, "ERROR");
  enc e = {b, json, 9, 0};
  if (json) {
    kl_buf_puts(b, first ? "{" : ",{");
    put_id(b, true, 1, "traceId", tid, 16);
    kl_buf_putc(b, ',');
    put_id(b, true, 2, "spanId", sid, 8);
    if (has_parent) {
      kl_buf_putc(b, ',');
      put_id(b, true, 4, "parentSpanId", pid, 8);
    }
    kl_buf_puts(b, ",\"name\":");
    kl_buf_json_str(b, name, strlen(name));
    kl_buf_printf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%" PRId64 "\",\"endTimeUnixNano\":\"%" PRId64
                     "\",\"attributes\":[",
                  client ? 3 : 1, start, end);
    span_attrs(&e, o, opt, op, name);
    kl_buf_putc(b, ']');
    if (error) {
      kl_buf_puts(b, ",\"status\":{\"code\":2");
      if (o->status_message && *o->status_message) {
        kl_buf_puts(b, ",\"message\":");
        kl_buf_json_str(b, o->status_message, strlen(o->status_message));
      }
      kl_buf_putc(b, '}');
    }
    kl_buf_putc(b, '}');
    return;
  }
  size_t sm = pb_open(b, 2); /* ScopeSpans.spans */
  put_id(b, false, 1, NULL, tid, 16);
  put_id(b, false, 2, NULL, sid, 8);
  if (has_parent) put_id(b, false, 4, NULL, pid, 8);
  pb_text(b, 5, name, strlen(name));
  pb_tag(b, 6, 0);
  pb_varint(b, client ? 3 : 1);
  pb_fixed64(b, 7, (uint64_t)start);
  pb_fixed64(b, 8, (uint64_t)end);
  span_attrs(&e, o, opt, op, name);
  if (error) {
    size_t st = pb_open(b, 15);
    if (o->status_message && *o->status_message) pb_text(b, 2, o->status_message, strlen(o->status_message));
    pb_tag(b, 3, 0);
    pb_varint(b, 2);
    pb_close(b, st);
  }
  pb_close(b, sm);
}

/* ---------------- the request ---------------- */

static void resource_attrs(enc *e, const kl_export_enc *opt) {
  bool named = false;
  for (size_t i = 0; opt && i < opt->nresource; i++) {
    if (!opt->resource[i].key || !opt->resource[i].value) continue;
    if (!strcmp(opt->resource[i].key, "service.name")) named = true;
    attr_strn(e, opt->resource[i].key, opt->resource[i].value, strlen(opt->resource[i].value));
  }
  if (!named) attr_strn(e, "service.name", "keel", 4);
}

void kl_export_encode(const kl_obs *const *obs, size_t n, kl_export_protocol proto, const kl_export_enc *opt,
                      kl_buf *out) {
  if (proto == KL_EXPORT_JSON) {
    kl_buf_puts(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    enc e = {out, true, 1, 0};
    resource_attrs(&e, opt);
    kl_buf_puts(out, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"keel\"},\"spans\":[");
    for (size_t i = 0; i < n; i++) encode_span(out, true, obs[i], opt, i == 0);
    kl_buf_puts(out, "]}]}]}");
    return;
  }
  size_t rs = pb_open(out, 1); /* ExportTraceServiceRequest.resource_spans */
  size_t res = pb_open(out, 1); /* ResourceSpans.resource */
  enc e = {out, false, 1, 0};
  resource_attrs(&e, opt);
  pb_close(out, res);
  size_t ss = pb_open(out, 2); /* ResourceSpans.scope_spans */
  size_t sc = pb_open(out, 1); /* ScopeSpans.scope */
  pb_bytes(out, 1, "keel", 4);
  pb_close(out, sc);
  for (size_t i = 0; i < n; i++) encode_span(out, false, obs[i], opt, false);
  pb_close(out, ss);
  pb_close(out, rs);
}
