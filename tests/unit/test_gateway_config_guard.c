/* test_gateway_config_guard.c: the `guardrails:` section of keel.yaml (config_guard.c) and the
 * policies the gateway compiles from it (guard_rails.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_internal.h"

static kl_config *parse(const char *yaml, kl_err *err) {
  return kl_config_parse(yaml, strlen(yaml), "keel.yaml", err);
}

static void expect_error(const char *yaml, const char *msg) {
  kl_err err = {0};
  kl_config *c = parse(yaml, &err);
  if (c || !strstr(err.msg, msg)) {
    print_error("yaml:\n%s\nwant: %s\ngot:  %s\n", yaml, msg, c ? "(success)" : err.msg);
    kl_config_free(c);
    fail();
  }
}

static const char full[] =
    "guardrails:\n"
    "  default: strict\n"
    "  memo_bytes: 65536\n"
    "  policies:\n"
    "    - name: strict\n"
    "      canary: true\n"
    "      stream_holdback: 64\n"
    "      scanners:\n"
    "        - {kind: pii, action: restore, types: [EMAIL_ADDRESS, CREDIT_CARD]}\n"
    "        - {kind: banned, list: [project falcon, 'secret sauce'], name: words}\n"
    "        - {kind: topics, list: ['weapons: rifle, ammo']}\n"
    "        - {kind: token_limit, limit: 1000, action: block}\n"
    "        - {kind: regex, stage: output, list: ['^\\\\{'], must_match: true, action: reask}\n"
    "        - {kind: refusal}\n"
    "        - {kind: classifier, stage: during, url: 'http://127.0.0.1:9/c', timeout_ms: 250, fail_open: true,\n"
    "           threshold: 0.8}\n"
    "    - name: light\n"
    "      observe_clean: false\n"
    "      scanners: [{kind: invisible, action: flag}]\n"
    "models:\n"
    "  - {name: a, provider: mock}\n"
    "  - {name: b, provider: mock, guardrails: light}\n"
    "  - {name: c, provider: mock, guardrails: none}\n"
    "  - {name: d, provider: mock, guardrails: default}\n";

static void test_full(void **state) {
  (void)state;
  kl_err err = {0};
  kl_config *c = parse(full, &err);
  if (!c) fail_msg("%s", err.msg);
  assert_string_equal(c->default_policy, "strict");
  assert_int_equal(c->guard_memo_bytes, 65536);
  assert_int_equal(c->npolicies, 2);
  const kl_policy_cfg *p = &c->policies[0];
  assert_string_equal(p->name, "strict");
  assert_true(p->canary);
  assert_int_equal(p->stream_holdback, 64);
  assert_int_equal(p->nscanners, 7);
  assert_string_equal(p->scanners[0].kind, "pii");
  assert_int_equal(p->scanners[0].action, KL_GUARD_RESTORE);
  assert_int_equal(p->scanners[0].types, (1u << KL_GUARD_EMAIL_ADDRESS) | (1u << KL_GUARD_CREDIT_CARD));
  assert_int_equal(p->scanners[1].nlist, 2);
  assert_string_equal(p->scanners[1].list[1], "secret sauce");
  assert_string_equal(p->scanners[1].name, "words");
  assert_int_equal(p->scanners[3].limit, 1000);
  assert_int_equal(p->scanners[4].stage, KL_GUARD_OUTPUT);
  assert_true(p->scanners[4].must_match);
  assert_int_equal(p->scanners[4].action, KL_GUARD_REASK);
  assert_int_equal(p->scanners[5].stage, KL_GUARD_OUTPUT);  /* refusal: output by default */
  assert_int_equal(p->scanners[6].stage, KL_GUARD_DURING);
  assert_true(p->scanners[6].fail_open);
  assert_int_equal(p->scanners[6].timeout_ms, 250);
  assert_true(p->scanners[6].threshold > 0.79 && p->scanners[6].threshold < 0.81);
  assert_int_equal(c->policies[1].stream_holdback, 128);
  assert_true(p->observe_clean);  /* the default */
  assert_false(c->policies[1].observe_clean);
  assert_null(c->models[0].guardrails);
  assert_string_equal(c->models[1].guardrails, "light");

  /* the gateway compiles the policies and maps the models */
  kl_gateway *g = kl_gateway_new(c, NULL, &err);
  if (!g) fail_msg("%s", err.msg);
  const kl_gw_rails *ra = kl_gw_rails_for(g, &c->models[0]), *rb = kl_gw_rails_for(g, &c->models[1]);
  assert_non_null(ra);
  assert_string_equal(ra->name, "strict");  /* guardrails.default */
  assert_true(ra->canary);
  assert_true(ra->local[KL_GUARD_INPUT] && ra->local[KL_GUARD_OUTPUT]);
  assert_int_equal(ra->n_cls[KL_GUARD_DURING], 1);
  assert_string_equal(rb->name, "light");
  assert_true(ra->observe_clean);
  assert_false(rb->observe_clean);
  assert_true(kl_gw_rails_for(g, &c->models[3])->observe_clean);  /* the built-in policy */
  assert_false(rb->local[KL_GUARD_OUTPUT]);
  assert_null(kl_gw_rails_for(g, &c->models[2]));  /* none */
  assert_string_equal(kl_gw_rails_for(g, &c->models[3])->name, "default");
  kl_gateway_free(g);
  kl_config_free(c);
}

static void test_errors(void **state) {
  (void)state;
  const char *m = "models: [{name: a, provider: mock, guardrails: strict}]\n";
  char y[1024];
#define POL(scanners) (snprintf(y, sizeof y, "guardrails:\n  policies:\n    - name: strict\n      scanners: [%s]\n%s", scanners, m), y)
  expect_error(POL("{kind: piii}"), "keel.yaml:4: guardrails.policies[0].scanners[0].kind: unknown scanner kind 'piii' (did you mean 'pii'?)");
  expect_error(POL("{action: block}"), "scanners[0]: missing 'kind'");
  expect_error(POL("{kind: pii, stage: before}"), "scanners[0].stage: expected input, during or output, got 'before'");
  expect_error(POL("{kind: pii, action: zap}"), "scanners[0].action: expected one of flag, redact");
  expect_error(POL("{kind: pii, action: allow}"), "'allow' is a verdict; use flag");
  expect_error(POL("{kind: pii, threshold: 1.5}"), "threshold: expected a number in (0, 1], got '1.5'");
  expect_error(POL("{kind: pii, types: [EMAIL, PHONE_NUMBER]}"), "types[0]: unknown PII type 'EMAIL'");
  expect_error(POL("{kind: pii, colour: red}"), "colour");
  expect_error(POL("{kind: token_limit, limit: 0}"), "limit");
  expect_error("guardrails:\n  policies:\n    - name: default\n      scanners: [{kind: pii}]\n"
               "models: [{name: a, provider: mock}]\n",
               "guardrails.policies[0].name: 'default' is reserved (built in)");
  expect_error("guardrails:\n  policies:\n    - {name: x, scanners: [{kind: pii}]}\n    - {name: x, scanners: [{kind: pii}]}\n"
               "models: [{name: a, provider: mock}]\n",
               "guardrails.policies[1].name: duplicate policy 'x' (first on line 3)");
  expect_error("models: [{name: a, provider: mock, guardrails: nope}]\n", "keel.yaml:1: models[0].guardrails: no policy named 'nope'");
  expect_error("guardrails: {default: nope}\nmodels: [{name: a, provider: mock}]\n",
               "guardrails.default: no policy named 'nope'");
  expect_error("guardrails: {policies: [{name: x}]}\nmodels: [{name: a, provider: mock}]\n", "scanners: expected a list");
  expect_error("guardrails: [1, 2]\nmodels: [{name: a, provider: mock}]\n", "guardrails: expected a mapping");
  expect_error("guardrails: {memo_bytes: -1}\nmodels: [{name: a, provider: mock}]\n", "guardrails.memo_bytes");
  expect_error("guardrails: {memo_bytes: 2147483648}\nmodels: [{name: a, provider: mock}]\n", "guardrails.memo_bytes");
  expect_error("guardrails: {memo: 1}\nmodels: [{name: a, provider: mock}]\n", "memo");
  expect_error("guardrails: {policies: [{name: x, observe_clean: sometimes, scanners: [{kind: pii}]}]}\n"
               "models: [{name: a, provider: mock}]\n", "guardrails.policies[0].observe_clean");
#undef POL
}

/* What only the guard library can judge fails when the gateway compiles the policy. */
static void test_compile_errors(void **state) {
  (void)state;
  const char *cases[][2] = {
      {"{kind: regex, list: ['(unclosed']}", "regex"},
      {"{kind: classifier, url: 'ftp://x'}", "classifier needs url"},
      {"{kind: canary, stage: input}", "cannot run at stage input"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char y[512];
    snprintf(y, sizeof y, "guardrails:\n  policies:\n    - name: p\n      scanners: [%s]\nmodels: [{name: a, provider: mock, guardrails: p}]\n",
             cases[i][0]);
    kl_err err = {0};
    kl_config *c = parse(y, &err);
    if (!c) fail_msg("%s: %s", cases[i][0], err.msg);
    kl_gateway *g = kl_gateway_new(c, NULL, &err);
    if (g || !strstr(err.msg, cases[i][1])) fail_msg("%s: want '%s', got '%s'", cases[i][0], cases[i][1], g ? "(ok)" : err.msg);
    kl_config_free(c);
  }
}

/* A policy nobody uses is not compiled (start-up stays fast), and models without rails get none. */
static void test_unused_policy(void **state) {
  (void)state;
  kl_err err = {0};
  kl_config *c = parse("guardrails:\n  policies: [{name: p, scanners: [{kind: regex, list: ['a']}]}]\n"
                       "models: [{name: a, provider: mock}]\n", &err);
  assert_non_null(c);
  kl_gateway *g = kl_gateway_new(c, NULL, &err);
  assert_non_null(g);
  assert_null(kl_gw_rails_for(g, &c->models[0]));
  assert_null(g->rails[1].policy);
  kl_gateway_free(g);
  kl_config_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_compile_errors),
      cmocka_unit_test(test_unused_policy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
