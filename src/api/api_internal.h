/* api_internal.h: shared by the api layer's own files. */
#ifndef KL_API_INTERNAL_H
#define KL_API_INTERNAL_H

#include "api/kl_api.h"

typedef struct kl_api_ctx {
  const kl_config *cfg;
  kl_gateway *gw;
  kl_store *store;
} kl_api_ctx;

/* Everything a handler needs: the request and the api context (shared across workers). */
void kl_api_respond_error(kl_http_req *req, int status, const char *type, const char *msg,
                          const char *param, const char *code);
void kl_api_respond_json(kl_http_req *req, int status, const char *json, size_t len);
/* GET /api/v1/traces and /api/v1/traces/{id}: the SQL runs on libuv's thread pool. */
void kl_api_traces(kl_http_req *req, kl_api_ctx *ctx, const char *id);
const char *kl_api_header_fn(void *req, const char *lower_name);

#endif
