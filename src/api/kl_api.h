/* kl_api.h: keel's HTTP surface.  The api layer routes requests from the net layer's server
 * to the gateway (LLM calls), the store (trace reads) and the metrics, and formats every
 * error in OpenAI's format.  It also hosts the standalone mock upstream server.
 *
 * Routes of `keel serve`:
 *   POST /v1/chat/completions      (also /chat/completions)
 *   GET  /v1/models                (also /models)
 *   GET  /health, GET /metrics
 *   GET  /api/v1/traces, GET /api/v1/traces/{id}   (Bearer admin key when one is set) */
#ifndef KL_API_H
#define KL_API_H

#include "gateway/kl_gateway.h"

/* Runs `keel serve` with this configuration until SIGINT/SIGTERM; returns 0 after a clean
 * shutdown (in-flight calls finished, traces flushed), -1 with err when it could not start. */
int kl_api_serve(const kl_config *cfg, kl_err *err);

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
