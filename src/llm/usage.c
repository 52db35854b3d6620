/* usage.c: token usage normalised into non-overlapping buckets.
 *
 * Providers disagree on whether "input" includes cache reads (OpenAI: yes, Anthropic: no) and
 * whether "output" includes reasoning (OpenAI: yes).  Double counting either is the classic
 * cost bug, so keel converts exactly once, here at the boundary, into buckets that never
 * overlap; every consumer (prices, traces, OTel export) adds buckets instead of subtracting.
 * Integers are read with kl_json_int because cJSON's valueint saturates at INT_MAX.
 *
 * The convention a usage object came in is recorded with the buckets (and stored with the
 * observation), so a surprising count can be traced back to how the provider reported it.
 * A cost the upstream reports itself (OpenRouter, LiteLLM) is kept beside the buckets: it
 * knows discounts and surcharges no price table does, so the tracer prefers it. */
#include "llm/kl_llm.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

static int64_t nonneg(int64_t v) { return v < 0 ? 0 : v; }

/* The first of cost / total_cost that is a finite non-negative number (either may be NULL). */
static void take_cost(kl_usage *u, const cJSON *cost, const cJSON *total_cost) {
  const cJSON *v[2] = {cost, total_cost};
  for (size_t i = 0; i < 2; i++) {
    if (cJSON_IsNumber(v[i]) && isfinite(v[i]->valuedouble) && v[i]->valuedouble >= 0) {
      u->cost_reported = true;
      u->reported_cost = v[i]->valuedouble;
      return;
    }
  }
}

void kl_usage_read_cost(kl_usage *u, const cJSON *usage) {
  static const char *const keys[] = {"cost", "total_cost"};
  const cJSON *f[2];
  kl_json_fields(usage, keys, 2, f);
  take_cost(u, f[0], f[1]);
}

/* Both conventions: the totals, their details objects and the cost, in one walk over usage
 * (names[0..3]: input total, output total, input details, output details). */
static kl_usage read_usage(const cJSON *usage, const char *convention, const char *const names[4], bool cap) {
  kl_usage u = {.reported_cost = -1};
  if (!cJSON_IsObject(usage)) return u;
  u.present = true;
  u.convention = convention;
  const char *const keys[] = {names[0], names[1], names[2], names[3], "cost", "total_cost"};
  const cJSON *f[6];
  kl_json_fields(usage, keys, 6, f);
  take_cost(&u, f[4], f[5]);
  int64_t in = nonneg(kl_json_int_of(f[0], 0)), out = nonneg(kl_json_int_of(f[1], 0));
  int64_t cached = cJSON_IsObject(f[2]) ? nonneg(kl_json_int(f[2], "cached_tokens", 0)) : 0;
  int64_t reasoning = cJSON_IsObject(f[3]) ? nonneg(kl_json_int(f[3], "reasoning_tokens", 0)) : 0;
  if (cap) {
    /* Responses: a detail larger than its total caps at the total */
    if (cached > in) cached = in;
    if (reasoning > out) reasoning = out;
  }
  /* OpenAI chat: an upstream reporting more cached than prompt tokens is wrong about one of
   * them; trust the detail (it is what the discount applies to) and never go negative. */
  u.input = nonneg(in - cached);
  u.input_cached = cached;
  u.output = nonneg(out - reasoning);
  u.output_reasoning = reasoning;
  return u;
}

kl_usage kl_usage_from_openai(const cJSON *usage) {
  static const char *const names[4] = {"prompt_tokens", "completion_tokens", "prompt_tokens_details",
                                       "completion_tokens_details"};
  return read_usage(usage, "openai", names, false);
}

kl_usage kl_usage_from_responses(const cJSON *usage) {
  static const char *const names[4] = {"input_tokens", "output_tokens", "input_tokens_details",
                                       "output_tokens_details"};
  return read_usage(usage, "responses", names, true);
}

int64_t kl_usage_input_total(const kl_usage *u) {
  return u ? u->input + u->input_cached + u->input_cache_write : 0;
}

int64_t kl_usage_output_total(const kl_usage *u) {
  return u ? u->output + u->output_reasoning : 0;
}

/* Appends s (a literal) at out + n; returns the new length. */
static inline size_t put_lit(char *out, size_t n, const char *s, size_t len) {
  memcpy(out + n, s, len);
  return n + len;
}
#define PUT(lit) n = put_lit(tmp, n, lit, sizeof lit - 1)

/* Appends v's decimal digits ("%" PRId64) at out + n; returns the new length. */
static inline size_t put_i64(char *out, size_t n, int64_t v) {
  char t[24], *p = kl_i64_digits(t + sizeof t, v);
  size_t len = (size_t)(t + sizeof t - p);
  memcpy(out + n, p, len);
  return n + len;
}

/* A name made of printable ASCII needing no escape (every convention keel records) is written
 * as it is; false for anything else, which kl_buf_json_str then escapes. */
static bool put_plain_str(char *out, size_t *n, const char *s) {
  size_t len = 0;
  for (; s[len]; len++)
    if (len >= 32 || s[len] < 0x20 || s[len] > 0x7e || s[len] == '"' || s[len] == '\\') return false;
  out[(*n)++] = '"';
  memcpy(out + *n, s, len);
  *n += len;
  out[(*n)++] = '"';
  return true;
}

void kl_usage_to_json(const kl_usage *u, kl_buf *out) {
  kl_usage z = {0};
  if (!u) u = &z;
  /* once per traced call: the six counts (at most 20 bytes each) and the convention (at most
   * 34) composed on the stack and appended at once, digits without printf */
  char tmp[320];
  size_t n = 0;
  PUT("{\"input\":");
  n = put_i64(tmp, n, u->input);
  PUT(",\"input_cached\":");
  n = put_i64(tmp, n, u->input_cached);
  PUT(",\"input_cache_write\":");
  n = put_i64(tmp, n, u->input_cache_write);
  PUT(",\"output\":");
  n = put_i64(tmp, n, u->output);
  PUT(",\"output_reasoning\":");
  n = put_i64(tmp, n, u->output_reasoning);
  PUT(",\"total\":");
  n = put_i64(tmp, n, kl_usage_input_total(u) + kl_usage_output_total(u));
  bool convention_done = true;
  if (u->convention) {
    PUT(",\"convention\":");
    convention_done = put_plain_str(tmp, &n, u->convention);
  }
  kl_buf_append(out, tmp, n);
  if (!convention_done) kl_buf_json_str(out, u->convention, strlen(u->convention));
  if (u->cost_reported) {
    kl_buf_puts(out, ",\"reported_cost\":");
    kl_buf_g15(out, u->reported_cost);
  }
  kl_buf_putc(out, '}');
}
