/* upstream_test_cases.h: the scenarios both upstream clients must pass, written once.
 *
 * test_net_upstream.c (libcurl, UPSTREAM_TEST_USE_CURL 1) and test_net_upstream_h1.c (the
 * built-in HTTP/1.1 client, UPSTREAM_TEST_USE_CURL 0) include this after
 * upstream_test_client.h, then add what only their client has (the h1 pool's reuse and retry
 * rules, split responses; curl's POST path) and list the tests for cmocka.  The assertions
 * are the stricter of the two files' old copies: exact header order, the server seeing the
 * socket closed after an abort, a fresh connection's reset not retried; libcurl passes them
 * as the built-in client does.  A call that builds its own kl_upstream_opts sets
 * .use_curl = UPSTREAM_TEST_USE_CURL (start_get and friends do it for the rest). */
#ifndef KL_UPSTREAM_TEST_CASES_H
#define KL_UPSTREAM_TEST_CASES_H

#ifndef UPSTREAM_TEST_USE_CURL
#error "include upstream_test_client.h first"
#endif

static void test_content_length(void **st) {
  (void)st;
  res r = {0};
  start_get("/cl", &r, NULL);
  assert_int_equal(r.dones + r.responses, 0); /* nothing fires inside start */
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.err, "");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.data_before_response, 0);
  assert_string_equal(r.body.data, "hello");
  /* names lower-cased, values trimmed, empty value kept, in the order sent */
  assert_string_equal(r.hdrs, "content-type=text/plain;x-foo=bar;x-empty=;content-length=5;");
  assert_int_equal(kl_upstream_active(F.u), 0);
  run_until(never, NULL, 50);
  assert_int_equal(r.dones, 1);
  res_free(&r);
}

static void test_chunked_streams_as_it_arrives(void **st) {
  (void)st;
  res r = {.notify_server = true};
  start_get("/chunked", &r, NULL);
  assert_true(run_until(done1, &r, 15000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.body.data, "part0part1part2");
  assert_true(r.datas >= 3); /* relayed piecewise, not buffered to the end */
  pthread_mutex_lock(&F.s->mu);
  bool gave_up = F.s->wait_timed_out;
  pthread_mutex_unlock(&F.s->mu);
  assert_false(gave_up);
  assert_int_equal(r.responses, 1); /* the trailer did not fire a second on_response */
  assert_null(strstr(r.hdrs, "x-trailer"));
  res_free(&r);
}

static void test_interim_response_skipped(void **st) {
  (void)st;
  res r = {0};
  start_get("/interim", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.hdrs, "x-final=1;content-length=2;");
  assert_string_equal(r.body.data, "ok");
  res_free(&r);
}

static void test_500_is_ok(void **st) {
  (void)st;
  res r = {0};
  start_get("/500", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_int_equal(r.status, 500);
  assert_string_equal(r.body.data, "it broke!");
  res_free(&r);
}

static void test_close_mid_body_is_reset(void **st) {
  (void)st;
  res r = {0}, r2 = {0}, r3 = {0};
  start_get("/close-mid", &r, NULL);
  start_get("/chunk-trunc", &r2, NULL);
  start_get("/drop", &r3, NULL); /* a fresh connection closed before any byte: no retry */
  assert_true(run_until(done1, &r, 10000));
  assert_true(run_until(done1, &r2, 10000));
  assert_true(run_until(done1, &r3, 10000));
  assert_int_equal(r.st, KL_UP_RESET);
  assert_string_equal(r.body.data, "0123456789");
  assert_true(strlen(r.err) > 0);
  assert_int_equal(r2.st, KL_UP_RESET);
  assert_string_equal(r2.body.data, "hello");
  assert_int_equal(r3.st, KL_UP_RESET);
  assert_int_equal(r3.responses, 0);
  assert_int_equal(srv_get(F.s, &F.s->accepts), 3);
  res_free(&r);
  res_free(&r2);
  res_free(&r3);
}

static void test_first_byte_timeout(void **st) {
  (void)st;
  res r = {0}, r2 = {0};
  kl_upstream_opts o = {.first_byte_timeout_ms = 200, .total_timeout_ms = 20000};
  start_get("/hang", &r, &o);
  start_get("/hang-headers", &r2, &o); /* headers but no body byte */
  assert_true(run_until(done1, &r, 10000));
  assert_true(run_until(done1, &r2, 10000));
  assert_int_equal(r.st, KL_UP_TTFB_TIMEOUT);
  assert_non_null(strstr(r.err, "200 ms"));
  assert_int_equal(r.responses, 0);
  assert_int_equal(r2.st, KL_UP_TTFB_TIMEOUT);
  assert_int_equal(r2.responses, 1);
  assert_int_equal(kl_upstream_active(F.u), 0);
  int two = 2;
  assert_true(run_until(server_saw_close, &two, 10000));
  res_free(&r);
  res_free(&r2);
}

static void test_first_byte_timeout_stops_at_first_byte(void **st) {
  (void)st;
  res r = {0};
  kl_upstream_opts o = {.first_byte_timeout_ms = 150};
  start_get("/pause", &r, &o);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_OK);
  assert_string_equal(r.body.data, "ab");
  res_free(&r);
}

static void test_total_timeout(void **st) {
  (void)st;
  res r = {0};
  kl_upstream_opts o = {.total_timeout_ms = 300};
  start_get("/hang", &r, &o);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_TIMEOUT); /* connected, so not KL_UP_CONNECT */
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  res_free(&r);
}

static void test_connection_refused(void **st) {
  (void)st;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &al);
  close(fd); /* bound, never listened, now closed: nothing listens on that port */
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
  res r = {0};
  kl_upstream_opts o = {.method = "GET", .url = url, .use_curl = UPSTREAM_TEST_USE_CURL};
  kl_err err = {0, ""};
  assert_non_null(kl_upstream_start(F.u, &o, &CBS, &r, &err));
  assert_int_equal(r.dones, 0);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_CONNECT);
  assert_int_equal(r.responses, 0);
  assert_true(strlen(r.err) > 0);
  res_free(&r);

  /* An unresolvable name is a connect failure too. */
  res r2 = {0};
  kl_upstream_opts o2 = {.method = "GET", .url = "http://no-such-host.invalid:80/x", .use_curl = UPSTREAM_TEST_USE_CURL};
  assert_non_null(kl_upstream_start(F.u, &o2, &CBS, &r2, &err));
  assert_true(run_until(done1, &r2, 20000));
  assert_int_equal(r2.st, KL_UP_CONNECT);
  res_free(&r2);

  kl_upstream_opts bad = {.method = "GET", .use_curl = UPSTREAM_TEST_USE_CURL};
  assert_null(kl_upstream_start(F.u, &bad, &CBS, &r, &err));
  assert_false(kl_err_ok(&err));
}

static void test_connection_reuse(void **st) {
  (void)st;
  for (int i = 0; i < 3; i++) {
    res r = {0};
    start_get(i == 1 ? "/500" : "/cl", &r, NULL);
    assert_true(run_until(done1, &r, 10000));
    assert_int_equal(r.st, KL_UP_OK);
    res_free(&r);
  }
  assert_int_equal(srv_get(F.s, &F.s->requests), 3);
  assert_int_equal(srv_get(F.s, &F.s->accepts), 1);
}

static void test_cancel_inside_on_data(void **st) {
  (void)st;
  res r = {.cancel_in_data = true};
  start_get("/slow", &r, NULL);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000)); /* the aborted transfer's socket closed */
  assert_int_equal(kl_upstream_active(F.u), 0);
  run_until(never, NULL, 50);
  assert_int_equal(r.datas, 1);
  assert_int_equal(r.dones, 0);
  res_free(&r);
}

static void test_cancel_inside_on_response(void **st) {
  (void)st;
  res r = {.cancel_in_response = true};
  start_get("/slow", &r, NULL);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  run_until(never, NULL, 50);
  assert_int_equal(r.responses, 1);
  assert_int_equal(r.datas, 0);
  assert_int_equal(r.dones, 0);
  assert_int_equal(kl_upstream_active(F.u), 0);
  res_free(&r);
}

static void test_cancel_outside_callbacks(void **st) {
  (void)st;
  res r = {0}, r2 = {0};
  kl_upstream_call *c = start_get("/hang", &r, NULL);
  run_until(never, NULL, 50);
  kl_upstream_cancel(c);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  /* cancelled right after start, before it connected */
  kl_upstream_cancel(start_get("/cl", &r2, NULL));
  run_until(never, NULL, 50);
  assert_int_equal(r.dones + r2.dones, 0);
  assert_int_equal(kl_upstream_active(F.u), 0);
  kl_upstream_cancel(NULL);
  res_free(&r);
  res_free(&r2);
}

static void test_on_data_abort(void **st) {
  (void)st;
  res r = {.abort_in_data = 1};
  start_get("/slow", &r, NULL);
  assert_true(run_until(done1, &r, 10000));
  assert_int_equal(r.st, KL_UP_ERROR);
  assert_int_equal(r.datas, 1);
  assert_non_null(strstr(r.err, "on_data"));
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  res_free(&r);
}

static void test_cancel_from_other_on_done(void **st) {
  (void)st;
  res hang = {0}, fast = {0};
  kl_upstream_call *h = start_get("/hang", &hang, NULL);
  fast.cancel_on_done = h;
  start_get("/cl", &fast, NULL);
  assert_true(run_until(done1, &fast, 10000));
  assert_int_equal(fast.st, KL_UP_OK);
  assert_int_equal(kl_upstream_active(F.u), 0);
  int one = 1;
  assert_true(run_until(server_saw_close, &one, 10000));
  assert_int_equal(hang.dones, 0);
  res_free(&hang);
  res_free(&fast);
}

static void test_start_inside_on_data(void **st) {
  (void)st;
  res a = {0}, b = {0};
  a.start_in_data = &b;
  start_get("/cl", &a, NULL);
  assert_true(run_until(done1, &b, 10000));
  assert_true(run_until(done1, &a, 10000));
  assert_int_equal(a.st, KL_UP_OK);
  assert_int_equal(b.st, KL_UP_OK);
  assert_string_equal(b.body.data, "hello");
  res_free(&a);
  res_free(&b);
}

static void test_start_and_free_inside_on_done(void **st) {
  (void)st;
  res a = {0}, b = {0}, hang = {0};
  a.start_in_done = &b;  /* a fails, b is the "retry" started from a's on_done */
  b.free_in_done = true; /* and b tears the client down with a call still in flight */
  start_get("/hang", &hang, NULL);
  kl_upstream_opts o = {.first_byte_timeout_ms = 50};
  start_get("/hang", &a, &o);
  assert_true(run_until(done1, &b, 10000));
  assert_int_equal(a.st, KL_UP_TTFB_TIMEOUT);
  assert_int_equal(b.st, KL_UP_OK);
  assert_string_equal(b.body.data, "hello");
  assert_null(F.u);
  int two = 2;
  assert_true(run_until(server_saw_close, &two, 10000));
  assert_int_equal(hang.dones, 0);
  assert_int_equal(a.dones, 1);
  assert_int_equal(b.dones, 1);
  res_free(&a);
  res_free(&b);
  res_free(&hang);
}

static void test_free_with_calls_in_flight(void **st) {
  (void)st;
  res r[4] = {{0}};
  for (int i = 0; i < 3; i++) start_get(i == 2 ? "/slow" : "/hang", &r[i], NULL);
  int three = 3;
  run_until(never, NULL, 100);
  start_host("localhost", "/hang", &r[3], (kl_upstream_opts){.method = "GET"}); /* maybe resolving */
  kl_upstream_free(F.u);
  F.u = NULL;
  assert_true(run_until(server_saw_close, &three, 10000));
  for (int i = 0; i < 4; i++) {
    assert_int_equal(r[i].dones, 0);
    res_free(&r[i]);
  }
}

static void test_free_inside_on_data(void **st) {
  (void)st;
  res a = {.free_in_data = true}, b = {0};
  start_get("/hang", &b, NULL);
  start_get("/slow", &a, NULL);
  int two = 2;
  assert_true(run_until(server_saw_close, &two, 10000));
  assert_null(F.u);
  assert_int_equal(a.datas, 1);
  assert_int_equal(a.dones + b.dones, 0);
  res_free(&a);
  res_free(&b);
}

#define NCONC 100
static void test_many_concurrent(void **st) {
  (void)st;
  static res r[NCONC];
  static char bodies[NCONC][32];
  memset(r, 0, sizeof r);
  for (int i = 0; i < NCONC; i++) {
    snprintf(bodies[i], sizeof bodies[i], "body-%d", i);
    kl_upstream_opts o = {.method = "POST", .body = bodies[i], .body_len = strlen(bodies[i])};
    start_opts("/echo", &r[i], o);
  }
  assert_int_equal(kl_upstream_active(F.u), NCONC);
  for (int i = 0; i < NCONC; i++) {
    assert_true(run_until(done1, &r[i], 30000));
    assert_int_equal(r[i].st, KL_UP_OK);
    assert_int_equal(r[i].dones, 1);
    assert_string_equal(r[i].body.data, bodies[i]);
  }
  assert_int_equal(kl_upstream_active(F.u), 0);
  assert_int_equal(srv_get(F.s, &F.s->requests), NCONC);
  assert_int_equal(srv_get(F.s, &F.s->accepts), NCONC); /* all started at once: no idle one yet */
  /* A second wave runs entirely on the pooled connections. */
  for (int i = 0; i < NCONC; i++) {
    res_free(&r[i]);
    memset(&r[i], 0, sizeof r[i]);
    kl_upstream_opts o = {.method = "POST", .body = bodies[i], .body_len = strlen(bodies[i])};
    start_opts("/echo", &r[i], o);
  }
  for (int i = 0; i < NCONC; i++) {
    assert_true(run_until(done1, &r[i], 30000));
    assert_int_equal(r[i].st, KL_UP_OK);
    assert_string_equal(r[i].body.data, bodies[i]);
    res_free(&r[i]);
  }
  assert_int_equal(srv_get(F.s, &F.s->requests), 2 * NCONC);
  assert_int_equal(srv_get(F.s, &F.s->accepts), NCONC);
}

#endif
