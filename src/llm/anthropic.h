/* anthropic.h: the Anthropic half of the llm layer.  Pure functions over bytes and cJSON trees
 * (no I/O), like kl_llm.h: usage conversion, Messages API request validation, translation
 * between OpenAI chat completions and Anthropic messages (requests, responses, streams, errors).
 *
 *   anthropic_msg.c        usage, request validation, response parsing, error bodies
 *   anthropic_translate.c  requests: OpenAI <-> Anthropic
 *   anthropic_resp.c       non-streamed responses: OpenAI <-> Anthropic
 *   anthropic_stream.c     stream translators (both directions) and the Anthropic stream assembler
 *
 * Translation policy: what cannot be expressed on the other side is a 400 whose message names
 * the field ("<field>: ... cannot be translated to Anthropic"), never a silent drop.  The few
 * fields that are dropped on purpose are listed below with the reason (they carry no meaning
 * for the model's output).  JSON null is treated as "absent" everywhere (SDKs send null).
 *
 * ---- OpenAI request -> Anthropic request (kl_anth_req_from_openai) ----
 *   model                     -> model
 *   system/developer messages -> system, in order, wherever they appear (hoisted: Anthropic has
 *                                one system prompt).  One system message with string content ->
 *                                a string; otherwise an array of text blocks (one per message or
 *                                text part).  Non-text parts -> 400.
 *   user messages             -> user turns; string content stays a string; parts: text -> text
 *                                block, image_url data:<mt>;base64,<d> -> image {source base64},
 *                                http(s) URL -> image {source url}; image_url.detail is ignored
 *                                (Anthropic has no detail levels); input_audio, file, other
 *                                parts, other URL schemes, non-base64 data URLs -> 400.
 *   assistant messages        -> assistant turns: content (string or text parts) -> a text block,
 *                                then tool_calls -> tool_use {id, name, input = parsed arguments};
 *                                arguments "" -> {}; arguments not JSON or not an object -> 400;
 *                                refusal parts, non-null refusal/audio/function_call -> 400.
 *   tool messages             -> tool_result {tool_use_id = tool_call_id, content} in a user turn
 *                                (string stays a string, text parts -> text blocks).
 *   function role, message `name` -> 400.
 *   Consecutive messages landing in the same role (user+tool, assistant+assistant) are merged
 *   into one turn (Anthropic requires alternation); a merged turn's content is a block array.
 *   tools [{type:function, function:{name, description, parameters}}] -> [{name, description,
 *     input_schema}] (parameters absent -> {"type":"object","properties":{}}); non-function tool
 *     types and strict:true -> 400.
 *   tool_choice auto|none|required|{function:{name}} -> {type: auto|none|any|tool(name)};
 *   parallel_tool_calls:false -> tool_choice.disable_parallel_tool_use:true (tool_choice auto
 *     created if absent; not added to none); parallel_tool_calls:true is the default (dropped).
 *   max_completion_tokens, else max_tokens -> max_tokens (positive integer, else 400);
 *     absent -> KL_ANTH_DEFAULT_MAX_TOKENS.
 *   temperature (0..1, else 400: Anthropic's range is narrower than OpenAI's), top_p -> same.
 *   stop (string | [string]) -> stop_sequences [string].  user -> metadata.user_id.  stream -> stream.
 *   service_tier auto -> auto, default -> standard_only, others -> 400.
 *   Accepted only at their default value (identity), 400 otherwise: n (1), logprobs (false),
 *     top_logprobs (0), presence_penalty/frequency_penalty (0), logit_bias ({}),
 *     modalities (["text"]), response_format ({type:text}; json_object and json_schema -> 400:
 *     no forced-tool emulation, the response shape would differ).
 *   Dropped on purpose: stream_options (the caller reads include_usage and passes it to the
 *     stream translator), metadata (keel's trace metadata; Anthropic's metadata is user_id
 *     only), store (OpenAI-side retention).
 *   Every other field (seed, audio, prediction, reasoning_effort, functions, function_call,
 *     web_search_options, verbosity, ...) -> 400 "<field>: not supported ...".
 *
 * ---- Anthropic request -> OpenAI request (kl_anth_req_to_openai) ----
 *   The body is first validated with kl_anth_req_validate.  Then:
 *   system string -> one system message; system blocks -> one system message per text block.
 *   user turns: text -> text part, image base64 -> data: URL image_url, image url -> image_url;
 *     tool_result -> a tool message {tool_call_id, content} emitted BEFORE the rest of the turn
 *     (string content stays; block content -> its text blocks joined with "\n"; images in tool
 *     results -> 400; is_error:true -> content prefixed with KL_ANTH_TOOL_ERROR_PREFIX, since
 *     OpenAI has no error flag); a turn with string content stays a string, otherwise the
 *     remaining blocks become a parts array.
 *   assistant turns: text blocks joined -> content (null when empty and there are tool calls);
 *     tool_use -> tool_calls {id, type:function, function:{name, arguments = input serialised}}.
 *   image source file, document, thinking, redacted_thinking, server-tool and other block
 *     types -> 400.  cache_control anywhere is dropped on purpose (OpenAI caches prompts
 *     automatically; it does not change the output).
 *   tools -> function tools (input_schema -> parameters); server tools (a type other than
 *     "custom") -> 400.  tool_choice auto|any|tool|none -> auto|required|{function}|none,
 *     disable_parallel_tool_use:true -> parallel_tool_calls:false.
 *   max_tokens -> max_completion_tokens (OpenAI's current name; max_tokens is rejected by
 *     reasoning models).  temperature, top_p, stream -> same.  stop_sequences -> stop.
 *   metadata.user_id -> user (other metadata keys -> 400).  service_tier auto -> auto,
 *     standard_only -> default.  thinking {type:disabled} is dropped (the default);
 *     thinking enabled -> 400 (no reliable reasoning_effort equivalent).  top_k -> 400.
 *     Every other field (container, mcp_servers, ...) -> 400.
 *
 * ---- round trips (what the property tests check) ----
 *   OpenAI -> Anthropic -> OpenAI is the identity up to this normalisation of the original:
 *   developer -> system; system messages hoisted to the front, one message per text (string
 *   content); in a run of consecutive user/tool messages, tool messages first, then the user
 *   messages merged into one (string content kept only when the run is that single message,
 *   otherwise a parts array); consecutive assistant messages merged (content joined into a
 *   string, null when empty with tool calls; tool_calls concatenated); tool message text
 *   parts joined with "\n"; arguments re-serialised ("" -> "{}"); max_tokens ->
 *   max_completion_tokens (KL_ANTH_DEFAULT_MAX_TOKENS when absent); stop string -> [string];
 *   parameters absent -> the empty object schema; parallel_tool_calls:false without
 *   tool_choice -> tool_choice "auto"; identity-valued, dropped-on-purpose and null fields removed.
 *   Anthropic -> OpenAI -> Anthropic likewise: a one-block system -> a string; consecutive
 *   same-role turns merged; in user turns tool_result blocks first; assistant text blocks
 *   joined into one leading text block (a string when there is no tool_use); tool_result
 *   block content joined into a string; disable_parallel_tool_use:false removed.
 *
 * ---- responses ----
 *   Anthropic message -> chat.completion: text blocks joined -> content (null with only tool
 *   calls); tool_use -> tool_calls; thinking blocks -> message.reasoning_content (the de-facto
 *   convention of OpenAI-compatible servers); other block types are dropped (requests that
 *   could produce them are rejected above).  stop_reason end_turn|stop_sequence|pause_turn ->
 *   stop, max_tokens|model_context_window_exceeded -> length, tool_use -> tool_calls,
 *   refusal -> content_filter.  usage via the buckets (below).  id, model kept.
 *   chat.completion -> Anthropic message: content -> a text block, message.refusal -> a text
 *   block, tool_calls -> tool_use (arguments not a JSON object -> error 502: the upstream
 *   produced something the client's SDK cannot represent); finish_reason stop -> end_turn,
 *   length -> max_tokens, tool_calls|function_call -> tool_use, content_filter -> refusal.
 *
 * ---- usage ----
 *   Anthropic usage: input_tokens EXCLUDES cache reads and writes, output_tokens includes
 *   thinking.  keel buckets: input = input_tokens, input_cached = cache_read_input_tokens,
 *   input_cache_write = cache_creation_input_tokens, output = output_tokens (Anthropic does not
 *   report reasoning separately).  Written back as Anthropic: output_tokens = output +
 *   output_reasoning.  Written as OpenAI: prompt_tokens = input + cached + cache_write,
 *   completion_tokens = output + reasoning, total_tokens, prompt_tokens_details.cached_tokens,
 *   completion_tokens_details.reasoning_tokens (cache writes have no OpenAI detail field). */
#ifndef KL_ANTHROPIC_H
#define KL_ANTHROPIC_H

#include "llm/kl_llm.h"

#define KL_ANTH_DEFAULT_MAX_TOKENS 4096
#define KL_ANTH_VERSION "2023-06-01"
#define KL_ANTH_TOOL_ERROR_PREFIX "[tool error] "

/* ================= usage ================= */

/* Reads {input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens}.
 * NULL or non-object -> present=false. Negative counts read as 0. */
kl_usage kl_usage_from_anthropic(const cJSON *usage);
/* New cJSON objects (caller owns): Anthropic's usage shape and OpenAI's (see above). */
cJSON *kl_anth_usage_new(const kl_usage *u);
cJSON *kl_anth_openai_usage_new(const kl_usage *u);
/* The same, serialised and appended to out. */
void kl_anth_usage_write(const kl_usage *u, kl_buf *out);
void kl_anth_openai_usage_write(const kl_usage *u, kl_buf *out);

/* ================= requests ================= */

/* The parts of a Messages request keel looks at; `root` is owned by the caller (cJSON_Delete),
 * the other pointers point into it. */
typedef struct kl_anth_req {
  cJSON *root;
  const char *model;
  int64_t max_tokens;
  bool stream;
  const char *user;          /* metadata.user_id or NULL */
  const cJSON *system;       /* string, array or NULL */
  const cJSON *messages;
  const cJSON *tools;        /* array or NULL */
} kl_anth_req;

/* Validates a parsed POST /v1/messages body: model (non-empty string), max_tokens (required
 * positive integer), messages (non-empty array of {role: user|assistant, content: string |
 * [blocks]}; block types text, image {source base64|url|file}, tool_use {id, name, input
 * object} (assistant only), tool_result {tool_use_id, content?: string | [blocks], is_error?}
 * (user only) are checked, other block types need only a string `type`), system (string |
 * [text blocks]), tools ([{name, input_schema object, description?}]; server tools with a
 * non-"custom" type need only a name), tool_choice ({type: auto|any|none|tool(name)}), stream
 * (bool), temperature/top_p/top_k (numbers), stop_sequences ([string]), metadata ({user_id?:
 * string}), thinking ({type}).  Unknown fields are allowed.  0, or -1 with err (400, naming
 * the field). */
int kl_anth_req_validate(const cJSON *root, kl_err *err);
/* Parses + validates; on success fills *out (out->root must be cJSON_Delete'd). */
int kl_anth_req_parse(const char *body, size_t len, kl_anth_req *out, kl_err *err);

/* Translate request trees; return a new tree (caller deletes) or NULL with err (400). */
cJSON *kl_anth_req_from_openai(const cJSON *openai_body, kl_err *err);
cJSON *kl_anth_req_to_openai(const cJSON *anthropic_body, kl_err *err);

/* ================= responses ================= */

/* Parses a non-streamed Anthropic message (for tracing): usage, id, model, finish_reason =
 * stop_reason, output_json = {"role":"assistant","content":[blocks]}.  -1 with err (502)
 * when it is not a message (an {"type":"error"} body included). */
int kl_anth_resp_parse(kl_arena *a, const char *body, size_t len, kl_chat_result *out, kl_err *err);

/* Anthropic message -> chat.completion (`created` is the Unix time to put in it). */
cJSON *kl_anth_resp_to_openai(const cJSON *anthropic_msg, int64_t created, kl_err *err);
/* chat.completion -> Anthropic message (choice 0). */
cJSON *kl_anth_resp_from_openai(const cJSON *chat_completion, kl_err *err);
/* Single stop/finish reason mappings (NULL in, NULL out; unknown -> "stop" / "end_turn"). */
const char *kl_anth_finish_reason(const char *stop_reason);
const char *kl_anth_stop_reason(const char *finish_reason);

/* ================= errors ================= */

/* Anthropic error type for an HTTP status: 400 invalid_request_error, 401 authentication_error,
 * 403 permission_error, 404 not_found_error, 413 request_too_large, 429 rate_limit_error,
 * 529 and 503 overloaded_error, other 4xx invalid_request_error, other 5xx api_error. */
const char *kl_anth_error_type(int status);
/* {"type":"error","error":{"type":..,"message":..}}; type NULL -> from status. */
void kl_anth_error(kl_buf *out, int status, const char *type, const char *message);
/* Rewrites an upstream error body into the other format.  Bodies that are not the expected
 * shape keep their text as the message.  Types: the four shared ones map 1:1;
 * request_too_large -> invalid_request_error (code "request_too_large"); overloaded_error ->
 * api_error (code "overloaded"); api_error -> api_error.  OpenAI -> Anthropic uses the type
 * when it is one of Anthropic's, else the status (kl_anth_error_type). */
void kl_anth_error_to_openai(kl_buf *out, int status, const char *anthropic_body, size_t len);
void kl_anth_error_from_openai(kl_buf *out, int status, const char *openai_body, size_t len);

/* ================= streams ================= */

/* Translators emit zero or more events per input event through this callback (the same shape
 * as kl_sse_cb): event is the SSE event name (NULL for OpenAI chunks, which have none), data
 * the JSON text (NUL-terminated).  kl_anth_emit_sse is a ready-made emitter that appends
 * "event: E\ndata: D\n\n" (no event line when E is NULL) to the kl_buf passed as ud. */
typedef void (*kl_anth_emit_fn)(void *ud, const char *event, const char *data, size_t len);
void kl_anth_emit_sse(void *ud, const char *event, const char *data, size_t len);

/* What one fed event was. */
typedef enum {
  KL_ANTH_EV_OK = 0,    /* understood (may have emitted output) */
  KL_ANTH_EV_IGNORED,   /* ping, unknown event type, or a duplicate after the end: nothing emitted */
  KL_ANTH_EV_END,       /* the stream's last event (message_stop / [DONE]) */
  KL_ANTH_EV_ERROR,     /* an error event (translated into the other format's error event) */
  KL_ANTH_EV_INVALID,   /* data is not a JSON object: nothing emitted */
} kl_anth_ev;

/* Anthropic SSE -> OpenAI chat.completion.chunk.  Emits: a role chunk at message_start; text
 * deltas (thinking deltas as delta.reasoning_content); per tool_use block a chunk with
 * tool_calls[{index i, id, type, function{name, arguments:""}}] then argument deltas; a finish
 * chunk at message_delta; at message_stop a usage chunk (choices: []) when include_usage, then
 * "[DONE]".  An error event becomes {"error":{...}} and ends the stream (no [DONE]).  The type
 * is read from data.type, falling back to the event name.  `created` goes into every chunk. */
typedef struct kl_anth_a2o kl_anth_a2o;
kl_anth_a2o *kl_anth_a2o_new(bool include_usage, int64_t created, kl_anth_emit_fn emit, void *ud);
kl_anth_ev kl_anth_a2o_feed(kl_anth_a2o *s, const char *event, const char *data, size_t len);
/* Usage seen so far (message_start input + message_delta output). */
kl_usage kl_anth_a2o_usage(const kl_anth_a2o *s);
void kl_anth_a2o_free(kl_anth_a2o *s);

/* OpenAI chunks ("data:" payloads, "[DONE]" included) -> Anthropic events: message_start
 * (usage.input_tokens = input_tokens, the caller's estimate or 0) at the first chunk;
 * content_block_start/delta/stop per text run and per tool call (a new tool call index closes
 * the open block; fragments of an already closed call are still sent as deltas at its block
 * index: interleaving upstreams are rare and SDKs accumulate by index); the finish_reason
 * closes the open block; message_delta {stop_reason, usage} and message_stop are sent at
 * [DONE] (usage arrives after the finish chunk) or by kl_anth_o2a_finish.  An error chunk
 * becomes an "error" event and ends the stream.  Non-standard delta.reasoning_content is not
 * forwarded (an Anthropic thinking block needs a signature the upstream cannot provide). */
typedef struct kl_anth_o2a kl_anth_o2a;
kl_anth_o2a *kl_anth_o2a_new(int64_t input_tokens, kl_anth_emit_fn emit, void *ud);
kl_anth_ev kl_anth_o2a_feed(kl_anth_o2a *s, const char *data, size_t len);
/* The upstream closed the stream: sends the final events if a finish_reason was seen and they
 * are not sent yet.  Returns false when the stream was truncated (no finish_reason, no error). */
bool kl_anth_o2a_finish(kl_anth_o2a *s);
kl_usage kl_anth_o2a_usage(const kl_anth_o2a *s);
void kl_anth_o2a_free(kl_anth_o2a *s);

/* Assembles an Anthropic stream into the message a non-streamed call returns (for tracing and
 * tests).  Tolerates ping and unknown events; tool_use input is parsed from the concatenated
 * input_json_delta fragments at result time (kept as the raw string when not valid JSON). */
typedef struct kl_anth_stream kl_anth_stream;
kl_anth_stream *kl_anth_stream_new(void);
kl_anth_ev kl_anth_stream_feed(kl_anth_stream *s, const char *event, const char *data, size_t len);
bool kl_anth_stream_saw_stop(const kl_anth_stream *s);  /* message_stop seen */
/* The full message {id, type, role, model, content, stop_reason, stop_sequence, usage}; caller deletes. */
cJSON *kl_anth_stream_message(const kl_anth_stream *s);
/* As kl_anth_resp_parse's result. */
void kl_anth_stream_result(const kl_anth_stream *s, kl_arena *a, kl_chat_result *out);
void kl_anth_stream_free(kl_anth_stream *s);

#endif
