/* server.c: `keel serve`: wires config -> store -> gateway -> HTTP server, and routes.
 *
 * Start-up order matters for what a failure means: the store opens (and replays any spill
 * file) before the listening sockets are bound, so a keel that accepts requests can always
 * record them; on shutdown the HTTP server drains first (in-flight calls finish and submit
 * their traces), then the store flushes and closes, so SIGTERM loses nothing.
 *
 * Auth (auth.c): every /api/ route needs `Authorization: Bearer <admin key>` when an admin key
 * is configured, or a project's key pair as Basic auth (then it sees that project only);
 * without an admin key keel refuses to listen on a non-loopback address (kl_api_serve), so an
 * open read API is only ever reachable from the machine itself.  Ingestion (ingest.c) always
 * needs a credential. */
#include "api/api_internal.h"
#include "api/ui_assets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>

const char *kl_api_header_fn(void *req, const char *lower_name) {
  return kl_http_header_get((kl_http_req *)req, lower_name);
}

void kl_api_header_each(void *req, void (*fn)(void *ctx, const char *lower_name, const char *value), void *ctx) {
  const kl_http_req *r = req;
  for (size_t i = 0; i < r->nheaders; i++) fn(ctx, r->headers[i].name, r->headers[i].value);
}

void kl_api_respond_error(kl_http_req *req, int status, const char *type, const char *msg,
                          const char *param, const char *code) {
  kl_buf b = KL_BUF_INIT;
  kl_openai_error(&b, status, type, msg, param, code);
  kl_http_respond(req, status, "application/json", b.data, b.len);
  kl_buf_free(&b);
}

void kl_api_respond_json(kl_http_req *req, int status, const char *json, size_t len) {
  kl_http_respond(req, status, "application/json", json, len);
}

/* ---- the reply sink the gateway writes to ---- */

static void r_respond(void *ud, int status, const char *ct, const kl_http_header *extra, size_t n,
                      const char *body, size_t len) {
  kl_http_respond_ex(ud, status, ct, extra, n, body, len);
}
static int r_begin(void *ud, int status, const char *ct, const kl_http_header *extra, size_t n) {
  return kl_http_stream_begin(ud, status, ct, extra, n);
}
static int r_write(void *ud, const char *data, size_t len) { return kl_http_stream_write(ud, data, len); }
static void r_end(void *ud) { kl_http_stream_end(ud); }

static void on_client_abort(kl_http_req *req, void *ud) {
  (void)req;
  kl_gw_call_abort(ud);
}

typedef kl_gw_call *(*gw_entry)(const kl_gw_request *, const kl_gw_reply *);

static void handle_llm(kl_http_req *req, gw_entry entry) {
  kl_gw_request gr = {
      .arena = req->arena,
      .worker = ((void **)req->worker)[0],
      .body = req->body,
      .body_len = req->body_len,
      .header = kl_api_header_fn,
      .header_each = kl_api_header_each,
      .header_ud = req,
      .start_unix_ns = req->start_unix_ns,
      .start_mono_ns = req->start_mono_ns,
  };
  kl_gw_reply reply = {req, r_respond, r_begin, r_write, r_end};
  kl_gw_call *c = entry(&gr, &reply);
  if (c) kl_http_on_abort(req, on_client_abort, c);
}

static bool method_is(kl_http_req *req, const char *m, const char *route, kl_api_ctx *ctx) {
  if (!strcmp(req->method, m)) return true;
  kl_metrics_http(kl_gateway_metrics(ctx->gw), route, 405);
  char msg[128];
  snprintf(msg, sizeof msg, "method %s not allowed here (use %s)", req->method, m);
  kl_buf b = KL_BUF_INIT;
  kl_openai_error(&b, 405, "invalid_request_error", msg, NULL, "method_not_allowed");
  kl_http_header allow[] = {{"Allow", m}};
  kl_http_respond_ex(req, 405, "application/json", allow, 1, b.data, b.len);
  kl_buf_free(&b);
  return false;
}

static void not_found(kl_http_req *req, kl_metrics *met) {
  kl_metrics_http(met, "other", 404);
  char msg[256];
  snprintf(msg, sizeof msg, "no route for %s %.180s", req->method, req->path);
  kl_api_respond_error(req, 404, "invalid_request_error", msg, NULL, "not_found");
}

/* /api/ routes, once the credentials named a project (auth.c). */
static void on_api_auth(kl_http_req *req, kl_api_ctx *ctx, const char *project, int status, void *ud) {
  (void)ud;
  kl_metrics *met = kl_gateway_metrics(ctx->gw);
  const char *p = req->path;
  if (!project) {
    kl_metrics_http(met, "traces", status);
    kl_api_respond_unauthorized(req, status);
    return;
  }
  static const struct { const char *path; void (*fn)(kl_http_req *, kl_api_ctx *, const char *); } lists[] = {
      {"/api/v1/traces", kl_api_query_traces}, {"/api/v1/observations", kl_api_query_observations},
      {"/api/v1/metrics", kl_api_query_metrics}};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
    if (strcmp(p, lists[i].path)) continue;
    if (!method_is(req, "GET", "traces", ctx)) return;
    lists[i].fn(req, ctx, project);
    return;
  }
  if (!strcmp(p, "/api/v1/scores")) {
    if (strcmp(req->method, "POST") && !method_is(req, "GET", "traces", ctx)) return;
    kl_api_query_scores(req, ctx, project);
    return;
  }
  if (!strcmp(p, "/api/v1/sessions") || !strcmp(p, "/api/v1/users")) {
    if (!method_is(req, "GET", "traces", ctx)) return;
    (p[8] == 's' ? kl_api_query_sessions : kl_api_query_users)(req, ctx, NULL, project);
    return;
  }
  static const struct { const char *prefix; void (*fn)(kl_http_req *, kl_api_ctx *, const char *, const char *); } one[] = {
      {"/api/v1/traces/", kl_api_traces}, {"/api/v1/observations/", kl_api_observation}, {"/api/v1/scores/", kl_api_score},
      {"/api/v1/sessions/", kl_api_query_sessions}, {"/api/v1/users/", kl_api_query_users}};
  for (size_t i = 0; i < sizeof one / sizeof *one; i++) {
    size_t n = strlen(one[i].prefix);
    if (strncmp(p, one[i].prefix, n) || !p[n] || strchr(p + n, '/')) continue;
    if (!method_is(req, "GET", "traces", ctx)) return;
    one[i].fn(req, ctx, p + n, project);
    return;
  }
  not_found(req, met);
}

static void handle(kl_http_req *req) {
  kl_api_ctx *ctx = ((void **)req->worker)[1];
  kl_metrics *met = kl_gateway_metrics(ctx->gw);
  const char *p = req->path;
  if (kl_api_ingest_route(req, ctx)) return;
  if (!strcmp(p, "/v1/chat/completions") || !strcmp(p, "/chat/completions")) {
    if (!method_is(req, "POST", "chat", ctx)) return;
    handle_llm(req, kl_gw_chat);
    return;
  }
  static const struct { const char *path, *route; gw_entry entry; } llm_routes[] = {
      {"/v1/embeddings", "embeddings", kl_gw_embeddings}, {"/embeddings", "embeddings", kl_gw_embeddings},
      {"/v1/responses", "responses", kl_gw_responses},    {"/responses", "responses", kl_gw_responses},
      {"/v1/messages", "messages", kl_gw_messages},       {"/messages", "messages", kl_gw_messages},
  };
  for (size_t i = 0; i < sizeof llm_routes / sizeof *llm_routes; i++) {
    if (strcmp(p, llm_routes[i].path)) continue;
    if (!method_is(req, "POST", llm_routes[i].route, ctx)) return;
    handle_llm(req, llm_routes[i].entry);
    return;
  }
  if (!strcmp(p, "/v1/models") || !strcmp(p, "/models")) {
    if (!method_is(req, "GET", "models", ctx)) return;
    kl_buf b = KL_BUF_INIT;
    kl_gw_models_json(ctx->gw, &b);
    kl_metrics_http(met, "models", 200);
    kl_api_respond_json(req, 200, b.data, b.len);
    kl_buf_free(&b);
    return;
  }
  if (!strcmp(p, "/health") || !strcmp(p, "/healthz")) {
    if (!method_is(req, "GET", "health", ctx)) return;
    kl_metrics_http(met, "health", 200);
    static const char ok[] = "{\"status\":\"ok\"}";
    kl_api_respond_json(req, 200, ok, sizeof ok - 1);
    return;
  }
  if (!strcmp(p, "/metrics")) {
    if (!method_is(req, "GET", "metrics", ctx)) return;
    kl_metrics_http(met, "metrics", 200);
    kl_buf b = KL_BUF_INIT;
    kl_metrics_render(met, ctx->store, &b);
    kl_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    kl_buf_free(&b);
    return;
  }
  if (!strncmp(p, "/api/", 5)) {
    kl_api_authenticate(req, ctx, true, on_api_auth, NULL);
    return;
  }
  if (kl_api_ui_route(req, ctx)) return; /* the dashboard: /, /ui/ (ui.c) */
  not_found(req, met);
}


/* Worker pointer = {kl_gw_worker *, kl_api_ctx *}: the gateway's per-loop state plus the
 * shared context, so the handler reaches both without globals. */
static void *worker_start(uv_loop_t *loop, int index, void *ud) {
  kl_api_ctx *ctx = ud;
  kl_err err = {0};
  kl_gw_worker *w = kl_gw_worker_new(ctx->gw, loop, &err);
  if (!w) {
    kl_error("worker %d: %s", index, err.msg);
    return NULL;
  }
  void **pair = calloc(2, sizeof *pair);
  pair[0] = w;
  pair[1] = ctx;
  return pair;
}

static void worker_stop(void *worker, void *ud) {
  (void)ud;
  void **pair = worker;
  if (!pair) return;
  kl_gw_worker_free(pair[0]);
  free(pair);
}

static int mkdir_p(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int kl_api_serve(const kl_config *cfg, kl_err *err) {
  if (!cfg->admin_key && !kl_config_is_loopback(cfg->listen_host)) {
    kl_err_set(err, 1, "refusing to listen on %s without an admin key: set KEEL_ADMIN_KEY or admin_key in the config",
               cfg->listen_host);
    return -1;
  }
  if (mkdir_p(cfg->data_dir) != 0) {
    kl_err_set(err, 1, "data_dir %s: %s", cfg->data_dir, strerror(errno));
    return -1;
  }
  kl_store_opts so = {
      .data_dir = cfg->data_dir,
      .backend = cfg->store_backend,
      .url = cfg->store_url,
      .queue_capacity = cfg->trace_queue_capacity,
      .batch_max = cfg->trace_batch_max,
      .flush_interval_ms = cfg->trace_flush_interval_ms,
      .merge = kl_api_ingest_merge,
      .fulltext = cfg->trace_fulltext ? KL_FULLTEXT_ON : KL_FULLTEXT_OFF,
      .retention_days = cfg->trace_retention_days,
      .secure_delete = cfg->trace_secure_delete ? KL_SECURE_DELETE_ON : KL_SECURE_DELETE_OFF,
  };
  kl_store *store = kl_store_open(&so, err);
  if (!store) return -1;
  kl_gateway *gw = kl_gateway_new(cfg, store, err);
  if (!gw) {
    kl_store_close(store);
    return -1;
  }
  kl_api_ctx ctx = {.cfg = cfg, .gw = gw, .store = store, .keys = kl_api_keycache_new()};
  kl_http_server_opts ho = {
      .host = cfg->listen_host,
      .port = cfg->listen_port,
      .workers = cfg->workers,
      .max_header_bytes = cfg->max_header_bytes,
      .max_body_bytes = cfg->max_body_bytes,
      .header_timeout_ms = cfg->header_timeout_ms,
      .body_timeout_ms = cfg->body_timeout_ms,
      .idle_timeout_ms = cfg->idle_timeout_ms,
      .shutdown_timeout_ms = cfg->shutdown_timeout_ms,
      .handler = handle,
      .worker_start = worker_start,
      .worker_stop = worker_stop,
      .ctx = &ctx,
  };
  kl_http_server *srv = kl_http_server_new(&ho, err);
  if (!srv) {
    kl_api_keycache_free(ctx.keys);
    kl_gateway_free(gw);
    kl_store_close(store);
    return -1;
  }
  kl_info("keel listening on http://%s%s%s:%d (data in %s, %zu models%s)",
          strchr(cfg->listen_host, ':') ? "[" : "", cfg->listen_host, strchr(cfg->listen_host, ':') ? "]" : "",
          kl_http_server_port(srv), cfg->data_dir, cfg->nmodels, cfg->admin_key ? ", admin key set" : "");
  kl_http_server_run(srv);
  kl_http_server_free(srv);
  kl_info("shutting down: flushing traces");
  kl_gateway_free(gw);
  kl_store_close(store);
  kl_api_keycache_free(ctx.keys);
  kl_info("stopped: traces flushed");
  return 0;
}
