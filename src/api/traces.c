/* traces.c: reading one record by id (lists and filters are query.c's).
 *
 *   GET /api/v1/traces/{id}
 *   GET /api/v1/observations/{id}, GET /api/v1/scores/{id}
 *
 * Every query is scoped to the project the credentials named (server.c, auth.c).
 * SQL never runs on an event loop: the query is handed to libuv's thread pool
 * (uv_queue_work) and the response is sent from the after-work callback on the loop.  The
 * store answers with JSON ready to send. */
#include "api/api_internal.h"

#include <string.h>

typedef struct trace_work {
  uv_work_t work;
  kl_http_req *req;
  kl_api_ctx *ctx;
  const char *trace_id;  /* observation lookups: optional, makes them instant */
  const char *id;
  const char *project;
  char what;     /* 't' trace, 'o' observation, 's' score */
  kl_buf out;
  kl_err err;
  int rc;
} trace_work;

static void run_query(uv_work_t *w) {
  trace_work *tw = w->data;
  if (tw->what == 'o')
    tw->rc = kl_store_find_observation(tw->ctx->store, tw->project, tw->trace_id, tw->id, &tw->out, &tw->err);
  else if (tw->what == 's') tw->rc = kl_store_get_score(tw->ctx->store, tw->project, tw->id, &tw->out, &tw->err);
  else tw->rc = kl_store_get_trace(tw->ctx->store, tw->project, tw->id, &tw->out, &tw->err);
}

static void after_query(uv_work_t *w, int status) {
  trace_work *tw = w->data;
  kl_metrics *met = kl_gateway_metrics(tw->ctx->gw);
  if (status != 0 || tw->rc != 0) {
    int code = tw->err.code >= 400 && tw->err.code < 600 ? tw->err.code : 500;
    kl_metrics_http(met, "traces", code);
    kl_api_respond_error(tw->req, code, code == 404 ? "not_found_error" : code == 400 ? "invalid_request_error" : "api_error",
                         tw->err.msg[0] ? tw->err.msg : "query failed", NULL,
                         code != 404 ? NULL : tw->what == 'o' ? "observation_not_found" : tw->what == 's' ? "score_not_found" : "trace_not_found");
  } else {
    kl_metrics_http(met, "traces", 200);
    kl_api_respond_json(tw->req, 200, tw->out.data, tw->out.len);
  }
  kl_buf_free(&tw->out);
}

static trace_work *new_work(kl_http_req *req, kl_api_ctx *ctx, const char *project, char what) {
  trace_work *tw = kl_arena_calloc(req->arena, sizeof *tw);
  tw->req = req;
  tw->ctx = ctx;
  tw->work.data = tw;
  tw->project = project;
  tw->what = what;
  return tw;
}

static void get_one(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project, char what) {
  if (strlen(id) > 64) {
    kl_api_respond_error(req, 404, "not_found_error",
                         what == 'o' ? "no such observation" : what == 's' ? "no such score" : "no such trace", NULL,
                         what == 'o' ? "observation_not_found" : what == 's' ? "score_not_found" : "trace_not_found");
    return;
  }
  trace_work *tw = new_work(req, ctx, project, what);
  tw->id = id;
  if (what == 'o') tw->trace_id = kl_http_query_get(req, "trace_id"); /* optional: a fast lookup */
  int rc = uv_queue_work(req->loop, &tw->work, run_query, after_query);
  if (rc != 0) kl_api_respond_error(req, 500, "api_error", uv_strerror(rc), NULL, NULL);
}

void kl_api_observation(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project) {
  get_one(req, ctx, id, project, 'o');
}

void kl_api_score(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project) {
  get_one(req, ctx, id, project, 's');
}

void kl_api_traces(kl_http_req *req, kl_api_ctx *ctx, const char *id, const char *project) {
  get_one(req, ctx, id, project, 't');
}
