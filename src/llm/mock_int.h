/* mock_int.h: what the mock endpoints (mock.c: chat completions, mock_anthropic.c: messages,
 * mock_embed.c: embeddings, mock_responses.c: responses) share.  Not public.
 *
 * Every endpoint follows the same recipe, so the parts live here once: read the control
 * headers (mock_ctl_begin), hash the request without its transport options into a seed
 * (mock_seed), derive the answer's words from the seed (mock_sentence: the same generator for
 * every format), collect stream events (mock_chunks) and apply the body faults. The helpers
 * are defined in mock.c (they were its static helpers; chat's behaviour is unchanged). */
#ifndef KL_MOCK_INT_H
#define KL_MOCK_INT_H

#include "llm/kl_llm.h"

/* ---- control headers ---- */

/* An error answer a planner must render in its own wire format. */
typedef struct mock_fault_err {
  int status;
  char msg[160];
  const char *code;  /* OpenAI `code` (rate_limit_exceeded for 429) or NULL */
} mock_fault_err;

/* Integer header in [0, max], else def. */
int64_t mock_header_int(kl_header_fn hdr, void *ud, const char *name, int64_t def, int64_t max);
/* Clears *out and fills status 200, application/json, latency and chunk delay (opts overridden
 * by x-mock-latency-ms / x-mock-chunk-delay-ms), then reads x-mock-fault.  Returns the fault:
 * KL_MOCK_HANG (out->fault set, nothing else to do), KL_MOCK_STATUS (an injected status or an
 * unknown x-mock-fault value, 400: *e says what to answer; render it with mock_error_plan),
 * or OK / RESET / MALFORMED / TRUNCATE to apply while answering. */
kl_mock_fault mock_ctl_begin(kl_header_fn hdr, void *ud, const kl_mock_opts *opts, kl_mock_plan *out,
                             mock_fault_err *e);
/* A KL_MOCK_STATUS plan with `body` (copied); 429 gets x-mock-retry-after (default 1 s). */
void mock_error_plan(kl_arena *a, kl_header_fn hdr, void *ud, kl_mock_plan *out, int status, const char *body,
                     size_t len);
/* A successful non-streamed body, with the body faults applied: reset -> no body (the
 * connection is reset before answering), malformed / truncate -> the first half of it. */
void mock_body_plan(kl_arena *a, kl_mock_plan *out, kl_mock_fault fault, const char *body, size_t len);

/* ---- determinism ---- */

uint64_t mock_fnv1a(const char *s, size_t n);
uint64_t mock_mix(uint64_t *state);  /* splitmix64 step */
/* FNV-1a of the unformatted request without `stream` and `stream_options`. */
uint64_t mock_seed(const cJSON *root);
/* Deterministic fake Unix time of a seed. */
static inline int64_t mock_created(uint64_t h) { return 1700000000 + (int64_t)(h % 100000000); }

/* ---- text ---- */

/* First element of an array or object, else NULL (loops over the wrong type run zero times). */
static inline const cJSON *mock_child(const cJSON *j) {
  return cJSON_IsArray(j) || cJSON_IsObject(j) ? j->child : NULL;
}
size_t mock_utf8_back(const char *s, size_t n);
/* The answer sentence: "Mock answer to: <first words of prompt>." (or "Mock answer using the
 * tool result: ...") plus 3..12 filler words drawn from *rng. */
void mock_sentence(uint64_t *rng, const char *prompt, bool after_tool, kl_buf *out);
/* Cuts `text` to about `limit` tokens (4 bytes each) at a UTF-8 boundary; true if it was cut.
 * limit < 1 means no limit. */
bool mock_limit(kl_buf *text, double limit);
/* Tokens the mock charges for n bytes of text. */
static inline int64_t mock_tokens(size_t n) { return (int64_t)((n + 3) / 4); }
/* A JSON value satisfying (loosely) a JSON schema; mock_schema_object forces an object ({}). */
void mock_schema_value(kl_buf *out, const cJSON *schema, int depth);
void mock_schema_object(kl_buf *out, const cJSON *schema);
/* Splits s into pieces: n > 0 pieces of about equal size, or one per word with n <= 0.
 * Returns the number of pieces; ends[i] is the end offset of piece i (ends holds len+1). */
size_t mock_split(const char *s, size_t len, long n, size_t *ends, size_t max);

/* ---- streams ---- */

typedef struct mock_chunks {
  kl_arena *a;
  const char **v;  /* heap array of arena strings */
  size_t n, cap;
} mock_chunks;

void mock_chunks_push(mock_chunks *c, const char *s, size_t n);
/* Appends "event: NAME\ndata: DATA\n\n". */
void mock_chunks_event(mock_chunks *c, const char *event, const char *data, size_t len);
/* Inserts s (NUL-terminated, copied) before chunk `at`. */
void mock_chunks_insert(mock_chunks *c, size_t at, const char *s);
/* Moves the chunks into a streamed plan (text/event-stream; reset_after set for RESET) and
 * frees the list. */
void mock_chunks_plan(mock_chunks *c, kl_mock_plan *out, kl_mock_fault fault);

#endif
