/* ingest.c: trace ingestion from other SDKs over HTTP.
 *
 *   POST /v1/traces, /api/public/otel/v1/traces   OTLP/HTTP: application/x-protobuf or
 *        application/json, optionally Content-Encoding: gzip; chunked bodies are de-chunked by
 *        the server.  200 + ExportTraceServiceResponse in the request's encoding (with
 *        partialSuccess when spans were rejected), 400 malformed, 413 too large, 415 other
 *        content type or encoding, 401 no valid credentials, 503 store unavailable.
 *   POST /api/public/ingestion                    Langfuse batches: 207 {successes, errors}.
 *
 * Credentials (auth.c) give the project; every record is stamped with it.  Decoding is pure
 * CPU (trace/kl_ingest.h): gunzip, decode, map, then each record is a queue push
 * (kl_store_submit_patch / _score), never SQL.  Where that runs: bodies up to INLINE_MAX run
 * on the event loop, bigger ones on libuv's thread pool (uv_queue_work) so one large batch
 * never stalls the loop's other connections.  bench_ingest measured decode+map at ~45-50 MB/s
 * (~40-50k spans/s, a 512-span export batch ~10 ms) on one core: so an 8 KiB body costs
 * ~0.15 ms on the loop, a few thread hops' worth, while a typical SDK export (tens to hundreds
 * of KB) would hold the loop for milliseconds and goes to the pool.  Gzip always goes to the
 * pool (a small body can inflate to the 5 MiB cap).
 *
 * Order and idempotency: a Langfuse batch's observation records are sorted with
 * kl_ingest_order (creates first) before they are queued, and the writer merges each with
 * the stored row (store/ingest_sqlite.c), so an update may precede its create and a resent
 * batch has one effect.  Every record is queued before the reply, so a 2xx means "accepted
 * into the queue or spill file": what kl_store_submit promises for keel's own traces. */
#include "api/api_internal.h"
#include "trace/kl_ingest.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define INGEST_MAX_BYTES (5u * 1024 * 1024) /* decoded body limit (Langfuse's is ~4.5 MB) */
#define INLINE_MAX (8u * 1024)

/* The store repeats trace/kl_ingest.h's presence bits (it cannot include the trace layer). */
#define SAME(f) ((unsigned)KL_OBS_F_##f == (unsigned)KL_INGEST_F_##f)
_Static_assert(SAME(TYPE) && SAME(NAME) && SAME(PARENT) && SAME(LEVEL) && SAME(STATUS_MESSAGE) && SAME(START) && 
               SAME(END) && SAME(COMPLETION_START) && SAME(MODEL) && SAME(PROVIDER) && SAME(UPSTREAM_MODEL) && 
               SAME(MODEL_PARAMS) && SAME(INPUT) && SAME(OUTPUT) && SAME(METADATA) && SAME(FINISH_REASON) && 
               SAME(USAGE) && SAME(COST) && SAME(TRACE_NAME) && SAME(USER) && SAME(SESSION) && SAME(TAGS) && 
               SAME(ENVIRONMENT) && SAME(RELEASE) && SAME(VERSION) && SAME(PROMPT),
               "store and trace presence bits differ");
#undef SAME

/* ---- records: trace layer <-> store ---- */

static void to_patch(const kl_ingest_obs *r, const char *project, kl_obs_patch *p) {
  memset(p, 0, sizeof *p);
  p->obs = r->obs;
  p->obs.project_id = project;
  p->set = r->set;
  p->trace_record = r->kind == KL_INGEST_TRACE;
  p->update = r->op == KL_INGEST_UPDATE;
  p->received_ns = r->received_ns;
  p->version = r->version;
  p->prompt_name = r->prompt_name;
  p->prompt_version = r->prompt_version;
}

static void from_patch(const kl_obs_patch *p, kl_ingest_obs *r) {
  memset(r, 0, sizeof *r);
  r->obs = p->obs;
  r->set = p->set;
  r->kind = p->trace_record ? KL_INGEST_TRACE : KL_INGEST_OBS;
  r->op = p->update ? KL_INGEST_UPDATE : KL_INGEST_CREATE;
  r->received_ns = p->received_ns;
  r->version = p->version;
  r->prompt_name = p->prompt_name;
  r->prompt_version = p->prompt_version;
}

void kl_api_ingest_merge(kl_obs_patch *dst, const kl_obs_patch *src, kl_arena *a) {
  kl_ingest_obs d, s;
  from_patch(dst, &d);
  from_patch(src, &s);
  kl_ingest_merge(&d, &s, a);
  to_patch(&d, dst->obs.project_id, dst);
}

static void to_score(const kl_ingest_score *in, const char *project, kl_score *s) {
  memset(s, 0, sizeof *s);
  memcpy(s->id, in->id, sizeof s->id);
  memcpy(s->trace_id, in->trace_id, sizeof s->trace_id);
  memcpy(s->observation_id, in->observation_id, sizeof s->observation_id);
  memcpy(s->session_id, in->session_id, sizeof s->session_id);
  memcpy(s->dataset_run_id, in->dataset_run_id, sizeof s->dataset_run_id);
  s->project_id = project;
  s->name = in->name;
  s->data_type = in->data_type;
  s->value = in->value;
  s->string_value = in->string_value;
  s->source = in->source;
  s->comment = in->comment;
  s->config_id = in->config_id;
  s->environment = in->environment;
  s->metadata_json = in->metadata_json;
  s->timestamp_ns = in->timestamp_ns;
}

/* ---- gzip ---- */

int kl_api_gunzip(const void *in, size_t len, size_t max_out, kl_buf *out, kl_err *err) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    kl_err_set(err, 500, "zlib: cannot initialise");
    return -1;
  }
  z.next_in = (Bytef *)(uintptr_t)in;
  int rc = Z_OK;
  size_t left = len;
  while (rc != Z_STREAM_END) {
    if (z.avail_in == 0) {
      uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
      z.avail_in = chunk;
      left -= chunk;
    }
    if (out->len >= max_out) {
      kl_err_set(err, 413, "decompressed body exceeds the limit of %zu bytes", max_out);
      inflateEnd(&z);
      return -1;
    }
    size_t room = max_out - out->len + 1; /* one byte more tells "over the limit" */
    if (room > 65536) room = 65536;
    kl_buf_reserve(out, room);
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)room;
    rc = inflate(&z, Z_NO_FLUSH);
    out->len += room - z.avail_out;
    out->data[out->len] = 0;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK || (z.avail_in == 0 && left == 0 && z.avail_out != 0)) {
      kl_err_set(err, 400, "body is not valid gzip%s", rc == Z_OK || rc == Z_BUF_ERROR ? " (truncated)" : "");
      inflateEnd(&z);
      return -1;
    }
  }
  inflateEnd(&z);
  if (out->len > max_out) {
    kl_err_set(err, 413, "decompressed body exceeds the limit of %zu bytes", max_out);
    return -1;
  }
  return 0;
}

/* ---- the work: decode, map, queue; reply ---- */

enum { K_OTLP = 1, K_LANGFUSE = 2 };

typedef struct ingest_work {
  uv_work_t work;
  kl_http_req *req;
  kl_api_ctx *ctx;
  int kind;
  bool json, gzip;
  const char *body; /* the request's (req->body is not touched by the loop while we run) */
  size_t len;
  char project[KL_OBS_ID_MAX + 1];
  kl_arena *arena;  /* decode results: our own, so the pool thread never shares one */
  int status;
  const char *ctype;
  kl_buf out;
} ingest_work;

/* google.rpc.Status {1: code, 2: message} in the request's encoding. */
static void rpc_status(ingest_work *w, int http, int code, const char *msg) {
  w->status = http;
  kl_buf_reset(&w->out);
  if (w->json) {
    w->ctype = "application/json";
    kl_buf_printf(&w->out, "{\"code\":%d,\"message\":", code);
    kl_buf_json_str(&w->out, msg, strlen(msg));
    kl_buf_putc(&w->out, '}');
    return;
  }
  w->ctype = "application/x-protobuf";
  size_t n = strlen(msg);
  kl_buf_putc(&w->out, 0x08);
  kl_buf_putc(&w->out, (char)code); /* codes are < 128 */
  kl_buf_putc(&w->out, 0x12);
  for (size_t v = n; ; v >>= 7) { /* varint length */
    kl_buf_putc(&w->out, (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
    if (v <= 0x7f) break;
  }
  kl_buf_append(&w->out, msg, n);
}

static void lf_error(ingest_work *w, int http, const char *msg) {
  w->status = http;
  w->ctype = "application/json";
  kl_buf_reset(&w->out);
  kl_buf_puts(&w->out, "{\"message\":");
  kl_buf_json_str(&w->out, msg, strlen(msg));
  kl_buf_putc(&w->out, '}');
}

static void fail(ingest_work *w, int http, const char *msg) {
  if (w->kind == K_OTLP) rpc_status(w, http, http == 413 ? 8 : http == 503 ? 14 : http == 400 ? 3 : 13, msg);
  else lf_error(w, http, msg);
}

static void do_otlp(ingest_work *w, const char *body, size_t len) {
  kl_err err;
  kl_err_clear(&err);
  kl_otlp_request rq;
  int rc = w->json ? kl_ingest_otlp_json(body, len, w->arena, &rq, &err) : kl_ingest_otlp_pb(body, len, w->arena, &rq, &err);
  if (rc != 0) {
    fail(w, 400, err.msg[0] ? err.msg : "malformed ExportTraceServiceRequest");
    return;
  }
  kl_ingest_obs *recs = kl_ingest_otlp_map(&rq, w->arena);
  for (size_t i = 0; i < rq.nspans; i++) {
    kl_obs_patch p;
    to_patch(&recs[i], w->project, &p);
    if (kl_store_submit_patch(w->ctx->store, &p, &err) != 0) {
      kl_warn("ingest: %s", err.msg);
      fail(w, 503, "trace store unavailable; retry");
      return;
    }
  }
  w->status = 200;
  w->ctype = w->json ? "application/json" : "application/x-protobuf";
  kl_ingest_otlp_reply(&rq, w->json, &w->out);
}

static kl_ingest_event *event_of(kl_ingest_obs *o) {
  return (kl_ingest_event *)(void *)((char *)o - offsetof(kl_ingest_event, obs));
}

static void do_langfuse(ingest_work *w, const char *body, size_t len) {
  kl_err err;
  kl_err_clear(&err);
  kl_ingest_batch b;
  if (kl_ingest_langfuse(body, len, w->arena, &b, &err) != 0) {
    fail(w, 400, err.msg[0] ? err.msg : "malformed ingestion batch");
    return;
  }
  kl_ingest_obs **recs = kl_arena_alloc(w->arena, (b.n ? b.n : 1) * sizeof *recs);
  size_t n = 0;
  for (size_t i = 0; i < b.n; i++) {
    kl_ingest_event *e = &b.events[i];
    if (e->status == 201 && (e->kind == KL_INGEST_OBS || e->kind == KL_INGEST_TRACE)) recs[n++] = &e->obs;
  }
  kl_ingest_order(recs, n); /* creates before updates, so an update never lands first in one batch */
  for (size_t i = 0; i < n; i++) {
    kl_obs_patch p;
    to_patch(recs[i], w->project, &p);
    if (kl_store_submit_patch(w->ctx->store, &p, &err) != 0) {
      kl_ingest_event *e = event_of(recs[i]);
      e->status = err.code >= 400 && err.code < 600 ? err.code : 500;
      e->error = kl_arena_strdup(w->arena, err.msg);
      kl_err_clear(&err);
    }
  }
  for (size_t i = 0; i < b.n; i++) {
    kl_ingest_event *e = &b.events[i];
    if (e->status != 201 || e->kind != KL_INGEST_SCORE) continue;
    kl_score s;
    to_score(&e->score, w->project, &s);
    if (kl_store_submit_score(w->ctx->store, &s, &err) != 0) {
      e->status = err.code >= 400 && err.code < 600 ? err.code : 500;
      e->error = kl_arena_strdup(w->arena, err.msg);
      kl_err_clear(&err);
    }
  }
  w->status = 207;
  w->ctype = "application/json";
  kl_ingest_langfuse_reply(&b, &w->out);
}

static void process(ingest_work *w) {
  const char *body = w->body;
  size_t len = w->len;
  kl_buf raw = KL_BUF_INIT;
  if (w->gzip) {
    kl_err err;
    kl_err_clear(&err);
    if (kl_api_gunzip(body, len, INGEST_MAX_BYTES, &raw, &err) != 0) {
      fail(w, err.code == 413 ? 413 : 400, err.msg);
      kl_buf_free(&raw);
      return;
    }
    body = raw.data ? raw.data : "";
    len = raw.len;
  } else if (len > INGEST_MAX_BYTES) {
    fail(w, 413, "body exceeds the ingestion limit of 5 MiB");
    return;
  }
  if (w->kind == K_OTLP) do_otlp(w, body, len);
  else do_langfuse(w, body, len);
  kl_buf_free(&raw);
}

static void work_run(uv_work_t *uw) { process(uw->data); }

/* w lives in the request's arena, which the reply frees: take what we own first. */
static void respond(ingest_work *w) {
  kl_buf out = w->out;
  kl_arena *a = w->arena;
  kl_metrics_http(kl_gateway_metrics(w->ctx->gw), "ingest", w->status);
  kl_http_respond(w->req, w->status, w->ctype, out.data ? out.data : "", out.len);
  kl_buf_free(&out);
  kl_arena_free(a);
}

static void work_done(uv_work_t *uw, int status) {
  ingest_work *w = uw->data;
  if (status != 0) fail(w, 503, "ingestion cancelled");
  respond(w);
}

static bool ct_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

static void on_auth(kl_http_req *req, kl_api_ctx *ctx, const char *project, int status, void *ud) {
  ingest_work *w = kl_arena_calloc(req->arena, sizeof *w);
  w->work.data = w;
  w->req = req;
  w->ctx = ctx;
  w->kind = (int)(intptr_t)ud;
  w->body = req->body ? req->body : "";
  w->len = req->body_len;
  w->arena = kl_arena_new(64 * 1024);
  const char *ct = kl_http_header_get(req, "content-type");
  w->json = w->kind == K_LANGFUSE || !ct_is(ct, "application/x-protobuf");
  if (!project) {
    kl_arena_free(w->arena);
    kl_metrics_http(kl_gateway_metrics(ctx->gw), "ingest", status);
    kl_api_respond_unauthorized(req, status);
    return;
  }
  snprintf(w->project, sizeof w->project, "%s", project);
  if (w->kind == K_OTLP && !ct_is(ct, "application/x-protobuf") && !ct_is(ct, "application/protobuf") &&
      !ct_is(ct, "application/json")) {
    fail(w, 415, "Content-Type must be application/x-protobuf or application/json");
    respond(w);
    return;
  }
  const char *ce = kl_http_header_get(req, "content-encoding");
  if (ce && *ce && strcasecmp(ce, "identity") != 0) {
    if (strcasecmp(ce, "gzip") != 0 && strcasecmp(ce, "x-gzip") != 0) {
      fail(w, 415, "Content-Encoding must be gzip or identity");
      respond(w);
      return;
    }
    w->gzip = true;
  }
  if (w->len <= INLINE_MAX && !w->gzip) {
    process(w);
    respond(w);
    return;
  }
  int rc = uv_queue_work(req->loop, &w->work, work_run, work_done);
  if (rc != 0) {
    fail(w, 503, uv_strerror(rc));
    respond(w);
  }
}

bool kl_api_ingest_route(kl_http_req *req, kl_api_ctx *ctx) {
  const char *p = req->path;
  int kind = 0;
  if (!strcmp(p, "/v1/traces") || !strcmp(p, "/api/public/otel/v1/traces")) kind = K_OTLP;
  else if (!strcmp(p, "/api/public/ingestion")) kind = K_LANGFUSE;
  else return false;
  if (strcmp(req->method, "POST") != 0) {
    kl_metrics_http(kl_gateway_metrics(ctx->gw), "ingest", 405);
    kl_buf b = KL_BUF_INIT;
    kl_buf_error_json(&b, "use POST", "invalid_request_error", NULL, "method_not_allowed");
    kl_http_header allow[] = {{"Allow", "POST"}};
    kl_http_respond_ex(req, 405, "application/json", allow, 1, b.data, b.len);
    kl_buf_free(&b);
    return true;
  }
  kl_api_authenticate(req, ctx, false, on_auth, (void *)(intptr_t)kind);
  return true;
}
