/* mock_upstream.c: `keel mock-upstream`, the mock LLM as a standalone OpenAI- and
 * Anthropic-compatible server: POST /v1/chat/completions, /v1/messages (Anthropic),
 * /v1/embeddings, /v1/responses (each also without the /v1 prefix), POST /classify (a
 * guardrail classifier), GET /v1/models, /health.
 *
 * Tests and benchmarks point keel (or anything else) at it like at a real provider.  What to
 * answer comes from the llm layer's planners (llm/mock*.c: deterministic, with per-request
 * fault injection through x-mock-* headers); this file only routes and plays the plan over
 * HTTP: latency and stream cadence on a uv timer, 429 with Retry-After, hang (no answer until
 * the client gives up), reset (an RST, mid-stream for streams), malformed bodies and
 * truncated streams (a clean chunked end without the final events). */
#include "api/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mock_req {
  kl_http_req *req;
  uv_timer_t *timer;     /* malloc'd: its close callback may run after the request is gone */
  kl_mock_plan plan;
  size_t next;
  bool begun;
  bool done;
  char retry_after[16];
} mock_req;

typedef struct mock_ctx {
  kl_mock_opts opts;
} mock_ctx;

static void timer_closed(uv_handle_t *h) { free(h); }

static void complete(mock_req *m) {
  m->done = true;
  uv_timer_stop(m->timer);
  uv_close((uv_handle_t *)m->timer, timer_closed);
}

static void tick(uv_timer_t *t) {
  mock_req *m = t->data;
  const kl_mock_plan *p = &m->plan;
  kl_http_req *req = m->req;
  if (m->done) return;
  if (p->fault == KL_MOCK_HANG) return;
  bool streamed = p->stream && p->status == 200 && p->nchunks > 0;
  if (!streamed) {
    complete(m);
    if (p->fault == KL_MOCK_RESET) {
      kl_http_reset(req);
      return;
    }
    kl_http_header extra[1];
    size_t n = 0;
    if (p->retry_after_s > 0) {
      snprintf(m->retry_after, sizeof m->retry_after, "%d", p->retry_after_s);
      extra[n++] = (kl_http_header){"Retry-After", m->retry_after};
    }
    kl_http_respond_ex(req, p->status, p->content_type ? p->content_type : "application/json", extra, n, p->body,
                       p->body_len);
    return;
  }
  if (!m->begun) {
    m->begun = true;
    if (p->fault == KL_MOCK_RESET && p->reset_after == 0) {
      complete(m);
      kl_http_reset(req);
      return;
    }
    kl_http_header extra[] = {{"Cache-Control", "no-cache"}};
    kl_http_stream_begin(req, 200, "text/event-stream", extra, 1);
  }
  if (p->fault == KL_MOCK_RESET && m->next >= p->reset_after) {
    complete(m);
    kl_http_reset(req);
    return;
  }
  if (m->next < p->nchunks) {
    const char *ch = p->chunks[m->next++];
    kl_http_stream_write(req, ch, strlen(ch));
  }
  if (m->next >= p->nchunks && p->fault != KL_MOCK_RESET) {
    complete(m);
    kl_http_stream_end(req);
    return;
  }
  uv_timer_start(m->timer, tick, (uint64_t)(p->chunk_delay_ms > 0 ? p->chunk_delay_ms : 0), 0);
}

static void on_abort(kl_http_req *req, void *ud) {
  mock_req *m = ud;
  if (m->done) return;
  complete(m);
  if (m->begun) kl_http_stream_end(req);
  else kl_http_respond(req, 499, "application/json", "{}", 2);
}

/* The planner of a POST endpoint, with or without the /v1 prefix; NULL when there is none. */
static kl_mock_planner route(const char *path) {
  static const struct { const char *path; kl_mock_planner plan; } routes[] = {
      {"/chat/completions", kl_mock_chat},
      {"/messages", kl_mock_messages},
      {"/embeddings", kl_mock_embeddings},
      {"/responses", kl_mock_responses},
      {"/classify", kl_mock_classify},
  };
  if (strncmp(path, "/v1/", 4) == 0) path += 3;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (strcmp(path, routes[i].path) == 0) return routes[i].plan;
  return NULL;
}

static void handle(kl_http_req *req) {
  mock_ctx *ctx = req->worker;
  const char *p = req->path;
  if (!strcmp(p, "/health")) {
    kl_api_respond_json(req, 200, "{\"status\":\"ok\"}", 15);
    return;
  }
  if (!strcmp(p, "/v1/models") || !strcmp(p, "/models")) {
    kl_mock_plan plan;
    kl_mock_models(req->arena, &plan);
    kl_api_respond_json(req, plan.status, plan.body, plan.body_len);
    return;
  }
  kl_mock_planner planner = route(p);
  if (!planner) {
    kl_api_respond_error(req, 404, "invalid_request_error",
                         "the mock serves /v1/chat/completions, /v1/messages, /v1/embeddings, /v1/responses and "
                         "/v1/models (the /v1 prefix is optional)",
                         NULL, "not_found");
    return;
  }
  if (strcmp(req->method, "POST")) {
    kl_api_respond_error(req, 405, "invalid_request_error", "use POST", NULL, "method_not_allowed");
    return;
  }
  mock_req *m = kl_arena_calloc(req->arena, sizeof *m);
  m->req = req;
  planner(req->arena, req->body, req->body_len, kl_api_header_fn, req, &ctx->opts, &m->plan);
  m->timer = malloc(sizeof *m->timer);
  if (!m->timer) abort();
  uv_timer_init(req->loop, m->timer);
  m->timer->data = m;
  kl_http_on_abort(req, on_abort, m);
  uv_timer_start(m->timer, tick, (uint64_t)(m->plan.latency_ms > 0 ? m->plan.latency_ms : 0), 0);
}

static void *worker_start(uv_loop_t *loop, int index, void *ud) {
  (void)loop;
  (void)index;
  return ud;
}

int kl_api_mock_upstream(const kl_mock_server_opts *o, kl_err *err) {
  mock_ctx ctx = {.opts = o->mock};
  kl_http_server_opts ho = {
      .host = o->host ? o->host : "127.0.0.1",
      .port = o->port,
      .workers = o->workers > 0 ? o->workers : 1,
      .handler = handle,
      .worker_start = worker_start,
      .ctx = &ctx,
      .shutdown_timeout_ms = 2000,
  };
  kl_http_server *srv = kl_http_server_new(&ho, err);
  if (!srv) return -1;
  int port = kl_http_server_port(srv);
  kl_info("mock upstream listening on http://%s:%d", ho.host, port);
  if (o->on_listen) o->on_listen(port, o->ud);
  kl_http_server_run(srv);
  kl_http_server_free(srv);
  return 0;
}
