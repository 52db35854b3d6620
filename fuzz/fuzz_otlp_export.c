/* fuzz_otlp_export.c: the OTLP encoder as a round-trip property over hostile records.
 *
 * The input is cut at NUL bytes into strings (any bytes: invalid UTF-8, huge, empty) that fill
 * the string fields of up to 3 observations (ids included, so foreign and zero ids hash), and
 * its first bytes seed the numbers.  Invariants, beyond "no crash, no leak": both encodings
 * decode with keel's own decoders, with every span kept (none rejected), in order, with the
 * encoder's ids and the records' times; and JSON-shaped fields do not break the JSON form. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/kl_export.h"
#include "trace/kl_ingest.h"

#define NSTR 14

static const char *take(const char **p, const char *end) {
  if (*p >= end) return NULL;
  const char *s = *p;
  const char *z = memchr(s, 0, (size_t)(end - s));
  *p = z ? z + 1 : end;
  return s;
}

static void hex(const uint8_t *b, size_t n, char *out) {
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hx[b[i] >> 4];
    out[2 * i + 1] = hx[b[i] & 15];
  }
  out[2 * n] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 16) return 0;
  uint64_t seed;
  memcpy(&seed, data, 8);
  /* strings need a terminator: work on a NUL-terminated copy */
  char *copy = malloc(size - 8 + 1);
  memcpy(copy, data + 8, size - 8);
  copy[size - 8] = 0;
  const char *p = copy, *end = copy + (size - 8);
  kl_obs obs[3];
  const kl_obs *ptrs[3];
  size_t n = 1 + seed % 3;
  static const char *const types[] = {KL_OBS_GENERATION, KL_OBS_EMBEDDING, KL_OBS_GUARDRAIL, KL_OBS_SPAN, NULL};
  static const char *const levels[] = {"DEFAULT", "ERROR", "WARNING", NULL};
  for (size_t i = 0; i < n; i++) {
    kl_obs *o = &obs[i];
    memset(o, 0, sizeof *o);
    const char *s[NSTR];
    for (int k = 0; k < NSTR; k++) s[k] = take(&p, end);
    snprintf(o->id, sizeof o->id, "%s", s[0] ? s[0] : "");
    snprintf(o->trace_id, sizeof o->trace_id, "%s", s[1] ? s[1] : "");
    if (seed & (1u << (i + 3))) snprintf(o->parent_id, sizeof o->parent_id, "%s", s[2] ? s[2] : "x");
    o->name = s[3];
    o->model = s[4];
    o->provider = s[5];
    o->model_params_json = s[6];
    o->input_json = s[7];
    o->output_json = s[8];
    o->metadata_json = s[9];
    o->tags_json = s[10];
    o->status_message = s[11];
    o->user_id = s[12];
    o->finish_reason = s[13];
    o->type = types[(seed >> (8 + 3 * i)) % 5];
    o->level = levels[(seed >> (20 + 2 * i)) % 4];
    o->start_ns = (int64_t)(seed >> 4);
    o->end_ns = o->start_ns + (int64_t)(seed & 0xffff);
    o->completion_start_ns = (int64_t)(seed >> 8);
    o->usage_input = (int64_t)(seed % 100000);
    o->usage_input_cached = (int64_t)(seed % 777);
    o->usage_output_reasoning = (int64_t)(seed % 33);
    o->http_status = (int)(seed % 600);
    o->cost_usd = (seed & 1) ? (double)(seed % 1000000) / 1e6 : -1;
    ptrs[i] = o;
  }
  for (int proto = 0; proto < 2; proto++) {
    kl_buf b = KL_BUF_INIT;
    kl_export_encode(ptrs, n, (kl_export_protocol)proto, NULL, &b);
    kl_arena *a = kl_arena_new(4096);
    kl_otlp_request req;
    kl_err err;
    int rc = proto ? kl_ingest_otlp_json(b.data, b.len, a, &req, &err) : kl_ingest_otlp_pb(b.data, b.len, a, &req, &err);
    if (rc != 0 || req.nspans != n || req.rejected) abort();
    for (size_t i = 0; i < n; i++) {
      uint8_t tid[16], sid[8];
      char th[33], sh[17];
      kl_export_trace_id(obs[i].trace_id, tid);
      kl_export_span_id(obs[i].id, sid);
      hex(tid, 16, th);
      hex(sid, 8, sh);
      if (strcmp(req.spans[i].trace_id, th) || strcmp(req.spans[i].span_id, sh)) abort();
      if (!obs[i].parent_id[0] != !req.spans[i].parent_span_id[0]) abort();
      int64_t start = obs[i].start_ns > 0 ? obs[i].start_ns : obs[i].end_ns;
      if (start > 0 && req.spans[i].start_ns != start) abort();
      kl_ingest_obs m;
      kl_ingest_otlp_span(&req.spans[i], a, &m); /* the mapping must cope too */
    }
    kl_arena_free(a);
    kl_buf_free(&b);
  }
  free(copy);
  return 0;
}
