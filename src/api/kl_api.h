/* kl_api.h: keel's HTTP surface.  The api layer routes requests from the net layer's server
 * to the gateway (LLM calls), the store (trace reads) and the metrics, and formats every
 * error in OpenAI's format.  It also hosts the standalone mock upstream server.
 *
 * Routes of `keel serve`:
 *   POST /v1/chat/completions      (also /chat/completions)
 *   GET  /v1/models                (also /models)
 *   GET  /health, GET /metrics
 *   GET  /api/v1/traces, GET /api/v1/traces/{id}   (Bearer admin key when one is set, or a
 *        project's key pair as Basic auth: then scoped to that project)
 *   GET  /api/v1/observations/{id}, GET /api/v1/scores/{id}   (same auth)
 *   GET  /api/v1/observations, /api/v1/scores (and POST), /api/v1/sessions[/{id}],
 *        /api/v1/users[/{id}], /api/v1/metrics                 (same auth; query.c)
 *   POST /v1/traces, /api/public/otel/v1/traces      (OTLP/HTTP, protobuf or JSON, gzip)
 *   POST /api/public/ingestion                       (Langfuse batches)
 *        ingestion needs Basic base64(pk-lf-..:sk-lf-..) (or the admin key)
 *   GET  /, /ui/...                                  the web dashboard (ui.c; files public,
 *        it asks for the admin key and sends it to /api/) */
#ifndef KL_API_H
#define KL_API_H

#include "gateway/kl_gateway.h"

/* Runs `keel serve` with this configuration until SIGINT/SIGTERM; returns 0 after a clean
 * shutdown (in-flight calls finished, traces flushed), -1 with err when it could not start. */
int kl_api_serve(const kl_config *cfg, kl_err *err);

/* Creates a key pair for `project` (created if missing) in the store under opts->data_dir:
 * pk-lf-<uuid> and sk-lf-<uuid>, the secret stored only as a salted SHA-256.  The secret is
 * returned once, here. */
#define KL_API_KEY_BUF 48
int kl_api_key_create(const kl_store_opts *opts, const char *project, char pk[KL_API_KEY_BUF], char sk[KL_API_KEY_BUF],
                      kl_err *err);

/* The store's merge hook (kl_store_opts.merge) for ingested records: kl_ingest_merge. */
void kl_api_ingest_merge(kl_obs_patch *dst, const kl_obs_patch *src, kl_arena *a);

typedef struct kl_mock_server_opts {
  const char *host;      /* default 127.0.0.1 */
  int port;              /* default 4010 */
  int workers;           /* default 1 */
  kl_mock_opts mock;
  void (*on_listen)(int port, void *ud); /* called once bound (for tests); may be NULL */
  void *ud;
} kl_mock_server_opts;

/* Runs `keel mock-upstream` until SIGINT/SIGTERM. */
int kl_api_mock_upstream(const kl_mock_server_opts *opts, kl_err *err);

#endif
