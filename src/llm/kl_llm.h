/* kl_llm.h: the llm layer: wire formats, usage and cost.  Pure functions over bytes and
 * cJSON trees; no I/O, no event loop, so everything here is unit-testable and fuzzable.
 *
 *   usage.c   usage normalised into non-overlapping buckets, once, at the boundary
 *   prices.c  the price table (Langfuse's format: regex match patterns, per-bucket prices,
 *             tiers with conditions), embedded in the binary, overridable; cost = buckets x prices
 *   openai.c  OpenAI chat-completions: request validation and rewriting for the upstream,
 *             response parsing, the stream assembler, error bodies
 *   tokenizer.c  tiktoken-exact token counting (o200k_base, cl100k_base) for estimated usage
 *   mock.c    the deterministic mock LLM used by the `mock` provider and `keel mock-upstream` */
#ifndef KL_LLM_H
#define KL_LLM_H

#include "base/kl_base.h"

#include <cjson/cJSON.h>

/* ================= usage ================= */

/* Non-overlapping token buckets.  total input = input + input_cached + input_cache_write;
 * total output = output + output_reasoning. */
typedef struct kl_usage {
  int64_t input;              /* uncached input tokens */
  int64_t input_cached;       /* input read from the provider's cache */
  int64_t input_cache_write;  /* input written to the cache (Anthropic) */
  int64_t output;             /* visible output tokens */
  int64_t output_reasoning;   /* reasoning tokens (billed as output) */
  bool present;               /* the upstream reported usage at all */
  bool estimated;             /* counted by keel, not reported by the upstream */
  /* What the upstream itself said the call cost (OpenRouter / LiteLLM `usage.cost` or
   * `usage.total_cost`, USD).  Only meaningful when cost_reported is set (a zero-initialised
   * kl_usage must not claim a free call); the normalisers set -1 when absent. */
  bool cost_reported;
  double reported_cost;
  /* The provider's convention the buckets were converted from (a static string): "openai"
   * (prompt_tokens includes cached), "anthropic" (input_tokens excludes both cache buckets),
   * "responses" (input_tokens includes cached); NULL when not read from an upstream. */
  const char *convention;
} kl_usage;

/* OpenAI convention: prompt_tokens INCLUDES cached_tokens; completion_tokens INCLUDES
 * reasoning_tokens.  Reads {prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens,
 * completion_tokens_details.reasoning_tokens, cost | total_cost}.  NULL or non-object ->
 * present=false. */
kl_usage kl_usage_from_openai(const cJSON *usage);
/* Responses API convention: {input_tokens (includes input_tokens_details.cached_tokens),
 * output_tokens (includes output_tokens_details.reasoning_tokens), cost | total_cost}. */
kl_usage kl_usage_from_responses(const cJSON *usage);
/* Reads an upstream-reported cost (`cost`, else `total_cost`: a finite number >= 0, USD) from a
 * usage object into u (cost_reported, reported_cost); leaves -1 / false when there is none. */
void kl_usage_read_cost(kl_usage *u, const cJSON *usage);
int64_t kl_usage_input_total(const kl_usage *u);
int64_t kl_usage_output_total(const kl_usage *u);
/* {"input":..,"input_cached":..,"input_cache_write":..,"output":..,"output_reasoning":..,"total":..
 *  [,"convention":".."][,"reported_cost":..]} */
void kl_usage_to_json(const kl_usage *u, kl_buf *out);

/* ================= prices ================= */

typedef struct kl_prices kl_prices;

/* Per-bucket USD prices per token; negative = not priced (falls back as described in prices.c). */
typedef struct kl_price {
  double input, input_cached, input_cache_write, output, output_reasoning;
} kl_price;

/* Loads a Langfuse-format price table (JSON array of models with matchPattern + pricingTiers).
 * A model or a tier may carry "effectiveFrom" / "effective_from" / "startDate" (RFC 3339 or
 * YYYY-MM-DD, UTC): see prices.c for how dated entries are chosen. */
kl_prices *kl_prices_load(const char *json, size_t len, kl_err *err);
/* The table embedded in the binary (data/prices.json). */
kl_prices *kl_prices_load_default(kl_err *err);
void kl_prices_free(kl_prices *p);
/* Adds an override for names equal to `model`, in effect from effective_from_ns (unix ns;
 * 0 = always).  A name may have several; the newest one in effect at the call's time wins;
 * adding the same (name, date) again replaces it. */
void kl_prices_override_at(kl_prices *p, const char *model, int64_t effective_from_ns, const kl_price *price);
/* kl_prices_override_at(p, model, 0, price). */
void kl_prices_override(kl_prices *p, const char *model, const kl_price *price);

/* Where a recorded cost came from (the "source" of the cost JSON). */
typedef enum { KL_COST_NONE = 0, KL_COST_TABLE, KL_COST_CONFIG, KL_COST_UPSTREAM } kl_cost_source;
/* "table", "config", "upstream" ("none" for KL_COST_NONE). */
const char *kl_cost_source_name(kl_cost_source s);

/* Which prices of a kl_prices to consult: overrides first then the table, or only one. */
typedef enum { KL_PRICES_ANY = 0, KL_PRICES_OVERRIDES, KL_PRICES_TABLE } kl_prices_part;

/* Cost in USD of `usage` for `model` at unix time at_ns (the call's start: a price dated
 * after it is not in effect), from `part` of p (tiers chosen from usage and `params`, the
 * request's model parameters object, may be NULL).  Returns -1 when the model has no price in
 * effect.  If cost_json is non-NULL, writes {"input":..,"output":..,...,"total":..,
 * "source":"config"|"table"} (source config = an override).  *src (may be NULL) gets where
 * the price came from.  Thread-safe (the table is immutable after load/override; a per-thread
 * match cache is used). */
double kl_prices_cost_at(const kl_prices *p, kl_prices_part part, const char *model, int64_t at_ns,
                         const kl_usage *usage, const cJSON *params, kl_cost_source *src, kl_buf *cost_json);
/* kl_prices_cost_at(p, KL_PRICES_ANY, model, kl_now_ns(), usage, params, NULL, cost_json). */
double kl_prices_cost(const kl_prices *p, const char *model, const kl_usage *usage,
                      const cJSON *params, kl_buf *cost_json);

/* ================= OpenAI chat completions ================= */

/* The parts of a chat request keel looks at.  `root` is the parsed body, owned by the caller
 * (cJSON_Delete); strings point into it. */
typedef struct kl_chat_req {
  cJSON *root;
  bool owned;                 /* root is cJSON's (malloc'd): kl_chat_req_free deletes it */
  const char *model;
  bool stream;
  bool client_include_usage;  /* the client itself asked for stream_options.include_usage */
  const char *user;           /* body.user */
  const cJSON *metadata;      /* body.metadata (object) or NULL */
  const cJSON *messages;
} kl_chat_req;

/* Parses and validates a /v1/chat/completions body: JSON object, `model` a non-empty string,
 * `messages` a non-empty array of objects each with a valid `role` (system, developer, user,
 * assistant, tool, function), `stream` boolean if present, numbers where numbers belong
 * (temperature, top_p, max_tokens, max_completion_tokens, n).  Unknown fields are kept.
 * On error returns -1 and sets err (code 400, message naming the field; err->msg is
 * suitable for the client).  On success fills *out; release it with kl_chat_req_free.
 * With an arena the tree lives in it (kl_json_parse_arena: no malloc per node) unless the body
 * needs cJSON's slow path (then out->owned); an arena tree must not be changed with cJSON's
 * functions (they would free arena memory): replace strings by pointer instead. */
int kl_chat_req_parse(kl_arena *a, const char *body, size_t len, kl_chat_req *out, kl_err *err);
void kl_chat_req_free(kl_chat_req *r);

/* Serialises the request for the upstream: `model` replaced by upstream_model, and when
 * streaming, stream_options.include_usage forced true (keel needs usage).  Every other field
 * passes through untouched.  Returns a malloc'd string. */
char *kl_chat_req_upstream_body(const kl_chat_req *r, const char *upstream_model, size_t *len);

/* {"temperature":..,"max_tokens":..,"top_p":..,"stream":..,...} of the params that were present. */
void kl_chat_req_params_json(const kl_chat_req *r, kl_buf *out);

/* Result of a complete (non-streamed or assembled) chat response. */
typedef struct kl_chat_result {
  kl_usage usage;
  const char *id;             /* arena-owned or NULL */
  const char *model;          /* the upstream's model field */
  const char *finish_reason;  /* of choice 0 */
  char *output_json;          /* arena-owned: choice 0's message object as JSON (role, content, tool_calls) */
  cJSON *tree;                /* the arena tree it was read from (read-only for cJSON's functions), or NULL
                                 when the body needed cJSON's parser */
} kl_chat_result;

/* Parses a non-streamed chat.completion body.  -1 with err when it is not a valid one. */
int kl_chat_resp_parse(kl_arena *a, const char *body, size_t len, kl_chat_result *out, kl_err *err);

/* Assembles a streamed response from its chunks (the JSON of each `data:` event). */
typedef struct kl_chat_stream kl_chat_stream;
kl_chat_stream *kl_chat_stream_new(void);
void kl_chat_stream_free(kl_chat_stream *s);
typedef enum {
  KL_CHUNK_CONTENT = 0,   /* an ordinary chunk: relay it */
  KL_CHUNK_USAGE_ONLY,    /* empty choices + usage: relay only if the client asked for usage */
  KL_CHUNK_DONE,          /* the "[DONE]" sentinel */
  KL_CHUNK_INVALID,       /* not JSON / not a chunk object */
  KL_CHUNK_ERROR,         /* an {"error":...} object inside the stream */
} kl_chunk_kind;
/* Feeds one event's data.  Records id, model, text deltas, tool_call deltas (merged by index),
 * finish_reason and usage. */
kl_chunk_kind kl_chat_stream_feed(kl_chat_stream *s, const char *data, size_t len);
/* Choice 0 of the last chunk fed (its first choice with index 0, or none), as the feed found
 * it: the choice, its delta, the delta's "content" and the choice's "finish_reason", each NULL
 * when absent (all NULL after "[DONE]" or a chunk that did not parse).  Read-only nodes of the
 * chunk's tree, which may be arena memory (never give them to cJSON_Delete or a cJSON setter),
 * valid until the next feed.  The gateway's stream rails read them instead of parsing again. */
typedef struct kl_chunk_choice { const cJSON *choice, *delta, *content, *finish_reason; } kl_chunk_choice;
const kl_chunk_choice *kl_chat_stream_choice0(const kl_chat_stream *s);
/* Number of content deltas that carried text or tool-call data so far. */
size_t kl_chat_stream_deltas(const kl_chat_stream *s);
bool kl_chat_stream_saw_done(const kl_chat_stream *s);
bool kl_chat_stream_saw_finish(const kl_chat_stream *s);
/* The assembled result so far (output_json is the message {role, content, tool_calls?}). */
void kl_chat_stream_result(kl_chat_stream *s, kl_arena *a, kl_chat_result *out);

/* OpenAI error body {"error":{"message","type","param","code"}}.  type derives from status
 * (400 invalid_request_error, 401 authentication_error, 403 permission_error, 404
 * not_found_error, 408/504 timeout_error, 413 invalid_request_error, 429 rate_limit_error,
 * 5xx api_error / upstream_error) unless given.  param and code may be NULL. */
void kl_openai_error(kl_buf *out, int status, const char *type, const char *message,
                     const char *param, const char *code);

/* ================= tokenizer ================= */

/* Token counting exactly as OpenAI's tiktoken (tokenizer*.c), for when an upstream reports no
 * usage and keel must estimate it.  The rank files are embedded in the binary. */
typedef struct kl_tokenizer kl_tokenizer;

/* "o200k_base" or "cl100k_base".  Built on first use (~tens of ms), then shared, immutable
 * and lock-free to use from any thread; lives until exit (or kl_tokenizer_free_all). */
kl_tokenizer *kl_tokenizer_get(const char *encoding, kl_err *err);
/* Frees the shared tokenizers (for LeakSanitizer-clean tests); none may be in use. */
void kl_tokenizer_free_all(void);
const char *kl_tokenizer_name(const kl_tokenizer *t);
/* The encoding of a model: gpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4* -> o200k_base;
 * other gpt-4*, gpt-3.5*, gpt-35*, text-embedding-* -> cl100k_base; anything else -> o200k_base.
 * A "provider/" prefix and a fine-tune "ft:" prefix are ignored. */
const char *kl_tokenizer_for_model(const char *model);
/* Tokens in text as ordinary text: special tokens ("<|endoftext|>") are not recognised, like
 * tiktoken's encode_ordinary.  Invalid UTF-8 bytes count as U+FFFD each. */
size_t kl_tokenizer_count(const kl_tokenizer *t, const char *text, size_t len);
/* Same, also writing the first min(count, cap) token ids to out (may be NULL); returns count. */
size_t kl_tokenizer_encode(const kl_tokenizer *t, const char *text, size_t len, uint32_t *out, size_t cap);
/* Prompt tokens of a chat `messages` array by OpenAI's published recipe: 3 per message + the
 * tokens of each string value (role, content, name, ...) + 1 per name, + 3 priming the reply;
 * array content counts its text parts, tool_calls their function names and arguments.
 * -1 if messages is not an array. */
int64_t kl_tokenizer_count_chat(const kl_tokenizer *t, const cJSON *messages);

/* ================= the mock LLM ================= */

typedef enum {
  KL_MOCK_OK = 0,
  KL_MOCK_STATUS,      /* answer with plan.status and an error body */
  KL_MOCK_HANG,        /* accept and never answer (until the client gives up) */
  KL_MOCK_RESET,       /* reset the connection: streams after plan.reset_after chunks, else before answering */
  KL_MOCK_MALFORMED,   /* 200 with a body (or a stream chunk) that is not valid JSON */
  KL_MOCK_TRUNCATE,    /* stream stops without the final chunk and [DONE] (clean close) */
} kl_mock_fault;

typedef struct kl_mock_opts {
  int latency_ms;      /* before the first byte; default 0 */
  int chunk_delay_ms;  /* between stream chunks; default 0 */
} kl_mock_opts;

/* What the mock will do for one request.  Arena-owned. */
typedef struct kl_mock_plan {
  kl_mock_fault fault;
  int status;                /* HTTP status */
  int retry_after_s;         /* > 0: send Retry-After */
  int latency_ms;
  int chunk_delay_ms;
  bool stream;
  const char *content_type;
  const char *body;          /* non-streamed body */
  size_t body_len;
  const char **chunks;       /* streamed: each a complete SSE event "data: ...\n\n" */
  size_t nchunks;
  size_t reset_after;        /* KL_MOCK_RESET when streaming: reset after this many chunks */
} kl_mock_plan;

typedef const char *(*kl_header_fn)(void *ud, const char *lower_name);

/* Plans the answer to a /v1/chat/completions request.  Control headers (all optional):
 *   x-mock-fault: status=NNN | 429 | hang | reset | malformed | truncate
 *   x-mock-retry-after: seconds (with 429; default 1)
 *   x-mock-latency-ms, x-mock-chunk-delay-ms: override opts
 *   x-mock-cached-tokens: N   report N of the prompt tokens as cached
 *   x-mock-reasoning-tokens: N  report N reasoning tokens
 *   x-mock-content: TEXT  the answer is exactly TEXT, unless the conversation already holds an
 *                         assistant turn with that text (so a guardrail re-ask gets a normal answer);
 *                         "{system}" in TEXT stands for the system prompt
 *   x-mock-chunks: N          number of content chunks to stream (default: one per word)
 * The answer is derived deterministically from the request (same request, same answer). Tools
 * in the request with tool_choice other than "none", and a last message that is not a tool
 * result, produce a tool call to the first (or the named) tool with arguments built from its
 * JSON schema; response_format json_object/json_schema produces a JSON content string.
 * Usage counts are derived from the text lengths.  A request that is not valid gets a 400
 * plan with an OpenAI error body.  Never fails. */
void kl_mock_chat(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                  const kl_mock_opts *opts, kl_mock_plan *out);
/* GET /v1/models of the mock: a fixed list of model ids. */
void kl_mock_models(kl_arena *a, kl_mock_plan *out);

/* Every mock endpoint plans its answer with this signature, so the in-process `mock`
 * provider and `keel mock-upstream` can play any of them the same way. */
typedef void (*kl_mock_planner)(kl_arena *a, const char *body, size_t len, kl_header_fn hdr,
                                void *hdr_ud, const kl_mock_opts *opts, kl_mock_plan *out);

/* POST /v1/messages (Anthropic Messages API), same control headers as kl_mock_chat plus
 * x-mock-cache-read-tokens / x-mock-cache-write-tokens; errors in Anthropic's format; streams
 * as Anthropic SSE events (each chunk "event: NAME\ndata: {...}\n\n"). */
void kl_mock_messages(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                      const kl_mock_opts *opts, kl_mock_plan *out);
/* POST /v1/embeddings: deterministic, meaningful vectors (texts that share words are close). */
void kl_mock_embeddings(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                        const kl_mock_opts *opts, kl_mock_plan *out);
/* POST /classify: the stand-in for a guardrail classifier server (see mock_classify.c). */
void kl_mock_classify(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                      const kl_mock_opts *opts, kl_mock_plan *out);
/* POST /v1/responses (OpenAI Responses API), streaming included. */
void kl_mock_responses(kl_arena *a, const char *body, size_t len, kl_header_fn hdr, void *hdr_ud,
                       const kl_mock_opts *opts, kl_mock_plan *out);

#endif
