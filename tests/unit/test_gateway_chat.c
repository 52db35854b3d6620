/* test_gateway_chat.c: the chat pipeline with the in-process mock provider and a fake reply
 * sink: no HTTP server involved.  Covers answers, streaming relay, every mock fault, client
 * aborts, and that each call lands in the store as exactly one observation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway/kl_gateway.h"
#include "gw_test_sink.h"


static int setup(void **state) {
  const char *yaml =
      "models:\n"
      "  - name: mock\n    provider: mock\n"
      "  - name: mock-slow\n    provider: mock\n    timeout_ms: 200\n";
  return gw_setup(state, yaml);
}

#define REQ(extra) "{\"model\":\"mock\",\"user\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there gateway\"}]" extra "}"

static void test_plain_answer_traced(void **state) {
  fixture *f = *state;
  sink s = {0};
  char body[256];
  snprintf(body, sizeof body, REQ(""), "u-plain");
  run_call(f, kl_gw_chat, body, NULL, &s);
  assert_int_equal(s.status, 200);
  assert_false(s.streamed);
  cJSON *r = cJSON_Parse(s.body.data);
  assert_string_equal(kl_json_str(r, "object"), "chat.completion");
  cJSON *o = last_observation(f, "u-plain");
  assert_string_equal(kl_json_str(o, "type"), "GENERATION");
  assert_int_equal(kl_json_int(cJSON_GetObjectItem(o, "usage"), "input", -1),
                   kl_json_int(cJSON_GetObjectItem(r, "usage"), "prompt_tokens", -2));
  assert_string_equal(kl_json_str(o, "level"), "DEFAULT");
  cJSON_Delete(o);
  cJSON_Delete(r);
  kl_buf_free(&s.body);
  assert_int_equal(kl_gw_worker_active(f->w), 0);
}

static void test_stream_hides_usage_chunk(void **state) {
  fixture *f = *state;
  sink s = {0};
  char body[256];
  snprintf(body, sizeof body, REQ(",\"stream\":true"), "u-stream");
  run_call(f, kl_gw_chat, body, NULL, &s);
  assert_true(s.streamed);
  assert_int_equal(s.status, 200);
  assert_non_null(strstr(s.body.data, "data: [DONE]\n\n"));
  assert_null(strstr(s.body.data, "\"choices\":[]"));
  cJSON *o = last_observation(f, "u-stream");
  assert_true(kl_json_int(cJSON_GetObjectItem(o, "usage"), "output", 0) > 0);
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "ttft_ms")));
  cJSON_Delete(o);
  kl_buf_free(&s.body);

  sink s2 = {0};
  snprintf(body, sizeof body, REQ(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"), "u-stream2");
  run_call(f, kl_gw_chat, body, NULL, &s2);
  assert_non_null(strstr(s2.body.data, "\"choices\":[]"));
  kl_buf_free(&s2.body);
}

static void test_faults(void **state) {
  fixture *f = *state;
  struct { const char *fault; bool stream; int status; const char *expect; } cases[] = {
      {"status=503", false, 503, "error"},
      {"429", false, 429, "rate"},
      {"reset", false, 502, "upstream_reset"},
      {"malformed", false, 502, "upstream_invalid_response"},
      {"reset", true, 200, "upstream_reset"},
      {"truncate", true, 200, "upstream_stream_truncated"},
      {"malformed", true, 200, "upstream_invalid_stream"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sink s = {0};
    char body[256], user[32];
    snprintf(user, sizeof user, "u-fault-%zu", i);
    snprintf(body, sizeof body, cases[i].stream ? REQ(",\"stream\":true") : REQ(""), user);
    hdrs h = {{"x-mock-fault", "x-mock-retry-after"}, {cases[i].fault, "3"}, 2};
    run_call(f, kl_gw_chat, body, &h, &s);
    assert_int_equal(s.status, cases[i].status);
    if (cases[i].stream) {
      if (strstr(s.body.data, "data: [DONE]")) fail_msg("%s: stream ended with [DONE]:\n%s", cases[i].fault, s.body.data);
      assert_non_null(strstr(s.body.data, "\"error\""));
    }
    if (cases[i].status == 429) assert_string_equal(s.retry_after, "3");
    assert_non_null(strstr(s.body.data, cases[i].expect));
    cJSON *o = last_observation(f, user);
    assert_string_equal(kl_json_str(o, "level"), "ERROR");
    if (cases[i].stream) {
      /* the stream never delivered usage: keel counted it and says so */
      assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "usage_estimated")));
      assert_true(kl_json_int(cJSON_GetObjectItem(o, "usage"), "input", 0) > 0);
    }
    cJSON_Delete(o);
    kl_buf_free(&s.body);
  }
}

static void test_hang_times_out(void **state) {
  fixture *f = *state;
  sink s = {0};
  const char *body = "{\"model\":\"mock-slow\",\"user\":\"u-hang\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
  hdrs h = {{"x-mock-fault"}, {"hang"}, 1};
  run_call(f, kl_gw_chat, body, &h, &s);
  assert_int_equal(s.status, 504);
  assert_non_null(strstr(s.body.data, "upstream_timeout"));
  kl_buf_free(&s.body);
}

static void test_abort(void **state) {
  fixture *f = *state;
  sink s = {0};
  char body[256];
  snprintf(body, sizeof body, REQ(",\"stream\":true"), "u-abort");
  hdrs h = {{"x-mock-latency-ms"}, {"5000"}, 1};
  kl_arena *a = kl_arena_new(0);
  kl_gw_call *c = start(f, kl_gw_chat, a, body, &h, &s);
  assert_non_null(c);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_false(s.completed);
  assert_int_equal(kl_gw_worker_active(f->w), 1);
  kl_gw_call_abort(c);
  assert_true(s.completed);
  assert_int_equal(s.completions, 1);
  assert_int_equal(kl_gw_worker_active(f->w), 0);
  kl_arena_free(a);
  cJSON *o = last_observation(f, "u-abort");
  assert_non_null(strstr(kl_json_str(o, "status_message"), "client disconnected"));
  cJSON_Delete(o);
  kl_buf_free(&s.body);
}

static void test_rejections(void **state) {
  fixture *f = *state;
  struct { const char *body; int status; const char *needle; } cases[] = {
      {"{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 404, "model_not_found"},
      {"{\"model\":\"mock\"}", 400, "messages"},
      {"not json", 400, "JSON"},
      {"{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400, "x-keel-metadata"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sink s = {0};
    hdrs h = {{"x-keel-metadata"}, {"[]"}, i == 3 ? 1 : 0};
    run_call(f, kl_gw_chat, cases[i].body, &h, &s);
    assert_int_equal(s.status, cases[i].status);
    assert_non_null(strstr(s.body.data, cases[i].needle));
    kl_buf_free(&s.body);
  }
  assert_int_equal(kl_gw_worker_active(f->w), 0);
}

static void test_models_and_metrics(void **state) {
  fixture *f = *state;
  kl_buf b = KL_BUF_INIT;
  kl_gw_models_json(f->gw, &b);
  cJSON *j = cJSON_Parse(b.data);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 2);
  cJSON_Delete(j);
  kl_buf_reset(&b);
  sink s = {0};
  char body[256];
  snprintf(body, sizeof body, REQ(""), "u-metrics");
  run_call(f, kl_gw_chat, body, NULL, &s);
  kl_buf_free(&s.body);
  kl_metrics_render(kl_gateway_metrics(f->gw), f->store, &b);
  assert_non_null(strstr(b.data, "keel_requests_total{model=\"mock\",status=\"200\"}"));
  assert_non_null(strstr(b.data, "keel_request_duration_seconds_bucket{model=\"mock\",le=\"+Inf\"}"));
  assert_non_null(strstr(b.data, "keel_tokens_total{model=\"mock\",type=\"input\"}"));
  kl_buf_free(&b);
}

/* ---- an upstream that sends a whole stream in one write ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#define BURST_EVENTS 60

/* zebra_at: that event's text starts with "zebra " (a banned word); split: the events go out in
 * three writes ([0, 20), [20, 40), the rest), instead of one: the second 400 ms after the
 * first, the third only if keel has not closed the connection within 10 s (closed_early). */
typedef struct { int lfd, zebra_at; bool split, closed_early; } burst_srv;

/* The text of burst event i: 13-14 bytes, so the 60 events hold ~800 bytes of text. */
static void burst_word(kl_buf *b, int i) { kl_buf_printf(b, "w%d and more ", i); }

/* Accepts one connection, reads the request head and body (Content-Length), answers with
 * BURST_EVENTS content chunks, a finish chunk and [DONE] in a single write (or three), and
 * closes. */
static void *burst_main(void *arg) {
  burst_srv *b = arg;
  int fd = accept(b->lfd, NULL, NULL);
  if (fd < 0) return NULL;
  char req[8192];
  size_t got = 0;
  for (;;) {  /* the head, then Content-Length bytes */
    ssize_t n = recv(fd, req + got, sizeof req - 1 - got, 0);
    if (n <= 0) break;
    got += (size_t)n;
    req[got] = 0;
    char *e = strstr(req, "\r\n\r\n"), *cl = strcasestr(req, "content-length:");
    if (e && cl && got >= (size_t)(e + 4 - req) + strtoul(cl + 15, NULL, 10)) break;
  }
  kl_buf o = KL_BUF_INIT, body = KL_BUF_INIT;
  size_t cut[2] = {0, 0};
  for (int i = 0; i < BURST_EVENTS; i++) {
    if (i == 20 || i == 40) cut[i / 20 - 1] = body.len;
    kl_buf_puts(&body, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                       "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
    if (i == b->zebra_at) kl_buf_puts(&body, "zebra ");
    burst_word(&body, i);
    kl_buf_puts(&body, "\"},\"finish_reason\":null}]}\n\n");
  }
  kl_buf_puts(&body, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\","
                     "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
  kl_buf_printf(&o, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                body.len);
  size_t head = o.len;
  kl_buf_append(&o, body.data, body.len);
  size_t stops[3] = {b->split ? head + cut[0] : o.len, b->split ? head + cut[1] : o.len, o.len};
  size_t off = 0;
  for (int part = 0; part < 3; part++) {
    if (part == 1 && b->split) usleep(400 * 1000);  /* its own read, even on a loaded machine */
    if (part == 2 && b->split) {
      struct pollfd pf = {.fd = fd, .events = POLLIN};
      char c;
      if (poll(&pf, 1, 10000) == 1 && recv(fd, &c, 1, 0) <= 0) {
        b->closed_early = true;
        break;
      }
    }
    while (off < stops[part]) {
      ssize_t w = send(fd, o.data + off, stops[part] - off, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += (size_t)w;
    }
  }
  kl_buf_free(&o);
  kl_buf_free(&body);
  close(fd);
  return NULL;
}

/* A gateway whose model "up" (policy `policy_yaml`, "" for none) streams from a burst server
 * shaped by b; runs one streamed call of `user` to completion.  The caller tears *fs down. */
static void burst_call(void **fs, const char *policy_yaml, const char *user, burst_srv *bp, sink *s) {
  burst_srv b = *bp;
  b.lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(b.lfd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  socklen_t al = sizeof a;
  assert_int_equal(bind(b.lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(b.lfd, 4), 0);
  assert_int_equal(getsockname(b.lfd, (struct sockaddr *)&a, &al), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, burst_main, &b), 0);
  char yaml[512];
  snprintf(yaml, sizeof yaml, "%smodels:\n  - {name: up, provider: openai, model: m, base_url: \"http://127.0.0.1:%d/v1\", "
           "api_key: sk-test-0123456789%s}\n", policy_yaml, ntohs(a.sin_port), *policy_yaml ? ", guardrails: p" : "");
  gw_setup(fs, yaml);
  char body[256];
  snprintf(body, sizeof body, "{\"model\":\"up\",\"stream\":true,\"user\":\"%s\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"go\"}]}", user);
  run_call(*fs, kl_gw_chat, body, NULL, s);
  pthread_join(th, NULL);
  close(b.lfd);
  *bp = b;
  assert_true(s->streamed);
  assert_int_equal(s->status, 200);
}

/* Events that arrive together leave together: one write to the client per upstream read, not
 * one per event (call.c's up_data).  The upstream sends 62 events in one write; the client
 * must get every one of them, in order, in a handful of writes. */
static void test_stream_events_batched_per_read(void **state) {
  (void)state;
  void *fs = NULL;
  sink s = {0};
  burst_call(&fs, "", "u-burst", &(burst_srv){.zebra_at = -1}, &s);
  /* every event, in order, and the end */
  const char *p = s.body.data;
  for (int i = 0; i < BURST_EVENTS; i++) {
    kl_buf w = KL_BUF_INIT;
    kl_buf_putc(&w, '"');
    burst_word(&w, i);
    kl_buf_putc(&w, '"');
    p = strstr(p, w.data);
    if (!p) fail_msg("event %d missing or out of order", i);
    kl_buf_free(&w);
  }
  assert_non_null(strstr(p, "data: [DONE]\n\n"));
  assert_true(s.writes <= 4);  /* one per upstream read; 62 before */
  kl_buf_free(&s.body);
  teardown(&fs);
}

#define ZEBRA_POLICY "guardrails:\n  policies:\n    - {name: p, scanners: [{kind: banned, stage: output, list: [zebra]}]}\n"

/* The same burst through an output rail: the chunks of one loop round are checked in one window
 * (guard_stream.c), not in one per eighth of the hold-back (~40 for this answer), and the
 * client still gets the whole text, in order.  The GUARDRAIL observation counts the windows. */
static void test_stream_rails_one_window_per_round(void **state) {
  (void)state;
  void *fs = NULL;
  sink s = {0};
  burst_call(&fs, ZEBRA_POLICY, "u-burst-railed", &(burst_srv){.zebra_at = -1}, &s);
  kl_buf want = KL_BUF_INIT, got = KL_BUF_INIT;
  for (int i = 0; i < BURST_EVENTS; i++) burst_word(&want, i);
  int releases = 0;
  for (const char *d = s.body.data; (d = strstr(d, "data: {")); d++) {
    cJSON *ev = cJSON_ParseWithLength(d + 6, (size_t)(strstr(d, "\n\n") - d - 6));
    const char *t = kl_json_str(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "choices"), 0), "delta"),
                                "content");
    if (t && *t) {
      kl_buf_puts(&got, t);
      releases++;
    }
    cJSON_Delete(ev);
  }
  assert_string_equal(got.data, want.data);
  /* the finish chunk as the upstream sent it, after the text it released, then the end */
  const char *fin = strstr(s.body.data, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                                        "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
  assert_non_null(fin);
  kl_buf tail = KL_BUF_INIT;
  burst_word(&tail, BURST_EVENTS - 1);
  assert_true(strstr(s.body.data, tail.data) < fin);
  assert_string_equal(fin + strlen(fin) - 14, "data: [DONE]\n\n");
  kl_buf_free(&tail);
  fixture *f = fs;
  kl_store_flush(f->store);
  kl_trace_filter tf = {.user_id = "u-burst-railed", .limit = 1};
  kl_buf out = KL_BUF_INIT, d = KL_BUF_INIT;
  kl_err e = {0};
  assert_int_equal(kl_store_list_traces(f->store, &tf, &out, &e), 0);
  cJSON *l = cJSON_Parse(out.data);
  const char *tid = kl_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(l, "data"), 0), "id");
  assert_non_null(tid);
  assert_int_equal(kl_store_get_trace(f->store, NULL, tid, &d, &e), 0);
  cJSON *t = cJSON_Parse(d.data), *o;
  long windows = -1;
  bool generation = false;
  cJSON_ArrayForEach(o, cJSON_GetObjectItem(t, "observations")) {
    if (!strcmp(kl_json_str(o, "type") ? kl_json_str(o, "type") : "", "GENERATION")) {
      generation = true;
      /* the answer stored as released (kl_gw_guard_stored_output) */
      const char *oj = kl_json_str(o, "output");
      cJSON *out = oj ? cJSON_Parse(oj) : cJSON_Duplicate(cJSON_GetObjectItem(o, "output"), 1);
      assert_string_equal(kl_json_str(out, "content"), want.data);
      assert_string_equal(kl_json_str(out, "role"), "assistant");
      cJSON_Delete(out);
    }
    if (strcmp(kl_json_str(o, "name") ? kl_json_str(o, "name") : "", "guardrail.output")) continue;
    const char *mj = kl_json_str(o, "metadata");
    cJSON *m = mj ? cJSON_Parse(mj) : cJSON_Duplicate(cJSON_GetObjectItem(o, "metadata"), 1);
    windows = (long)kl_json_int(m, "stream_windows", -1);
    assert_true(kl_json_int(m, "stream_windows_us", -1) >= 0);
    cJSON_Delete(m);
  }
  assert_true(generation);
  /* one per upstream read (the burst is one write, so one or two reads) and the final one */
  if (windows < 1 || windows > 4) fail_msg("%ld windows, %d releases", windows, releases);
  assert_true(releases <= windows);
  cJSON_Delete(t);
  cJSON_Delete(l);
  kl_buf_free(&out);
  kl_buf_free(&d);
  kl_buf_free(&want);
  kl_buf_free(&got);
  kl_buf_free(&s.body);
  teardown(&fs);
}

/* A window run at the end of a round that blocks (call.c's check handle ends the call there):
 * the upstream sends 20 events, waits, sends 20 more with a banned word in one of them, then
 * waits for keel to close the connection.  The client gets text of the first part only, then
 * an error event, no [DONE]; keel cancels the upstream call at once, not when more arrives. */
static void test_stream_rails_block_at_round_end(void **state) {
  (void)state;
  void *fs = NULL;
  sink s = {0};
  burst_srv b = {.zebra_at = 30, .split = true};
  burst_call(&fs, ZEBRA_POLICY, "u-burst-block", &b, &s);
  assert_true(b.closed_early);  /* the block ended the call at once, the upstream with it */
  const char *err = strstr(s.body.data, "data: {\"error\"");
  if (!err || !strstr(err, "guardrail_blocked")) fail_msg("no block in %s", s.body.data);
  assert_true(strstr(s.body.data, "zebra") > err);  /* only the error names the rule */
  assert_null(strstr(s.body.data, "[DONE]"));
  assert_null(strstr(s.body.data, "w40 "));
  kl_buf first = KL_BUF_INIT;
  burst_word(&first, 0);
  const char *w0 = strstr(s.body.data, first.data);
  assert_true(w0 && w0 < err);  /* the first part's text went out before the block */
  kl_buf_free(&first);
  kl_buf_free(&s.body);
  teardown(&fs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_plain_answer_traced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_hides_usage_chunk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hang_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_models_and_metrics, setup, teardown),
      cmocka_unit_test(test_stream_events_batched_per_read),
      cmocka_unit_test(test_stream_rails_one_window_per_round),
      cmocka_unit_test(test_stream_rails_block_at_round_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
