/* server.c: `keel serve`: wires config -> store -> gateway -> HTTP server, and routes.
 *
 * Start-up order matters for what a failure means: the store opens (and replays any spill
 * file) before the listening sockets are bound, so a keel that accepts requests can always
 * record them; on shutdown the HTTP server drains first (in-flight calls finish and submit
 * their traces), then the store flushes and closes, so SIGTERM loses nothing.
 *
 * Auth: every /api/ route needs `Authorization: Bearer <admin key>` when an admin key is configured;
 * without one keel refuses to listen on a non-loopback address (kl_api_serve), so an open
 * read API is only ever reachable from the machine itself. */
#include "api/api_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>

const char *kl_api_header_fn(void *req, const char *lower_name) {
  return kl_http_header_get((kl_http_req *)req, lower_name);
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
      .header_ud = req,
      .start_unix_ns = req->start_unix_ns,
      .start_mono_ns = req->start_mono_ns,
  };
  kl_gw_reply reply = {req, r_respond, r_begin, r_write, r_end};
  kl_gw_call *c = entry(&gr, &reply);
  if (c) kl_http_on_abort(req, on_client_abort, c);
}

/* Constant-time comparison of the presented bearer token with the admin key. */
static bool authorized(const kl_config *cfg, kl_http_req *req) {
  if (!cfg->admin_key) return true;
  const char *h = kl_http_header_get(req, "authorization");
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
  const char *tok = h + 7;
  size_t a = strlen(tok), b = strlen(cfg->admin_key);
  unsigned char diff = (unsigned char)(a != b);
  for (size_t i = 0; i < b; i++) diff |= (unsigned char)(tok[i < a ? i : 0] ^ cfg->admin_key[i]);
  return diff == 0;
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

static void handle(kl_http_req *req) {
  kl_api_ctx *ctx = ((void **)req->worker)[1];
  kl_metrics *met = kl_gateway_metrics(ctx->gw);
  const char *p = req->path;
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
    if (!authorized(ctx->cfg, req)) {
      kl_metrics_http(met, "traces", 401);
      kl_buf b = KL_BUF_INIT;
      kl_openai_error(&b, 401, "authentication_error", "missing or invalid admin key (Authorization: Bearer <key>)", NULL, "unauthorized");
      kl_http_header h[] = {{"WWW-Authenticate", "Bearer realm=\"keel\""}};
      kl_http_respond_ex(req, 401, "application/json", h, 1, b.data, b.len);
      kl_buf_free(&b);
      return;
    }
    if (!strcmp(p, "/api/v1/traces")) {
      if (!method_is(req, "GET", "traces", ctx)) return;
      kl_api_traces(req, ctx, NULL);
      return;
    }
    if (!strncmp(p, "/api/v1/traces/", 15) && p[15] && !strchr(p + 15, '/')) {
      if (!method_is(req, "GET", "traces", ctx)) return;
      kl_api_traces(req, ctx, p + 15);
      return;
    }
  }
  kl_metrics_http(met, "other", 404);
  char msg[256];
  snprintf(msg, sizeof msg, "no route for %s %.180s", req->method, p);
  kl_api_respond_error(req, 404, "invalid_request_error", msg, NULL, "not_found");
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
      .queue_capacity = cfg->trace_queue_capacity,
      .batch_max = cfg->trace_batch_max,
      .flush_interval_ms = cfg->trace_flush_interval_ms,
  };
  kl_store *store = kl_store_open(&so, err);
  if (!store) return -1;
  kl_gateway *gw = kl_gateway_new(cfg, store, err);
  if (!gw) {
    kl_store_close(store);
    return -1;
  }
  kl_api_ctx ctx = {.cfg = cfg, .gw = gw, .store = store};
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
  kl_info("stopped: traces flushed");
  return 0;
}
