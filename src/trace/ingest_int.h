/* ingest_int.h: helpers shared by the ingest decoders and mappers (not a public API). */
#ifndef KL_INGEST_INT_H
#define KL_INGEST_INT_H

#include "trace/kl_ingest.h"

#include <cjson/cJSON.h>
#include <stdio.h>

/* ---- decoding: a growable span list and span validation (otlp_common in ingest_util.c) ---- */
typedef struct kl_otlp_spanvec {
  kl_arena *a;
  kl_otlp_span *v;
  size_t n, cap;
  size_t rejected;
  const char *reject_msg;
} kl_otlp_spanvec;

/* Appends a zeroed span and returns it (arena-grown, old storage abandoned: at most 2x). */
kl_otlp_span *kl__otlp_push(kl_otlp_spanvec *sv);
/* Drops the last pushed span, counting it as rejected with msg (only the first is kept). */
void kl__otlp_reject_last(kl_otlp_spanvec *sv, const char *msg);
/* Writes n bytes as lowercase hex into out (2n+1 bytes). */
void kl__hex(const uint8_t *b, size_t n, char *out);
/* Checks a decoded span (ids set, non-zero, times sane); NULL when usable, else why not. */
const char *kl__otlp_span_problem(const kl_otlp_span *sp);
void kl__otlp_finish(kl_otlp_spanvec *sv, kl_otlp_request *out);

/* ---- JSON helpers ---- */
/* RFC 4648 base64 with padding. */
void kl__base64(const uint8_t *b, size_t n, kl_buf *out);
/* cJSON for an OTLP value (int64 beyond 2^53 and non-finite doubles become strings). */
cJSON *kl__otlp_value_cjson(const kl_otlp_value *v, int depth);
/* Sets key in obj, replacing an existing member. */
void kl__json_set(cJSON *obj, const char *key, cJSON *item);
/* A client string that may hold JSON (Langfuse serialises input/output into attributes): the
 * string itself when it parses as JSON, else the string as a JSON string literal. */
const char *kl__json_text(kl_arena *a, const char *s, size_t n);
/* cJSON item printed into the arena (NULL for NULL). */
const char *kl__json_print(kl_arena *a, const cJSON *j);
/* Observation type constant for a name in any case ("generation", "GENERATION"); NULL if none. */
const char *kl__obs_type(const char *name);
/* Level constant (DEBUG|DEFAULT|WARNING|ERROR, any case) or NULL. */
const char *kl__obs_level(const char *name);

/* ---- usage and cost ---- */
/* Langfuse usage maps (usage_details / usageDetails / legacy usage): keys already
 * non-overlapping (input excludes cached).  An OpenAI-shaped map (prompt_tokens) is converted
 * from the OpenAI convention.  Sets the usage fields and F_USAGE; false if no number found.
 * Legacy inputCost/outputCost/totalCost are read as cost when no cost was set. */
bool kl__usage_langfuse(const cJSON *map, kl_ingest_obs *r, kl_arena *a);
/* Buckets from counts where input INCLUDES cached reads and writes and output INCLUDES
 * reasoning (OTel GenAI, OpenInference); negative = not given. */
void kl__usage_inclusive(kl_ingest_obs *r, kl_arena *a, const char *convention, int64_t in, int64_t out,
                         int64_t cache_read, int64_t cache_write, int64_t reasoning);
/* Langfuse cost map {input, output, total, ...}: cost_usd = total or the sum of the parts. */
bool kl__cost_map(const cJSON *map, kl_ingest_obs *r, kl_arena *a);
/* A single total cost. */
void kl__cost_total(kl_ingest_obs *r, kl_arena *a, double total);

/* Copies an id into a kl_obs-sized field; false (untouched) when longer than KL_OBS_ID_MAX. */
bool kl__id_copy(char dst[KL_OBS_ID_MAX + 1], const char *src);

#endif
