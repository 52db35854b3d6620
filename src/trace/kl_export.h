/* kl_export.h: exporting keel's own observations as OTLP/HTTP traces to a collector
 * (Jaeger, Tempo, Phoenix, Langfuse's /api/public/otel/v1/traces, an otel-collector).
 *
 * Two pieces:
 *
 *   The encoder (otlp_export.c) turns kl_obs records into one ExportTraceServiceRequest,
 *   protobuf (the default; written by hand, Debian ships no OTLP generated code) or OTLP JSON.
 *   Attributes follow the OpenTelemetry GenAI semantic conventions, plus the langfuse.*
 *   attributes Langfuse reads natively and keel.* for what neither has; the table is at the
 *   top of otlp_export.c.  GENERATION and EMBEDDING records become CLIENT spans named
 *   "{gen_ai.operation.name} {model}"; every other type (GUARDRAIL, SPAN...) an INTERNAL span
 *   with its own name.
 *
 *   The exporter (exporter.c) is best-effort delivery beside the store, which stays the record:
 *   kl_exporter_submit() copies the observation into a bounded in-memory queue and never
 *   blocks; when the queue is full the OLDEST queued observation is dropped and counted.  One
 *   thread of its own (own uv loop, own kl_upstream: never a gateway loop) sends batches of
 *   up to batch_max spans, when a batch is full or every flush_interval_ms, one request at a
 *   time; 429/502/503/504 and connection errors are retried with exponential backoff and
 *   jitter (a Retry-After wins, up to 60 s), up to max_attempts; anything else gives the batch
 *   up.  kl_exporter_free() flushes what is queued, bounded by shutdown_timeout_ms. */
#ifndef KL_EXPORT_H
#define KL_EXPORT_H

#include "base/kl_base.h"
#include "store/kl_store.h"

typedef enum { KL_EXPORT_PROTOBUF = 0, KL_EXPORT_JSON } kl_export_protocol;

typedef struct kl_export_attr {
  const char *key, *value;
} kl_export_attr;

/* ================= encoder ================= */

typedef struct kl_export_enc {
  const kl_export_attr *resource; /* extra string resource attributes; a service.name here */
  size_t nresource;               /* replaces the default "keel" */
  bool omit_content;              /* leave out gen_ai.input.messages / gen_ai.output.messages */
} kl_export_enc;

/* Appends one ExportTraceServiceRequest holding the n observations (one resource, one scope
 * "keel").  enc may be NULL.  Never fails: unusable values are left out. */
void kl_export_encode(const kl_obs *const *obs, size_t n, kl_export_protocol proto, const kl_export_enc *enc,
                      kl_buf *out);
/* The OTLP ids of keel ids: 32 (16) hex characters are taken as is; anything else (a foreign
 * id, a UUID with dashes, an all-zero id) is hashed to a stable non-zero id, so every span of
 * one trace still lands in the same OTLP trace.  Returns false when the id was hashed. */
bool kl_export_trace_id(const char *id, uint8_t out[16]);
bool kl_export_span_id(const char *id, uint8_t out[8]);

/* ================= exporter ================= */

typedef struct kl_exporter kl_exporter;

typedef struct kl_exporter_opts {
  const char *endpoint;          /* full URL, e.g. http://127.0.0.1:4318/v1/traces (required) */
  kl_export_protocol protocol;   /* protobuf (default) or json */
  const char *const *headers;    /* "Name: value" lines (Authorization...), copied */
  size_t nheaders;
  const kl_export_attr *resource; /* copied */
  size_t nresource;
  bool omit_content;             /* do not export prompts and completions */
  bool gzip;                     /* Content-Encoding: gzip */
  bool insecure_tls;
  size_t batch_max;              /* spans per request; 0 = 512 */
  size_t queue_capacity;         /* 0 = 8192 */
  int flush_interval_ms;         /* 0 = 1000 */
  int timeout_ms;                /* per request; 0 = 10000 */
  int max_attempts;              /* per batch, first try included; 0 = 5 */
  int backoff_initial_ms;        /* 0 = 500; doubles per attempt, jittered to [50%, 100%] */
  int backoff_max_ms;            /* 0 = 30000 */
  int shutdown_timeout_ms;       /* kl_exporter_free's flush deadline; 0 = 5000 */
} kl_exporter_opts;

/* Counters since start.  Every submitted span ends up in exactly one of exported, dropped or
 * failed, or is still queued / in flight. */
typedef struct kl_export_stats {
  uint64_t submitted;
  uint64_t exported;       /* accepted by the collector (2xx) */
  uint64_t dropped;        /* evicted from a full queue (drop-oldest) or submitted after stop */
  uint64_t failed;         /* in batches given up: attempts exhausted, a non-retryable status,
                            * or still unsent at the shutdown deadline */
  uint64_t requests;       /* HTTP requests made (retries included) */
  uint64_t retries;
  size_t queue_depth;
  int last_status;         /* last HTTP status; 0 = none yet or a connection error */
} kl_export_stats;

/* Validates opts and starts the exporter thread.  NULL with err (400 bad option, 500 system). */
kl_exporter *kl_exporter_new(const kl_exporter_opts *opts, kl_err *err);
/* Copies o (one malloc) into the queue; never blocks beyond a short mutex.  Thread-safe. */
void kl_exporter_submit(kl_exporter *e, const kl_obs *o);
/* Sends everything queued now, without waiting for a full batch or the timer, and waits until
 * the queue is empty and nothing is in flight, up to timeout_ms.  0 when drained, -1 on timeout. */
int kl_exporter_flush(kl_exporter *e, int timeout_ms);
void kl_exporter_stats(kl_exporter *e, kl_export_stats *out);
/* Flushes (up to shutdown_timeout_ms), stops the thread and frees.  NULL-safe. */
void kl_exporter_free(kl_exporter *e);

#endif
