/* kl_config.h: keel's configuration: one YAML file, or embedded defaults with no file.
 *
 * Values of the form ${NAME} (anywhere inside a scalar) are replaced by the environment
 * variable NAME (empty when unset; ${NAME:-default} gives a default).  A bad file is an
 * error naming the file, line and problem ("keel.yaml:12: models[1].provider: expected one
 * of openai, anthropic, mock").  Unknown keys are errors too (typos must not pass silently).
 *
 *   listen: 127.0.0.1:4000          # host:port, [v6]:port, or :port
 *   data_dir: ./keel-data
 *   admin_key: ${KEEL_ADMIN_KEY}    # also taken from KEEL_ADMIN_KEY when not set here
 *   workers: 0                      # event loops; 0 = one per core
 *   log_level: info
 *   limits: {max_body_bytes: 8388608, max_header_bytes: 65536, header_timeout_ms: 10000,
 *            body_timeout_ms: 30000, idle_timeout_ms: 60000, shutdown_timeout_ms: 30000}
 *   trace: {enabled: true, queue_capacity: 65536, batch_max: 512, flush_interval_ms: 50,
 *           capture_content: true,
 *           fulltext: false,         # index inputs/outputs for the query API's q= (~50 us per row)
 *           retention_days: 0}       # delete traces older than this; 0 = keep forever
 *   store: {backend: sqlite,         # sqlite (a file in data_dir) | postgres (shared by instances)
 *           url: ${KEEL_PG_URL}}     # postgres: libpq URL/conninfo; with no store section, the
 *                                    # environment's KEEL_STORE_URL selects postgres at that URL
 *   mock: {latency_ms: 0, chunk_delay_ms: 0}
 *   prices:                         # overrides of the built-in table, USD per 1M tokens
 *     - {model: my-model, input: 0.5, output: 1.5, input_cached: 0.25, input_cache_write: 0.6, output_reasoning: 1.5}
 *     - {model: my-model, input: 0.4, output: 1.2, effective_from: 2026-01-01}  # from that date on
 *   models:
 *     - name: gpt-4o-mini            # the name clients send
 *       provider: openai             # openai | anthropic | mock
 *       model: gpt-4o-mini           # the upstream's model name (default: name)
 *       base_url: https://api.openai.com/v1
 *       api_key: ${OPENAI_API_KEY}
 *       timeout_ms: 60000            # total
 *       connect_timeout_ms: 10000
 *       first_token_timeout_ms: 0    # 0 = none
 *       insecure_tls: false
 *       headers: {X-Extra: value}   # sent upstream
 *       price: {input: 2.5, output: 10, effective_from: 2026-01-01}  # this deployment's price
 *                                    # (USD per 1M; a list of such mappings for several dates)
 *       guardrails: strict           # a policy name; "none" turns rails off for this model
 *   guardrails:
 *     default: default               # policy of models without `guardrails:` (default: none);
 *                                    # "default" is built in: input pii (redact), secrets and
 *                                    # injection (block); output pii and secrets
 *     memo_bytes: 4194304            # per event loop: checked texts, not checked again (0: off)
 *     policies:
 *       - name: strict
 *         canary: true               # canary token in the system prompt, blocked in outputs
 *         stream_holdback: 128       # bytes of a stream held back for the output rails
 *         observe_clean: true        # false: only rails with findings, a block or an error
 *                                    # become GUARDRAIL observations
 *         scanners:                  # kinds: see guard/kl_guard.h
 *           - {kind: pii, stage: input, action: redact, types: [EMAIL_ADDRESS, CREDIT_CARD]}
 *           - {kind: secrets, action: block}
 *           - {kind: injection, threshold: 0.5}
 *           - {kind: banned, list: [project falcon]}
 *           - {kind: json, stage: output, action: reask}
 *           - {kind: classifier, stage: during, url: "http://127.0.0.1:9000/classify",
 *              timeout_ms: 300, fail_open: true}
 *   export:                          # keel's own traces to an OTLP/HTTP collector (best effort;
 *     otlp:                          # the store stays the record; see trace/kl_export.h)
 *       endpoint: http://127.0.0.1:4318/v1/traces   # no path: /v1/traces is appended
 *       protocol: http/protobuf      # or http/json
 *       headers: {Authorization: "Basic ${LANGFUSE_AUTH}"}
 *       resource: {deployment.environment.name: prod}  # service.name defaults to keel
 *       capture_content: true        # export prompts/completions (when the trace stores them)
 *       gzip: false
 *       batch_max: 512               # spans per request
 *       flush_interval_ms: 1000      # partial batches are sent this often
 *       queue_capacity: 8192         # full queue: the oldest span is dropped (and counted)
 *       timeout_ms: 10000            # per request
 *       max_attempts: 5              # retries on 429/502/503/504 and connection errors
 *       shutdown_timeout_ms: 5000    # flush deadline at exit
 *       insecure_tls: false
 *
 * Cost precedence (trace/tracer.c): a cost the upstream reports, then the deployment's
 * `price:`, then `prices:` for the public name, then for the upstream model, then the
 * built-in table by upstream model, then by public name.  Of several dated prices the newest
 * whose effective_from is <= the call's start wins; none in effect falls through.
 *
 * Defaults with no file: listen 127.0.0.1:4000, data_dir ./keel-data, the models "mock"
 * (provider mock) and, when OPENAI_API_KEY is set, gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini
 * (provider openai), when ANTHROPIC_API_KEY is set, claude-sonnet-4-5, claude-haiku-4-5
 * (provider anthropic). */
#ifndef KL_CONFIG_H
#define KL_CONFIG_H

#include "base/kl_base.h"
#include "guard/kl_guard.h"

typedef enum { KL_PROVIDER_MOCK = 0, KL_PROVIDER_OPENAI, KL_PROVIDER_ANTHROPIC } kl_provider_type;

typedef struct kl_price_cfg {
  char *model;             /* top-level `prices:` only; NULL in a deployment's `price:` */
  double input, input_cached, input_cache_write, output, output_reasoning; /* USD per 1M; <0 unset */
  int64_t effective_from;  /* unix ns; 0 = always */
} kl_price_cfg;

typedef struct kl_model_cfg {
  char *name;
  kl_provider_type provider;
  char *upstream_model;
  char *base_url;          /* without trailing slash; NULL for mock */
  char *api_key;           /* secret: never logged, traced or shown */
  long timeout_ms;         /* default 600000 */
  long connect_timeout_ms; /* default 10000 */
  long first_token_timeout_ms; /* default 0 = none */
  bool insecure_tls;
  char **headers;          /* "Name: value" */
  size_t nheaders;
  char **forward_headers;  /* client headers passed on upstream: lower-case names, "x-mock-*" a prefix */
  size_t nforward_headers;
  int line;                /* where it was defined (0 = built-in default) */
  kl_price_cfg *prices;    /* the deployment's own `price:` (one, or several dated) */
  size_t nprices;
  char *guardrails;        /* policy name; NULL = guardrails.default; "none" = no rails */
} kl_model_cfg;

/* A guardrails policy: its scanners (strings malloc'd) and how the gateway runs them. */
typedef struct kl_policy_cfg {
  char *name;
  kl_guard_scanner_cfg *scanners;
  size_t nscanners;
  bool canary;             /* add a canary token to the system prompt; block outputs containing it */
  size_t stream_holdback;  /* bytes of streamed text held back for output rails (default 128) */
  bool observe_clean;      /* a rail that found nothing is still a GUARDRAIL observation (default) */
  int line;
} kl_policy_cfg;

/* `export.otlp` (config_export.c); endpoint NULL = no export.  0 = the exporter's default. */
typedef struct kl_export_cfg {
  char *endpoint;
  bool json;               /* protocol http/json (default http/protobuf) */
  bool gzip, capture_content, insecure_tls;
  char **headers;          /* "Name: value" (secrets: scrubbed from traces, wiped on free) */
  size_t nheaders;
  char **resource_keys, **resource_values;
  size_t nresource;
  size_t batch_max, queue_capacity;
  int flush_interval_ms, timeout_ms, max_attempts, shutdown_timeout_ms;
} kl_export_cfg;

typedef struct kl_config {
  char *path;              /* NULL when defaults */
  char *listen_host;
  int listen_port;
  char *data_dir;
  char *admin_key;         /* NULL = none */
  int workers;
  char *log_level;
  size_t max_body_bytes, max_header_bytes;
  int header_timeout_ms, body_timeout_ms, idle_timeout_ms, shutdown_timeout_ms;
  bool trace_enabled, trace_capture_content;
  size_t trace_queue_capacity, trace_batch_max;
  int trace_flush_interval_ms;
  bool trace_fulltext;
  bool trace_secure_delete;
  int trace_retention_days;
  char *store_backend;     /* `store.backend`: "sqlite" (default) | "postgres" */
  char *store_url;         /* `store.url` (postgres); NULL = none */
  int mock_latency_ms, mock_chunk_delay_ms;
  kl_model_cfg *models;
  size_t nmodels;
  kl_price_cfg *prices;
  size_t nprices;
  kl_policy_cfg *policies; /* `guardrails.policies`; the built-in "default" is not listed */
  size_t npolicies;
  char *default_policy;    /* `guardrails.default`: for models without their own; NULL = none */
  size_t guard_memo_bytes; /* `guardrails.memo_bytes`: checked texts each loop remembers; 0 = none */
  kl_export_cfg export_otlp; /* `export.otlp` */
} kl_config;

/* path NULL = embedded defaults (plus the environment).  Returns NULL with err on failure. */
kl_config *kl_config_load(const char *path, kl_err *err);
/* Same, from YAML text (path is only used in messages). */
kl_config *kl_config_parse(const char *yaml, size_t len, const char *path, kl_err *err);
void kl_config_free(kl_config *c);
const kl_model_cfg *kl_config_model(const kl_config *c, const char *name);
bool kl_config_is_loopback(const char *host);
const char *kl_provider_name(kl_provider_type t);

#endif
