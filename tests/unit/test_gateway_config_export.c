/* test_gateway_config_export.c: the `export:` section of keel.yaml (config_export.c) and the
 * gateway starting its OTLP exporter from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_internal.h"
#include "trace/kl_export.h"

static kl_config *parse(const char *yaml, kl_err *err) { return kl_config_parse(yaml, strlen(yaml), "keel.yaml", err); }

static void expect_error(const char *yaml, const char *msg) {
  kl_err err = {0};
  kl_config *c = parse(yaml, &err);
  if (c || !strstr(err.msg, msg)) {
    print_error("yaml:\n%s\nwant: %s\ngot:  %s\n", yaml, msg, c ? "(success)" : err.msg);
    kl_config_free(c);
    fail();
  }
}

static void test_full(void **state) {
  (void)state;
  setenv("KEEL_TEST_LF_AUTH", "cGs6c2s=", 1);
  kl_err err = {0};
  kl_config *c = parse("export:\n"
                       "  otlp:\n"
                       "    endpoint: https://cloud.example.com/api/public/otel/v1/traces/\n"
                       "    protocol: http/json\n"
                       "    headers: {Authorization: 'Basic ${KEEL_TEST_LF_AUTH}', x-tenant: a}\n"
                       "    resource: {service.name: gw, deployment.environment.name: prod}\n"
                       "    capture_content: false\n"
                       "    gzip: true\n"
                       "    batch_max: 100\n"
                       "    flush_interval_ms: 250\n"
                       "    queue_capacity: 1000\n"
                       "    timeout_ms: 3000\n"
                       "    max_attempts: 2\n"
                       "    shutdown_timeout_ms: 1500\n"
                       "    insecure_tls: true\n",
                       &err);
  if (!c) fail_msg("%s", err.msg);
  const kl_export_cfg *x = &c->export_otlp;
  assert_string_equal(x->endpoint, "https://cloud.example.com/api/public/otel/v1/traces");
  assert_true(x->json && x->gzip && x->insecure_tls && !x->capture_content);
  assert_int_equal(x->nheaders, 2);
  assert_string_equal(x->headers[0], "Authorization: Basic cGs6c2s=");
  assert_string_equal(x->headers[1], "x-tenant: a");
  assert_int_equal(x->nresource, 2);
  assert_string_equal(x->resource_keys[0], "service.name");
  assert_string_equal(x->resource_values[1], "prod");
  assert_int_equal(x->batch_max, 100);
  assert_int_equal(x->flush_interval_ms, 250);
  assert_int_equal(x->queue_capacity, 1000);
  assert_int_equal(x->timeout_ms, 3000);
  assert_int_equal(x->max_attempts, 2);
  assert_int_equal(x->shutdown_timeout_ms, 1500);
  kl_config_free(c);
}

static void test_defaults_and_off(void **state) {
  (void)state;
  kl_err err = {0};
  kl_config *c = parse("listen: 127.0.0.1:0\n", &err);
  assert_non_null(c);
  assert_null(c->export_otlp.endpoint); /* no section: no export */
  kl_config_free(c);
  c = parse("export:\n  otlp:\n    endpoint: http://127.0.0.1:4318\n", &err);
  if (!c) fail_msg("%s", err.msg);
  assert_string_equal(c->export_otlp.endpoint, "http://127.0.0.1:4318/v1/traces"); /* bare address */
  assert_false(c->export_otlp.json);
  assert_true(c->export_otlp.capture_content);
  assert_int_equal(c->export_otlp.batch_max, 0); /* the exporter's default */
  kl_config_free(c);
  unsetenv("KEEL_TEST_NO_COLLECTOR");
  c = parse("export:\n  otlp:\n    endpoint: ${KEEL_TEST_NO_COLLECTOR}\n", &err);
  if (!c) fail_msg("%s", err.msg);
  assert_null(c->export_otlp.endpoint); /* an unset variable turns export off */
  kl_config_free(c);
  c = parse("export: {otlp: null}\n", &err);
  assert_non_null(c);
  kl_config_free(c);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("export: [1]\n", "export: expected a mapping");
  expect_error("export: {otpl: {}}\n", "otlp");
  expect_error("export: {otlp: {protocol: http/json}}\n", "missing 'endpoint'");
  expect_error("export: {otlp: {endpoint: 'ftp://x'}}\n", "export.otlp.endpoint: must start with http");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', protocol: grpc}}\n", "grpc is not supported");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', protocol: json}}\n", "expected http/protobuf or http/json");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', batch_max: 0}}\n", "export.otlp.batch_max");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', max_attempts: 1000}}\n", "export.otlp.max_attempts");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', gzipp: true}}\n", "gzipp");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', headers: {'bad name': v}}}\n", "bad name");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', headers: {A: 1, a: 2}}}\n", "duplicate");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', headers: [a]}}\n", "expected a mapping");
  expect_error("export: {otlp: {endpoint: 'http://x:4318', headers: {A: \"x\\ny\"}}}\n", "control character");
}

/* The gateway starts the exporter from the config and hands it to the tracer. */
static void test_gateway_wiring(void **state) {
  (void)state;
  kl_err err = {0};
  kl_config *c = parse("export:\n  otlp:\n    endpoint: http://127.0.0.1:9/v1/traces\n    max_attempts: 1\n"
                       "    shutdown_timeout_ms: 200\n"
                       "models: [{name: mock, provider: mock}]\n",
                       &err);
  if (!c) fail_msg("%s", err.msg);
  kl_gateway *g = kl_gateway_new(c, NULL, &err);
  if (!g) fail_msg("%s", err.msg);
  assert_non_null(g->exporter);
  kl_export_stats s;
  kl_exporter_stats(g->exporter, &s);
  assert_int_equal(s.submitted, 0);
  kl_gateway_free(g);
  kl_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_defaults_and_off),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_gateway_wiring),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
