/* test_gateway_config.c: the YAML configuration loader (src/gateway/config*.c).
 *
 * Every test starts from a clean environment (the variables the loader reads are unset in
 * setup), so results do not depend on the shell that runs ctest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/kl_config.h"

static const char *const env_vars[] = {"KEEL_ADMIN_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                                       "ANTHROPIC_BASE_URL", "KL_T_A", "KL_T_B", "KL_T_EMPTY"};

static int clean_env(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++) unsetenv(env_vars[i]);
  return 0;
}

static kl_config *parse(const char *yaml, kl_err *err) {
  return kl_config_parse(yaml, strlen(yaml), "keel.yaml", err);
}

/* Parses `yaml`, expects failure with exactly `msg`. */
static void expect_error(const char *yaml, const char *msg) {
  kl_err err;
  kl_config *c = parse(yaml, &err);
  if (c || strcmp(err.msg, msg)) {
    print_error("yaml:\n%s\nwant: %s\ngot:  %s\n", yaml, msg, c ? "(success)" : err.msg);
    kl_config_free(c);
    fail();
  }
  assert_int_equal(err.code, 1);
}

static const char header_example[] =
    "listen: 127.0.0.1:4000          # host:port, [v6]:port, or :port\n"
    "data_dir: ./keel-data\n"
    "admin_key: ${KEEL_ADMIN_KEY}    # also taken from KEEL_ADMIN_KEY when not set here\n"
    "workers: 0                      # event loops; 0 = one per core\n"
    "log_level: info\n"
    "limits: {max_body_bytes: 8388608, max_header_bytes: 65536, header_timeout_ms: 10000,\n"
    "         body_timeout_ms: 30000, idle_timeout_ms: 60000, shutdown_timeout_ms: 30000}\n"
    "trace: {enabled: true, queue_capacity: 65536, batch_max: 512, flush_interval_ms: 50,\n"
    "        capture_content: true, secure_delete: false}\n"
    "mock: {latency_ms: 0, chunk_delay_ms: 0}\n"
    "prices:                         # overrides of the built-in table, USD per 1M tokens\n"
    "  - {model: my-model, input: 0.5, output: 1.5, input_cached: 0.25, input_cache_write: 0.6, "
    "output_reasoning: 1.5}\n"
    "models:\n"
    "  - name: gpt-4o-mini            # the name clients send\n"
    "    provider: openai             # openai | anthropic | mock\n"
    "    model: gpt-4o-mini           # the upstream's model name (default: name)\n"
    "    base_url: https://api.openai.com/v1\n"
    "    api_key: ${OPENAI_API_KEY}\n"
    "    timeout_ms: 60000            # total\n"
    "    connect_timeout_ms: 10000\n"
    "    first_token_timeout_ms: 0    # 0 = none\n"
    "    insecure_tls: false\n"
    "    headers: {X-Extra: value}   # sent upstream\n";

static void test_header_example(void **state) {
  (void)state;
  setenv("KEEL_ADMIN_KEY", "adm-secret", 1);
  setenv("OPENAI_API_KEY", "sk-test", 1);
  kl_err err;
  kl_config *c = parse(header_example, &err);
  if (!c) print_error("%s\n", err.msg);
  assert_non_null(c);
  assert_int_equal(err.code, 0);
  assert_string_equal(c->path, "keel.yaml");
  assert_string_equal(c->listen_host, "127.0.0.1");
  assert_int_equal(c->listen_port, 4000);
  assert_string_equal(c->data_dir, "./keel-data");
  assert_string_equal(c->admin_key, "adm-secret");
  assert_int_equal(c->workers, 0);
  assert_string_equal(c->log_level, "info");
  assert_int_equal(c->max_body_bytes, 8388608);
  assert_int_equal(c->max_header_bytes, 65536);
  assert_int_equal(c->header_timeout_ms, 10000);
  assert_int_equal(c->body_timeout_ms, 30000);
  assert_int_equal(c->idle_timeout_ms, 60000);
  assert_int_equal(c->shutdown_timeout_ms, 30000);
  assert_true(c->trace_enabled);
  assert_true(c->trace_capture_content);
  assert_int_equal(c->trace_queue_capacity, 65536);
  assert_int_equal(c->trace_batch_max, 512);
  assert_int_equal(c->trace_flush_interval_ms, 50);
  assert_false(c->trace_secure_delete);
  assert_int_equal(c->mock_latency_ms, 0);
  assert_int_equal(c->mock_chunk_delay_ms, 0);

  assert_int_equal(c->nprices, 1);
  assert_string_equal(c->prices[0].model, "my-model");
  assert_true(c->prices[0].input == 0.5);
  assert_true(c->prices[0].output == 1.5);
  assert_true(c->prices[0].input_cached == 0.25);
  assert_true(c->prices[0].input_cache_write == 0.6);
  assert_true(c->prices[0].output_reasoning == 1.5);

  assert_int_equal(c->nmodels, 1); /* the file's list replaces the defaults */
  const kl_model_cfg *m = &c->models[0];
  assert_string_equal(m->name, "gpt-4o-mini");
  assert_int_equal(m->provider, KL_PROVIDER_OPENAI);
  assert_string_equal(m->upstream_model, "gpt-4o-mini");
  assert_string_equal(m->base_url, "https://api.openai.com/v1");
  assert_string_equal(m->api_key, "sk-test");
  assert_int_equal(m->timeout_ms, 60000);
  assert_int_equal(m->connect_timeout_ms, 10000);
  assert_int_equal(m->first_token_timeout_ms, 0);
  assert_false(m->insecure_tls);
  assert_int_equal(m->nheaders, 1);
  assert_string_equal(m->headers[0], "X-Extra: value");
  assert_int_equal(m->nforward_headers, 0); /* nothing from the client goes upstream unless listed */
  assert_int_equal(m->line, 14);
  assert_ptr_equal(kl_config_model(c, "gpt-4o-mini"), m);
  assert_null(kl_config_model(c, "gpt-4o"));
  assert_null(kl_config_model(c, "GPT-4O-MINI"));
  kl_config_free(c);
}

static void check_builtin_defaults(const kl_config *c) {
  assert_null(c->path);
  assert_string_equal(c->listen_host, "127.0.0.1");
  assert_int_equal(c->listen_port, 4000);
  assert_string_equal(c->data_dir, "./keel-data");
  assert_null(c->admin_key);
  assert_int_equal(c->workers, 0);
  assert_string_equal(c->log_level, "info");
  assert_int_equal(c->max_body_bytes, 8388608);
  assert_int_equal(c->max_header_bytes, 65536);
  assert_int_equal(c->header_timeout_ms, 10000);
  assert_int_equal(c->body_timeout_ms, 30000);
  assert_int_equal(c->idle_timeout_ms, 60000);
  assert_int_equal(c->shutdown_timeout_ms, 30000);
  assert_true(c->trace_enabled);
  assert_true(c->trace_capture_content);
  assert_int_equal(c->trace_queue_capacity, 65536);
  assert_int_equal(c->trace_batch_max, 2048);
  assert_int_equal(c->trace_flush_interval_ms, 50);
  assert_true(c->trace_secure_delete);
  assert_int_equal(c->mock_latency_ms, 0);
  assert_int_equal(c->mock_chunk_delay_ms, 0);
  assert_int_equal(c->nprices, 0);
  const kl_model_cfg *m = kl_config_model(c, "mock");
  assert_non_null(m);
  assert_ptr_equal(m, &c->models[0]);
  assert_int_equal(m->provider, KL_PROVIDER_MOCK);
  assert_string_equal(m->upstream_model, "mock");
  assert_null(m->base_url);
  assert_null(m->api_key);
  assert_int_equal(m->timeout_ms, 600000);
  assert_int_equal(m->connect_timeout_ms, 10000);
  assert_int_equal(m->first_token_timeout_ms, 0);
  assert_int_equal(m->line, 0);
}

static void test_defaults_plain(void **state) {
  (void)state;
  kl_err err;
  kl_config *c = kl_config_load(NULL, &err);
  assert_non_null(c);
  check_builtin_defaults(c);
  assert_int_equal(c->nmodels, 1);
  kl_config_free(c);

  /* an empty string is "not set" */
  setenv("OPENAI_API_KEY", "", 1);
  c = kl_config_load(NULL, &err);
  assert_non_null(c);
  assert_int_equal(c->nmodels, 1);
  kl_config_free(c);
}

static void test_defaults_openai(void **state) {
  (void)state;
  setenv("OPENAI_API_KEY", "sk-o", 1);
  kl_err err;
  kl_config *c = kl_config_load(NULL, &err);
  assert_non_null(c);
  check_builtin_defaults(c);
  assert_int_equal(c->nmodels, 5);
  const char *names[] = {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"};
  for (int i = 0; i < 4; i++) {
    const kl_model_cfg *m = kl_config_model(c, names[i]);
    assert_non_null(m);
    assert_int_equal(m->provider, KL_PROVIDER_OPENAI);
    assert_string_equal(m->upstream_model, names[i]);
    assert_string_equal(m->base_url, "https://api.openai.com/v1");
    assert_string_equal(m->api_key, "sk-o");
    assert_int_equal(m->line, 0);
  }
  assert_null(kl_config_model(c, "claude-sonnet-4-5"));
  kl_config_free(c);

  setenv("OPENAI_BASE_URL", "http://localhost:9999/v1//", 1);
  c = kl_config_load(NULL, &err);
  assert_non_null(c);
  assert_string_equal(kl_config_model(c, "gpt-4.1")->base_url, "http://localhost:9999/v1");
  kl_config_free(c);

  setenv("OPENAI_BASE_URL", "localhost:9999", 1);
  c = kl_config_load(NULL, &err);
  assert_null(c);
  assert_int_equal(err.code, 1);
  assert_string_equal(err.msg, "OPENAI_BASE_URL: must start with http:// or https://, got 'localhost:9999'");
}

static void test_defaults_anthropic(void **state) {
  (void)state;
  setenv("ANTHROPIC_API_KEY", "sk-a", 1);
  kl_err err;
  kl_config *c = kl_config_load(NULL, &err);
  assert_non_null(c);
  check_builtin_defaults(c);
  assert_int_equal(c->nmodels, 3);
  for (int i = 0; i < 2; i++) {
    const kl_model_cfg *m = kl_config_model(c, i ? "claude-haiku-4-5" : "claude-sonnet-4-5");
    assert_non_null(m);
    assert_int_equal(m->provider, KL_PROVIDER_ANTHROPIC);
    assert_string_equal(m->base_url, "https://api.anthropic.com");
    assert_string_equal(m->api_key, "sk-a");
  }
  assert_null(kl_config_model(c, "gpt-4o"));
  kl_config_free(c);

  setenv("OPENAI_API_KEY", "sk-o", 1);
  setenv("ANTHROPIC_BASE_URL", "https://proxy.example/anthropic/", 1);
  setenv("KEEL_ADMIN_KEY", "k", 1);
  c = kl_config_load(NULL, &err);
  assert_non_null(c);
  assert_int_equal(c->nmodels, 7);
  assert_string_equal(c->admin_key, "k");
  assert_string_equal(kl_config_model(c, "claude-haiku-4-5")->base_url, "https://proxy.example/anthropic");
  assert_string_equal(kl_config_model(c, "gpt-4o")->base_url, "https://api.openai.com/v1");
  kl_config_free(c);
}

/* A file without `models` keeps the default list; with `models` it is replaced. */
static void test_file_models_replace_defaults(void **state) {
  (void)state;
  setenv("OPENAI_API_KEY", "sk-o", 1);
  kl_err err;
  kl_config *c = parse("workers: 3\n", &err);
  assert_non_null(c);
  assert_int_equal(c->workers, 3);
  assert_int_equal(c->nmodels, 5);
  kl_config_free(c);

  c = parse("models:\n  - {name: m, provider: mock}\n", &err);
  assert_non_null(c);
  assert_int_equal(c->nmodels, 1);
  assert_string_equal(c->models[0].name, "m");
  assert_null(c->models[0].base_url);
  assert_int_equal(c->models[0].line, 2);
  kl_config_free(c);

  /* empty input and an empty document are all defaults; path NULL is "<config>" */
  c = kl_config_parse("", 0, NULL, &err);
  assert_non_null(c);
  assert_null(c->path);
  assert_int_equal(c->nmodels, 5);
  assert_int_equal(c->guard_memo_bytes, 4 << 20);
  kl_config_free(c);
  c = parse("---\n# nothing\n", &err);
  assert_non_null(c);
  kl_config_free(c);
  c = kl_config_parse("workers: x", 10, NULL, &err);
  assert_null(c);
  assert_string_equal(err.msg, "<config>:1: workers: expected an integer, got 'x'");
}

static void test_model_defaults_and_fields(void **state) {
  (void)state;
  kl_err err;
  kl_config *c = parse("models:\n"
                       "  - name: a\n"
                       "    provider: openai\n"
                       "  - name: b\n"
                       "    provider: anthropic\n"
                       "    model: claude-x\n"
                       "    base_url: \"http://127.0.0.1:8080///\"\n"
                       "    api_key: ''\n"
                       "    insecure_tls: yes\n"
                       "    first_token_timeout_ms: 5000\n"
                       "    headers:\n"
                       "      X-A: \"1\"\n"
                       "      anthropic-beta: ${KL_T_A:-none}\n"
                       "  - name: c\n"
                       "    provider: mock\n"
                       "    base_url: http://ignored\n"
                       "    forward_headers: [X-Request-Id, \"x-mock-*\", x-k]\n",
                       &err);
  if (!c) print_error("%s\n", err.msg);
  assert_non_null(c);
  assert_int_equal(c->nmodels, 3);
  const kl_model_cfg *a = &c->models[0], *b = &c->models[1], *m = &c->models[2];
  assert_string_equal(a->upstream_model, "a");
  assert_string_equal(a->base_url, "https://api.openai.com/v1");
  assert_null(a->api_key);
  assert_int_equal(a->timeout_ms, 600000);
  assert_int_equal(a->connect_timeout_ms, 10000);
  assert_false(a->insecure_tls);
  assert_int_equal(a->nheaders, 0);
  assert_int_equal(a->line, 2);
  assert_string_equal(b->upstream_model, "claude-x");
  assert_string_equal(b->base_url, "http://127.0.0.1:8080");
  assert_null(b->api_key);
  assert_true(b->insecure_tls);
  assert_int_equal(b->first_token_timeout_ms, 5000);
  assert_int_equal(b->nheaders, 2);
  assert_string_equal(b->headers[0], "X-A: 1");
  assert_string_equal(b->headers[1], "anthropic-beta: none");
  assert_int_equal(b->line, 4);
  assert_null(m->base_url);
  /* lower-cased; "x-k" is a name, not the start of x-keel-* ("x-kee*" is refused below) */
  assert_int_equal(m->nforward_headers, 3);
  assert_string_equal(m->forward_headers[0], "x-request-id");
  assert_string_equal(m->forward_headers[1], "x-mock-*");
  assert_string_equal(m->forward_headers[2], "x-k");
  assert_string_equal(kl_provider_name(a->provider), "openai");
  assert_string_equal(kl_provider_name(b->provider), "anthropic");
  assert_string_equal(kl_provider_name(m->provider), "mock");
  kl_config_free(c);

  c = parse("models: [{name: x, provider: anthropic}, {name: y, provider: openai, base_url: HTTPS://H/P/}]\n", &err);
  assert_non_null(c);
  assert_string_equal(c->models[0].base_url, "https://api.anthropic.com");
  assert_string_equal(c->models[1].base_url, "https://H/P");
  kl_config_free(c);
}

static void test_prices(void **state) {
  (void)state;
  kl_err err;
  kl_config *c = parse("prices:\n"
                       "  - model: a\n"
                       "    input: 3\n"
                       "  - {model: b, output: 0, input_cached: 1e-1}\n",
                       &err);
  assert_non_null(c);
  assert_int_equal(c->nprices, 2);
  assert_true(c->prices[0].input == 3);
  assert_true(c->prices[0].output < 0 && c->prices[0].input_cached < 0 && c->prices[0].input_cache_write < 0 &&
              c->prices[0].output_reasoning < 0);
  assert_true(c->prices[1].input < 0);
  assert_true(c->prices[1].output == 0);
  assert_true(c->prices[1].input_cached == 0.1);
  kl_config_free(c);

  expect_error("prices:\n  - {model: a, input: -1}\n",
               "keel.yaml:2: prices[0].input: expected a non-negative number (USD per 1M tokens), got '-1'");
  expect_error("prices:\n  - {model: a, input: nan}\n",
               "keel.yaml:2: prices[0].input: expected a non-negative number (USD per 1M tokens), got 'nan'");
  expect_error("prices:\n  - {input: 1}\n", "keel.yaml:2: prices[0]: missing 'model'");
  expect_error("prices:\n  - {model: a}\n  - {model: a}\n",
               "keel.yaml:3: prices[1].model: duplicate price entry for 'a'");
  expect_error("prices: {model: a}\n", "keel.yaml:1: prices: expected a sequence, got a mapping");
}

/* a deployment's own `price:` (one mapping or dated versions) and dated `prices:` entries */
static void test_prices_dated_and_per_deployment(void **state) {
  (void)state;
  kl_err err;
  kl_config *c = parse("prices:\n"
                       "  - {model: a, input: 1}\n"
                       "  - {model: a, input: 2, effective_from: 2026-01-01}\n"
                       "models:\n"
                       "  - name: fast\n"
                       "    provider: mock\n"
                       "    price: {input: 2.5, output: 10, input_cached: 1.25}\n"
                       "  - name: slow\n"
                       "    provider: mock\n"
                       "    price:\n"
                       "      - {input: 1, output: 2}\n"
                       "      - {input: 3, output: 4, effective_from: '2026-02-01T12:00:00Z'}\n",
                       &err);
  if (!c) fail_msg("%s", err.msg);
  assert_int_equal(c->nprices, 2);
  assert_true(c->prices[0].effective_from == 0);
  assert_true(c->prices[1].effective_from == 1767225600000000000LL);
  assert_int_equal(c->models[0].nprices, 1);
  assert_null(c->models[0].prices[0].model);
  assert_true(c->models[0].prices[0].input == 2.5 && c->models[0].prices[0].output == 10 &&
              c->models[0].prices[0].input_cached == 1.25 && c->models[0].prices[0].output_reasoning < 0);
  assert_int_equal(c->models[1].nprices, 2);
  assert_true(c->models[1].prices[1].effective_from == 1769947200000000000LL);
  kl_config_free(c);

  expect_error("prices:\n  - {model: a, effective_from: 2026-01-01}\n  - {model: a, effective_from: 2026-01-01}\n",
               "keel.yaml:3: prices[1].model: duplicate price entry for 'a' with the same effective_from");
  expect_error("prices:\n  - {model: a, effective_from: tomorrow}\n",
               "keel.yaml:2: prices[0].effective_from: expected a date (YYYY-MM-DD or RFC 3339), got 'tomorrow'");
  expect_error("models:\n  - name: m\n    provider: mock\n    price: {input: x}\n",
               "keel.yaml:4: models[0].price.input: expected a non-negative number (USD per 1M tokens), got 'x'");
  expect_error("models:\n  - name: m\n    provider: mock\n    price: {model: m, input: 1}\n",
               "keel.yaml:4: unknown key 'model' in models[0].price");
  expect_error("models:\n  - name: m\n    provider: mock\n    price: 3\n",
               "keel.yaml:4: models[0].price: expected a mapping (or a sequence of them), got a scalar");
  expect_error("models:\n  - name: m\n    provider: mock\n    price:\n      - {input: 1}\n      - {input: 2}\n",
               "keel.yaml:6: models[0].price[1]: duplicate price for this deployment (give each an effective_from)");
}

static void test_env_substitution(void **state) {
  (void)state;
  setenv("KL_T_A", "alpha", 1);
  setenv("KL_T_B", "7", 1);
  setenv("KL_T_EMPTY", "", 1);
  kl_err err;
  kl_config *c = parse("data_dir: /x/${KL_T_A}/${KL_T_MISSING}/y${KL_T_A}\n"
                       "workers: ${KL_T_B}\n"
                       "log_level: ${KL_T_MISSING:-debug}\n"
                       "admin_key: a$$b$c$\n"
                       "listen: \":${KL_T_EMPTY:-4321}\"\n"
                       "models:\n"
                       "  - name: ${KL_T_A:-other}\n"
                       "    provider: mock\n"
                       "    api_key: \"${KL_T_MISSING:-}${KL_T_EMPTY}\"\n"
                       "    model: ${KL_T_MISSING:-a b:c-d}\n",
                       &err);
  if (!c) print_error("%s\n", err.msg);
  assert_non_null(c);
  assert_string_equal(c->data_dir, "/x/alpha//yalpha");
  assert_int_equal(c->workers, 7);
  assert_string_equal(c->log_level, "debug");
  assert_string_equal(c->admin_key, "a$b$c$");
  assert_int_equal(c->listen_port, 4321);
  assert_string_equal(c->models[0].name, "alpha");
  assert_null(c->models[0].api_key);
  assert_string_equal(c->models[0].upstream_model, "a b:c-d");
  kl_config_free(c);

  /* admin_key: an empty value means none, even when the environment has one */
  setenv("KEEL_ADMIN_KEY", "from-env", 1);
  c = parse("admin_key: ${KL_T_MISSING}\n", &err);
  assert_non_null(c);
  assert_null(c->admin_key);
  kl_config_free(c);
  c = parse("workers: 1\n", &err);
  assert_non_null(c);
  assert_string_equal(c->admin_key, "from-env");
  kl_config_free(c);

  expect_error("workers: 1\ndata_dir: /a/${KL_T_A\n",
               "keel.yaml:2: data_dir: unterminated '${' (expected '}')");
  expect_error("data_dir: ${1A}\n",
               "keel.yaml:1: data_dir: bad variable reference '${1A}' (expected ${NAME} or ${NAME:-default})");
  expect_error("data_dir: x${}\n",
               "keel.yaml:1: data_dir: bad variable reference '${}' (expected ${NAME} or ${NAME:-default})");
  expect_error("workers: ${KL_T_A}\n", "keel.yaml:1: workers: expected an integer, got 'alpha'");
  setenv("KL_T_B", "a\nb", 1);
  expect_error("\n\ndata_dir: ${KL_T_B}\n", "keel.yaml:3: data_dir: contains a control character");
  /* keys are not substituted */
  expect_error("${KL_T_A}: 1\n", "keel.yaml:1: unknown key '${KL_T_A}'");
}

static void test_error_lines(void **state) {
  (void)state;
  expect_error("listen: :4000\n"
               "workers: 2\n"
               "\n"
               "modles:\n"
               "  - {name: a, provider: mock}\n",
               "keel.yaml:4: unknown key 'modles' (did you mean 'models'?)");
  expect_error("trace:\n  enabled: true\n  batchmax: 5\n",
               "keel.yaml:3: unknown key 'batchmax' in trace (did you mean 'batch_max'?)");
  expect_error("models:\n  - name: a\n    provider: mock\n    nmae: b\n",
               "keel.yaml:4: unknown key 'nmae' in models[0] (did you mean 'name'?)");
  expect_error("zzzzzz: 1\n", "keel.yaml:1: unknown key 'zzzzzz'");
  expect_error("workers: 1\nworkers: 2\n", "keel.yaml:2: duplicate key 'workers' (first on line 1)");
  expect_error("limits:\n  max_body_bytes: abc\n",
               "keel.yaml:2: limits.max_body_bytes: expected an integer, got 'abc'");
  expect_error("limits:\n  max_body_bytes: 8MB\n",
               "keel.yaml:2: limits.max_body_bytes: expected an integer, got '8MB'");
  expect_error("limits:\n  max_body_bytes: -5\n",
               "keel.yaml:2: limits.max_body_bytes: -5 is out of range (1..1099511627776)");
  expect_error("mock: {latency_ms: -1}\n", "keel.yaml:1: mock.latency_ms: -1 is out of range (0..2147483647)");
  expect_error("\nworkers: 99999999999999999999999\n",
               "keel.yaml:2: workers: 99999999999999999999999 is out of range (0..1024)");
  expect_error("limits: {header_timeout_ms: 2147483648}\n",
               "keel.yaml:1: limits.header_timeout_ms: 2147483648 is out of range (1..2147483647)");
  expect_error("workers: 1.5\n", "keel.yaml:1: workers: expected an integer, got '1.5'");
  expect_error("workers:\n", "keel.yaml:1: workers: expected an integer, got ''");
  expect_error("trace:\n  enabled: maybe\n", "keel.yaml:2: trace.enabled: expected true or false, got 'maybe'");
  expect_error("models:\n  - name: a\n    provider: mock\n  - name: b\n    provider: gemini\n",
               "keel.yaml:5: models[1].provider: expected one of openai, anthropic, mock, got 'gemini'");
  expect_error("models:\n  - name: a\n    provider: mock\n  - provider: mock\n", "keel.yaml:4: models[1]: missing 'name'");
  expect_error("models:\n  - name: a\n", "keel.yaml:2: models[0]: missing 'provider' (openai, anthropic or mock)");
  expect_error("models:\n  - name: ''\n    provider: mock\n", "keel.yaml:2: models[0].name: must not be empty");
  expect_error("models:\n  - name: a\n    provider: mock\n  - name: b\n    provider: mock\n  - name: a\n"
               "    provider: openai\n",
               "keel.yaml:6: models[2].name: duplicate model 'a' (first defined on line 2)");
  expect_error("listen: localhost:99999\n",
               "keel.yaml:1: listen: expected host:port, [v6]:port, :port or a port (0-65535), got 'localhost:99999'");
  expect_error("\nlisten: ::1:4000\n", "keel.yaml:2: listen: '::1:4000': IPv6 addresses need brackets, e.g. [::1]:4000");
  expect_error("listen: abc\n",
               "keel.yaml:1: listen: expected host:port, [v6]:port, :port or a port (0-65535), got 'abc'");
  expect_error("models:\n  - name: a\n    provider: openai\n    base_url: ftp://x\n",
               "keel.yaml:4: models[0].base_url: must start with http:// or https://, got 'ftp://x'");
  expect_error("models:\n  - name: a\n    provider: openai\n    base_url: https:///\n",
               "keel.yaml:4: models[0].base_url: not a valid URL: 'https:///'");
  expect_error("limits: [1, 2]\n", "keel.yaml:1: limits: expected a mapping, got a sequence");
  expect_error("models:\n  - [a, b]\n", "keel.yaml:2: models[0]: expected a mapping, got a sequence");
  expect_error("models:\n  name: a\n", "keel.yaml:2: models: expected a sequence of models, got a mapping");
  expect_error("models: []\n", "keel.yaml:1: models: at least one model is required");
  expect_error("workers: [1]\n", "keel.yaml:1: workers: expected a single value, got a sequence");
  expect_error("- a\n- b\n", "keel.yaml:1: expected a mapping of settings at the top level, got a sequence");
  expect_error("log_level: loud\n", "keel.yaml:1: log_level: expected one of debug, info, warn, error, got 'loud'");
  expect_error("data_dir: \"\"\n", "keel.yaml:1: data_dir: must not be empty");
  expect_error("data_dir: \"a\\0b\"\n", "keel.yaml:1: data_dir: contains a NUL byte");
  expect_error("models:\n  - name: a\n    provider: mock\n    headers: {\"Bad Name\": x}\n",
               "keel.yaml:4: models[0].headers: bad header name 'Bad Name'");
  expect_error("models:\n  - name: a\n    provider: mock\n    headers: [x]\n",
               "keel.yaml:4: models[0].headers: expected a mapping of header names to values, got a sequence");
  expect_error("models:\n  - name: a\n    provider: mock\n    headers: {X-A: 1, x-a: 2}\n",
               "keel.yaml:4: models[0].headers: duplicate header 'x-a'");
  expect_error("models:\n  - name: a\n    provider: mock\n    forward_headers: [Authorization]\n",
               "keel.yaml:4: models[0].forward_headers[0]: 'authorization' would forward authorization, which keel "
               "never takes from a client");
  expect_error("models:\n  - name: a\n    provider: mock\n    forward_headers: [x-request-id, \"x-*\"]\n",
               "keel.yaml:4: models[0].forward_headers[1]: 'x-*' would forward x-api-key, which keel never takes "
               "from a client");
  expect_error("models:\n  - name: a\n    provider: mock\n    forward_headers: [\"*\"]\n",
               "keel.yaml:4: models[0].forward_headers[0]: bad header name '*' (a name, or a prefix ending in '*')");
  expect_error("models:\n  - name: a\n    provider: mock\n    forward_headers: [\"x-*-y\"]\n",
               "keel.yaml:4: models[0].forward_headers[0]: bad header name 'x-*-y' (a name, or a prefix ending in '*')");
  expect_error("models:\n  - name: a\n    provider: mock\n    forward_headers: [X-Keel-User]\n",
               "keel.yaml:4: models[0].forward_headers[0]: x-keel-* headers are keel's own and are not forwarded");
  expect_error("models:\n  - name: a\n    provider: mock\n    forward_headers: [\"x-kee*\"]\n",
               "keel.yaml:4: models[0].forward_headers[0]: x-keel-* headers are keel's own and are not forwarded");
  expect_error("models:\n  - name: a\n    provider: mock\n    forward_headers: {a: b}\n",
               "keel.yaml:4: models[0].forward_headers: expected a list, got a mapping");
  expect_error("workers: 1\n---\nworkers: 2\n", "keel.yaml:3: expected a single YAML document, found another one");
}

static void test_yaml_syntax_errors(void **state) {
  (void)state;
  expect_error("workers: 1\nlimits:\n  max_body_bytes: 1\n bad\n",
               "keel.yaml:4: YAML syntax error: did not find expected key (while parsing a block mapping on line 1)");
  expect_error("workers: 1\nmock: {latency_ms: 1\n",
               "keel.yaml:3: YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping on line 2)");
  expect_error("workers: *nope\n", "keel.yaml:1: YAML syntax error: found undefined alias");
  kl_err err;
  kl_config *c = kl_config_parse("workers: 1\n\xff\n", 12, "k.yml", &err);
  assert_null(c);
  assert_string_equal(err.msg, "k.yml:2: invalid input: invalid leading UTF-8 octet");
  /* a recursive alias where a mapping is expected must not loop */
  c = parse("models: &a [*a]\n", &err);
  assert_null(c);
  assert_string_equal(err.msg, "keel.yaml:1: models[0]: expected a mapping, got a sequence");
  /* aliases that are fine */
  c = parse("base: &m {name: a, provider: mock}\n", &err);
  assert_null(c);
  assert_string_equal(err.msg, "keel.yaml:1: unknown key 'base'");
  c = parse("models:\n  - &m {name: a, provider: mock, headers: &h {X-A: b}}\n  - {name: b, provider: mock, "
            "headers: *h}\n",
            &err);
  assert_non_null(c);
  assert_string_equal(c->models[1].headers[0], "X-A: b");
  kl_config_free(c);
}

static void test_listen_variants(void **state) {
  (void)state;
  static const struct {
    const char *yaml, *host;
    int port;
  } cases[] = {
      {"listen: 127.0.0.1:4000\n", "127.0.0.1", 4000},
      {"listen: 0.0.0.0:80\n", "0.0.0.0", 80},
      {"listen: localhost:8080\n", "localhost", 8080},
      {"listen: \"[::1]:4001\"\n", "::1", 4001},
      {"listen: \"[::]:65535\"\n", "::", 65535},
      {"listen: :5000\n", "127.0.0.1", 5000},
      {"listen: 5001\n", "127.0.0.1", 5001},
      {"listen: \"0\"\n", "127.0.0.1", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kl_err err;
    kl_config *c = parse(cases[i].yaml, &err);
    if (!c) print_error("%s: %s\n", cases[i].yaml, err.msg);
    assert_non_null(c);
    assert_string_equal(c->listen_host, cases[i].host);
    assert_int_equal(c->listen_port, cases[i].port);
    kl_config_free(c);
  }
  const char *bad[] = {"listen: \"[::1]\"\n", "listen: \"[]:80\"\n", "listen: \"[1.2.3.4]:80\"\n", "listen: \"host:\"\n",
                       "listen: host:-1\n", "listen: \"a b:80\"\n", "listen: 65536\n", "listen: \"\"\n",
                       "listen: \"[::1]:80x\"\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    kl_err err;
    kl_config *c = parse(bad[i], &err);
    if (c) print_error("accepted: %s\n", bad[i]);
    assert_null(c);
    if (!strstr(err.msg, "keel.yaml:1: listen: ")) print_error("%s -> %s\n", bad[i], err.msg);
    assert_non_null(strstr(err.msg, "keel.yaml:1: listen: "));
  }
}

static void test_loopback(void **state) {
  (void)state;
  assert_true(kl_config_is_loopback("127.0.0.1"));
  assert_true(kl_config_is_loopback("127.1.2.3"));
  assert_true(kl_config_is_loopback("::1"));
  assert_true(kl_config_is_loopback("[::1]"));
  assert_true(kl_config_is_loopback("0:0:0:0:0:0:0:1"));
  assert_true(kl_config_is_loopback("localhost"));
  assert_true(kl_config_is_loopback("LOCALHOST"));
  assert_false(kl_config_is_loopback("0.0.0.0"));
  assert_false(kl_config_is_loopback("::"));
  assert_false(kl_config_is_loopback("10.0.0.1"));
  assert_false(kl_config_is_loopback("128.0.0.1"));
  assert_false(kl_config_is_loopback("127.0.0.1.example.com"));
  assert_false(kl_config_is_loopback("localhost.evil"));
  assert_false(kl_config_is_loopback("example.com"));
  assert_false(kl_config_is_loopback(""));
  assert_false(kl_config_is_loopback(NULL));
}

static void test_load_file(void **state) {
  (void)state;
  kl_err err;
  kl_config *c = kl_config_load("keel.yaml", &err);
  if (access("keel.yaml", F_OK) != 0) {
    assert_null(c);
    assert_string_equal(err.msg, "keel.yaml: cannot read: No such file or directory");
  } else {
    kl_config_free(c);
  }
  c = kl_config_load("/nonexistent/dir/keel.yaml", &err);
  assert_null(c);
  assert_string_equal(err.msg, "/nonexistent/dir/keel.yaml: cannot read: No such file or directory");
  c = kl_config_load("/", &err);
  assert_null(c);
  assert_string_equal(err.msg, "/: cannot read: Is a directory");

  char path[] = "/tmp/keel-cfg-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *yaml = "listen: :4100\nmodels:\n  - {name: m1, provider: mock}\n  - {name: m1, provider: mock}\n";
  assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
  close(fd);
  c = kl_config_load(path, &err);
  assert_null(c);
  char want[256];
  snprintf(want, sizeof want, "%s:4: models[1].name: duplicate model 'm1' (first defined on line 3)", path);
  assert_string_equal(err.msg, want);
  fd = open(path, O_WRONLY | O_TRUNC);
  yaml = "listen: :4100\n";
  assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
  close(fd);
  c = kl_config_load(path, &err);
  assert_non_null(c);
  assert_int_equal(err.code, 0);
  assert_string_equal(c->path, path);
  assert_int_equal(c->listen_port, 4100);
  kl_config_free(c);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_header_example, clean_env),
      cmocka_unit_test_setup(test_defaults_plain, clean_env),
      cmocka_unit_test_setup(test_defaults_openai, clean_env),
      cmocka_unit_test_setup(test_defaults_anthropic, clean_env),
      cmocka_unit_test_setup(test_file_models_replace_defaults, clean_env),
      cmocka_unit_test_setup(test_model_defaults_and_fields, clean_env),
      cmocka_unit_test_setup(test_prices, clean_env),
      cmocka_unit_test_setup(test_prices_dated_and_per_deployment, clean_env),
      cmocka_unit_test_setup(test_env_substitution, clean_env),
      cmocka_unit_test_setup(test_error_lines, clean_env),
      cmocka_unit_test_setup(test_yaml_syntax_errors, clean_env),
      cmocka_unit_test_setup(test_listen_variants, clean_env),
      cmocka_unit_test_setup(test_loopback, clean_env),
      cmocka_unit_test_setup(test_load_file, clean_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
