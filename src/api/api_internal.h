/* api_internal.h: shared by the api layer's own files. */
#ifndef KL_API_INTERNAL_H
#define KL_API_INTERNAL_H

#include "api/kl_api.h"

typedef struct kl_api_keycache kl_api_keycache;

typedef struct kl_api_ctx {
  const kl_config *cfg;
  kl_gateway *gw;
  kl_store *store;
  kl_api_keycache *keys; /* verified API keys (auth.c) */
} kl_api_ctx;

/* Everything a handler needs: the request and the api context (shared across workers). */
void kl_api_respond_error(kl_http_req *req, int status, const char *type, const char *msg,
                          const char *param, const char *code);
void kl_api_respond_json(kl_http_req *req, int status, const char *json, size_t len);
/* GET /api/v1/traces and /api/v1/traces/{id} of `project`: the SQL runs on libuv's thread pool. */
void kl_api_traces(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project);
/* GET /api/v1/observations/{id} and /api/v1/scores/{id} of `project` (traces.c). */
void kl_api_observation(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project);
void kl_api_score(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project);

/* query.c: the query API (issue 5): lists with filters, scores, sessions, users, metrics. */
void kl_api_query_traces(kl_http_req *req, kl_api_ctx *ctx, const char *project);       /* GET list */
void kl_api_query_observations(kl_http_req *req, kl_api_ctx *ctx, const char *project); /* GET list */
void kl_api_query_scores(kl_http_req *req, kl_api_ctx *ctx, const char *project);       /* GET list, POST */
void kl_api_query_sessions(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project);
void kl_api_query_users(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project);
void kl_api_query_metrics(kl_http_req *req, kl_api_ctx *ctx, const char *project);

/* auth.c: credentials -> project.  cb gets the project (arena- or static-owned), or NULL and
 * the status to answer (401, or 500 when the key store failed).  cb may run before
 * kl_api_authenticate returns (cache hit) or later on the loop (a miss goes to the thread
 * pool).  allow_anonymous: no Authorization header means project "default" when no admin
 * key is configured. */
typedef void (*kl_api_auth_cb)(kl_http_req *req, kl_api_ctx *ctx, const char *project, int status, void *ud);
void kl_api_authenticate(kl_http_req *req, kl_api_ctx *ctx, bool allow_anonymous, kl_api_auth_cb cb, void *ud);
void kl_api_respond_unauthorized(kl_http_req *req, int status);
kl_api_keycache *kl_api_keycache_new(void);
void kl_api_keycache_free(kl_api_keycache *c);
void kl_api_key_hash(const unsigned char salt[KL_KEY_SALT_LEN], const char *secret, size_t len,
                     unsigned char out[KL_KEY_HASH_LEN]);
bool kl_api_key_verify(const kl_store_key *k, const char *secret, size_t len);

/* ingest.c: POST /v1/traces, /api/public/otel/v1/traces, /api/public/ingestion.  Returns
 * false when the path is not one of them. */
bool kl_api_ingest_route(kl_http_req *req, kl_api_ctx *ctx);
/* Inflates a gzip body into out; -1 with err 413 past max_out bytes, 400 when not gzip. */
int kl_api_gunzip(const void *in, size_t len, size_t max_out, kl_buf *out, kl_err *err);
const char *kl_api_header_fn(void *req, const char *lower_name);
void kl_api_header_each(void *req, void (*fn)(void *ctx, const char *lower_name, const char *value), void *ctx);

#endif
