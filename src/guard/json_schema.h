/* json_schema.h: a JSON Schema validator (prefix guard_schema_) and the json output scanner's
 * helpers (prefix guard_json_), used by json_scan.c and by the gateway (which rejects a request
 * whose response_format schema does not compile with a 400, before calling upstream).
 *
 * A schema is compiled once (per request) into a tree of nodes: keyword values are checked,
 * patterns compiled with PCRE2, $refs resolved; validation then walks the instance and stops
 * at the first error.  See json_schema.c for the supported keywords. */
#ifndef GUARD_JSON_SCHEMA_H
#define GUARD_JSON_SCHEMA_H

#include "base/kl_base.h"

typedef struct guard_schema guard_schema;

/* The first error of a validation. */
typedef struct guard_schema_error {
  const char *keyword;  /* "type", "required", "enum", "additionalProperties", ... (static) */
  char path[256];       /* JSON pointer (RFC 6901) of the failing instance value; "" = root */
  char message[512];    /* human, for re-asking the model: "missing required property \"name\"" */
} guard_schema_error;

/* Compiles a schema (a cJSON object or boolean; deep-copied, need not outlive the result).
 * NULL with err set (code 400, message naming the schema location) when malformed. */
guard_schema *guard_schema_compile(const cJSON *schema, kl_err *err);
/* Parses (UTF-8-checked) and compiles schema text. */
guard_schema *guard_schema_parse(const char *text, size_t len, kl_err *err);
void guard_schema_free(guard_schema *s);
/* Whether instance conforms.  On false, *e (may be NULL) gets the first error. */
bool guard_schema_validate(const guard_schema *s, const cJSON *instance, guard_schema_error *e);

/* ---- the json scanner (json_scan.c) ---- */

/* Nesting limit of outputs, as cJSON's (CJSON_NESTING_LIMIT). */
#define GUARD_JSON_MAX_DEPTH 1000

/* Strict RFC 8259 syntax check of text[0..len) (bytes; UTF-8 is checked separately): the
 * offset of the first error, or (size_t)-1 if the text is one JSON value with optional
 * whitespace around it.  *depth_err (may be NULL) is set when the error is nesting deeper than
 * GUARD_JSON_MAX_DEPTH.  Iterative: any input depth is safe. */
size_t guard_json_syntax(const char *text, size_t len, bool *depth_err);

/* The span of a ```json fenced block wrapping the whole text (whitespace around allowed):
 * true with [*start, *end) the inside; false when the text is not fenced. */
bool guard_json_unfence(const char *text, size_t len, size_t *start, size_t *end);

/* What the json scanner found in an output. */
typedef struct guard_json_verdict {
  bool ok;
  const char *type;     /* "JSON_INVALID" or "JSON_SCHEMA" */
  const char *rule;     /* "syntax", "utf8", "depth", or the schema keyword */
  size_t start, end;    /* the finding's span in text */
  guard_schema_error err;  /* message (and path for JSON_SCHEMA) */
} guard_json_verdict;

/* Checks an output: fence, UTF-8, syntax, then the schema (schema text; NULL: none).
 * A schema that does not compile is ignored (validity only) with a warning: the gateway
 * rejected such requests already.  Returns v->ok. */
bool guard_json_check(const char *text, size_t len, const char *schema, size_t schema_len, guard_json_verdict *v);

/* The message to send back to the model when re-asking, for an output that failed (arena
 * string); NULL when the output is fine. */
const char *guard_json_reask_message(const char *text, size_t len, const char *schema, size_t schema_len,
                                     kl_arena *a);

#endif
