/* provider_mock.c: the built-in `mock` provider, run on the worker's loop.
 *
 * It plays a kl_mock_plan (llm/mock.c decides what to answer) through the same three
 * callbacks an HTTP upstream call uses (on_response, on_data, on_done), with the plan's
 * latency and stream cadence on a uv timer.  So the gateway has one code path for both,
 * and every fault the standalone `keel mock-upstream` can inject (status, hang, reset,
 * malformed, truncate) exercises exactly the code that handles a real upstream's faults.
 * Callbacks never fire synchronously from kl_mock_call_start. */
#include "gateway/gw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kl_mock_call {
  uv_timer_t timer;
  kl_mock_plan plan;
  kl_upstream_cbs cbs;
  void *ud;
  size_t next_chunk;
  bool started;   /* on_response delivered */
  bool finished;  /* on_done delivered or cancelled */
  char retry_after[16];
};

static void on_close(uv_handle_t *h) { free(h->data); }

static void finish(kl_mock_call *c, kl_upstream_status st, const char *msg) {
  c->finished = true;
  uv_timer_stop(&c->timer);
  c->cbs.on_done(c->ud, st, msg);
  /* the gateway may have completed and freed the request arena in on_done: only our own
   * malloc'd struct is touched from here on */
  uv_close((uv_handle_t *)&c->timer, on_close);
}

static void respond_headers(kl_mock_call *c) {
  kl_http_header h[2] = {{"content-type", c->plan.content_type ? c->plan.content_type : "application/json"}};
  size_t n = 1;
  if (c->plan.retry_after_s > 0) {
    snprintf(c->retry_after, sizeof c->retry_after, "%d", c->plan.retry_after_s);
    h[n++] = (kl_http_header){"retry-after", c->retry_after};
  }
  c->started = true;
  if (c->cbs.on_response) c->cbs.on_response(c->ud, c->plan.status, h, n);
}

static void tick(uv_timer_t *t) {
  kl_mock_call *c = t->data;
  if (c->finished) return;
  const kl_mock_plan *p = &c->plan;
  bool streamed = p->stream && p->status == 200 && p->nchunks > 0;
  if (p->fault == KL_MOCK_HANG) return; /* never answers: the caller's timeout decides */
  if (p->fault == KL_MOCK_RESET && (!streamed || p->reset_after == 0) && !c->started) {
    finish(c, KL_UP_RESET, "mock: connection reset by peer");
    return;
  }
  if (!c->started) respond_headers(c);
  if (c->finished) return;
  if (!streamed) {
    if (p->body_len && c->cbs.on_data(c->ud, p->body, p->body_len) != 0) {
      finish(c, KL_UP_ERROR, "aborted by receiver");
      return;
    }
    finish(c, KL_UP_OK, NULL);
    return;
  }
  if (p->fault == KL_MOCK_RESET && c->next_chunk >= p->reset_after) {
    finish(c, KL_UP_RESET, "mock: connection reset mid-stream");
    return;
  }
  if (c->next_chunk < p->nchunks) {
    const char *ch = p->chunks[c->next_chunk++];
    if (c->cbs.on_data(c->ud, ch, strlen(ch)) != 0) {
      finish(c, KL_UP_ERROR, "aborted by receiver");
      return;
    }
  }
  if (c->finished) return;
  if (c->next_chunk >= p->nchunks && p->fault != KL_MOCK_RESET) {
    finish(c, KL_UP_OK, NULL);
    return;
  }
  uv_timer_start(&c->timer, tick, (uint64_t)(p->chunk_delay_ms > 0 ? p->chunk_delay_ms : 0), 0);
}

kl_mock_call *kl_mock_call_start(uv_loop_t *loop, kl_arena *a, kl_mock_planner plan, const char *body,
                                 size_t len, kl_header_fn hdr, void *hdr_ud, const kl_mock_opts *opts,
                                 const kl_upstream_cbs *cbs, void *ud) {
  kl_mock_call *c = calloc(1, sizeof *c);
  if (!c) abort();
  plan(a, body, len, hdr, hdr_ud, opts, &c->plan);
  c->cbs = *cbs;
  c->ud = ud;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_timer_start(&c->timer, tick, (uint64_t)(c->plan.latency_ms > 0 ? c->plan.latency_ms : 0), 0);
  return c;
}

void kl_mock_call_cancel(kl_mock_call *c) {
  if (!c || c->finished) return;
  c->finished = true;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_close);
}
